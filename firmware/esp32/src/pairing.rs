//! Pairing on the ESP32 band (issue 17, the BLE layer), on NimBLE's security manager through esp32-nimble 0.11:
//! LE Secure Connections only (`sdkconfig.defaults`: `CONFIG_BT_NIMBLE_SM_LEGACY=n`), bonding + MITM
//! (`AuthReq::all()`), IO capability DisplayOnly: the band shows a random six-digit code on the OLED
//! ([`crate::oled`]) and the desktop types it (passkey entry). NimBLE keeps the bonds in NVS
//! (`CONFIG_BT_NIMBLE_NVS_PERSIST`, at most `CONFIG_BT_NIMBLE_MAX_BONDS=4`, the oldest dropped first).
//! The same policy as the ESP32-C3 firmware (`../esp32c3/src/pairing.rs`):
//!
//! - **Pairing mode.** A new pairing is accepted only while the band holds no bond, for [`WINDOW_US`] after boot, or
//!   for [`WINDOW_US`] after the BOOT button (GPIO0) is held for a second. Outside it the code is not shown and the
//!   link is dropped at the passkey step (esp32-nimble's passkey callback cannot refuse), so the pairing fails.
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

use esp32_nimble::{BLEConnDesc, BLEDevice};
use esp_idf_svc::sys as idf;

/// How long pairing mode lasts after boot or a button hold: 120 s.
pub const WINDOW_US: i64 = 120_000_000;

/// The connected central, as far as security goes (the band serves one connection at a time).
#[derive(Debug, Clone, Copy)]
struct Link {
    handle: u16,
    authenticated: bool,
}

/// Pairing state shared by NimBLE's callbacks (its host task) and the main loop.
pub struct Pairing {
    open_until_us: Mutex<i64>,
    link: Mutex<Option<Link>>,
}

fn now_us() -> i64 {
    // SAFETY: esp_timer_get_time has no preconditions.
    unsafe { idf::esp_timer_get_time() }
}

impl Pairing {
    /// At boot: pairing mode opens for [`WINDOW_US`].
    pub fn new() -> Pairing {
        Pairing {
            open_until_us: Mutex::new(now_us() + WINDOW_US),
            link: Mutex::new(None),
        }
    }

    /// The BOOT button was held: pairing mode for [`WINDOW_US`] from now.
    pub fn open_window(&self) {
        *self.open_until_us.lock().unwrap() = now_us() + WINDOW_US;
        log::info!("pairing mode for {} s", WINDOW_US / 1_000_000);
    }

    /// Whether a new pairing is accepted now: no bond stored, or the window is open.
    pub fn accepts_new(&self) -> bool {
        // A store that cannot be read counts as holding a bond: the stricter answer.
        let bonded = BLEDevice::take().bonded_addresses().map_or(true, |a| !a.is_empty());
        !bonded || now_us() < *self.open_until_us.lock().unwrap()
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

    /// Encryption changed (a pairing finished, or a bonded central reconnected).
    pub fn on_authentication_complete(&self, desc: &BLEConnDesc, ok: bool) {
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
    }

    /// The connection handle of the connected central if its link is encrypted and authenticated.
    pub fn link(&self) -> Option<u16> {
        self.link.lock().unwrap().filter(|l| l.authenticated).map(|l| l.handle)
    }
}

/// A uniformly random six-digit passkey from the hardware RNG (true random while the radio is on).
pub fn random_passkey() -> u32 {
    // Rejection sampling: 4,294,000,000 is the largest multiple of 10^6 below 2^32.
    loop {
        // SAFETY: esp_random has no preconditions.
        let r = unsafe { idf::esp_random() };
        if r < 4_294_000_000 {
            return r % 1_000_000;
        }
    }
}
