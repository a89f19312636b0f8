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
