//! `cargo xtask`: the project's tasks, so that two commands do everything.
//!
//! - `cargo xtask serve [SERVER FLAGS]`: install missing tools, build the app and the server in
//!   release mode, and serve at <http://127.0.0.1:8080> (flags go to `ekphrasis serve`).
//! - `cargo xtask test`: install missing tools, then rustfmt, clippy, every Rust test, the
//!   release wasm build, the GPU bundle's quick CPU check around the tests' debug binary and the
//!   browser tests, ending with the runners' summary lines.
//! - `cargo xtask tools`: only install (or check) the tools.
//! - `cargo xtask build-app`: only build the app into `dist/`.
//! - `cargo xtask gpu-bundle [--binary PATH] [--out DIR] [--check]`: build the `cuda` binary
//!   here (a CUDA toolkit from PyPI wheels, [`cuda_toolkit`]), or take PATH, and pack it with
//!   the parity fixtures and `run.sh` into one folder to carry to an NVIDIA machine
//!   ([`gpu_bundle`]); `--check` then runs that script here on the CPU.
//! - `cargo xtask cuda-toolkit`: only assemble (or check) that CUDA toolkit.
//! - `cargo xtask cluster-tools`: only install (or check) the cluster's servers the tests run
//!   (NATS, SeaweedFS, PostgreSQL; [`cluster_servers`]) and print where they are.

mod cluster_servers;
mod cmd;
mod cuda_toolkit;
mod gpu_bundle;
mod lint;
mod serve;
mod summary;
mod test;
mod test_layout;
mod tools;

use std::path::PathBuf;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("serve") => serve::run(&args[1..]),
        Some("test") => test::run(),
        Some("tools") => tools::Tools::ensure(tools::Need::Everything).map(|_| ()),
        Some("build-app") => {
            tools::Tools::ensure(tools::Need::Build).and_then(|t| t.build_app(None))
        }
        Some("gpu-bundle") => gpu_bundle::run(&args[1..]),
        Some("cuda-toolkit") => cuda_toolkit::CudaToolkit::ensure().map(|toolkit| {
            println!("{}", toolkit.home.display());
        }),
        Some("cluster-tools") => cluster_servers::ClusterTools::ensure().map(|tools| tools.print()),
        _ => {
            eprintln!("{}", usage());
            std::process::exit(2);
        }
    };
    if let Err(err) = result {
        eprintln!("xtask: {err:#}");
        std::process::exit(1);
    }
}

fn usage() -> &'static str {
    "usage: cargo xtask <serve [SERVER FLAGS] | test | tools | build-app\n\
     \x20                   | gpu-bundle [--binary PATH] [--out DIR] [--check] | cuda-toolkit\n\
     \x20                   | cluster-tools>\n\
     \n  serve         build the app and the server, then serve (flags go to `ekphrasis serve`)\
     \n  test          rustfmt, clippy, all Rust tests, the wasm build, the GPU bundle's CPU\
     \n                check around the debug binary and the browser tests\
     \n  tools         install the pinned tools only\
     \n  build-app     build the web app into dist/\
     \n  gpu-bundle    build the CUDA binary and pack it with the parity fixtures and run.sh\
     \n                into one folder for an NVIDIA machine (default target/gpu-bundle/\
     \n                ekphrasis-gpu); --binary PATH packs PATH instead (no CUDA toolkit);\
     \n                --check also runs `run.sh --device cpu --quick` here\
     \n  cuda-toolkit  assemble the pinned CUDA toolkit (PyPI wheels) only\
     \n  cluster-tools install the servers the cluster tests run (nats-server, weed, PostgreSQL)\
     \n                and print their paths"
}

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}
