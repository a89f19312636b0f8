//! WISDM 2019 smartwatch raw files (`raw/watch/{accel,gyro}/data_<sid>_<sensor>_watch.txt[.xz]`).
//!
//! Each line is `subject,activity,timestamp_ns,x,y,z;`. Accelerometer (m/s²) and gyroscope (rad/s)
//! come from separate files with their own timestamps, so they are aligned here: per activity
//! block, each stream is cut into gap-free stretches, and the overlap of an accel stretch with a
//! gyro stretch is sampled on a common 20 Hz grid by linear interpolation.

use std::path::{Path, PathBuf};

use super::{InputFile, read_file_bytes};
use crate::error::{ModelError, Result};
use crate::recording::{Recording, number_in_order};

pub const WISDM_RATE_HZ: f32 = 20.0;
const STEP_NS: i64 = 50_000_000;
/// Consecutive readings further apart than this start a new stretch (nominal spacing 50 ms).
const MAX_GAP_NS: i64 = 200_000_000;

/// Activity codes of `activity_key.txt` (there is no N).
pub const ACTIVITIES: [(char, &str); 18] = [
    ('A', "walking"),
    ('B', "jogging"),
    ('C', "stairs"),
    ('D', "sitting"),
    ('E', "standing"),
    ('F', "typing"),
    ('G', "teeth"),
    ('H', "soup"),
    ('I', "chips"),
    ('J', "pasta"),
    ('K', "drinking"),
    ('L', "sandwich"),
    ('M', "kicking"),
    ('O', "catch"),
    ('P', "dribbling"),
    ('Q', "writing"),
    ('R', "clapping"),
    ('S', "folding"),
];

pub fn activity_name(code: char) -> Option<&'static str> {
    ACTIVITIES.iter().find(|(c, _)| *c == code).map(|(_, n)| *n)
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Reading {
    activity: char,
    t_ns: i64,
    xyz: [f32; 3],
}

/// Reads every subject that has both watch files under `dir` (the `wisdm/` folder, the
/// `wisdm-dataset/` folder or `raw/watch/`). `subjects` restricts the subjects read.
pub fn read_dir(
    dir: &Path,
    subjects: Option<&[String]>,
) -> Result<(Vec<Recording>, Vec<InputFile>)> {
    let watch = locate_watch_dir(dir)?;
    let pairs = subject_files(&watch)?;
    let mut recordings = Vec::new();
    let mut inputs = Vec::new();
    for (subject, accel, gyro) in pairs {
        if let Some(wanted) = subjects
            && !wanted.contains(&subject)
        {
            continue;
        }
        let (Some(accel), Some(gyro)) = (accel, gyro) else {
            tracing::warn!("WISDM subject {subject}: accel or gyro file missing, skipped");
            continue;
        };
        let (a_bytes, a_input) = read_file_bytes(&accel)?;
        let (g_bytes, g_input) = read_file_bytes(&gyro)?;
        let a = parse(&accel, &a_bytes)?;
        let g = parse(&gyro, &g_bytes)?;
        recordings.extend(align(&subject, &a, &g));
        inputs.push(a_input);
        inputs.push(g_input);
    }
    if let Some(wanted) = subjects {
        for s in wanted {
            if !recordings.iter().any(|r| r.subject == *s) {
                return Err(ModelError::NoData(format!(
                    "WISDM subject {s} has no usable accel+gyro data under {}",
                    watch.display()
                )));
            }
        }
    }
    if recordings.is_empty() {
        return Err(ModelError::NoData(format!(
            "no WISDM subject with both watch accel and gyro files under {}",
            watch.display()
        )));
    }
    number_in_order(&mut recordings);
    Ok((recordings, inputs))
}

/// Reads one subject from its accel and gyro files.
pub fn read_subject(accel: &Path, gyro: &Path) -> Result<Vec<Recording>> {
    let (a_bytes, _) = read_file_bytes(accel)?;
    let (g_bytes, _) = read_file_bytes(gyro)?;
    read_subject_bytes((accel, &a_bytes), (gyro, &g_bytes))
}

