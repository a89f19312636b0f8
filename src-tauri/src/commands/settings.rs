//! Settings screen: the data folder (moved safely: copy, verify, then switch), the USB serial port (listed
//! from the system, ESP32 bridges named), the theme, "forget this band", and the logs ("Open logs folder").
//! The same settings file and checks as `bandx config`.

use std::path::Path;

use serde::Serialize;
use tauri::State;

use crate::UiError;
use crate::state::{AppState, DATA_DIR_ENV};
use bandx_desktop::deploy::usb::{self, SystemPort};
use bandx_desktop::settings::Settings;

/// What the Settings screen shows.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct SettingsView {
    pub settings: Settings,
    /// Why the settings file is not in use (it is bad: the defaults are), until new settings are saved.
    pub problem: Option<String>,
    /// The data folder in use.
    pub data_dir: String,
    /// `BANDX_DATA_DIR` decides the data folder: it cannot be moved from the window.
    pub data_dir_fixed: bool,
    pub logs_folder: String,
    /// Where the settings are saved (`None`: they are not).
    pub settings_file: Option<String>,
}

/// A finished move of the data folder.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct MoveResult {
    pub view: SettingsView,
    /// The folder the data was copied from; it is kept until the user deletes it.
    pub old_dir: String,
    pub files: usize,
    pub rows: u64,
}

fn view(state: &AppState) -> SettingsView {
    let file = state.settings();
    let data = state.data();
    SettingsView {
        settings: file.current,
        problem: file.problem,
        data_dir: data.root().display().to_string(),
        data_dir_fixed: data_dir_fixed(),
        logs_folder: data.logs_dir().display().to_string(),
        settings_file: file.path.map(|p| p.display().to_string()),
    }
}

fn data_dir_fixed() -> bool {
    std::env::var_os(DATA_DIR_ENV).is_some_and(|v| !v.is_empty())
}

#[tauri::command]
pub fn get_settings(state: State<'_, AppState>) -> SettingsView {
    view(&state)
}

/// Sets one setting (`serial_port`, `theme`, `band`; the data folder moves with [`move_data_dir`]).
#[tauri::command]
pub fn set_setting(
    state: State<'_, AppState>,
    key: String,
    value: String,
) -> Result<SettingsView, UiError> {
    if key == "data_dir" {
        return Err(UiError::new(
            "invalid",
            "The data folder is moved, not just set",
            "Use Move data",
        ));
    }
    state.update_settings(|s| s.set(&key, &value))?;
    Ok(view(&state))
}

/// Forgets the remembered band (the app no longer offers to reconnect to it).
#[tauri::command]
pub fn forget_band(state: State<'_, AppState>) -> Result<SettingsView, UiError> {
    state.update_settings(|s| {
        s.band = None;
        Ok(())
    })?;
    Ok(view(&state))
}

/// Every serial port on this machine, the ESP32 USB bridges first and named.
#[tauri::command]
pub async fn serial_ports() -> Result<Vec<SystemPort>, UiError> {
    tauri::async_runtime::spawn_blocking(usb::list_system_ports)
        .await
        .map_err(|e| UiError::internal("Listing the serial ports", e))?
        .map_err(|e| {
            UiError::new(
                "serial",
                format!("Cannot list the serial ports ({e})"),
                "Type the port's path instead",
            )
        })
}

/// Moves the data folder to `dir` (new or empty): copy, verify, then switch. Refused while a band is
/// connected or a job runs.
#[tauri::command]
pub async fn move_data_dir(state: State<'_, AppState>, dir: String) -> Result<MoveResult, UiError> {
    if data_dir_fixed() {
        return Err(UiError::new(
            "invalid",
            format!("{DATA_DIR_ENV} sets the data folder"),
            format!("Unset {DATA_DIR_ENV} to choose it here"),
        ));
    }
    let dest = super::data::folder(&dir)?;
    let mut links = state.links.lock().await;
    if state.band.lock().await.is_some()
        || state
            .band_user
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    {
        return Err(UiError::new(
            "busy",
            "A band is connected",
            "Disconnect it on the Bands screen, then move the data",
        ));
    }
    if let Some(kind) = [
        crate::state::JobKind::Train,
        crate::state::JobKind::Calibrate,
        crate::state::JobKind::Flash,
        crate::state::JobKind::Live,
    ]
    .into_iter()
    .find(|k| state.jobs.is_running(*k))
    {
        return Err(UiError::busy(kind.label()));
    }
    let old_dir = state.data().root().display().to_string();
    let inner = state.inner().clone();
    let moved = tauri::async_runtime::spawn_blocking(move || inner.move_data(&dest))
        .await
        .map_err(|e| UiError::internal("Moving the data", e))??;
    // The virtual band's flash moved too: its link reopens from the new folder when next used.
    links.sim = None;
    Ok(MoveResult {
        view: view(&state),
        old_dir,
        files: moved.files,
        rows: moved.rows,
    })
}

/// Environment variable naming the program that opens a folder instead of the system's (`xdg-open`
/// on Linux): the e2e test stands in for the file manager with it.
pub const OPENER_ENV: &str = "BANDX_OPENER";

/// Shows the logs folder in the system's file manager; returns the folder.
#[tauri::command]
pub fn open_logs_folder(state: State<'_, AppState>) -> Result<String, UiError> {
    let dir = state.data().logs_dir();
    open_folder(&dir)?;
    Ok(dir.display().to_string())
}

/// Opens `dir` with the system's opener (or [`OPENER_ENV`]'s), without waiting for it.
pub fn open_folder(dir: &Path) -> Result<(), UiError> {
    let opener = std::env::var_os(OPENER_ENV)
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default_opener().into());
    open_folder_with(dir, &opener)
}

fn open_folder_with(dir: &Path, opener: &std::ffi::OsStr) -> Result<(), UiError> {
    tracing::info!(opener = %opener.to_string_lossy(), "opening a folder");
    let cannot = |detail: String| {
        UiError::new(
            "open_folder",
            format!("Cannot open the folder {} ({detail})", dir.display()),
            "Open it in your file manager yourself",
        )
    };
    let mut child = std::process::Command::new(opener)
        .arg(dir)
        .stdin(std::process::Stdio::null())
        .spawn()
        .map_err(|e| cannot(format!("{}: {e}", opener.to_string_lossy())))?;
    // Reap it in the background: openers return at once, file managers may stay.
    std::thread::spawn(move || child.wait());
    Ok(())
}

fn default_opener() -> &'static str {
    if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(target_os = "windows") {
        "explorer"
    } else {
        "xdg-open"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_opener_is_a_sentence_naming_the_folder() {
        let e =
            open_folder_with(Path::new("/tmp/logs"), "/nonexistent/opener".as_ref()).unwrap_err();
        assert_eq!(e.code, "open_folder");
        assert!(e.message.contains("/tmp/logs"), "{}", e.message);
        assert!(e.next_step.contains("file manager"), "{}", e.next_step);
    }

    #[test]
    fn the_opener_gets_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("opened");
        // `mkdir` as the opener: the folder it is given appears.
        open_folder_with(&target, "mkdir".as_ref()).unwrap();
        for _ in 0..100 {
            if target.is_dir() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        panic!("the opener was not run on {}", target.display());
    }
}
