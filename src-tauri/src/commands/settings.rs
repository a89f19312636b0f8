//! Settings screen: where the logs are, and "Open logs folder" (the system's file manager shows it).

use std::path::Path;

use tauri::State;

use crate::UiError;
use crate::state::AppState;

/// Environment variable naming the program that opens a folder instead of the system's (`xdg-open`
/// on Linux): the e2e test stands in for the file manager with it.
pub const OPENER_ENV: &str = "BANDX_OPENER";

/// Where the app's log files are.
#[tauri::command]
pub fn logs_folder(state: State<'_, AppState>) -> String {
    state.data().logs_dir().display().to_string()
}

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
