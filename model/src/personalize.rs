//! Personalization: a user's own classes (any names, any count) from a few windows each, on top
//! of the pre-trained backbone.
//!
//! - [`Method::Head`], the paper's: backbone frozen, a fresh Linear head trained (Adam) on the
//!   embeddings of the user's windows.
//! - [`Method::FineTune`]: the head as above, then every layer fine-tuned at a small learning rate.
//! - [`Method::Ncm`]: closed-form nearest-class-mean on the embeddings, written as a Linear head
//!   (`logit_c = 2 mu_c . e - |mu_c|^2`, i.e. minus the squared distance up to a constant), so it
//!   exports to the same int8 Dense layer.
//! - [`Method::Dense`]: the paper's frozen backbone and fresh head, but the head learns from every
//!   window inside the signal the user recorded, not only the 50 %-overlap ones (see
//!   [`recorded_spans`]), plus amplitude-scaled and jittered copies of them.
//! - [`Method::Replay`]: `dense_fine_tune` at a higher learning rate, every batch mixing the
//!   user's dense windows with other people's windows of the same class names (a replay set), so
//!   the backbone adapts to the user without forgetting what the classes look like in general.
//! - [`Method::Anchored`] (the default): starts as the generic model and moves from it only by a
//!   share set by a rule (chosen on validation subjects, never on test ones), so few windows
//!   cannot take it far below it. The head starts as the
//!   generic model ([`anchored_start`]: the pre-trained rows,
//!   biases included, of the classes the backbone knows by name; a new class imprinted from the
//!   user's class-mean embedding, scaled to the pre-trained rows' norm, then fitted against the
//!   generic rows, which stay fixed: [`fit_new_rows`]), `replay` fine-tunes it,
//!   and the result is moved only part of the way from that start, by a fraction set in advance
//!   as a function of the windows per class ([`move_fraction`]: `K / (K + anchor_windows)`), so
//!   one window per class barely moves the generic model and many move it almost all the way.

use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::TensorData;
use serde::{Deserialize, Serialize};

use crate::cnn::{DenseWeights, FloatWeights, HarCnn, HarCnnConfig, linear_from, windows_tensor};
use crate::preprocess::{WINDOW_LEN, Window};
use crate::recording::CHANNELS;
use crate::train::{Examples, balanced_cross_entropy, class_weights, embeddings};

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// The paper: frozen backbone, fresh head.
    Head,
    /// Fresh head, then full fine-tuning at a small learning rate.
    FineTune,
    /// Nearest class mean on the embeddings (closed form).
    Ncm,
    /// Frozen backbone, fresh head trained on dense (every `dense_stride` samples) and
    /// augmented windows cut from the user's recorded signal.
    Dense,
    /// `dense`, then every layer fine-tuned on those dense windows at a small learning rate.
    DenseFineTune,
    /// `dense_fine_tune` whose head starts from the pre-trained head rows of the classes the
    /// backbone already knows by name (new classes start from their class mean).
    Warm,
    /// `dense_fine_tune` with other people's windows of the user's class names in every batch
    /// (needs a replay set, see [`personalize_replay`]; without one it is `dense_fine_tune`).
    Replay,
    /// `replay` started from the generic head (known class names) or the imprinted class mean
    /// (new ones), then interpolated from that start by [`move_fraction`] of the user's windows
    /// per class. Without replay windows it fine-tunes like `dense_fine_tune`, still anchored.
    Anchored,
}

impl Method {
    /// The default: what the app and `bandx-model personalize` run, and what `evaluate` reports
    /// as `default_method` (configured here, never chosen by an evaluation's test scores; see
    /// model/README.md, "Personalization methods"). It uses the replay set shipped beside the
    /// backbone (`model/pretrained/backbone.replay`, see [`crate::replay`]) when there is one.
    pub const DEFAULT: Method = Method::Anchored;
    pub const ALL: [Method; 8] = [
        Method::Head,
        Method::FineTune,
        Method::Ncm,
        Method::Dense,
        Method::DenseFineTune,
        Method::Warm,
        Method::Replay,
        Method::Anchored,
    ];

