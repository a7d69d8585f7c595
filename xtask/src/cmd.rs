//! Running commands: echoing them, failing with their name, and teeing output for summaries.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

/// Prints a command the way a person would type it.
pub fn describe(command: &Command) -> String {
    let mut text = command.get_program().to_string_lossy().into_owned();
    for arg in command.get_args() {
        text.push(' ');
        text.push_str(&arg.to_string_lossy());
    }
    text
}

/// Runs a command to completion, failing when it fails.
pub fn run(command: &mut Command) -> anyhow::Result<()> {
    let text = describe(command);
    eprintln!("$ {text}");
    let status = command
        .status()
        .with_context(|| format!("cannot start `{text}`"))?;
    if !status.success() {
        bail!("`{text}` failed ({status})");
    }
    Ok(())
}

/// Runs a command, printing its standard output as it comes and handing each line to `on_line`.
/// Returns whether the command succeeded.
pub fn run_teed(command: &mut Command, mut on_line: impl FnMut(&str)) -> anyhow::Result<bool> {
    let text = describe(command);
    eprintln!("$ {text}");
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start `{text}`"))?;
    let stdout = child.stdout.take().expect("stdout is piped");
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        println!("{line}");
        on_line(&line);
    }
    Ok(child.wait()?.success())
}

/// Runs a command and returns its standard output, or `None` when it cannot run or fails.
pub fn output(command: &mut Command) -> Option<String> {
    let out = command.stderr(Stdio::null()).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}
