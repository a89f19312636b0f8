//! [`UpdateReceiver`]: the per-target transfer state machines.

use sha2::{Digest, Sha256};

use super::app_image::AppImageChecker;
use super::store::{FirmwareSink, ModelStore, Slot};
use crate::blob::{Model, sha256};
use crate::infer;
use crate::owner::Grant;
use crate::protocol::{BulkChunk, ErrorCode, UpdateTarget};

/// Where a transfer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub target: UpdateTarget,
    /// The next byte offset the receiver accepts.
    pub next_offset: u32,
    pub total_len: u32,
}

/// What happened to a bulk chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkOutcome {
    /// Written; the transfer advanced.
    Accepted,
    /// Not at the next expected offset (duplicate, reordered or after a gap), past the end, or no transfer
    /// of that target: nothing written. The sender resumes from `UpdateStatus`.
    Ignored,
    /// Storage failed; the transfer is dropped (begin again).
    Failed,
}

/// A committed update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Committed {
    /// The model in `slot` (blob of `len` bytes) is now the active one.
    Model {
        slot: Slot,
        len: usize,
        id: u32,
        version: u32,
    },
    /// The firmware image is staged; it runs after a reboot.
    Firmware { version: u32 },
}

#[derive(Debug, Clone)]
struct Transfer {
    total_len: u32,
    sha256: [u8; 32],
    version: u32,
    /// The owner allowed a lower version than the running one.
    downgrade: bool,
    next_offset: u32,
    /// Model slot being written (model transfers).
    slot: Slot,
    /// Running digest of the received bytes (firmware transfers; models are re-read from flash).
    hasher: Sha256,
    /// The app image check, fed every received byte (firmware transfers).
    image: AppImageChecker,
}

impl Transfer {
    fn progress(&self, target: UpdateTarget) -> Progress {
        Progress {
            target,
            next_offset: self.next_offset,
            total_len: self.total_len,
        }
    }

    fn same(&self, grant: &Grant) -> bool {
        self.total_len == grant.total_len
            && self.sha256 == grant.sha256
            && self.version == grant.version
            && self.downgrade == grant.downgrade
    }
}

/// Receives model and firmware updates. Holds only RAM state: after a reboot a transfer starts over.
#[derive(Debug, Clone, Default)]
pub struct UpdateReceiver {
    model: Option<Transfer>,
    firmware: Option<Transfer>,
}

impl UpdateReceiver {
    pub fn new() -> Self {
        Self::default()
    }

    fn transfer(&mut self, target: UpdateTarget) -> &mut Option<Transfer> {
        match target {
            UpdateTarget::Model => &mut self.model,
            UpdateTarget::Firmware => &mut self.firmware,
        }
    }

    /// Whether a `begin` of `grant` resumes the transfer in progress (rather than starting a new one).
    pub fn resumes(&self, grant: &Grant) -> bool {
        let t = match grant.target {
            UpdateTarget::Model => &self.model,
            UpdateTarget::Firmware => &self.firmware,
        };
        t.as_ref().is_some_and(|t| t.same(grant))
    }

    /// Starts an update, or resumes the one in progress if length, digest, version and downgrade flag are the
    /// same. Call it only for an authorized update ([`super::authorize`]).
    /// `running` is the model slot the band runs from (see [`super::active_model`]): a model goes to the other
    /// one, so what runs is never erased, even when it is the fallback slot rather than the recorded one.
    pub fn begin<P: ModelStore + FirmwareSink + ?Sized>(
        &mut self,
        platform: &mut P,
        running: Option<Slot>,
        grant: &Grant,
    ) -> Result<Progress, ErrorCode> {
        let Grant {
            target,
            version,
            total_len,
            sha256,
            downgrade,
        } = *grant;
        if let Some(t) = self.transfer(target).as_ref().filter(|t| t.same(grant)) {
            return Ok(t.progress(target));
        }
        self.abort(platform, target);
        let capacity = match target {
            UpdateTarget::Model => platform.slot_capacity(),
            UpdateTarget::Firmware => platform.firmware_capacity(),
        };
        if total_len == 0 || total_len as usize > capacity {
            return Err(ErrorCode::TooLarge);
        }
        // A model always goes to the slot the band does not run from; with nothing running, to the one the
        // record does not name.
        let slot = match running {
            Some(slot) => slot.other(),
            None => platform.active_slot().map_or(Slot::A, Slot::other),
        };
        let prepared = match target {
            UpdateTarget::Model => platform.erase_slot(slot),
            UpdateTarget::Firmware => platform.firmware_begin(total_len),
        };
        prepared.map_err(|_| ErrorCode::Storage)?;
        let transfer = Transfer {
            total_len,
            sha256,
            version,
            downgrade,
            next_offset: 0,
            slot,
            hasher: Sha256::new(),
            image: AppImageChecker::new(platform.app_chip(), total_len),
        };
        let progress = transfer.progress(target);
        *self.transfer(target) = Some(transfer);
        Ok(progress)
    }

