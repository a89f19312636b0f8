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
//! `max K` windows, so all points share one test set (PS(GM) is measured on it too).
//!
//! `--novel-classes N` leaves N classes (rotated over folds) out of each fold's pre-training; the
//! personal subjects keep them, and PS(PM) and the curve are also reported on the known and the
//! novel classes' windows separately. `--base CKPT` skips pre-training: every subject is
//! personal and personalizes the given checkpoint (with its replay set, if one lies beside it).
//! `default_method` is always the configured default ([`Method::DEFAULT`]).
//!
//! Files: [`split`] (folds, time blocks, calibration/test windows), `fold` (a fold's backbone and
//! GS), `subject` (a personal subject's PS(GM), PS(PM), int8 and learning curve), [`report`]
//! (the report's schema and the tally over subjects), [`markdown`](markdown()) (the summary table).

mod fold;
mod markdown;
pub mod report;
pub mod select;
pub mod split;
mod subject;

use std::time::Instant;

pub use fold::novel_classes;
pub use markdown::{markdown, selection_summary};
pub use report::{
    Confusion, CurvePoint, FoldReport, MethodReport, PaperFigures, Report, Stat, SubjectReport,
    paper_figures,
};
pub use select::{Schedule, SelectOptions, SelectionReport};
pub use split::{calibration_split, folds, user_split};

use crate::cnn::HarCnnConfig;
use crate::error::{ModelError, Result};
use crate::personalize::{Method, PersonalizeConfig};
use crate::preprocess::{Window, label_set};
use crate::train::TrainConfig;
use report::Tally;

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
    /// Classes left out of each fold's pre-training (rotated over folds; 0 = none).
    pub novel_classes: usize,
    /// A pre-trained backbone to personalize for every subject instead of pre-training folds
    /// (its own network is used, whatever `net` says).
    pub base: Option<GivenBase>,
    /// Choose the fine-tuning schedule and the anchor rule per fold on its validation subjects
    /// (see [`select`]); the personal subjects are then evaluated with that fold's choice.
    pub select: Option<SelectOptions>,
}

/// A pre-trained checkpoint `evaluate --base` personalizes for every subject of the data set.
#[derive(Debug, Clone)]
pub struct GivenBase {
    /// Where it came from (reported as `base`).
    pub path: String,
    pub checkpoint: crate::checkpoint::Checkpoint,
    /// Its replay set (`<checkpoint>.replay`), when there is one.
    pub replay: Option<crate::replay::ReplaySet>,
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
            novel_classes: 0,
            base: None,
            select: None,
        }
    }
}

/// Runs the protocol on `windows` (every subject's, any reader's).
pub fn evaluate(windows: &[Window], opts: &EvalOptions) -> Result<Report> {
    let started = Instant::now();
    let mut subjects = label_set(windows.iter().map(|w| w.subject.as_str()));
    subjects.sort();
    if opts.base.is_none() && subjects.len() < opts.personal_per_fold + 2 {
        return Err(ModelError::NoData(format!(
            "evaluate needs at least {} subjects ({} personal + 2 general), found {}",
            opts.personal_per_fold + 2,
            opts.personal_per_fold,
            subjects.len()
        )));
    }
    let all_folds = match opts.base {
        Some(_) => vec![subjects.clone()],
        None => folds(&subjects, opts.personal_per_fold),
    };
    if opts.base.is_some() && opts.select.is_some() {
        return Err(ModelError::InvalidInput(
            "choosing settings needs the general subjects' validation split: it cannot be used with a given backbone".into(),
        ));
    }
    if opts.base.is_some() && opts.novel_classes > 0 {
        return Err(ModelError::InvalidInput(
            "leaving classes out needs pre-training: it cannot be used with a given backbone"
                .into(),
        ));
    }
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
    let confusion_method = confusion_method(&opts.methods);

    let mut fold_reports = Vec::new();
    let mut tally = Tally::default();
    for (f, personal) in all_folds.iter().enumerate().skip(opts.first_fold).take(run) {
        let mut fold = match &opts.base {
            Some(base) => fold::given(base, personal),
            None => fold::prepare(windows, &subjects, personal, f, opts)?,
        };
        let chosen = opts
            .select
            .as_ref()
            .and_then(|sel| select::select(windows, &fold, opts, sel, k_max));
        let fold_opts = chosen.map(|(report, cfg)| {
            fold.report.selection = Some(report);
            EvalOptions {
                personalize: cfg,
                ..opts.clone()
            }
        });
        let fold_opts = fold_opts.as_ref().unwrap_or(opts);
        for p in personal {
            if !tally.has(p) {
                subject::evaluate(
                    windows,
                    p,
                    &fold,
                    fold_opts,
                    k_max,
                    confusion_method,
                    &mut tally,
                );
            }
        }
        fold_reports.push(fold.report);
    }
    if tally.subjects.is_empty() {
        return Err(ModelError::NoData(
            "no personal subject had enough windows per class for the calibration".into(),
        ));
    }

    let methods = tally.method_reports(&opts.methods, &opts.learning_curve, &fold_reports);
    let default_method = default_method();
    let ps_gm_curve = (!tally.curve_gm.is_empty()).then(|| report::Stat::of(&tally.curve_gm));
    Ok(Report {
        dataset: opts.dataset.clone(),
        subjects: subjects.len(),
        folds_total: all_folds.len(),
        folds_run: fold_reports.len(),
        windows_per_class: opts.windows_per_class,
        methods,
        default_method,
        ps_gm_curve,
        base: opts.base.as_ref().map(|b| b.path.clone()),
        paper: paper_figures(&opts.dataset),
        folds: fold_reports,
        per_subject: tally.subjects,
        confusion_gm: tally.confusion_gm,
        confusion_pm: tally.confusion_pm,
        confusion_pm_method: confusion_method.name().to_string(),
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The report's `default_method`: the configured default ([`Method::DEFAULT`], what the app
/// runs), whatever the methods compared in this run scored on its personal subjects (choosing
/// by those scores would be selection on the test subjects).
pub fn default_method() -> String {
    Method::DEFAULT.name().to_string()
}

/// The method whose PS(PM) confusion matrix is drawn: the default one when it runs (see
/// model/README.md), else `replay`, else `dense_fine_tune`, else the first.
fn confusion_method(methods: &[Method]) -> Method {
    if methods.contains(&Method::DEFAULT) {
        Method::DEFAULT
    } else if methods.contains(&Method::Replay) {
        Method::Replay
    } else if methods.contains(&Method::DenseFineTune) {
        Method::DenseFineTune
    } else {
        methods.first().copied().unwrap_or(Method::Head)
    }
}
