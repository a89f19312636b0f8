//! One personal subject of a fold: PS(GM) of the generalized model, PS(PM) of every method
//! (personalized on the first K windows of each class, optionally also as an int8 blob on the
//! bandx-core engine), and the learning curve over K on one shared test set (with PS(GM) on that
//! set). With novel classes in the fold, PS(PM) and the curve also on known and novel classes.

use std::collections::BTreeMap;
use std::time::Instant;

use super::EvalOptions;
use super::fold::Fold;
use super::report::{SubjectReport, Tally};
use super::split::calibration_split;
use crate::checkpoint::Checkpoint;
use crate::cnn::HarCnn;
use crate::export::{Parity, export, parity, personal_ranges};
use crate::personalize::{Method, personalize_named, personalize_replay, replay_set};
use crate::preprocess::{Window, label_set};
use crate::train::{Examples, accuracy, logits, predict};

/// What personalizing for one subject needs: the fold's backbone, the user's classes and other
/// people's windows of them.
pub(super) struct Personalizing<'f, 'a> {
    pub fold: &'f Fold<'a>,
    pub opts: &'f EvalOptions,
    pub user_labels: Vec<String>,
    pub replay: Examples,
    /// `novel[c]`: user class `c` was left out of the fold's pre-training.
    pub novel: Vec<bool>,
}

impl<'f, 'a> Personalizing<'f, 'a> {
    /// Personalizing `user_labels` on `fold`, with other people's windows of those classes for
    /// `replay` (the general subjects' training windows only: nothing of this user, of the
    /// validation subjects or of the GS test blocks; or the given backbone's own replay set).
    pub(super) fn new(
        fold: &'f Fold<'a>,
        opts: &'f EvalOptions,
        user_labels: Vec<String>,
    ) -> Personalizing<'f, 'a> {
        let replay = match &fold.replay_set {
            Some(set) => set.examples(&user_labels, &fold.norm),
            None => Examples::new(
                replay_set(
                    &fold.train_windows,
                    &user_labels,
                    opts.personalize.replay_per_class,
                ),
                &user_labels,
                &fold.norm,
            ),
        };
        let novel = user_labels.iter().map(|l| fold.novel.contains(l)).collect();
        Personalizing {
            fold,
            opts,
            user_labels,
            replay,
            novel,
        }
    }

    /// PS(GM) on the windows of `test` whose class pre-training saw, by label name (`None`
    /// when there are none).
    pub(super) fn generic_on_known(&self, test: &[&Window]) -> Option<f64> {
        let known_w: Vec<&Window> = test
            .iter()
            .copied()
            .filter(|w| !self.fold.novel.contains(&w.label))
            .collect();
        if known_w.is_empty() {
            return None;
        }
        let gm_test = Examples::new(known_w.iter().copied(), &self.user_labels, &self.fold.norm);
        let pred = predict(&self.fold.base, &gm_test.x);
        let ok = pred
            .iter()
            .zip(&gm_test.y)
            .filter(|(p, y)| self.fold.labels.get(**p) == Some(&self.user_labels[**y]))
            .count();
        Some(ok as f64 / gm_test.len() as f64)
    }

    fn fit(&self, m: Method, cal: &Examples) -> HarCnn {
        let (f, o) = (self.fold, self.opts);
        match m {
            m if m.uses_replay() => personalize_replay(
                &f.base,
                &f.labels,
                &f.net,
                m,
                cal,
                &self.user_labels,
                &self.replay,
                &o.personalize,
            ),
            _ => personalize_named(
                &f.base,
                &f.labels,
                &f.net,
                m,
                cal,
                &self.user_labels,
                &o.personalize,
            ),
        }
    }

    /// The personal model as the band would run it: int8 blob, parity with float on `test`.
    pub(super) fn int8(
        &self,
        pm: &HarCnn,
        cal: &Examples,
        test: &Examples,
    ) -> crate::Result<Parity> {
        let mut ck = Checkpoint::new(
            self.fold.net.clone(),
            self.user_labels.clone(),
            self.fold.norm,
            pm,
        );
        ck.ranges = personal_ranges(&self.fold.base_ranges, &ck.weights, &cal.x);
        let float_logits = logits(pm, &test.x);
        export(&ck, cal.window(0), 1, 1)
            .and_then(|blob| parity(&blob, &float_logits, &test.x, &test.y))
    }
}

