//! Confirm-after-boot: the one policy both firmwares follow after an app update.
//!
//! The ESP-IDF bootloader (with app rollback enabled) keeps a state per OTA app in `otadata`: an app that was just
//! written is [`OtaState::New`]; the bootloader starts it once and marks it [`OtaState::PendingVerify`]; if the
//! board resets while it is still pending, the bootloader marks it [`OtaState::Aborted`] and starts the previous
//! app. Only the app itself can make it [`OtaState::Valid`]. [`decide`] says when it may: the IMU answers, the
//! model the band had still loads (parses and passes its self-test) and BLE is up, so the desktop can reach the band
//! and update it again. Anything less leaves the app pending, and the next reset rolls it back.

use core::fmt;

/// An OTA app's state in `otadata` (ESP-IDF's `esp_ota_img_states_t`, same numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtaState {
    /// Just written; the bootloader has not started it yet.
    New,
    /// Started once by the bootloader; rolled back at the next reset unless confirmed.
    PendingVerify,
    /// Confirmed by the app: the bootloader keeps starting it.
    Valid,
    /// Refused by the app.
    Invalid,
    /// Never confirmed: the bootloader rolled it back.
    Aborted,
    /// No state recorded (rollback disabled, or the entry was written by a tool): booted as valid.
    Undefined,
}

impl OtaState {
    /// The state of an `otadata` entry's `ota_state` word; `None` for a value ESP-IDF does not define.
    pub const fn from_raw(raw: u32) -> Option<OtaState> {
        Some(match raw {
            0 => OtaState::New,
            1 => OtaState::PendingVerify,
            2 => OtaState::Valid,
            3 => OtaState::Invalid,
            4 => OtaState::Aborted,
            u32::MAX => OtaState::Undefined,
            _ => return None,
        })
    }

    /// The `ota_state` word.
    pub const fn raw(self) -> u32 {
        match self {
            OtaState::New => 0,
            OtaState::PendingVerify => 1,
            OtaState::Valid => 2,
            OtaState::Invalid => 3,
            OtaState::Aborted => 4,
            OtaState::Undefined => u32::MAX,
        }
    }
}

/// What the boot check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootHealth {
    /// A sample was read from the IMU.
    pub imu_answers: bool,
    /// The band runs a model that parsed and passed its self-test, or none was ever installed.
    pub model_loads: bool,
    /// The BLE stack is up and advertising.
    pub ble_up: bool,
}

impl BootHealth {
    /// The first check that failed, if any.
    pub fn failure(&self) -> Option<BootFailure> {
        if !self.imu_answers {
            Some(BootFailure::Imu)
        } else if !self.model_loads {
            Some(BootFailure::Model)
        } else if !self.ble_up {
            Some(BootFailure::Ble)
        } else {
            None
        }
    }
}

/// Why a new app was not confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootFailure {
    /// The IMU did not answer.
    Imu,
    /// The band had a model and this app cannot load it.
    Model,
    /// The BLE stack did not come up.
    Ble,
}

impl fmt::Display for BootFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BootFailure::Imu => "the IMU does not answer",
            BootFailure::Model => "the installed model does not load",
            BootFailure::Ble => "BLE is not up",
        })
    }
}

/// What to do about the running app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootDecision {
    /// The app is on trial and passed: mark it valid.
    Confirm,
    /// The app is on trial and failed: leave it pending, so the bootloader rolls it back at the next reset.
    LeavePending(BootFailure),
    /// Nothing is on trial (already valid, no rollback state, or not started from an OTA slot).
    NothingToConfirm,
}

/// The policy: an app on trial ([`OtaState::PendingVerify`], or [`OtaState::New`] if a bootloader left it so) is
/// confirmed only when every check passed.
pub fn decide(state: Option<OtaState>, health: &BootHealth) -> BootDecision {
    match state {
        Some(OtaState::PendingVerify | OtaState::New) => match health.failure() {
            None => BootDecision::Confirm,
            Some(failure) => BootDecision::LeavePending(failure),
        },
        _ => BootDecision::NothingToConfirm,
    }
}

#[cfg(test)]
mod tests;
