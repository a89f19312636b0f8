//! What the update receiver needs from the board: two model slots, an atomic active-slot record, and a
//! firmware sink.

use core::fmt;

use super::app_image::Chip;
use crate::blob::{HEADER_LEN, MAGIC, Model};
use crate::infer;

/// One of the two model slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    A,
    B,
}

impl Slot {
    /// The other slot.
    pub fn other(self) -> Slot {
        match self {
            Slot::A => Slot::B,
            Slot::B => Slot::A,
        }
    }
}

/// A flash or sink operation failed (including a power cut in a simulation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StorageError;

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "storage operation failed")
    }
}

impl core::error::Error for StorageError {}

/// Two model slots in flash plus the record of which one is active.
pub trait ModelStore {
    /// Bytes per slot.
    fn slot_capacity(&self) -> usize;
    /// The whole slot's current content (memory-mapped flash, or a RAM copy kept in step with every erase and
    /// write). The borrow ends before the next erase or write, so no view outlives a change of the slot.
    fn slot(&self, slot: Slot) -> &[u8];
    /// Erases a slot (all bytes 0xFF).
    fn erase_slot(&mut self, slot: Slot) -> Result<(), StorageError>;
    /// Writes `data` at `offset` of an erased region of `slot`.
    fn write_slot(&mut self, slot: Slot, offset: usize, data: &[u8]) -> Result<(), StorageError>;
    /// The active slot record.
    fn active_slot(&self) -> Option<Slot>;
    /// Replaces the active slot record. Must be atomic: after a power cut, the old or the new value is read.
    fn set_active_slot(&mut self, slot: Slot) -> Result<(), StorageError>;
}

/// Where firmware images go (the ESP32 maps it onto esp_ota: A/B app partitions with rollback).
pub trait FirmwareSink {
    /// The chip the band is: app images built for another one are refused before they become bootable.
    fn app_chip(&self) -> Chip;
    /// Largest image.
    fn firmware_capacity(&self) -> usize;
    /// Prepares for an image of `total_len` bytes (erases the inactive partition).
    fn firmware_begin(&mut self, total_len: u32) -> Result<(), StorageError>;
    /// Writes a chunk; offsets arrive in order without gaps.
    fn firmware_write(&mut self, offset: u32, data: &[u8]) -> Result<(), StorageError>;
    /// All bytes written, their SHA-256 verified and the app image checked ([`super::check_app_image`]): make it
    /// boot next (on ESP-IDF in state `New`, so the bootloader runs it on trial, see [`crate::boot`]).
    fn firmware_commit(&mut self) -> Result<(), StorageError>;
    /// Drops a partial image.
    fn firmware_abort(&mut self);
    /// SHA-256 of the app image the band runs, if the board can tell (then re-sending it is refused as already
    /// installed instead of rewritten).
    fn running_app_digest(&mut self) -> Option<[u8; 32]>;
}

/// The blob length a slot's header declares, if the slot starts like a blob and the length fits.
pub fn blob_len(slot: &[u8]) -> Option<usize> {
    let header = slot.get(..HEADER_LEN)?;
    if header[..4] != MAGIC {
        return None;
    }
    let len = u32::from_le_bytes([header[16], header[17], header[18], header[19]]) as usize;
    (len <= slot.len()).then_some(len)
}

/// The model to run after boot: the active slot's if it parses and passes its self-test, else the other
/// slot's (a model that was active before), else none. Without a record (a band whose models were only ever
/// written over USB, which cannot write the record) slot A is tried first, then B. Returns the slot and blob length.
pub fn active_model<S: ModelStore + ?Sized>(store: &S, arena: &mut [u8]) -> Option<(Slot, usize)> {
    let first = store.active_slot().unwrap_or(Slot::A);
    [first, first.other()].into_iter().find_map(|slot| {
        let bytes = store.slot(slot);
        let len = blob_len(bytes)?;
        let model = Model::parse(&bytes[..len]).ok()?;
        infer::self_test(&model, arena).ok()?;
        Some((slot, len))
    })
}
