//! [`SlotRecord`]: an active-slot record on raw NOR flash that survives a power cut at any instant, for boards with
//! no atomic key-value store (the ESP32-C3 firmware; the ESP32 one uses ESP-IDF's NVS). It meets
//! [`super::ModelStore::set_active_slot`]'s contract: after a power cut the old or the new value is read.
//!
//! Two sectors hold an append-only log of 16-byte entries: magic `BXas`, a sequence number (u32), the slot and
//! its complement, six bytes 0xA5. The valid entry with the highest sequence number wins; an entry torn by a power
//! cut fails its checks and is skipped. When the newest entry's sector has no erased entry left, the next entry
//! goes to the other sector, which is erased first (its entries are all older), while the full sector still
//! holds the current record. Sequence numbers never wrap (a crafted `u32::MAX` refuses writes until erased).
//!
//! The log itself is [`EntryLog`], generic over its [`EntryFormat`]: the owner record (`crate::owner::record`)
//! keeps its 48-byte entries in the same scheme.

use super::store::{Slot, StorageError};

/// Erase unit of the flash the record lives on.
pub const RECORD_SECTOR: u32 = 4096;
/// Bytes the record occupies: two sectors.
pub const RECORD_LEN: u32 = 2 * RECORD_SECTOR;

const MAGIC: [u8; 4] = *b"BXas";
const ENTRY: usize = 16;
#[cfg(test)]
const PER_SECTOR: u32 = RECORD_SECTOR / ENTRY as u32;

/// The two sectors the record lives in, addressed from their start (`0..RECORD_LEN`).
pub trait RecordFlash {
    fn read(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), StorageError>;
    /// Programs `data` (NOR: bits only go from 1 to 0) at a 4-byte aligned `offset`.
    fn program(&mut self, offset: u32, data: &[u8]) -> Result<(), StorageError>;
    /// Erases the sector starting at `offset` (a multiple of [`RECORD_SECTOR`]) to 0xFF.
    fn erase_sector(&mut self, offset: u32) -> Result<(), StorageError>;
}

/// An entry format of an [`EntryLog`]: `N` bytes that carry a sequence number and a value, and check themselves
/// (a torn or foreign entry must not parse).
pub trait EntryFormat<const N: usize> {
    type Value: Copy + PartialEq;
    fn encode(seq: u32, value: &Self::Value) -> [u8; N];
    fn parse(entry: &[u8; N]) -> Option<(u32, Self::Value)>;
}

/// Where the newest entry is and what it says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Newest<V> {
    sector: u32,
    index: u32,
    seq: u32,
    value: V,
}

/// The power-cut-safe log both the active-slot record and the owner record are kept in: two sectors of `N`-byte
/// entries in format `E`; the valid entry with the highest sequence number wins (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryLog<E: EntryFormat<N>, const N: usize> {
    newest: Option<Newest<E::Value>>,
}

impl<E: EntryFormat<N>, const N: usize> EntryLog<E, N> {
    const PER_SECTOR: u32 = RECORD_SECTOR / N as u32;

    fn at(sector: u32, index: u32) -> u32 {
        sector * RECORD_SECTOR + index * N as u32
    }

    /// Reads both sectors; any content loads (what does not parse is no entry).
    pub fn load<F: RecordFlash + ?Sized>(flash: &mut F) -> Result<Self, StorageError> {
        let mut newest: Option<Newest<E::Value>> = None;
        let mut e = [0u8; N];
        for sector in 0..2 {
            for index in 0..Self::PER_SECTOR {
                flash.read(Self::at(sector, index), &mut e)?;
                if let Some((seq, value)) = E::parse(&e)
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
        Ok(EntryLog { newest })
    }

    /// The newest entry's value.
    pub fn value(&self) -> Option<E::Value> {
        self.newest.map(|n| n.value)
    }

    /// Appends `value`: one entry programmed (and, when its sector is full, the other sector erased first), then
    /// read back. Sequence numbers never wrap: a log whose newest entry has `u32::MAX` (crafted flash only)
    /// refuses writes until the region is erased.
    pub fn append<F: RecordFlash + ?Sized>(
        &mut self,
        flash: &mut F,
        value: E::Value,
    ) -> Result<(), StorageError> {
        let (sector, index, seq) = match self.newest {
            Some(n) => {
                let seq = n.seq.checked_add(1).ok_or(StorageError)?;
                match Self::free_after(flash, n)? {
                    Some(index) => (n.sector, index, seq),
                    None => {
                        let other = 1 - n.sector;
                        flash.erase_sector(other * RECORD_SECTOR)?;
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
        flash.program(Self::at(sector, index), &E::encode(seq, &value))?;
        let mut back = [0u8; N];
        flash.read(Self::at(sector, index), &mut back)?;
        if E::parse(&back) != Some((seq, value)) {
            return Err(StorageError);
        }
        self.newest = Some(Newest {
            sector,
            index,
            seq,
            value,
        });
        Ok(())
    }

    /// The first erased entry after the newest one in its sector.
    fn free_after<F: RecordFlash + ?Sized>(
        flash: &mut F,
        n: Newest<E::Value>,
    ) -> Result<Option<u32>, StorageError> {
        let mut e = [0u8; N];
        for index in n.index + 1..Self::PER_SECTOR {
            flash.read(Self::at(n.sector, index), &mut e)?;
            if e.iter().all(|&b| b == 0xFF) {
                return Ok(Some(index));
            }
        }
        Ok(None)
    }
}

/// The active-slot entry: magic `BXas`, sequence number, the slot and its complement, six bytes 0xA5.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotEntry;

impl EntryFormat<ENTRY> for SlotEntry {
    type Value = Slot;

    fn encode(seq: u32, slot: &Slot) -> [u8; ENTRY] {
        let mut e = [0xA5u8; ENTRY];
        e[..4].copy_from_slice(&MAGIC);
        e[4..8].copy_from_slice(&seq.to_le_bytes());
        e[8] = *slot as u8;
        e[9] = !(*slot as u8);
        e
    }

    fn parse(e: &[u8; ENTRY]) -> Option<(u32, Slot)> {
        if e[..4] != MAGIC || e[9] != !e[8] || e[10..].iter().any(|&b| b != 0xA5) {
            return None;
        }
        let seq = u32::from_le_bytes([e[4], e[5], e[6], e[7]]);
        let slot = match e[8] {
            0 => Slot::A,
            1 => Slot::B,
            _ => return None,
        };
        Some((seq, slot))
    }
}

/// The record as last read or written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotRecord {
    log: EntryLog<SlotEntry, ENTRY>,
}

impl SlotRecord {
    /// Reads both sectors.
    pub fn load<F: RecordFlash + ?Sized>(flash: &mut F) -> Result<SlotRecord, StorageError> {
        Ok(SlotRecord {
            log: EntryLog::load(flash)?,
        })
    }

    /// The recorded slot.
    pub fn slot(&self) -> Option<Slot> {
        self.log.value()
    }

    /// Records `slot`: one entry programmed (and, when a sector is full, the other sector erased first).
    pub fn set<F: RecordFlash + ?Sized>(
        &mut self,
        flash: &mut F,
        slot: Slot,
    ) -> Result<(), StorageError> {
        self.log.append(flash, slot)
    }
}

#[cfg(test)]
mod tests;
