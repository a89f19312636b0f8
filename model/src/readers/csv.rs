//! The generic wrist CSV: header `subject,session,label,ax,ay,az,gx,gy,gz`, rows in time order
//! within a session, at a known uniform rate and units given by the caller.

use std::path::Path;

use super::{InputFile, read_file_bytes};
use crate::error::{ModelError, Result};
use crate::recording::{AccelUnit, GyroUnit, Recording, number_in_order};

pub const HEADER: [&str; 9] = [
    "subject", "session", "label", "ax", "ay", "az", "gx", "gy", "gz",
];

#[derive(Debug, Clone, Copy)]
pub struct CsvOptions {
    pub rate_hz: f32,
    pub accel_unit: AccelUnit,
    pub gyro_unit: GyroUnit,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            rate_hz: 20.0,
            accel_unit: AccelUnit::MetersPerSecond2,
            gyro_unit: GyroUnit::RadiansPerSecond,
        }
    }
}

pub fn read_file(path: &Path, options: CsvOptions) -> Result<(Vec<Recording>, InputFile)> {
    if !(options.rate_hz.is_finite() && options.rate_hz > 0.0) {
        return Err(ModelError::InvalidInput(format!(
            "--rate must be a positive number of Hz, got {}",
            options.rate_hz
        )));
    }
    let (bytes, input) = read_file_bytes(path)?;
    Ok((read_bytes(path, &bytes, options)?, input))
}

/// [`read_file`] on the file's (decompressed) bytes; `path` only names it in errors.
pub fn read_bytes(path: &Path, bytes: &[u8], options: CsvOptions) -> Result<Vec<Recording>> {
    if !(options.rate_hz.is_finite() && options.rate_hz > 0.0) {
        return Err(ModelError::InvalidInput(format!(
            "--rate must be a positive number of Hz, got {}",
            options.rate_hz
        )));
    }
    let mut reader = ::csv::ReaderBuilder::new()
        .trim(::csv::Trim::All)
        .from_reader(bytes);
    let header = reader
        .headers()
        .map_err(|e| ModelError::parse(path, 1, e.to_string()))?
        .clone();
    let found: Vec<&str> = header.iter().collect();
    if found != HEADER {
        return Err(ModelError::parse(
            path,
            1,
            format!(
                "header must be '{}', found '{}'",
                HEADER.join(","),
                found.join(",")
            ),
        ));
    }
    let mut recordings: Vec<Recording> = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = record.map_err(|e| ModelError::parse(path, line, e.to_string()))?;
        if record.len() != HEADER.len() {
            return Err(ModelError::parse(
                path,
                line,
                format!("expected 9 fields, found {}", record.len()),
            ));
        }
        let (subject, session, label) = (&record[0], &record[1], &record[2]);
        if subject.is_empty() || label.is_empty() {
            return Err(ModelError::parse(
                path,
                line,
                "subject and label must not be empty",
            ));
        }
        let mut sample = [0f32; 6];
        for (k, v) in sample.iter_mut().enumerate() {
            let s = &record[3 + k];
            let x: f32 = s
                .parse()
                .ok()
                .filter(|x: &f32| x.is_finite())
                .ok_or_else(|| {
                    ModelError::parse(
                        path,
                        line,
                        format!("{} = '{s}' is not a finite number", HEADER[3 + k]),
                    )
                })?;
            *v = if k < 3 {
                options.accel_unit.to_si(x)
            } else {
                options.gyro_unit.to_si(x)
            };
        }
        match recordings.last_mut() {
            Some(r) if r.subject == subject && r.session == session && r.label == label => {
                r.samples.push(sample)
            }
            _ => recordings.push(Recording {
                subject: subject.to_string(),
                session: session.to_string(),
                label: label.to_string(),
                rate_hz: options.rate_hz,
                order: 0,
                samples: vec![sample],
            }),
        }
    }
    if recordings.is_empty() {
        return Err(ModelError::NoData(format!(
            "{} has a header but no rows",
            path.display()
        )));
    }
    number_in_order(&mut recordings);
    Ok(recordings)
}
