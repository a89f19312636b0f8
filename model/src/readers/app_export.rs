//! The desktop app's profile export (BandX Studio, `src-tauri/src/store/export.rs`):
//!
//! ```text
//! <folder>/profile.json        {"format": "bandx-profile", "format_version": 1, "name", "created_at_ms"}
//!          classes.json        [{"name", "created_at_ms"}]
//!          recordings.json     [{"id", "class", "band", "started_at_ms", "sample_rate_hz",
//!                                "accel_range_g", "gyro_range_dps", "samples"}]
//!          recordings/<id>.csv index,frame_seq,t_ms,ax,ay,az,gx,gy,gz   (raw i16 counts)
//!          windows.csv         recording,start_index,verdict,reason     (verdict good | rejected)
//! ```
//!
//! Every recording with a class becomes one or more [`Recording`]s: subject = the profile name,
//! session = the recording id, label = the class name. Raw counts become SI through bandx-core
//! ([`FullScale::to_si`]) with the recording's full scale. A recording is split wherever the
//! band's frame sequence skips (lost BLE frames) or the sample clock does not advance by about
//! one sample period, and the samples of windows the user rejected (and no accepted window
//! covers) are left out. Models, deployments and predictions in the folder are not read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bandx_core::imu::{AccelRange, FullScale, GyroRange, RawSample};
use serde::Deserialize;

use crate::error::{ModelError, Result};
use crate::readers::{InputFile, read_file_bytes};
use crate::recording::{Recording, Sample, number_in_order};

pub const FORMAT: &str = "bandx-profile";
pub const FORMAT_VERSION: u32 = 1;
/// Samples in one of the app's calibration windows (3 s at 20 Hz).
pub const APP_WINDOW_SAMPLES: usize = 60;

#[derive(Deserialize)]
struct ProfileFile {
    format: String,
    format_version: u32,
    name: String,
}

#[derive(Deserialize)]
struct ClassEntry {
    name: String,
}

#[derive(Deserialize)]
struct RecordingEntry {
    id: String,
    class: Option<String>,
    sample_rate_hz: f32,
    accel_range_g: u16,
    gyro_range_dps: u16,
    samples: u64,
}

#[derive(Deserialize)]
struct SampleRow {
    index: u64,
    frame_seq: u32,
    t_ms: i64,
    ax: i16,
    ay: i16,
    az: i16,
    gx: i16,
    gy: i16,
    gz: i16,
}

#[derive(Deserialize)]
struct WindowRow {
    recording: String,
    start_index: u64,
    verdict: String,
}

/// Reads an exported profile folder.
pub fn read(dir: &Path) -> Result<Vec<Recording>> {
    read_dir(dir).map(|(r, _)| r)
}

/// Reads an exported profile folder; also returns the files read, with their hashes.
pub fn read_dir(dir: &Path) -> Result<(Vec<Recording>, Vec<InputFile>)> {
    if !dir.is_dir() {
        return Err(ModelError::InvalidInput(format!(
            "{} is not a folder exported by BandX Studio (expected profile.json, recordings.json, ...)",
            dir.display()
        )));
    }
    let mut inputs = Vec::new();
    let profile: ProfileFile = read_json(&dir.join("profile.json"), &mut inputs)?;
    if profile.format != FORMAT || profile.format_version != FORMAT_VERSION {
        return Err(ModelError::InvalidInput(format!(
            "{}: format {:?} version {}, expected {FORMAT:?} version {FORMAT_VERSION}",
            dir.join("profile.json").display(),
            profile.format,
            profile.format_version
        )));
    }
    let classes: Vec<ClassEntry> = read_json(&dir.join("classes.json"), &mut inputs)?;
    let entries: Vec<RecordingEntry> = read_json(&dir.join("recordings.json"), &mut inputs)?;
    let paths = entries
        .iter()
        .map(|e| recording_path(dir, &e.id))
        .collect::<Result<Vec<_>>>()?;
    let rejected = rejected_samples(&dir.join("windows.csv"), &entries, &mut inputs)?;

    let mut recordings = Vec::new();
    for (entry, path) in entries.iter().zip(&paths) {
        let Some(class) = &entry.class else {
            continue; // a free recording has no label to learn from
        };
        let listing = dir.join("recordings.json");
        if !classes.iter().any(|c| c.name == *class) {
            return Err(ModelError::InvalidInput(format!(
                "{}: recording {} has class {class:?}, not listed in classes.json",
                listing.display(),
                entry.id
            )));
        }
        let full_scale = full_scale(entry).map_err(|reason| {
            ModelError::InvalidInput(format!("{}: {reason}", listing.display()))
        })?;
        if !(entry.sample_rate_hz.is_finite() && entry.sample_rate_hz > 0.0) {
            return Err(ModelError::InvalidInput(format!(
                "{}: recording {} has sample rate {} Hz",
                listing.display(),
                entry.id,
                entry.sample_rate_hz
            )));
        }
        let rows = read_samples(path, entry.samples, &mut inputs)?;
        let skip = rejected.get(&entry.id);
        let period_ms = 1000.0 / entry.sample_rate_hz as f64;
        let mut run: Vec<Sample> = Vec::new();
        let mut prev: Option<&SampleRow> = None;
        for (i, row) in rows.iter().enumerate() {
            let excluded = skip.is_some_and(|s| s[i]);
            let continues = prev.is_some_and(|p| {
                let seq_step = row.frame_seq.wrapping_sub(p.frame_seq);
                let dt = (row.t_ms - p.t_ms) as f64;
                seq_step <= 1 && dt > 0.5 * period_ms && dt < 1.5 * period_ms
            });
            if excluded || !continues {
                flush(&mut recordings, &mut run, &profile.name, entry, class);
            }
            if excluded {
                prev = None;
                continue;
            }
            let raw = RawSample {
                accel: [row.ax, row.ay, row.az],
                gyro: [row.gx, row.gy, row.gz],
            };
            run.push(full_scale.to_si(&raw));
            prev = Some(row);
        }
        flush(&mut recordings, &mut run, &profile.name, entry, class);
    }
    if recordings.is_empty() {
        return Err(ModelError::NoData(format!(
            "{}: no recording with a class and samples",
            dir.display()
        )));
    }
    number_in_order(&mut recordings);
    Ok((recordings, inputs))
}

