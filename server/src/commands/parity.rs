//! `ekphrasis parity --fixtures DIR`: each model of the chain on its tiny fixture against the
//! outputs transformers or PyTorch computed, on the chosen device and dtype
//! ([`ekphrasis_models::parity`] holds the checks and their tolerances; the model tests run the
//! same on the CPU). One row a check; exits non-zero when any is outside its tolerance. The GPU
//! bundle (`cargo xtask gpu-bundle`) runs it where there is no cargo.

use std::path::PathBuf;

use anyhow::bail;
use candle_core::DType;
use clap::{Args, ValueEnum};
use ekphrasis_models::device::{DeviceChoice, kind_name};
use ekphrasis_models::parity::{self, Check, Measured};

/// Flags of `ekphrasis parity`.
#[derive(Debug, Args)]
pub struct ParityArgs {
    /// The folder of fixture sets (`models/tests/data`, or a GPU bundle's `fixtures/`).
    #[arg(long)]
    pub fixtures: PathBuf,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, env = "EKPHRASIS_DEVICE", default_value = "auto")]
    pub device: String,
    /// The dtype the models compute in (CLIP and the emotion model: f32 only).
    #[arg(long, value_enum, default_value_t = ParityDtype::F32)]
    pub dtype: ParityDtype,
    /// `table` for people; `tsv` for scripts (model, check, dtype, max abs, max rel,
    /// tolerance, result).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// The dtypes parity is checked in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ParityDtype {
    F32,
    Bf16,
}

/// How the rows are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Tsv,
}

/// Runs the checks and prints one row each.
pub fn run(args: ParityArgs) -> anyhow::Result<()> {
    let device = args.device.parse::<DeviceChoice>()?.open()?;
    let dtype = match args.dtype {
        ParityDtype::F32 => DType::F32,
        ParityDtype::Bf16 => DType::BF16,
    };
    let checks = parity::run(&args.fixtures, &device, dtype)?;
    match args.format {
        Format::Table => {
            println!(
                "Parity with transformers/PyTorch on the tiny fixtures, {}, {dtype:?}",
                kind_name(&device)
            );
            println!(
                "  {:<10}{:<32}{:<6}{:>16}{:>10}  {:<12}result",
                "model", "check", "dtype", "max abs", "max rel", "tolerance"
            );
            for check in &checks {
                let [model, what, dtype, abs, rel, tolerance, result] = fields(check);
                println!(
                    "  {model:<10}{what:<32}{dtype:<6}{abs:>16}{rel:>10}  {tolerance:<12}{result}"
                );
            }
        }
        Format::Tsv => {
            for check in &checks {
                println!("{}", fields(check).join("\t"));
            }
        }
    }
    let failed = checks.iter().filter(|c| !c.passed()).count();
    eprintln!(
        "parity: {} of {} checks within tolerance",
        checks.len() - failed,
        checks.len()
    );
    if failed > 0 {
        bail!("{failed} parity checks outside their tolerance");
    }
    Ok(())
}

/// A check's printed fields: model, check, dtype, max abs, max rel, tolerance, result.
fn fields(check: &Check) -> [String; 7] {
    let (abs, rel) = match check.measured {
        Measured::Floats(diff) => (
            format!("{:.2e}", diff.max_abs),
            format!("{:.2e}", diff.relative()),
        ),
        Measured::Ids { equal, total } => (format!("{equal}/{total} equal"), "-".to_owned()),
    };
    [
        check.model.to_owned(),
        check.what.clone(),
        format!("{:?}", check.dtype).to_lowercase(),
        abs,
        rel,
        check.tolerance.to_string(),
        if check.passed() { "pass" } else { "FAIL" }.to_owned(),
    ]
}
