//! `ekphrasis models`: `fetch` downloads every default checkpoint into the standard Hugging Face
//! cache (with progress bars) and verifies it (and, by name, the evaluation models: CLAP from the
//! hub, VGGish and PANNs CNN14 from their publishers, checked against their pins), after which everything works offline from that
//! cache; `tiny` writes a set of tiny random-weight models in the real layouts, so the product
//! runs offline for demos and tests (its music is noise); `import-audiocraft` turns the LM
//! weights audiocraft saves (the paper's authors' fine-tuned MusicGen) into a complete checkpoint
//! in the published layout.

use std::path::PathBuf;

use anyhow::bail;
use clap::{Args, Subcommand};
use ekphrasis_models::checkpoint::CheckpointDir;
use ekphrasis_models::musicgen::audiocraft::import_lm;
use ekphrasis_models::musicgen::finetune::save::{base_tensors, write_checkpoint};

use crate::checkpoints::catalog::{self, Checkpoint};
use crate::checkpoints::hub;
use crate::checkpoints::published::{self, PublishedFile};

/// `ekphrasis models …`
#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Download every default checkpoint into the Hugging Face cache and check it (`--only
    /// vggish,panns,clap` brings the evaluation models).
    Fetch(FetchArgs),
    /// Write tiny random-weight models (emotion, clip, blip, falcon, musicgen; what they make is
    /// noise) for offline demos and tests.
    Tiny(TinyArgs),
    /// Turn an audiocraft LM state dict (`torch.save(model.lm.state_dict(), …)`, as the paper's
    /// authors saved their tuned MusicGen) into a checkpoint in the published layout.
    ImportAudiocraft(ImportArgs),
}

/// Flags of `ekphrasis models import-audiocraft`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The audiocraft LM state dict (a PyTorch `.pt` file).
    pub lm: PathBuf,
    /// The MusicGen checkpoint it was tuned from, in Hugging Face layout (its T5, EnCodec,
    /// configs and tokenizer are kept).
    #[arg(long)]
    pub base: PathBuf,
    /// Where to write the checkpoint.
    #[arg(long)]
    pub out: PathBuf,
}

/// Flags of `ekphrasis models fetch`.
#[derive(Debug, Args)]
pub struct FetchArgs {
    /// Only these models: the chain's roles (resnet, clip, blip, falcon, musicgen; all of them
    /// by default) or the evaluation models (vggish, panns, clap), which are fetched only by name.
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
        ModelsCommand::ImportAudiocraft(args) => import_audiocraft(&args),
    }
}

fn import_audiocraft(args: &ImportArgs) -> anyhow::Result<()> {
    let config: ekphrasis_models::musicgen::Config = CheckpointDir::open(&args.base)?
        .read_config("config.json", ekphrasis_models::musicgen::Config::validate)?;
    let imported = import_lm(&args.lm, config.decoder.hidden_size)?;
    // Every decoder tensor and the projection must come from the import, none left behind.
    let base = base_tensors(&args.base)?;
    let missing: Vec<&String> = base
        .keys()
        .filter(|k| k.starts_with("decoder.") || k.starts_with("enc_to_dec_proj."))
        .filter(|k| !imported.contains_key(*k))
        .collect();
    if !missing.is_empty() {
        let mut names: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
        names.sort_unstable();
        bail!(
            "{}: lacks {} of the base's decoder tensors, e.g. {}",
            args.lm.display(),
            names.len(),
            names[0]
        );
    }
    drop(base);
    let note = serde_json::json!({
        "imported_from": args.lm.display().to_string(),
        "format": "audiocraft LM state dict",
        "base": args.base.display().to_string(),
        "tensors": imported.len(),
    });
    write_checkpoint(&args.base, &args.out, &imported, &note)?;
    println!(
        "{}: {} tensors from {} on the base {}",
        args.out.display(),
        imported.len(),
        args.lm.display(),
        args.base.display()
    );
    Ok(())
}

fn fetch(args: &FetchArgs) -> anyhow::Result<()> {
    let wanted = selected(&args.only)?;
    let mut failed = Vec::new();
    for item in wanted {
        let outcome = match item {
            Fetchable::Hub(checkpoint) => {
                println!(
                    "{} ({}): {}",
                    checkpoint.role, checkpoint.purpose, checkpoint.hub_id
                );
                hub::resolve(checkpoint.hub_id, &checkpoint.files)
                    .and_then(|dir| catalog::verify(&checkpoint, &dir).map(|()| dir))
            }
            Fetchable::File(file) => {
                println!("{} ({}): {}", file.role, file.purpose, file.url);
                published::fetch(&file)
            }
        };
        match outcome {
            Ok(dir) => println!("  ok: {}", dir.display()),
            Err(e) => {
                println!("  failed: {e:#}");
                failed.push(item.role());
            }
        }
    }
    if !failed.is_empty() {
        bail!("could not fetch: {}", failed.join(", "));
    }
    println!("every model asked for is cached; it now works offline");
    Ok(())
}

/// What `models fetch` can bring: a hub checkpoint or a publisher's single file.
#[derive(Debug, Clone, Copy)]
enum Fetchable {
    Hub(Checkpoint),
    File(PublishedFile),
}

impl Fetchable {
    fn role(&self) -> &'static str {
        match self {
            Fetchable::Hub(c) => c.role,
            Fetchable::File(f) => f.role,
        }
    }
}

/// The chain's checkpoints by default; by name, those and the evaluation models too.
fn selected(only: &[String]) -> anyhow::Result<Vec<Fetchable>> {
    if only.is_empty() {
        return Ok(catalog::DEFAULTS.map(Fetchable::Hub).to_vec());
    }
    let known: Vec<Fetchable> = catalog::DEFAULTS
        .iter()
        .chain(&catalog::EVALUATION)
        .map(|c| Fetchable::Hub(*c))
        .chain(published::FILES.iter().map(|f| Fetchable::File(*f)))
        .collect();
    only.iter()
        .map(|role| {
            known
                .iter()
                .find(|k| k.role() == role)
                .copied()
                .ok_or_else(|| {
                    let roles: Vec<_> = known.iter().map(Fetchable::role).collect();
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