    /// Whether the method mixes a replay set (other people's windows) into its fine-tuning.
    pub fn uses_replay(self) -> bool {
        matches!(self, Method::Replay | Method::Anchored)
    }

    /// What this method runs as, given the replay windows of the user's classes: `replay`
    /// without any (or with `replay_batch` 0) is `dense_fine_tune`.
    pub fn effective(self, replay: &Examples, cfg: &PersonalizeConfig) -> Method {
        if self == Method::Replay && (replay.is_empty() || cfg.replay_batch == 0) {
            Method::DenseFineTune
        } else {
            self
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Method::Head => "head",
            Method::FineTune => "fine_tune",
            Method::Ncm => "ncm",
            Method::Dense => "dense",
            Method::DenseFineTune => "dense_fine_tune",
            Method::Warm => "warm",
            Method::Replay => "replay",
            Method::Anchored => "anchored",
        }
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Config, Debug)]
pub struct PersonalizeConfig {
    #[config(default = 300)]
    pub head_steps: usize,
    #[config(default = 1e-2)]
    pub head_learning_rate: f64,
    #[config(default = 15)]
    pub fine_tune_epochs: usize,
    #[config(default = 3e-4)]
    pub fine_tune_learning_rate: f64,
    #[config(default = 16)]
    pub fine_tune_batch: usize,
    #[config(default = 7)]
    pub seed: u64,
    /// Hop in samples between the dense windows of [`Method::Dense`] (and the methods built on
    /// it). 6 is as accurate as 3 with `replay` (model/README.md) at half the time.
    #[config(default = 6)]
    pub dense_stride: usize,
    /// Augmented copies per dense window (amplitude scale and jitter), besides the window itself.
    #[config(default = 1)]
    pub dense_copies: usize,
    /// Adam steps of the dense head (full batch); fine-tuning follows for all but `dense`.
    #[config(default = 100)]
    pub dense_steps: usize,
    /// L2 weight decay of the dense head.
    #[config(default = 1e-3)]
    pub dense_weight_decay: f64,
    /// Fine-tuning epochs over the dense windows ([`Method::DenseFineTune`]).
    #[config(default = 4)]
    pub dense_fine_tune_epochs: usize,
    #[config(default = 1e-3)]
    pub dense_fine_tune_learning_rate: f64,
    #[config(default = 32)]
    pub dense_fine_tune_batch: usize,
    /// Replay windows (other people's) added to every fine-tuning batch of [`Method::Replay`].
    #[config(default = 16)]
    pub replay_batch: usize,
    /// Replay set size per class: windows spread evenly over the pre-training windows.
    #[config(default = 100)]
    pub replay_per_class: usize,
    /// Fine-tuning epochs of [`Method::Replay`] and [`Method::Anchored`] over the dense windows.
    #[config(default = 4)]
    pub replay_epochs: usize,
    /// Peak learning rate of [`Method::Replay`], decayed to zero (cosine) over its steps.
    #[config(default = 4e-3)]
    pub replay_learning_rate: f64,
    /// [`Method::Anchored`] keeps `K / (K + anchor_windows)` of the way from its start (the
    /// generic head) to the fine-tuned model, K the user's windows per class (see
    /// [`move_fraction`]). 2 was fixed in advance; 1 is what issue 19's rule chose on the 12
    /// folds' validation subjects (`evaluate --select`, model/README.md); never tuned on test
    /// subjects.
    #[config(default = 1.0)]
    pub anchor_windows: f64,
}

/// How far [`Method::Anchored`] moves from its start toward the fine-tuned model, for `k` windows
/// per class: `k / (k + anchor_windows)` (0 without windows; with the default 1, half the way at
/// one window, 0.94 at 15). Chosen on validation subjects, never by test accuracy.
pub fn move_fraction(k: usize, anchor_windows: f64) -> f64 {
    let k = k as f64;
    if k + anchor_windows <= 0.0 {
        return 1.0;
    }
    k / (k + anchor_windows.max(0.0))
}

