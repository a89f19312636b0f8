//! Pre-training the generalized model: Adam, class-balanced cross-entropy, validation on
//! held-out subjects, fixed seeds.
//!
//! Training length is counted in optimizer steps, not epochs, so it adapts to the data set's
//! size without hand tuning: validation every `eval_every_steps` (or every epoch when an epoch
//! is shorter; the accuracy then averaged over that many steps), early stopping after
//! `patience_steps` without a better validation accuracy (never before `min_steps`), a learning
//! rate that halves every `lr_half_life_steps` whatever the epoch length; training has
//! converged when the learning rate has decayed to `lr_floor` of its start, and `max_steps` caps
//! it. The report says which of the three ended it ([`StopReason`]).

use std::time::Instant;

use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::TensorData;
use burn::tensor::activation::log_softmax;
use indicatif::{ProgressBar, ProgressStyle};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::cnn::{HarCnn, HarCnnConfig, to_vec, windows_tensor};
use crate::preprocess::{Normalization, WINDOW_LEN, WINDOW_VALUES, Window};
use crate::recording::CHANNELS;

/// Normalized windows laid end to end with their class indices.
#[derive(Debug, Clone, Default)]
pub struct Examples {
    pub x: Vec<f32>,
    pub y: Vec<usize>,
}

impl Examples {
    /// Windows whose label is not in `labels` are skipped.
    pub fn new<'a>(
        windows: impl IntoIterator<Item = &'a Window>,
        labels: &[String],
        norm: &Normalization,
    ) -> Examples {
        let mut e = Examples::default();
        for w in windows {
            if let Some(y) = labels.iter().position(|l| *l == w.label) {
                norm.apply_into(&w.data, &mut e.x);
                e.y.push(y);
            }
        }
        e
    }

    pub fn len(&self) -> usize {
        self.y.len()
    }

    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    pub fn window(&self, i: usize) -> &[f32] {
        &self.x[i * WINDOW_VALUES..(i + 1) * WINDOW_VALUES]
    }

    fn gather(&self, idx: &[usize]) -> (Vec<f32>, Vec<usize>) {
        let mut x = Vec::with_capacity(idx.len() * WINDOW_VALUES);
        let mut y = Vec::with_capacity(idx.len());
        for &i in idx {
            x.extend_from_slice(self.window(i));
            y.push(self.y[i]);
        }
        (x, y)
    }
}

#[derive(Config, Debug)]
pub struct TrainConfig {
    /// Step cap: training ends after this many optimizer steps whatever else happens.
    #[config(default = 60_000)]
    pub max_steps: usize,
    /// Early stopping never ends training before this many steps.
    #[config(default = 6_000)]
    pub min_steps: usize,
    /// Training ends when the validation accuracy has not improved for this many steps.
    #[config(default = 6_000)]
    pub patience_steps: usize,
    /// The validation set is scored every this many steps, or every epoch when an epoch is
    /// shorter (and after the last step); the accuracy that decides is the mean over the last
    /// this many steps' evaluations.
    #[config(default = 500)]
    pub eval_every_steps: usize,
    /// The learning rate halves every this many steps (exponential decay).
    #[config(default = 10_000)]
    pub lr_half_life_steps: usize,
    /// Converged: the learning rate has decayed to this share of `learning_rate` (1/32: five
    /// half-lives).
    #[config(default = 0.03125)]
    pub lr_floor: f64,
    #[config(default = 64)]
    pub batch_size: usize,
    #[config(default = 2e-3)]
    pub learning_rate: f64,
    #[config(default = 1e-4)]
    pub weight_decay: f64,
    #[config(default = 42)]
    pub seed: u64,
    /// Random wrist-frame augmentation of every training batch (none when `None`).
    pub augment: Option<AugmentConfig>,
}

/// Pre-training augmentation, drawn independently for every window of every batch and applied
/// to the de-normalized (SI) signal: time warp (tempo), the other wrist (mirror), a rotation
/// about the forearm's x axis (how the band sits), an amplitude scale of the motion around the
/// window mean, then Gaussian jitter on the normalized values. Validation windows are never
/// augmented.
#[derive(Config, Debug)]
pub struct AugmentConfig {
    /// Rotation about the forearm (x) axis, uniform in `±rotation_deg`.
    #[config(default = 30.0)]
    pub rotation_deg: f32,
    /// Probability of mirroring to the other wrist (accel x, gyro y and z negated, the
    /// convention of the virtual wearer's `Style::orient`).
    #[config(default = 0.5)]
    pub mirror_probability: f32,
    /// Amplitude scale of the motion around the window mean, uniform in `1 ± scale`.
    #[config(default = 0.2)]
    pub scale: f32,
    /// Tempo factor, uniform in `1 ± time_warp` (resampled about the window centre, edges held).
    #[config(default = 0.2)]
    pub time_warp: f32,
    /// Standard deviation of the jitter added to the normalized values.
    #[config(default = 0.05)]
    pub jitter: f32,
    /// Share of training windows augmented (the rest are left as recorded).
    #[config(default = 0.8)]
    pub probability: f32,
}

