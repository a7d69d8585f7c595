//! `cargo xtask gpu-bundle [--binary PATH] [--out DIR] [--check]`: the GPU run, ready to carry.
//! Builds the `cuda` binary here with the pinned toolkit ([`crate::cuda_toolkit`]), in its own
//! target folder (`target/cuda`, so the usual release build is not rebuilt), strips and
//! compresses it, and packs it with the parity fixtures, `run.sh` and a README into one folder
//! under 60 MiB (default `target/gpu-bundle/ekphrasis-gpu`). `--check` then runs `run.sh --device
//! cpu --quick` here, with the toolkit's libraries and its link-time `libcuda.so` standing in for
//! a GPU machine's. `--binary PATH` packs that binary instead, without the toolkit: `cargo xtask
//! test` packs the tests' debug CPU build this way ([`pack_given`]) and runs its quick check, so
//! the packing, the script and the binary's CPU path cannot rot unseen (the 17-minute `cuda`
//! build itself is not part of the tests).

mod layout;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};

use crate::cmd;
use crate::cuda_toolkit::CudaToolkit;
use layout::Build;
pub use layout::Compression;

/// The compute capability candle's kernels are compiled for: PTX for 8.0 is compiled by the
/// driver for any newer GPU (A100, L4, H100, H200); candle's kernels use nothing of 9.0 but fp8
/// arithmetic, which the chain does not use, and `90` would mean `sm_90a` PTX, for 9.0 alone.
const COMPUTE_CAP: &str = "80";
/// The bundle must stay below this.
const MAX_BYTES: u64 = 60 * 1024 * 1024;
/// Where the `cuda` build goes, under the workspace.
const TARGET_DIR: &str = "target/cuda";

/// What was asked for.
struct Options {
    out: PathBuf,
    check: bool,
    /// A binary to pack instead of building the `cuda` one.
    binary: Option<PathBuf>,
}

/// Runs `cargo xtask gpu-bundle`.
pub fn run(args: &[String]) -> anyhow::Result<()> {
    let options = parse(args)?;
    if let Some(binary) = &options.binary {
        return pack_given(binary, &options.out, Compression::Small, options.check);
    }
    let toolkit = CudaToolkit::ensure()?;
    let started = Instant::now();
    let binary = build(&toolkit)?;
    eprintln!("xtask: cuda build {:.0} s", started.elapsed().as_secs_f64());
    pack(&options.out, &binary, Build::Cuda, Compression::Small)?;
    if options.check {
        check(&options.out, Some(&toolkit))?;
    }
    Ok(())
}

/// Packs `binary`, built elsewhere (a `cuda` build, or a CPU one such as the tests' debug
/// build), into the bundle folder `out` and, when `check` is set, runs its `run.sh --device cpu
/// --quick` there. The CUDA toolkit is neither needed nor touched.
pub fn pack_given(
    binary: &Path,
    out: &Path,
    compression: Compression,
    check: bool,
) -> anyhow::Result<()> {
    if !binary.is_file() {
        bail!("the binary {} does not exist", binary.display());
    }
    pack(out, binary, Build::Given, compression)?;
    if check {
        self::check(out, None)?;
    }
    Ok(())
}

/// Writes the bundle and prints its size part by part, failing past [`MAX_BYTES`].
fn pack(out: &Path, binary: &Path, build: Build, compression: Compression) -> anyhow::Result<()> {
    layout::write(out, binary, build, compression)?;
    let sizes = layout::sizes(out)?;
    let total: u64 = sizes.iter().map(|(_, bytes)| bytes).sum();
    println!("{}", out.display());
    for (part, bytes) in &sizes {
        println!("  {:<40}{:>8.2} MiB", part, mib(*bytes));
    }
    println!("  {:<40}{:>8.2} MiB", "total", mib(total));
    if total >= MAX_BYTES {
        bail!(
            "the bundle is {:.2} MiB, not under {:.0} MiB",
            mib(total),
            mib(MAX_BYTES)
        );
    }
    Ok(())
}

fn parse(args: &[String]) -> anyhow::Result<Options> {
    let mut options = Options {
        out: crate::root().join("target/gpu-bundle/ekphrasis-gpu"),
        check: false,
        binary: None,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--out" => options.out = PathBuf::from(args.next().context("--out needs a folder")?),
            "--check" => options.check = true,
            "--binary" => {
                let path = args.next().context("--binary needs the binary's path")?;
                options.binary = Some(PathBuf::from(path));
            }
            other => {
                bail!("gpu-bundle: unknown argument `{other}` (--binary PATH, --out DIR, --check)")
            }
        }
    }
    Ok(options)
}

/// `cargo build --release` of the server with `cuda`, answering the binary's path.
fn build(toolkit: &CudaToolkit) -> anyhow::Result<PathBuf> {
    let root = crate::root();
    let mut cargo = Command::new("cargo");
    cargo
        .args(["build", "--release", "-p", "ekphrasis-server"])
        .args([
            "--features",
            "ekphrasis-server/cuda",
            "--target-dir",
            TARGET_DIR,
        ])
        .current_dir(&root);
    toolkit.configure(&mut cargo, COMPUTE_CAP)?;
    cmd::run(&mut cargo)?;
    Ok(root.join(TARGET_DIR).join("release").join("ekphrasis"))
}

/// Runs the bundle's script on the CPU path with small settings and the tiny models, its
/// output into `<bundle>-results` beside the bundle. A `cuda` build made here loads the
/// toolkit's libraries and link-time `libcuda.so`; a given binary finds its own (a CPU build
/// needs none).
fn check(bundle: &Path, toolkit: Option<&CudaToolkit>) -> anyhow::Result<()> {
    let name = bundle
        .file_name()
        .context("the bundle folder has no name")?;
    let results = bundle.with_file_name(format!("{}-results", name.to_string_lossy()));
    // No earlier run's output left to be read into this run's table.
    if results.exists() {
        std::fs::remove_dir_all(&results)
            .with_context(|| format!("clearing {}", results.display()))?;
    }
    let mut script = Command::new("bash");
    script
        .arg(bundle.join("run.sh"))
        .args(["--device", "cpu", "--quick", "--results"])
        .arg(&results);
    if let Some(toolkit) = toolkit {
        let libraries = std::env::join_paths([toolkit.lib(), toolkit.link_stub_dir()])?;
        script.env("EKPHRASIS_CUDA_LIBS", libraries);
    }
    let started = Instant::now();
    cmd::run(&mut script)?;
    eprintln!(
        "xtask: run.sh --device cpu --quick passed in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}
