//! The reader of BandX Studio's profile export ("bandx-profile" v1, defined in
//! [`crate::profile_format`]; written by `src-tauri/src/store/export.rs`): `profile.json`,
//! `classes.json`, `recordings.json`, `recordings/<id>.csv` (raw i16 counts) and `windows.csv`
//! (verdicts good | rejected). Models, deployments and predictions in the folder are not read.
//!
//! Every recording with a class becomes one or more [`Recording`]s: subject = the profile name,
//! session = the recording id, label = the class name. Raw counts become SI through bandx-core
//! ([`FullScale::to_si`]) with the recording's full scale. A recording is split wherever the
//! band's frame sequence skips (lost BLE frames) or the sample clock does not advance by about
//! one sample period, and the samples of windows the user rejected (and no accepted window
//! covers) are left out.
//!
//! A folder is untrusted input: the reader never panics and refuses, with a specific error, a
//! recording id listed twice ([`FolderProblem::DuplicateRecordingId`]) and a sample file whose
//! rows do not match the declared count ([`FolderProblem::SampleCount`], checked for every
//! listed recording before anything is sized by it). [`read_files`] reads a folder held in memory
//! (tests, the fuzz target's [`unbundle`]d inputs).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use bandx_core::imu::{AccelRange, FullScale, GyroRange, RawSample};

use crate::error::{ModelError, Result};
use crate::profile_format::{
    CLASSES_FILE, ClassEntry, PROFILE_FILE, ProfileManifest, RECORDINGS_FILE, RecordingEntry,
    SampleRow, Verdict, WINDOWS_FILE, WindowRow, is_valid_recording_id, recording_file,
};
use crate::readers::{InputFile, read_file_bytes};
use crate::recording::{Recording, Sample, number_in_order};

pub use crate::profile_format::{FORMAT, FORMAT_VERSION};

/// Samples in one of the app's calibration windows (3 s at 20 Hz): the band's window.
pub const APP_WINDOW_SAMPLES: usize = bandx_core::WINDOW_LEN;

/// A folder whose listings contradict its files.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FolderProblem {
    #[error("recording id {id:?} is listed twice")]
    DuplicateRecordingId { id: String },
    #[error("holds {found} samples, recordings.json says {declared} (file truncated?)")]
    SampleCount { declared: u64, found: u64 },
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
    let recordings = read_with(dir, &mut |path| {
        let (bytes, input) = read_file_bytes(path)?;
        inputs.push(input);
        Ok(bytes)
    })?;
    Ok((recordings, inputs))
}

/// Reads a profile folder held in memory: file contents by path relative to the folder (e.g.
/// `recordings/0001.csv`). Errors name the files as if the folder were `profile/`.
pub fn read_files(files: &BTreeMap<PathBuf, Vec<u8>>) -> Result<Vec<Recording>> {
    let dir = Path::new("profile");
    read_with(dir, &mut |path| {
        let relative = path.strip_prefix(dir).unwrap_or(path);
        files
            .get(relative)
            .cloned()
            .ok_or_else(|| ModelError::io(path, std::io::Error::from(std::io::ErrorKind::NotFound)))
    })
}

/// Packs files into one byte string: for each file a line `=== <relative path> <length>`, its
/// bytes, and a newline. The fuzz target and its seed corpus describe a whole folder this way.
pub fn bundle(files: &BTreeMap<PathBuf, Vec<u8>>) -> Vec<u8> {
    let mut out = Vec::new();
    for (path, bytes) in files {
        out.extend_from_slice(format!("=== {} {}\n", path.display(), bytes.len()).as_bytes());
        out.extend_from_slice(bytes);
        out.push(b'\n');
    }
    out
}

/// The files of a [`bundle`]. Bytes between sections are skipped, a section whose header does
/// not end in a length ends the bundle, a short last section keeps what is there, and a later
/// section of the same path wins.
pub fn unbundle(bytes: &[u8]) -> BTreeMap<PathBuf, Vec<u8>> {
    const MARK: &[u8] = b"=== ";
    let mut files = BTreeMap::new();
    let mut pos = 0;
    while let Some(found) = bytes[pos..].windows(MARK.len()).position(|w| w == MARK) {
        let header_start = pos + found + MARK.len();
        let rest = &bytes[header_start..];
        let Some(eol) = rest.iter().position(|&b| b == b'\n') else {
            break;
        };
        let header = String::from_utf8_lossy(&rest[..eol]);
        let Some((path, len)) = header.rsplit_once(' ') else {
            break;
        };
        let Ok(len) = len.parse::<usize>() else {
            break;
        };
        let body_start = header_start + eol + 1;
        let body_end = body_start.saturating_add(len).min(bytes.len());
        files.insert(PathBuf::from(path), bytes[body_start..body_end].to_vec());
        pos = body_end;
    }
    files
}

/// One listed recording with its sample rows (as many as the listing declares).
struct Listed {
    entry: RecordingEntry,
    rows: Vec<SampleRow>,
}

