//! The paper's protocol, made honest (issue 4, item 6).
//!
//! Subjects are split into N-4 general and 4 personal, the 4 rotated over folds so every subject
//! is personal once. Per fold the generalized model is pre-trained on the general subjects
//! (validation on held-out general subjects, early stopping), and:
//! - GS: accuracy on held-out time blocks (the last 20 % of every activity) of the general subjects;
//! - PS(GM): the generalized model on each personal subject's test windows;
//! - PS(PM): after personalizing with the FIRST K consecutive windows of each class, on that
//!   subject's windows that do not overlap them (test windows do not overlap each other either).
//!
//! A learning curve over several K uses, for every K, the windows that do not overlap the first
//! `max K` windows, so all points share one test set.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::cnn::HarCnnConfig;
use crate::error::{ModelError, Result};
use crate::personalize::{
    Method, PersonalizeConfig, personalize_named, personalize_replay, replay_set,
};
use crate::preprocess::{Normalization, WINDOW_LEN, Window, label_set};
use crate::train::{
    Examples, TrainConfig, TrainReport, accuracy, predict, pretrain_with, validation_subjects,
};

#[derive(Debug, Clone)]
pub struct EvalOptions {
    pub dataset: String,
    pub windows_per_class: usize,
    /// Run only N folds (all when `None`), starting at `first_fold`.
    pub folds: Option<usize>,
    /// Index of the first fold run (0 = from the start), so folds can be split over processes.
    pub first_fold: usize,
    pub personal_per_fold: usize,
    pub learning_curve: Vec<usize>,
    pub gs_holdout_fraction: f32,
    pub val_fraction: f32,
    pub net: HarCnnConfig,
    pub train: TrainConfig,
    pub personalize: PersonalizeConfig,
    pub methods: Vec<Method>,
    /// Methods the learning curve is drawn for (all of `methods` when empty).
    pub curve_methods: Vec<Method>,
    /// Also run every personalized model as an int8 blob on the bandx-core engine.
    pub int8: bool,
    /// Restrict the personal subjects' classes to these labels (all when empty).
    pub user_classes: Vec<String>,
    pub show_progress: bool,
    /// Folder where each fold's pre-trained backbone is saved and, when its fold and training
    /// settings match, reloaded instead of re-trained (personalization experiments reuse them).
    pub backbone_cache: Option<std::path::PathBuf>,
}

