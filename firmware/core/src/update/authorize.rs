//! What an update must pass before the band erases anything for it (protocol version 2).
//!
//! [`authorize`]: the band has an owner, the grant (target, version, length, SHA-256, downgrade flag) carries the
//! owner's signature, the image is not the one already installed, and a firmware is not older than the running one
//! unless the owner signed a downgrade. [`StartLimiter`]: new updates (each erases flash) are rate-limited; resuming
//! one is not. A model's own downgrade rule (same model, lower version) is checked at commit, where its header is
//! known ([`super::UpdateReceiver::commit`]).

use crate::owner::{Grant, OwnerKey, Signature, verify};
use crate::protocol::{ErrorCode, UpdateTarget};

/// What the band runs now, for the identity and downgrade rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Running {
    /// The running firmware's release ([`super::release`]); `None` if unknown (then only a signature is needed).
    pub firmware_release: Option<u32>,
    /// SHA-256 of the running app image, if the board can tell.
    pub firmware_digest: Option<[u8; 32]>,
    /// SHA-256 of the active model blob.
    pub model_digest: Option<[u8; 32]>,
}

/// Checks a `BeginUpdate` against the owner's key and what runs; nothing is touched.
pub fn authorize(
    owner: Option<&OwnerKey>,
    grant: &Grant,
    signature: &Signature,
    running: &Running,
) -> Result<(), ErrorCode> {
    let owner = owner.ok_or(ErrorCode::NoOwner)?;
    verify(owner, grant, signature).map_err(|_| ErrorCode::NotOwner)?;
    let installed = match grant.target {
        UpdateTarget::Model => running.model_digest,
        UpdateTarget::Firmware => running.firmware_digest,
    };
    if installed == Some(grant.sha256) {
        return Err(ErrorCode::AlreadyInstalled);
    }
    if grant.target == UpdateTarget::Firmware
        && !grant.downgrade
        && let Some(running) = running.firmware_release
        && grant.version < running
    {
        return Err(ErrorCode::Downgrade { running });
    }
    Ok(())
}

/// New updates the band starts in a burst.
pub const START_BURST: u32 = 6;
/// One more new update is allowed per this much time.
pub const START_REFILL_MS: u32 = 60_000;

/// A token bucket over new updates: [`START_BURST`] at once, then one per [`START_REFILL_MS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartLimiter {
    tokens: u32,
    /// Band time of the last refill.
    refilled_ms: u32,
}

impl Default for StartLimiter {
    fn default() -> Self {
        StartLimiter {
            tokens: START_BURST,
            refilled_ms: 0,
        }
    }
}

impl StartLimiter {
    /// Takes a token at band time `now_ms`, or says how many seconds until one is free.
    pub fn take(&mut self, now_ms: u32) -> Result<(), ErrorCode> {
        let elapsed = now_ms.wrapping_sub(self.refilled_ms);
        let earned = elapsed / START_REFILL_MS;
        if earned > 0 {
            self.tokens = (self.tokens + earned).min(START_BURST);
            self.refilled_ms = self.refilled_ms.wrapping_add(earned * START_REFILL_MS);
        }
        if self.tokens == 0 {
            let wait_ms = START_REFILL_MS - elapsed % START_REFILL_MS;
            return Err(ErrorCode::RateLimited {
                retry_after_s: wait_ms.div_ceil(1000) as u16,
            });
        }
        if self.tokens == START_BURST {
            // A full bucket does not bank time: the refill clock starts with the first spend.
            self.refilled_ms = now_ms;
        }
        self.tokens -= 1;
        Ok(())
    }
}
