//! [`MinuteAccumulator`]: the band's summary of one minute of windows, [`Minute`].
//!
//! Each classified window adds its class and confidence; each window also says whether the IMU was
//! motionless (a band lying on a table: see [`is_motionless`]); a minute most of whose windows were is "not
//! worn". At the end of the minute the dominant class (most windows; ties go to the lower index), its share and
//! its windows' mean confidence make the record.

use crate::blob::MAX_CLASSES;
use crate::{CHANNELS, WINDOW_LEN, Window};

/// What the band recognized during one minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Minute {
    /// The dominant class (meaningless when `dominant` is 0).
    pub class: u8,
    /// Windows classified as `class`.
    pub dominant: u8,
    /// Windows the band saw in the minute (classified or not; 40 in a full minute at 20 Hz, hop 30).
    pub windows: u8,
    /// Mean confidence of the dominant class's windows, percent.
    pub confidence_pct: u8,
    /// The band was not worn: no window at all, or most of the minute's windows motionless.
    pub not_worn: bool,
    /// No model ran (none installed, or it failed): no window was classified.
    pub no_model: bool,
}

impl Minute {
    /// The dominant class's share of the minute's windows, 0.0..=1.0.
    pub fn share(&self) -> f32 {
        if self.windows == 0 {
            0.0
        } else {
            f32::from(self.dominant) / f32::from(self.windows)
        }
    }
}

/// Standard deviation below which every channel counts as motionless (m/s² for the accelerometer, rad/s
/// for the gyroscope). A worn band always moves more than this: pulse and posture keep the wrist in motion.
const STILL_ACCEL: f32 = 0.03;
const STILL_GYRO: f32 = 0.01;

/// Whether a window shows no motion at all (every channel's standard deviation under a few sensor noise
/// levels): the band is lying somewhere, not on a wrist.
pub fn is_motionless(window: &Window) -> bool {
    (0..CHANNELS).all(|c| {
        let mean = window.iter().map(|s| s[c]).sum::<f32>() / WINDOW_LEN as f32;
        let var = window
            .iter()
            .map(|s| (s[c] - mean) * (s[c] - mean))
            .sum::<f32>()
            / WINDOW_LEN as f32;
        let limit = if c < 3 { STILL_ACCEL } else { STILL_GYRO };
        var <= limit * limit
    })
}

/// The current minute's counts (no heap: one counter per possible class).
#[derive(Debug, Clone)]
pub struct MinuteAccumulator {
    counts: [u8; MAX_CLASSES],
    confidence_sum: [u32; MAX_CLASSES],
    windows: u8,
    motionless: u8,
    classified: u8,
}

impl Default for MinuteAccumulator {
    fn default() -> Self {
        Self::new()
    }
}

impl MinuteAccumulator {
    pub const fn new() -> Self {
        MinuteAccumulator {
            counts: [0; MAX_CLASSES],
            confidence_sum: [0; MAX_CLASSES],
            windows: 0,
            motionless: 0,
            classified: 0,
        }
    }

    /// One window: whether it was motionless, and its prediction (class, confidence in permille) if a
    /// model classified it.
    pub fn add(&mut self, motionless: bool, prediction: Option<(u8, u16)>) {
        self.windows = self.windows.saturating_add(1);
        if motionless {
            self.motionless = self.motionless.saturating_add(1);
        }
        if let Some((class, permille)) = prediction
            && let Some(count) = self.counts.get_mut(usize::from(class))
        {
            *count = count.saturating_add(1);
            self.confidence_sum[usize::from(class)] += u32::from(permille.min(1000));
            self.classified = self.classified.saturating_add(1);
        }
    }

    /// The minute's summary; the accumulator starts over.
    pub fn finish(&mut self) -> Minute {
        let mut best = 0usize;
        for (i, &c) in self.counts.iter().enumerate() {
            if c > self.counts[best] {
                best = i;
            }
        }
        let dominant = self.counts[best];
        let confidence_pct = if dominant == 0 {
            0
        } else {
            ((self.confidence_sum[best] / u32::from(dominant) + 5) / 10).min(100) as u8
        };
        let minute = Minute {
            class: if dominant == 0 { 0 } else { best as u8 },
            dominant: dominant.min(63),
            windows: self.windows.min(63),
            confidence_pct,
            // Most windows: the few that straddle taking the band off still move.
            not_worn: self.windows == 0 || u16::from(self.motionless) * 2 > u16::from(self.windows),
            no_model: self.windows > 0 && self.classified == 0,
        };
        *self = Self::new();
        minute
    }
}
