//! Preprocessing, the CNN and personalization on synthetic signals.

mod support;
use support::{rec, synthetic};

use bandx_model::checkpoint::Checkpoint;
use bandx_model::cnn::{
    HarCnnConfig, activation_ranges, macs, reference_forward, to_vec, windows_tensor,
};
use bandx_model::export::{export, inspect, parity, personal_ranges};
use bandx_model::personalize::{
    Method, PersonalizeConfig, dense_examples, personalize, personalize_named, personalize_replay,
    recorded_spans, replay_set,
};
use bandx_model::preprocess::{Normalization, WINDOW_LEN, Window, resample, windows};
use bandx_model::recording::Sample;
use bandx_model::train::{Examples, TrainConfig, accuracy, logits, predict, pretrain};
use burn::prelude::*;

fn sine(rate: f32, freq: f32, seconds: f32) -> Vec<Sample> {
    let n = (rate * seconds) as usize;
    (0..n)
        .map(|i| {
            let v = (2.0 * std::f32::consts::PI * freq * i as f32 / rate).sin();
            [v, 0.0, 0.0, 0.0, 0.0, 0.0]
        })
        .collect()
}

fn amplitude(s: &[Sample]) -> f32 {
    // Ignore the filter's edge effects.
    s[20..s.len() - 20]
        .iter()
        .map(|x| x[0].abs())
        .fold(0.0, f32::max)
}

#[test]
fn resampling_keeps_slow_motion_and_removes_what_would_alias() {
    let slow = resample(&sine(100.0, 1.0, 10.0), 100.0);
    assert_eq!(slow.len(), 200); // 999 samples at 100 Hz span 9.99 s -> 200 at 20 Hz
    assert!(
        (amplitude(&slow) - 1.0).abs() < 0.05,
        "1 Hz amplitude {}",
        amplitude(&slow)
    );
    // 17 Hz is above the new 10 Hz Nyquist: plain decimation would fold it to 3 Hz at full amplitude.
    let fast = resample(&sine(100.0, 17.0, 10.0), 100.0);
    assert!(
        amplitude(&fast) < 0.05,
        "17 Hz leaked with amplitude {}",
        amplitude(&fast)
    );
    // Same rate: untouched.
    let same = sine(20.0, 1.0, 3.0);
    assert_eq!(resample(&same, 20.0), same);
}

#[test]
fn windows_overlap_half_and_never_cross_a_recording() {
    let recs = vec![
        rec("a", "walk", 150, |i| [i as f32; 6]),
        rec("a", "walk", 59, |_| [0.0; 6]),
        rec("a", "sit", 90, |i| [1000.0 + i as f32; 6]),
    ];
    let w = windows(&recs);
    let starts: Vec<_> = w.iter().map(|w| (w.recording, w.start)).collect();
    assert_eq!(
        starts,
        vec![(0, 0), (0, 30), (0, 60), (0, 90), (2, 0), (2, 30)]
    );
    for win in &w {
        assert_eq!(win.data.len(), WINDOW_LEN * 6);
        // Values come from one recording only, time-major.
        let first = win.data[0];
        let last = win.data[(WINDOW_LEN - 1) * 6];
        assert_eq!(last - first, (WINDOW_LEN - 1) as f32);
    }
    assert!(w[0].overlaps(&w[1]) && !w[0].overlaps(&w[2]) && !w[0].overlaps(&w[4]));
}

#[test]
fn normalization_is_per_channel() {
    let recs = vec![rec("a", "x", 60, |i| {
        let v = if i % 2 == 0 { 1.0 } else { 3.0 };
        [v, 10.0 * v, -v, 0.0, 5.0, v]
    })];
    let n = Normalization::fit(&windows(&recs));
    assert!((n.mean[0] - 2.0).abs() < 1e-5 && (n.std[0] - 1.0).abs() < 1e-5);
    assert!((n.mean[1] - 20.0).abs() < 1e-4 && (n.std[1] - 10.0).abs() < 1e-4);
    assert!((n.mean[2] + 2.0).abs() < 1e-5);
    assert_eq!(n.std[3], 1e-3); // constant channel: floored, never zero
}