/// The windows per class that decide [`move_fraction`]: the smallest class's count (the least
/// evidence the user gave for any class).
pub fn windows_per_class(calibration: &Examples, classes: usize) -> usize {
    let mut count = vec![0usize; classes];
    for &y in &calibration.y {
        count[y] += 1;
    }
    count.into_iter().min().unwrap_or(0)
}

/// Returns a model whose head has one output per user class (`classes`), from calibration
/// examples whose `y` index those classes. Knows nothing of class names, so with
/// [`Method::Warm`] every class starts from its class mean (see [`personalize_named`]).
pub fn personalize(
    base: &HarCnn,
    net: &HarCnnConfig,
    method: Method,
    calibration: &Examples,
    classes: usize,
    cfg: &PersonalizeConfig,
) -> HarCnn {
    personalize_known(
        base,
        net,
        method,
        calibration,
        &vec![None; classes],
        None,
        cfg,
    )
}

/// [`personalize`] for named classes: with [`Method::Warm`], a user class whose name is one of
/// the pre-trained model's (`base_labels`) starts from that class's pre-trained head row.
pub fn personalize_named(
    base: &HarCnn,
    base_labels: &[String],
    net: &HarCnnConfig,
    method: Method,
    calibration: &Examples,
    user_labels: &[String],
    cfg: &PersonalizeConfig,
) -> HarCnn {
    let known = known_rows(base_labels, user_labels);
    personalize_known(base, net, method, calibration, &known, None, cfg)
}

/// [`personalize_named`] with a replay set: other people's windows of the user's classes, `y`
/// indexing `user_labels` (see [`replay_set`]). Only [`Method::Replay`] uses it.
#[allow(clippy::too_many_arguments)]
pub fn personalize_replay(
    base: &HarCnn,
    base_labels: &[String],
    net: &HarCnnConfig,
    method: Method,
    calibration: &Examples,
    user_labels: &[String],
    replay: &Examples,
    cfg: &PersonalizeConfig,
) -> HarCnn {
    let known = known_rows(base_labels, user_labels);
    personalize_known(base, net, method, calibration, &known, Some(replay), cfg)
}

/// For every user class, the pre-trained head row of the same name (ignoring ASCII case, as the
/// app compares names), if any.
fn known_rows(base_labels: &[String], user_labels: &[String]) -> Vec<Option<usize>> {
    user_labels
        .iter()
        .map(|u| base_labels.iter().position(|b| b.eq_ignore_ascii_case(u)))
        .collect()
}

/// The replay set: up to `per_class` windows of each label in `labels`, spread evenly over
/// `windows` (so over every subject who recorded it), in their original order.
pub fn replay_set<'a>(
    windows: &[&'a Window],
    labels: &[String],
    per_class: usize,
) -> Vec<&'a Window> {
    let mut out = Vec::new();
    for label in labels {
        let mine: Vec<&Window> = windows
            .iter()
            .copied()
            .filter(|w| w.label == *label)
            .collect();
        let step = mine.len() as f64 / per_class.max(1) as f64;
        if step <= 1.0 {
            out.extend(mine);
        } else {
            out.extend((0..per_class).map(|i| mine[(i as f64 * step) as usize]));
        }
    }
    out
}

