//! One fold's generalized model: the general subjects' time-block split, pre-training (or the
//! cached backbone of an earlier run with the same fold and settings), its activation ranges and
//! its GS.

use std::path::Path;

use burn::prelude::Device;

use super::EvalOptions;
use super::report::FoldReport;
use super::split::general_split;
use crate::checkpoint::Checkpoint;
use crate::cnn::{HarCnn, activation_ranges};
use crate::error::Result;
use crate::preprocess::{Normalization, WINDOW_VALUES, Window, label_set};
use crate::train::{
    Examples, TrainConfig, TrainReport, accuracy, predict, pretrain_with, validation_subjects,
};

/// A fold's generalized model and what the personal subjects need of it.
pub(super) struct Fold<'a> {
    /// The pre-training classes (the generalized model's outputs).
    pub labels: Vec<String>,
    /// Fitted on the training windows; every example of the fold uses it.
    pub norm: Normalization,
    pub base: HarCnn,
    /// The backbone's calibrated activation ranges (for the int8 export of personal models).
    pub base_ranges: Vec<[f32; 2]>,
    /// The general subjects' training windows (the replay set is drawn from these).
    pub train_windows: Vec<&'a Window>,
    pub report: FoldReport,
}

/// Splits, pre-trains (or reloads) and scores fold `f` whose personal subjects are `personal`.
pub(super) fn prepare<'a>(
    windows: &'a [Window],
    subjects: &[String],
    personal: &[String],
    f: usize,
    opts: &EvalOptions,
) -> Result<Fold<'a>> {
    let general: Vec<String> = subjects
        .iter()
        .filter(|s| !personal.contains(s))
        .cloned()
        .collect();
    let validation = validation_subjects(&general, opts.val_fraction, opts.train.seed + f as u64);
    let split = general_split(windows, &general, &validation, opts.gs_holdout_fraction);
    let labels = label_set(split.train.iter().map(|w| w.label.as_str()));
    let norm = Normalization::fit(split.train.iter().copied());
    let train = Examples::new(split.train.iter().copied(), &labels, &norm);
    let val = Examples::new(split.validation.iter().copied(), &labels, &norm);
    tracing::info!(
        fold = f,
        train = train.len(),
        val = val.len(),
        "pre-training"
    );
    let (base, pretrain) =
        pretrain_or_reuse(&train, &val, &labels, norm, personal, &validation, f, opts)?;
    let base_ranges = activation_ranges(&base.weights(), &ranges_sample(&train));
    let gs_ex = Examples::new(split.gs_test.iter().copied(), &labels, &norm);
    let gs = accuracy(&predict(&base, &gs_ex.x), &gs_ex.y) as f64;
    tracing::info!(fold = f, gs, "generalized model");
    Ok(Fold {
        labels,
        norm,
        base,
        base_ranges,
        train_windows: split.train,
        report: FoldReport {
            fold: f,
            personal: personal.to_vec(),
            validation,
            gs,
            gs_windows: gs_ex.len(),
            pretrain,
        },
    })
}

/// At most ~4,000 training windows, evenly strided, for calibrating activation ranges.
fn ranges_sample(train: &Examples) -> Vec<f32> {
    train
        .x
        .chunks_exact(WINDOW_VALUES)
        .step_by((train.len() / 4000).max(1))
        .flatten()
        .copied()
        .collect()
}

/// The cached backbone when `--backbone-cache` holds one made with this fold and these settings,
/// else a freshly pre-trained one (saved to the cache).
#[allow(clippy::too_many_arguments)]
fn pretrain_or_reuse(
    train: &Examples,
    val: &Examples,
    labels: &[String],
    norm: Normalization,
    personal: &[String],
    validation: &[String],
    f: usize,
    opts: &EvalOptions,
) -> Result<(HarCnn, TrainReport)> {
    let cache_key = serde_json::json!({
        "dataset": opts.dataset,
        "personal": personal,
        "validation": validation,
        "train_windows": train.len(),
        "network": opts.net,
        "train": train_key(&opts.train),
        "gs_holdout_fraction": opts.gs_holdout_fraction,
    });
    let cache_path = opts
        .backbone_cache
        .as_ref()
        .map(|d| d.join(format!("{}-fold-{f}.json", opts.dataset)));
    if let Some(hit) = cache_path
        .as_deref()
        .and_then(|p| load_cached_backbone(p, &cache_key, labels))
    {
        return Ok(hit);
    }
    let (base, report) = pretrain_with(
        &opts.net,
        train,
        val,
        labels.len(),
        &opts.train,
        &norm,
        opts.show_progress,
    );
    if let Some(path) = &cache_path {
        let mut ck = Checkpoint::new(opts.net.clone(), labels.to_vec(), norm, &base);
        ck.notes = serde_json::json!({ "key": cache_key, "pretrain": report });
        ck.save(path)?;
    }
    Ok((base, report))
}

/// The training settings as a cache key; `augment` only appears when set, so backbones cached
/// before the option existed still match.
fn train_key(train: &TrainConfig) -> serde_json::Value {
    let mut v = serde_json::to_value(train).unwrap_or(serde_json::Value::Null);
    if let Some(map) = v.as_object_mut()
        && map.get("augment").is_some_and(|a| a.is_null())
    {
        map.remove("augment");
    }
    v
}

/// A fold's backbone saved by an earlier run with the same fold and settings.
fn load_cached_backbone(
    path: &Path,
    key: &serde_json::Value,
    labels: &[String],
) -> Option<(HarCnn, TrainReport)> {
    let ck = Checkpoint::load(path).ok()?;
    if ck.notes.get("key") != Some(key) || ck.labels != labels {
        return None;
    }
    let report: TrainReport = serde_json::from_value(ck.notes.get("pretrain")?.clone()).ok()?;
    tracing::info!(path = %path.display(), "reusing the cached fold backbone");
    Some((ck.model(&Device::flex()), report))
}
