//! Data screen: a profile's recordings, models and deployments; delete; export and import.

use std::path::PathBuf;

use serde::Serialize;
use tauri::State;

use crate::UiError;
use crate::state::AppState;
use bandx_desktop::store::{
    self, Deployment, ModelId, Profile, ProfileId, RecordingId, Store, StoreError, Verdict,
};

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct RecordingRow {
    pub id: RecordingId,
    /// The class recorded, or `None` for a free recording.
    pub class: Option<String>,
    pub started_at_ms: i64,
    pub samples: u64,
    pub seconds: f64,
    pub good_windows: usize,
    pub rejected_windows: usize,
}

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct ModelRow {
    pub id: ModelId,
    pub version: u32,
    pub classes: Vec<String>,
    pub created_at_ms: i64,
    pub bytes: usize,
    pub personal_accuracy: Option<f64>,
    /// Why the band cannot run this model with this build (made by another version), if so: the
    /// window shows it, refuses to flash it and offers to train again.
    pub outdated: Option<String>,
}

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct DeploymentRow {
    #[serde(flatten)]
    pub deployment: Deployment,
    pub model_version: Option<u32>,
    pub band_name: String,
}

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct DataOverview {
    pub recordings: Vec<RecordingRow>,
    pub models: Vec<ModelRow>,
    pub deployments: Vec<DeploymentRow>,
}

#[tauri::command]
pub async fn data_overview(
    state: State<'_, AppState>,
    profile: ProfileId,
) -> Result<DataOverview, UiError> {
    let store = state.store();
    Ok(overview(&store, profile)?)
}

/// What [`data_overview`] returns: the profile's recordings, models and deployments.
pub fn overview(store: &Store, profile: ProfileId) -> Result<DataOverview, StoreError> {
    let classes = store.classes(profile)?;
    let mut recordings = Vec::new();
    for r in store.recordings(profile)? {
        let windows = store.windows(r.id)?;
        let good = windows
            .iter()
            .filter(|w| w.verdict == Verdict::Good)
            .count();
        recordings.push(RecordingRow {
            id: r.id,
            class: r
                .class
                .and_then(|c| classes.iter().find(|k| k.id == c))
                .map(|c| c.name.clone()),
            started_at_ms: r.started_at_ms,
            samples: r.samples,
            seconds: r.samples as f64 / f64::from(r.sample_rate_hz),
            good_windows: good,
            rejected_windows: windows.len() - good,
        });
    }
    let models: Vec<ModelRow> = store
        .models(profile)?
        .into_iter()
        .map(|m| ModelRow {
            id: m.id,
            version: m.version,
            personal_accuracy: m.metrics.get("personal_accuracy").and_then(|v| v.as_f64()),
            classes: m.classes,
            created_at_ms: m.created_at_ms,
            bytes: m.blob.len(),
            outdated: m.outdated,
        })
        .collect();
    let mut deployments = Vec::new();
    for d in store.deployments(profile)? {
        let band_name = store.band(d.band).map_or_else(|_| "?".into(), |b| b.name);
        let model_version = d
            .model
            .and_then(|id| models.iter().find(|m| m.id == id))
            .map(|m| m.version);
        deployments.push(DeploymentRow {
            deployment: d,
            model_version,
            band_name,
        });
    }
    Ok(DataOverview {
        recordings,
        models,
        deployments,
    })
}

/// Deletes a recording with its calibration windows (the UI asks first).
#[tauri::command]
pub async fn delete_recording(
    state: State<'_, AppState>,
    recording: RecordingId,
) -> Result<(), UiError> {
    Ok(state.store().delete_recording(recording)?)
}

/// Deletes a model; its deployments stay in the history (the UI asks first).
#[tauri::command]
pub async fn delete_model(state: State<'_, AppState>, model: ModelId) -> Result<(), UiError> {
    Ok(state.store().delete_model(model)?)
}

/// Writes the profile as plain files (CSV + JSON + blobs) into a new folder `dir`.
#[tauri::command]
pub async fn export_profile(
    state: State<'_, AppState>,
    profile: ProfileId,
    dir: String,
) -> Result<String, UiError> {
    let dest = folder(&dir)?;
    let store = state.store();
    store::export_profile(&store, profile, &dest)?;
    state.remember_folder_of(&dest);
    Ok(dest.display().to_string())
}

/// Reads a folder written by export and adds it as a new profile.
#[tauri::command]
pub async fn import_profile(state: State<'_, AppState>, dir: String) -> Result<Profile, UiError> {
    let src = folder(&dir)?;
    let store = state.store();
    let id = store::import_profile(&store, &src)?;
    let profile = store.profile(id)?;
    drop(store);
    state.remember_folder_of(&src);
    Ok(profile)
}

/// An absolute folder path typed by the user (`~/` is the home directory).
pub(crate) fn folder(text: &str) -> Result<PathBuf, UiError> {
    let text = text.trim();
    let path = match text.strip_prefix("~/") {
        Some(rest) => match std::env::var_os("HOME") {
            Some(home) => PathBuf::from(home).join(rest),
            None => PathBuf::from(text),
        },
        None => PathBuf::from(text),
    };
    if text.is_empty() || !path.is_absolute() {
        return Err(UiError::new(
            "invalid",
            format!("\"{text}\" is not a full folder path"),
            "Type a path starting with / (or ~/ for your home folder)",
        ));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_folders_are_refused() {
        assert_eq!(folder("exports/me").unwrap_err().code, "invalid");
        assert_eq!(folder("  ").unwrap_err().code, "invalid");
        assert_eq!(folder(" /tmp/x ").unwrap(), PathBuf::from("/tmp/x"));
    }

    #[test]
    fn overview_counts_windows_per_recording() {
        let store = Store::open_in_memory().unwrap();
        let p = store.create_profile("me", 0).unwrap();
        let c = store.add_class(p, "walking", 0).unwrap();
        let r = store
            .create_recording(
                p,
                &store::NewRecording {
                    class: Some(c),
                    band: None,
                    started_at_ms: 0,
                    sample_rate_hz: 20.0,
                    full_scale: store::FullScale {
                        accel_g: 8,
                        gyro_dps: 1000,
                    },
                },
            )
            .unwrap();
        for (i, verdict) in [Verdict::Good, Verdict::Good, Verdict::Rejected]
            .into_iter()
            .enumerate()
        {
            store
                .add_window(
                    r,
                    &store::NewWindow {
                        start_index: i as u64 * 30,
                        verdict,
                        reason: None,
                    },
                )
                .unwrap();
        }
        let o = overview(&store, p).unwrap();
        assert_eq!(o.recordings.len(), 1);
        assert_eq!(o.recordings[0].class.as_deref(), Some("walking"));
        assert_eq!(
            (
                o.recordings[0].good_windows,
                o.recordings[0].rejected_windows
            ),
            (2, 1)
        );
        assert!(o.models.is_empty() && o.deployments.is_empty());
    }
}
