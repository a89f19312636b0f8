//! A profile as plain files, so the user's data stays in the user's hands (the "bandx-profile" v1 format,
//! defined once in `bandx_model::profile_format`):
//!
//! ```text
//! <folder>/profile.json        format tag + version, profile name, creation time
//!          classes.json        activity classes, in order
//!          bands.json          bands referred to below, by address
//!          recordings.json     one entry per recording (id, class, band, rates, full scale, sample count)
//!          recordings/<id>.csv index,frame_seq,t_ms,ax,ay,az,gx,gy,gz   (raw i16 counts)
//!          windows.csv         recording,start_index,verdict,reason
//!          models.json         version, backbone, classes, metrics, blob size and SHA-256
//!          models/v<N>.bin     the model blobs
//!          deployments.csv     model_version,band,transport,status,started_at_ms,finished_at_ms,bytes_total,...
//!          predictions.csv     band,t_ms,class,confidence,window_seq
//! ```
//!
//! Import reads and checks every file before touching the store, then inserts in one transaction.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::archive::{
    ArchivedDeployment, ArchivedModel, ArchivedPrediction, ArchivedRecording, ArchivedWindow,
};
use super::{
    ArchiveError, ArchivedBand, ArchivedClass, DeploymentStatus, FullScale, ProfileArchive,
    ProfileId, RawSample, Store, Transport, Verdict,
};

// The format's one definition (file names, manifests, rows), shared with bandx-model's reader.
use bandx_model::profile_format::{
    CsvRow, FORMAT, FORMAT_VERSION, ModelEntry, PredictionRow, ProfileManifest as ProfileFile,
    RecordingEntry, SampleRow, model_file, recording_file,
};

type WindowRow = bandx_model::profile_format::WindowRow<Verdict>;
type DeploymentRow = bandx_model::profile_format::DeploymentRow<Transport, DeploymentStatus>;

/// Writes the profile to a new folder `dest` (which must not exist yet). The folder appears complete or not at all.
pub fn export_profile(store: &Store, profile: ProfileId, dest: &Path) -> Result<(), ArchiveError> {
    let archive = store.load_archive(profile)?;
    archive.write_dir(dest)
}

/// Reads a folder written by [`export_profile`] and adds it to the store as a new profile.
/// On any error nothing is added.
pub fn import_profile(store: &Store, src: &Path) -> Result<ProfileId, ArchiveError> {
    let archive = ProfileArchive::read_dir(src)?;
    store
        .insert_archive(&archive)
        .map_err(|source| ArchiveError::Rejected {
            path: src.to_path_buf(),
            source,
        })
}

fn sha256_hex(bytes: &[u8]) -> String {
    crate::hex::encode(&Sha256::digest(bytes))
}

impl ProfileArchive {
    /// Writes the archive as a new folder `dest`: first into a sibling temporary folder, then renamed.
    pub fn write_dir(&self, dest: &Path) -> Result<(), ArchiveError> {
        if dest.exists() {
            return Err(ArchiveError::DestinationExists {
                path: dest.to_path_buf(),
            });
        }
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dest.with_file_name(format!(".{name}.partial-{}", std::process::id()));
        let _ = fs::remove_dir_all(&tmp);
        let written = self.write_files(&tmp).and_then(|()| {
            fs::rename(&tmp, dest).map_err(|source| ArchiveError::Io {
                path: dest.to_path_buf(),
                source,
            })
        });
        if written.is_err() {
            let _ = fs::remove_dir_all(&tmp);
        }
        written
    }

