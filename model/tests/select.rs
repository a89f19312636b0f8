//! Issue 19, item 4: `evaluate --select` chooses the fine-tuning schedule and the anchor rule on
//! each fold's validation subjects only, by a rule fixed in advance, and evaluates the personal
//! subjects with that choice.

mod support;
use support::{synthetic, wave_shake_backbone};

use bandx_model::evaluate::select::{Candidate, choose};
use bandx_model::evaluate::{EvalOptions, GivenBase, Schedule, SelectOptions, evaluate, markdown};
use bandx_model::personalize::{
    Method, PersonalizeConfig, anchored_ends, move_fraction, personalize_replay,
};
use bandx_model::preprocess::{Normalization, Window, windows};
use bandx_model::train::{Examples, TrainConfig, logits, pretrain};

/// Training draws initial weights and dropout masks from burn's device-wide generator: tests that
/// train hold this so no other test's draws come between a seed and its uses.
static PRETRAINING: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn pretraining() -> std::sync::MutexGuard<'static, ()> {
    PRETRAINING.lock().unwrap_or_else(|e| e.into_inner())
}

fn schedule(s: &str) -> Schedule {
    s.parse().unwrap()
}

fn candidate(s: &str, c: f64, score: f64, safe: bool) -> Candidate {
    Candidate {
        schedule: schedule(s),
        anchor_windows: c,
        curve: Vec::new(),
        curve_known: Vec::new(),
        score,
        never_below_generic: safe,
        int8_agreement: None,
        int8_kept: true,
        seconds: Default::default(),
    }
}

#[test]
fn schedules_parse_and_refuse_what_they_cannot_run() {
    let s = schedule("4x1");
    assert_eq!((s.replay_epochs, s.dense_copies), (4, 1));
    assert_eq!(s.to_string(), "4x1");
    assert_eq!(s.cost(), 8);
    assert_eq!(schedule("2x0").cost(), 2);
    for bad in ["4", "x1", "4x", "ax1", "0x1", "4x-1"] {
        let err = bad.parse::<Schedule>().unwrap_err();
        assert!(err.contains("schedule"), "{bad}: {err}");
    }
    let cfg = schedule("3x0").apply(&PersonalizeConfig::new());
    assert_eq!((cfg.replay_epochs, cfg.dense_copies), (3, 0));
}

#[test]
fn the_rule_keeps_above_generic_then_takes_the_cheapest_near_the_best() {
    // The best score is below the generic model at some K: it is out.
    let c = [
        candidate("4x1", 0.0, 0.90, false),
        candidate("4x1", 2.0, 0.85, true),
        candidate("2x0", 2.0, 0.80, true),
    ];
    assert_eq!(choose(&c, 0.005), 1);
    // A cheaper schedule within the tolerance of the best wins, with its own best anchor.
    let c = [
        candidate("4x1", 1.0, 0.850, true),
        candidate("2x0", 0.0, 0.840, true),
        candidate("2x0", 1.0, 0.847, true),
    ];
    assert_eq!(choose(&c, 0.005), 2);
    // ... but not outside it.
    assert_eq!(choose(&c, 0.001), 0);
    // When every candidate falls below the generic model somewhere, the best of them.
    let c = [
        candidate("4x1", 0.0, 0.70, false),
        candidate("4x1", 2.0, 0.75, false),
    ];
    assert_eq!(choose(&c, 0.0), 1);
    // The band's int8 agreement comes first: a candidate below it is out even when it is the
    // only one never below the generic model.
    let mut c = [
        candidate("4x1", 0.0, 0.90, true),
        candidate("4x1", 2.0, 0.85, false),
    ];
    c[0].int8_kept = false;
    assert_eq!(choose(&c, 0.005), 1);
    // Ties go to the candidate listed first.
    let c = [
        candidate("2x0", 4.0, 0.8, true),
        candidate("2x0", 8.0, 0.8, true),
    ];
    assert_eq!(choose(&c, 0.0), 0);
}

