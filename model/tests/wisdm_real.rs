//! One end-to-end check on real data: a few WISDM subjects from ../shared/datasets (skipped with
//! a message when the data set is absent). Pre-train on four subjects, personalize on a fifth
//! that was never seen, and export the personal model to the band's int8 blob.

use std::path::PathBuf;

use bandx_model::checkpoint::Checkpoint;
use bandx_model::cnn::{HarCnnConfig, activation_ranges};
use bandx_model::evaluate::calibration_split;
use bandx_model::export::{export, inspect, parity, personal_ranges};
use bandx_model::personalize::{Method, PersonalizeConfig, personalize};
use bandx_model::preprocess::{Normalization, Window, label_set, windows};
use bandx_model::readers::wisdm;
use bandx_model::train::{Examples, TrainConfig, accuracy, logits, predict, pretrain};

fn wisdm_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/datasets/wisdm");
    dir.is_dir().then_some(dir)
}

/// The band's seven classes as WISDM names them.
const BAND_CLASSES: [&str; 7] = [
    "walking", "jogging", "stairs", "sitting", "standing", "typing", "writing",
];

#[test]
fn personalization_beats_the_generic_model_on_an_unseen_wisdm_subject() {
    let Some(dir) = wisdm_dir() else {
        eprintln!("SKIPPED: ../shared/datasets/wisdm is not present");
        return;
    };
    let subjects: Vec<String> = ["1600", "1601", "1602", "1603", "1604", "1605"]
        .map(String::from)
        .to_vec();
    let (recs, inputs) = wisdm::read_dir(&dir, Some(&subjects)).expect("WISDM subjects read");
    assert_eq!(inputs.len(), 12);
    let all = windows(&recs);
    let (train_w, rest): (Vec<&Window>, Vec<&Window>) = all
        .iter()
        .partition(|w| ["1600", "1601", "1602", "1603"].contains(&w.subject.as_str()));
    let val_w: Vec<&Window> = rest
        .iter()
        .copied()
        .filter(|w| w.subject == "1604")
        .collect();
    let user_w: Vec<&Window> = rest
        .iter()
        .copied()
        .filter(|w| w.subject == "1605" && BAND_CLASSES.contains(&w.label.as_str()))
        .collect();

    let labels = label_set(train_w.iter().map(|w| w.label.as_str()));
    assert_eq!(labels.len(), 18);
    let norm = Normalization::fit(train_w.iter().copied());
    let train = Examples::new(train_w.iter().copied(), &labels, &norm);
    let val = Examples::new(val_w.iter().copied(), &labels, &norm);
    let net = HarCnnConfig::new();
    let (base, _) = pretrain(
        &net,
        &train,
        &val,
        labels.len(),
        &TrainConfig::new()
            .with_max_steps(560)
            .with_eval_every_steps(140),
        false,
    );

    let (cal_w, test_w) = calibration_split(&user_w, 15, 15);
    let user_labels = label_set(cal_w.iter().map(|w| w.label.as_str()));
    assert_eq!(user_labels.len(), 7);
    let cal = Examples::new(cal_w.iter().copied(), &user_labels, &norm);
    let test = Examples::new(test_w.iter().copied(), &user_labels, &norm);
    // The generic model, scored by label name on the same test windows.
    let gm: Vec<usize> = predict(&base, &test.x);
    let gm_acc = gm
        .iter()
        .zip(&test.y)
        .filter(|(p, y)| labels[**p] == user_labels[**y])
        .count() as f32
        / test.len() as f32;
    let pm = personalize(
        &base,
        &net,
        Method::Ncm,
        &cal,
        user_labels.len(),
        &PersonalizeConfig::new(),
    );
    let pm_acc = accuracy(&predict(&pm, &test.x), &test.y);
    eprintln!("unseen subject 1605, 7 classes: generic {gm_acc:.3}, personalized {pm_acc:.3}");
    assert!(
        pm_acc > gm_acc + 0.05,
        "personalized {pm_acc} vs generic {gm_acc}"
    );

    // The personal model as the band runs it.
    let sample: Vec<f32> = train.x.chunks(360).step_by(4).flatten().copied().collect();
    let base_ranges = activation_ranges(&base.weights(), &sample);
    let mut ckpt = Checkpoint::new(net, user_labels, norm, &pm);
    ckpt.ranges = personal_ranges(&base_ranges, &ckpt.weights, &cal.x);
    let blob = export(&ckpt, cal.window(0), 7, 1).expect("export");
    let info = inspect(&blob).unwrap();
    assert!(info.within_budget, "{info:?}");
    assert!(info.self_test.starts_with("pass"), "{info:?}");
    let p = parity(&blob, &logits(&pm, &test.x), &test.x, &test.y).unwrap();
    eprintln!("int8 parity: {p:?}");
    assert!(
        p.agreement >= 0.95 && p.float_accuracy - p.int8_accuracy <= 0.03,
        "{p:?}"
    );
}