fn flush(
    out: &mut Vec<Recording>,
    run: &mut Vec<Sample>,
    subject: &str,
    entry: &RecordingEntry,
    class: &str,
) {
    if run.is_empty() {
        return;
    }
    out.push(Recording {
        subject: subject.to_string(),
        session: entry.id.clone(),
        label: class.to_string(),
        rate_hz: entry.sample_rate_hz,
        order: 0,
        samples: std::mem::take(run),
    });
}

/// The bandx-core full scale of a recording; the store keeps it as plain numbers.
fn full_scale(entry: &RecordingEntry) -> std::result::Result<FullScale, String> {
    let accel = match entry.accel_range_g {
        2 => AccelRange::G2,
        4 => AccelRange::G4,
        8 => AccelRange::G8,
        16 => AccelRange::G16,
        g => {
            return Err(format!(
                "recording {}: ±{g} g is not an IMU setting",
                entry.id
            ));
        }
    };
    let gyro = match entry.gyro_range_dps {
        125 => GyroRange::Dps125,
        250 => GyroRange::Dps250,
        500 => GyroRange::Dps500,
        1000 => GyroRange::Dps1000,
        2000 => GyroRange::Dps2000,
        d => {
            return Err(format!(
                "recording {}: ±{d} °/s is not an IMU setting",
                entry.id
            ));
        }
    };
    Ok(FullScale { accel, gyro })
}

/// `recordings/<id>.csv`, refusing ids that could leave the folder.
fn recording_path(dir: &Path, id: &str) -> Result<PathBuf> {
    let safe = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !safe {
        return Err(ModelError::InvalidInput(format!(
            "{}: bad recording id {id:?}",
            dir.join("recordings.json").display()
        )));
    }
    Ok(dir.join("recordings").join(format!("{id}.csv")))
}

fn read_json<T: serde::de::DeserializeOwned>(
    path: &Path,
    inputs: &mut Vec<InputFile>,
) -> Result<T> {
    let (bytes, input) = read_file_bytes(path)?;
    inputs.push(input);
    serde_json::from_slice(&bytes).map_err(|e| ModelError::parse(path, e.line(), e.to_string()))
}

fn read_samples(path: &Path, expected: u64, inputs: &mut Vec<InputFile>) -> Result<Vec<SampleRow>> {
    let (bytes, input) = read_file_bytes(path)?;
    inputs.push(input);
    let mut reader = csv::Reader::from_reader(bytes.as_slice());
    let mut rows = Vec::new();
    for (i, row) in reader.deserialize::<SampleRow>().enumerate() {
        // Line 1 is the header.
        let row = row.map_err(|e| ModelError::parse(path, i + 2, e.to_string()))?;
        if row.index != i as u64 {
            return Err(ModelError::parse(
                path,
                i + 2,
                format!("sample index {} where {i} was expected", row.index),
            ));
        }
        rows.push(row);
    }
    if rows.len() as u64 != expected {
        return Err(ModelError::InvalidInput(format!(
            "{}: holds {} samples, recordings.json says {expected} (file truncated?)",
            path.display(),
            rows.len()
        )));
    }
    Ok(rows)
}

/// Per recording id, which samples lie in a window the user rejected and in no accepted one.
fn rejected_samples(
    path: &Path,
    entries: &[RecordingEntry],
    inputs: &mut Vec<InputFile>,
) -> Result<BTreeMap<String, Vec<bool>>> {
    let (bytes, input) = read_file_bytes(path)?;
    inputs.push(input);
    let len = |id: &str| {
        entries
            .iter()
            .find(|e| e.id == id)
            .map(|e| e.samples as usize)
    };
    let mut rejected: BTreeMap<String, Vec<bool>> = BTreeMap::new();
    let mut accepted: BTreeMap<String, Vec<bool>> = BTreeMap::new();
    let mut reader = csv::Reader::from_reader(bytes.as_slice());
    for (i, row) in reader.deserialize::<WindowRow>().enumerate() {
        let line = i + 2;
        let row = row.map_err(|e| ModelError::parse(path, line, e.to_string()))?;
        let n = len(&row.recording).ok_or_else(|| {
            ModelError::parse(
                path,
                line,
                format!("window of unknown recording {:?}", row.recording),
            )
        })?;
        let target = match row.verdict.as_str() {
            "good" => &mut accepted,
            "rejected" => &mut rejected,
            other => {
                return Err(ModelError::parse(
                    path,
                    line,
                    format!("verdict {other:?} (expected good or rejected)"),
                ));
            }
        };
        let marks = target
            .entry(row.recording.clone())
            .or_insert_with(|| vec![false; n]);
        let start = (row.start_index as usize).min(n);
        let end = start.saturating_add(APP_WINDOW_SAMPLES).min(n);
        marks[start..end].iter_mut().for_each(|m| *m = true);
    }
    for (id, marks) in rejected.iter_mut() {
        if let Some(good) = accepted.get(id) {
            for (m, g) in marks.iter_mut().zip(good) {
                *m &= !g;
            }
        }
    }
    Ok(rejected)
}