#[test]
fn anchored_is_its_two_ends_interpolated_by_the_rule() {
    let _one_at_a_time = pretraining();
    // What `--select` scores for a share must be the model `anchored` makes with that share.
    let (base, labels, norm, w) = wave_shake_backbone(10);
    let net = bandx_model::cnn::HarCnnConfig::new();

    let user = [
        synthetic("u", "wave", 1.1, 0, 0.9),
        synthetic("u", "stir", 2.0, 2, 0.3),
    ];
    let uw = windows(&user);
    let ulabels = vec!["stir".to_string(), "wave".into()];
    let first: Vec<&Window> = uw.iter().filter(|w| w.start < 90).collect();
    let cal = Examples::new(first, &ulabels, &norm);
    let replay = Examples::new(w.iter().filter(|w| w.label == "wave"), &ulabels, &norm);
    let all = Examples::new(uw.iter(), &ulabels, &norm);
    let cfg = PersonalizeConfig::new()
        .with_replay_epochs(1)
        .with_anchor_windows(1.5);
    let k = bandx_model::personalize::windows_per_class(&cal, 2);
    assert!(k >= 2, "precondition: {k} windows per class");
    let pm = personalize_replay(
        &base,
        &labels,
        &net,
        Method::Anchored,
        &cal,
        &ulabels,
        &replay,
        &cfg,
    );
    let ends = anchored_ends(&base, &labels, &net, &cal, &ulabels, Some(&replay), &cfg);
    let alpha = move_fraction(k, 1.5) as f32;
    assert_eq!(ends.at(&net, alpha).weights(), pm.weights());
    assert_ne!(ends.start, ends.tuned, "the fine-tuning moved");
    assert_eq!(ends.at(&net, 0.0).weights(), ends.start);
    assert_ne!(logits(&ends.at(&net, 1.0), &all.x), logits(&pm, &all.x));
}

/// Six subjects, three classes; `swap` exchanges two labels of the subjects it names.
fn six_subjects(swap: &[&str]) -> Vec<Window> {
    let mut recs = Vec::new();
    for k in 0..6 {
        let s = format!("s{k}");
        let (wave, shake) = if swap.contains(&s.as_str()) {
            ("shake", "wave")
        } else {
            ("wave", "shake")
        };
        recs.push(synthetic(&s, wave, 1.0, 0, k as f32));
        recs.push(synthetic(&s, shake, 4.0, 1, k as f32));
        recs.push(synthetic(&s, "stir", 2.0, 2, k as f32));
    }
    windows(&recs)
}

fn tiny() -> EvalOptions {
    let mut opts = EvalOptions::new("csv");
    opts.folds = Some(1);
    opts.windows_per_class = 3;
    opts.learning_curve = vec![1, 3];
    opts.int8 = true;
    opts.methods = vec![Method::Anchored];
    opts.train = TrainConfig::new()
        .with_max_steps(20)
        .with_eval_every_steps(4);
    opts.select = Some(SelectOptions {
        schedules: vec![schedule("2x0"), schedule("1x0")],
        anchors: vec![0.0, 1.0, 1e9],
        ..SelectOptions::default()
    });
    opts
}