/// Evaluates personal subject `p` of `fold` into `tally` (nothing when it has too few windows).
/// `confusion_method` is the method whose PS(PM) confusion matrix is drawn.
pub(super) fn evaluate(
    windows: &[Window],
    p: &str,
    fold: &Fold<'_>,
    opts: &EvalOptions,
    k_max: usize,
    confusion_method: Method,
    tally: &mut Tally,
) {
    let mine: Vec<&Window> = windows
        .iter()
        .filter(|w| w.subject == p)
        .filter(|w| opts.user_classes.is_empty() || opts.user_classes.contains(&w.label))
        .collect();
    let (cal_w, test_w) = calibration_split(&mine, opts.windows_per_class, opts.windows_per_class);
    if cal_w.is_empty() || test_w.is_empty() {
        tracing::warn!(
            "subject {p}: too few windows per class for K = {}",
            opts.windows_per_class
        );
        return;
    }
    let user_labels = label_set(cal_w.iter().map(|w| w.label.as_str()));
    let test = Examples::new(test_w.iter().copied(), &user_labels, &fold.norm);
    let ps_gm = generalized_accuracy(fold, &user_labels, &test, tally);
    let cal = Examples::new(cal_w.iter().copied(), &user_labels, &fold.norm);
    let who = Personalizing::new(fold, opts, user_labels);
    let (mut ps_pm_known, mut ps_pm_novel) = (BTreeMap::new(), BTreeMap::new());
    let mut ps_pm = BTreeMap::new();
    let mut ps_pm_int8 = BTreeMap::new();
    for &m in &opts.methods {
        let t0 = Instant::now();
        let pm = who.fit(m, &cal);
        tally
            .times
            .entry(m)
            .or_default()
            .push(t0.elapsed().as_secs_f64());
        let pred = predict(&pm, &test.x);
        ps_pm.insert(m.name().to_string(), accuracy(&pred, &test.y) as f64);
        if !fold.novel.is_empty() {
            let (known, novel) = by_group(&pred, &test.y, &who.novel);
            if let Some(a) = known {
                ps_pm_known.insert(m.name().to_string(), a);
            }
            if let Some(a) = novel {
                ps_pm_novel.insert(m.name().to_string(), a);
            }
        }
        if m == confusion_method {
            for (pr, y) in pred.iter().zip(&test.y) {
                tally
                    .confusion_pm
                    .add(&who.user_labels[*y], &who.user_labels[*pr]);
            }
        }
        if opts.int8 && who.user_labels.len() <= bandx_core::blob::MAX_CLASSES {
            match who.int8(&pm, &cal, &test) {
                Ok(par) => {
                    ps_pm_int8.insert(m.name().to_string(), par.int8_accuracy);
                    tally.agreement.entry(m).or_default().push(par.agreement);
                }
                Err(e) => tracing::warn!("int8 export of {p}/{m} failed: {e}"),
            }
        }
    }
    learning_curve(&who, &mine, k_max, tally);
    tracing::info!(subject = %p, ps_gm, ?ps_pm, "personal subject");
    tally.subjects.push(SubjectReport {
        subject: p.to_string(),
        fold: fold.report.fold,
        classes: who.user_labels.len(),
        calibration_windows: cal.len(),
        test_windows: test.len(),
        ps_gm,
        ps_pm,
        ps_pm_int8,
        ps_pm_known,
        ps_pm_novel,
    });
}

/// Accuracy on the windows of known classes and on those of novel ones (`None`: no window).
pub(super) fn by_group(pred: &[usize], y: &[usize], novel: &[bool]) -> (Option<f64>, Option<f64>) {
    let mut ok = [0usize; 2];
    let mut n = [0usize; 2];
    for (p, t) in pred.iter().zip(y) {
        let g = usize::from(novel[*t]);
        n[g] += 1;
        ok[g] += usize::from(p == t);
    }
    let acc = |g: usize| (n[g] > 0).then(|| ok[g] as f64 / n[g] as f64);
    (acc(0), acc(1))
}

/// PS(GM): the generalized model's label names against the truth (and its confusion matrix).
fn generalized_accuracy(
    fold: &Fold<'_>,
    user_labels: &[String],
    test: &Examples,
    tally: &mut Tally,
) -> f64 {
    let mut ok = 0;
    for (pred, y) in predict(&fold.base, &test.x).iter().zip(&test.y) {
        let (truth, said) = (&user_labels[*y], &fold.labels[*pred]);
        ok += usize::from(truth == said);
        tally.confusion_gm.add(truth, said);
    }
    ok as f64 / test.len().max(1) as f64
}

/// PS(PM) for K in the curve, every K tested on the windows after the first `k_max`.
fn learning_curve(who: &Personalizing<'_, '_>, mine: &[&Window], k_max: usize, tally: &mut Tally) {
    let (opts, norm) = (who.opts, &who.fold.norm);
    let (_, curve_test_w) = calibration_split(mine, 1, k_max);
    if let Some(gm) = who.generic_on_known(&curve_test_w) {
        tally.curve_gm.push(gm);
    }
    for &k in &opts.learning_curve {
        let (cal_k, _) = calibration_split(mine, k, k_max);
        let cal_k = Examples::new(cal_k.iter().copied(), &who.user_labels, norm);
        let test_k = Examples::new(curve_test_w.iter().copied(), &who.user_labels, norm);
        if cal_k.is_empty() || test_k.is_empty() {
            continue;
        }
        for &m in &opts.methods {
            if !(opts.curve_methods.is_empty() || opts.curve_methods.contains(&m)) {
                continue;
            }
            let pm = who.fit(m, &cal_k);
            let pred = predict(&pm, &test_k.x);
            let acc = accuracy(&pred, &test_k.y) as f64;
            tally.curve.entry((m, k)).or_default().push(acc);
            if !who.fold.novel.is_empty() {
                let (known, novel) = by_group(&pred, &test_k.y, &who.novel);
                if let Some(a) = known {
                    tally.curve_known.entry((m, k)).or_default().push(a);
                }
                if let Some(a) = novel {
                    tally.curve_novel.entry((m, k)).or_default().push(a);
                }
            }
        }
    }
}