/// `known[c]`: the pre-trained head row of user class `c`, if the base model has that class.
fn personalize_known(
    base: &HarCnn,
    net: &HarCnnConfig,
    method: Method,
    calibration: &Examples,
    known: &[Option<usize>],
    replay: Option<&Examples>,
    cfg: &PersonalizeConfig,
) -> HarCnn {
    let dim = net.embedding_size();
    let classes = known.len();
    let (examples, head) = match method {
        Method::Ncm => {
            let emb = embeddings(base, &calibration.x);
            let head = ncm_head(&emb, &calibration.y, dim, classes);
            (None, head)
        }
        Method::Head | Method::FineTune => {
            let emb = embeddings(base, &calibration.x);
            let fit = HeadFit {
                steps: cfg.head_steps,
                learning_rate: cfg.head_learning_rate,
                weight_decay: 0.0,
                init: None,
            };
            (
                None,
                train_head(&emb, &calibration.y, classes, &fit, cfg.seed),
            )
        }
        Method::Anchored => {
            let k = windows_per_class(calibration, classes);
            let alpha = move_fraction(k, cfg.anchor_windows) as f32;
            let ends = anchored_ends_known(base, net, calibration, known, replay, cfg, alpha > 0.0);
            return ends.at(net, alpha);
        }
        Method::Dense | Method::DenseFineTune | Method::Warm | Method::Replay => {
            let dense = dense_examples(calibration, cfg);
            let emb = embeddings(base, &dense.x);
            let init = (method == Method::Warm).then(|| {
                let pre = crate::cnn::dense_weights(&base.head);
                warm_start(&pre, known, &emb, &dense.y, dim)
            });
            let fit = HeadFit {
                steps: cfg.dense_steps,
                learning_rate: cfg.head_learning_rate,
                weight_decay: cfg.dense_weight_decay,
                init,
            };
            let head = train_head(&emb, &dense.y, classes, &fit, cfg.seed);
            (Some(dense), head)
        }
    };
    let mut model = base.valid();
    model.head = linear_from(&head, &Device::flex());
    match method {
        Method::FineTune => {
            let schedule = FineTune {
                epochs: cfg.fine_tune_epochs,
                learning_rate: cfg.fine_tune_learning_rate,
                batch: cfg.fine_tune_batch,
                cosine: false,
            };
            fine_tune(&model, net, calibration, None, classes, &schedule, cfg.seed)
        }
        Method::DenseFineTune | Method::Warm | Method::Replay => {
            let dense = examples.unwrap_or_default();
            let replay = replay.filter(|r| !r.is_empty() && cfg.replay_batch > 0);
            let replay = replay.filter(|r| method.effective(r, cfg).uses_replay());
            let schedule = dense_schedule(replay.is_some(), cfg);
            let replay = replay.map(|r| (r, cfg.replay_batch));
            fine_tune(&model, net, &dense, replay, classes, &schedule, cfg.seed)
        }
        Method::Head | Method::Ncm | Method::Dense | Method::Anchored => model,
    }
}

/// The fine-tuning schedule of the methods built on dense windows: `replay`'s (cosine decay)
/// when replay windows take part, `dense_fine_tune`'s otherwise.
fn dense_schedule(with_replay: bool, cfg: &PersonalizeConfig) -> FineTune {
    if with_replay {
        FineTune {
            epochs: cfg.replay_epochs,
            learning_rate: cfg.replay_learning_rate,
            batch: cfg.dense_fine_tune_batch,
            cosine: true,
        }
    } else {
        FineTune {
            epochs: cfg.dense_fine_tune_epochs,
            learning_rate: cfg.dense_fine_tune_learning_rate,
            batch: cfg.dense_fine_tune_batch,
            cosine: false,
        }
    }
}

/// The two models [`Method::Anchored`] lies between: where it starts (see [`anchored_start`])
/// and where `replay` fine-tuning from there takes it. [`AnchoredEnds::at`] is the model a share
/// `alpha` of the way; `evaluate --select` scores many shares from one fine-tuning.
pub struct AnchoredEnds {
    pub start: FloatWeights,
    /// `start` again when the ends were made without fine-tuning (a share of 0 needs none).
    pub tuned: FloatWeights,
}

impl AnchoredEnds {
    /// `start + alpha * (tuned - start)`, as a model.
    pub fn at(&self, net: &HarCnnConfig, alpha: f32) -> HarCnn {
        let weights = if alpha == 0.0 {
            self.start.clone()
        } else {
            interpolate(&self.start, &self.tuned, alpha)
        };
        HarCnn::from_weights(net, &weights, &Device::flex())
    }
}

