//! The per-window quality check: is this 3 s span fit to teach the model what the class looks like?
//!
//! [`judge`] is a pure function of the window's samples as the band sent them (raw counts, band-clock
//! timestamps, frames lost before each sample). Checks, in order (the first failing one is the reason):
//!
//! 1. **Lost frames** inside the window: the samples are not contiguous, the model would see a jump.
//! 2. **Sample-rate drift**: the band's own timestamps say the window does not span 59 sample periods
//!    at the expected rate (within [`QualityRules::max_rate_error`]), or one step between samples is off
//!    by more than half a period (the band missed an IMU read).
//! 3. **Clipping**: samples at the IMU's full-scale limit (±32767/−32768 counts): the true motion was
//!    larger than what was recorded.
//! 4. **Flat signal**: every channel (accelerometer and gyroscope) stays within
//!    [`QualityRules::flat_counts`] counts for the whole window. A worn band always shows sensor
//!    noise and pulse, so this means a stuck or disconnected sensor, not a calm activity.
//! 5. **Too little motion**, only for classes marked as moving ([`QualityRules::min_motion`]): the
//!    acceleration magnitude barely varies (the wearer did not start the activity yet).
//!
//! Why not a general "too little motion" check: a user's own classes include still ones (sitting,
//! typing, reading), whose good windows legitimately show almost no motion. The app cannot tell a
//! still class from its name, so the motion floor applies only when the caller marks the class as
//! moving; the flat-signal check (a sensor that is stuck) applies to every class.

use bandx_core::imu::{FullScale, RawSample};

/// One sample of a window, as received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowSample {
    /// Band clock, ms (wraps at 2^32).
    pub t_ms: u32,
    pub raw: RawSample,
    /// Frames lost between the previous received sample and this one.
    pub lost_before: u16,
}

/// Thresholds of the checks.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QualityRules {
    /// Expected sample rate (Hz).
    pub sample_rate_hz: u32,
    /// Largest relative error of the measured rate over the window (0.05 = ±5 %).
    pub max_rate_error: f32,
    /// Samples at the full-scale limit allowed per window (over all channels).
    pub max_clipped: usize,
    /// A channel whose counts span at most this many counts over the window is flat.
    pub flat_counts: u16,
    /// For a class marked as moving: the least standard deviation of the acceleration magnitude
    /// (m/s²). `None` (the default) skips the check.
    pub min_motion: Option<f32>,
}

impl Default for QualityRules {
    fn default() -> Self {
        QualityRules {
            sample_rate_hz: bandx_core::SAMPLE_RATE_HZ,
            max_rate_error: 0.05,
            max_clipped: 0,
            flat_counts: 2,
            min_motion: None,
        }
    }
}

impl QualityRules {
    /// The default rules with the motion floor for a moving class (0.3 m/s², well above a still
    /// wrist's noise and well below walking's ~2 m/s²).
    pub fn moving() -> Self {
        QualityRules {
            min_motion: Some(0.3),
            ..QualityRules::default()
        }
    }
}

/// Why a window was rejected.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Rejection {
    /// Frames were lost inside the window.
    LostFrames { frames: u32 },
    /// The band's timestamps do not match the expected sample rate.
    RateDrift { measured_hz: f32, expected_hz: u32 },
    /// One step between consecutive samples was far from one sample period.
    TimingGap { gap_ms: u32, expected_ms: u32 },
    /// Samples at the full-scale limit.
    Clipping { samples: usize },
    /// Every channel is (almost) constant: the sensor looks stuck.
    FlatSignal,
    /// A moving class with too little motion.
    TooLittleMotion { std_m_s2: f32, min_m_s2: f32 },
    /// The user discarded the window.
    RejectedByUser,
    /// Fewer samples than a window.
    Incomplete { samples: usize },
}

impl Rejection {
    /// The short machine-friendly code, as stored first in the window's reason.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::LostFrames { .. } => "lost frames",
            Rejection::RateDrift { .. } => "sample-rate drift",
            Rejection::TimingGap { .. } => "sample-rate drift",
            Rejection::Clipping { .. } => "clipping",
            Rejection::FlatSignal => "flat signal",
            Rejection::TooLittleMotion { .. } => "too little motion",
            Rejection::RejectedByUser => "rejected by the user",
            Rejection::Incomplete { .. } => "incomplete",
        }
    }
}

