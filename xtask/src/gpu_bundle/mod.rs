//! `cargo xtask gpu-bundle [--out DIR] [--check]`: the GPU run, ready to carry. Builds the
//! `cuda` binary here with the pinned toolkit ([`crate::cuda_toolkit`]), in its own target
//! folder (`target/cuda`, so the usual release build is not rebuilt), strips and compresses
//! it, and packs it with the parity fixtures, `run.sh` and a README into one folder under 60 MiB (default
//! `target/gpu-bundle/ekphrasis-gpu`). `--check` then runs `run.sh --device cpu --quick` here,
//! with the toolkit's libraries and its link-time `libcuda.so` standing in for a GPU machine's,
//! so the script and the binary's CPU path cannot rot unseen.

mod layout;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};

use crate::cmd;
use crate::cuda_toolkit::CudaToolkit;

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
}

/// Runs `cargo xtask gpu-bundle`.
pub fn run(args: &[String]) -> anyhow::Result<()> {
    let options = parse(args)?;
    let toolkit = CudaToolkit::ensure()?;
    let started = Instant::now();
    let binary = build(&toolkit)?;
    eprintln!("xtask: cuda build {:.0} s", started.elapsed().as_secs_f64());
    layout::write(&options.out, &binary)?;
    let sizes = layout::sizes(&options.out)?;
    let total: u64 = sizes.iter().map(|(_, bytes)| bytes).sum();
    println!("{}", options.out.display());
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
    if options.check {
        check(&options.out, &toolkit)?;
    }
    Ok(())
}

fn parse(args: &[String]) -> anyhow::Result<Options> {
    let mut options = Options {
        out: crate::root().join("target/gpu-bundle/ekphrasis-gpu"),
        check: false,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--out" => options.out = PathBuf::from(args.next().context("--out needs a folder")?),
            "--check" => options.check = true,
            other => bail!("gpu-bundle: unknown argument `{other}` (--out DIR, --check)"),
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

/// Runs the bundle's script on the CPU path with small settings.
fn check(bundle: &Path, toolkit: &CudaToolkit) -> anyhow::Result<()> {
    let results = bundle.with_file_name("check-results");
    let libraries = std::env::join_paths([toolkit.lib(), toolkit.link_stub_dir()])?;
    let started = Instant::now();
    cmd::run(
        Command::new("bash")
            .arg(bundle.join("run.sh"))
            .args(["--device", "cpu", "--quick", "--results"])
            .arg(&results)
            .env("EKPHRASIS_CUDA_LIBS", libraries),
    )?;
    eprintln!(
        "xtask: run.sh --device cpu --quick passed in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}
