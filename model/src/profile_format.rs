//! The profile export format, "bandx-profile" version 1: the one definition of its file names,
//! manifests and rows. BandX Studio's store writes and imports folders with these types
//! (`src-tauri/src/store/export.rs`); this crate's reader ([`crate::readers::app_export`]) reads them.
//!
//! ```text
//! <folder>/profile.json        ProfileManifest   {"format": "bandx-profile", "format_version": 1, "name", "created_at_ms"}
//!          classes.json        [ClassEntry]      activity classes, in order
//!          bands.json          [BandEntry]       bands referred to below, by address
//!          recordings.json     [RecordingEntry]  id, class, band, rate, full scale, sample count
//!          recordings/<id>.csv SampleRow         index,frame_seq,t_ms,ax,ay,az,gx,gy,gz   (raw i16 counts)
//!          windows.csv         WindowRow         recording,start_index,verdict,reason
//!          models.json         [ModelEntry]      version, backbone, classes, metrics, blob size and SHA-256
//!          models/v<N>.bin     the model blobs
//!          deployments.csv     DeploymentRow     model_version,band,transport,status,started_at_ms,...
//!          predictions.csv     PredictionRow     band,t_ms,class,confidence,window_seq
//! ```
//!
//! JSON files are written pretty-printed with a final newline; every CSV file starts with its
//! [`CsvRow::HEADER`], even without rows. Field order and names here are the bytes on disk: change
//! them only with a new [`FORMAT_VERSION`].

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The format tag in `profile.json`.
pub const FORMAT: &str = "bandx-profile";
/// The version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

pub const PROFILE_FILE: &str = "profile.json";
pub const CLASSES_FILE: &str = "classes.json";
pub const BANDS_FILE: &str = "bands.json";
pub const RECORDINGS_FILE: &str = "recordings.json";
pub const RECORDINGS_DIR: &str = "recordings";
pub const WINDOWS_FILE: &str = "windows.csv";
pub const MODELS_FILE: &str = "models.json";
pub const MODELS_DIR: &str = "models";
pub const DEPLOYMENTS_FILE: &str = "deployments.csv";
pub const PREDICTIONS_FILE: &str = "predictions.csv";

/// Longest recording id (ids name files, see [`is_valid_recording_id`]).
pub const MAX_RECORDING_ID_LEN: usize = 64;

/// Milliseconds since the Unix epoch.
pub type UnixMs = i64;

/// `recordings/<id>.csv`, relative to the folder.
pub fn recording_file(id: &str) -> PathBuf {
    Path::new(RECORDINGS_DIR).join(format!("{id}.csv"))
}

/// `models/v<version>.bin`, relative to the folder.
pub fn model_file(version: u32) -> PathBuf {
    Path::new(MODELS_DIR).join(format!("v{version}.bin"))
}

/// The id the writer gives the `index`-th recording (0-based): `0001`, `0002`, ...
pub fn recording_id(index: usize) -> String {
    format!("{:04}", index + 1)
}

/// Whether `id` can name a file inside `recordings/`: 1 to [`MAX_RECORDING_ID_LEN`] ASCII
/// letters, digits, `_` or `-` (nothing that could leave the folder).
pub fn is_valid_recording_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_RECORDING_ID_LEN
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// `profile.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileManifest {
    pub format: String,
    pub format_version: u32,
    pub name: String,
    pub created_at_ms: UnixMs,
}

impl ProfileManifest {
    /// The manifest of a profile written by this build.
    pub fn new(name: impl Into<String>, created_at_ms: UnixMs) -> ProfileManifest {
        ProfileManifest {
            format: FORMAT.into(),
            format_version: FORMAT_VERSION,
            name: name.into(),
            created_at_ms,
        }
    }

    /// Whether this build reads the folder (format tag and version).
    pub fn is_supported(&self) -> bool {
        self.format == FORMAT && self.format_version == FORMAT_VERSION
    }
}

/// One entry of `classes.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassEntry {
    pub name: String,
    pub created_at_ms: UnixMs,
}

/// One entry of `bands.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BandEntry {
    pub address: String,
    pub name: String,
    pub first_seen_ms: UnixMs,
}