/// [`AnchoredEnds`] for the user's classes (`user_labels`, named as [`personalize_replay`]'s);
/// `replay` as there (none or empty: the fine-tuning is `dense_fine_tune`'s, still anchored).
#[allow(clippy::too_many_arguments)]
pub fn anchored_ends(
    base: &HarCnn,
    base_labels: &[String],
    net: &HarCnnConfig,
    calibration: &Examples,
    user_labels: &[String],
    replay: Option<&Examples>,
    cfg: &PersonalizeConfig,
) -> AnchoredEnds {
    let known = known_rows(base_labels, user_labels);
    anchored_ends_known(base, net, calibration, &known, replay, cfg, true)
}

/// [`anchored_ends`] by known rows; without `tune` the tuned end is the start (no fine-tuning).
fn anchored_ends_known(
    base: &HarCnn,
    net: &HarCnnConfig,
    calibration: &Examples,
    known: &[Option<usize>],
    replay: Option<&Examples>,
    cfg: &PersonalizeConfig,
    tune: bool,
) -> AnchoredEnds {
    let dense = dense_examples(calibration, cfg);
    let mut head = anchored_head(base, known, &dense, net.embedding_size());
    if known.iter().any(Option::is_none) {
        // New rows learn to compete with the generic rows, which stay as they are.
        let frozen: Vec<bool> = known.iter().map(Option::is_some).collect();
        let emb = embeddings(base, &dense.x);
        fit_new_rows(&mut head, &frozen, &emb, &dense.y, cfg);
    }
    let mut model = base.valid();
    model.head = linear_from(&head, &Device::flex());
    let start = model.weights();
    if !tune {
        return AnchoredEnds {
            tuned: start.clone(),
            start,
        };
    }
    let replay = replay.filter(|r| !r.is_empty() && cfg.replay_batch > 0);
    let schedule = dense_schedule(replay.is_some(), cfg);
    let replay = replay.map(|r| (r, cfg.replay_batch));
    let tuned = fine_tune(
        &model,
        net,
        &dense,
        replay,
        known.len(),
        &schedule,
        cfg.seed,
    );
    AnchoredEnds {
        start,
        tuned: tuned.weights(),
    }
}

/// The model [`Method::Anchored`] starts from before any step: the backbone as pre-trained, and
/// a head whose row for a user class the backbone knows by name (`base_labels`) is the generic
/// head's row and bias, so on those classes its logits are the generic model's; a new class's
/// row is its class-mean embedding (of the dense windows of `calibration`) scaled to the
/// pre-trained rows' mean norm.
pub fn anchored_start(
    base: &HarCnn,
    base_labels: &[String],
    net: &HarCnnConfig,
    calibration: &Examples,
    user_labels: &[String],
    cfg: &PersonalizeConfig,
) -> HarCnn {
    let known = known_rows(base_labels, user_labels);
    let dense = dense_examples(calibration, cfg);
    let mut model = base.valid();
    model.head = linear_from(
        &anchored_head(base, &known, &dense, net.embedding_size()),
        &Device::flex(),
    );
    model
}

/// [`warm_start`] from the base's head; the embeddings are only computed when a class is new.
fn anchored_head(
    base: &HarCnn,
    known: &[Option<usize>],
    dense: &Examples,
    dim: usize,
) -> DenseWeights {
    let pre = crate::cnn::dense_weights(&base.head);
    let emb = if known.iter().any(Option::is_none) {
        embeddings(base, &dense.x)
    } else {
        Vec::new()
    };
    warm_start(&pre, known, &emb, &dense.y, dim)
}