/// [`read_subject`] on the files' (decompressed) bytes; the paths only name them in errors.
pub fn read_subject_bytes(
    (accel, a_bytes): (&Path, &[u8]),
    (gyro, g_bytes): (&Path, &[u8]),
) -> Result<Vec<Recording>> {
    let a = parse(accel, a_bytes)?;
    let g = parse(gyro, g_bytes)?;
    let subject = subject_of(&a, accel)?;
    if subject_of(&g, gyro)? != subject {
        return Err(ModelError::InvalidInput(format!(
            "{} and {} belong to different subjects",
            accel.display(),
            gyro.display()
        )));
    }
    let mut recordings = align(&subject, &a, &g);
    number_in_order(&mut recordings);
    Ok(recordings)
}

fn subject_of(rows: &[(u32, Reading)], path: &Path) -> Result<String> {
    rows.first()
        .map(|(s, _)| s.to_string())
        .ok_or_else(|| ModelError::NoData(format!("{} holds no readings", path.display())))
}

fn locate_watch_dir(dir: &Path) -> Result<PathBuf> {
    let candidates = [
        dir.to_path_buf(),
        dir.join("watch"),
        dir.join("raw/watch"),
        dir.join("wisdm-dataset/raw/watch"),
    ];
    candidates
        .into_iter()
        .find(|c| c.join("accel").is_dir() && c.join("gyro").is_dir())
        .ok_or_else(|| {
            ModelError::InvalidInput(format!(
                "{} does not look like WISDM: expected raw/watch/accel and raw/watch/gyro below it",
                dir.display()
            ))
        })
}

type SubjectFiles = (String, Option<PathBuf>, Option<PathBuf>);

fn subject_files(watch: &Path) -> Result<Vec<SubjectFiles>> {
    let mut map: std::collections::BTreeMap<String, (Option<PathBuf>, Option<PathBuf>)> =
        Default::default();
    for sensor in ["accel", "gyro"] {
        let d = watch.join(sensor);
        let entries = std::fs::read_dir(&d).map_err(|e| ModelError::io(&d, e))?;
        for entry in entries {
            let path = entry.map_err(|e| ModelError::io(&d, e))?.path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            let stem = name.strip_suffix(".xz").unwrap_or(name);
            let Some(rest) = stem.strip_prefix("data_") else {
                continue;
            };
            let Some(subject) = rest.strip_suffix(&format!("_{sensor}_watch.txt")) else {
                continue;
            };
            let slot = map.entry(subject.to_string()).or_default();
            if sensor == "accel" {
                slot.0 = Some(path);
            } else {
                slot.1 = Some(path);
            }
        }
    }
    Ok(map.into_iter().map(|(s, (a, g))| (s, a, g)).collect())
}

fn parse(path: &Path, bytes: &[u8]) -> Result<Vec<(u32, Reading)>> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| ModelError::parse(path, 0, format!("not UTF-8 text: {e}")))?;
    let mut rows = Vec::with_capacity(text.len() / 55);
    let mut subject: Option<u32> = None;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let body = line.strip_suffix(';').unwrap_or(line);
        let fields: Vec<&str> = body.split(',').collect();
        if fields.len() != 6 {
            return Err(ModelError::parse(
                path,
                n,
                format!(
                    "expected 6 comma-separated fields (subject,activity,timestamp,x,y,z), found {}",
                    fields.len()
                ),
            ));
        }
        let sid: u32 = fields[0].trim().parse().map_err(|_| {
            ModelError::parse(
                path,
                n,
                format!("subject id '{}' is not an integer", fields[0]),
            )
        })?;
        match subject {
            None => subject = Some(sid),
            Some(s) if s != sid => {
                return Err(ModelError::parse(
                    path,
                    n,
                    format!("subject {sid} in a file of subject {s}"),
                ));
            }
            _ => {}
        }
        let code = fields[1].trim();
        let activity = match code.chars().collect::<Vec<_>>().as_slice() {
            [c] if activity_name(*c).is_some() => *c,
            _ => {
                return Err(ModelError::parse(
                    path,
                    n,
                    format!("unknown activity code '{code}' (expected A-S without N)"),
                ));
            }
        };
        let t_ns: i64 = fields[2].trim().parse().map_err(|_| {
            ModelError::parse(
                path,
                n,
                format!("timestamp '{}' is not an integer", fields[2]),
            )
        })?;
        let mut xyz = [0f32; 3];
        for (k, v) in xyz.iter_mut().enumerate() {
            let s = fields[3 + k].trim();
            *v = s
                .parse::<f32>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| {
                    ModelError::parse(path, n, format!("value '{s}' is not a finite number"))
                })?;
        }
        rows.push((
            sid,
            Reading {
                activity,
                t_ns,
                xyz,
            },
        ));
    }
    if rows.is_empty() {
        return Err(ModelError::NoData(format!(
            "{} holds no readings",
            path.display()
        )));
    }
    Ok(rows)
}

