//! PAMAP2 `Protocol/subject10N.dat`: space-separated rows of 54 columns at 100 Hz.
//!
//! Column layout (PAMAP2 readme): 1 timestamp (s), 2 activityID, 3 heart rate, 4-20 hand IMU,
//! 21-37 chest IMU, 38-54 ankle IMU. Within an IMU block: 1 temperature, 2-4 acceleration ±16 g
//! (m/s²), 5-6-7 acceleration ±6 g, 8-10 gyroscope (rad/s), 11-13 magnetometer, 14-17 orientation.
//! So the wrist ("hand") accelerometer is at 0-based columns 4..7 and its gyroscope at 10..13.
//! Activity 0 (transient) is dropped. Wireless dropouts appear as NaN: short runs are
//! interpolated, longer ones split the recording.

use std::path::Path;

use super::{InputFile, read_file_bytes};
use crate::error::{ModelError, Result};
use crate::recording::{Recording, Sample, number_in_order};

pub const PAMAP2_RATE_HZ: f32 = 100.0;
const COLUMNS: usize = 54;
const HAND_ACCEL16: usize = 4;
const HAND_GYRO: usize = 10;
/// NaN runs up to this many samples (50 ms) are bridged by linear interpolation.
const MAX_BRIDGED_NAN: usize = 5;
/// Timestamps further apart than this (nominal 10 ms) split the recording.
const MAX_GAP_S: f64 = 0.05;

pub fn activity_name(id: u32) -> Option<&'static str> {
    Some(match id {
        1 => "lying",
        2 => "sitting",
        3 => "standing",
        4 => "walking",
        5 => "running",
        6 => "cycling",
        7 => "nordic_walking",
        9 => "watching_tv",
        10 => "computer_work",
        11 => "car_driving",
        12 => "ascending_stairs",
        13 => "descending_stairs",
        16 => "vacuum_cleaning",
        17 => "ironing",
        18 => "folding_laundry",
        19 => "house_cleaning",
        20 => "playing_soccer",
        24 => "rope_jumping",
        _ => return None,
    })
}

/// Reads every `subject*.dat` in `dir` (or in `dir/Protocol`).
pub fn read_dir(dir: &Path) -> Result<(Vec<Recording>, Vec<InputFile>)> {
    let protocol = if dir.join("Protocol").is_dir() {
        dir.join("Protocol")
    } else {
        dir.to_path_buf()
    };
    let mut files: Vec<_> = std::fs::read_dir(&protocol)
        .map_err(|e| ModelError::io(&protocol, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            name.starts_with("subject") && (name.ends_with(".dat") || name.ends_with(".dat.xz"))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(ModelError::NoData(format!(
            "no PAMAP2 subject*.dat files in {}",
            protocol.display()
        )));
    }
    let mut recordings = Vec::new();
    let mut inputs = Vec::new();
    for f in files {
        let (bytes, input) = read_file_bytes(&f)?;
        recordings.extend(parse(&f, &bytes)?);
        inputs.push(input);
    }
    number_in_order(&mut recordings);
    Ok((recordings, inputs))
}

/// Reads one `subject10N.dat` file.
pub fn read_file(path: &Path) -> Result<Vec<Recording>> {
    let (bytes, _) = read_file_bytes(path)?;
    let mut r = parse(path, &bytes)?;
    number_in_order(&mut r);
    Ok(r)
}

struct Row {
    t: f64,
    activity: u32,
    values: [f32; 6],
}

fn subject_from_name(path: &Path) -> String {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("subject");
    let stem = name.split('.').next().unwrap_or(name);
    stem.strip_prefix("subject").unwrap_or(stem).to_string()
}

fn parse(path: &Path, bytes: &[u8]) -> Result<Vec<Recording>> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| ModelError::parse(path, 0, format!("not UTF-8 text: {e}")))?;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        if fields.len() != COLUMNS {
            return Err(ModelError::parse(
                path,
                n,
                format!(
                    "expected {COLUMNS} space-separated columns (PAMAP2 Protocol format), found {}",
                    fields.len()
                ),
            ));
        }
        let num = |k: usize| -> Result<f64> {
            fields[k].parse::<f64>().map_err(|_| {
                ModelError::parse(
                    path,
                    n,
                    format!("column {} '{}' is not a number", k + 1, fields[k]),
                )
            })
        };
        let t = num(0)?;
        let a = num(1)?;
        if !t.is_finite() || !a.is_finite() || a < 0.0 || a.fract() != 0.0 {
            return Err(ModelError::parse(
                path,
                n,
                "timestamp or activity id is not valid",
            ));
        }
        let activity = a as u32;
        if activity != 0 && activity_name(activity).is_none() {
            return Err(ModelError::parse(
                path,
                n,
                format!("unknown PAMAP2 activity id {activity}"),
            ));
        }
        let mut values = [0f32; 6];
        for k in 0..3 {
            values[k] = num(HAND_ACCEL16 + k)? as f32;
            values[3 + k] = num(HAND_GYRO + k)? as f32;
        }
        rows.push(Row {
            t,
            activity,
            values,
        });
    }
    let subject = subject_from_name(path);
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=rows.len() {
        let boundary = i == rows.len()
            || rows[i].activity != rows[i - 1].activity
            || !(rows[i].t > rows[i - 1].t && rows[i].t - rows[i - 1].t <= MAX_GAP_S);
        if boundary {
            let run = &rows[start..i];
            if run[0].activity != 0 {
                let label = activity_name(run[0].activity).unwrap_or("unknown");
                for samples in split_nan(run) {
                    out.push(Recording {
                        subject: subject.clone(),
                        session: "protocol".into(),
                        label: label.to_string(),
                        rate_hz: PAMAP2_RATE_HZ,
                        order: 0,
                        samples,
                    });
                }
            }
            start = i;
        }
    }
    Ok(out)
}

/// Splits a run at NaN stretches longer than `MAX_BRIDGED_NAN`; bridges shorter ones.
fn split_nan(run: &[Row]) -> Vec<Vec<Sample>> {
    let valid = |r: &Row| r.values.iter().all(|v| v.is_finite());
    let mut pieces = Vec::new();
    let mut current: Vec<Sample> = Vec::new();
    let mut i = 0;
    while i < run.len() {
        if valid(&run[i]) {
            current.push(run[i].values);
            i += 1;
            continue;
        }
        let mut j = i;
        while j < run.len() && !valid(&run[j]) {
            j += 1;
        }
        let missing = j - i;
        match (current.last().copied(), run.get(j)) {
            (Some(before), Some(after)) if missing <= MAX_BRIDGED_NAN => {
                for m in 1..=missing {
                    let f = m as f32 / (missing + 1) as f32;
                    current.push(std::array::from_fn(|c| {
                        before[c] + f * (after.values[c] - before[c])
                    }));
                }
            }
            _ => {
                if !current.is_empty() {
                    pieces.push(std::mem::take(&mut current));
                }
            }
        }
        i = j;
    }
    if !current.is_empty() {
        pieces.push(current);
    }
    pieces
}
