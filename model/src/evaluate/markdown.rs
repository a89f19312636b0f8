//! The Markdown summary of a report, beside the paper's Tables 2 and 3.

use super::report::{Report, Stat};

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
    s.push_str(&format!(
        "\nGS: generalized model on held-out time blocks of the general subjects (mean ± std over folds). \
PS(GM)/PS(PM): on each personal subject's windows that do not overlap the first {} calibration windows of each class \
(mean ± std over personal subjects). Run time {:.0} s.\n",
        report.windows_per_class, report.seconds
    ));
    s
}
