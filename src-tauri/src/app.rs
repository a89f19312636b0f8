//! The Tauri application: window, commands and events.

/// Opens the BandX Studio window and runs until it is closed.
pub fn run() -> anyhow::Result<()> {
    tauri::Builder::default()
        .invoke_handler(tauri::generate_handler![app_version])
        .run(tauri::generate_context!())?;
    Ok(())
}

/// The app's version, for the About box and for tests that check the UI talks to the core.
#[tauri::command]
fn app_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}
