//! Clippy inside the builds the checks need anyway: clippy-driver as cargo's workspace wrapper
//! lints each workspace crate while it is compiled for the tests (and the app while Trunk builds
//! it), so no crate is compiled a second time only to be linted (`cargo clippy` would check every
//! dependency again, for the host and for wasm). Warnings are errors, as with `cargo clippy -- -D
//! warnings`; dependencies are compiled by plain rustc.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, bail};

use crate::cmd;

/// Clippy's lints for a cargo command.
pub struct Lint {
    driver: PathBuf,
}

impl Lint {
    /// Finds the toolchain's clippy-driver (the `clippy` rustup component).
    pub fn find() -> anyhow::Result<Self> {
        let sysroot = cmd::output(Command::new("rustc").args(["--print", "sysroot"]))
            .context("`rustc --print sysroot` failed")?;
        let driver = PathBuf::from(sysroot.trim())
            .join("bin")
            .join("clippy-driver");
        if !driver.is_file() {
            bail!(
                "{} is missing: run `rustup component add clippy`",
                driver.display()
            );
        }
        Ok(Self { driver })
    }

    /// Makes `command` (a cargo build, or Trunk's) lint the workspace crates it compiles.
    pub fn apply<'c>(&self, command: &'c mut Command) -> &'c mut Command {
        command
            .env("RUSTC_WORKSPACE_WRAPPER", &self.driver)
            // How cargo-clippy hands clippy-driver the arguments after `--`: each followed by
            // this separator.
            .env(
                "CLIPPY_ARGS",
                "-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__",
            )
    }
}
