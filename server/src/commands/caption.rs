//! `ekphrasis caption`: one image to a BLIP caption from the command line, the same model code
//! the server runs. The image goes through the upload checks (format sniffing, pixel limit,
//! EXIF orientation), so a hostile file gets the same clear refusal as an upload.
//!
//! With `--json` it prints exactly one JSON object on stdout: `{"text": …, "token_ids": […]}`,
//! where `token_ids` are the ids generated after the prompt (`[SEP]` included when generated) and
//! `text` is transformers' `decode(sequence, skip_special_tokens=True)` of the whole sequence, so
//! it starts with the prompt's words. Decoding is greedy unless `--num-beams` asks for beam search
//! (transformers' BLIP default is greedy too); `--greedy` says so explicitly.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use clap::Args;
use ekphrasis_models::blip::{
    BeamSettings, Blip, CaptionOptions, Decoding, MAX_BEAMS, emotion_prompt,
};
use ekphrasis_models::device::{DeviceChoice, compute_dtype};

use super::common::report::loaded;
use super::common::values::parse_emotion;
use crate::checkpoints::catalog;
use crate::config::ServeConfig;

use crate::upload;

/// Flags of `ekphrasis caption`.
#[derive(Debug, Args)]
pub struct CaptionArgs {
    /// The image (JPEG, PNG or WebP).
    pub image: PathBuf,
    /// BLIP checkpoint: a directory in Hugging Face layout, or a hub id [default:
    /// MODELS/blip/, else Salesforce/blip-image-captioning-large].
    #[arg(long, env = "EKPHRASIS_BLIP")]
    pub blip: Option<String>,
    /// Folder of model checkpoints, one sub-folder a role (blip/ is used here).
    #[arg(long, env = "EKPHRASIS_MODELS")]
    pub models: Option<std::path::PathBuf>,
    /// Text the caption continues (conditional captioning), e.g. "a happy painting of".
    #[arg(long, conflicts_with = "emotion")]
    pub prompt: Option<String>,
    /// Condition on an emotion with the paper's prompt ("a {emotion} painting of").
    #[arg(long)]
    pub emotion: Option<String>,
    /// Greedy decoding (the default).
    #[arg(long, conflicts_with = "num_beams")]
    pub greedy: bool,
    /// Beam search with this many beams (2 to 8) instead of greedy decoding.
    #[arg(long)]
    pub num_beams: Option<usize>,
    /// New tokens at most, `[SEP]` included [default: 20, fewer if the decoder's positions run out].
    #[arg(long)]
    pub max_new_tokens: Option<usize>,
    /// Print one JSON object {"text", "token_ids"} instead of the text.
    #[arg(long)]
    pub json: bool,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, env = "EKPHRASIS_DEVICE", default_value = "auto")]
    pub device: String,
    /// Largest accepted image in pixels.
    #[arg(long, env = "EKPHRASIS_MAX_PIXELS", default_value_t = ServeConfig::DEFAULT_MAX_PIXELS)]
    pub max_pixels: u64,
    /// Largest accepted image file in bytes.
    #[arg(long, default_value_t = upload::MAX_FILE_BYTES)]
    pub max_bytes: u64,
}

/// The caption options the flags ask for.
fn options(args: &CaptionArgs) -> CaptionOptions {
    let decoding = match (args.greedy, args.num_beams) {
        (false, Some(beams)) => Decoding::Beam(BeamSettings::new(beams)),
        _ => Decoding::Greedy,
    };
    CaptionOptions {
        decoding,
        max_new_tokens: args.max_new_tokens,
    }
}

/// Refuses flag values that no model could honour, before anything is loaded.
fn check_flags(args: &CaptionArgs) -> anyhow::Result<()> {
    if args.max_new_tokens == Some(0) {
        anyhow::bail!("--max-new-tokens must be at least 1");
    }
    if let Some(beams) = args.num_beams
        && !(2..=MAX_BEAMS).contains(&beams)
    {
        anyhow::bail!(
            "--num-beams must be between 2 and {MAX_BEAMS} (without it decoding is greedy)"
        );
    }
    if let Some(prompt) = &args.prompt
        && prompt.trim().is_empty()
    {
        anyhow::bail!("--prompt is empty (leave it out for an unconditional caption)");
    }
    Ok(())
}

/// Runs the command.
pub fn run(args: CaptionArgs) -> anyhow::Result<()> {
    check_flags(&args)?;
    let prompt = match (&args.prompt, &args.emotion) {
        (Some(prompt), _) => Some(prompt.clone()),
        (None, Some(name)) => Some(emotion_prompt(
            parse_emotion(name).map_err(anyhow::Error::msg)?,
        )),
        (None, None) => None,
    };
    let options = options(&args);
    let image = upload::read_file(&args.image, args.max_bytes, args.max_pixels)?;
    let device = args.device.parse::<DeviceChoice>()?.open()?;
    let dir = catalog::locate(&catalog::BLIP, args.blip.as_deref(), args.models.as_deref())?;
    let started = Instant::now();
    let mut blip = Blip::load(&dir, &device, compute_dtype(&device))?;
    loaded(&dir, &device, started);
    let started = Instant::now();
    let caption = blip.caption(&image, prompt.as_deref(), &options, &AtomicBool::new(false))?;
    eprintln!(
        "captioned in {:.2} s ({} new tokens)",
        started.elapsed().as_secs_f64(),
        caption.token_ids.len()
    );
    if args.json {
        let json = serde_json::json!({ "text": caption.text, "token_ids": caption.token_ids });
        println!("{json}");
    } else {
        println!("{}", caption.text);
    }
    Ok(())
}