impl EvalOptions {
    pub fn new(dataset: &str) -> EvalOptions {
        EvalOptions {
            dataset: dataset.into(),
            windows_per_class: 15,
            folds: None,
            first_fold: 0,
            personal_per_fold: 4,
            learning_curve: vec![1, 3, 5, 10, 15, 25],
            gs_holdout_fraction: 0.2,
            val_fraction: 0.1,
            net: HarCnnConfig::new(),
            train: TrainConfig::new(),
            personalize: PersonalizeConfig::new(),
            methods: Method::ALL.to_vec(),
            curve_methods: Vec::new(),
            int8: true,
            user_classes: Vec::new(),
            show_progress: false,
            backbone_cache: None,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Stat {
    pub mean: f64,
    pub std: f64,
    pub n: usize,
}

impl Stat {
    pub fn of(values: &[f64]) -> Stat {
        let n = values.len();
        if n == 0 {
            return Stat::default();
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
        Stat {
            mean,
            std: var.sqrt(),
            n,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CurvePoint {
    pub windows_per_class: usize,
    pub accuracy: Stat,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MethodReport {
    pub gs: Stat,
    pub ps_gm: Stat,
    pub ps_pm: Stat,
    /// Accuracy of the int8 blob run by the bandx-core engine, when measured.
    pub ps_pm_int8: Option<Stat>,
    /// Share of test windows where int8 and float agree, when measured.
    pub int8_agreement: Option<Stat>,
    pub learning_curve: Vec<CurvePoint>,
    pub personalize_seconds: Stat,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SubjectReport {
    pub subject: String,
    pub fold: usize,
    pub classes: usize,
    pub calibration_windows: usize,
    pub test_windows: usize,
    pub ps_gm: f64,
    pub ps_pm: BTreeMap<String, f64>,
    pub ps_pm_int8: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FoldReport {
    pub fold: usize,
    pub personal: Vec<String>,
    pub validation: Vec<String>,
    pub gs: f64,
    pub gs_windows: usize,
    pub pretrain: TrainReport,
}

/// Row-normalizable counts `[true][predicted]` over `labels`.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Confusion {
    pub labels: Vec<String>,
    pub counts: Vec<Vec<u64>>,
}

impl Confusion {
    fn add(&mut self, truth: &str, predicted: &str) {
        let idx = |c: &mut Confusion, l: &str| match c.labels.iter().position(|x| x == l) {
            Some(i) => i,
            None => {
                c.labels.push(l.to_string());
                for row in &mut c.counts {
                    row.push(0);
                }
                let n = c.labels.len();
                c.counts.push(vec![0; n]);
                n - 1
            }
        };
        let t = idx(self, truth);
        let p = idx(self, predicted);
        self.counts[t][p] += 1;
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PaperFigures {
    pub dataset: String,
    pub gs: f64,
    pub ps_gm: f64,
    pub ps_pm: f64,
}

pub fn paper_figures(dataset: &str) -> Option<PaperFigures> {
    let (gs, gm, pm) = match dataset {
        "wisdm" => (0.8339, 0.7157, 0.8029),
        "pamap2" => (0.9048, 0.6007, 0.8231),
        "bandx" => (0.9745, 0.8066, 0.9659),
        _ => return None,
    };
    Some(PaperFigures {
        dataset: dataset.into(),
        gs,
        ps_gm: gm,
        ps_pm: pm,
    })
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub dataset: String,
    pub subjects: usize,
    pub folds_total: usize,
    pub folds_run: usize,
    pub windows_per_class: usize,
    pub methods: BTreeMap<String, MethodReport>,
    pub default_method: String,
    pub paper: Option<PaperFigures>,
    pub folds: Vec<FoldReport>,
    pub per_subject: Vec<SubjectReport>,
    pub confusion_gm: Confusion,
    pub confusion_pm: Confusion,
    /// The method `confusion_pm` was drawn for.
    #[serde(default)]
    pub confusion_pm_method: String,
    pub seconds: f64,
}

/// Folds of `per_fold` personal subjects, rotated so that every subject is personal once.
pub fn folds(subjects: &[String], per_fold: usize) -> Vec<Vec<String>> {
    let n = subjects.len();
    (0..n.div_ceil(per_fold))
        .map(|f| {
            (0..per_fold.min(n))
                .map(|i| subjects[(f * per_fold + i) % n].clone())
                .collect()
        })
        .collect()
}

/// Windows of one subject and label, in recording order.
fn by_label<'a>(windows: &[&'a Window]) -> BTreeMap<String, Vec<&'a Window>> {
    let mut m: BTreeMap<String, Vec<&Window>> = BTreeMap::new();
    for w in windows {
        m.entry(w.label.clone()).or_default().push(w);
    }
    for v in m.values_mut() {
        v.sort_by_key(|w| (w.order, w.recording, w.start));
    }
    m
}

/// Keeps windows that overlap none of `excluded` and none of each other (greedy, in order).
fn non_overlapping<'a>(candidates: &[&'a Window], excluded: &[&Window]) -> Vec<&'a Window> {
    let mut out: Vec<&Window> = Vec::new();
    for w in candidates {
        if excluded.iter().any(|e| e.overlaps(w)) {
            continue;
        }
        if out.last().is_some_and(|l| l.overlaps(w)) {
            continue;
        }
        out.push(w);
    }
    out
}

/// Calibration = the first `k` windows of each label; test = windows of that subject not
/// overlapping the first `exclude_k` windows of their label.
pub fn calibration_split<'a>(
    windows: &[&'a Window],
    k: usize,
    exclude_k: usize,
) -> (Vec<&'a Window>, Vec<&'a Window>) {
    let mut cal = Vec::new();
    let mut test = Vec::new();
    for ws in by_label(windows).values() {
        if ws.len() <= exclude_k {
            continue;
        }
        cal.extend(ws[..k].iter().copied());
        test.extend(non_overlapping(ws, &ws[..exclude_k]));
    }
    (cal, test)
}

/// [`calibration_split`] for a user rather than an evaluation: the first `k` windows of each
/// label to personalize with, the others that overlap none of them to test on, and the labels
/// with fewer than `k` windows (name, count) left out. A label with exactly `k` windows is
/// kept (with nothing to test).
pub fn user_split<'a>(
    windows: &[&'a Window],
    k: usize,
) -> (Vec<&'a Window>, Vec<&'a Window>, Vec<(String, usize)>) {
    let (mut cal, mut test, mut short) = (Vec::new(), Vec::new(), Vec::new());
    for (label, ws) in by_label(windows) {
        if ws.len() < k {
            short.push((label, ws.len()));
            continue;
        }
        cal.extend(ws[..k].iter().copied());
        test.extend(non_overlapping(&ws[k..], &ws[..k]));
    }
    (cal, test, short)
}

pub fn evaluate(windows: &[Window], opts: &EvalOptions) -> Result<Report> {
    let started = Instant::now();
    let mut subjects = label_set(windows.iter().map(|w| w.subject.as_str()));
    subjects.sort();
    if subjects.len() < opts.personal_per_fold + 2 {
        return Err(ModelError::NoData(format!(
            "evaluate needs at least {} subjects ({} personal + 2 general), found {}",
            opts.personal_per_fold + 2,
            opts.personal_per_fold,
            subjects.len()
        )));
    }
    let all_folds = folds(&subjects, opts.personal_per_fold);
    if opts.first_fold >= all_folds.len() {
        return Err(ModelError::NoData(format!(
            "first fold {} does not exist: {} subjects make {} folds (0-{})",
            opts.first_fold,
            subjects.len(),
            all_folds.len(),
            all_folds.len() - 1
        )));
    }
    let run = opts
        .folds
        .unwrap_or(all_folds.len())
        .min(all_folds.len())
        .max(1);
    let k_max = opts
        .learning_curve
        .iter()
        .copied()
        .max()
        .unwrap_or(0)
        .max(opts.windows_per_class);

    let mut fold_reports = Vec::new();
    let mut subject_reports: Vec<SubjectReport> = Vec::new();
    let mut curve: BTreeMap<(Method, usize), Vec<f64>> = BTreeMap::new();
    let mut times: BTreeMap<Method, Vec<f64>> = BTreeMap::new();
    let mut agreement: BTreeMap<Method, Vec<f64>> = BTreeMap::new();
    let mut conf_gm = Confusion::default();
    let mut conf_pm = Confusion::default();
    // The confusion matrix of PS(PM) is drawn for the default method (see model/README.md).
    let default_guess = if opts.methods.contains(&Method::Replay) {
        Method::Replay
    } else if opts.methods.contains(&Method::DenseFineTune) {
        Method::DenseFineTune
    } else {
        opts.methods.first().copied().unwrap_or(Method::Head)
    };

    for (f, personal) in all_folds.iter().enumerate().skip(opts.first_fold).take(run) {
        let general: Vec<String> = subjects
            .iter()
            .filter(|s| !personal.contains(s))
            .cloned()
            .collect();
        let validation =
            validation_subjects(&general, opts.val_fraction, opts.train.seed + f as u64);
        // Time-block split of every general subject's activities: first 80 % train, rest GS test.
        let mut train_w = Vec::new();
        let mut val_w = Vec::new();
        let mut gs_w = Vec::new();
        for s in &general {
            let mine: Vec<&Window> = windows.iter().filter(|w| w.subject == *s).collect();
            for ws in by_label(&mine).values() {
                let cut = ((ws.len() as f32) * (1.0 - opts.gs_holdout_fraction)).floor() as usize;
                let (head, tail) = ws.split_at(cut.min(ws.len()));
                if validation.contains(s) {
                    val_w.extend(head.iter().copied());
                } else {
                    train_w.extend(head.iter().copied());
                }
                gs_w.extend(non_overlapping(tail, head));
            }
        }
        let labels = label_set(train_w.iter().map(|w| w.label.as_str()));
        let norm = Normalization::fit(train_w.iter().copied());
        let train = Examples::new(train_w.iter().copied(), &labels, &norm);
        let val = Examples::new(val_w.iter().copied(), &labels, &norm);
        tracing::info!(
            fold = f,
            train = train.len(),
            val = val.len(),
            "pre-training"
        );
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
        let cached = cache_path
            .as_deref()
            .and_then(|p| load_cached_backbone(p, &cache_key, &labels));
        let (base, pre_report) = match cached {
            Some(hit) => hit,
            None => {
                let (base, report) = pretrain_with(
                    &opts.net,
                    &train,
                    &val,
                    labels.len(),
                    &opts.train,
                    &norm,
                    opts.show_progress,
                );
                if let Some(path) = &cache_path {
                    let mut ck = crate::checkpoint::Checkpoint::new(
                        opts.net.clone(),
                        labels.clone(),
                        norm,
                        &base,
                    );
                    ck.notes = serde_json::json!({ "key": cache_key, "pretrain": report });
                    ck.save(path)?;
                }
                (base, report)
            }
        };
        let sample: Vec<f32> = train
            .x
            .chunks_exact(crate::preprocess::WINDOW_VALUES)
            .step_by((train.len() / 4000).max(1))
            .flatten()
            .copied()
            .collect();
        let base_ranges = crate::cnn::activation_ranges(&base.weights(), &sample);
        let gs_ex = Examples::new(gs_w.iter().copied(), &labels, &norm);
        let gs = accuracy(&predict(&base, &gs_ex.x), &gs_ex.y) as f64;
        tracing::info!(fold = f, gs, "generalized model");
        fold_reports.push(FoldReport {
            fold: f,
            personal: personal.clone(),
            validation,
            gs,
            gs_windows: gs_ex.len(),
            pretrain: pre_report,
        });

        for p in personal {
            if subject_reports.iter().any(|r| r.subject == *p) {
                continue; // already personal in an earlier fold (the last fold wraps around)
            }
            let mine: Vec<&Window> = windows
                .iter()
                .filter(|w| w.subject == *p)
                .filter(|w| opts.user_classes.is_empty() || opts.user_classes.contains(&w.label))
                .collect();
            let (cal_w, test_w) =
                calibration_split(&mine, opts.windows_per_class, opts.windows_per_class);
            if cal_w.is_empty() || test_w.is_empty() {
                tracing::warn!(
                    "subject {p}: too few windows per class for K = {}",
                    opts.windows_per_class
                );
                continue;
            }
            let user_labels = label_set(cal_w.iter().map(|w| w.label.as_str()));
            // PS(GM): the generalized model's label names against the truth.
            let test_any = Examples::new(test_w.iter().copied(), &user_labels, &norm);
            let gm_pred = predict(&base, &test_any.x);
            let mut gm_ok = 0;
            for (pred, y) in gm_pred.iter().zip(&test_any.y) {
                let (t, pl) = (&user_labels[*y], &labels[*pred]);
                gm_ok += usize::from(t == pl);
                conf_gm.add(t, pl);
            }
            let ps_gm = gm_ok as f64 / test_any.len().max(1) as f64;
            let cal = Examples::new(cal_w.iter().copied(), &user_labels, &norm);
            // Other people's windows of this user's classes, for `replay` (the general
            // subjects' training windows only: nothing of this user or of the GS test blocks).
            let replay = Examples::new(
                replay_set(&train_w, &user_labels, opts.personalize.replay_per_class),
                &user_labels,
                &norm,
            );
            let personalize_with = |m: Method, cal: &Examples| match m {
                Method::Replay => personalize_replay(
                    &base,
                    &labels,
                    &opts.net,
                    m,
                    cal,
                    &user_labels,
                    &replay,
                    &opts.personalize,
                ),
                _ => personalize_named(
                    &base,
                    &labels,
                    &opts.net,
                    m,
                    cal,
                    &user_labels,
                    &opts.personalize,
                ),
            };
            let mut ps_pm = BTreeMap::new();
            let mut ps_pm_int8 = BTreeMap::new();
            for &m in &opts.methods {
                let t0 = Instant::now();
                let pm = personalize_with(m, &cal);
                times.entry(m).or_default().push(t0.elapsed().as_secs_f64());
                let pred = predict(&pm, &test_any.x);
                let acc = accuracy(&pred, &test_any.y) as f64;
                ps_pm.insert(m.name().to_string(), acc);
                if m == default_guess {
                    for (pr, y) in pred.iter().zip(&test_any.y) {
                        conf_pm.add(&user_labels[*y], &user_labels[*pr]);
                    }
                }
                if opts.int8 && user_labels.len() <= bandx_core::blob::MAX_CLASSES {
                    let mut ck = crate::checkpoint::Checkpoint::new(
                        opts.net.clone(),
                        user_labels.clone(),
                        norm,
                        &pm,
                    );
                    ck.ranges = crate::export::personal_ranges(&base_ranges, &ck.weights, &cal.x);
                    let float_logits = crate::train::logits(&pm, &test_any.x);
                    match crate::export::export(&ck, cal.window(0), 1, 1).and_then(|blob| {
                        crate::export::parity(&blob, &float_logits, &test_any.x, &test_any.y)
                    }) {
                        Ok(par) => {
                            ps_pm_int8.insert(m.name().to_string(), par.int8_accuracy);
                            agreement.entry(m).or_default().push(par.agreement);
                        }
                        Err(e) => tracing::warn!("int8 export of {p}/{m} failed: {e}"),
                    }
                }
            }
            // Learning curve on one shared test set.
            let (_, curve_test_w) = calibration_split(&mine, 1, k_max);
            for &k in &opts.learning_curve {
                let (cal_k, _) = calibration_split(&mine, k, k_max);
                let cal_k = Examples::new(cal_k.iter().copied(), &user_labels, &norm);
                let test_k = Examples::new(curve_test_w.iter().copied(), &user_labels, &norm);
                if cal_k.is_empty() || test_k.is_empty() {
                    continue;
                }
                for &m in &opts.methods {
                    if !(opts.curve_methods.is_empty() || opts.curve_methods.contains(&m)) {
                        continue;
                    }
                    let pm = personalize_with(m, &cal_k);
                    let acc = accuracy(&predict(&pm, &test_k.x), &test_k.y) as f64;
                    curve.entry((m, k)).or_default().push(acc);
                }
            }
            tracing::info!(subject = %p, ps_gm, ?ps_pm, "personal subject");
            subject_reports.push(SubjectReport {
                subject: p.clone(),
                fold: f,
                classes: user_labels.len(),
                calibration_windows: cal.len(),
                test_windows: test_any.len(),
                ps_gm,
                ps_pm,
                ps_pm_int8,
            });
        }
    }
    if subject_reports.is_empty() {
        return Err(ModelError::NoData(
            "no personal subject had enough windows per class for the calibration".into(),
        ));
    }

    let gs = Stat::of(&fold_reports.iter().map(|f| f.gs).collect::<Vec<_>>());
    let ps_gm = Stat::of(&subject_reports.iter().map(|s| s.ps_gm).collect::<Vec<_>>());
    let mut methods = BTreeMap::new();
    for &m in &opts.methods {
        let pm: Vec<f64> = subject_reports
            .iter()
            .filter_map(|s| s.ps_pm.get(m.name()).copied())
            .collect();
        let pm8: Vec<f64> = subject_reports
            .iter()
            .filter_map(|s| s.ps_pm_int8.get(m.name()).copied())
            .collect();
        methods.insert(
            m.name().to_string(),
            MethodReport {
                gs,
                ps_gm,
                ps_pm: Stat::of(&pm),
                ps_pm_int8: (!pm8.is_empty()).then(|| Stat::of(&pm8)),
                int8_agreement: agreement.get(&m).map(|a| Stat::of(a)),
                learning_curve: opts
                    .learning_curve
                    .iter()
                    .filter_map(|&k| {
                        curve.get(&(m, k)).map(|v| CurvePoint {
                            windows_per_class: k,
                            accuracy: Stat::of(v),
                        })
                    })
                    .collect(),
                personalize_seconds: Stat::of(times.get(&m).map(Vec::as_slice).unwrap_or(&[])),
            },
        );
    }
    let default_method = methods
        .iter()
        .max_by(|a, b| a.1.ps_pm.mean.total_cmp(&b.1.ps_pm.mean))
        .map(|(k, _)| k.clone())
        .unwrap_or_default();
    Ok(Report {
        dataset: opts.dataset.clone(),
        subjects: subjects.len(),
        folds_total: all_folds.len(),
        folds_run: fold_reports.len(),
        windows_per_class: opts.windows_per_class,
        methods,
        default_method,
        paper: paper_figures(&opts.dataset),
        folds: fold_reports,
        per_subject: subject_reports,
        confusion_gm: conf_gm,
        confusion_pm: conf_pm,
        confusion_pm_method: default_guess.name().to_string(),
        seconds: started.elapsed().as_secs_f64(),
    })
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
    path: &std::path::Path,
    key: &serde_json::Value,
    labels: &[String],
) -> Option<(crate::cnn::HarCnn, TrainReport)> {
    let ck = crate::checkpoint::Checkpoint::load(path).ok()?;
    if ck.notes.get("key") != Some(key) || ck.labels != labels {
        return None;
    }
    let report: TrainReport = serde_json::from_value(ck.notes.get("pretrain")?.clone()).ok()?;
    tracing::info!(path = %path.display(), "reusing the cached fold backbone");
    Some((ck.model(&burn::prelude::Device::flex()), report))
}

/// The Markdown table beside the paper's Tables 2 and 3.
pub fn markdown(report: &Report) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        "# bandx-model evaluate: {}\n\n{} subjects, {} of {} folds run, {} personal subjects, K = {} windows per class.\n\n",
        report.dataset,
        report.subjects,
        report.folds_run,
        report.folds_total,
        report.per_subject.len(),
        report.windows_per_class
    ));
    s.push_str("| model | GS | PS(GM) | PS(PM) | PS(PM) int8 | personalize (s) |\n|---|---|---|---|---|---|\n");
    if let Some(p) = &report.paper {
        s.push_str(&format!(
            "| paper, Tables 2 and 3 ({}) | {:.4} | {:.4} | {:.4} | — | — |\n",
            p.dataset, p.gs, p.ps_gm, p.ps_pm
        ));
    }
    let pm = |x: &Stat| format!("{:.4} ± {:.4}", x.mean, x.std);
    for (name, m) in &report.methods {
        let star = if *name == report.default_method {
            " (default)"
        } else {
            ""
        };
        s.push_str(&format!(
            "| ours, {name}{star} | {} | {} | {} | {} | {:.3} |\n",
            pm(&m.gs),
            pm(&m.ps_gm),
            pm(&m.ps_pm),
            m.ps_pm_int8.as_ref().map(pm).unwrap_or_else(|| "—".into()),
            m.personalize_seconds.mean
        ));
    }
    s.push_str("\nLearning curve, PS(PM) by windows per class (shared test set):\n\n| method |");
    let ks: Vec<usize> = report
        .methods
        .values()
        .map(|m| {
            m.learning_curve
                .iter()
                .map(|c| c.windows_per_class)
                .collect::<Vec<_>>()
        })
        .max_by_key(Vec::len)
        .unwrap_or_default();
    for k in &ks {
        s.push_str(&format!(" K={k} |"));
    }
    s.push_str("\n|---|");
    s.push_str(&"---|".repeat(ks.len()));
    s.push('\n');
    for (name, m) in report
        .methods
        .iter()
        .filter(|(_, m)| !m.learning_curve.is_empty())
    {
        s.push_str(&format!("| {name} |"));
        for c in &m.learning_curve {
            s.push_str(&format!(" {:.4} |", c.accuracy.mean));
        }
        s.push('\n');
    }
    s.push_str(&format!(
        "\nGS: generalized model on held-out time blocks of the general subjects (mean ± std over folds). \
PS(GM)/PS(PM): on each personal subject's windows that do not overlap the first {} calibration windows of each class \
(mean ± std over personal subjects). Run time {:.0} s.\n",
        report.windows_per_class, report.seconds
    ));
    s
}

/// Windows shorter than a window are never produced; this is the number of samples one covers.
pub const WINDOW_SAMPLES: usize = WINDOW_LEN;
