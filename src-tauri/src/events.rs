//! Events the core sends the window (`app.emit`): names and payloads. The UI's `ui/src/lib/core.ts`
//! mirrors these names; the payloads' TypeScript types are generated (`tests/ui_types.rs`).

use serde::Serialize;
use tauri::{AppHandle, Emitter};

/// The band connected, disconnected or was lost: [`BandState`].
pub const BAND_STATE: &str = "band:state";
/// A pairing waits for the code the band shows: `commands::pairing::PairingCode`.
pub const PAIRING_CODE: &str = "pairing:code";
/// Training progress: `train::Progress`.
pub const TRAIN_PROGRESS: &str = "train:progress";
/// Training finished: [`JobEnd`] with a `TrainResult`.
pub const TRAIN_DONE: &str = "train:done";
/// Calibration session events: `commands::calibrate::CalibrateEvent`.
pub const CALIBRATE_EVENT: &str = "calibrate:event";
/// A calibration session ended: [`JobEnd`].
pub const CALIBRATE_DONE: &str = "calibrate:done";
/// Raw IMU samples for the live chart, a few at a time: [`ImuBatch`].
pub const IMU_SAMPLES: &str = "imu:samples";
/// Flash progress.
pub const FLASH_PROGRESS: &str = "flash:progress";
/// Flash finished: [`JobEnd`].
pub const FLASH_DONE: &str = "flash:done";
/// A prediction from the band (live view).
pub const LIVE_PREDICTION: &str = "live:prediction";
/// The desktop's shadow check of a band window.
pub const LIVE_SHADOW: &str = "live:shadow";
/// The live view lost the band (link dropped or band silent) or got it back: `LiveLink`.
pub const LIVE_LINK: &str = "live:link";
/// The live view stopped: [`JobEnd`].
pub const LIVE_DONE: &str = "live:done";
/// [`crate::commands::sync::SyncProgressView`]: minutes stored so far by a sync.
pub const SYNC_PROGRESS: &str = "sync:progress";

/// Whether a band is connected.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct BandState {
    pub connected: bool,
    pub reason: BandStateReason,
    pub name: Option<String>,
}

/// Why the band's state changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum BandStateReason {
    Connected,
    /// The app disconnected (the user asked, or a job took the band over).
    Requested,
    /// The band went away on its own.
    Lost,
}

/// How a job ended: `ok` with its result, or the error.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum JobEnd<T> {
    Ok { result: T },
    Failed { error: super::UiError },
    Cancelled { error: super::UiError },
}

impl<T: Serialize> JobEnd<T> {
    pub fn of(result: Result<T, super::UiError>) -> Self {
        match result {
            Ok(result) => JobEnd::Ok { result },
            Err(error) if error.code == "cancelled" => JobEnd::Cancelled { error },
            Err(error) => JobEnd::Failed { error },
        }
    }
}

/// IMU samples in SI units (m/s², rad/s), oldest first, each `[t_ms, ax, ay, az, gx, gy, gz]`.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct ImuBatch {
    pub samples: Vec<[f32; 7]>,
}

/// Sends an event to the window; a closed window is not an error worth more than a log line.
pub fn emit<T: Serialize + Clone>(app: &AppHandle, event: &str, payload: T) {
    if let Err(e) = app.emit(event, payload) {
        tracing::debug!("cannot emit {event}: {e}");
    }
}