    fn write_files(&self, dir: &Path) -> Result<(), ArchiveError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| ArchiveError::Io { path, source }
        };
        for sub in ["", "recordings", "models"] {
            let path = dir.join(sub);
            fs::create_dir_all(&path).map_err(io(&path))?;
        }
        write_json(
            dir,
            "profile.json",
            &ProfileFile {
                format: FORMAT.into(),
                format_version: FORMAT_VERSION,
                name: self.name.clone(),
                created_at_ms: self.created_at_ms,
            },
        )?;
        write_json(dir, "classes.json", &self.classes)?;
        write_json(dir, "bands.json", &self.bands)?;

        let mut entries = Vec::new();
        let mut windows = Vec::new();
        for (i, rec) in self.recordings.iter().enumerate() {
            let id = format!("{:04}", i + 1);
            write_csv(
                dir,
                &recording_file(&id),
                rec.samples.iter().enumerate().map(|(index, s)| SampleRow {
                    index: index as u64,
                    frame_seq: s.frame_seq,
                    t_ms: s.t_ms,
                    ax: s.accel[0],
                    ay: s.accel[1],
                    az: s.accel[2],
                    gx: s.gyro[0],
                    gy: s.gyro[1],
                    gz: s.gyro[2],
                }),
            )?;
            windows.extend(rec.windows.iter().map(|w| WindowRow {
                recording: id.clone(),
                start_index: w.start_index,
                verdict: w.verdict,
                reason: w.reason.clone(),
            }));
            entries.push(RecordingEntry {
                id,
                class: rec.class.clone(),
                band: rec.band.clone(),
                started_at_ms: rec.started_at_ms,
                sample_rate_hz: rec.sample_rate_hz,
                accel_range_g: rec.full_scale.accel_g,
                gyro_range_dps: rec.full_scale.gyro_dps,
                samples: rec.samples.len() as u64,
            });
        }
        write_json(dir, "recordings.json", &entries)?;
        write_csv(dir, Path::new("windows.csv"), windows)?;

        let mut models = Vec::new();
        for m in &self.models {
            let path = dir.join(model_file(m.version));
            fs::write(&path, &m.blob).map_err(io(&path))?;
            models.push(ModelEntry {
                version: m.version,
                backbone_id: m.backbone_id.clone(),
                classes: m.classes.clone(),
                metrics: m.metrics.clone(),
                created_at_ms: m.created_at_ms,
                bytes: m.blob.len() as u64,
                sha256: sha256_hex(&m.blob),
            });
        }
        write_json(dir, "models.json", &models)?;
        write_csv(
            dir,
            Path::new("deployments.csv"),
            self.deployments.iter().map(|d| DeploymentRow {
                model_version: d.model_version,
                band: d.band.clone(),
                transport: d.transport,
                status: d.status,
                started_at_ms: d.started_at_ms,
                finished_at_ms: d.finished_at_ms,
                bytes_total: d.bytes_total,
                bytes_sent: d.bytes_sent,
                resumed_count: d.resumed_count,
                error: d.error.clone(),
            }),
        )?;
        write_csv(
            dir,
            Path::new("predictions.csv"),
            self.predictions.iter().map(|p| PredictionRow {
                band: p.band.clone(),
                t_ms: p.t_ms,
                class: p.class.clone(),
                confidence: p.confidence,
                window_seq: p.window_seq,
            }),
        )?;
        Ok(())
    }

    /// Reads and checks an exported folder completely, without touching any store.
    pub fn read_dir(dir: &Path) -> Result<Self, ArchiveError> {
        let profile: ProfileFile = read_json(dir, "profile.json")?;
        if profile.format != FORMAT || profile.format_version != FORMAT_VERSION {
            return Err(ArchiveError::Format {
                path: dir.join("profile.json"),
                found: profile.format,
                version: profile.format_version,
                expected: FORMAT,
                supported: FORMAT_VERSION,
            });
        }
        let classes: Vec<ArchivedClass> = read_json(dir, "classes.json")?;
        let bands: Vec<ArchivedBand> = read_json(dir, "bands.json")?;
        let band_addresses: HashSet<&str> = bands.iter().map(|b| b.address.as_str()).collect();
        let class_names: HashSet<&str> = classes.iter().map(|c| c.name.as_str()).collect();
        let check_band = |path: &str, band: &str| {
            if band_addresses.contains(band) {
                Ok(())
            } else {
                Err(inconsistent(
                    dir,
                    path,
                    format!("band {band:?} is not listed in bands.json"),
                ))
            }
        };

        let entries: Vec<RecordingEntry> = read_json(dir, "recordings.json")?;
        let mut recordings = Vec::new();
        let mut by_id = HashMap::new();
        for entry in entries {
            let valid_id = !entry.id.is_empty()
                && entry.id.len() <= 64
                && entry
                    .id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !valid_id {
                return Err(inconsistent(
                    dir,
                    "recordings.json",
                    format!("bad recording id {:?}", entry.id),
                ));
            }
            if let Some(class) = &entry.class
                && !class_names.contains(class.as_str())
            {
                return Err(inconsistent(
                    dir,
                    "recordings.json",
                    format!(
                        "recording {} has class {class:?}, not listed in classes.json",
                        entry.id
                    ),
                ));
            }
            if let Some(band) = &entry.band {
                check_band("recordings.json", band)?;
            }
            let file = recording_file(&entry.id);
            let rows: Vec<SampleRow> = read_csv(dir, &file)?;
            if rows.len() as u64 != entry.samples {
                return Err(inconsistent(
                    dir,
                    &file.to_string_lossy(),
                    format!(
                        "holds {} samples, recordings.json says {} (file truncated?)",
                        rows.len(),
                        entry.samples
                    ),
                ));
            }
            let mut samples = Vec::with_capacity(rows.len());
            for (i, row) in rows.into_iter().enumerate() {
                if row.index != i as u64 {
                    return Err(inconsistent(
                        dir,
                        &file.to_string_lossy(),
                        format!("sample index {} where {i} was expected", row.index),
                    ));
                }
                samples.push(RawSample {
                    frame_seq: row.frame_seq,
                    t_ms: row.t_ms,
                    accel: [row.ax, row.ay, row.az],
                    gyro: [row.gx, row.gy, row.gz],
                });
            }
            if by_id.insert(entry.id.clone(), recordings.len()).is_some() {
                return Err(inconsistent(
                    dir,
                    "recordings.json",
                    format!("recording id {} twice", entry.id),
                ));
            }
            recordings.push(ArchivedRecording {
                class: entry.class,
                band: entry.band,
                started_at_ms: entry.started_at_ms,
                sample_rate_hz: entry.sample_rate_hz,
                full_scale: FullScale {
                    accel_g: entry.accel_range_g,
                    gyro_dps: entry.gyro_range_dps,
                },
                samples,
                windows: Vec::new(),
            });
        }
        for row in read_csv::<WindowRow>(dir, Path::new("windows.csv"))? {
            let rec = by_id.get(&row.recording).ok_or_else(|| {
                inconsistent(
                    dir,
                    "windows.csv",
                    format!("window of unknown recording {:?}", row.recording),
                )
            })?;
            recordings[*rec].windows.push(ArchivedWindow {
                start_index: row.start_index,
                verdict: row.verdict,
                reason: row.reason,
            });
        }

        let entries: Vec<ModelEntry> = read_json(dir, "models.json")?;
        let mut models = Vec::new();
        let mut versions = HashSet::new();
        for entry in entries {
            if !versions.insert(entry.version) {
                return Err(inconsistent(
                    dir,
                    "models.json",
                    format!("model version {} twice", entry.version),
                ));
            }
            let file = model_file(entry.version);
            let path = dir.join(&file);
            let blob = read_file(&path)?;
            if blob.len() as u64 != entry.bytes
                || sha256_hex(&blob) != entry.sha256.to_ascii_lowercase()
            {
                return Err(ArchiveError::Checksum { path });
            }
            models.push(ArchivedModel {
                version: entry.version,
                backbone_id: entry.backbone_id,
                classes: entry.classes,
                metrics: entry.metrics,
                blob,
                created_at_ms: entry.created_at_ms,
            });
        }

        let mut deployments = Vec::new();
        for row in read_csv::<DeploymentRow>(dir, Path::new("deployments.csv"))? {
            check_band("deployments.csv", &row.band)?;
            if let Some(v) = row.model_version
                && !versions.contains(&v)
            {
                return Err(inconsistent(
                    dir,
                    "deployments.csv",
                    format!("deployment of unknown model version {v}"),
                ));
            }
            deployments.push(ArchivedDeployment {
                model_version: row.model_version,
                band: row.band,
                transport: row.transport,
                status: row.status,
                started_at_ms: row.started_at_ms,
                finished_at_ms: row.finished_at_ms,
                bytes_total: row.bytes_total,
                bytes_sent: row.bytes_sent,
                resumed_count: row.resumed_count,
                error: row.error,
            });
        }
        let mut predictions = Vec::new();
        for row in read_csv::<PredictionRow>(dir, Path::new("predictions.csv"))? {
            check_band("predictions.csv", &row.band)?;
            if !(0.0..=1.0).contains(&row.confidence) {
                return Err(inconsistent(
                    dir,
                    "predictions.csv",
                    format!("confidence {} is not in [0, 1]", row.confidence),
                ));
            }
            predictions.push(ArchivedPrediction {
                band: row.band,
                t_ms: row.t_ms,
                class: row.class,
                confidence: row.confidence,
                window_seq: row.window_seq,
            });
        }

        Ok(ProfileArchive {
            name: profile.name,
            created_at_ms: profile.created_at_ms,
            classes,
            bands,
            recordings,
            models,
            deployments,
            predictions,
        })
    }
}

