// Hide the console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use bandx_desktop::logs::{self, LogSetup};

fn main() -> anyhow::Result<()> {
    let startup = bandx_studio::Startup::load();
    let logging = logs::init(
        startup.data.as_ref().ok(),
        &LogSetup {
            program: "bandx-studio",
            stderr_default: Some("error"),
        },
    );
    if let Err(why) = &logging.file {
        eprintln!("BandX Studio runs without a log file: {why}");
    }
    let result = bandx_studio::run(startup);
    if let Err(e) = &result {
        tracing::error!("{e:#}");
    }
    result
}
