//! The band's int8 blob: `export` (quantize a checkpoint, parity-checked on WISDM windows),
//! `calibrate` (re-measure the activation ranges int8 quantizes with) and `inspect`.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use bandx_model::checkpoint::Checkpoint;
use bandx_model::cnn::activation_ranges_clipped;
use bandx_model::export::Parity;
use bandx_model::train::Examples;
use burn::prelude::Device;
use clap::Args;

use crate::args::DataArgs;

#[derive(Args)]
pub struct ExportArgs {
    /// Checkpoint (JSON) from pretrain or personalize.
    #[arg(long)]
    model: PathBuf,
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value_t = 1)]
    model_id: u32,
    #[arg(long, default_value_t = 1)]
    version: u32,
    /// Parity check on these WISDM subjects' windows (needs --check-wisdm).
    #[arg(long, value_delimiter = ',')]
    check_subjects: Vec<String>,
    /// WISDM folder for the parity check.
    #[arg(long)]
    check_wisdm: Option<PathBuf>,
}

#[derive(Args)]
pub struct CalibrateArgs {
    /// Checkpoint (JSON) whose ranges are re-measured, in place.
    #[arg(long)]
    model: PathBuf,
    #[command(flatten)]
    data: DataArgs,
    /// Share of each activation's tails clipped (outliers saturate, the rest gains resolution).
    #[arg(long, default_value_t = 1e-3)]
    tail: f64,
}

#[derive(Args)]
pub struct InspectArgs {
    blob: PathBuf,
}

/// `bandx-model calibrate`.
pub fn calibrate(args: &CalibrateArgs) -> Result<()> {
    let mut ckpt = Checkpoint::load(&args.model)?;
    let (_, w, _) = args.data.load()?;
    let ex = Examples::new(
        w.iter().step_by((w.len() / 4000).max(1)),
        &ckpt.labels,
        &ckpt.normalization,
    );
    ckpt.ranges = activation_ranges_clipped(&ckpt.weights, &ex.x, args.tail);
    ckpt.save(&args.model)?;
    eprintln!(
        "re-calibrated {} on {} windows: {:?}",
        args.model.display(),
        ex.len(),
        ckpt.ranges
    );
    Ok(())
}

/// `bandx-model inspect`.
pub fn inspect(args: &InspectArgs) -> Result<()> {
    let bytes =
        std::fs::read(&args.blob).with_context(|| format!("reading {}", args.blob.display()))?;
    let info = bandx_model::export::inspect(&bytes)?;
    println!("{}", serde_json::to_string_pretty(&info)?);
    if !info.self_test.starts_with("pass") {
        bail!("self-test failed");
    }
    Ok(())
}

fn report_blob(bytes: &[u8], model: &bandx_model::cnn::HarCnn, check: &Examples) -> Result<()> {
    let info = bandx_model::export::inspect(bytes)?;
    eprintln!(
        "blob: {} bytes, arena {} bytes, {} MACs, {} classes, self-test {}",
        info.bytes,
        info.arena,
        info.macs,
        info.classes.len(),
        info.self_test
    );
    if !info.within_budget {
        use bandx_core::budget::{MAX_ARENA_BYTES, MAX_BLOB_BYTES, MAX_MACS};
        eprintln!(
            "warning: the blob exceeds the band's budget ({MAX_BLOB_BYTES} B blob, \
             {MAX_ARENA_BYTES} B arena, {MAX_MACS} MACs)"
        );
    }
    if !check.is_empty() {
        let logits = bandx_model::train::logits(model, &check.x);
        let p = bandx_model::export::parity(bytes, &logits, &check.x, &check.y)?;
        eprintln!("{}", parity_line(&p, ""));
    }
    Ok(())
}

/// A deterministic, non-constant normalized window for the blob's self-test.
fn self_test_window() -> Vec<f32> {
    (0..360).map(|i| ((i as f32) * 0.37).sin() * 1.5).collect()
}

/// `bandx-model export`.
pub fn export(args: &ExportArgs) -> Result<()> {
    let (model, out, subjects) = (&args.model, &args.out, &args.check_subjects);
    let (id, version) = (args.model_id, args.version);
    let ckpt = Checkpoint::load(model)?;
    let bytes = bandx_model::export::export(&ckpt, &self_test_window(), id, version)?;
    std::fs::write(out, &bytes).with_context(|| format!("writing {}", out.display()))?;
    let float = ckpt.model(&Device::flex());
    let check = match &args.check_wisdm {
        Some(dir) => {
            let (recs, _) = bandx_model::readers::wisdm::read_dir(
                dir,
                (!subjects.is_empty()).then_some(subjects),
            )?;
            let w = bandx_model::preprocess::windows_with_hop(
                &recs,
                bandx_model::preprocess::WINDOW_LEN,
            );
            Examples::new(w.iter(), &ckpt.labels, &ckpt.normalization)
        }
        None => Examples::default(),
    };
    report_blob(&bytes, &float, &check)?;
    eprintln!("wrote {}", out.display());
    Ok(())
}

/// The parity check's line: "parity on N [which ]windows: agreement .. -> PASS|FAIL (the bar)".
pub fn parity_line(p: &Parity, which: &str) -> String {
    format!(
        "parity on {} {which}windows: agreement {:.4}, float accuracy {:.4}, int8 accuracy {:.4} -> {}",
        p.windows,
        p.agreement,
        p.float_accuracy,
        p.int8_accuracy,
        if p.passes() {
            "PASS"
        } else {
            "FAIL (needs >= 99 % agreement, <= 1 point loss)"
        }
    )
}