#[test]
fn cnn_fits_the_band_budget_and_matches_the_reference_forward() {
    let device = Device::flex();
    device.seed(3);
    let cfg = HarCnnConfig::new();
    let model = cfg.init(7, &device).valid();
    let w = model.weights();
    assert!(
        macs(&w) <= bandx_core::budget::MAX_MACS as usize,
        "MACs {}",
        macs(&w)
    );
    let params: usize = w.convs.iter().map(|c| c.weight.len()).sum::<usize>() + w.head.weight.len();
    assert!(
        params < 8_000,
        "{params} weights do not fit a 10 KB int8 blob"
    );

    let x: Vec<f32> = (0..2 * 360)
        .map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0)
        .collect();
    let burn_logits = to_vec(model.forward(windows_tensor(x.clone(), &device)));
    for b in 0..2 {
        let reference = reference_forward(&w, &x[b * 360..(b + 1) * 360]);
        let logits = reference.last().unwrap();
        for c in 0..7 {
            let d = (logits[c] - burn_logits[b * 7 + c]).abs();
            assert!(
                d < 1e-4,
                "window {b} class {c}: reference {} burn {}",
                logits[c],
                burn_logits[b * 7 + c]
            );
        }
    }
    // Round trip through plain weights.
    let again = bandx_model::cnn::HarCnn::from_weights(&cfg, &w, &device);
    assert_eq!(again.weights(), w);
}

/// Classes that differ by the frequency of a wrist oscillation on different axes.
#[test]
fn pretraining_learns_and_personalization_handles_new_classes() {
    let mut recs = Vec::new();
    for (k, s) in ["s1", "s2", "s3"].iter().enumerate() {
        recs.push(synthetic(s, "wave", 1.0, 0, k as f32));
        recs.push(synthetic(s, "shake", 4.0, 1, k as f32));
        recs.push(synthetic(s, "stir", 2.0, 2, k as f32));
    }
    let w = windows(&recs);
    let labels = vec!["wave".to_string(), "shake".into(), "stir".into()];
    let norm = Normalization::fit(&w);
    let train = Examples::new(w.iter().filter(|w| w.subject != "s3"), &labels, &norm);
    let val = Examples::new(w.iter().filter(|w| w.subject == "s3"), &labels, &norm);
    let cfg = HarCnnConfig::new();
    let tc = TrainConfig::new()
        .with_max_steps(80)
        .with_eval_every_steps(2);
    let (model, report) = pretrain(&cfg, &train, &val, 3, &tc, false);
    assert!(report.best_val_accuracy > 0.9, "{report:?}");

    // A user with two classes the backbone never saw, named differently.
    let user = [
        synthetic("u", "row", 3.0, 0, 0.3),
        synthetic("u", "box", 1.5, 1, 0.1),
    ];
    let uw = windows(&user);
    let ulabels = vec!["row".to_string(), "box".into()];
    let cal = Examples::new(uw.iter().filter(|w| w.start < 15 * 30), &ulabels, &norm);
    let test = Examples::new(uw.iter().filter(|w| w.start >= 16 * 30), &ulabels, &norm);
    for m in Method::ALL {
        let pm = personalize(&model, &cfg, m, &cal, 2, &PersonalizeConfig::new());
        assert_eq!(pm.classes(), 2);
        let acc = accuracy(&predict(&pm, &test.x), &test.y);
        assert!(acc > 0.9, "{m}: {acc}");
    }
    // The NCM model as the band runs it: int8 blob through the bandx-core engine.
    let ncm = personalize(
        &model,
        &cfg,
        Method::Ncm,
        &cal,
        2,
        &PersonalizeConfig::new(),
    );
    let base_ranges = activation_ranges(&model.weights(), &train.x);
    let mut ckpt = Checkpoint::new(cfg.clone(), ulabels.clone(), norm, &ncm);
    ckpt.ranges = personal_ranges(&base_ranges, &ckpt.weights, &cal.x);
    let blob = export(&ckpt, cal.window(0), 3, 9).unwrap();
    let info = inspect(&blob).unwrap();
    assert_eq!(
        (info.model_id, info.version, info.classes.clone()),
        (3, 9, ulabels.clone())
    );
    assert!(
        info.bytes <= bandx_core::budget::MAX_BLOB_BYTES && info.within_budget,
        "{info:?}"
    );
    assert!(info.self_test.starts_with("pass"), "{info:?}");
    let p = parity(&blob, &logits(&ncm, &test.x), &test.x, &test.y).unwrap();
    assert!(p.passes(), "{p:?}");
    // A flipped byte is caught by the blob's digest.
    let mut bad = blob.clone();
    bad[100] ^= 0x40;
    assert!(inspect(&bad).is_err());
    // Without calibrated ranges there is nothing to quantize with.
    let mut raw = ckpt.clone();
    raw.ranges.clear();
    assert!(export(&raw, cal.window(0), 1, 1).is_err());

    // The paper's method leaves the backbone untouched.
    let head = personalize(
        &model,
        &cfg,
        Method::Head,
        &cal,
        2,
        &PersonalizeConfig::new(),
    );
    assert_eq!(head.weights().convs, model.weights().convs);

    // Replay: a user records two of the backbone's classes, in their own style; other people's
    // windows of the same names join every fine-tuning batch.
    let known = [
        synthetic("u", "wave", 1.2, 0, 0.5),
        synthetic("u", "stir", 2.3, 2, 0.2),
    ];
    let kw = windows(&known);
    let klabels = vec!["wave".to_string(), "stir".into()];
    let kcal = Examples::new(kw.iter().filter(|w| w.start < 15 * 30), &klabels, &norm);
    let ktest = Examples::new(kw.iter().filter(|w| w.start >= 16 * 30), &klabels, &norm);
    let others: Vec<&Window> = w.iter().filter(|w| w.subject != "s3").collect();
    let picked = replay_set(&others, &klabels, 10);
    assert_eq!(picked.len(), 20);
    for label in &klabels {
        let mine: Vec<&&Window> = picked.iter().filter(|w| w.label == *label).collect();
        assert_eq!(mine.len(), 10, "{label}");
        // Spread over every subject who recorded the class, not the first one's windows only.
        assert!(mine.iter().any(|w| w.subject == "s1") && mine.iter().any(|w| w.subject == "s2"));
    }
    let replay = Examples::new(picked.iter().copied(), &klabels, &norm);
    let pc = PersonalizeConfig::new();
    let with_replay = personalize_replay(
        &model,
        &labels,
        &cfg,
        Method::Replay,
        &kcal,
        &klabels,
        &replay,
        &pc,
    );
    let acc = accuracy(&predict(&with_replay, &ktest.x), &ktest.y);
    assert!(acc > 0.9, "replay: {acc}");
    // The replay windows really train the model: someone moving exactly like this user but with
    // the names swapped, more of them per batch than the user's own windows, misleads it.
    let impostor = [
        synthetic("o", "stir", 1.2, 0, 0.5),
        synthetic("o", "wave", 2.3, 2, 0.2),
    ];
    let impostor_w = windows(&impostor);
    let swapped = Examples::new(impostor_w.iter(), &klabels, &norm);
    let misled = personalize_replay(
        &model,
        &labels,
        &cfg,
        Method::Replay,
        &kcal,
        &klabels,
        &swapped,
        &PersonalizeConfig::new().with_replay_batch(64),
    );
    let misled_acc = accuracy(&predict(&misled, &ktest.x), &ktest.y);
    assert!(
        misled_acc < acc - 0.2,
        "swapped replay {misled_acc} vs {acc}"
    );
}

