//! Issue 19: the default personalization starts as the generic model (known class names) or the
//! user's class means (new ones) and moves by a rule fixed in advance; a personal model estimated
//! worse than the generic one is not offered; `evaluate` reports the configured default, never
//! the best-scoring method, and runs a given backbone (`--base`) or leaves classes out of
//! pre-training (`--novel-classes`).

mod support;
use support::{synthetic, wave_shake_backbone};

use bandx_model::checkpoint::Checkpoint;
use bandx_model::cnn::{HarCnn, HarCnnConfig};
use bandx_model::evaluate::{EvalOptions, GivenBase, evaluate, markdown, novel_classes};
use bandx_model::personalize::{
    Method, PersonalizeConfig, anchored_start, move_fraction, personalize_named,
};
use bandx_model::pipeline::{WorseThanGeneric, offer};
use bandx_model::preprocess::{Normalization, Window, windows};
use bandx_model::train::{Examples, TrainConfig, embeddings, logits};

/// A small backbone pre-trained on "wave" and "shake".
fn backbone() -> (HarCnn, Vec<String>, Normalization, Vec<Window>) {
    wave_shake_backbone(30)
}

#[test]
fn one_window_of_known_classes_starts_exactly_at_the_generic_model() {
    let (model, labels, norm, _) = backbone();
    let net = HarCnnConfig::new();
    // The user records the backbone's two classes, in the other order, one window each.
    let user = [
        synthetic("u", "shake", 4.2, 1, 0.4),
        synthetic("u", "wave", 1.1, 0, 0.9),
    ];
    let uw = windows(&user);
    let ulabels = vec!["shake".to_string(), "wave".into()];
    let first: Vec<&Window> = ["shake", "wave"]
        .iter()
        .map(|l| uw.iter().find(|w| w.label == *l).unwrap())
        .collect();
    let cal = Examples::new(first, &ulabels, &norm);
    let all = Examples::new(uw.iter(), &ulabels, &norm);
    let generic = logits(&model, &all.x);

    let start = anchored_start(
        &model,
        &labels,
        &net,
        &cal,
        &ulabels,
        &PersonalizeConfig::new(),
    );
    // Before any step: on every window, user class c's logit is the generic logit of its name.
    let mapped = [1usize, 0];
    for (got, want) in logits(&start, &all.x).iter().zip(&generic) {
        for (c, &g) in mapped.iter().enumerate() {
            assert!((got[c] - want[g]).abs() < 1e-5, "{got:?} vs {want:?}");
        }
    }
    assert_eq!(start.weights().convs, model.weights().convs);

    // With a rule that does not move at all, the personal model is that start, bit for bit.
    let still = PersonalizeConfig::new().with_anchor_windows(f64::INFINITY);
    let pm = personalize_named(
        &model,
        &labels,
        &net,
        Method::Anchored,
        &cal,
        &ulabels,
        &still,
    );
    assert_eq!(pm.weights(), start.weights());
    // The default rule moves half the way at K = 1 and most of it at K = 15.
    let a = PersonalizeConfig::new().anchor_windows;
    assert!((move_fraction(1, a) - 0.5).abs() < 1e-12);
    assert!(move_fraction(3, a) < move_fraction(5, a));
    assert!((move_fraction(15, a) - 15.0 / 16.0).abs() < 1e-12);
    assert!((move_fraction(1, 2.0) - 1.0 / 3.0).abs() < 1e-12);
    // The default rule moves: the personal model differs from its start, by less than the
    // fine-tuned model (interpolation), and still predicts like it on most windows.
    let moved = personalize_named(
        &model,
        &labels,
        &net,
        Method::Anchored,
        &cal,
        &ulabels,
        &PersonalizeConfig::new(),
    );
    assert_ne!(moved.weights(), start.weights());
}

#[test]
fn a_new_class_starts_from_its_class_mean_direction() {
    let (model, labels, norm, _) = backbone();
    let net = HarCnnConfig::new();
    // "row" is new, "wave" known; one window each, no augmented copies: the dense windows are
    // the calibration windows themselves.
    let user = [
        synthetic("u", "row", 3.0, 2, 0.3),
        synthetic("u", "wave", 1.0, 0, 0.5),
    ];
    let uw = windows(&user);
    let ulabels = vec!["row".to_string(), "wave".into()];
    let first: Vec<&Window> = ["row", "wave"]
        .iter()
        .map(|l| uw.iter().find(|w| w.label == *l).unwrap())
        .collect();
    let cal = Examples::new(first, &ulabels, &norm);
    let cfg = PersonalizeConfig::new().with_dense_copies(0);
    let start = anchored_start(&model, &labels, &net, &cal, &ulabels, &cfg).weights();
    let pre = model.weights().head;
    let dim = net.embedding_size();
    let norm2 = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    // Row 0 ("row") points along the user's class-mean embedding...
    let mean = embeddings(&model, cal.window(0));
    let row = &start.head.weight[..dim];
    let cos = row.iter().zip(&mean).map(|(a, b)| a * b).sum::<f32>() / (norm2(row) * norm2(&mean));
    assert!(cos > 0.9999, "cos {cos}");
    // ... scaled to the pre-trained rows' mean norm.
    let pre_norm = (norm2(&pre.weight[..dim]) + norm2(&pre.weight[dim..])) / 2.0;
    assert!((norm2(row) - pre_norm).abs() < 1e-4 * pre_norm);
    // Row 1 ("wave") is the generic row 0, bias included.
    assert_eq!(start.head.weight[dim..], pre.weight[..dim]);
    assert_eq!(start.head.bias[1], pre.bias[0]);
}