/// One entry of `recordings.json`; its samples are in [`recording_file`]`(id)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordingEntry {
    pub id: String,
    /// Class name (listed in `classes.json`); none for a free recording.
    pub class: Option<String>,
    /// Band address (listed in `bands.json`), if known.
    pub band: Option<String>,
    pub started_at_ms: UnixMs,
    pub sample_rate_hz: f32,
    /// Accelerometer full scale, ±g.
    pub accel_range_g: u16,
    /// Gyroscope full scale, ±°/s.
    pub gyro_range_dps: u16,
    /// Rows in the recording's sample file.
    pub samples: u64,
}

/// One row of `recordings/<id>.csv`: a raw 6-axis reading as the band sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SampleRow {
    /// 0, 1, 2, ... in file order.
    pub index: u64,
    /// Sequence number of the BLE frame that carried the sample (gaps = lost frames).
    pub frame_seq: u32,
    /// The band's timestamp of the sample.
    pub t_ms: i64,
    pub ax: i16,
    pub ay: i16,
    pub az: i16,
    pub gx: i16,
    pub gy: i16,
    pub gz: i16,
}

/// A calibration window's verdict, as written in `windows.csv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Good,
    Rejected,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Good => "good",
            Verdict::Rejected => "rejected",
        }
    }

    pub fn parse(text: &str) -> Option<Verdict> {
        match text {
            "good" => Some(Verdict::Good),
            "rejected" => Some(Verdict::Rejected),
            _ => None,
        }
    }
}

/// One row of `windows.csv`: a calibration window of `start_index..start_index + 60` samples.
/// `V` is how the verdict is held (the store keeps its own enum; the text is `good` or `rejected`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowRow<V = Verdict> {
    pub recording: String,
    pub start_index: u64,
    pub verdict: V,
    /// Why a window was rejected (empty for a good one).
    pub reason: Option<String>,
}

/// One entry of `models.json`; the blob is [`model_file`]`(version)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    pub version: u32,
    pub backbone_id: String,
    pub classes: Vec<String>,
    pub metrics: serde_json::Value,
    pub created_at_ms: UnixMs,
    /// Blob length in bytes.
    pub bytes: u64,
    /// Lower-case hex SHA-256 of the blob.
    pub sha256: String,
}

/// One row of `deployments.csv`. `T` and `S` hold the transport (`ble_model`, `ble_firmware`,
/// `usb`) and status (`pending`, `transferring`, `committed`, `verified`, `failed`, `cancelled`):
/// the store's enums, or plain text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentRow<T = String, S = String> {
    pub model_version: Option<u32>,
    pub band: String,
    pub transport: T,
    pub status: S,
    pub started_at_ms: UnixMs,
    pub finished_at_ms: Option<UnixMs>,
    pub bytes_total: u64,
    pub bytes_sent: u64,
    pub resumed_count: u32,
    pub error: Option<String>,
}

/// One row of `predictions.csv`: what a band recognized.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictionRow {
    pub band: String,
    pub t_ms: UnixMs,
    pub class: String,
    /// In `[0, 1]`.
    pub confidence: f32,
    pub window_seq: u32,
}

/// A row type of one of the CSV files, with the header line the file starts with (written even
/// when there are no rows, so a reader always knows the columns).
pub trait CsvRow: Serialize {
    const HEADER: &'static [&'static str];
}

impl CsvRow for SampleRow {
    const HEADER: &'static [&'static str] = &[
        "index",
        "frame_seq",
        "t_ms",
        "ax",
        "ay",
        "az",
        "gx",
        "gy",
        "gz",
    ];
}

impl<V: Serialize> CsvRow for WindowRow<V> {
    const HEADER: &'static [&'static str] = &["recording", "start_index", "verdict", "reason"];
}

impl<T: Serialize, S: Serialize> CsvRow for DeploymentRow<T, S> {
    const HEADER: &'static [&'static str] = &[
        "model_version",
        "band",
        "transport",
        "status",
        "started_at_ms",
        "finished_at_ms",
        "bytes_total",
        "bytes_sent",
        "resumed_count",
        "error",
    ];
}

impl CsvRow for PredictionRow {
    const HEADER: &'static [&'static str] = &["band", "t_ms", "class", "confidence", "window_seq"];
}

#[cfg(test)]
mod tests;
