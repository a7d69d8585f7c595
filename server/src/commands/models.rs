//! `ekphrasis models`: `fetch` downloads every default checkpoint into the standard Hugging Face
//! cache (with progress bars) and verifies it, after which everything works offline from that
//! cache; `tiny` writes a set of tiny random-weight models in the real layouts, so the product
//! runs offline for demos and tests (its music is noise).

use std::path::PathBuf;

use anyhow::bail;
use clap::{Args, Subcommand};

use crate::checkpoints::catalog::{self, Checkpoint};
use crate::checkpoints::hub;

/// `ekphrasis models …`
#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Download every default checkpoint into the Hugging Face cache and check it.
    Fetch(FetchArgs),
    /// Write tiny random-weight models (emotion, clip, blip, falcon, musicgen; what they make is
    /// noise) for offline demos and tests.
    Tiny(TinyArgs),
}

/// Flags of `ekphrasis models fetch`.
#[derive(Debug, Args)]
pub struct FetchArgs {
    /// Only these roles (resnet, clip, blip, falcon, musicgen); all by default.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
}

/// Flags of `ekphrasis models tiny`.
#[derive(Debug, Args)]
pub struct TinyArgs {
    /// The folder to write (one sub-folder a model, as `--models DIR` expects).
    #[arg(long)]
    pub out: PathBuf,
    /// Seed of the random weights.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// Runs `ekphrasis models …`.
pub fn run(command: ModelsCommand) -> anyhow::Result<()> {
    match command {
        ModelsCommand::Fetch(args) => fetch(&args),
        ModelsCommand::Tiny(args) => tiny(&args),
    }
}

fn fetch(args: &FetchArgs) -> anyhow::Result<()> {
    let wanted = selected(&args.only)?;
    let mut failed = Vec::new();
    for checkpoint in wanted {
        println!(
            "{} ({}): {}",
            checkpoint.role, checkpoint.purpose, checkpoint.hub_id
        );
        let outcome = hub::resolve(checkpoint.hub_id, &checkpoint.files)
            .and_then(|dir| catalog::verify(&checkpoint, &dir).map(|()| dir));
        match outcome {
            Ok(dir) => println!("  ok: {}", dir.display()),
            Err(e) => {
                println!("  failed: {e:#}");
                failed.push(checkpoint.role);
            }
        }
    }
    if !failed.is_empty() {
        bail!("could not fetch: {}", failed.join(", "));
    }
    println!("every model is in the Hugging Face cache; the product now works offline");
    Ok(())
}

fn selected(only: &[String]) -> anyhow::Result<Vec<Checkpoint>> {
    if only.is_empty() {
        return Ok(catalog::DEFAULTS.to_vec());
    }
    only.iter()
        .map(|role| {
            catalog::DEFAULTS
                .iter()
                .find(|c| c.role == role)
                .copied()
                .ok_or_else(|| {
                    let roles: Vec<_> = catalog::DEFAULTS.iter().map(|c| c.role).collect();
                    anyhow::anyhow!("no model role `{role}`: choose from {}", roles.join(", "))
                })
        })
        .collect()
}

fn tiny(args: &TinyArgs) -> anyhow::Result<()> {
    for (role, write) in ekphrasis_models::tiny::MODELS {
        let dir = args.out.join(role);
        write(&dir, args.seed)?;
        println!("{role}: {}", dir.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiny_folders_are_the_folders_the_commands_look_for() {
        for (name, _) in ekphrasis_models::tiny::MODELS {
            let known = name == "emotion" || catalog::DEFAULTS.iter().any(|c| c.role == name);
            assert!(
                known,
                "`{name}` is neither the emotion folder nor a catalog role"
            );
        }
    }
}
