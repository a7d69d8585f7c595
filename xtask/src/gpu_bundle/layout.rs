//! The bundle's folder: `bin/ekphrasis.xz` (stripped, compressed), `cuda-libraries.txt` (what it
//! loads, read from its ELF header; empty for a CPU build), `fixtures/` (what `ekphrasis parity`
//! reads), `run.sh` and `README.md`; and its size, part by part.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

use crate::cmd;
use crate::cuda_toolkit;

/// The fixture sets of `models/tests/data` that `ekphrasis parity` reads, each with the
/// sub-folders it needs (`ekphrasis_models::parity::FIXTURE_SETS`; `--check` proves the list).
const FIXTURES: &[(&str, &[&str])] = &[
    ("musicgen-tiny", &[]),
    ("falcon-rw-tiny", &[]),
    ("blip-tiny", &[]),
    ("clip-tiny", &[]),
    ("emotion-head-tiny", &["model"]),
];
/// Files of a fixture set the checks never read: the test images and notes.
const SKIPPED_EXTENSIONS: &[&str] = &["png", "jpg", "md"];

const RUN_SH: &str = include_str!("run.sh");
const README: &str = include_str!("README.md");

/// What the packed binary must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Build {
    /// The `cuda` build made here: it must name the pinned toolkit's libraries.
    Cuda,
    /// A binary given with `--binary`: a `cuda` build, or a CPU build that names none.
    Given,
}

/// How hard xz works on the binary (`run.sh` unpacks either).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// `xz -6`: the smallest bundle, to carry (a minute for 85 MiB on two cores).
    Small,
    /// `xz -1`: ten times faster, about a fifth larger; for a bundle only checked here.
    Fast,
}

impl Compression {
    fn xz_level(self) -> &'static str {
        match self {
            Compression::Small => "-6",
            Compression::Fast => "-1",
        }
    }
}

/// Writes the bundle into `out` (replacing an earlier bundle there) around `binary`.
pub fn write(
    out: &Path,
    binary: &Path,
    build: Build,
    compression: Compression,
) -> anyhow::Result<()> {
    if out.exists() {
        let is_bundle = out.join("run.sh").is_file() && out.join("bin").is_dir();
        if !is_bundle && std::fs::read_dir(out)?.next().is_some() {
            bail!(
                "{} is not empty and holds no bundle: not replacing it",
                out.display()
            );
        }
        std::fs::remove_dir_all(out)?;
    }
    std::fs::create_dir_all(out.join("bin"))?;
    let exe = out.join("bin").join("ekphrasis");
    std::fs::copy(binary, &exe).with_context(|| format!("copying {}", binary.display()))?;
    cmd::run(Command::new("strip").arg("--strip-all").arg(&exe))?;
    std::fs::write(out.join("cuda-libraries.txt"), cuda_libraries(&exe, build)?)?;
    // Stripped it is still 86 MiB (candle's PTX, its GGUF kernels' machine code, every
    // dependency); xz -6 makes it 14 MiB, and run.sh unpacks it for each run.
    cmd::run(
        Command::new("xz")
            .args([compression.xz_level(), "--threads=0"])
            .arg(&exe),
    )?;

    let data = crate::root().join("models").join("tests").join("data");
    for (set, folders) in FIXTURES {
        copy_files(&data.join(set), &out.join("fixtures").join(set))?;
        for folder in *folders {
            copy_files(
                &data.join(set).join(folder),
                &out.join("fixtures").join(set).join(folder),
            )?;
        }
    }

    let script = out.join("run.sh");
    std::fs::write(&script, RUN_SH)?;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))?;
    std::fs::write(out.join("README.md"), README)?;
    Ok(())
}

