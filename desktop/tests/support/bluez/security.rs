//! The band's side of LE security behind a stand-in device: whether it accepts a pairing
//! request, the code it shows, whether the typed code matches, whether it holds a bond.
//!
//! The stand-in asks these questions through [`BandSecurity`]; [`PasskeyBand`] answers them the
//! way the issue 17 design says a band does (pairing only in pairing mode, a fresh six-digit code
//! per pairing, a bond once the right code was typed). A virtual band can stand behind the same
//! trait instead.

use std::sync::{Arc, Mutex};

/// Why the band refused to start pairing (it answers SMP "Pairing Failed").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PairingRefused;

/// The band's half of pairing, as the stand-in drives it.
pub trait BandSecurity: Send + 'static {
    /// A central asks to pair. `Ok`: the band now shows a code; `Err`: it refuses.
    fn start_pairing(&mut self) -> Result<(), PairingRefused>;
    /// The central answered with `entered`: whether it is the code the band shows (then the
    /// band stores the bond). Either way the code is no longer shown.
    fn finish_pairing(&mut self, entered: u32) -> bool;
    /// The pairing ended without an answer (timeout, cancel): the code is no longer shown.
    fn abandon_pairing(&mut self);
    /// Whether the band holds a bond with the stand-in's adapter.
    fn bonded(&self) -> bool;
}

/// A band that shows codes from a fixed list (in turn) and pairs while in pairing mode.
/// Clones share the band: a test keeps one to read the screen and flip the pairing mode.
#[derive(Clone)]
pub struct PasskeyBand {
    state: Arc<Mutex<PasskeyBandState>>,
}

struct PasskeyBandState {
    pairing_mode: bool,
    codes: Vec<u32>,
    next_code: usize,
    shown: Option<u32>,
    bonded: bool,
}

impl PasskeyBand {
    /// A band with no bond, in pairing mode, that will show `codes` (in turn, then again).
    pub fn new(codes: Vec<u32>) -> PasskeyBand {
        assert!(!codes.is_empty(), "a band needs codes to show");
        PasskeyBand {
            state: Arc::new(Mutex::new(PasskeyBandState {
                pairing_mode: true,
                codes,
                next_code: 0,
                shown: None,
                bonded: false,
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PasskeyBandState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What the band's screen shows now (the code while pairing, else nothing).
    pub fn screen(&self) -> Option<u32> {
        self.lock().shown
    }

    /// Puts the band in or out of pairing mode (a power cycle or its button; 2 minutes later).
    pub fn set_pairing_mode(&self, on: bool) {
        self.lock().pairing_mode = on;
    }

    pub fn is_bonded(&self) -> bool {
        self.lock().bonded
    }
}

impl BandSecurity for PasskeyBand {
    fn start_pairing(&mut self) -> Result<(), PairingRefused> {
        let mut state = self.lock();
        if !state.pairing_mode {
            return Err(PairingRefused);
        }
        let code = state.codes[state.next_code % state.codes.len()];
        state.next_code += 1;
        state.shown = Some(code);
        Ok(())
    }

    fn finish_pairing(&mut self, entered: u32) -> bool {
        let mut state = self.lock();
        let matches = state.shown.take() == Some(entered);
        if matches {
            state.bonded = true;
        }
        matches
    }

    fn abandon_pairing(&mut self) {
        self.lock().shown = None;
    }

    fn bonded(&self) -> bool {
        self.lock().bonded
    }
}

/// The virtual band's own pairing (bandx-sim, on bandx-core's rules: its pairing window, its
/// random codes, its bonds in flash) behind a stand-in device: the stand-in's adapter is one
/// central to it.
pub struct SimBandSecurity {
    band: bandx_sim::SimBand,
    address: [u8; 6],
    /// The connection a pairing runs on, while it runs.
    pairing: Option<bandx_sim::SimConnection>,
    /// The key the last pairing gave the stand-in's adapter.
    ltk: Option<[u8; 16]>,
}

impl SimBandSecurity {
    /// `band` pairing with a central at `address` (the stand-in's adapter).
    pub fn new(band: bandx_sim::SimBand, address: [u8; 6]) -> SimBandSecurity {
        SimBandSecurity {
            band,
            address,
            pairing: None,
            ltk: None,
        }
    }
}

impl BandSecurity for SimBandSecurity {
    fn start_pairing(&mut self) -> Result<(), PairingRefused> {
        self.pairing = None;
        let central = bandx_sim::Central {
            address: self.address,
            ltk: None,
        };
        let conn = self
            .band
            .connect_as(247, central)
            .map_err(|_| PairingRefused)?;
        conn.start_pairing().map_err(|_| PairingRefused)?;
        self.pairing = Some(conn);
        Ok(())
    }

    fn finish_pairing(&mut self, entered: u32) -> bool {
        let Some(conn) = self.pairing.take() else {
            return false;
        };
        match conn.finish_pairing(entered) {
            Ok(ltk) => {
                self.ltk = Some(ltk);
                true
            }
            Err(_) => false,
        }
    }

    fn abandon_pairing(&mut self) {
        self.pairing = None;
    }

    /// Whether the band proves a bond with the key we hold (the encryption procedure).
    fn bonded(&self) -> bool {
        let Some(ltk) = self.ltk else {
            return false;
        };
        let central = bandx_sim::Central {
            address: self.address,
            ltk: Some(ltk),
        };
        self.band
            .connect_as(247, central)
            .is_ok_and(|conn| conn.is_authenticated())
    }
}
