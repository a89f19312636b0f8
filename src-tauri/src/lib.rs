//! bandx-studio: the Tauri shell of BandX Studio. The window, its commands (one module per screen in
//! [`commands`]), the state they share ([`state`]) and the events it sends ([`events`]); everything they do
//! is bandx-desktop's. The UI calls these through `ui/src/lib/core.ts` only. Every type the window receives
//! derives `ts_rs::TS`: `tests/ui_types.rs` generates the UI's `ui/src/lib/generated/types.ts` from them and fails
//! when the committed file is stale.

pub mod commands;
pub mod error;
pub mod events;
pub mod state;

use anyhow::Context;

pub use error::UiError;
pub use state::AppState;

use bandx_desktop::paths::{DataDir, NoHome};
use bandx_desktop::plots::{PlotOptions, Theme};
use bandx_desktop::settings;
use state::SettingsFile;

/// What the app starts from: the user's settings, and the data directory `BANDX_DATA_DIR` or the
/// settings name (main sets up the logs there before the window opens).
pub struct Startup {
    pub settings: SettingsFile,
    pub data: Result<DataDir, NoHome>,
}

impl Startup {
    /// Reads the settings file (a bad one gives the defaults and a problem to show, never an error).
    pub fn load() -> Startup {
        let settings = match settings::default_path() {
            Ok(path) => {
                let loaded = settings::load(&path);
                SettingsFile {
                    path: Some(path),
                    current: loaded.settings,
                    problem: loaded.problem,
                }
            }
            Err(e) => SettingsFile {
                problem: Some(format!("{e}; the settings cannot be saved")),
                ..SettingsFile::default()
            },
        };
        let data = AppState::data_dir_from_env(&settings.current);
        Startup { settings, data }
    }
}

/// Opens the BandX Studio window and runs until it is closed.
pub fn run(startup: Startup) -> anyhow::Result<()> {
    if let Some(problem) = &startup.settings.problem {
        tracing::warn!("settings: {problem}");
    }
    let data = startup
        .data
        .context("cannot find where to keep your data")?;
    let state = AppState::open_with(data.clone(), startup.settings)
        .with_context(|| format!("cannot open the store in {}", data.root().display()))?;
    tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .manage(state)
        .invoke_handler(tauri::generate_handler![
            commands::cancel_job,
            commands::bands::app_version,
            commands::bands::scan_bands,
            commands::bands::connect_band,
            commands::bands::use_virtual_band,
            commands::bands::disconnect_band,
            commands::bands::band_info,
            commands::bands::virtual_wearer,
            commands::bands::set_wearer_activity,
            commands::bands::set_wearer_style,
            commands::pairing::pair_band,
            commands::pairing::enter_pairing_code,
            commands::pairing::unpair_band,
            commands::profiles::list_profiles,
            commands::profiles::create_profile,
            commands::profiles::delete_profile,
            commands::profiles::list_classes,
            commands::profiles::add_class,
            commands::profiles::rename_class,
            commands::profiles::delete_class,
            commands::calibrate::start_calibration,
            commands::calibrate::discard_window,
            commands::calibrate::discard_class_recordings,
            commands::flash::start_flash,
            commands::live::start_live,
            commands::live::live_summary,
            commands::live::activity_history,
            commands::train::start_training,
            commands::train::model_result,
            commands::train::latest_model_result,
            commands::data::data_overview,
            commands::data::delete_recording,
            commands::data::delete_model,
            commands::data::export_profile,
            commands::data::import_profile,
            commands::sync::sync_band,
            commands::dialogs::pick_path,
            commands::settings::get_settings,
            commands::settings::set_setting,
            commands::settings::forget_band,
            commands::settings::serial_ports,
            commands::settings::move_data_dir,
            commands::settings::open_logs_folder,
        ])
        .run(tauri::generate_context!())?;
    Ok(())
}

/// Plot size and theme for the window.
pub fn plot_options(dark: bool) -> PlotOptions {
    PlotOptions {
        theme: if dark { Theme::Dark } else { Theme::Light },
        ..PlotOptions::default()
    }
}