/// Fits the rows of `head` that are not `frozen` (weights and bias) to the embeddings `emb`
/// (labels `y`), the frozen rows taking part in the softmax unchanged: `cfg.dense_steps` full-batch
/// Adam steps at `cfg.head_learning_rate` on the class-balanced cross-entropy. So a new class's
/// imprinted row learns where it stands against the generic rows without moving them.
pub fn fit_new_rows(
    head: &mut DenseWeights,
    frozen: &[bool],
    emb: &[f32],
    y: &[usize],
    cfg: &PersonalizeConfig,
) {
    let (dim, classes) = (head.inputs, head.outputs);
    let weights = class_weights(y, classes);
    let total: f32 = y.iter().map(|&c| weights[c]).sum::<f32>().max(1e-12);
    let params = classes * (dim + 1);
    let (mut m, mut v) = (vec![0f32; params], vec![0f32; params]);
    let (b1, b2, eps, lr) = (0.9f32, 0.999f32, 1e-8f32, cfg.head_learning_rate as f32);
    let mut logits = vec![0f32; classes];
    for step in 1..=cfg.dense_steps {
        let mut grad = vec![0f32; params];
        for (e, &c) in emb.chunks_exact(dim).zip(y) {
            for (o, l) in logits.iter_mut().enumerate() {
                let row = &head.weight[o * dim..(o + 1) * dim];
                *l = head.bias[o] + row.iter().zip(e).map(|(w, x)| w * x).sum::<f32>();
            }
            let max = logits.iter().copied().fold(f32::MIN, f32::max);
            let sum: f32 = logits.iter().map(|l| (l - max).exp()).sum();
            let scale = weights[c] / total;
            for o in (0..classes).filter(|&o| !frozen[o]) {
                let p = (logits[o] - max).exp() / sum;
                let g = scale * (p - f32::from(u8::from(o == c)));
                for (k, x) in e.iter().enumerate() {
                    grad[o * dim + k] += g * x;
                }
                grad[classes * dim + o] += g;
            }
        }
        let (c1, c2) = (1.0 - b1.powi(step as i32), 1.0 - b2.powi(step as i32));
        for (i, g) in grad.iter().enumerate() {
            m[i] = b1 * m[i] + (1.0 - b1) * g;
            v[i] = b2 * v[i] + (1.0 - b2) * g * g;
            let delta = lr * (m[i] / c1) / ((v[i] / c2).sqrt() + eps);
            if i < classes * dim {
                if !frozen[i / dim] {
                    head.weight[i] -= delta;
                }
            } else if !frozen[i - classes * dim] {
                head.bias[i - classes * dim] -= delta;
            }
        }
    }
}

/// `start + alpha * (end - start)`, layer by layer (same shapes).
pub fn interpolate(start: &FloatWeights, end: &FloatWeights, alpha: f32) -> FloatWeights {
    let lerp = |a: &[f32], b: &[f32]| -> Vec<f32> {
        a.iter().zip(b).map(|(a, b)| a + alpha * (b - a)).collect()
    };
    let mut out = end.clone();
    for (o, (a, b)) in out.convs.iter_mut().zip(start.convs.iter().zip(&end.convs)) {
        o.weight = lerp(&a.weight, &b.weight);
        o.bias = lerp(&a.bias, &b.bias);
    }
    out.head.weight = lerp(&start.head.weight, &end.head.weight);
    out.head.bias = lerp(&start.head.bias, &end.head.bias);
    out
}

/// The head a warm start begins from: the pre-trained row (weights and bias) for a known class,
/// the nearest-class-mean row, scaled to the pre-trained rows' typical norm, for a new one.
fn warm_start(
    pre: &DenseWeights,
    known: &[Option<usize>],
    emb: &[f32],
    y: &[usize],
    dim: usize,
) -> DenseWeights {
    let classes = known.len();
    let ncm = ncm_head(emb, y, dim, classes);
    let norm = |w: &[f32]| w.iter().map(|v| v * v).sum::<f32>().sqrt();
    let pre_norm = (0..pre.outputs)
        .map(|o| norm(&pre.weight[o * dim..(o + 1) * dim]))
        .sum::<f32>()
        / pre.outputs.max(1) as f32;
    let mut head = DenseWeights {
        inputs: dim,
        outputs: classes,
        weight: vec![0.0; classes * dim],
        bias: vec![0.0; classes],
    };
    for (c, k) in known.iter().enumerate() {
        let row = &mut head.weight[c * dim..(c + 1) * dim];
        match k {
            Some(k) => {
                row.copy_from_slice(&pre.weight[k * dim..(k + 1) * dim]);
                head.bias[c] = pre.bias[*k];
            }
            None => {
                let from = &ncm.weight[c * dim..(c + 1) * dim];
                let scale = pre_norm / norm(from).max(1e-6);
                for (r, v) in row.iter_mut().zip(from) {
                    *r = v * scale;
                }
                head.bias[c] = if ncm.bias[c] < -1e3 {
                    -1e3
                } else {
                    ncm.bias[c] * scale
                };
            }
        }
    }
    head
}

