//! A recording: one subject doing one labelled activity without interruption.

/// Channels per sample (bandx-core's); the order everywhere: ax, ay, az (m/s²), gx, gy, gz (rad/s).
pub use bandx_core::CHANNELS;
pub type Sample = [f32; CHANNELS];

pub const STANDARD_GRAVITY: f32 = 9.806_65;

/// A gap-free, single-label stretch of wrist IMU samples at a uniform rate, in SI units.
/// Readers split their input wherever the label, the session or the sampling continuity changes,
/// so that no window is ever cut across such a boundary.
#[derive(Debug, Clone, PartialEq)]
pub struct Recording {
    pub subject: String,
    /// Distinguishes separate recording sessions (files, days) of the same subject.
    pub session: String,
    pub label: String,
    pub rate_hz: f32,
    /// Position of this stretch within its (subject, label) in recording order, so the first
    /// windows a user would have recorded can be found again.
    pub order: usize,
    pub samples: Vec<Sample>,
}

impl Recording {
    pub fn duration_s(&self) -> f32 {
        self.samples.len() as f32 / self.rate_hz
    }
}

/// Accelerometer unit of an input file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccelUnit {
    MetersPerSecond2,
    StandardGravity,
}

impl AccelUnit {
    pub fn to_si(self, v: f32) -> f32 {
        match self {
            AccelUnit::MetersPerSecond2 => v,
            AccelUnit::StandardGravity => v * STANDARD_GRAVITY,
        }
    }
}

impl std::str::FromStr for AccelUnit {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "m/s2" | "m/s^2" | "mps2" => Ok(AccelUnit::MetersPerSecond2),
            "g" => Ok(AccelUnit::StandardGravity),
            other => Err(format!(
                "unknown accelerometer unit '{other}' (use m/s2 or g)"
            )),
        }
    }
}

/// Gyroscope unit of an input file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GyroUnit {
    RadiansPerSecond,
    DegreesPerSecond,
}

impl GyroUnit {
    pub fn to_si(self, v: f32) -> f32 {
        match self {
            GyroUnit::RadiansPerSecond => v,
            GyroUnit::DegreesPerSecond => v.to_radians(),
        }
    }
}

impl std::str::FromStr for GyroUnit {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "rad/s" | "rads" => Ok(GyroUnit::RadiansPerSecond),
            "deg/s" | "dps" => Ok(GyroUnit::DegreesPerSecond),
            other => Err(format!(
                "unknown gyroscope unit '{other}' (use rad/s or deg/s)"
            )),
        }
    }
}

/// Assigns `order` within each (subject, label) by position in `recordings`.
pub(crate) fn number_in_order(recordings: &mut [Recording]) {
    use std::collections::HashMap;
    let mut next: HashMap<(String, String), usize> = HashMap::new();
    for r in recordings {
        let n = next
            .entry((r.subject.clone(), r.label.clone()))
            .or_default();
        r.order = *n;
        *n += 1;
    }
}

/// Keeps only the first `seconds` of every (subject, label): recordings in their `order`, the
/// last one kept cut short, later ones dropped. A reproducible small data set from a large one
/// (e.g. WISDM's first 40 s of each activity, as a user would record it).
pub fn first_seconds(recordings: Vec<Recording>, seconds: f32) -> Vec<Recording> {
    let mut sorted = recordings;
    sorted.sort_by(|a, b| (&a.subject, &a.label, a.order).cmp(&(&b.subject, &b.label, b.order)));
    let mut used: std::collections::HashMap<(String, String), f32> = Default::default();
    let mut out = Vec::new();
    for mut r in sorted {
        let spent = used
            .entry((r.subject.clone(), r.label.clone()))
            .or_default();
        let left = seconds - *spent;
        if left <= 0.0 {
            continue;
        }
        let keep = ((left * r.rate_hz).floor() as usize).min(r.samples.len());
        r.samples.truncate(keep);
        *spent += keep as f32 / r.rate_hz;
        if !r.samples.is_empty() {
            out.push(r);
        }
    }
    out
}