#[test]
fn a_personal_model_estimated_worse_than_the_generic_one_is_not_offered() {
    let e = offer(0.64, Some(0.70)).unwrap_err();
    assert_eq!(
        e,
        WorseThanGeneric {
            personal: 0.64,
            generic: 0.70
        }
    );
    let msg = e.to_string();
    assert!(msg.contains("64.0 %") && msg.contains("70.0 %"), "{msg}");
    assert!(msg.contains("current model is kept"), "{msg}");
    // Equal or better is offered; with nothing to compare (new classes) too.
    assert_eq!(offer(0.70, Some(0.70)), Ok(()));
    assert_eq!(offer(0.9, Some(0.70)), Ok(()));
    assert_eq!(offer(0.1, None), Ok(()));
}

/// Six subjects, three classes.
fn six_subjects() -> Vec<Window> {
    let mut recs = Vec::new();
    for k in 0..6 {
        let s = format!("s{k}");
        recs.push(synthetic(&s, "wave", 1.0, 0, k as f32));
        recs.push(synthetic(&s, "shake", 4.0, 1, k as f32));
        recs.push(synthetic(&s, "stir", 2.0, 2, k as f32));
    }
    windows(&recs)
}

fn tiny(opts: &mut EvalOptions, steps: usize) {
    opts.folds = Some(1);
    opts.windows_per_class = 3;
    opts.learning_curve = vec![1, 3];
    opts.int8 = false;
    opts.train = TrainConfig::new()
        .with_max_steps(steps)
        .with_eval_every_steps(steps.clamp(1, 4));
}

#[test]
fn the_reported_default_is_the_configured_one_even_when_another_scores_higher() {
    let w = six_subjects();
    let mut opts = EvalOptions::new("csv");
    tiny(&mut opts, 1);
    // A backbone after one step, and an anchored model that never leaves it: `ncm` on the
    // user's own windows scores higher.
    opts.methods = vec![Method::Ncm, Method::Anchored];
    opts.personalize = PersonalizeConfig::new().with_anchor_windows(f64::INFINITY);
    let report = evaluate(&w, &opts).unwrap();
    let (ncm, anchored) = (
        report.methods["ncm"].ps_pm.mean,
        report.methods["anchored"].ps_pm.mean,
    );
    assert!(
        ncm > anchored,
        "precondition: ncm {ncm}, anchored {anchored}"
    );
    assert_eq!(report.default_method, Method::DEFAULT.name());
    assert_eq!(report.default_method, "anchored");
    assert!(markdown(&report).contains("| ours, anchored (default) |"));
    // PS(GM) on the learning curve's test set, beside the curve.
    assert_eq!(report.ps_gm_curve.unwrap().n, 4);
}

#[test]
fn evaluate_personalizes_a_given_backbone_for_every_subject() {
    let (model, labels, norm, _) = backbone();
    let w = six_subjects();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("given.json");
    let mut ck = Checkpoint::new(HarCnnConfig::new(), labels, norm, &model);
    ck.ranges = bandx_model::cnn::activation_ranges(&ck.weights, &[0.1; 360]);
    ck.save(&path).unwrap();
    let mut opts = EvalOptions::new("csv");
    tiny(&mut opts, 1);
    opts.methods = vec![Method::Anchored];
    opts.base = Some(GivenBase {
        path: path.display().to_string(),
        checkpoint: Checkpoint::load(&path).unwrap(),
        replay: None,
    });
    let report = evaluate(&w, &opts).unwrap();
    // One "fold" with every subject personal, nothing pre-trained, no GS.
    assert_eq!((report.folds_total, report.folds_run), (1, 1));
    assert_eq!(report.per_subject.len(), 6);
    assert_eq!(report.folds[0].pretrain.steps, 0);
    assert_eq!(report.folds[0].gs_windows, 0);
    assert_eq!(report.methods["anchored"].gs.n, 0);
    assert_eq!(
        report.base.as_deref(),
        Some(path.display().to_string().as_str())
    );
    // "stir" is new to this backbone: the generic model cannot name it.
    assert!(report.methods["anchored"].ps_gm.mean < 0.7);
    assert!(
        report.methods["anchored"].ps_pm.mean > 0.8,
        "{:?}",
        report.methods
    );
    assert!(markdown(&report).contains("Backbone given"));
}

#[test]
fn novel_classes_rotate_and_are_reported_apart() {
    let labels: Vec<String> = (0..18).map(|i| format!("c{i:02}")).collect();
    let mut seen = std::collections::BTreeSet::new();
    for f in 0..12 {
        let n = novel_classes(&labels, 4, f);
        assert_eq!(n.len(), 4);
        seen.extend(n);
    }
    assert_eq!(seen.len(), 18, "every class is novel in some fold");

    let w = six_subjects();
    let mut opts = EvalOptions::new("csv");
    tiny(&mut opts, 30);
    opts.methods = vec![Method::Anchored];
    opts.novel_classes = 1;
    let report = evaluate(&w, &opts).unwrap();
    let fold = &report.folds[0];
    assert_eq!(fold.novel_classes, ["shake"]);
    let m = &report.methods["anchored"];
    assert!(m.ps_pm_known.is_some() && m.ps_pm_novel.is_some(), "{m:?}");
    assert_eq!(m.learning_curve_novel.len(), 2);
    assert_eq!(m.learning_curve_known.len(), 2);
    assert!(markdown(&report).contains("novel classes"));
}
