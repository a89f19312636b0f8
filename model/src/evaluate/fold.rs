//! One fold's generalized model: the general subjects' time-block split, pre-training (or the
//! cached backbone of an earlier run with the same fold and settings), its activation ranges and
//! its GS. With `--novel-classes N` the fold's N novel classes (rotated over folds) are left out
//! of pre-training, validation and GS; with `--base` the given checkpoint is the one "fold"
//! ([`given`]) and nothing is pre-trained.

use std::path::Path;

use burn::prelude::Device;

use super::report::FoldReport;
use super::split::general_split;
use super::{EvalOptions, GivenBase};
use crate::checkpoint::Checkpoint;
use crate::cnn::{HarCnn, HarCnnConfig, activation_ranges};
use crate::error::Result;
use crate::preprocess::{Normalization, WINDOW_VALUES, Window, label_set};
use crate::replay::ReplaySet;
use crate::train::{
    Examples, TrainConfig, TrainReport, accuracy, predict, pretrain_with, validation_subjects,
};

/// A fold's generalized model and what the personal subjects need of it.
pub(super) struct Fold<'a> {
    /// The pre-training classes (the generalized model's outputs).
    pub labels: Vec<String>,
    /// The backbone's network (`--widths`, or the given checkpoint's).
    pub net: HarCnnConfig,
    /// Fitted on the training windows; every example of the fold uses it.
    pub norm: Normalization,
    pub base: HarCnn,
    /// The backbone's calibrated activation ranges (for the int8 export of personal models).
    pub base_ranges: Vec<[f32; 2]>,
    /// The general subjects' training windows (the replay set is drawn from these).
    pub train_windows: Vec<&'a Window>,
    /// The given backbone's own replay set (`--base`), used instead of `train_windows`.
    pub replay_set: Option<ReplaySet>,
    /// The classes left out of pre-training (`--novel-classes`); the personal subjects keep them.
    pub novel: Vec<String>,
    pub report: FoldReport,
}

/// The classes fold `f` leaves out of pre-training: `n` of the sorted `labels`, rotated so that
/// consecutive folds leave out consecutive groups (every class is novel in some fold when
/// folds x n >= classes).
pub fn novel_classes(labels: &[String], n: usize, f: usize) -> Vec<String> {
    let mut sorted = labels.to_vec();
    sorted.sort();
    let c = sorted.len();
    if c == 0 {
        return Vec::new();
    }
    let mut out: Vec<String> = (0..n.min(c.saturating_sub(2)))
        .map(|i| sorted[(f * n + i) % c].clone())
        .collect();
    out.dedup();
    out
}

/// The backbone given with `--base` as the only "fold": every subject is personal, nothing is
/// pre-trained, no GS (no general subjects).
pub(super) fn given<'a>(base: &GivenBase, personal: &[String]) -> Fold<'a> {
    let ck = &base.checkpoint;
    Fold {
        labels: ck.labels.clone(),
        net: ck.network.clone(),
        norm: ck.normalization,
        base: ck.model(&Device::flex()),
        base_ranges: ck.ranges.clone(),
        train_windows: Vec::new(),
        replay_set: base.replay.clone(),
        novel: Vec::new(),
        report: FoldReport {
            fold: 0,
            personal: personal.to_vec(),
            validation: Vec::new(),
            gs: 0.0,
            gs_windows: 0,
            pretrain: TrainReport {
                train_windows: 0,
                val_windows: 0,
                epochs_run: 0,
                best_epoch: 0,
                best_val_accuracy: 0.0,
                steps: 0,
                best_step: 0,
                stop_reason: None,
                seconds: 0.0,
                windows_per_second: 0.0,
            },
            novel_classes: Vec::new(),
            selection: None,
        },
    }
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
    let mut split = general_split(windows, &general, &validation, opts.gs_holdout_fraction);
    let novel = if opts.novel_classes > 0 {
        let all = label_set(windows.iter().map(|w| w.label.as_str()));
        novel_classes(&all, opts.novel_classes, f)
    } else {
        Vec::new()
    };
    for part in [&mut split.train, &mut split.validation, &mut split.gs_test] {
        part.retain(|w| !novel.contains(&w.label));
    }
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
    let (base, pretrain) = pretrain_or_reuse(
        &train,
        &val,
        &labels,
        norm,
        (personal, &validation, &novel),
        f,
        opts,
    )?;
    let base_ranges = activation_ranges(&base.weights(), &ranges_sample(&train));
    let gs_ex = Examples::new(split.gs_test.iter().copied(), &labels, &norm);
    let gs = accuracy(&predict(&base, &gs_ex.x), &gs_ex.y) as f64;
    tracing::info!(fold = f, gs, "generalized model");
    Ok(Fold {
        labels,
        net: opts.net.clone(),
        norm,
        base,
        base_ranges,
        train_windows: split.train,
        replay_set: None,
        novel: novel.clone(),
        report: FoldReport {
            fold: f,
            personal: personal.to_vec(),
            validation,
            gs,
            gs_windows: gs_ex.len(),
            pretrain,
            novel_classes: novel,
            selection: None,
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
/// else a freshly pre-trained one (saved to the cache). `(personal, validation, novel)` subjects
/// and classes of the fold.
fn pretrain_or_reuse(
    train: &Examples,
    val: &Examples,
    labels: &[String],
    norm: Normalization,
    (personal, validation, novel): (&[String], &[String], &[String]),
    f: usize,
    opts: &EvalOptions,
) -> Result<(HarCnn, TrainReport)> {
    let mut cache_key = serde_json::json!({
        "dataset": opts.dataset,
        "personal": personal,
        "validation": validation,
        "train_windows": train.len(),
        "network": opts.net,
        "train": train_key(&opts.train),
        "gs_holdout_fraction": opts.gs_holdout_fraction,
    });
    // Only present with novel classes, so backbones cached without them still match.
    let mut file = format!("{}-fold-{f}.json", opts.dataset);
    if !novel.is_empty() {
        cache_key["novel_classes"] = serde_json::json!(novel);
        file = format!("{}-fold-{f}-novel-{}.json", opts.dataset, novel.len());
    }
    let cache_path = opts.backbone_cache.as_ref().map(|d| d.join(&file));
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
