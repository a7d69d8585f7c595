//! A CUDA 13.0 toolkit for building the `cuda` binary on a machine that has none: NVIDIA's own
//! PyPI wheels (nvcc, cicc, ptxas, the headers, and the libraries the binary links against),
//! unpacked once into `~/.cache/ekphrasis/tools/cuda-13.0.88/` and reused after that.
//!
//! Why 13.0: the GPU machines this project is lent run driver 580 (CUDA 13.0) with PyTorch built
//! for CUDA 13 (`torch 2.11.0+cu130`), whose pip packages carry `libcublas.so.13` and the rest;
//! candle's kernels are PTX that the driver compiles at load time, and a driver refuses PTX from
//! a newer toolkit than its own, so the toolkit must be 13.0, not a later 13.x.
//!
//! The driver library (`libcuda.so.1`) comes with a GPU machine's driver and is no wheel. The
//! linker still wants a `libcuda.so` to resolve the driver calls cudarc makes, so `lib/stubs/`
//! gets a **link-time input only**: a shared library named `libcuda.so.1` defining every driver
//! function cudarc binds, each answering `CUDA_ERROR_UNKNOWN`. It is never shipped; on a machine
//! without a GPU it only lets the binary start for its CPU path.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::cmd;
use crate::tools::tools_dir;

/// The toolkit's release, as `nvcc --version` prints it.
pub const RELEASE: &str = "13.0";
/// The folder name under the tools directory.
const NAME: &str = "cuda-13.0.88";
/// The wheels, pinned: CUDA 13.0 update 2.
const WHEELS: &[(&str, &str)] = &[
    // nvcc, ptxas, fatbinary, nvlink, cudafe++
    ("nvidia-cuda-nvcc", "13.0.88"),
    // cicc and libdevice
    ("nvidia-nvvm", "13.0.88"),
    // crt/host_config.h and the rest of nvcc's own headers
    ("nvidia-cuda-crt", "13.0.88"),
    // cuda_runtime.h, cuda_bf16.h, libcudart.so.13
    ("nvidia-cuda-runtime", "13.0.96"),
    // libcu++, CUB, Thrust
    ("nvidia-cuda-cccl", "13.0.85"),
    ("nvidia-cuda-nvrtc", "13.0.88"),
    ("nvidia-cublas", "13.0.2.14"),
    ("nvidia-curand", "10.4.0.35"),
];
/// The shared libraries the `cuda` binary needs, besides the driver's `libcuda.so.1`.
pub const LIBRARIES: &[&str] = &[
    "libcudart.so.13",
    "libcublas.so.13",
    "libcublasLt.so.13",
    "libcurand.so.10",
    "libnvrtc.so.13",
];

/// An unpacked toolkit.
pub struct CudaToolkit {
    /// `CUDA_HOME`: `bin/nvcc`, `include/`, `lib/`, `nvvm/`.
    pub home: PathBuf,
}

impl CudaToolkit {
    /// Unpacks the toolkit unless a complete one is already there.
    pub fn ensure() -> anyhow::Result<Self> {
        let tools = tools_dir()?;
        let home = tools.join(NAME);
        let marker = home.join(".complete");
        if std::fs::read_to_string(&marker).is_ok_and(|text| text == pins()) {
            return Ok(Self { home });
        }
        eprintln!(
            "xtask: assembling CUDA {RELEASE} from PyPI wheels into {} (once)",
            home.display()
        );
        let work = tools.join(format!("{NAME}.work"));
        let wheels = work.join("wheels");
        let prefix = work.join("prefix");
        std::fs::create_dir_all(&wheels)?;
        download(&wheels)?;
        if prefix.exists() {
            std::fs::remove_dir_all(&prefix)?;
        }
        unpack_all(&wheels, &prefix)?;
        let unpacked = prefix.join("nvidia").join("cu13");
        fix_nvcc_profile(&unpacked)?;
        link_unversioned(&unpacked.join("lib"))?;
        build_link_stub(&unpacked.join("lib").join("stubs"), &work)?;
        check_nvcc(&unpacked)?;
        if home.exists() {
            std::fs::remove_dir_all(&home)?;
        }
        std::fs::rename(&unpacked, &home)
            .with_context(|| format!("moving the toolkit to {}", home.display()))?;
        std::fs::write(&marker, pins())?;
        // The wheels (about 1 GB) are not needed once unpacked.
        std::fs::remove_dir_all(&work)?;
        Ok(Self { home })
    }

    /// The runtime libraries (`libcublas.so.13`, …) the binary loads.
    pub fn lib(&self) -> PathBuf {
        self.home.join("lib")
    }

    /// The link-time `libcuda.so` (see the module doc): for a CPU-only run here, never shipped.
    pub fn link_stub_dir(&self) -> PathBuf {
        self.lib().join("stubs")
    }