impl std::fmt::Display for Rejection {
    /// `code: detail`, the text stored as the window's reason and shown to the user.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let code = self.code();
        match self {
            Rejection::LostFrames { frames } => {
                write!(f, "{code}: {frames} frame(s) lost inside the window")
            }
            Rejection::RateDrift {
                measured_hz,
                expected_hz,
            } => write!(
                f,
                "{code}: the band's clock says {measured_hz:.2} Hz, expected {expected_hz} Hz"
            ),
            Rejection::TimingGap {
                gap_ms,
                expected_ms,
            } => write!(
                f,
                "{code}: {gap_ms} ms between two samples, expected {expected_ms} ms"
            ),
            Rejection::Clipping { samples } => write!(
                f,
                "{code}: {samples} reading(s) at the sensor's full-scale limit"
            ),
            Rejection::FlatSignal => write!(
                f,
                "{code}: every channel is constant (sensor stuck, or the band is not worn?)"
            ),
            Rejection::TooLittleMotion { std_m_s2, min_m_s2 } => write!(
                f,
                "{code}: acceleration varies by {std_m_s2:.2} m/s², at least {min_m_s2:.2} expected"
            ),
            Rejection::RejectedByUser => f.write_str(code),
            Rejection::Incomplete { samples } => write!(
                f,
                "{code}: {samples} samples, a window has {}",
                bandx_core::WINDOW_LEN
            ),
        }
    }
}

