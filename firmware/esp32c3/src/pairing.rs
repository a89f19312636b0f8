//! Pairing on the band (issue 17, the BLE layer): when a new pairing is accepted, the passkey the OLED shows, and
//! which finished pairings become bonds. trouble-host runs the protocol: LE Secure Connections only (its
//! `legacy-pairing` feature is off), the band DisplayOnly, so the desktop types the six digits the band shows
//! (passkey entry, MITM protected; trouble-host draws the code from its RNG, seeded by the controller's LE_Rand).
//! This file applies bandx-core's policy (`bandx_core::pairing`) and tells the band when its link is secured
//! (`Band::on_link_secured`: the band ignores every write until then):
//!
//! - **Pairing mode** (`bandx_core::pairing::pairing_mode`). A new pairing is accepted only while the band holds no
//!   bond, for 120 s after boot (a power cycle is physical presence), or for 120 s after the BOOT button (GPIO9)
//!   is held for [`BUTTON_HOLD`]. Outside it the band shows no code and drops the link when the pairing reaches the
//!   passkey step: trouble-host 0.7 gives a peripheral no call that answers a Pairing Request with "Pairing Not
//!   Supported", so the refusal is the disconnect; the central's pairing fails and nothing is stored.
//! - **Bonds.** Only a pairing that showed its code in pairing mode and ended encrypted + authenticated is stored
//!   ([`crate::bonds`], up to four, the oldest dropped first). Anything else (a Just Works pairing from a central
//!   without a keyboard: encrypted, not authenticated) is removed from the stack again; its link stays, and every
//!   BandX request on it keeps failing with "insufficient authentication".

use core::cell::{Cell, RefCell};

use bandx_core::band::Band;
use bandx_core::pairing::{PairingContext, PairingRefused, pairing_mode};
use embassy_time::{Duration, Instant};
use embedded_hal::i2c::I2c;
use trouble_host::prelude::*;

use crate::platform::C3Platform;

/// How long the BOOT button must be held to count as pressed (opening pairing mode).
pub const BUTTON_HOLD: Duration = Duration::from_secs(1);

/// The band's pairing state, shared by the BLE task and the display tick.
pub struct Pairing {
    /// When the BOOT button was last held, if it was since boot.
    button_at: Cell<Option<Instant>>,
    /// The code on the OLED while a pairing waits for the desktop.
    passkey: Cell<Option<u32>>,
    /// Bonds stored.
    bonds: Cell<usize>,
}

/// What the current connection's pairing has done.
#[derive(Debug, Default)]
pub struct LinkPairing {
    /// The band showed this link's code in pairing mode.
    code_shown: bool,
}

impl Pairing {
    /// At boot (pairing mode is open for the first 120 s: bandx-core's `PAIRING_WINDOW_MS`).
    pub fn new(bonds: usize) -> Pairing {
        Pairing {
            button_at: Cell::new(None),
            passkey: Cell::new(None),
            bonds: Cell::new(bonds),
        }
    }

    /// The BOOT button was held: pairing mode opens again.
    pub fn button_held(&self) {
        self.button_at.set(Some(Instant::now()));
        log::info!(
            "pairing mode for {} s",
            bandx_core::pairing::PAIRING_WINDOW_MS / 1000
        );
    }

    /// Whether a new pairing is accepted now: bandx-core's `pairing_mode`.
    pub fn check_new(&self) -> Result<(), PairingRefused> {
        let ms = |d: Duration| u32::try_from(d.as_millis()).unwrap_or(u32::MAX);
        pairing_mode(&PairingContext {
            bonds: self.bonds.get(),
            uptime_ms: u32::try_from(Instant::now().as_millis()).unwrap_or(u32::MAX),
            since_button_ms: self.button_at.get().map(|at| ms(at.elapsed())),
        })
    }

    pub fn accepts_new(&self) -> bool {
        self.check_new().is_ok()
    }

    /// The code to show on the OLED, while a pairing waits for it.
    pub fn passkey(&self) -> Option<u32> {
        self.passkey.get()
    }

    /// Ends the pairing on display (done, failed, or the link dropped).
    pub fn clear(&self) {
        self.passkey.set(None);
    }

    /// Applies the policy to one connection event; returns false when the link must be dropped (a pairing
    /// refused).
    #[inline(never)]
    pub fn on_event<I: I2c + 'static, C: Controller>(
        &self,
        event: &GattConnectionEvent<'_, '_, DefaultPacketPool>,
        link: &mut LinkPairing,
        band: &RefCell<Band<C3Platform<I>>>,
        stack: &Stack<'_, C, DefaultPacketPool>,
    ) -> bool {
        match event {
            GattConnectionEvent::PassKeyDisplay(key) => {
                if let Err(refused) = self.check_new() {
                    log::warn!("pairing refused: {refused}");
                    return false;
                }
                log::info!("pairing: showing the passkey");
                link.code_shown = true;
                self.passkey.set(Some(key.value()));
                true
            }
            // DisplayOnly never compares or types a code: a central asking for that is not our desktop.
            GattConnectionEvent::PassKeyConfirm(_) | GattConnectionEvent::PassKeyInput => {
                log::warn!("pairing refused: the band only displays its code");
                false
            }
            GattConnectionEvent::PairingComplete {
                security_level,
                bond,
            } => {
                self.clear();
                let Some(bond) = bond else {
                    // The central did not ask to bond: nothing to keep.
                    log::info!("paired without bonding: {security_level:?}");
                    return true;
                };
                if !(link.code_shown && security_level.authenticated()) {
                    // The link stays unauthenticated: every BandX request keeps failing with 0x05.
                    log::warn!(
                        "pairing not kept: {security_level:?}, code shown {}",
                        link.code_shown
                    );
                    let _ = stack.remove_bond_information(bond.identity);
                    return true;
                }
                let mut band = band.borrow_mut();
                let stored = band.platform_mut().flash_mut().add_bond(bond.clone());
                self.bonds.set(band.platform().flash().bonds().len());
                // The band answers this link from now on.
                band.on_link_secured(true);
                match stored {
                    Ok(evicted) => {
                        log::info!("bonded with {}", bond.identity.addr);
                        if let Some(old) = evicted {
                            log::info!("bond of {} dropped (the oldest)", old.identity.addr);
                            let _ = stack.remove_bond_information(old.identity);
                        }
                    }
                    // The link stays authenticated; the central pairs again after the next reset.
                    Err(_) => log::error!("bond not saved to flash"),
                }
                true
            }
            GattConnectionEvent::PairingFailed(e) => {
                self.clear();
                log::warn!("pairing failed: {e:?}");
                true
            }
            GattConnectionEvent::BondLost => {
                log::warn!("a bonded central lost its bond: it must pair again (in pairing mode)");
                true
            }
            // A pairing, or a bonded central's reconnection, encrypted the link: the band answers it only if the
            // keys came from an authenticated pairing.
            GattConnectionEvent::Encrypted { security_level, .. } => {
                log::info!("link encrypted: {security_level:?}");
                band.borrow_mut()
                    .on_link_secured(security_level.authenticated());
                true
            }
            _ => true,
        }
    }
}