    /// Sets what candle's build scripts read: `nvcc` on `PATH`, `CUDA_HOME`, and the compute
    /// capability its kernels are compiled for.
    pub fn configure(&self, command: &mut Command, compute_cap: &str) -> anyhow::Result<()> {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let dirs = std::iter::once(self.home.join("bin")).chain(std::env::split_paths(&path));
        command
            .env("PATH", std::env::join_paths(dirs)?)
            .env("CUDA_HOME", &self.home)
            .env("CUDA_COMPUTE_CAP", compute_cap);
        Ok(())
    }
}

/// The pins, as written into the marker: a change of pin unpacks again.
fn pins() -> String {
    WHEELS
        .iter()
        .map(|(name, version)| format!("{name}=={version}\n"))
        .collect()
}

/// `pip download`s the wheels (pip skips the ones already in `dir`).
fn download(dir: &Path) -> anyhow::Result<()> {
    let mut pip = Command::new("python3");
    pip.args(["-m", "pip", "download", "--quiet", "--no-deps"])
        .args(["--only-binary=:all:", "--python-version", "3.11"])
        .args(["--platform", "manylinux2014_x86_64"])
        .args(["--platform", "manylinux_2_27_x86_64"])
        .args(["--platform", "manylinux_2_28_x86_64"])
        .arg("--dest")
        .arg(dir)
        .args(
            WHEELS
                .iter()
                .map(|(name, version)| format!("{name}=={version}")),
        );
    cmd::run(&mut pip).context("downloading the CUDA wheels needs python3 with pip and PyPI")
}

/// Unpacks every wheel in `wheels` into `prefix`, keeping each file's mode (`nvcc` and `cicc`
/// must stay executable, which `python3 -m zipfile -e` forgets).
fn unpack_all(wheels: &Path, prefix: &Path) -> anyhow::Result<()> {
    const UNPACK: &str = "import os, sys, zipfile\n\
        with zipfile.ZipFile(sys.argv[1]) as wheel:\n\
        \x20   for member in wheel.infolist():\n\
        \x20       path = wheel.extract(member, sys.argv[2])\n\
        \x20       mode = (member.external_attr >> 16) & 0o777\n\
        \x20       if mode:\n\
        \x20           os.chmod(path, mode)\n";
    let mut files: Vec<PathBuf> = std::fs::read_dir(wheels)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "whl"))
        .collect();
    files.sort();
    if files.len() != WHEELS.len() {
        bail!(
            "{} holds {} wheels, {} expected",
            wheels.display(),
            files.len(),
            WHEELS.len()
        );
    }
    for wheel in files {
        cmd::run(
            Command::new("python3")
                .args(["-c", UNPACK])
                .arg(&wheel)
                .arg(prefix),
        )?;
    }
    Ok(())
}

/// The wheel's `nvcc.profile` points into `targets/x86_64-linux/`, the layout of NVIDIA's
/// installers; in the wheels the headers and libraries sit directly under the toolkit.
fn fix_nvcc_profile(home: &Path) -> anyhow::Result<()> {
    let path = home.join("bin").join("nvcc.profile");
    let text = std::fs::read_to_string(&path).with_context(|| format!("{}", path.display()))?;
    let fixed = fixed_profile(&text).with_context(|| format!("{}", path.display()))?;
    std::fs::write(&path, fixed)?;
    Ok(())
}

fn fixed_profile(text: &str) -> anyhow::Result<String> {
    let fixed = text
        .replace("$(TOP)/$(_TARGET_DIR_)/", "$(TOP)/")
        .replace("lib$(_TARGET_SIZE_)", "lib");
    if !fixed.contains("-I$(TOP)/include") {
        bail!("an nvcc.profile of a layout not known here");
    }
    Ok(fixed)
}

/// The linker looks for `libcublas.so`; the wheels hold only `libcublas.so.13`.
fn link_unversioned(lib: &Path) -> anyhow::Result<()> {
    for soname in LIBRARIES {
        if !lib.join(soname).is_file() {
            bail!("{} is missing from the wheels", lib.join(soname).display());
        }
        let (stem, _) = soname.split_once(".so.").expect("a versioned soname");
        std::os::unix::fs::symlink(soname, lib.join(format!("{stem}.so")))?;
    }
    Ok(())
}

