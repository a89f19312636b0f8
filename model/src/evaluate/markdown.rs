//! The Markdown summary of a report, beside the paper's Tables 2 and 3.

use super::report::{CurvePoint, FoldReport, Report, Stat};
use super::select::{Candidate, SelectionReport, choose};

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
    if let Some(base) = &report.base {
        s.push_str(&format!(
            "Backbone given (`--base {base}`): no pre-training, every subject personal, no GS.\n\n"
        ));
    }
    s.push_str(&format!(
        "`default_method` (configured, not chosen by these scores): {}.\n\n",
        report.default_method
    ));
    s.push_str("| model | GS | PS(GM) | PS(PM) | PS(PM) int8 | personalize (s) |\n|---|---|---|---|---|---|\n");
    if let Some(p) = &report.paper {
        s.push_str(&format!(
            "| paper, Tables 2 and 3 ({}) | {:.4} | {:.4} | {:.4} | — | — |\n",
            p.dataset, p.gs, p.ps_gm, p.ps_pm
        ));
    }
    let pm = |x: &Stat| {
        if x.n == 0 {
            "—".to_string()
        } else {
            format!("{:.4} ± {:.4}", x.mean, x.std)
        }
    };
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
    let row = |s: &mut String, name: &str, curve: &[super::report::CurvePoint]| {
        s.push_str(&format!("| {name} |"));
        for c in curve {
            s.push_str(&format!(" {:.4} |", c.accuracy.mean));
        }
        s.push('\n');
    };
    for (name, m) in report
        .methods
        .iter()
        .filter(|(_, m)| !m.learning_curve.is_empty())
    {
        row(&mut s, name, &m.learning_curve);
        if !m.learning_curve_known.is_empty() {
            row(
                &mut s,
                &format!("{name}, known classes"),
                &m.learning_curve_known,
            );
        }
        if !m.learning_curve_novel.is_empty() {
            row(
                &mut s,
                &format!("{name}, novel classes"),
                &m.learning_curve_novel,
            );
        }
    }
    if let Some(gm) = &report.ps_gm_curve {
        s.push_str(&format!(
            "\nPS(GM) on the same test windows (known classes): {}.\n",
            pm(gm)
        ));
    }
    let split: Vec<_> = report
        .methods
        .iter()
        .filter_map(|(n, m)| Some((n, m.ps_pm_known?, m.ps_pm_novel?)))
        .collect();
    if !split.is_empty() {
        s.push_str("\nPS(PM) by class group (novel: left out of the fold's pre-training):\n\n| method | known classes | novel classes |\n|---|---|---|\n");
        for (name, known, novel) in split {
            s.push_str(&format!("| {name} | {} | {} |\n", pm(&known), pm(&novel)));
        }
        let novel: Vec<String> = report
            .folds
            .iter()
            .map(|f| format!("fold {}: {}", f.fold, f.novel_classes.join(", ")))
            .collect();
        s.push_str(&format!("\nNovel classes: {}.\n", novel.join("; ")));
    }
    s.push_str(
        "\nPre-training per fold:\n\n| fold | GS | steps (epochs) | best step | stopped | seconds |\n|---|---|---|---|---|---|\n",
    );
    for f in &report.folds {
        let p = &f.pretrain;
        s.push_str(&format!(
            "| {} | {:.4} | {} ({}) | {} | {} | {:.0} |\n",
            f.fold,
            f.gs,
            p.steps,
            p.epochs_run,
            p.best_step,
            p.stop_reason
                .map_or_else(|| "—".to_string(), |r| r.to_string()),
            p.seconds
        ));
    }
    s.push_str(&selection_summary(&report.folds));
    s.push_str(&format!(
        "\nGS: generalized model on held-out time blocks of the general subjects (mean ± std over folds). \
PS(GM)/PS(PM): on each personal subject's windows that do not overlap the first {} calibration windows of each class \
(mean ± std over personal subjects). Run time {:.0} s.\n",
        report.windows_per_class, report.seconds
    ));
    s
}