#[test]
fn folds_rotate_every_subject_through_the_personal_set() {
    use bandx_model::evaluate::folds;
    let subjects: Vec<String> = (0..10).map(|i| format!("s{i}")).collect();
    let f = folds(&subjects, 4);
    assert_eq!(f.len(), 3);
    for s in &subjects {
        assert!(f.iter().any(|fold| fold.contains(s)), "{s} never personal");
    }
    assert!(f.iter().all(|fold| fold.len() == 4));
}

#[test]
fn calibration_takes_the_first_windows_and_tests_on_the_rest_without_overlap() {
    use bandx_model::evaluate::calibration_split;
    let recs = vec![
        rec("u", "walk", 600, |i| [i as f32; 6]),
        rec("u", "sit", 300, |i| [i as f32; 6]),
    ];
    let w = windows(&recs);
    let refs: Vec<_> = w.iter().collect();
    let (cal, test) = calibration_split(&refs, 5, 5);
    assert_eq!(cal.len(), 10);
    for c in &cal {
        assert!(
            c.start < 5 * 30,
            "calibration window at {} is not among the first five",
            c.start
        );
    }
    assert!(!test.is_empty());
    for (i, t) in test.iter().enumerate() {
        assert!(
            cal.iter().all(|c| !c.overlaps(t)),
            "test window overlaps calibration"
        );
        assert!(
            test[i + 1..].iter().all(|o| !o.overlaps(t)),
            "test windows overlap each other"
        );
    }
    // walk: 19 windows, first 5 for calibration (span 0..180), test from 180 every 60 samples.
    let walk: Vec<_> = test
        .iter()
        .filter(|t| t.label == "walk")
        .map(|t| t.start)
        .collect();
    assert_eq!(walk, vec![180, 240, 300, 360, 420, 480, 540]);
}

