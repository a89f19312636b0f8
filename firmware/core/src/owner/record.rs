//! [`OwnerRecord`]: the band's owner key on raw NOR flash, readable after a power cut at any instant as the old
//! or the new value, never garbage: the same two-sector log as the active-slot record
//! ([`crate::update::record::EntryLog`]), with its own entry format.
//!
//! Two sectors hold an append-only log of 48-byte entries:
//! `"BXok" | seq u32 LE | kind u8 (0 no owner, 1 owner) | !kind | A5 A5 | key [32] | CRC-32 (ISO-HDLC) of bytes 0..44`.
//! The valid entry with the highest sequence number wins; an entry torn by a power cut fails its CRC and is
//! skipped. When the newest entry's sector has no erased entry left, the next entry goes to the other sector,
//! which is erased first (its entries are all older) while the full sector still holds the current record.
//! An erased (or foreign) region is "no owner". Forgetting the owner ([`OwnerRecord::clear`]) appends a
//! "no owner" entry; erasing both sectors also clears it, but only a log entry is atomic (a torn two-sector
//! erase can leave an older owner readable).
//! A newest entry whose CRC holds but whose key is not a valid point (written by something else) reads as
//! "no owner". Sequence numbers never wrap: a record whose newest entry has sequence number `u32::MAX` (crafted
//! flash only) refuses writes until the region is erased.

use crc::{CRC_32_ISO_HDLC, Crc};

use super::{OWNER_KEY_LEN, OwnerKey};
use crate::update::StorageError;
use crate::update::record::{EntryFormat, EntryLog, RECORD_LEN, RECORD_SECTOR, RecordFlash};

/// Erase unit of the flash the record lives on.
pub const OWNER_RECORD_SECTOR: u32 = RECORD_SECTOR;
/// Bytes the record occupies: two sectors.
pub const OWNER_RECORD_LEN: u32 = RECORD_LEN;

const MAGIC: [u8; 4] = *b"BXok";
const ENTRY: usize = 48;
const CRC_AT: usize = ENTRY - 4;
#[cfg(test)]
const PER_SECTOR: u32 = OWNER_RECORD_SECTOR / ENTRY as u32;
const KIND_NONE: u8 = 0;
const KIND_OWNER: u8 = 1;
const CRC32: Crc<u32> = Crc::<u32>::new(&CRC_32_ISO_HDLC);

/// The two sectors the owner record lives in, addressed from their start (`0..OWNER_RECORD_LEN`): the board's
/// seam for *this* record (a board keeps it apart from the active-slot record's [`RecordFlash`] sectors).
pub trait OwnerFlash {
    fn read(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), StorageError>;
    /// Programs `data` (NOR: bits only go from 1 to 0) at a 4-byte aligned `offset`.
    fn program(&mut self, offset: u32, data: &[u8]) -> Result<(), StorageError>;
    /// Erases the sector starting at `offset` (a multiple of [`OWNER_RECORD_SECTOR`]) to 0xFF.
    fn erase_sector(&mut self, offset: u32) -> Result<(), StorageError>;
}

/// An [`OwnerFlash`] seen as the log's [`RecordFlash`].
struct Sectors<'a, F: OwnerFlash + ?Sized>(&'a mut F);

impl<F: OwnerFlash + ?Sized> RecordFlash for Sectors<'_, F> {
    fn read(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), StorageError> {
        self.0.read(offset, buf)
    }
    fn program(&mut self, offset: u32, data: &[u8]) -> Result<(), StorageError> {
        self.0.program(offset, data)
    }
    fn erase_sector(&mut self, offset: u32) -> Result<(), StorageError> {
        self.0.erase_sector(offset)
    }
}

/// What one entry says: an owner's key bytes, or none.
type Value = Option<[u8; OWNER_KEY_LEN]>;

/// The owner entry (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct OwnerEntry;

impl EntryFormat<ENTRY> for OwnerEntry {
    type Value = Value;

    fn encode(seq: u32, value: &Value) -> [u8; ENTRY] {
        entry(seq, value)
    }

    fn parse(e: &[u8; ENTRY]) -> Option<(u32, Value)> {
        parse(e)
    }
}

/// The record as last read or written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnerRecord {
    log: EntryLog<OwnerEntry, ENTRY>,
    owner: Option<OwnerKey>,
}

fn entry(seq: u32, value: &Value) -> [u8; ENTRY] {
    let mut e = [0xA5u8; ENTRY];
    e[..4].copy_from_slice(&MAGIC);
    e[4..8].copy_from_slice(&seq.to_le_bytes());
    let kind = if value.is_some() {
        KIND_OWNER
    } else {
        KIND_NONE
    };
    e[8] = kind;
    e[9] = !kind;
    e[12..44].copy_from_slice(&value.unwrap_or([0xA5; OWNER_KEY_LEN]));
    let crc = CRC32.checksum(&e[..CRC_AT]);
    e[CRC_AT..].copy_from_slice(&crc.to_le_bytes());
    e
}

fn parse(e: &[u8; ENTRY]) -> Option<(u32, Value)> {
    let crc = u32::from_le_bytes([e[CRC_AT], e[CRC_AT + 1], e[CRC_AT + 2], e[CRC_AT + 3]]);
    if e[..4] != MAGIC
        || e[9] != !e[8]
        || e[10..12] != [0xA5, 0xA5]
        || CRC32.checksum(&e[..CRC_AT]) != crc
    {
        return None;
    }
    let seq = u32::from_le_bytes([e[4], e[5], e[6], e[7]]);
    let mut key = [0u8; OWNER_KEY_LEN];
    key.copy_from_slice(&e[12..44]);
    match e[8] {
        KIND_NONE => Some((seq, None)),
        KIND_OWNER => Some((seq, Some(key))),
        _ => None,
    }
}

fn owner_of(value: Option<Value>) -> Option<OwnerKey> {
    value.flatten().and_then(|k| OwnerKey::from_bytes(&k).ok())
}

impl OwnerRecord {
    /// Reads both sectors. Any content (erased, foreign, torn) loads; what does not parse is no owner.
    pub fn load<F: OwnerFlash + ?Sized>(flash: &mut F) -> Result<OwnerRecord, StorageError> {
        let log = EntryLog::load(&mut Sectors(flash))?;
        Ok(OwnerRecord {
            owner: owner_of(log.value()),
            log,
        })
    }

    /// The stored owner, if any.
    pub fn owner(&self) -> Option<OwnerKey> {
        self.owner
    }

    /// Stores `key` as the owner (replacing any other: the policy of who may do that is the caller's).
    pub fn set<F: OwnerFlash + ?Sized>(
        &mut self,
        flash: &mut F,
        key: &OwnerKey,
    ) -> Result<(), StorageError> {
        self.write(flash, Some(key.to_bytes()))
    }

    /// Forgets the owner: one "no owner" entry, atomic like [`OwnerRecord::set`].
    pub fn clear<F: OwnerFlash + ?Sized>(&mut self, flash: &mut F) -> Result<(), StorageError> {
        self.write(flash, None)
    }

    fn write<F: OwnerFlash + ?Sized>(
        &mut self,
        flash: &mut F,
        value: Value,
    ) -> Result<(), StorageError> {
        self.log.append(&mut Sectors(flash), value)?;
        self.owner = owner_of(Some(value));
        Ok(())
    }
}

#[cfg(test)]
mod tests;
