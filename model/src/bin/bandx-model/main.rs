//! `bandx-model`: pretrain, evaluate, personalize, export, inspect. One module per group of
//! commands; the arguments they share are in `args`.

mod args;
mod blob;
mod evaluate;
mod personalize;
mod pretrain;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "bandx-model",
    version,
    about = "BandX activity model: pre-train, evaluate, personalize, export"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per run: the size of the largest variant (`evaluate`'s options) does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Pre-train the generalized model (validation on held-out subjects, early stopping).
    Pretrain(pretrain::PretrainArgs),
    /// Write the replay set of a pre-trained checkpoint: other people's windows of its classes,
    /// which `--method replay` mixes into a user's fine-tuning (default: beside the checkpoint).
    ReplaySet(pretrain::ReplaySetArgs),
    /// The paper's protocol: GS, PS(GM), PS(PM), learning curve, every method; report.json + report.md + SVGs.
    Evaluate(evaluate::EvaluateArgs),
    /// Personalize a pre-trained backbone to a user's own classes from their windows.
    Personalize(personalize::PersonalizeArgs),
    /// Quantize a checkpoint to the band's int8 blob (bandx-core format).
    Export(blob::ExportArgs),
    /// Re-measure a checkpoint's activation ranges (int8 calibration) on the given data.
    Calibrate(blob::CalibrateArgs),
    /// Print a blob's size, MACs, arena, classes and self-test result.
    Inspect(blob::InspectArgs),
    /// Print the settings chosen on the validation subjects (`evaluate --select`) over the folds
    /// of several reports (a 12-fold evaluation split over processes), and what the same rule
    /// picks on every candidate's mean over them.
    Selection(evaluate::SelectionArgs),
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Pretrain(args) => pretrain::run(&args),
        Command::ReplaySet(args) => pretrain::run_replay_set(&args),
        Command::Evaluate(args) => evaluate::run(args),
        Command::Personalize(args) => personalize::run(&args),
        Command::Export(args) => blob::export(&args),
        Command::Calibrate(args) => blob::calibrate(&args),
        Command::Inspect(args) => blob::inspect(&args),
        Command::Selection(args) => evaluate::selection(&args),
    }
}
