//! Pairing a band with this desktop (the Bands screen's Pair step), and forgetting it.
//!
//! [`pair_band`] starts the pairing and stays pending while the band shows its six-digit code: it emits
//! [`events::PAIRING_CODE`] (with the virtual band's code, which has no screen of its own outside the
//! virtual-band panel) and waits for [`enter_pairing_code`] with what the user typed (or `null` to cancel).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bandx_desktop::link::sim::SimLink;
use bandx_desktop::link::{Link, PasskeyEntry};
use serde::Serialize;
use tauri::{AppHandle, State};
use tokio::sync::oneshot;

use super::bands::{ble_link, sim_link};
use crate::UiError;
use crate::events;
use crate::state::AppState;

/// How long the app waits for the user to type the code (the band gives up after 30 s itself).
const CODE_WAIT: Duration = Duration::from_secs(60);

/// The band shows a code: the Pair step asks for it.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct PairingCode {
    /// The virtual band's screen (for the virtual-band panel); `None` for a real band, whose own screen
    /// shows the code.
    pub virtual_screen: Option<String>,
}

struct TypedCode {
    app: AppHandle,
    sim: Option<Arc<SimLink>>,
    code: tokio::sync::Mutex<Option<oneshot::Receiver<Option<u32>>>>,
}

#[async_trait]
impl PasskeyEntry for TypedCode {
    async fn passkey(&self) -> Option<u32> {
        let virtual_screen = self.sim.as_ref().and_then(|s| s.displayed_passkey());
        events::emit(
            &self.app,
            events::PAIRING_CODE,
            PairingCode { virtual_screen },
        );
        let rx = self.code.lock().await.take()?;
        tokio::time::timeout(CODE_WAIT, rx).await.ok()?.ok()?
    }
}

/// Pairs with the band `id` (the virtual band when `virtual_band`, whatever `id` says); resolves once the user typed the right
/// code, or with the reason it failed (`wrong_code`, `pair_timeout`, `not_in_pairing_mode`, `cancelled`, ...).
#[tauri::command]
pub async fn pair_band(
    app: AppHandle,
    state: State<'_, AppState>,
    id: String,
    virtual_band: bool,
) -> Result<(), UiError> {
    let (tx, rx) = oneshot::channel();
    *state.pairing_code.lock().unwrap_or_else(|e| e.into_inner()) = Some(tx);
    let (link, sim, id): (Arc<dyn Link>, _, _) = if virtual_band {
        let sim = sim_link(&state).await?;
        let id = sim.band().scan_result().id;
        (sim.clone(), Some(sim), id)
    } else {
        (ble_link(&state).await?, None, id)
    };
    let entry = TypedCode {
        app,
        sim,
        code: tokio::sync::Mutex::new(Some(rx)),
    };
    let result = link.pair(&id, &entry).await;
    state
        .pairing_code
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    result.map_err(UiError::from)
}

/// The code the user typed for the pairing in progress; `None` cancels it.
#[tauri::command]
pub fn enter_pairing_code(state: State<'_, AppState>, code: Option<String>) -> Result<(), UiError> {
    let code = match code {
        None => None,
        Some(text) => {
            let digits: String = text.chars().filter(|c| !c.is_whitespace()).collect();
            if digits.len() != 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(UiError::new(
                    "invalid",
                    "The code is six digits",
                    "Type the six digits the band shows",
                ));
            }
            digits.parse().ok()
        }
    };
    let waiting = state
        .pairing_code
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    match waiting {
        Some(tx) => {
            let _ = tx.send(code);
            Ok(())
        }
        None => Err(UiError::new(
            "no_pairing",
            "No pairing is waiting for a code",
            "Press Pair on the Bands screen first",
        )),
    }
}

/// Forgets the pairing with band `id` on this desktop (disconnecting it).
#[tauri::command]
pub async fn unpair_band(
    state: State<'_, AppState>,
    id: String,
    virtual_band: bool,
) -> Result<(), UiError> {
    let (link, id): (Arc<dyn Link>, _) = if virtual_band {
        let sim = sim_link(&state).await?;
        let id = sim.band().scan_result().id;
        (sim, id)
    } else {
        (ble_link(&state).await?, id)
    };
    let connected = state.band.lock().await.take();
    if let Some(band) = connected {
        let _ = band.client.connection().disconnect().await;
    }
    link.unpair(&id).await.map_err(UiError::from)
}