/// Contiguous runs of one activity code, in file order.
fn blocks(rows: &[(u32, Reading)]) -> Vec<(char, Vec<Reading>)> {
    let mut out: Vec<(char, Vec<Reading>)> = Vec::new();
    for (_, r) in rows {
        match out.last_mut() {
            Some((c, v)) if *c == r.activity => v.push(*r),
            _ => out.push((r.activity, vec![*r])),
        }
    }
    out
}

/// Gap-free stretches of a block: split where time goes backwards or jumps more than `MAX_GAP_NS`.
fn stretches(block: &[Reading]) -> Vec<&[Reading]> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..block.len() {
        let dt = block[i].t_ns.saturating_sub(block[i - 1].t_ns);
        if dt <= 0 || dt > MAX_GAP_NS {
            out.push(&block[start..i]);
            start = i;
        }
    }
    if start < block.len() {
        out.push(&block[start..]);
    }
    out
}

fn interpolate(s: &[Reading], t: i64, cursor: &mut usize) -> [f32; 3] {
    while *cursor + 1 < s.len() && s[*cursor + 1].t_ns <= t {
        *cursor += 1;
    }
    let a = s[*cursor];
    let Some(b) = s.get(*cursor + 1) else {
        return a.xyz;
    };
    let f = ((t - a.t_ns) as f64 / (b.t_ns - a.t_ns) as f64).clamp(0.0, 1.0) as f32;
    std::array::from_fn(|k| a.xyz[k] + f * (b.xyz[k] - a.xyz[k]))
}

fn align(subject: &str, accel: &[(u32, Reading)], gyro: &[(u32, Reading)]) -> Vec<Recording> {
    let a_blocks = blocks(accel);
    let g_blocks = blocks(gyro);
    let mut out = Vec::new();
    let mut seen: std::collections::HashMap<char, usize> = Default::default();
    for (code, a_block) in &a_blocks {
        // The n-th accel block of an activity pairs with the n-th gyro block of the same activity.
        let nth = seen.entry(*code).or_default();
        let Some((_, g_block)) = g_blocks.iter().filter(|(c, _)| c == code).nth(*nth) else {
            continue;
        };
        *nth += 1;
        let name = activity_name(*code).unwrap_or("unknown");
        for a in stretches(a_block) {
            for g in stretches(g_block) {
                let t0 = a[0].t_ns.max(g[0].t_ns);
                let t1 = a[a.len() - 1].t_ns.min(g[g.len() - 1].t_ns);
                if t1 <= t0 {
                    continue;
                }
                let (mut ca, mut cg) = (0, 0);
                let samples: Vec<_> = (0..=((t1 - t0) / STEP_NS))
                    .map(|k| {
                        let t = t0 + k * STEP_NS;
                        let av = interpolate(a, t, &mut ca);
                        let gv = interpolate(g, t, &mut cg);
                        [av[0], av[1], av[2], gv[0], gv[1], gv[2]]
                    })
                    .collect();
                out.push(Recording {
                    subject: subject.to_string(),
                    session: "watch".into(),
                    label: name.to_string(),
                    rate_hz: WISDM_RATE_HZ,
                    order: 0,
                    samples,
                });
            }
        }
    }
    out
}
