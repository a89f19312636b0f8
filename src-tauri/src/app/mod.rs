//! The Tauri application: the window, its commands (one module per screen in [`commands`]) and the
//! events it sends ([`events`]). The UI calls these through `ui/src/lib/core.ts` only.

pub mod commands;
pub mod error;
pub mod events;
pub mod state;

use anyhow::Context;

pub use error::UiError;
pub use state::AppState;

use crate::link::sim::{FLASH_FILE_NAME, SHIPPED_MODEL};
use crate::paths::DataDir;
use crate::plots::{PlotOptions, Theme};

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
        ])
        .run(tauri::generate_context!())?;
    Ok(())
}

/// Environment variable: how many times faster than real time the virtual band runs (end-to-end
/// tests set it so a 24 s calibration takes a few seconds; 1 when unset).
pub const SIM_SPEED_ENV: &str = "BANDX_SIM_SPEED";

/// How the virtual band is built: its flash in the data directory, starting with the shipped
/// model, at [`sim_speed`].
pub fn sim_config(data: &DataDir) -> bandx_sim::SimConfig {
    let mut config = bandx_sim::SimConfig::new(
        data.sim_dir().join(FLASH_FILE_NAME),
        Some(SHIPPED_MODEL.to_vec()),
    );
    config.realtime_speed = sim_speed();
    config
}

/// `$BANDX_SIM_SPEED` within 0.25..=20, else 1.
pub fn sim_speed() -> f64 {
    std::env::var(SIM_SPEED_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite())
        .map_or(1.0, |v| v.clamp(0.25, 20.0))
}

/// Plot size and theme for the window.
pub fn plot_options(dark: bool) -> PlotOptions {
    PlotOptions {
        theme: if dark { Theme::Dark } else { Theme::Light },
        ..PlotOptions::default()
    }
}
