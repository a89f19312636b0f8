//! A profile with everything it owns, free of database ids: references go by name (classes), address (bands),
//! version (models) or position (recordings). What export writes and import reads.

use std::collections::HashMap;

use super::{
    BandId, ClassId, DeploymentStatus, FullScale, ModelId, NewModel, NewRecording, ProfileId,
    RawSample, Store, StoreError, Transport, UnixMs, Verdict,
};

#[derive(Debug, Clone, PartialEq)]
pub struct ProfileArchive {
    pub name: String,
    pub created_at_ms: UnixMs,
    /// In the order they were added.
    pub classes: Vec<ArchivedClass>,
    /// Every band the profile's recordings, deployments and predictions refer to.
    pub bands: Vec<ArchivedBand>,
    /// Oldest first.
    pub recordings: Vec<ArchivedRecording>,
    /// By version.
    pub models: Vec<ArchivedModel>,
    pub deployments: Vec<ArchivedDeployment>,
    pub predictions: Vec<ArchivedPrediction>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ArchivedClass {
    pub name: String,
    pub created_at_ms: UnixMs,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ArchivedBand {
    pub address: String,
    pub name: String,
    pub first_seen_ms: UnixMs,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ArchivedRecording {
    /// Class name, if the recording has a class.
    pub class: Option<String>,
    /// Band address, if known.
    pub band: Option<String>,
    pub started_at_ms: UnixMs,
    pub sample_rate_hz: f32,
    pub full_scale: FullScale,
    pub samples: Vec<RawSample>,
    pub windows: Vec<ArchivedWindow>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivedWindow {
    pub start_index: u64,
    pub verdict: Verdict,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ArchivedModel {
    pub version: u32,
    pub backbone_id: String,
    pub classes: Vec<String>,
    pub metrics: serde_json::Value,
    pub blob: Vec<u8>,
    pub created_at_ms: UnixMs,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivedDeployment {
    pub model_version: Option<u32>,
    pub band: String,
    pub transport: Transport,
    pub status: DeploymentStatus,
    pub started_at_ms: UnixMs,
    pub finished_at_ms: Option<UnixMs>,
    pub bytes_total: u64,
    pub bytes_sent: u64,
    pub resumed_count: u32,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ArchivedPrediction {
    pub band: String,
    pub t_ms: UnixMs,
    pub class: String,
    pub confidence: f32,
    pub window_seq: u32,
}

impl Store {
    /// Everything the profile owns, as an id-free archive.
    pub fn load_archive(&self, profile: ProfileId) -> Result<ProfileArchive, StoreError> {
        let info = self.profile(profile)?;
        let classes = self.classes(profile)?;
        let class_names: HashMap<ClassId, String> =
            classes.iter().map(|c| (c.id, c.name.clone())).collect();

        let mut band_ids: Vec<BandId> = Vec::new();
        let mut band_address = |store: &Store, id: BandId| -> Result<String, StoreError> {
            if !band_ids.contains(&id) {
                band_ids.push(id);
            }
            Ok(store.band(id)?.address)
        };

        let mut recordings = Vec::new();
        for rec in self.recordings(profile)? {
            recordings.push(ArchivedRecording {
                class: rec
                    .class
                    .map(|c| {
                        class_names
                            .get(&c)
                            .cloned()
                            .ok_or_else(|| StoreError::Invalid {
                                what: "recording class",
                                reason: format!(
                                    "recording {} has a class of another profile",
                                    rec.id
                                ),
                            })
                    })
                    .transpose()?,
                band: rec.band.map(|b| band_address(self, b)).transpose()?,
                started_at_ms: rec.started_at_ms,
                sample_rate_hz: rec.sample_rate_hz,
                full_scale: rec.full_scale,
                samples: self.samples(rec.id)?,
                windows: self
                    .windows(rec.id)?
                    .into_iter()
                    .map(|w| ArchivedWindow {
                        start_index: w.start_index,
                        verdict: w.verdict,
                        reason: w.reason,
                    })
                    .collect(),
            });
        }

        let models = self.models(profile)?;
        let versions: HashMap<ModelId, u32> = models.iter().map(|m| (m.id, m.version)).collect();
        let mut deployments = Vec::new();
        for d in self.deployments(profile)? {
            deployments.push(ArchivedDeployment {
                model_version: d
                    .model
                    .map(|m| {
                        versions
                            .get(&m)
                            .copied()
                            .ok_or_else(|| StoreError::Invalid {
                                what: "deployment model",
                                reason: format!(
                                    "deployment {} has a model of another profile",
                                    d.id
                                ),
                            })
                    })
                    .transpose()?,
                band: band_address(self, d.band)?,
                transport: d.transport,
                status: d.status,
                started_at_ms: d.started_at_ms,
                finished_at_ms: d.finished_at_ms,
                bytes_total: d.bytes_total,
                bytes_sent: d.bytes_sent,
                resumed_count: d.resumed_count,
                error: d.error,
            });
        }
        let mut predictions = Vec::new();
        for p in self.predictions_between(profile, i64::MIN, i64::MAX)? {
            predictions.push(ArchivedPrediction {
                band: band_address(self, p.band)?,
                t_ms: p.t_ms,
                class: p.class,
                confidence: p.confidence,
                window_seq: p.window_seq,
            });
        }
        band_ids.sort();
        let bands = band_ids
            .into_iter()
            .map(|id| {
                let band = self.band(id)?;
                Ok(ArchivedBand {
                    address: band.address,
                    name: band.name,
                    first_seen_ms: band.first_seen_ms,
                })
            })
            .collect::<Result<_, StoreError>>()?;

        Ok(ProfileArchive {
            name: info.name,
            created_at_ms: info.created_at_ms,
            classes: classes
                .into_iter()
                .map(|c| ArchivedClass {
                    name: c.name,
                    created_at_ms: c.created_at_ms,
                })
                .collect(),
            bands,
            recordings,
            models: models
                .into_iter()
                .map(|m| ArchivedModel {
                    version: m.version,
                    backbone_id: m.backbone_id,
                    classes: m.classes,
                    metrics: m.metrics,
                    blob: m.blob,
                    created_at_ms: m.created_at_ms,
                })
                .collect(),
            deployments,
            predictions,
        })
    }

    /// Adds the archive as a new profile, all or nothing. Bands already known (same address) are reused as
    /// they are. Fails with [`StoreError::ProfileExists`] if a profile of that name exists.
    pub fn insert_archive(&self, archive: &ProfileArchive) -> Result<ProfileId, StoreError> {
        self.atomically(|| self.insert_archive_unchecked(archive))
    }

    fn insert_archive_unchecked(&self, archive: &ProfileArchive) -> Result<ProfileId, StoreError> {
        let profile = self.create_profile(&archive.name, archive.created_at_ms)?;

        let mut bands = HashMap::new();
        for band in &archive.bands {
            let id = self.upsert_band(&band.address, &band.name, band.first_seen_ms)?;
            bands.insert(band.address.as_str(), id);
        }
        let band = |address: &str| {
            bands
                .get(address)
                .copied()
                .ok_or_else(|| StoreError::Invalid {
                    what: "archive",
                    reason: format!("band {address:?} is not among the archive's bands"),
                })
        };

        let mut classes = HashMap::new();
        for class in &archive.classes {
            let id = self.add_class(profile, &class.name, class.created_at_ms)?;
            classes.insert(class.name.as_str(), id);
        }
        for rec in &archive.recordings {
            let class = match &rec.class {
                None => None,
                Some(name) => {
                    Some(
                        *classes
                            .get(name.as_str())
                            .ok_or_else(|| StoreError::Invalid {
                                what: "archive",
                                reason: format!("recording of unknown class {name:?}"),
                            })?,
                    )
                }
            };
            let id = self.create_recording(
                profile,
                &NewRecording {
                    class,
                    band: rec.band.as_deref().map(band).transpose()?,
                    started_at_ms: rec.started_at_ms,
                    sample_rate_hz: rec.sample_rate_hz,
                    full_scale: rec.full_scale,
                },
            )?;
            self.append_samples(id, &rec.samples)?;
            for w in &rec.windows {
                self.add_window(
                    id,
                    &super::NewWindow {
                        start_index: w.start_index,
                        verdict: w.verdict,
                        reason: w.reason.clone(),
                    },
                )?;
            }
        }

        let mut models = HashMap::new();
        for m in &archive.models {
            let id = self.insert_model(
                profile,
                m.version,
                &NewModel {
                    backbone_id: m.backbone_id.clone(),
                    classes: m.classes.clone(),
                    metrics: m.metrics.clone(),
                    blob: m.blob.clone(),
                    created_at_ms: m.created_at_ms,
                },
            )?;
            models.insert(m.version, id);
        }
        for d in &archive.deployments {
            let model = match d.model_version {
                None => None,
                Some(v) => Some(*models.get(&v).ok_or_else(|| StoreError::Invalid {
                    what: "archive",
                    reason: format!("deployment of unknown model version {v}"),
                })?),
            };
            let id = self.start_deployment(
                profile,
                &super::NewDeployment {
                    model,
                    band: band(&d.band)?,
                    transport: d.transport,
                    started_at_ms: d.started_at_ms,
                    bytes_total: d.bytes_total,
                },
            )?;
            self.update_deployment(
                id,
                &super::DeploymentUpdate {
                    status: d.status,
                    bytes_sent: d.bytes_sent,
                    resumed_count: d.resumed_count,
                    finished_at_ms: d.finished_at_ms,
                    error: d.error.clone(),
                },
            )?;
        }
        let predictions = archive
            .predictions
            .iter()
            .map(|p| {
                Ok(super::NewPrediction {
                    band: band(&p.band)?,
                    t_ms: p.t_ms,
                    class: p.class.clone(),
                    confidence: p.confidence,
                    window_seq: p.window_seq,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.add_predictions(profile, &predictions)?;
        Ok(profile)
    }
}
