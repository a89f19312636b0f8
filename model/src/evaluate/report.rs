//! What an evaluation reports (`report.json`'s stable schema), and the tally that collects it
//! over folds and personal subjects.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::personalize::Method;
use crate::train::TrainReport;

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
    /// With `--novel-classes`: PS(PM) on the test windows of the classes pre-training saw
    /// (`known`) and of those it left out (`novel`), and the learning curve of each.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ps_pm_known: Option<Stat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ps_pm_novel: Option<Stat>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub learning_curve_known: Vec<CurvePoint>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub learning_curve_novel: Vec<CurvePoint>,
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
    /// With `--novel-classes`: PS(PM) per method on the known and on the novel classes' windows.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ps_pm_known: BTreeMap<String, f64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ps_pm_novel: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FoldReport {
    pub fold: usize,
    pub personal: Vec<String>,
    pub validation: Vec<String>,
    /// GS (0 with `gs_windows` 0 when the backbone was given with `--base`: no general subjects).
    pub gs: f64,
    pub gs_windows: usize,
    /// All zero when the backbone was given with `--base` (no pre-training ran).
    pub pretrain: TrainReport,
    /// The classes left out of this fold's pre-training (`--novel-classes`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub novel_classes: Vec<String>,
    /// The settings chosen on this fold's validation subjects (`--select`), with which its
    /// personal subjects were evaluated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selection: Option<super::select::SelectionReport>,
}

/// Row-normalizable counts `[true][predicted]` over `labels`.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Confusion {
    pub labels: Vec<String>,
    pub counts: Vec<Vec<u64>>,
}

impl Confusion {
    pub(super) fn add(&mut self, truth: &str, predicted: &str) {
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
    /// The configured default method ([`Method::DEFAULT`], what the app runs); never chosen by
    /// this run's scores.
    pub default_method: String,
    /// PS(GM) on the learning curve's shared test set (the windows of classes pre-training
    /// saw), to set beside each curve point.
    #[serde(default)]
    pub ps_gm_curve: Option<Stat>,
    /// The checkpoint given with `--base` (no pre-training; every subject personal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
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

/// Everything measured per method over the personal subjects, collected as they are evaluated.
#[derive(Debug, Default)]
pub(super) struct Tally {
    pub subjects: Vec<SubjectReport>,
    /// PS(PM) per (method, K) on the learning curve's shared test set.
    pub curve: BTreeMap<(Method, usize), Vec<f64>>,
    /// The same on the known and on the novel classes' windows (`--novel-classes`).
    pub curve_known: BTreeMap<(Method, usize), Vec<f64>>,
    pub curve_novel: BTreeMap<(Method, usize), Vec<f64>>,
    /// PS(GM) on the learning curve's test windows of known classes, per subject.
    pub curve_gm: Vec<f64>,
    /// Seconds per personalization.
    pub times: BTreeMap<Method, Vec<f64>>,
    /// int8/float agreement per personal subject.
    pub agreement: BTreeMap<Method, Vec<f64>>,
    pub confusion_gm: Confusion,
    pub confusion_pm: Confusion,
}

impl Tally {
    /// Whether `subject` was already evaluated (the last fold wraps around).
    pub fn has(&self, subject: &str) -> bool {
        self.subjects.iter().any(|r| r.subject == subject)
    }

    /// Per-method summary: GS of the folds, PS(GM) and each method's PS(PM), int8, curve, time.
    pub fn method_reports(
        &self,
        methods: &[Method],
        curve_ks: &[usize],
        folds: &[FoldReport],
    ) -> BTreeMap<String, MethodReport> {
        let gs = Stat::of(
            &folds
                .iter()
                .filter(|f| f.gs_windows > 0)
                .map(|f| f.gs)
                .collect::<Vec<_>>(),
        );
        let curve = |table: &BTreeMap<(Method, usize), Vec<f64>>, m: Method| -> Vec<CurvePoint> {
            curve_ks
                .iter()
                .filter_map(|&k| {
                    table.get(&(m, k)).map(|v| CurvePoint {
                        windows_per_class: k,
                        accuracy: Stat::of(v),
                    })
                })
                .collect()
        };
        let per_subject = |pick: &dyn Fn(&SubjectReport) -> Option<f64>| -> Option<Stat> {
            let v: Vec<f64> = self.subjects.iter().filter_map(pick).collect();
            (!v.is_empty()).then(|| Stat::of(&v))
        };
        let ps_gm = Stat::of(&self.subjects.iter().map(|s| s.ps_gm).collect::<Vec<_>>());
        let mut out = BTreeMap::new();
        for &m in methods {
            let pm: Vec<f64> = self
                .subjects
                .iter()
                .filter_map(|s| s.ps_pm.get(m.name()).copied())
                .collect();
            let pm8: Vec<f64> = self
                .subjects
                .iter()
                .filter_map(|s| s.ps_pm_int8.get(m.name()).copied())
                .collect();
            out.insert(
                m.name().to_string(),
                MethodReport {
                    gs,
                    ps_gm,
                    ps_pm: Stat::of(&pm),
                    ps_pm_int8: (!pm8.is_empty()).then(|| Stat::of(&pm8)),
                    int8_agreement: self.agreement.get(&m).map(|a| Stat::of(a)),
                    learning_curve: curve(&self.curve, m),
                    personalize_seconds: Stat::of(
                        self.times.get(&m).map(Vec::as_slice).unwrap_or(&[]),
                    ),
                    ps_pm_known: per_subject(&|s| s.ps_pm_known.get(m.name()).copied()),
                    ps_pm_novel: per_subject(&|s| s.ps_pm_novel.get(m.name()).copied()),
                    learning_curve_known: curve(&self.curve_known, m),
                    learning_curve_novel: curve(&self.curve_novel, m),
                },
            );
        }
        out
    }
}