/// The reader over any source of files (`open` gets `dir/<relative path>`).
fn read_with(dir: &Path, open: &mut dyn FnMut(&Path) -> Result<Vec<u8>>) -> Result<Vec<Recording>> {
    let profile: ProfileManifest = read_json(&dir.join(PROFILE_FILE), open)?;
    if !profile.is_supported() {
        return Err(ModelError::InvalidInput(format!(
            "{}: format {:?} version {}, expected {FORMAT:?} version {FORMAT_VERSION}",
            dir.join(PROFILE_FILE).display(),
            profile.format,
            profile.format_version
        )));
    }
    let classes: Vec<ClassEntry> = read_json(&dir.join(CLASSES_FILE), open)?;
    let listing = dir.join(RECORDINGS_FILE);
    let entries: Vec<RecordingEntry> = read_json(&listing, open)?;
    let mut ids = BTreeSet::new();
    for entry in &entries {
        if !is_valid_recording_id(&entry.id) {
            return Err(ModelError::InvalidInput(format!(
                "{}: bad recording id {:?}",
                listing.display(),
                entry.id
            )));
        }
        if !ids.insert(entry.id.as_str()) {
            return Err(ModelError::ProfileFolder {
                path: listing,
                problem: FolderProblem::DuplicateRecordingId {
                    id: entry.id.clone(),
                },
            });
        }
    }
    // Every listed file is read and checked against its declared count, class or not, before
    // anything is sized by those counts.
    let mut listed = Vec::with_capacity(entries.len());
    for entry in entries {
        let path = dir.join(recording_file(&entry.id));
        let rows = read_samples(&path, open)?;
        if rows.len() as u64 != entry.samples {
            return Err(ModelError::ProfileFolder {
                path,
                problem: FolderProblem::SampleCount {
                    declared: entry.samples,
                    found: rows.len() as u64,
                },
            });
        }
        listed.push(Listed { entry, rows });
    }
    let rejected = rejected_samples(&dir.join(WINDOWS_FILE), &listed, open)?;

    let mut recordings = Vec::new();
    for Listed { entry, rows } in &listed {
        let Some(class) = &entry.class else {
            continue; // a free recording has no label to learn from
        };
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
        let skip = rejected.get(&entry.id);
        let period_ms = 1000.0 / entry.sample_rate_hz as f64;
        let mut run: Vec<Sample> = Vec::new();
        let mut prev: Option<&SampleRow> = None;
        for (i, row) in rows.iter().enumerate() {
            let excluded = skip.is_some_and(|s| s[i]);
            let continues = prev.is_some_and(|p| {
                let seq_step = row.frame_seq.wrapping_sub(p.frame_seq);
                let dt = row.t_ms as f64 - p.t_ms as f64;
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
    Ok(recordings)
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

fn read_json<T: serde::de::DeserializeOwned>(
    path: &Path,
    open: &mut dyn FnMut(&Path) -> Result<Vec<u8>>,
) -> Result<T> {
    let bytes = open(path)?;
    serde_json::from_slice(&bytes).map_err(|e| ModelError::parse(path, e.line(), e.to_string()))
}

/// The rows of a sample file, numbered 0, 1, 2, ... in order.
fn read_samples(
    path: &Path,
    open: &mut dyn FnMut(&Path) -> Result<Vec<u8>>,
) -> Result<Vec<SampleRow>> {
    let bytes = open(path)?;
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
    Ok(rows)
}

/// Per recording id, which samples lie in a window the user rejected and in no accepted one.
fn rejected_samples(
    path: &Path,
    listed: &[Listed],
    open: &mut dyn FnMut(&Path) -> Result<Vec<u8>>,
) -> Result<BTreeMap<String, Vec<bool>>> {
    let bytes = open(path)?;
    let len = |id: &str| {
        listed
            .iter()
            .find(|l| l.entry.id == id)
            .map(|l| l.rows.len())
    };
    let mut rejected: BTreeMap<String, Vec<bool>> = BTreeMap::new();
    let mut accepted: BTreeMap<String, Vec<bool>> = BTreeMap::new();
    let mut reader = csv::Reader::from_reader(bytes.as_slice());
    for (i, row) in reader.deserialize::<WindowRow<String>>().enumerate() {
        let line = i + 2;
        let row = row.map_err(|e| ModelError::parse(path, line, e.to_string()))?;
        let n = len(&row.recording).ok_or_else(|| {
            ModelError::parse(
                path,
                line,
                format!("window of unknown recording {:?}", row.recording),
            )
        })?;
        let target = match Verdict::parse(&row.verdict) {
            Some(Verdict::Good) => &mut accepted,
            Some(Verdict::Rejected) => &mut rejected,
            None => {
                return Err(ModelError::parse(
                    path,
                    line,
                    format!("verdict {:?} (expected good or rejected)", row.verdict),
                ));
            }
        };
        let marks = target
            .entry(row.recording.clone())
            .or_insert_with(|| vec![false; n]);
        let start = usize::try_from(row.start_index)
            .unwrap_or(usize::MAX)
            .min(n);
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