fn inconsistent(dir: &Path, file: &str, reason: String) -> ArchiveError {
    ArchiveError::Inconsistent {
        path: dir.join(file),
        reason,
    }
}

/// A file of an export, at most [`crate::files::IMPORT_FILE_CAP`] bytes.
fn read_file(path: &Path) -> Result<Vec<u8>, ArchiveError> {
    use crate::files::{FileError, IMPORT_FILE_CAP, read_capped};
    read_capped(path, IMPORT_FILE_CAP, "file of an exported profile").map_err(|e| match e {
        FileError::Io { path, source } => io_error(&path, source),
        too_large => ArchiveError::TooLarge(too_large),
    })
}

fn io_error(path: &Path, source: std::io::Error) -> ArchiveError {
    if source.kind() == std::io::ErrorKind::NotFound {
        ArchiveError::Missing {
            path: path.to_path_buf(),
        }
    } else {
        ArchiveError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

fn write_json(dir: &Path, file: &str, value: &impl Serialize) -> Result<(), ArchiveError> {
    let path = dir.join(file);
    let text = serde_json::to_string_pretty(value).map_err(|source| ArchiveError::Json {
        path: path.clone(),
        source,
    })?;
    fs::write(&path, text + "\n").map_err(|source| ArchiveError::Io { path, source })
}

fn read_json<T: serde::de::DeserializeOwned>(dir: &Path, file: &str) -> Result<T, ArchiveError> {
    let path = dir.join(file);
    let text = read_file(&path)?;
    serde_json::from_slice(&text).map_err(|source| ArchiveError::Json { path, source })
}

fn write_csv<T: CsvRow>(
    dir: &Path,
    file: &Path,
    rows: impl IntoIterator<Item = T>,
) -> Result<(), ArchiveError> {
    let path = dir.join(file);
    let csv_error = |source| ArchiveError::Csv {
        path: path.clone(),
        source,
    };
    let mut writer = csv::WriterBuilder::new()
        .has_headers(false)
        .from_path(&path)
        .map_err(csv_error)?;
    writer.write_record(T::HEADER).map_err(csv_error)?;
    for row in rows {
        writer.serialize(row).map_err(csv_error)?;
    }
    writer.flush().map_err(|source| ArchiveError::Io {
        path: path.clone(),
        source,
    })
}

fn read_csv<T: serde::de::DeserializeOwned>(
    dir: &Path,
    file: &Path,
) -> Result<Vec<T>, ArchiveError> {
    let path = dir.join(file);
    let text = read_file(&path)?;
    csv::Reader::from_reader(text.as_slice())
        .deserialize()
        .collect::<Result<_, _>>()
        .map_err(|source| ArchiveError::Csv { path, source })
}
