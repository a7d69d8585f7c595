//! `ekphrasis describe IMAGE`: the painting's emotion, caption and musical description, through
//! the same `Pipeline` the server runs, loading only the models those stages use.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use clap::Args;
use ekphrasis_shared::domain::Variant;

use super::common::chain::{self, ChainModels};
use super::common::report::{described_json, stage_lines};
use crate::upload;

/// Flags of `ekphrasis describe`.
#[derive(Debug, Args)]
pub struct DescribeArgs {
    /// The painting (JPEG, PNG or WebP).
    pub image: PathBuf,
    /// Print one JSON object instead of lines.
    #[arg(long)]
    pub json: bool,
    /// Seed of the description's sampling [default: random, printed].
    #[arg(long)]
    pub seed: Option<u64>,
    #[command(flatten)]
    pub chain: ChainModels,
}

/// Runs `ekphrasis describe`.
pub fn run(args: DescribeArgs) -> anyhow::Result<()> {
    let image = upload::read_file(&args.image, args.chain.max_bytes, args.chain.max_pixels)?;
    let seed = args.seed.unwrap_or_else(rand::random);
    let request = chain::request(Variant::Lyrical, 1, seed);
    let mut pipeline = chain::load(&args.chain, Variant::Lyrical, false)?;
    let mut on_event = stage_lines(args.json);
    let described = pipeline.describe(&image, &request, &mut on_event, &AtomicBool::new(false))?;
    if args.json {
        println!("{}", described_json(&described, seed));
    }
    Ok(())
}