/// Augments normalized windows laid end to end in place (see [`AugmentConfig`]).
pub fn augment_windows(x: &mut [f32], norm: &Normalization, cfg: &AugmentConfig, rng: &mut StdRng) {
    use rand::Rng;
    let mut raw = [0f32; WINDOW_VALUES];
    for w in x.chunks_exact_mut(WINDOW_VALUES) {
        if cfg.probability <= 0.0 || rng.random::<f32>() >= cfg.probability {
            continue;
        }
        // De-normalize.
        for (i, v) in w.iter().enumerate() {
            raw[i] = v * norm.std[i % CHANNELS] + norm.mean[i % CHANNELS];
        }
        // Time warp about the centre: output sample t reads input position c + (t - c) * r.
        let tempo = if cfg.time_warp > 0.0 {
            rng.random_range(1.0 - cfg.time_warp..1.0 + cfg.time_warp)
        } else {
            1.0
        };
        let mut warped = raw;
        if tempo != 1.0 {
            let c = (WINDOW_LEN - 1) as f32 / 2.0;
            for t in 0..WINDOW_LEN {
                let pos = (c + (t as f32 - c) * tempo).clamp(0.0, (WINDOW_LEN - 1) as f32);
                let i0 = pos.floor() as usize;
                let i1 = (i0 + 1).min(WINDOW_LEN - 1);
                let f = pos - i0 as f32;
                for ch in 0..CHANNELS {
                    warped[t * CHANNELS + ch] =
                        raw[i0 * CHANNELS + ch] * (1.0 - f) + raw[i1 * CHANNELS + ch] * f;
                }
            }
        }
        let mirror = rng.random::<f32>() < cfg.mirror_probability;
        let angle = if cfg.rotation_deg > 0.0 {
            rng.random_range(-cfg.rotation_deg..cfg.rotation_deg)
        } else {
            0.0
        };
        let (sin, cos) = angle.to_radians().sin_cos();
        let amp = if cfg.scale > 0.0 {
            rng.random_range(1.0 - cfg.scale..1.0 + cfg.scale)
        } else {
            1.0
        };
        for s in warped.chunks_exact_mut(CHANNELS) {
            if mirror {
                s[0] = -s[0];
                s[4] = -s[4];
                s[5] = -s[5];
            }
            for base in [0, 3] {
                let (y, z) = (s[base + 1], s[base + 2]);
                s[base + 1] = cos * y - sin * z;
                s[base + 2] = sin * y + cos * z;
            }
        }
        let mut mean = [0f32; CHANNELS];
        for s in warped.chunks_exact(CHANNELS) {
            for ch in 0..CHANNELS {
                mean[ch] += s[ch] / WINDOW_LEN as f32;
            }
        }
        for (i, v) in w.iter_mut().enumerate() {
            let ch = i % CHANNELS;
            let a = mean[ch] + (warped[i] - mean[ch]) * amp;
            *v = (a - norm.mean[ch]) / norm.std[ch] + cfg.jitter * gaussian(rng);
        }
    }
}

/// A standard normal sample (Box-Muller).
fn gaussian(rng: &mut StdRng) -> f32 {
    use rand::Rng;
    let u1: f32 = rng.random_range(f32::EPSILON..1.0);
    let u2: f32 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}

/// Why pre-training ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The learning rate decayed to its floor (`lr_floor`): nothing more to gain.
    Converged,
    /// No better validation accuracy in `patience_steps` (after `min_steps`).
    Patience,
    /// `max_steps` reached.
    StepCap,
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StopReason::Converged => "converged (learning rate at its floor)",
            StopReason::Patience => "patience (no better validation accuracy)",
            StopReason::StepCap => "step cap",
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainReport {
    pub train_windows: usize,
    pub val_windows: usize,
    /// Epochs started (the last one may be partial).
    pub epochs_run: usize,
    /// The epoch the best step fell in (1-based).
    pub best_epoch: usize,
    pub best_val_accuracy: f32,
    /// Optimizer steps taken, and the one whose weights were kept. Absent (0) in reports of
    /// runs before training was counted in steps.
    #[serde(default)]
    pub steps: usize,
    #[serde(default)]
    pub best_step: usize,
    /// Why training ended (absent in reports of runs before it was recorded).
    #[serde(default)]
    pub stop_reason: Option<StopReason>,
    pub seconds: f64,
    pub windows_per_second: f64,
}

