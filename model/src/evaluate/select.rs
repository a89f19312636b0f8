//! Settings chosen on a fold's validation subjects, never on its personal ones (issue 19, item 4).
//!
//! The validation subjects are general subjects pre-training never trained on (their windows only
//! decided when it stopped). Each one is personalized like a personal subject, over the learning
//! curve, with every candidate: a fine-tuning [`Schedule`] (how much work `anchored` does) times a
//! share rule `K / (K + c)` for every `c` of the grid (how far it moves from the generic model; all
//! shares come from one fine-tuning, see [`AnchoredEnds`]). The rule that picks, fixed before any
//! run ([`choose`]):
//! 1. a candidate whose int8 blob agrees with its float model on fewer than 99 % of the
//!    validation subjects' windows at K = the evaluation's windows per class is out (the band's
//!    budget, issue 19 item 6), then one below the generic model at some K on the validation
//!    subjects' known classes (each unless every candidate left is);
//! 2. its score is the mean over the curve's K of the validation subjects' mean accuracy;
//! 3. of the schedules whose best score is within `tolerance` of the best, the cheapest
//!    ([`Schedule::cost`]), and its best `c`.
//!
//! The fold's personal subjects are then evaluated with the chosen settings (every method).

use std::str::FromStr;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::EvalOptions;
use super::fold::Fold;
use super::report::{CurvePoint, Stat};
use super::split::calibration_split;
use super::subject::{Personalizing, by_group};
use crate::personalize::{PersonalizeConfig, anchored_ends, move_fraction};
use crate::preprocess::{Window, label_set};
use crate::train::{Examples, accuracy, predict};

/// What `evaluate --select` tries on each fold's validation subjects.
#[derive(Debug, Clone)]
pub struct SelectOptions {
    pub schedules: Vec<Schedule>,
    /// `anchor_windows` values (`c` of `K / (K + c)`).
    pub anchors: Vec<f64>,
    /// A cheaper schedule wins when its score is at most this much below the best (0-1).
    pub tolerance: f64,
    /// The least int8/float agreement a candidate may have (0-1; measured when `int8` is on).
    pub min_agreement: f64,
}

impl Default for SelectOptions {
    fn default() -> SelectOptions {
        SelectOptions {
            schedules: ["8x0", "4x1", "4x0", "3x0", "2x1", "2x0"]
                .iter()
                .map(|s| s.parse().expect("valid schedule"))
                .collect(),
            anchors: vec![0.0, 0.5, 1.0, 2.0, 4.0, 8.0],
            tolerance: 0.005,
            min_agreement: 0.99,
        }
    }
}

/// How much fine-tuning `anchored` (and `replay`) does: epochs over the user's dense windows, and
/// augmented copies of each. Written `EPOCHSxCOPIES`, e.g. `4x1` (the settings before issue 19's
/// selection).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    pub replay_epochs: usize,
    pub dense_copies: usize,
}

impl Schedule {
    /// Fine-tuning work relative to one epoch without copies (the steps scale with both).
    pub fn cost(self) -> usize {
        self.replay_epochs * (1 + self.dense_copies)
    }

    pub fn apply(self, cfg: &PersonalizeConfig) -> PersonalizeConfig {
        let mut out = cfg.clone();
        out.replay_epochs = self.replay_epochs;
        out.dense_copies = self.dense_copies;
        out
    }
}

impl std::fmt::Display for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}", self.replay_epochs, self.dense_copies)
    }
}

impl FromStr for Schedule {
    type Err = String;

    fn from_str(s: &str) -> Result<Schedule, String> {
        let bad = || format!("a schedule is EPOCHSxCOPIES, e.g. 4x1 (got {s:?})");
        let (e, c) = s.split_once('x').ok_or_else(bad)?;
        let replay_epochs: usize = e.trim().parse().map_err(|_| bad())?;
        let dense_copies: usize = c.trim().parse().map_err(|_| bad())?;
        if replay_epochs == 0 {
            return Err(format!("a schedule needs at least one epoch (got {s:?})"));
        }
        Ok(Schedule {
            replay_epochs,
            dense_copies,
        })
    }
}