/// Judges one window: `Ok(())` when it is good, else the first problem found (see the module docs).
pub fn judge(
    samples: &[WindowSample],
    full_scale: FullScale,
    rules: &QualityRules,
) -> Result<(), Rejection> {
    if samples.len() < bandx_core::WINDOW_LEN || samples.len() < 2 {
        return Err(Rejection::Incomplete {
            samples: samples.len(),
        });
    }
    // Losses before the first sample do not touch this window.
    let lost: u32 = samples[1..].iter().map(|s| u32::from(s.lost_before)).sum();
    if lost > 0 {
        return Err(Rejection::LostFrames { frames: lost });
    }
    check_timing(samples, rules)?;

    let clipped = samples
        .iter()
        .flat_map(|s| s.raw.accel.iter().chain(s.raw.gyro.iter()))
        .filter(|&&v| v == i16::MAX || v == i16::MIN)
        .count();
    if clipped > rules.max_clipped {
        return Err(Rejection::Clipping { samples: clipped });
    }

    let channel = |c: usize| {
        samples.iter().map(move |s| {
            if c < 3 {
                s.raw.accel[c]
            } else {
                s.raw.gyro[c - 3]
            }
        })
    };
    let flat = (0..6).all(|c| {
        let (lo, hi) = channel(c).fold((i16::MAX, i16::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
        (i32::from(hi) - i32::from(lo)) <= i32::from(rules.flat_counts)
    });
    if flat {
        return Err(Rejection::FlatSignal);
    }

    if let Some(min) = rules.min_motion {
        let magnitudes: Vec<f32> = samples
            .iter()
            .map(|s| {
                let si = full_scale.to_si(&s.raw);
                (si[0] * si[0] + si[1] * si[1] + si[2] * si[2]).sqrt()
            })
            .collect();
        let std = std_dev(&magnitudes);
        if std < min {
            return Err(Rejection::TooLittleMotion {
                std_m_s2: std,
                min_m_s2: min,
            });
        }
    }
    Ok(())
}

fn check_timing(samples: &[WindowSample], rules: &QualityRules) -> Result<(), Rejection> {
    let rate = rules.sample_rate_hz.max(1);
    let period_ms = 1000 / rate;
    for pair in samples.windows(2) {
        let step = pair[1].t_ms.wrapping_sub(pair[0].t_ms);
        // A step of 0 or more than 1.5 periods: a missed or doubled reading.
        if step == 0 || step.abs_diff(period_ms) * 2 > period_ms {
            return Err(Rejection::TimingGap {
                gap_ms: step,
                expected_ms: period_ms,
            });
        }
    }
    let span_ms = samples[samples.len() - 1]
        .t_ms
        .wrapping_sub(samples[0].t_ms);
    let measured = (samples.len() - 1) as f32 * 1000.0 / span_ms.max(1) as f32;
    if ((measured - rate as f32) / rate as f32).abs() > rules.max_rate_error {
        return Err(Rejection::RateDrift {
            measured_hz: measured,
            expected_hz: rate,
        });
    }
    Ok(())
}

fn std_dev(values: &[f32]) -> f32 {
    let n = values.len().max(1) as f32;
    let mean = values.iter().sum::<f32>() / n;
    (values.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bandx_core::WINDOW_LEN;

    /// A wrist-like window: gravity on z plus a sway, 50 ms apart from `t0`.
    fn window(t0: u32) -> Vec<WindowSample> {
        (0..WINDOW_LEN)
            .map(|i| {
                let phase = i as f32 * 0.4;
                WindowSample {
                    t_ms: t0.wrapping_add(i as u32 * 50),
                    raw: RawSample {
                        accel: [
                            (800.0 * phase.sin()) as i16,
                            (300.0 * phase.cos()) as i16,
                            4096 + (400.0 * phase.sin()) as i16,
                        ],
                        gyro: [(500.0 * phase.cos()) as i16, 20, -35],
                    },
                    lost_before: 0,
                }
            })
            .collect()
    }

    fn judged(w: &[WindowSample]) -> Result<(), Rejection> {
        judge(w, FullScale::DEFAULT, &QualityRules::default())
    }

    #[test]
    fn a_clean_window_is_good_even_across_the_clock_wrap() {
        assert_eq!(judged(&window(1000)), Ok(()));
        assert_eq!(judged(&window(u32::MAX - 1000)), Ok(()));
    }

    #[test]
    fn lost_frames_inside_reject_but_before_the_first_sample_do_not() {
        let mut w = window(0);
        w[0].lost_before = 3;
        assert_eq!(judged(&w), Ok(()));
        w[31].lost_before = 2;
        // The timestamps jump too, but the loss is the reason the user needs to see.
        for s in &mut w[31..] {
            s.t_ms += 100;
        }
        assert_eq!(judged(&w), Err(Rejection::LostFrames { frames: 2 }));
        assert!(
            judged(&w)
                .unwrap_err()
                .to_string()
                .starts_with("lost frames")
        );
    }

    #[test]
    fn a_missed_reading_is_a_timing_gap() {
        let mut w = window(0);
        for s in &mut w[20..] {
            s.t_ms += 50;
        }
        assert_eq!(
            judged(&w),
            Err(Rejection::TimingGap {
                gap_ms: 100,
                expected_ms: 50
            })
        );
    }

    #[test]
    fn a_clock_running_slow_is_rate_drift() {
        // Steps within half a period each; the window as a whole is slow.
        let mut w = window(0);
        for (i, s) in w.iter_mut().enumerate() {
            s.t_ms = i as u32 * 52;
        }
        assert_eq!(judged(&w), Ok(()), "3.8 % is within the 5 % tolerance");
        for (i, s) in w.iter_mut().enumerate() {
            s.t_ms = i as u32 * 55;
        }
        match judged(&w) {
            Err(Rejection::RateDrift {
                measured_hz,
                expected_hz: 20,
            }) => assert!((measured_hz - 18.18).abs() < 0.01, "{measured_hz}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn readings_at_full_scale_are_clipping() {
        let mut w = window(0);
        w[10].raw.accel[0] = i16::MAX;
        w[11].raw.gyro[2] = i16::MIN;
        assert_eq!(judged(&w), Err(Rejection::Clipping { samples: 2 }));
        let lenient = QualityRules {
            max_clipped: 2,
            ..QualityRules::default()
        };
        assert_eq!(judge(&w, FullScale::DEFAULT, &lenient), Ok(()));
    }

    #[test]
    fn a_stuck_sensor_is_flat_but_a_still_wrist_is_not() {
        let mut w = window(0);
        for s in &mut w {
            s.raw = RawSample {
                accel: [12, -40, 4096],
                gyro: [3, 3, -1],
            };
        }
        assert_eq!(judged(&w), Err(Rejection::FlatSignal));
        // A still wrist: a few counts of noise on the accelerometer are enough to be a signal.
        for (i, s) in w.iter_mut().enumerate() {
            s.raw.accel[2] = 4096 + [0, 3, -2, 5][i % 4];
        }
        assert_eq!(judged(&w), Ok(()));
        // ...unless the class is marked as moving.
        assert!(matches!(
            judge(&w, FullScale::DEFAULT, &QualityRules::moving()),
            Err(Rejection::TooLittleMotion { .. })
        ));
        assert_eq!(
            judge(&window(0), FullScale::DEFAULT, &QualityRules::moving()),
            Ok(()),
            "the sway moves enough"
        );
    }

    #[test]
    fn a_short_window_is_incomplete() {
        assert_eq!(
            judged(&window(0)[..59]),
            Err(Rejection::Incomplete { samples: 59 })
        );
        assert!(matches!(
            judged(&[]),
            Err(Rejection::Incomplete { samples: 0 })
        ));
    }
}