/// The settings each fold chose on its validation subjects (`--select`), every candidate averaged
/// over the folds and what the same rule picks on those means (empty without selections). Takes
/// folds from several reports, e.g. a 12-fold evaluation split over processes.
pub fn selection_summary(folds: &[FoldReport]) -> String {
    let mut s = String::new();
    let chosen: Vec<_> = folds
        .iter()
        .filter_map(|f| Some((f.fold, f.selection.as_ref()?)))
        .collect();
    let Some((_, first)) = chosen.first() else {
        return String::new();
    };
    s.push_str(&format!(
        "\nSettings chosen on each fold's validation subjects (`--select`; never on its personal \
subjects; the cheapest schedule within {:.1} points of the best, int8 agreement at least {:.0} %, never below the \
generic model):\n\n\
| fold | validation subjects | schedule (epochs x copies) | anchor c | score | generic (known classes) |\n|---|---|---|---|---|---|\n",
        first.tolerance * 100.0,
        first.min_agreement * 100.0
    ));
    let mean_of = |curve: &[CurvePoint]| {
        curve.iter().map(|p| p.accuracy.mean).sum::<f64>() / curve.len().max(1) as f64
    };
    for (fold, sel) in &chosen {
        let score = sel
            .candidates
            .iter()
            .find(|c| {
                c.schedule == sel.chosen_schedule && c.anchor_windows == sel.chosen_anchor_windows
            })
            .map_or(0.0, |c| c.score);
        s.push_str(&format!(
            "| {fold} | {} | {} | {} | {score:.4} | {:.4} |\n",
            sel.subjects.join(", "),
            sel.chosen_schedule,
            sel.chosen_anchor_windows,
            mean_of(&sel.generic_curve)
        ));
    }
    s.push_str(
        "\nEvery candidate over those folds (score: mean over K and validation subjects, then over folds):\n\n\
| schedule | anchor c | score | folds never below generic | int8 agreement | seconds per personalization |\n|---|---|---|---|---|---|\n",
    );
    let sels: Vec<&SelectionReport> = chosen.iter().map(|(_, sel)| *sel).collect();
    let pooled = pooled_candidates(&sels);
    for (c, safe) in &pooled {
        s.push_str(&format!(
            "| {} | {} | {:.4} | {safe} of {} | {} | {:.2} |\n",
            c.schedule,
            c.anchor_windows,
            c.score,
            sels.len(),
            c.int8_agreement
                .map_or_else(|| "—".to_string(), |a| format!("{a:.4}")),
            c.seconds.mean
        ));
    }
    let candidates: Vec<Candidate> = pooled.into_iter().map(|(c, _)| c).collect();
    let pick = &candidates[choose(&candidates, first.tolerance)];
    s.push_str(&format!(
        "\nThe same rule on these means (mean int8 agreement kept, the mean curve never below the mean generic one): \
schedule {}, anchor c {}.\n",
        pick.schedule, pick.anchor_windows
    ));
    s
}

/// Every candidate averaged over the folds' selections (same candidates in the same order):
/// score and seconds the mean over folds, `never_below_generic` of the mean curves, and the
/// number of folds where the candidate itself never fell below the generic model.
fn pooled_candidates(sels: &[&SelectionReport]) -> Vec<(Candidate, usize)> {
    let mean_curve = |curves: Vec<&Vec<CurvePoint>>| -> Vec<(usize, f64)> {
        let ks: Vec<usize> = curves
            .first()
            .map(|c| c.iter().map(|p| p.windows_per_class).collect())
            .unwrap_or_default();
        ks.into_iter()
            .map(|k| {
                let v: Vec<f64> = curves
                    .iter()
                    .filter_map(|c| c.iter().find(|p| p.windows_per_class == k))
                    .map(|p| p.accuracy.mean)
                    .collect();
                (k, v.iter().sum::<f64>() / v.len().max(1) as f64)
            })
            .collect()
    };
    let generic = mean_curve(sels.iter().map(|s| &s.generic_curve).collect());
    let n = sels.len().max(1) as f64;
    (0..sels[0].candidates.len())
        .map(|i| {
            let same: Vec<&Candidate> = sels.iter().filter_map(|s| s.candidates.get(i)).collect();
            let known = mean_curve(same.iter().map(|c| &c.curve_known).collect());
            let never_below_generic = known.iter().all(|(k, a)| {
                generic
                    .iter()
                    .find(|(gk, _)| gk == k)
                    .is_none_or(|(_, g)| a >= g)
            });
            let mut c = same[0].clone();
            c.score = same.iter().map(|c| c.score).sum::<f64>() / n;
            c.seconds.mean = same.iter().map(|c| c.seconds.mean).sum::<f64>() / n;
            c.never_below_generic = never_below_generic;
            let agreed: Vec<f64> = same.iter().filter_map(|c| c.int8_agreement).collect();
            c.int8_agreement =
                (!agreed.is_empty()).then(|| agreed.iter().sum::<f64>() / agreed.len() as f64);
            c.int8_kept = c.int8_agreement.is_none_or(|a| a >= sels[0].min_agreement);
            let safe = same.iter().filter(|c| c.never_below_generic).count();
            (c, safe)
        })
        .collect()
}
