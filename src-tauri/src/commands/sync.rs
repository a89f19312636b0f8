//! The band's activity log synced into the store (`bandx_desktop::sync`): a command for a Sync button, with
//! progress events, and when the band was last synced (the Live screen's Sync, and the Bands screen on connect).

use bandx_desktop::store::{ProfileId, UnixMs};
use bandx_desktop::sync::{SyncError, SyncProgress, sync_log};
use serde::Serialize;
use tauri::{AppHandle, State};

use crate::error::UiError;
use crate::events;
use crate::state::AppState;

/// What a sync did, for the window.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct SyncView {
    /// Minutes stored by this sync.
    pub stored: u64,
    /// Sequence numbers the band overwrote before they were synced (`first`, `last`), if any.
    pub gap: Option<(u32, u32)>,
    /// Stored minutes whose time is unknown (logged after a restart of the band, before its clock was set).
    pub time_unknown: u64,
    /// When this band was last synced (now, after a sync that stored something).
    pub last_synced_ms: Option<UnixMs>,
}

fn sync_error(e: SyncError) -> UiError {
    match e {
        SyncError::Unsupported(why) => UiError::new(
            "no_log",
            format!("This band keeps no activity log ({why})"),
            "Update its firmware on the Flash screen to sync the minutes it records while away",
        ),
        SyncError::Band(e) => e.into(),
        SyncError::Store(e) => e.into(),
    }
}

/// Syncs the connected band's log into `profile`'s history, emitting [`events::SYNC_PROGRESS`].
#[tauri::command]
pub async fn sync_band(
    app: AppHandle,
    state: State<'_, AppState>,
    profile: ProfileId,
) -> Result<SyncView, UiError> {
    state.store().profile(profile)?;
    let band = state.connected().await?;
    let state = state.inner().clone();
    // On a blocking thread of its own, like the live job.
    tauri::async_runtime::spawn_blocking(move || {
        tauri::async_runtime::block_on(async {
            let report = sync_log(
                &band.client,
                &state.store,
                band.band_id,
                profile,
                &mut |p| events::emit(&app, events::SYNC_PROGRESS, SyncProgressView::from(p)),
            )
            .await
            .map_err(sync_error)?;
            Ok(SyncView {
                stored: report.stored,
                gap: report.gap,
                time_unknown: report.time_unknown,
                last_synced_ms: state.store().last_synced_at(band.band_id)?,
            })
        })
    })
    .await
    .map_err(|e| UiError::internal("The sync", e))?
}

/// [`SyncProgress`] for the window.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct SyncProgressView {
    pub stored: u64,
    pub total: u64,
}

impl From<SyncProgress> for SyncProgressView {
    fn from(p: SyncProgress) -> Self {
        SyncProgressView {
            stored: p.stored,
            total: p.total,
        }
    }
}
