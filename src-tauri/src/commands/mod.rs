//! The Tauri commands, one file per screen.

pub mod bands;
pub mod calibrate;
pub mod data;
pub mod dialogs;
pub mod flash;
pub mod live;
pub mod pairing;
pub mod profiles;
pub mod settings;
pub mod sync;
pub mod train;

use tauri::State;

use super::state::{AppState, JobKind};

/// Asks the running job of `kind` to stop; returns whether one was running. The job ends with a
/// `cancelled` outcome on its done event.
#[tauri::command]
pub fn cancel_job(state: State<'_, AppState>, kind: JobKind) -> bool {
    state.jobs.cancel(kind)
}
