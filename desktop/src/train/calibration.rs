//! A profile's calibration data as the trainer needs it: every good window of every class, converted
//! from the raw counts the band sent to SI units by bandx-core (`FullScale::to_si`), as 60 x 6 windows.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use bandx_core::imu::{self, AccelRange, GyroRange};
use bandx_core::{CHANNELS, SAMPLE_RATE_HZ, WINDOW_LEN};

use super::TrainError;
use crate::store::{self, ClassId, ProfileId, RecordingId, Store, Verdict};

/// One calibration window in SI units, time-major (`[t][c]`), not normalized.
#[derive(Debug, Clone, PartialEq)]
pub struct SiWindow {
    pub recording: RecordingId,
    pub start_index: u64,
    pub data: Vec<f32>,
}

impl SiWindow {
    /// Whether the sample spans of two windows intersect (overlapping windows share data: never put one in
    /// training and the other in testing).
    pub fn overlaps(&self, other: &SiWindow) -> bool {
        let len = WINDOW_LEN as u64;
        self.recording == other.recording
            && self.start_index < other.start_index + len
            && other.start_index < self.start_index + len
    }
}

/// One class with its good windows in recording order (oldest recording first, then by position).
#[derive(Debug, Clone, PartialEq)]
pub struct ClassWindows {
    pub name: String,
    pub windows: Vec<SiWindow>,
}

/// Everything the trainer reads from the store, so the store is free again while training runs.
#[derive(Debug, Clone, PartialEq)]
pub struct CalibrationSet {
    pub profile: ProfileId,
    /// The profile's classes in the order they were added: the model's output order.
    pub classes: Vec<ClassWindows>,
    /// The version the new model will get when stored (written into the blob too).
    pub next_version: u32,
}

impl CalibrationSet {
    pub fn class_names(&self) -> Vec<String> {
        self.classes.iter().map(|c| c.name.clone()).collect()
    }

    pub fn window_count(&self) -> usize {
        self.classes.iter().map(|c| c.windows.len()).sum()
    }
}

/// The profile's classes a model is to learn, in the order they were added: all of them, or only
/// the `chosen` ones (an id that is not one of the profile's classes is refused).
pub fn chosen_classes(
    store: &Store,
    profile: ProfileId,
    chosen: Option<&[ClassId]>,
) -> Result<Vec<store::ActivityClass>, TrainError> {
    let mut classes = store.classes(profile)?;
    if let Some(chosen) = chosen {
        if let Some(&id) = chosen
            .iter()
            .find(|id| !classes.iter().any(|c| c.id == **id))
        {
            return Err(TrainError::UnknownClass { id });
        }
        classes.retain(|c| chosen.contains(&c.id));
    }
    Ok(classes)
}

/// Reads a profile's classes (all, or the `chosen` ones) and their good calibration windows,
/// refusing data a model cannot be made from.
pub fn load(
    store: &Store,
    profile: ProfileId,
    chosen: Option<&[ClassId]>,
    min_windows_per_class: usize,
) -> Result<CalibrationSet, TrainError> {
    store.profile(profile)?;
    let classes = chosen_classes(store, profile, chosen)?;
    if classes.len() < 2 {
        return Err(TrainError::TooFewClasses {
            found: classes.len(),
        });
    }
    if classes.len() > bandx_core::blob::MAX_CLASSES {
        return Err(TrainError::TooManyClasses {
            found: classes.len(),
            max: bandx_core::blob::MAX_CLASSES,
        });
    }
    if let Some(c) = classes
        .iter()
        .find(|c| c.name.len() > bandx_core::blob::MAX_LABEL_LEN)
    {
        return Err(TrainError::ClassNameTooLong {
            class: c.name.clone(),
            max_bytes: bandx_core::blob::MAX_LABEL_LEN,
        });
    }
    let mut recordings: HashMap<RecordingId, store::Recording> = HashMap::new();
    let mut out = Vec::with_capacity(classes.len());
    for class in &classes {
        let mut good: Vec<_> = store
            .windows_of_class(class.id)?
            .into_iter()
            .filter(|w| w.verdict == Verdict::Good)
            .collect();
        if good.len() < min_windows_per_class {
            return Err(TrainError::TooFewWindows {
                class: class.name.clone(),
                good: good.len(),
                required: min_windows_per_class,
            });
        }
        good.sort_by_key(|w| (w.recording, w.start_index));
        let mut windows = Vec::with_capacity(good.len());
        for w in good {
            let rec = match recordings.entry(w.recording) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => e.insert(store.recording(w.recording)?),
            };
            let full_scale = core_full_scale(rec)?;
            let raw = store.samples_range(w.recording, w.start_index, WINDOW_LEN as u64)?;
            if raw.len() < WINDOW_LEN {
                return Err(TrainError::WindowOutOfRange {
                    class: class.name.clone(),
                    recording: w.recording,
                    start_index: w.start_index,
                    samples: rec.samples,
                });
            }
            let mut data = Vec::with_capacity(WINDOW_LEN * CHANNELS);
            for s in &raw {
                data.extend(full_scale.to_si(&imu::RawSample {
                    accel: s.accel,
                    gyro: s.gyro,
                }));
            }
            windows.push(SiWindow {
                recording: w.recording,
                start_index: w.start_index,
                data,
            });
        }
        out.push(ClassWindows {
            name: class.name.clone(),
            windows,
        });
    }
    let next_version = store
        .models(profile)?
        .iter()
        .map(|m| m.version)
        .max()
        .unwrap_or(0)
        + 1;
    Ok(CalibrationSet {
        profile,
        classes: out,
        next_version,
    })
}

/// The store keeps full scale as numbers; bandx-core knows the settings the IMU really has.
fn core_full_scale(rec: &store::Recording) -> Result<imu::FullScale, TrainError> {
    let unsupported = || TrainError::UnsupportedRecording {
        recording: rec.id,
        reason: format!(
            "full scale ±{} g / ±{} °/s is not a setting of the band's IMU",
            rec.full_scale.accel_g, rec.full_scale.gyro_dps
        ),
    };
    if (rec.sample_rate_hz - SAMPLE_RATE_HZ as f32).abs() > 0.01 {
        return Err(TrainError::UnsupportedRecording {
            recording: rec.id,
            reason: format!(
                "sampled at {} Hz; the model reads {SAMPLE_RATE_HZ} Hz",
                rec.sample_rate_hz
            ),
        });
    }
    let accel = match rec.full_scale.accel_g {
        2 => AccelRange::G2,
        4 => AccelRange::G4,
        8 => AccelRange::G8,
        16 => AccelRange::G16,
        _ => return Err(unsupported()),
    };
    let gyro = match rec.full_scale.gyro_dps {
        125 => GyroRange::Dps125,
        250 => GyroRange::Dps250,
        500 => GyroRange::Dps500,
        1000 => GyroRange::Dps1000,
        2000 => GyroRange::Dps2000,
        _ => return Err(unsupported()),
    };
    Ok(imu::FullScale { accel, gyro })
}