    /// Takes a bulk chunk; only the chunk at exactly the next expected offset is written.
    pub fn chunk<P: ModelStore + FirmwareSink + ?Sized>(
        &mut self,
        platform: &mut P,
        chunk: &BulkChunk<'_>,
    ) -> ChunkOutcome {
        let target = chunk.target;
        let Some(t) = self.transfer(target).as_mut() else {
            return ChunkOutcome::Ignored;
        };
        let end = chunk.offset as u64 + chunk.data.len() as u64;
        if chunk.offset != t.next_offset || end > t.total_len as u64 {
            return ChunkOutcome::Ignored;
        }
        let written = match target {
            UpdateTarget::Model => platform.write_slot(t.slot, chunk.offset as usize, chunk.data),
            UpdateTarget::Firmware => platform.firmware_write(chunk.offset, chunk.data),
        };
        if written.is_err() {
            self.abort(platform, target);
            return ChunkOutcome::Failed;
        }
        t.hasher.update(chunk.data);
        if target == UpdateTarget::Firmware {
            // A damaged image is reported at commit; its error sticks in the checker.
            let _ = t.image.push(chunk.data);
        }
        t.next_offset = end as u32;
        ChunkOutcome::Accepted
    }

    /// The transfer's position, for a sender resuming after a dropped link.
    pub fn status(&self, target: UpdateTarget) -> Result<Progress, ErrorCode> {
        let t = match target {
            UpdateTarget::Model => &self.model,
            UpdateTarget::Firmware => &self.firmware,
        };
        t.as_ref()
            .map(|t| t.progress(target))
            .ok_or(ErrorCode::NoUpdate)
    }

    /// Verifies and activates a complete transfer. A model is re-read from flash, its SHA-256 compared, parsed
    /// and self-tested (with `arena`), its version checked (the signed one; not below the running model of the
    /// same id, `running_model` = (id, version), unless a downgrade was signed), and only then made active by one
    /// atomic record write. A firmware image must match its SHA-256, pass the app image check for the sink's chip
    /// and declare the signed release before the sink commits it. Any failure drops the transfer and leaves the
    /// active model (or the boot selection) as it was.
    pub fn commit<P: ModelStore + FirmwareSink + ?Sized>(
        &mut self,
        platform: &mut P,
        target: UpdateTarget,
        arena: &mut [u8],
        running_model: Option<(u32, u32)>,
    ) -> Result<Committed, ErrorCode> {
        let t = self.transfer(target).as_ref().ok_or(ErrorCode::NoUpdate)?;
        if t.next_offset != t.total_len {
            return Err(ErrorCode::Incomplete);
        }
        let t = self.transfer(target).take().ok_or(ErrorCode::NoUpdate)?;
        let result = match target {
            UpdateTarget::Model => commit_model(platform, &t, arena, running_model),
            UpdateTarget::Firmware => {
                if t.hasher.clone().finalize().as_slice() != t.sha256 {
                    Err(ErrorCode::DigestMismatch)
                } else if t
                    .image
                    .finish()
                    .map_or(true, |info| info.release != Some(t.version))
                {
                    Err(ErrorCode::InvalidFirmware)
                } else {
                    match platform.firmware_commit() {
                        Ok(()) => Ok(Committed::Firmware { version: t.version }),
                        Err(_) => Err(ErrorCode::Storage),
                    }
                }
            }
        };
        if result.is_err() && target == UpdateTarget::Firmware {
            platform.firmware_abort();
        }
        result
    }

    /// Drops the transfer of `target`, if any.
    pub fn abort<P: ModelStore + FirmwareSink + ?Sized>(
        &mut self,
        platform: &mut P,
        target: UpdateTarget,
    ) {
        if self.transfer(target).take().is_some() && target == UpdateTarget::Firmware {
            platform.firmware_abort();
        }
    }
}

fn commit_model<P: ModelStore + ?Sized>(
    platform: &mut P,
    t: &Transfer,
    arena: &mut [u8],
    running_model: Option<(u32, u32)>,
) -> Result<Committed, ErrorCode> {
    let len = t.total_len as usize;
    let bytes = platform.slot(t.slot).get(..len).ok_or(ErrorCode::Storage)?;
    if sha256(bytes) != t.sha256 {
        return Err(ErrorCode::DigestMismatch);
    }
    let model = Model::parse(bytes).map_err(|_| ErrorCode::InvalidModel)?;
    infer::self_test(&model, arena).map_err(|_| ErrorCode::SelfTestFailed)?;
    let (id, version) = (model.id(), model.version());
    if version != t.version {
        // The blob is not the version the owner signed for.
        return Err(ErrorCode::InvalidModel);
    }
    if let Some((running_id, running_version)) = running_model
        && running_id == id
        && version < running_version
        && !t.downgrade
    {
        return Err(ErrorCode::Downgrade {
            running: running_version,
        });
    }
    platform
        .set_active_slot(t.slot)
        .map_err(|_| ErrorCode::Storage)?;
    Ok(Committed::Model {
        slot: t.slot,
        len,
        id,
        version,
    })
}
