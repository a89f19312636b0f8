//! `bandx record`, `bandx live` and `bandx history` on the virtual band, run as a script would run
//! them (the virtual band at 20x real time through `BANDX_SIM_SPEED`).

use std::process::Command;

mod support;
use support::{bandx_sim_fast as bandx, field, stdout};

use bandx_desktop::store::{Store, Verdict};

#[test]
fn record_then_live_then_history() {
    let dir = tempfile::tempdir().unwrap();
    let out = bandx(
        dir.path(),
        &[
            "record",
            "--class",
            "walking",
            "--profile",
            "ana",
            "--windows",
            "4",
            "--countdown",
            "0",
            "--activity",
            "walking",
            "--style",
            "natural",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    assert_eq!(field(&text, "good_windows"), "4");
    assert_eq!(field(&text, "profile"), "ana");
    let rejected: usize = field(&text, "rejected_windows").parse().unwrap();
    assert_eq!(
        text.lines().filter(|l| l.contains(" rejected: ")).count(),
        rejected,
        "each rejected window is printed with its reason"
    );
    {
        let store = Store::open(dir.path().join("bandx.sqlite")).unwrap();
        let profile = store.profile_by_name("ana").unwrap().unwrap();
        let class = store.class_by_name(profile.id, "walking").unwrap().unwrap();
        let good = store
            .windows_of_class(class.id)
            .unwrap()
            .iter()
            .filter(|w| w.verdict == Verdict::Good)
            .count();
        assert_eq!(good, 4);
        assert_eq!(store.bands().unwrap().len(), 1, "the band is remembered");
    }

    // 3 s at 20x: 60 s of band time, ~39 windows.
    let out = bandx(dir.path(), &["live", "--seconds", "3", "--profile", "ana"]);
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    let rows: Vec<Vec<&str>> = text
        .lines()
        .filter(|l| l.contains('\t'))
        .map(|l| l.split('\t').collect())
        .collect();
    let predictions: usize = field(&text, "predictions").parse().unwrap();
    assert_eq!(rows.len(), predictions);
    assert!(predictions >= 10, "{text}");
    assert_eq!(field(&text, "stored"), predictions.to_string());
    for row in &rows {
        assert_eq!(row.len(), 4, "time, class, confidence, shadow: {row:?}");
        assert!(row[0].ends_with('Z'));
        let confidence: f32 = row[2].parse().unwrap();
        assert!((0.0..=1.0).contains(&confidence));
        assert!(["agree", "differ", "-"].contains(&row[3]), "{row:?}");
    }
    let agreement: f32 = field(&text, "agreement")
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(agreement >= 0.95, "{text}");

    let out = bandx(dir.path(), &["history", "--days", "2", "--profile", "ana"]);
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "header + 2 days:\n{text}");
    let classes: Vec<&str> = lines[0].split('\t').skip(1).collect();
    assert!(!classes.is_empty(), "{text}");
    // Today's minutes add up to the windows live printed, 1.5 s each.
    let today: f64 = lines[2]
        .split('\t')
        .skip(1)
        .map(|m| m.parse::<f64>().unwrap())
        .sum();
    let expected = predictions as f64 * 1.5 / 60.0;
    assert!(
        (today - expected).abs() <= 0.05 * classes.len() as f64,
        "{today} vs {expected}\n{text}"
    );
}

#[test]
fn activity_without_sim_is_a_usage_error_and_history_needs_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_bandx"))
        .args(["--data-dir", dir.path().to_str().unwrap()])
        .args(["record", "--class", "x", "--activity", "walking"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--sim"));

    let out = bandx(
        dir.path(),
        &["record", "--class", "x", "--activity", "moonwalk"],
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");

    // No store yet: the profile exit code (6), nothing created.
    let out = bandx(dir.path(), &["history"]);
    assert_eq!(out.status.code(), Some(6), "{out:?}");
    assert!(!dir.path().join("bandx.sqlite").exists());
}
