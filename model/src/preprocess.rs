//! From recordings to model inputs: anti-aliased resampling to 20 Hz, 60 x 6 windows at 50 %
//! overlap that never cross a recording boundary (label, session or gap), and normalization.

use serde::{Deserialize, Serialize};

use crate::recording::{CHANNELS, Recording, Sample};

/// The band's window geometry, defined once in bandx-core.
pub use bandx_core::{SAMPLE_RATE_HZ, WINDOW_HOP, WINDOW_LEN};

/// The band's sample rate ([`SAMPLE_RATE_HZ`]) as the resampler uses it.
pub const TARGET_RATE_HZ: f32 = SAMPLE_RATE_HZ as f32;
/// Values in one window, `WINDOW_LEN x CHANNELS`.
pub const WINDOW_VALUES: usize = WINDOW_LEN * CHANNELS;

/// One model input: 60 samples x 6 channels, time-major (`[t][c]`), SI units, not normalized.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub subject: String,
    pub session: String,
    pub label: String,
    /// Index of the source recording in the list given to [`windows`].
    pub recording: usize,
    /// The recording's `order` within its (subject, label).
    pub order: usize,
    /// First sample of the window in the resampled recording.
    pub start: usize,
    pub data: Vec<f32>,
}

impl Window {
    /// Whether the sample spans of two windows of the same recording intersect.
    pub fn overlaps(&self, other: &Window) -> bool {
        self.recording == other.recording
            && self.start < other.start + WINDOW_LEN
            && other.start < self.start + WINDOW_LEN
    }
}

/// Resamples to `TARGET_RATE_HZ`. Faster sources are low-pass filtered first (windowed-sinc FIR,
/// cut-off at 90 % of the new Nyquist frequency) so that nothing above 10 Hz aliases.
pub fn resample(samples: &[Sample], rate_hz: f32) -> Vec<Sample> {
    if samples.is_empty() {
        return Vec::new();
    }
    if (rate_hz - TARGET_RATE_HZ).abs() < 1e-3 {
        return samples.to_vec();
    }
    let filtered;
    let source = if rate_hz > TARGET_RATE_HZ {
        filtered = low_pass(samples, 0.9 * TARGET_RATE_HZ / 2.0 / rate_hz);
        &filtered[..]
    } else {
        samples
    };
    let duration = (samples.len() - 1) as f64 / rate_hz as f64;
    let n_out = (duration * TARGET_RATE_HZ as f64 + 1e-9).floor() as usize + 1;
    (0..n_out)
        .map(|k| {
            let pos = k as f64 * rate_hz as f64 / TARGET_RATE_HZ as f64;
            let i = (pos.floor() as usize).min(source.len() - 1);
            let j = (i + 1).min(source.len() - 1);
            let f = (pos - i as f64) as f32;
            std::array::from_fn(|c| source[i][c] + f * (source[j][c] - source[i][c]))
        })
        .collect()
}

/// Windowed-sinc (Hamming) low-pass with unit DC gain; `cutoff` in cycles per sample.
fn low_pass(samples: &[Sample], cutoff: f32) -> Vec<Sample> {
    let half = ((2.0 / cutoff).ceil() as usize).max(4);
    let taps: Vec<f32> = (0..=2 * half)
        .map(|i| {
            let n = i as f32 - half as f32;
            let sinc = if n == 0.0 {
                2.0 * cutoff
            } else {
                (2.0 * std::f32::consts::PI * cutoff * n).sin() / (std::f32::consts::PI * n)
            };
            let hamming =
                0.54 - 0.46 * (2.0 * std::f32::consts::PI * i as f32 / (2 * half) as f32).cos();
            sinc * hamming
        })
        .collect();
    let gain: f32 = taps.iter().sum();
    let last = samples.len() as isize - 1;
    (0..samples.len())
        .map(|t| {
            let mut acc = [0f32; CHANNELS];
            for (i, w) in taps.iter().enumerate() {
                // Edges are extended by repeating the first/last sample.
                let k = (t as isize + i as isize - half as isize).clamp(0, last) as usize;
                for c in 0..CHANNELS {
                    acc[c] += w * samples[k][c];
                }
            }
            acc.map(|v| v / gain)
        })
        .collect()
}

/// Cuts every recording (resampled to 20 Hz) into 60-sample windows with the given hop.
pub fn windows_with_hop(recordings: &[Recording], hop: usize) -> Vec<Window> {
    let mut out = Vec::new();
    for (index, r) in recordings.iter().enumerate() {
        let samples = resample(&r.samples, r.rate_hz);
        let mut start = 0;
        while start + WINDOW_LEN <= samples.len() {
            out.push(Window {
                subject: r.subject.clone(),
                session: r.session.clone(),
                label: r.label.clone(),
                recording: index,
                order: r.order,
                start,
                data: samples[start..start + WINDOW_LEN]
                    .iter()
                    .flat_map(|s| s.iter().copied())
                    .collect(),
            });
            start += hop;
        }
    }
    out
}

/// 50 % overlap windows, the layout used for training and calibration.
pub fn windows(recordings: &[Recording]) -> Vec<Window> {
    windows_with_hop(recordings, WINDOW_HOP)
}

/// Per-channel mean and standard deviation, computed on training windows and stored with the
/// model (and in the blob: the band normalizes with the same numbers).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Normalization {
    pub mean: [f32; CHANNELS],
    pub std: [f32; CHANNELS],
}

impl Normalization {
    pub fn fit<'a>(windows: impl IntoIterator<Item = &'a Window>) -> Normalization {
        let mut sum = [0f64; CHANNELS];
        let mut sq = [0f64; CHANNELS];
        let mut n = 0f64;
        for w in windows {
            for s in w.data.chunks_exact(CHANNELS) {
                for c in 0..CHANNELS {
                    sum[c] += s[c] as f64;
                    sq[c] += (s[c] as f64) * (s[c] as f64);
                }
                n += 1.0;
            }
        }
        let n = n.max(1.0);
        let mean = std::array::from_fn(|c| (sum[c] / n) as f32);
        let std = std::array::from_fn(|c| {
            let m = sum[c] / n;
            ((sq[c] / n - m * m).max(0.0).sqrt() as f32).max(1e-3)
        });
        Normalization { mean, std }
    }

    pub fn identity() -> Normalization {
        Normalization {
            mean: [0.0; CHANNELS],
            std: [1.0; CHANNELS],
        }
    }

    /// Appends the normalized values of `window` to `out`.
    pub fn apply_into(&self, window: &[f32], out: &mut Vec<f32>) {
        out.extend(
            window
                .iter()
                .enumerate()
                .map(|(i, v)| (v - self.mean[i % CHANNELS]) / self.std[i % CHANNELS]),
        );
    }
}

/// Labels in first-appearance order.
pub fn label_set<'a>(labels: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for l in labels {
        if !out.iter().any(|o| o == l) {
            out.push(l.to_string());
        }
    }
    out
}
