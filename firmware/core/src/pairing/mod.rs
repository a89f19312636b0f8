//! Who may pair with the band, and the code it shows while they do.
//!
//! The BLE stack (NimBLE, trouble-host, or the virtual band's link) runs LE Secure Connections with passkey entry:
//! the band displays a six-digit [`Passkey`], the desktop's user types it, and the link that results is encrypted
//! with keys only those two hold (MITM-protected). Every characteristic of the BandX service requires such a link
//! ([`crate::protocol::gatt::Security`]), so a device that never paired cannot read, write or subscribe to anything.
//!
//! This module holds the rules the stacks apply, in one place: [`pairing_mode`] says whether the band takes a
//! *new* pairing at all (a band nobody bonded with, the first [`PAIRING_WINDOW_MS`] after a power-on, or after its
//! button was pressed: each needs the band in hand), and how many bonds it keeps ([`MAX_BONDS`]).

use core::fmt;

/// How long after a boot (or a press of the band's button) a band that already has bonds accepts a new pairing.
pub const PAIRING_WINDOW_MS: u32 = 120_000;

/// Bonds the band keeps; pairing a new desktop when all are taken replaces the least recently paired one.
pub const MAX_BONDS: usize = 4;

/// How long the band waits for the desktop to finish a pairing it started (the SMP timeout, Core Vol 3 Part H 3.4).
pub const PAIRING_TIMEOUT_MS: u32 = 30_000;

/// A six-digit passkey, `000000` to `999999`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Passkey(u32);

impl Passkey {
    /// Largest passkey value.
    pub const MAX: u32 = 999_999;

    /// A passkey drawn uniformly from a source of random 32-bit words (the chip's RNG): values that would make
    /// `% 1_000_000` uneven are drawn again.
    pub fn random(mut next_u32: impl FnMut() -> u32) -> Passkey {
        // 4294 whole blocks of a million fit in 2^32; values past them are redrawn.
        const LIMIT: u32 = (u32::MAX / 1_000_000) * 1_000_000;
        loop {
            let r = next_u32();
            if r < LIMIT {
                return Passkey(r % 1_000_000);
            }
        }
    }

    /// A passkey as typed, if it is one (six digits or fewer, as a number).
    pub fn new(value: u32) -> Option<Passkey> {
        (value <= Self::MAX).then_some(Passkey(value))
    }

    /// The number the SMP exchanges.
    pub fn value(self) -> u32 {
        self.0
    }
}

/// Always six digits, zero-padded: what the band's screen shows and the user types.
impl fmt::Display for Passkey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:06}", self.0)
    }
}

/// The passkey is a secret while a pairing runs: debug output does not show it.
impl fmt::Debug for Passkey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passkey(******)")
    }
}

/// What the board knows when a central asks to pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PairingContext {
    /// Bonds stored on the band.
    pub bonds: usize,
    /// Milliseconds since the band booted.
    pub uptime_ms: u32,
    /// Milliseconds since the band's button was last pressed, if it was since boot.
    pub since_button_ms: Option<u32>,
}

/// Why the band refuses to pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PairingRefused {
    /// The band has bonds and is past its pairing window: power it on again, or press its button, then pair.
    NotInPairingMode,
}

impl fmt::Display for PairingRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PairingRefused::NotInPairingMode => f.write_str(
                "the band is not in pairing mode: restart it or press its button, then pair within 2 minutes",
            ),
        }
    }
}

impl core::error::Error for PairingRefused {}

/// Whether the band accepts a new pairing now.
pub fn pairing_mode(context: &PairingContext) -> Result<(), PairingRefused> {
    let fresh = context.bonds == 0;
    let just_booted = context.uptime_ms < PAIRING_WINDOW_MS;
    let button = context
        .since_button_ms
        .is_some_and(|ms| ms < PAIRING_WINDOW_MS);
    if fresh || just_booted || button {
        Ok(())
    } else {
        Err(PairingRefused::NotInPairingMode)
    }
}

#[cfg(test)]
mod tests;
