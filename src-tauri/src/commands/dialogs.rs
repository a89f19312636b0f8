//! The system's folder and file pickers (tauri-plugin-dialog, called from here: the window itself has no
//! dialog permission) for the Data screen's import and export and the Flash screen's firmware file. Each
//! starts in the folder the last one ended in (`last_folder` in the settings) and remembers where it ended.
//!
//! A test hook stands in for the system's dialog, and only for it: with `BANDX_DIALOG_STANDIN=FILE` set at
//! startup, a pick appends `kind<TAB>starting folder` to `FILE.asked` and answers with the text in `FILE`
//! (empty: the user cancelled). What the app does with the answer is the same as with a real dialog's.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use tauri::{AppHandle, Manager, State};
use tauri_plugin_dialog::DialogExt;

use crate::UiError;
use crate::state::AppState;

/// Environment variable naming the stand-in's answer file (see the module's documentation).
pub const DIALOG_STANDIN_ENV: &str = "BANDX_DIALOG_STANDIN";

/// What the user is asked to pick.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum PickKind {
    /// A folder written by export, to import.
    ImportFolder,
    /// The new folder an export creates (a save dialog: the name is typed there).
    ExportFolder,
    /// A firmware image (.bin) to flash.
    FirmwareFile,
    /// A new or empty folder to move the data to.
    DataFolder,
}

impl PickKind {
    fn title(self) -> &'static str {
        match self {
            PickKind::ImportFolder => "Import a profile from folder",
            PickKind::ExportFolder => "Export the profile to a new folder",
            PickKind::FirmwareFile => "Firmware image file",
            PickKind::DataFolder => "Move the data to this folder",
        }
    }

    fn name(self) -> &'static str {
        match self {
            PickKind::ImportFolder => "import_folder",
            PickKind::ExportFolder => "export_folder",
            PickKind::FirmwareFile => "firmware_file",
            PickKind::DataFolder => "data_folder",
        }
    }
}

/// Shows the picker for `kind`; `None` when the user cancels. `suggested_name`: the export folder's name.
#[tauri::command]
pub async fn pick_path(
    app: AppHandle,
    state: State<'_, AppState>,
    kind: PickKind,
    suggested_name: Option<String>,
) -> Result<Option<String>, UiError> {
    let start = starting_folder(state.settings().current.last_folder.as_deref());
    let picked = match std::env::var_os(DIALOG_STANDIN_ENV).filter(|v| !v.is_empty()) {
        Some(file) => stand_in(Path::new(&file), kind, &start)?,
        None => {
            let app = app.clone();
            tauri::async_runtime::spawn_blocking(move || {
                system_dialog(&app, kind, &start, suggested_name)
            })
            .await
            .map_err(|e| UiError::internal("The file dialog", e))??
        }
    };
    tracing::info!(kind = kind.name(), picked = picked.is_some(), "file dialog");
    if let Some(path) = &picked {
        state.remember_folder_of(path);
    }
    Ok(picked.map(|p| p.display().to_string()))
}

/// Where a dialog starts: the last folder used if it still exists, else the home folder.
fn starting_folder(last: Option<&Path>) -> PathBuf {
    last.filter(|p| p.is_dir())
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("HOME").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("/"))
}

fn system_dialog(
    app: &AppHandle,
    kind: PickKind,
    start: &Path,
    suggested_name: Option<String>,
) -> Result<Option<PathBuf>, UiError> {
    let mut dialog = app
        .dialog()
        .file()
        .set_title(kind.title())
        .set_directory(start);
    if let Some(window) = app.get_webview_window("main") {
        dialog = dialog.set_parent(&window);
    }
    let picked = match kind {
        PickKind::ImportFolder | PickKind::DataFolder => dialog.blocking_pick_folder(),
        PickKind::ExportFolder => dialog
            .set_file_name(suggested_name.unwrap_or_else(|| "bandx-export".into()))
            .blocking_save_file(),
        PickKind::FirmwareFile => dialog
            .add_filter("Firmware image", &["bin"])
            .blocking_pick_file(),
    };
    picked
        .map(|p| {
            p.into_path().map_err(|e| {
                UiError::new(
                    "invalid",
                    format!("The dialog returned a location that is not a file path ({e})"),
                    "Pick a folder on this computer",
                )
            })
        })
        .transpose()
}

/// The test hook: records what was asked, answers with the text in `file`.
fn stand_in(file: &Path, kind: PickKind, start: &Path) -> Result<Option<PathBuf>, UiError> {
    let failed = |e: std::io::Error| UiError::internal("The dialog stand-in", e);
    let mut asked = file.as_os_str().to_owned();
    asked.push(".asked");
    let line = format!("{}\t{}\n", kind.name(), start.display());
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(PathBuf::from(asked))
        .and_then(|mut f| std::io::Write::write_all(&mut f, line.as_bytes()))
        .map_err(failed)?;
    let answer = std::fs::read_to_string(file).map_err(failed)?;
    let answer = answer.trim();
    Ok((!answer.is_empty()).then(|| PathBuf::from(answer)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stand_in_answers_with_its_file_and_records_the_question() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("answer");
        std::fs::write(&file, "/tmp/export-1\n").unwrap();
        let got = stand_in(&file, PickKind::ExportFolder, Path::new("/home/x")).unwrap();
        assert_eq!(got, Some(PathBuf::from("/tmp/export-1")));
        std::fs::write(&file, "").unwrap();
        assert_eq!(
            stand_in(&file, PickKind::ImportFolder, Path::new("/tmp")).unwrap(),
            None,
            "cancelled"
        );
        let asked = std::fs::read_to_string(dir.path().join("answer.asked")).unwrap();
        assert_eq!(asked, "export_folder\t/home/x\nimport_folder\t/tmp\n");
    }

    #[test]
    fn dialogs_start_in_the_last_folder_while_it_exists() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(starting_folder(Some(dir.path())), dir.path());
        let gone = dir.path().join("gone");
        assert_ne!(starting_folder(Some(&gone)), gone);
    }
}