#[test]
fn evaluate_runs_the_protocol_end_to_end_on_a_tiny_data_set() {
    use bandx_model::evaluate::{EvalOptions, evaluate, markdown};
    let mut recs = Vec::new();
    for k in 0..6 {
        let s = format!("s{k}");
        recs.push(synthetic(&s, "wave", 1.0, 0, k as f32));
        recs.push(synthetic(&s, "shake", 4.0, 1, k as f32));
    }
    let w = windows(&recs);
    let mut opts = EvalOptions::new("csv");
    opts.folds = Some(1);
    opts.windows_per_class = 3;
    opts.learning_curve = vec![1, 3];
    opts.train = TrainConfig::new()
        .with_max_steps(40)
        .with_eval_every_steps(4);
    let report = evaluate(&w, &opts).unwrap();
    assert_eq!((report.folds_run, report.per_subject.len()), (1, 4));
    assert_eq!(report.methods.len(), Method::ALL.len());
    assert!(report.methods.contains_key(&report.default_method));
    let best = &report.methods[&report.default_method];
    assert!(best.ps_pm.mean > 0.8, "{:?}", best.ps_pm);
    assert!(best.ps_pm_int8.is_some() && best.int8_agreement.is_some());
    assert_eq!(best.learning_curve.len(), 2);
    let json = serde_json::to_value(&report).unwrap();
    for m in ["head", "fine_tune", "ncm"] {
        for k in ["gs", "ps_gm", "ps_pm"] {
            assert!(json["methods"][m][k]["mean"].is_f64(), "{m}.{k}");
            assert!(json["methods"][m][k]["std"].is_f64(), "{m}.{k}");
        }
    }
    assert!(markdown(&report).contains("| ours, "));
    // Each fold's pre-training says how long it ran and why it stopped (here: the step cap).
    let pre = &report.folds[0].pretrain;
    assert_eq!(
        (pre.steps, pre.stop_reason),
        (40, Some(bandx_model::train::StopReason::StepCap))
    );
    assert!(
        markdown(&report).contains("| 40 ("),
        "{}",
        markdown(&report)
    );
    assert!(markdown(&report).contains("| step cap |"));
    let dir = tempfile::tempdir().unwrap();
    bandx_model::plots::learning_curve_svg(&report, &dir.path().join("c.svg")).unwrap();
    bandx_model::plots::confusion_svg(&report.confusion_pm, "pm", &dir.path().join("m.svg"))
        .unwrap();
    let svg = std::fs::read_to_string(dir.path().join("m.svg")).unwrap();
    assert!(svg.contains("<svg") && svg.contains("wave"));
}

#[test]
fn dense_windows_come_from_the_recorded_span_only() {
    // Two classes, 15 consecutive 50 %-overlap windows each (480 samples of signal), and a third
    // class whose 2 windows come from two different recordings (no shared samples).
    let recs = [
        synthetic("u", "row", 3.0, 0, 0.3),
        synthetic("u", "box", 1.5, 1, 0.1),
        synthetic("u", "cut", 2.5, 2, 0.0),
        synthetic("u", "cut", 0.5, 2, 1.0),
    ];
    let w = windows(&recs);
    let labels = vec!["row".to_string(), "box".into(), "cut".into()];
    let norm = Normalization::fit(&w);
    let first = |label: &'static str, rec: usize, n: usize| {
        w.iter()
            .filter(move |x| x.label == label && x.recording == rec)
            .take(n)
    };
    let cal = Examples::new(
        first("row", 0, 15)
            .chain(first("box", 1, 15))
            .chain(first("cut", 2, 1))
            .chain(first("cut", 3, 1)),
        &labels,
        &norm,
    );
    let spans = recorded_spans(&cal);
    let lens: Vec<(usize, usize)> = spans
        .iter()
        .map(|s| (s.class, s.samples.len() / 6))
        .collect();
    assert_eq!(lens, vec![(0, 480), (1, 480), (2, 60), (2, 60)]);
    // The span is the recording itself: sample 100 of "row" equals window 3's sample 10.
    assert_eq!(
        spans[0].samples[100 * 6..101 * 6],
        cal.window(3)[10 * 6..11 * 6]
    );

    let cfg = PersonalizeConfig::new()
        .with_dense_stride(3)
        .with_dense_copies(0);
    let dense = dense_examples(&cal, &cfg);
    // (480 - 60) / 3 + 1 = 141 windows per 480-sample span, 1 per lone window.
    assert_eq!(dense.len(), 141 + 141 + 1 + 1);
    assert_eq!(dense.y.iter().filter(|&&y| y == 2).count(), 2);
    // Every dense window lies inside what the user recorded: window 5 of "row" starts at 15.
    assert_eq!(dense.window(5), &spans[0].samples[15 * 6..75 * 6]);
    let with_copies = dense_examples(&cal, &cfg.clone().with_dense_copies(2));
    assert_eq!(with_copies.len(), 3 * dense.len());
    assert_ne!(with_copies.window(1), with_copies.window(0));
}

