//! Pairing on the ESP32 band (issue 17, the BLE layer), on NimBLE's security manager through esp32-nimble 0.11:
//! LE Secure Connections only (`sdkconfig.defaults`: `CONFIG_BT_NIMBLE_SM_LEGACY=n`), bonding + MITM
//! (`AuthReq::all()`), IO capability DisplayOnly: the band shows a random six-digit code on the OLED
//! ([`crate::oled`]) and the desktop types it (passkey entry). NimBLE keeps the bonds in NVS
//! (`CONFIG_BT_NIMBLE_NVS_PERSIST`, at most `CONFIG_BT_NIMBLE_MAX_BONDS=4`, the oldest dropped first).
//! The same policy as the ESP32-C3 firmware (`../esp32c3/src/pairing.rs`), from bandx-core (`bandx_core::pairing`):
//!
//! - **Pairing mode** (`pairing_mode`). A new pairing is accepted only while the band holds no bond, for 120 s
//!   after boot, or for 120 s after the BOOT button (GPIO0) is held for a second. Outside it the code is not shown
//!   and the link is dropped at the passkey step (esp32-nimble's passkey callback cannot refuse), so the pairing
//!   fails.
//! - **Only authenticated bonds stay.** A Just Works pairing (a central without a keyboard) bonds unauthenticated;
//!   its bond is deleted at once, so it neither counts as "a bond stored" nor pushes the owner's bond out.
//! - **Notifications only to an authenticated link.** NimBLE's `READ_AUTHEN`/`WRITE_AUTHEN` flags guard reads and
//!   writes, but not the CCCD of a notify-only characteristic before ESP-IDF 5.4.2; so the main loop sends the
//!   band's notifications only while the connected central is encrypted and authenticated ([`Pairing::link`]).
//!
//! NOT COMPILED HERE: Espressif's Xtensa toolchain is not available to this project's CI. Written against
//! esp32-nimble 0.11.1's source (`BLESecurity`, `BLEServer::on_passkey_request`, `on_authentication_complete`,
//! `BLEConnDesc`, `BLECharacteristic::notify_with`); kept small so it can be checked by reading.

use std::sync::Mutex;

use bandx_core::pairing::{pairing_mode, PairingContext, PAIRING_WINDOW_MS};
use esp32_nimble::{BLEConnDesc, BLEDevice};
use esp_idf_svc::sys as idf;

/// The connected central, as far as security goes (the band serves one connection at a time).
#[derive(Debug, Clone, Copy)]
struct Link {
    handle: u16,
    authenticated: bool,
}

/// Pairing state shared by NimBLE's callbacks (its host task) and the main loop.
pub struct Pairing {
    /// When the BOOT button was last held (µs since boot), if it was.
    button_at_us: Mutex<Option<i64>>,
    link: Mutex<Option<Link>>,
}

fn now_us() -> i64 {
    // SAFETY: esp_timer_get_time has no preconditions.
    unsafe { idf::esp_timer_get_time() }
}

impl Pairing {
    /// At boot (pairing mode is open for the first 120 s).
    pub fn new() -> Pairing {
        Pairing {
            button_at_us: Mutex::new(None),
            link: Mutex::new(None),
        }
    }

    /// The BOOT button was held: pairing mode opens again.
    pub fn button_held(&self) {
        *self.button_at_us.lock().unwrap() = Some(now_us());
        log::info!("pairing mode for {} s", PAIRING_WINDOW_MS / 1000);
    }

    /// Whether a new pairing is accepted now: bandx-core's `pairing_mode`.
    pub fn accepts_new(&self) -> bool {
        // A store that cannot be read counts as holding a bond: the stricter answer.
        let bonds = BLEDevice::take().bonded_addresses().map_or(1, |a| a.len());
        let ms = |us: i64| u32::try_from(us / 1000).unwrap_or(u32::MAX);
        let now = now_us();
        let context = PairingContext {
            bonds,
            uptime_ms: ms(now),
            since_button_ms: self.button_at_us.lock().unwrap().map(|at| ms(now - at)),
        };
        pairing_mode(&context).is_ok()
    }

    pub fn on_connect(&self, desc: &BLEConnDesc) {
        *self.link.lock().unwrap() = Some(Link { handle: desc.conn_handle(), authenticated: desc.authenticated() });
    }

    pub fn on_disconnect(&self) {
        *self.link.lock().unwrap() = None;
    }

    /// A new pairing reached the passkey step, outside pairing mode: drop the link.
    pub fn refuse(&self) {
        log::warn!("pairing refused: not in pairing mode (hold BOOT for 1 s, or power-cycle)");
        if let Some(link) = *self.link.lock().unwrap() {
            // SAFETY: a plain NimBLE call with a connection handle NimBLE gave us; an old handle gives an error.
            unsafe { idf::ble_gap_terminate(link.handle, idf::ble_error_codes_BLE_ERR_REM_USER_CONN_TERM as _) };
        }
    }

    /// Encryption changed (a pairing finished, or a bonded central reconnected); returns whether the link is now
    /// encrypted and authenticated.
    pub fn on_authentication_complete(&self, desc: &BLEConnDesc, ok: bool) -> bool {
        let authenticated = ok && desc.encrypted() && desc.authenticated();
        if let Some(link) = self.link.lock().unwrap().as_mut() {
            if link.handle == desc.conn_handle() {
                link.authenticated = authenticated;
            }
        }
        if ok && desc.bonded() && !authenticated {
            log::warn!("unauthenticated bond deleted (Just Works pairing)");
            let _ = BLEDevice::take().delete_bond(&desc.id_address());
        }
        log::info!("link security: encrypted {}, authenticated {authenticated}", desc.encrypted());
        authenticated
    }

    /// The connection handle of the connected central if its link is encrypted and authenticated.
    pub fn link(&self) -> Option<u16> {
        self.link.lock().unwrap().filter(|l| l.authenticated).map(|l| l.handle)
    }
}