/// Inverse-frequency class weights, normalized to average 1 over the present classes.
pub fn class_weights(y: &[usize], classes: usize) -> Vec<f32> {
    let mut counts = vec![0usize; classes];
    for &c in y {
        counts[c] += 1;
    }
    let present = counts.iter().filter(|&&n| n > 0).count().max(1);
    counts
        .iter()
        .map(|&n| {
            if n == 0 {
                0.0
            } else {
                y.len() as f32 / (present as f32 * n as f32)
            }
        })
        .collect()
}

/// Mean of `-w[y] log p(y)` weighted by class weight.
pub fn balanced_cross_entropy(
    logits: Tensor<2>,
    targets: &[usize],
    weights: &[f32],
    device: &Device,
) -> Tensor<1> {
    let [batch, classes] = logits.dims();
    let mut mask = vec![0f32; batch * classes];
    for (i, &t) in targets.iter().enumerate() {
        mask[i * classes + t] = weights[t];
    }
    let total: f32 = mask.iter().sum::<f32>().max(1e-6);
    let mask = Tensor::<2>::from_data(TensorData::new(mask, [batch, classes]), device);
    (log_softmax(logits, 1) * mask)
        .sum()
        .neg()
        .div_scalar(total)
}

pub fn argmax(row: &[f32]) -> usize {
    row.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, &v)| {
            if v > best.1 { (i, v) } else { best }
        })
        .0
}

/// Logits of a model for every example, computed in batches without autodiff.
pub fn logits(model: &HarCnn, x: &[f32]) -> Vec<Vec<f32>> {
    let device = Device::flex();
    let model = model.valid();
    let classes = model.classes();
    let mut out = Vec::new();
    for chunk in x.chunks(512 * WINDOW_VALUES) {
        let t = windows_tensor(chunk.to_vec(), &device);
        let v = to_vec(model.forward(t));
        out.extend(v.chunks(classes).map(|c| c.to_vec()));
    }
    out
}

/// Embeddings (`[n][embedding]` flattened) of the backbone.
pub fn embeddings(model: &HarCnn, x: &[f32]) -> Vec<f32> {
    let device = Device::flex();
    let backbone = model.backbone.valid();
    let mut out = Vec::new();
    for chunk in x.chunks(512 * WINDOW_VALUES) {
        out.extend(to_vec(
            backbone.forward(windows_tensor(chunk.to_vec(), &device)),
        ));
    }
    out
}

pub fn accuracy(predictions: &[usize], y: &[usize]) -> f32 {
    if y.is_empty() {
        return 0.0;
    }
    predictions.iter().zip(y).filter(|(p, y)| p == y).count() as f32 / y.len() as f32
}

pub fn predict(model: &HarCnn, x: &[f32]) -> Vec<usize> {
    logits(model, x).iter().map(|l| argmax(l)).collect()
}

pub fn progress_bar(len: u64, visible: bool, prefix: &str) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}")
            .expect("valid template"),
    );
    bar.set_prefix(prefix.to_string());
    bar
}

/// Trains a model from scratch. Returns the weights of the epoch with the best validation
/// accuracy (on a plain, non-autodiff device). With `cfg.augment` set, use [`pretrain_with`] to
/// pass the normalization of `train` (this one assumes the identity).
pub fn pretrain(
    net: &HarCnnConfig,
    train: &Examples,
    val: &Examples,
    classes: usize,
    cfg: &TrainConfig,
    show_progress: bool,
) -> (HarCnn, TrainReport) {
    pretrain_with(
        net,
        train,
        val,
        classes,
        cfg,
        &Normalization::identity(),
        show_progress,
    )
}

