//! The one personalization pipeline (`pipeline::Personalizer`) on the shipped backbone and a
//! synthetic user: stages, cancellation, the blob the band accepts, parity where asked.

use std::ops::ControlFlow;
use std::path::Path;

use bandx_core::budget::check_model;
use bandx_model::checkpoint::Checkpoint;
use bandx_model::personalize::{Method, PersonalizeConfig};
use bandx_model::pipeline::{BlobOptions, PersonalModel, Personalizer, PipelineError, Stage};
use bandx_model::preprocess::windows;
use bandx_model::recording::Recording;
use bandx_model::replay::ReplaySet;
use bandx_model::train::{Examples, logits};
use burn::prelude::Device;

fn shipped() -> (Checkpoint, ReplaySet) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("pretrained");
    (
        Checkpoint::load(&dir.join("backbone.json")).unwrap(),
        ReplaySet::load(&dir.join("backbone.replay")).unwrap(),
    )
}

/// 40 s of a wrist waving along `axis` at `freq` Hz.
fn user(label: &str, freq: f32, axis: usize) -> Recording {
    Recording {
        subject: "u".into(),
        session: label.into(),
        label: label.into(),
        rate_hz: 20.0,
        order: 0,
        samples: (0..800)
            .map(|i| {
                let t = i as f32 / 20.0;
                let mut s = [0.0, 0.0, 9.8, 0.0, 0.0, 0.0];
                s[axis] += 4.0 * (std::f32::consts::TAU * freq * t).sin();
                s[3 + axis] += 2.0 * (std::f32::consts::TAU * freq * t).cos();
                s
            })
            .collect(),
    }
}

struct Fixture {
    ckpt: Checkpoint,
    replay_set: ReplaySet,
    classes: Vec<String>,
    cal: Examples,
    test: Examples,
}

fn fixture() -> Fixture {
    let (ckpt, replay_set) = shipped();
    let classes = vec!["walking".to_string(), "sitting".to_string()];
    let w = windows(&[user("walking", 2.0, 0), user("sitting", 0.3, 1)]);
    // 15 calibration windows per class (starts 0..=420), tests from sample 480 on: no overlap.
    let cal = Examples::new(
        w.iter().filter(|w| w.start <= 420),
        &classes,
        &ckpt.normalization,
    );
    let test = Examples::new(
        w.iter().filter(|w| w.start >= 480),
        &classes,
        &ckpt.normalization,
    );
    assert_eq!(cal.len(), 30);
    Fixture {
        ckpt,
        replay_set,
        classes,
        cal,
        test,
    }
}

fn run(
    f: &Fixture,
    replay: &Examples,
    parity_on: Option<&Examples>,
    opts: &BlobOptions,
    stop_at: Option<Stage>,
) -> (Vec<Stage>, Result<PersonalModel, PipelineError>) {
    let base = f.ckpt.model(&Device::flex());
    let cfg = PersonalizeConfig::new();
    let p = Personalizer::new(&f.ckpt, &base, &f.classes, replay, Method::Replay, &cfg);
    let mut stages = Vec::new();
    let result = p.personal_blob(&f.cal, parity_on, opts, &mut |stage| {
        stages.push(stage);
        if Some(stage) == stop_at {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    (stages, result)
}

#[test]
fn the_pipeline_makes_a_blob_the_band_accepts_and_checks_parity_where_asked() {
    let f = fixture();
    let replay = f.replay_set.examples(&f.classes, &f.ckpt.normalization);
    assert!(!replay.is_empty());
    let opts = BlobOptions {
        model_id: 7,
        version: 3,
        min_parity_agreement: 0.9,
    };
    let (stages, made) = run(&f, &replay, Some(&f.test), &opts, None);
    let made = made.unwrap();
    assert_eq!(stages, [Stage::Personalizing, Stage::Exporting]);
    assert_eq!(made.method, Method::Replay);
    // What the band says about the blob is what the pipeline reported.
    let band = check_model(&made.blob).unwrap();
    assert_eq!(band, made.band);
    assert_eq!((band.model_id, band.version, band.classes), (7, 3, 2));
    let model = bandx_core::blob::Model::parse(&made.blob).unwrap();
    assert_eq!(
        model.labels().iter().collect::<Vec<_>>(),
        ["walking", "sitting"]
    );
    // Parity ran on the windows asked for, and the user's motions are told apart.
    assert_eq!(made.parity.windows, f.test.len());
    assert!(made.parity.float_accuracy > 0.9, "{:?}", made.parity);
    assert!(made.training_accuracy > 0.9, "{}", made.training_accuracy);
    // The checkpoint is the float model, with the user's classes and its own ranges.
    assert_eq!(made.checkpoint.labels, f.classes);
    assert_eq!(made.checkpoint.ranges.len(), f.ckpt.ranges.len());
    let again = made.checkpoint.model(&Device::flex());
    let (a, b) = (logits(&again, &f.test.x), logits(&made.model, &f.test.x));
    for (x, y) in a.iter().flatten().zip(b.iter().flatten()) {
        assert!((x - y).abs() < 1e-4, "{x} vs {y}");
    }
}

#[test]
fn without_replay_windows_it_runs_dense_fine_tune_and_checks_parity_on_the_calibration() {
    let f = fixture();
    let (_, made) = run(
        &f,
        &Examples::default(),
        None,
        &BlobOptions::default(),
        None,
    );
    let made = made.unwrap();
    assert_eq!(made.method, Method::DenseFineTune);
    assert_eq!(made.parity.windows, f.cal.len());
}

#[test]
fn it_stops_where_the_caller_says_and_refuses_poor_parity() {
    let f = fixture();
    let none = Examples::default();
    for stop in [Stage::Personalizing, Stage::Exporting] {
        let (stages, made) = run(&f, &none, None, &BlobOptions::default(), Some(stop));
        assert!(matches!(made, Err(PipelineError::Cancelled)), "{stop:?}");
        assert_eq!(stages.last(), Some(&stop));
    }
    let strict = BlobOptions {
        min_parity_agreement: 1.01,
        ..BlobOptions::default()
    };
    let (_, made) = run(&f, &none, None, &strict, None);
    match made {
        Err(PipelineError::Parity {
            agreement,
            required,
        }) => assert!(agreement <= 1.0 && required == 1.01),
        other => panic!(
            "expected a parity refusal, got {:?}",
            other.map(|m| m.parity)
        ),
    }
}