/// One candidate's figures on the validation subjects.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Candidate {
    pub schedule: Schedule,
    pub anchor_windows: f64,
    /// Accuracy per K (mean over the validation subjects).
    pub curve: Vec<CurvePoint>,
    /// Accuracy per K on the known classes' windows (compared with `generic_curve`).
    pub curve_known: Vec<CurvePoint>,
    /// Mean of `curve`'s means.
    pub score: f64,
    /// Never below the generic model on the known classes at any K.
    pub never_below_generic: bool,
    /// Share of test windows where the int8 blob and the float model agree, at K = the
    /// evaluation's windows per class (mean over the validation subjects; `None` unmeasured).
    #[serde(default)]
    pub int8_agreement: Option<f64>,
    /// `int8_agreement` is at least the selection's `min_agreement` (or unmeasured).
    #[serde(default = "yes")]
    pub int8_kept: bool,
    /// Seconds per personalization (the schedule's fine-tuning; the same for every `c`).
    pub seconds: Stat,
}

fn yes() -> bool {
    true
}

/// What a fold's validation subjects chose, and why.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SelectionReport {
    /// The validation subjects personalized (those with enough windows per class).
    pub subjects: Vec<String>,
    /// The generic model per K on the same windows (known classes).
    pub generic_curve: Vec<CurvePoint>,
    pub candidates: Vec<Candidate>,
    pub tolerance: f64,
    #[serde(default)]
    pub min_agreement: f64,
    pub chosen_schedule: Schedule,
    pub chosen_anchor_windows: f64,
}

/// Personalizes fold `fold`'s validation subjects with every candidate of `sel` and returns what
/// was measured with the settings chosen (`opts.personalize` changed in the schedule and
/// `anchor_windows` only); `None` when no validation subject has enough windows.
pub(super) fn select(
    windows: &[Window],
    fold: &Fold<'_>,
    opts: &EvalOptions,
    sel: &SelectOptions,
    k_max: usize,
) -> Option<(SelectionReport, PersonalizeConfig)> {
    let ks: Vec<usize> = opts.learning_curve.clone();
    // [schedule][anchor][k] -> per-subject accuracies (all windows; known classes).
    let (na, nk) = (sel.anchors.len(), ks.len());
    let mut all = vec![vec![vec![Vec::new(); nk]; na]; sel.schedules.len()];
    let mut known = all.clone();
    // [schedule][anchor] -> per-subject int8 agreement at K = windows per class.
    let mut agreement = vec![vec![Vec::new(); na]; sel.schedules.len()];
    let int8_k =
        (opts.int8 && ks.contains(&opts.windows_per_class)).then_some(opts.windows_per_class);
    let mut generic = vec![Vec::new(); nk];
    let mut seconds = vec![Vec::new(); sel.schedules.len()];
    let mut subjects = Vec::new();
    for v in &fold.report.validation {
        let mine: Vec<&Window> = windows
            .iter()
            .filter(|w| w.subject == *v)
            .filter(|w| opts.user_classes.is_empty() || opts.user_classes.contains(&w.label))
            .collect();
        let (_, test_w) = calibration_split(&mine, 1, k_max);
        if test_w.is_empty() {
            continue;
        }
        let user_labels = label_set(test_w.iter().map(|w| w.label.as_str()));
        let who = Personalizing::new(fold, opts, user_labels);
        let test = Examples::new(test_w.iter().copied(), &who.user_labels, &fold.norm);
        let gm = who.generic_on_known(&test_w);
        subjects.push(v.clone());
        for (ki, &k) in ks.iter().enumerate() {
            let (cal_w, _) = calibration_split(&mine, k, k_max);
            let cal = Examples::new(cal_w.iter().copied(), &who.user_labels, &fold.norm);
            if cal.is_empty() {
                continue;
            }
            if let Some(gm) = gm {
                generic[ki].push(gm);
            }
            for (si, schedule) in sel.schedules.iter().enumerate() {
                let cfg = schedule.apply(&opts.personalize);
                let t0 = Instant::now();
                let ends = anchored_ends(
                    &fold.base,
                    &fold.labels,
                    &fold.net,
                    &cal,
                    &who.user_labels,
                    Some(&who.replay),
                    &cfg,
                );
                seconds[si].push(t0.elapsed().as_secs_f64());
                for (ai, &c) in sel.anchors.iter().enumerate() {
                    let alpha = move_fraction(k, c) as f32;
                    let pm = ends.at(&fold.net, alpha);
                    let pred = predict(&pm, &test.x);
                    all[si][ai][ki].push(accuracy(&pred, &test.y) as f64);
                    if int8_k == Some(k) && who.user_labels.len() <= bandx_core::blob::MAX_CLASSES {
                        match who.int8(&pm, &cal, &test) {
                            Ok(parity) => agreement[si][ai].push(parity.agreement),
                            Err(e) => {
                                tracing::warn!("int8 export on validation subject {v} failed: {e}")
                            }
                        }
                    }
                    if let (Some(a), _) = by_group(&pred, &test.y, &who.novel) {
                        known[si][ai][ki].push(a);
                    }
                }
            }
        }
    }
    if subjects.is_empty() {
        tracing::warn!(
            fold = fold.report.fold,
            "no validation subject has enough windows to choose settings on"
        );
        return None;
    }
    let curve = |per_k: &[Vec<f64>]| -> Vec<CurvePoint> {
        ks.iter()
            .zip(per_k)
            .filter(|(_, v)| !v.is_empty())
            .map(|(&k, v)| CurvePoint {
                windows_per_class: k,
                accuracy: Stat::of(v),
            })
            .collect()
    };
    let generic_curve = curve(&generic);
    let mut candidates = Vec::new();
    for (si, &schedule) in sel.schedules.iter().enumerate() {
        for (ai, &c) in sel.anchors.iter().enumerate() {
            let curve_all = curve(&all[si][ai]);
            let curve_known = curve(&known[si][ai]);
            let score = curve_all.iter().map(|p| p.accuracy.mean).sum::<f64>()
                / curve_all.len().max(1) as f64;
            let never_below_generic = curve_known.iter().all(|p| {
                generic_curve
                    .iter()
                    .find(|g| g.windows_per_class == p.windows_per_class)
                    .is_none_or(|g| p.accuracy.mean >= g.accuracy.mean)
            });
            let agreed = &agreement[si][ai];
            let int8_agreement =
                (!agreed.is_empty()).then(|| agreed.iter().sum::<f64>() / agreed.len() as f64);
            candidates.push(Candidate {
                schedule,
                anchor_windows: c,
                curve: curve_all,
                curve_known,
                score,
                never_below_generic,
                int8_agreement,
                int8_kept: int8_agreement.is_none_or(|a| a >= sel.min_agreement),
                seconds: Stat::of(&seconds[si]),
            });
        }
    }
    let chosen = &candidates[choose(&candidates, sel.tolerance)];
    let (chosen_schedule, chosen_anchor_windows) = (chosen.schedule, chosen.anchor_windows);
    tracing::info!(
        fold = fold.report.fold,
        schedule = %chosen_schedule,
        anchor_windows = chosen_anchor_windows,
        score = chosen.score,
        "settings chosen on the validation subjects"
    );
    let mut cfg = chosen_schedule.apply(&opts.personalize);
    cfg.anchor_windows = chosen_anchor_windows;
    Some((
        SelectionReport {
            subjects,
            generic_curve,
            candidates,
            tolerance: sel.tolerance,
            min_agreement: sel.min_agreement,
            chosen_schedule,
            chosen_anchor_windows,
        },
        cfg,
    ))
}