#[test]
fn settings_are_chosen_on_validation_subjects_and_used_for_the_personal_ones() {
    let _one_at_a_time = pretraining();
    let report = evaluate(&six_subjects(&[]), &tiny()).unwrap();
    let fold = &report.folds[0];
    let sel = fold.selection.as_ref().expect("a selection");
    // The validation subjects, none of them personal.
    assert_eq!(sel.subjects, fold.validation);
    assert!(sel.subjects.iter().all(|s| !fold.personal.contains(s)));
    assert_eq!(sel.candidates.len(), 2 * 3);
    assert!(sel.candidates.iter().all(|c| c.curve.len() == 2));
    assert_eq!(sel.generic_curve.len(), 2);
    // int8 measured at K = 3 (the windows per class) for every candidate.
    assert!(
        sel.candidates
            .iter()
            .all(|c| c.int8_agreement.is_some_and(|a| (0.0..=1.0).contains(&a))),
        "{:?}",
        sel.candidates
    );
    // A share of 0 at every K (c = 1e9) is the generic model: never below it.
    let still = sel
        .candidates
        .iter()
        .find(|c| c.anchor_windows == 1e9)
        .unwrap();
    assert!(still.never_below_generic, "{still:?}");
    let md = markdown(&report);
    assert!(
        md.contains("Settings chosen on each fold's validation subjects"),
        "{md}"
    );
    let pooled = format!(
        "schedule {}, anchor c {}.",
        sel.chosen_schedule, sel.chosen_anchor_windows
    );
    assert!(
        md.contains(&pooled),
        "one fold: its means are its own choice\n{md}"
    );

    // `bandx-model selection` prints the same over report files, and refuses reports without.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.json");
    std::fs::write(&path, serde_json::to_string(&report).unwrap()).unwrap();
    let o = bandx_model(&["selection", path.to_str().unwrap()]);
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains(&pooled) && out.contains(&sel.subjects.join(", ")),
        "{out}"
    );

    // The personal subjects ran with the chosen settings: the same run without selection but
    // with those settings gives the same figures.
    let mut plain = tiny();
    plain.select = None;
    plain.personalize = sel.chosen_schedule.apply(&PersonalizeConfig::new());
    plain.personalize.anchor_windows = sel.chosen_anchor_windows;
    let again = evaluate(&six_subjects(&[]), &plain).unwrap();
    let pm = |r: &bandx_model::evaluate::Report| -> Vec<f64> {
        r.per_subject.iter().map(|s| s.ps_pm["anchored"]).collect()
    };
    assert_eq!(pm(&again), pm(&report));
    assert!(again.folds[0].selection.is_none());
    std::fs::write(&path, serde_json::to_string(&again).unwrap()).unwrap();
    let o = bandx_model(&["selection", path.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--select"));
}

#[test]
fn the_personal_subjects_do_not_move_the_choice() {
    let _one_at_a_time = pretraining();
    let a = evaluate(&six_subjects(&[]), &tiny()).unwrap();
    // Fold 0's personal subjects are s0-s3: swap two of their labels.
    let b = evaluate(&six_subjects(&["s0", "s1", "s2", "s3"]), &tiny()).unwrap();
    assert_eq!(a.folds[0].personal, ["s0", "s1", "s2", "s3"]);
    let (sa, sb) = (
        a.folds[0].selection.as_ref().unwrap(),
        b.folds[0].selection.as_ref().unwrap(),
    );
    let scores = |s: &bandx_model::evaluate::SelectionReport| -> Vec<f64> {
        s.candidates.iter().map(|c| c.score).collect()
    };
    assert_eq!(scores(sa), scores(sb));
    assert_eq!(
        (sa.chosen_schedule, sa.chosen_anchor_windows),
        (sb.chosen_schedule, sb.chosen_anchor_windows)
    );
    // ... while their own figures did change.
    assert_ne!(
        a.methods["anchored"].ps_gm.mean,
        b.methods["anchored"].ps_gm.mean
    );
}

#[test]
fn selection_needs_the_general_subjects() {
    let _one_at_a_time = pretraining();
    let mut opts = tiny();
    let (model, labels, norm) = {
        let w = six_subjects(&[]);
        let labels = vec!["wave".to_string(), "shake".into(), "stir".into()];
        let norm = Normalization::fit(&w);
        let net = bandx_model::cnn::HarCnnConfig::new();
        let train = Examples::new(w.iter(), &labels, &norm);
        let tc = TrainConfig::new().with_max_steps(1);
        (
            pretrain(&net, &train, &Examples::default(), 3, &tc, false).0,
            labels,
            norm,
        )
    };
    let ck = bandx_model::checkpoint::Checkpoint::new(
        bandx_model::cnn::HarCnnConfig::new(),
        labels,
        norm,
        &model,
    );
    opts.base = Some(GivenBase {
        path: "given.json".into(),
        checkpoint: ck,
        replay: None,
    });
    let err = evaluate(&six_subjects(&[]), &opts).unwrap_err().to_string();
    assert!(err.contains("validation split"), "{err}");
    // Nor can classes be left out of a pre-training that does not happen.
    opts.select = None;
    opts.novel_classes = 1;
    let err = evaluate(&six_subjects(&[]), &opts).unwrap_err().to_string();
    assert!(err.contains("needs pre-training"), "{err}");
    // The CLI refuses both before reading any data.
    for flag in [&["--select"][..], &["--novel-classes", "2"]] {
        let o = bandx_model(
            &[
                &[
                    "evaluate", "--csv", "none.csv", "--base", "b.json", "--out", "r",
                ],
                flag,
            ]
            .concat(),
        );
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("cannot be used with") && err.contains("--base"),
            "{err}"
        );
    }
}

fn bandx_model(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_bandx-model"))
        .args(args)
        .output()
        .unwrap()
}
