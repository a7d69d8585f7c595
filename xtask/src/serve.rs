//! `cargo xtask serve`: build the app and the release server, then become the server.

use std::os::unix::process::CommandExt;
use std::process::Command;

use anyhow::Context;

use crate::cmd;
use crate::tools::{Need, Tools};

pub fn run(server_args: &[String]) -> anyhow::Result<()> {
    let root = crate::root();
    let tools = Tools::ensure(Need::Build)?;
    tools.build_app(None)?;
    cmd::run(
        Command::new("cargo")
            .args(["build", "--release", "-p", "ekphrasis-server"])
            .current_dir(&root),
    )?;
    let server = crate::test::target_dir().join("release").join("ekphrasis");
    let mut command = Command::new(&server);
    command.arg("serve").args(server_args).current_dir(&root);
    // Flags given to `cargo xtask serve` and the environment still win over this default.
    if std::env::var_os("EKPHRASIS_STATIC_DIR").is_none() {
        command.env("EKPHRASIS_STATIC_DIR", root.join("dist"));
    }
    eprintln!("$ {}", cmd::describe(&command));
    let err = command.exec();
    Err(err).with_context(|| format!("cannot start {}", server.display()))
}