/// The index of the candidate the module's rule picks (see the module header); `candidates` is
/// not empty. Ties go to the candidate listed first.
pub fn choose(candidates: &[Candidate], tolerance: f64) -> usize {
    let mut eligible: Vec<usize> = (0..candidates.len()).collect();
    let constraints: [fn(&Candidate) -> bool; 2] = [|c| c.int8_kept, |c| c.never_below_generic];
    for keeps in constraints {
        if eligible.iter().any(|&i| keeps(&candidates[i])) {
            eligible.retain(|&i| keeps(&candidates[i]));
        }
    }
    let best_of = |pool: &mut dyn Iterator<Item = usize>| -> usize {
        pool.fold(None, |best: Option<usize>, i| match best {
            Some(b) if candidates[b].score >= candidates[i].score => Some(b),
            _ => Some(i),
        })
        .expect("candidates is not empty")
    };
    let best = candidates[best_of(&mut eligible.iter().copied())].score;
    let cheapest = eligible
        .iter()
        .filter(|&&i| candidates[i].score >= best - tolerance)
        .map(|&i| candidates[i].schedule)
        .min_by_key(|s| s.cost())
        .expect("the best candidate is within tolerance of itself");
    best_of(
        &mut eligible
            .iter()
            .copied()
            .filter(|&i| candidates[i].schedule.cost() == cheapest.cost()),
    )
}
