//! Synthetic wrist recordings shared by bandx-model's test files.
// Each test file uses some of these, never all.
#![allow(dead_code)]

use bandx_model::recording::{Recording, Sample};

/// A recording of `n` samples at 20 Hz made by `f`.
pub fn rec(subject: &str, label: &str, n: usize, f: impl Fn(usize) -> Sample) -> Recording {
    Recording {
        subject: subject.into(),
        session: "s".into(),
        label: label.into(),
        rate_hz: 20.0,
        order: 0,
        samples: (0..n).map(f).collect(),
    }
}

/// Classes that differ by the frequency of a wrist oscillation on different axes.
pub fn synthetic(subject: &str, label: &str, freq: f32, axis: usize, phase: f32) -> Recording {
    rec(subject, label, 600, |i| {
        let mut s = [0.0, 0.0, 9.8, 0.0, 0.0, 0.0];
        let t = i as f32 / 20.0;
        s[axis] += 3.0 * (2.0 * std::f32::consts::PI * freq * t + phase).sin();
        s[3 + axis] += (2.0 * std::f32::consts::PI * freq * t).cos();
        s
    })
}

/// A small backbone pre-trained for `steps` steps on "wave" and "shake" of two subjects: the
/// model, its labels, its normalization and its training windows.
pub fn wave_shake_backbone(
    steps: usize,
) -> (
    bandx_model::cnn::HarCnn,
    Vec<String>,
    bandx_model::preprocess::Normalization,
    Vec<bandx_model::preprocess::Window>,
) {
    use bandx_model::train::{Examples, TrainConfig, pretrain};
    let mut recs = Vec::new();
    for (k, s) in ["s1", "s2"].iter().enumerate() {
        recs.push(synthetic(s, "wave", 1.0, 0, k as f32));
        recs.push(synthetic(s, "shake", 4.0, 1, k as f32));
    }
    let w = bandx_model::preprocess::windows(&recs);
    let labels = vec!["wave".to_string(), "shake".into()];
    let norm = bandx_model::preprocess::Normalization::fit(&w);
    let train = Examples::new(w.iter(), &labels, &norm);
    let tc = TrainConfig::new()
        .with_max_steps(steps)
        .with_eval_every_steps(2);
    let net = bandx_model::cnn::HarCnnConfig::new();
    let (model, _) = pretrain(&net, &train, &Examples::default(), 2, &tc, false);
    (model, labels, norm, w)
}