/// Builds the link-time `libcuda.so` (soname `libcuda.so.1`) from the driver functions cudarc,
/// as locked in Cargo.lock, declares.
fn build_link_stub(dir: &Path, work: &Path) -> anyhow::Result<()> {
    let bindings = cudarc_driver_bindings()?;
    let text = std::fs::read_to_string(&bindings)?;
    let names = driver_functions(&text);
    if names.len() < 100 {
        bail!(
            "{}: found {} driver functions, expected hundreds",
            bindings.display(),
            names.len()
        );
    }
    let mut source = String::from(
        "/* Link-time stand-in for the NVIDIA driver's libcuda.so.1 (ekphrasis xtask): every\n   \
         driver function cudarc binds, answering CUDA_ERROR_UNKNOWN (999). Never shipped. */\n",
    );
    for name in names {
        source.push_str(&format!("int {name}(void) {{ return 999; }}\n"));
    }
    let c_file = work.join("libcuda_link_stub.c");
    std::fs::write(&c_file, source)?;
    std::fs::create_dir_all(dir)?;
    cmd::run(
        Command::new("cc")
            .args(["-shared", "-fPIC", "-Wl,-soname,libcuda.so.1", "-o"])
            .arg(dir.join("libcuda.so"))
            .arg(&c_file),
    )?;
    // The name the loader asks for, for a CPU-only run here.
    std::os::unix::fs::symlink("libcuda.so", dir.join("libcuda.so.1"))?;
    Ok(())
}

/// The driver functions (`cu…`) cudarc's bindings declare, sorted, each once.
fn driver_functions(bindings: &str) -> Vec<&str> {
    let mut names: Vec<&str> = bindings
        .lines()
        .filter_map(|line| line.strip_prefix("pub unsafe fn "))
        .filter_map(|rest| rest.split_once('(').map(|(name, _)| name))
        .filter(|name| {
            name.strip_prefix("cu")
                .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_uppercase()))
        })
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// cudarc's driver bindings in cargo's registry, fetching the locked crates first if needed.
fn cudarc_driver_bindings() -> anyhow::Result<PathBuf> {
    let lock = std::fs::read_to_string(crate::root().join("Cargo.lock"))?;
    let version = lock
        .split("[[package]]")
        .find(|entry| entry.contains("name = \"cudarc\""))
        .and_then(|entry| entry.lines().find_map(|l| l.strip_prefix("version = ")))
        .map(|v| v.trim_matches('"').to_owned())
        .context("Cargo.lock has no cudarc")?;
    let find = || -> anyhow::Result<Option<PathBuf>> {
        let cargo_home = match std::env::var_os("CARGO_HOME") {
            Some(dir) => PathBuf::from(dir),
            None => {
                PathBuf::from(std::env::var_os("HOME").context("HOME is not set")?).join(".cargo")
            }
        };
        let registry = cargo_home.join("registry").join("src");
        let Ok(indexes) = std::fs::read_dir(&registry) else {
            return Ok(None);
        };
        Ok(indexes
            .filter_map(|entry| entry.ok())
            .map(|entry| {
                entry
                    .path()
                    .join(format!("cudarc-{version}/src/driver/sys/mod.rs"))
            })
            .find(|path| path.is_file()))
    };
    if let Some(path) = find()? {
        return Ok(path);
    }
    cmd::run(
        Command::new("cargo")
            .arg("fetch")
            .current_dir(crate::root()),
    )?;
    find()?.with_context(|| format!("cudarc {version}'s sources are not in cargo's registry"))
}

/// The unpacked `nvcc` runs and is the pinned release.
fn check_nvcc(home: &Path) -> anyhow::Result<()> {
    let nvcc = home.join("bin").join("nvcc");
    let version = cmd::output(Command::new(&nvcc).arg("--version"))
        .with_context(|| format!("{} does not run", nvcc.display()))?;
    if !version.contains(&format!("release {RELEASE},")) {
        bail!("{} is not CUDA {RELEASE}: {version}", nvcc.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wheel_profile_points_at_the_unpacked_layout() {
        let wheel = "INCLUDES        +=  \"-I$(TOP)/$(_TARGET_DIR_)/include\" $(_SPACE_)\n\
            LIBRARIES        =+ $(_SPACE_) \"-L$(TOP)/$(_TARGET_DIR_)/lib$(_TARGET_SIZE_)/stubs\"\n";
        let fixed = fixed_profile(wheel).unwrap();
        assert!(fixed.contains("\"-I$(TOP)/include\""), "{fixed}");
        assert!(fixed.contains("\"-L$(TOP)/lib/stubs\""), "{fixed}");
        assert!(fixed_profile("INCLUDES += -I/somewhere/else\n").is_err());
    }

    #[test]
    fn driver_functions_are_cudarcs_cu_functions_once_each() {
        let bindings = "pub unsafe fn cuInit(Flags: c_uint) -> CUresult {\n\
            pub unsafe fn cuMemAlloc_v2(p: *mut CUdeviceptr, n: usize) -> CUresult {\n\
            pub unsafe fn cuInit(Flags: c_uint) -> CUresult {\n\
            pub unsafe fn culib_helper() {}\n\
            pub fn cuNotUnsafe() {}\n\
            pub unsafe fn nvrtcVersion() {}\n";
        assert_eq!(driver_functions(bindings), ["cuInit", "cuMemAlloc_v2"]);
    }
}