#[test]
fn warm_start_reuses_the_pretrained_rows_of_known_class_names() {
    let (model, labels, norm, _) = support::wave_shake_backbone(30);
    let cfg = HarCnnConfig::new();
    // The user keeps "wave" and adds a class of their own.
    let user = [
        synthetic("u", "row", 3.0, 2, 0.3),
        synthetic("u", "wave", 1.0, 0, 0.5),
    ];
    let uw = windows(&user);
    let ulabels = vec!["row".to_string(), "wave".into()];
    let cal = Examples::new(uw.iter().filter(|w| w.start < 15 * 30), &ulabels, &norm);
    let test = Examples::new(uw.iter().filter(|w| w.start >= 16 * 30), &ulabels, &norm);
    let no_training = PersonalizeConfig::new()
        .with_dense_steps(0)
        .with_dense_fine_tune_epochs(0);
    let warm = personalize_named(
        &model,
        &labels,
        &cfg,
        Method::Warm,
        &cal,
        &ulabels,
        &no_training,
    );
    // Without any step, "wave" is the pre-trained row 0, untouched.
    let (pre, got) = (model.weights().head, warm.weights().head);
    assert_eq!(got.weight[32..64], pre.weight[0..32]);
    assert_eq!(got.bias[1], pre.bias[0]);
    let trained = personalize_named(
        &model,
        &labels,
        &cfg,
        Method::Warm,
        &cal,
        &ulabels,
        &PersonalizeConfig::new(),
    );
    let acc = accuracy(&predict(&trained, &test.x), &test.y);
    assert!(acc > 0.9, "{acc}");
}

#[test]
fn the_logit_range_spans_the_top_logits_not_the_losers() {
    let cfg = HarCnnConfig::new();
    let model = cfg.init(5, &Device::flex());
    let x: Vec<f32> = (0..200 * 360)
        .map(|i| ((i as f32) * 0.731).sin() * (1.0 + (i / 360) as f32 * 0.01))
        .collect();
    let w = model.weights();
    let ranges = activation_ranges(&w, &x);
    let logits: Vec<Vec<f32>> = x
        .chunks(360)
        .map(|win| reference_forward(&w, win).pop().unwrap())
        .collect();
    let top_min = logits
        .iter()
        .map(|l| l.iter().copied().fold(f32::NEG_INFINITY, f32::max))
        .fold(f32::INFINITY, f32::min);
    let all_max = logits
        .iter()
        .flatten()
        .copied()
        .fold(f32::NEG_INFINITY, f32::max);
    let all_min = logits
        .iter()
        .flatten()
        .copied()
        .fold(f32::INFINITY, f32::min);
    let last = ranges.last().unwrap();
    // 200 windows: the 0.1 % quantile of the per-window maxima is their minimum.
    assert_eq!(*last, [top_min, all_max]);
    assert!(all_min < top_min);
}

#[test]
fn calibration_samples_every_input_channel_even_when_it_subsamples() {
    // 2,000 windows x 360 inputs = 720,000 values: more than the ranges keep, so they subsample.
    // Only channel 1 (ay) ever reaches 6.0; a sample that skipped odd channels would miss it.
    let x: Vec<f32> = (0..2000 * 360)
        .map(|i| {
            let t = i / 6;
            if i % 6 == 1 {
                6.0 * ((t as f32) * 0.37).sin()
            } else {
                ((t as f32) * 0.37).sin()
            }
        })
        .collect();
    let w = HarCnnConfig::new().init(3, &Device::flex()).weights();
    let input = activation_ranges(&w, &x)[0];
    assert!(input[1] > 5.5, "input range {input:?} missed channel 1");
    assert!(input[0] < -5.5, "input range {input:?} missed channel 1");
}