/// How one head is fitted.
struct HeadFit {
    steps: usize,
    learning_rate: f64,
    weight_decay: f64,
    /// Starting weights (a fresh random head when `None`).
    init: Option<DenseWeights>,
}

/// How long and how fast every layer is fine-tuned.
struct FineTune {
    epochs: usize,
    learning_rate: f64,
    batch: usize,
    /// Decay the learning rate to zero along a half cosine.
    cosine: bool,
}

/// Closed-form nearest-class-mean head. A class without examples gets a very low logit.
pub fn ncm_head(emb: &[f32], y: &[usize], dim: usize, classes: usize) -> DenseWeights {
    let mut mean = vec![0f32; classes * dim];
    let mut count = vec![0usize; classes];
    for (e, &c) in emb.chunks(dim).zip(y) {
        count[c] += 1;
        for k in 0..dim {
            mean[c * dim + k] += e[k];
        }
    }
    let mut weight = vec![0f32; classes * dim];
    let mut bias = vec![-1e4f32; classes];
    for c in 0..classes {
        if count[c] == 0 {
            continue;
        }
        let mu: Vec<f32> = (0..dim)
            .map(|k| mean[c * dim + k] / count[c] as f32)
            .collect();
        for k in 0..dim {
            weight[c * dim + k] = 2.0 * mu[k];
        }
        bias[c] = -mu.iter().map(|v| v * v).sum::<f32>();
    }
    DenseWeights {
        inputs: dim,
        outputs: classes,
        weight,
        bias,
    }
}

fn train_head(emb: &[f32], y: &[usize], classes: usize, fit: &HeadFit, seed: u64) -> DenseWeights {
    let device = Device::flex().autodiff();
    device.seed(seed);
    let n = y.len();
    let dim = emb.len() / n.max(1);
    let x = Tensor::<2>::from_data(TensorData::new(emb.to_vec(), [n, dim]), &device);
    let weights = class_weights(y, classes);
    let mut head = match &fit.init {
        Some(init) => linear_from(init, &device),
        None => burn::nn::LinearConfig::new(dim, classes).init(&device),
    };
    let mut optim = AdamConfig::new()
        .with_weight_decay(
            (fit.weight_decay > 0.0)
                .then(|| burn::optim::decay::WeightDecayConfig::new(fit.weight_decay as f32)),
        )
        .init();
    for _ in 0..fit.steps {
        let loss = balanced_cross_entropy(head.forward(x.clone()), y, &weights, &device);
        let grads = GradientsParams::from_grads(loss.backward(), &head);
        head = optim.step(fit.learning_rate, head, grads);
    }
    crate::cnn::dense_weights(&head.valid())
}

fn fine_tune(
    model: &HarCnn,
    net: &HarCnnConfig,
    calibration: &Examples,
    replay: Option<(&Examples, usize)>,
    classes: usize,
    cfg: &FineTune,
    seed: u64,
) -> HarCnn {
    use rand::seq::SliceRandom;
    use rand::{Rng, SeedableRng};
    let device = Device::flex().autodiff();
    device.seed(seed);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut m = HarCnn::from_weights(net, &model.weights(), &device);
    let weights = class_weights(&calibration.y, classes);
    let mut optim = AdamConfig::new().init();
    let mut order: Vec<usize> = (0..calibration.len()).collect();
    let batch = cfg.batch.max(1);
    let steps = (cfg.epochs * calibration.len().div_ceil(batch)).max(1);
    let mut step = 0;
    for _ in 0..cfg.epochs {
        order.shuffle(&mut rng);
        for idx in order.chunks(batch) {
            let mut x = Vec::new();
            let mut y = Vec::new();
            for &i in idx {
                x.extend_from_slice(calibration.window(i));
                y.push(calibration.y[i]);
            }
            if let Some((replay, n)) = replay {
                for _ in 0..n {
                    let i = rng.random_range(0..replay.len());
                    x.extend_from_slice(replay.window(i));
                    y.push(replay.y[i]);
                }
            }
            let out = m.forward(windows_tensor(x, &device));
            let loss = balanced_cross_entropy(out, &y, &weights, &device);
            let grads = GradientsParams::from_grads(loss.backward(), &m);
            let lr = if cfg.cosine {
                let done = step as f64 / steps as f64;
                cfg.learning_rate * 0.5 * (1.0 + (std::f64::consts::PI * done).cos())
            } else {
                cfg.learning_rate
            };
            m = optim.step(lr, m, grads);
            step += 1;
        }
    }
    m.valid()
}

