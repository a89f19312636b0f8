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

use bandx_desktop::plots::{PlotOptions, Theme};

/// Opens the BandX Studio window and runs until it is closed.
pub fn run() -> anyhow::Result<()> {
    let data = AppState::data_dir_from_env().context("cannot find where to keep your data")?;
    let state = AppState::open(data.clone())
        .with_context(|| format!("cannot open the store in {}", data.root().display()))?;
    tauri::Builder::default()
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
            commands::train::start_training,
            commands::train::model_result,
            commands::train::latest_model_result,
            commands::data::data_overview,
            commands::data::delete_recording,
            commands::data::delete_model,
            commands::data::export_profile,
            commands::data::import_profile,
            commands::settings::logs_folder,
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
