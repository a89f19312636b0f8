//! How an evaluation splits windows: folds of personal subjects, the general subjects' time
//! blocks (train / validation / GS test), and a personal subject's calibration and test windows.

use std::collections::BTreeMap;

use crate::preprocess::Window;

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

/// The general subjects' windows of one fold, split by time block: the first `1 - holdout` of
/// every activity trains (or validates, for a validation subject), the rest that overlaps none of
/// it is GS's test set.
pub(super) struct GeneralSplit<'a> {
    pub train: Vec<&'a Window>,
    pub validation: Vec<&'a Window>,
    pub gs_test: Vec<&'a Window>,
}

pub(super) fn general_split<'a>(
    windows: &'a [Window],
    general: &[String],
    validation: &[String],
    holdout: f32,
) -> GeneralSplit<'a> {
    let mut split = GeneralSplit {
        train: Vec::new(),
        validation: Vec::new(),
        gs_test: Vec::new(),
    };
    for s in general {
        let mine: Vec<&Window> = windows.iter().filter(|w| w.subject == *s).collect();
        for ws in by_label(&mine).values() {
            let cut = ((ws.len() as f32) * (1.0 - holdout)).floor() as usize;
            let (head, tail) = ws.split_at(cut.min(ws.len()));
            if validation.contains(s) {
                split.validation.extend(head.iter().copied());
            } else {
                split.train.extend(head.iter().copied());
            }
            split.gs_test.extend(non_overlapping(tail, head));
        }
    }
    split
}
