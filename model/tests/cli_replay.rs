//! The `bandx-model` binary with the shipped backbone: `personalize` uses the replay set beside
//! the backbone by default and refuses clearly when it is missing or damaged; `replay-set`
//! writes one from real WISDM files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use bandx_model::replay::ReplaySet;

fn pretrained(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("pretrained")
        .join(file)
}

fn bandx_model(args: &[impl AsRef<std::ffi::OsStr>]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bandx-model"))
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Exactly 15 windows (3 s at 20 Hz, 50 % overlap: 480 samples) of walking, and `sitting`
/// samples of sitting, in SI units.
fn write_user_csv(path: &Path, sitting: usize) {
    let mut text = String::from("subject,session,label,ax,ay,az,gx,gy,gz\n");
    for (label, freq, amp, n) in [
        ("walking", 1.8f32, 4.0f32, 480),
        ("sitting", 0.2, 0.2, sitting),
    ] {
        for i in 0..n {
            let t = i as f32 / 20.0;
            let s = (std::f32::consts::TAU * freq * t).sin() * amp;
            let c = (std::f32::consts::TAU * freq * t).cos() * amp;
            text += &format!(
                "u1,{label},{label},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4}\n",
                s,
                9.8 + c,
                0.3 * s,
                0.2 * c,
                0.1 * s,
                0.05 * c
            );
        }
    }
    std::fs::write(path, text).unwrap();
}

#[test]
fn personalize_uses_the_replay_set_beside_the_backbone_and_refuses_without_one() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("me.csv");
    write_user_csv(&csv, 480);
    let base = dir.path().join("backbone.json");
    std::fs::copy(pretrained("backbone.json"), &base).unwrap();
    let out = dir.path().join("me.json");
    let args = |extra: &[&'static str]| -> Vec<String> {
        let mut a: Vec<&str> = vec![
            "personalize",
            "--base",
            base.to_str().unwrap(),
            "--csv",
            csv.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ];
        a.extend_from_slice(extra);
        a.into_iter().map(String::from).collect()
    };

    // The default method (anchored) mixes in the replay set; with no backbone.replay beside the
    // copy it names the fix.
    let o = bandx_model(&args(&[]));
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("backbone.replay does not exist"), "{e}");
    assert!(e.contains("--method dense-fine-tune"), "{e}");
    assert!(!out.exists());

    // A damaged replay set: a specific error, nothing written.
    let shipped = std::fs::read(pretrained("backbone.replay")).unwrap();
    let replay = dir.path().join("backbone.replay");
    std::fs::write(&replay, &shipped[..1000]).unwrap();
    let o = bandx_model(&args(&[]));
    assert!(!o.status.success());
    assert!(stderr(&o).contains("truncated"), "{}", stderr(&o));
    assert!(!out.exists());

    // The shipped one beside it: personalized with the default, replay windows included.
    std::fs::write(&replay, &shipped).unwrap();
    let o = bandx_model(&args(&[]));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("personalized (anchored) 2 classes"),
        "{}",
        stderr(&o)
    );
    let personal = bandx_model::checkpoint::Checkpoint::load(&out).unwrap();
    assert_eq!(personal.labels, ["walking", "sitting"]);
    assert_eq!(personal.notes["method"], "anchored");

    // The speed benchmark: the same personalization three times, the median of the runs.
    let timings = dir.path().join("bench/personalize.json");
    let mut a = args(&["--repeat", "3", "--timings"]);
    a.push(timings.to_str().unwrap().to_string());
    let o = bandx_model(&a);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stderr(&o).matches("personalized (anchored)").count(), 3);
    assert!(stderr(&o).contains("median of 3:"), "{}", stderr(&o));
    let t: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&timings).unwrap()).unwrap();
    let mut runs: Vec<f64> = t["runs_seconds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    runs.sort_by(f64::total_cmp);
    assert_eq!(runs.len(), 3);
    assert_eq!(t["median_seconds"].as_f64().unwrap(), runs[1]);
    assert_eq!(
        (t["classes"].as_u64(), t["windows_per_class"].as_u64()),
        (Some(2), Some(15))
    );

    // A class with fewer than 15 windows (10 here) is named.
    let short = dir.path().join("short.csv");
    write_user_csv(&short, 330);
    let mut a = args(&[]);
    a[4] = short.to_str().unwrap().to_string();
    let o = bandx_model(&a);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("too few: sitting (10)"),
        "{}",
        stderr(&o)
    );

    // Another method needs no replay set.
    std::fs::remove_file(&replay).unwrap();
    let o = bandx_model(&args(&["--method", "dense-fine-tune"]));
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn replay_set_spreads_windows_of_the_backbones_classes_over_the_subjects() {
    let wisdm = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/datasets/wisdm");
    if !wisdm.is_dir() {
        eprintln!("SKIPPED: ../shared/datasets/wisdm is not present");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("b.json");
    std::fs::copy(pretrained("backbone.json"), &base).unwrap();
    let o = bandx_model(&[
        "replay-set",
        "--base",
        base.to_str().unwrap(),
        "--wisdm",
        wisdm.to_str().unwrap(),
        "--subjects",
        "1600,1601",
        "--per-class",
        "5",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let set = ReplaySet::load(&dir.path().join("b.replay")).unwrap();
    let labels = bandx_model::checkpoint::Checkpoint::load(&base)
        .unwrap()
        .labels;
    assert_eq!(set.labels(), labels);
    // Both subjects recorded every activity for minutes: 5 windows of each class.
    assert_eq!(set.counts(), vec![5; 18]);
    assert!(stderr(&o).contains("from 2 subjects"), "{}", stderr(&o));
}