/// One stretch of contiguous signal the user recorded for one class (normalized, `[t][c]`).
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedSpan {
    pub class: usize,
    pub samples: Vec<f32>,
}

impl RecordedSpan {
    fn len(&self) -> usize {
        self.samples.len() / CHANNELS
    }
}

/// Recovers the contiguous signal behind overlapping calibration windows: a window that
/// continues the previous one of its class (its first samples repeat that window's last ones,
/// as consecutive 50 %-overlap windows of one recording do) extends that span; any other window
/// starts a new one. Needs no metadata, so it works on any caller's windows.
pub fn recorded_spans(calibration: &Examples) -> Vec<RecordedSpan> {
    let mut spans: Vec<RecordedSpan> = Vec::new();
    'windows: for i in 0..calibration.len() {
        let w = calibration.window(i);
        let class = calibration.y[i];
        if let Some(span) = spans.last_mut().filter(|s| s.class == class) {
            let last = &span.samples[(span.len() - WINDOW_LEN) * CHANNELS..];
            for hop in 1..WINDOW_LEN {
                let kept = (WINDOW_LEN - hop) * CHANNELS;
                if last[hop * CHANNELS..] == w[..kept] {
                    span.samples.extend_from_slice(&w[kept..]);
                    continue 'windows;
                }
            }
        }
        spans.push(RecordedSpan {
            class,
            samples: w.to_vec(),
        });
    }
    spans
}

/// Every window at `cfg.dense_stride` inside the recorded spans (the span's last window always
/// included), each followed by `cfg.dense_copies` augmented copies: per-channel amplitude scale
/// of the motion around the window's mean (0.85-1.15) and Gaussian-like jitter (0.05 sigma).
pub fn dense_examples(calibration: &Examples, cfg: &PersonalizeConfig) -> Examples {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(cfg.seed);
    let stride = cfg.dense_stride.max(1);
    let mut out = Examples::default();
    for span in recorded_spans(calibration) {
        let last = span.len() - WINDOW_LEN;
        let mut starts: Vec<usize> = (0..=last).step_by(stride).collect();
        if starts.last() != Some(&last) {
            starts.push(last);
        }
        for start in starts {
            let w = &span.samples[start * CHANNELS..(start + WINDOW_LEN) * CHANNELS];
            out.x.extend_from_slice(w);
            out.y.push(span.class);
            for _ in 0..cfg.dense_copies {
                let mut mean = [0f32; CHANNELS];
                for (i, v) in w.iter().enumerate() {
                    mean[i % CHANNELS] += v / WINDOW_LEN as f32;
                }
                let scale: [f32; CHANNELS] = std::array::from_fn(|_| rng.random_range(0.85..1.15));
                out.x.extend(w.iter().enumerate().map(|(i, v)| {
                    let c = i % CHANNELS;
                    // Sum of 3 uniforms: bell-shaped, sigma 0.05.
                    let jitter: f32 = (0..3).map(|_| rng.random_range(-0.05..0.05f32)).sum();
                    mean[c] + scale[c] * (v - mean[c]) + jitter
                }));
                out.y.push(span.class);
            }
        }
    }
    out
}
