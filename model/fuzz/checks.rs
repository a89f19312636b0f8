//! What each bandx-model fuzz target does with one input: the readers of files a user hands in
//! (a profile folder exported by BandX Studio, WISDM raw files, the generic CSV) must return
//! recordings or an error, never panic. Shared by the cargo-fuzz targets (nightly) and by
//! `model/tests/fuzz_corpus.rs`, which replays every committed seed on stable.

#![allow(dead_code)] // each fuzz target uses one check

use std::path::Path;

use bandx_model::readers::{app_export, csv, wisdm};

/// What a target does with one input.
pub type Check = fn(&[u8]);

/// Every target: its name (the corpus folder `corpus/<name>/`) and its check.
pub const TARGETS: [(&str, Check); 3] = [
    ("app_export_folder", app_export_folder),
    ("wisdm_subject", wisdm_subject),
    ("csv_file", csv_file),
];

/// A whole profile folder packed with `app_export::bundle` (`=== <path> <length>` sections).
pub fn app_export_folder(data: &[u8]) {
    let files = app_export::unbundle(data);
    if let Ok(recordings) = app_export::read_files(&files) {
        // Whatever was read is usable: samples, at a positive rate.
        for r in &recordings {
            assert!(!r.samples.is_empty() && r.rate_hz.is_finite() && r.rate_hz > 0.0);
        }
    }
}

/// A subject's accelerometer file, a NUL byte, then its gyroscope file (both WISDM raw text).
pub fn wisdm_subject(data: &[u8]) {
    let cut = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let (accel, gyro) = (&data[..cut], data.get(cut + 1..).unwrap_or_default());
    let _ = wisdm::read_subject_bytes(
        (Path::new("accel.txt"), accel),
        (Path::new("gyro.txt"), gyro),
    );
}

/// A generic CSV file (`subject,session,label,ax,ay,az,gx,gy,gz`), read at 50 Hz in g and °/s.
pub fn csv_file(data: &[u8]) {
    let options = csv::CsvOptions {
        rate_hz: 50.0,
        accel_unit: bandx_model::recording::AccelUnit::StandardGravity,
        gyro_unit: bandx_model::recording::GyroUnit::DegreesPerSecond,
    };
    let _ = csv::read_bytes(Path::new("data.csv"), data, options);
}
