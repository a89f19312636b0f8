//! Synthetic wrist recordings shared by bandx-model's test files.

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
