//! [`OwnerRecord`]: the band's owner key on raw NOR flash, readable after a power cut at any instant as the old
//! or the new value, never garbage (the same log scheme as [`crate::update::record::SlotRecord`]).
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

/// Erase unit of the flash the record lives on.
pub const OWNER_RECORD_SECTOR: u32 = 4096;
/// Bytes the record occupies: two sectors.
pub const OWNER_RECORD_LEN: u32 = 2 * OWNER_RECORD_SECTOR;

const MAGIC: [u8; 4] = *b"BXok";
const ENTRY: usize = 48;
const CRC_AT: usize = ENTRY - 4;
const PER_SECTOR: u32 = OWNER_RECORD_SECTOR / ENTRY as u32;
const KIND_NONE: u8 = 0;
const KIND_OWNER: u8 = 1;
const CRC32: Crc<u32> = Crc::<u32>::new(&CRC_32_ISO_HDLC);

/// The two sectors the record lives in, addressed from their start (`0..OWNER_RECORD_LEN`).
pub trait OwnerFlash {
    fn read(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), StorageError>;
    /// Programs `data` (NOR: bits only go from 1 to 0) at a 4-byte aligned `offset`.
    fn program(&mut self, offset: u32, data: &[u8]) -> Result<(), StorageError>;
    /// Erases the sector starting at `offset` (a multiple of [`OWNER_RECORD_SECTOR`]) to 0xFF.
    fn erase_sector(&mut self, offset: u32) -> Result<(), StorageError>;
}

/// What one entry says: an owner's key bytes, or none.
type Value = Option<[u8; OWNER_KEY_LEN]>;

/// Where the newest entry is and what it says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Newest {
    sector: u32,
    index: u32,
    seq: u32,
    value: Value,
}

/// The record as last read or written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnerRecord {
    newest: Option<Newest>,
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

fn at(sector: u32, index: u32) -> u32 {
    sector * OWNER_RECORD_SECTOR + index * ENTRY as u32
}

fn owner_of(value: &Value) -> Option<OwnerKey> {
    value.as_ref().and_then(|k| OwnerKey::from_bytes(k).ok())
}

impl OwnerRecord {
    /// Reads both sectors. Any content (erased, foreign, torn) loads; what does not parse is no owner.
    pub fn load<F: OwnerFlash + ?Sized>(flash: &mut F) -> Result<OwnerRecord, StorageError> {
        let mut newest: Option<Newest> = None;
        let mut e = [0u8; ENTRY];
        for sector in 0..2 {
            for index in 0..PER_SECTOR {
                flash.read(at(sector, index), &mut e)?;
                if let Some((seq, value)) = parse(&e)
                    && newest.is_none_or(|n| seq > n.seq)
                {
                    newest = Some(Newest {
                        sector,
                        index,
                        seq,
                        value,
                    });
                }
            }
        }
        let owner = newest.and_then(|n| owner_of(&n.value));
        Ok(OwnerRecord { newest, owner })
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

    /// Appends one entry (and, when a sector is full, erases the other sector first), then reads it back.
    fn write<F: OwnerFlash + ?Sized>(
        &mut self,
        flash: &mut F,
        value: Value,
    ) -> Result<(), StorageError> {
        let (sector, index, seq) = match self.newest {
            Some(n) => {
                // Only crafted flash gets here (2^32 writes are far beyond NOR endurance); erasing the region
                // resets the record.
                let seq = n.seq.checked_add(1).ok_or(StorageError)?;
                match free_after(flash, n)? {
                    Some(index) => (n.sector, index, seq),
                    None => {
                        let other = 1 - n.sector;
                        flash.erase_sector(other * OWNER_RECORD_SECTOR)?;
                        (other, 0, seq)
                    }
                }
            }
            None => {
                // No entry yet (erased, or foreign data): nothing to lose by erasing sector 0.
                flash.erase_sector(0)?;
                (0, 0, 1)
            }
        };
        flash.program(at(sector, index), &entry(seq, &value))?;
        let mut back = [0u8; ENTRY];
        flash.read(at(sector, index), &mut back)?;
        if parse(&back) != Some((seq, value)) {
            return Err(StorageError);
        }
        self.newest = Some(Newest {
            sector,
            index,
            seq,
            value,
        });
        self.owner = owner_of(&value);
        Ok(())
    }
}

/// The first erased entry after the newest one in its sector.
fn free_after<F: OwnerFlash + ?Sized>(
    flash: &mut F,
    n: Newest,
) -> Result<Option<u32>, StorageError> {
    let mut e = [0u8; ENTRY];
    for index in n.index + 1..PER_SECTOR {
        flash.read(at(n.sector, index), &mut e)?;
        if e.iter().all(|&b| b == 0xFF) {
            return Ok(Some(index));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests;