/// The bundle's size by part: the binary, each fixture set, and the rest.
pub fn sizes(out: &Path) -> anyhow::Result<Vec<(String, u64)>> {
    let mut parts = vec![("bin/ekphrasis.xz".to_owned(), bytes(&out.join("bin"))?)];
    for (set, _) in FIXTURES {
        let path = out.join("fixtures").join(set);
        parts.push((format!("fixtures/{set}"), bytes(&path)?));
    }
    let rest = ["run.sh", "README.md", "cuda-libraries.txt"]
        .iter()
        .map(|name| bytes(&out.join(name)))
        .sum::<anyhow::Result<u64>>()?;
    parts.push(("run.sh, README.md, cuda-libraries.txt".to_owned(), rest));
    Ok(parts)
}

/// The CUDA libraries the binary names (`NEEDED`), besides the driver's `libcuda.so.1`: one a
/// line. Each must be one the toolkit pins, whose versions the GPU machine must offer.
fn cuda_libraries(exe: &Path, build: Build) -> anyhow::Result<String> {
    let header = cmd::output(Command::new("readelf").arg("--dynamic").arg(exe))
        .context("readelf (binutils) could not read the binary")?;
    needed_cuda_libraries(&header, build).with_context(|| format!("{}", exe.display()))
}

/// The CUDA libraries among the `NEEDED` entries of `readelf --dynamic`'s output; none only
/// for a [`Build::Given`] binary.
fn needed_cuda_libraries(readelf: &str, build: Build) -> anyhow::Result<String> {
    let mut text = String::new();
    for line in readelf.lines().filter(|l| l.contains("(NEEDED)")) {
        let Some(name) = line.split('[').nth(1).and_then(|r| r.split(']').next()) else {
            continue;
        };
        let cuda = name.starts_with("libcu") || name.starts_with("libnvrtc");
        if !cuda || name == "libcuda.so.1" {
            continue;
        }
        if !cuda_toolkit::LIBRARIES.contains(&name) {
            bail!("the binary needs {name}, which the pinned toolkit does not provide");
        }
        text.push_str(name);
        text.push('\n');
    }
    if text.is_empty() && build == Build::Cuda {
        bail!("the binary needs no CUDA library: not a cuda build");
    }
    Ok(text)
}

/// Copies the files (not the sub-folders) of `from` into `to`, but for [`SKIPPED_EXTENSIONS`].
fn copy_files(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    let entries = std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))?;
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        let skipped = path
            .extension()
            .is_some_and(|ext| SKIPPED_EXTENSIONS.iter().any(|s| ext == *s));
        if entry.file_type()?.is_file() && !skipped {
            std::fs::copy(&path, to.join(entry.file_name()))?;
        }
    }
    Ok(())
}

/// The bytes of the files under `path` (or of the file itself).
fn bytes(path: &Path) -> anyhow::Result<u64> {
    let meta = std::fs::metadata(path).with_context(|| format!("{}", path.display()))?;
    if !meta.is_dir() {
        return Ok(meta.len());
    }
    let mut total = 0;
    for entry in std::fs::read_dir(path)? {
        total += bytes(&entry?.path())?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cuda_libraries_are_read_from_the_elf_header() {
        let readelf = " 0x0000000000000001 (NEEDED)             Shared library: [libcuda.so.1]
 0x0000000000000001 (NEEDED)             Shared library: [libcublas.so.13]
 0x0000000000000001 (NEEDED)             Shared library: [libstdc++.so.6]
 0x0000000000000001 (NEEDED)             Shared library: [libnvrtc.so.13]
 0x000000000000000e (SONAME)             Library soname: [libcurand.so.10]";
        for build in [Build::Cuda, Build::Given] {
            assert_eq!(
                needed_cuda_libraries(readelf, build).unwrap(),
                "libcublas.so.13\nlibnvrtc.so.13\n"
            );
            let foreign = " 0x01 (NEEDED)             Shared library: [libcublas.so.12]";
            assert!(needed_cuda_libraries(foreign, build).is_err());
        }
        // A CPU build is packed only when given (`--binary`), with an empty list.
        let cpu_only = " 0x01 (NEEDED)             Shared library: [libc.so.6]";
        assert!(needed_cuda_libraries(cpu_only, Build::Cuda).is_err());
        assert_eq!(needed_cuda_libraries(cpu_only, Build::Given).unwrap(), "");
    }
}
