//! Pairing on the band (issue 17, the BLE layer): when a new pairing is accepted, the passkey the OLED shows, and
//! which finished pairings become bonds. trouble-host runs the protocol: LE Secure Connections only (its
//! `legacy-pairing` feature is off), the band DisplayOnly, so the desktop types the six digits the band shows
//! (passkey entry, MITM protected; trouble-host draws the code from its RNG, seeded by the controller's LE_Rand).
//! This file applies the band's policy (the design note of issue 17):
//!
//! - **Pairing mode.** A new pairing is accepted only while the band holds no bond, for [`WINDOW`] after boot (a
//!   power cycle is physical presence), or for [`WINDOW`] after the BOOT button (GPIO9) is held for
//!   [`BUTTON_HOLD`]. Outside it the band shows no code and drops the link when the pairing reaches the passkey
//!   step: trouble-host 0.7 gives a peripheral no call that answers a Pairing Request with "Pairing Not
//!   Supported", so the refusal is the disconnect; the central's pairing fails and nothing is stored.
//! - **Bonds.** Only a pairing that showed its code in pairing mode and ended encrypted + authenticated is stored
//!   ([`crate::bonds`], up to four, the oldest dropped first). Anything else (a Just Works pairing from a central
//!   without a keyboard: encrypted, not authenticated) is removed from the stack again; its link stays, and every
//!   BandX request on it keeps failing with "insufficient authentication".
//!
//! bandx-core's `pairing` module (the lead's) will hold the window policy for both firmwares and the virtual
//! band; [`Pairing::accepts_new`] is the one place to call it from then.

use core::cell::{Cell, RefCell};

use bandx_core::band::Band;
use embassy_time::{Duration, Instant};
use embedded_hal::i2c::I2c;
use trouble_host::prelude::*;

use crate::platform::C3Platform;

/// How long pairing mode lasts after boot or a button hold.
pub const WINDOW: Duration = Duration::from_secs(120);
/// How long the BOOT button must be held to open pairing mode.
pub const BUTTON_HOLD: Duration = Duration::from_secs(1);

/// The band's pairing state, shared by the BLE task and the display tick.
pub struct Pairing {
    open_until: Cell<Instant>,
    /// The code on the OLED while a pairing waits for the desktop.
    passkey: Cell<Option<u32>>,
    /// At least one bond is stored.
    bonded: Cell<bool>,
}

/// What the current connection's pairing has done.
#[derive(Debug, Default)]
pub struct LinkPairing {
    /// The band showed this link's code in pairing mode.
    code_shown: bool,
}

impl Pairing {
    /// At boot: pairing mode opens for [`WINDOW`].
    pub fn new(bonded: bool) -> Pairing {
        Pairing {
            open_until: Cell::new(Instant::now() + WINDOW),
            passkey: Cell::new(None),
            bonded: Cell::new(bonded),
        }
    }

    /// The BOOT button was held: pairing mode for [`WINDOW`] from now.
    pub fn open_window(&self) {
        self.open_until.set(Instant::now() + WINDOW);
        log::info!("pairing mode for {} s", WINDOW.as_secs());
    }

    /// Whether the timed window (boot or button) is open.
    pub fn window_open(&self) -> bool {
        Instant::now() < self.open_until.get()
    }

    /// Whether a new pairing is accepted now: no bond stored, or the window is open.
    pub fn accepts_new(&self) -> bool {
        !self.bonded.get() || self.window_open()
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
                if !self.accepts_new() {
                    log::warn!(
                        "pairing refused: not in pairing mode (hold BOOT for 1 s, or power-cycle)"
                    );
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
                let stored = band
                    .borrow_mut()
                    .platform_mut()
                    .flash_mut()
                    .add_bond(bond.clone());
                match stored {
                    Ok(evicted) => {
                        self.bonded.set(true);
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
            GattConnectionEvent::Encrypted { security_level, .. } => {
                log::info!("link encrypted: {security_level:?}");
                true
            }
            _ => true,
        }
    }
}