/// [`pretrain`] with the normalization the examples were made with (the augmentation works on
/// the SI signal).
pub fn pretrain_with(
    net: &HarCnnConfig,
    train: &Examples,
    val: &Examples,
    classes: usize,
    cfg: &TrainConfig,
    norm: &Normalization,
    show_progress: bool,
) -> (HarCnn, TrainReport) {
    let started = Instant::now();
    let device = Device::flex().autodiff();
    device.seed(cfg.seed);
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    // A separate stream, so that the batch order does not depend on the augmentation.
    let mut aug_rng = StdRng::seed_from_u64(cfg.seed ^ 0x5eed_a0a0);
    let mut model = net.init(classes, &device);
    let mut optim = AdamConfig::new()
        .with_weight_decay(Some(burn::optim::decay::WeightDecayConfig::new(
            cfg.weight_decay as f32,
        )))
        .init();
    let weights = class_weights(&train.y, classes);
    let batches = train.len().div_ceil(cfg.batch_size).max(1);
    // Validation every `eval_every_steps`, or every epoch when an epoch is shorter.
    let eval_interval = cfg.eval_every_steps.min(batches).max(1);
    let bar = progress_bar(cfg.max_steps as u64, show_progress, "pretrain");
    let mut order: Vec<usize> = (0..train.len()).collect();
    let mut best = (model.valid(), 0usize, -1f32);
    let mut step = 0usize;
    let mut seen = 0usize;
    let mut stop = StopReason::StepCap;
    let mut recent = RecentAccuracy::new(cfg.eval_every_steps);
    'training: while step < cfg.max_steps && !train.is_empty() {
        order.shuffle(&mut rng);
        for idx in order.chunks(cfg.batch_size) {
            let lr = learning_rate(cfg, step);
            let (mut x, y) = train.gather(idx);
            if let Some(aug) = &cfg.augment {
                augment_windows(&mut x, norm, aug, &mut aug_rng);
            }
            let out = model.forward(windows_tensor(x, &device));
            let loss = balanced_cross_entropy(out, &y, &weights, &device);
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(lr, model, grads);
            seen += idx.len();
            step += 1;
            bar.inc(1);
            let last = step >= cfg.max_steps;
            if !step.is_multiple_of(eval_interval) && !last {
                continue;
            }
            let snapshot = model.valid();
            let raw = if val.is_empty() {
                accuracy(&predict(&snapshot, &train.x), &train.y)
            } else {
                accuracy(&predict(&snapshot, &val.x), &val.y)
            };
            let val_acc = recent.push(step, raw);
            if val_acc > best.2 {
                best = (snapshot, step, val_acc);
            }
            bar.set_message(format!(
                "step {step} val acc {val_acc:.3} (best {:.3} at step {})",
                best.2, best.1
            ));
            tracing::info!(
                step,
                epoch = step.div_ceil(batches),
                val_acc,
                "pretrain validation"
            );
            let reason = if learning_rate(cfg, step) <= cfg.learning_rate * cfg.lr_floor {
                Some(StopReason::Converged)
            } else if step >= cfg.min_steps && step - best.1 >= cfg.patience_steps {
                Some(StopReason::Patience)
            } else if last {
                Some(StopReason::StepCap)
            } else {
                None
            };
            if let Some(reason) = reason {
                stop = reason;
                break 'training;
            }
        }
    }
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    let report = TrainReport {
        train_windows: train.len(),
        val_windows: val.len(),
        epochs_run: step.div_ceil(batches),
        best_epoch: best.1.div_ceil(batches),
        best_val_accuracy: best.2,
        steps: step,
        best_step: best.1,
        stop_reason: Some(stop),
        seconds,
        windows_per_second: seen as f64 / seconds.max(1e-9),
    };
    let summary = format!(
        "pre-training stopped at step {step} (epoch {}): {stop}; best validation accuracy {:.4} at step {} (epoch {})",
        report.epochs_run, report.best_val_accuracy, report.best_step, report.best_epoch
    );
    if show_progress {
        eprintln!("{summary}");
    }
    tracing::info!("{summary}");
    (best.0, report)
}

/// The validation accuracy that decides: a few validation subjects give a noisy accuracy when
/// epochs are short, so it is the mean of the evaluations of the last `window` steps (a single
/// evaluation when they are at least `window` steps apart).
#[derive(Debug, Clone)]
pub struct RecentAccuracy {
    window: usize,
    recent: std::collections::VecDeque<(usize, f32)>,
}

impl RecentAccuracy {
    pub fn new(window: usize) -> RecentAccuracy {
        RecentAccuracy {
            window: window.max(1),
            recent: Default::default(),
        }
    }

    /// Adds the accuracy measured at `step` and returns the mean over the window ending there.
    pub fn push(&mut self, step: usize, accuracy: f32) -> f32 {
        self.recent.push_back((step, accuracy));
        while self
            .recent
            .front()
            .is_some_and(|&(s, _)| s + self.window <= step)
        {
            self.recent.pop_front();
        }
        self.recent.iter().map(|&(_, a)| a).sum::<f32>() / self.recent.len() as f32
    }
}

/// The learning rate at `step`: `learning_rate` halving every `lr_half_life_steps`.
pub fn learning_rate(cfg: &TrainConfig, step: usize) -> f64 {
    let half_life = cfg.lr_half_life_steps.max(1) as f64;
    cfg.learning_rate * 0.5f64.powf(step as f64 / half_life)
}

/// Picks about `fraction` of the subjects (at least one) for validation, deterministically.
pub fn validation_subjects(subjects: &[String], fraction: f32, seed: u64) -> Vec<String> {
    let mut s = subjects.to_vec();
    s.sort();
    s.shuffle(&mut StdRng::seed_from_u64(seed));
    let n =
        ((s.len() as f32 * fraction).round() as usize).clamp(1, s.len().saturating_sub(1).max(1));
    let mut v = s[..n.min(s.len())].to_vec();
    v.sort();
    v
}
