//! [`SlotRecord`]: an active-slot record on raw NOR flash that survives a power cut at any instant, for boards with
//! no atomic key-value store (the ESP32-C3 firmware; the ESP32 one uses ESP-IDF's NVS). It meets
//! [`super::ModelStore::set_active_slot`]'s contract: after a power cut the old or the new value is read.
//!
//! Two sectors hold an append-only log of 16-byte entries: magic `BXas`, a sequence number (u32), the slot and
//! its complement, six bytes 0xA5. The valid entry with the highest sequence number wins; an entry torn by a power
//! cut fails its checks and is skipped. When the newest entry's sector has no erased entry left, the next entry
//! goes to the other sector, which is erased first (its entries are all older), while the full sector still
//! holds the current record.

use super::store::{Slot, StorageError};

/// Erase unit of the flash the record lives on.
pub const RECORD_SECTOR: u32 = 4096;
/// Bytes the record occupies: two sectors.
pub const RECORD_LEN: u32 = 2 * RECORD_SECTOR;

const MAGIC: [u8; 4] = *b"BXas";
const ENTRY: usize = 16;
const PER_SECTOR: u32 = RECORD_SECTOR / ENTRY as u32;

/// The two sectors the record lives in, addressed from their start (`0..RECORD_LEN`).
pub trait RecordFlash {
    fn read(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), StorageError>;
    /// Programs `data` (NOR: bits only go from 1 to 0) at a 4-byte aligned `offset`.
    fn program(&mut self, offset: u32, data: &[u8]) -> Result<(), StorageError>;
    /// Erases the sector starting at `offset` (a multiple of [`RECORD_SECTOR`]) to 0xFF.
    fn erase_sector(&mut self, offset: u32) -> Result<(), StorageError>;
}

/// Where the newest entry is and what it says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Newest {
    sector: u32,
    index: u32,
    seq: u32,
    slot: Slot,
}

/// The record as last read or written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotRecord {
    newest: Option<Newest>,
}

fn entry(seq: u32, slot: Slot) -> [u8; ENTRY] {
    let mut e = [0xA5u8; ENTRY];
    e[..4].copy_from_slice(&MAGIC);
    e[4..8].copy_from_slice(&seq.to_le_bytes());
    e[8] = slot as u8;
    e[9] = !(slot as u8);
    e
}

fn parse(e: &[u8]) -> Option<(u32, Slot)> {
    if e.len() != ENTRY || e[..4] != MAGIC || e[9] != !e[8] || e[10..].iter().any(|&b| b != 0xA5) {
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

fn at(sector: u32, index: u32) -> u32 {
    sector * RECORD_SECTOR + index * ENTRY as u32
}

impl SlotRecord {
    /// Reads both sectors.
    pub fn load<F: RecordFlash + ?Sized>(flash: &mut F) -> Result<SlotRecord, StorageError> {
        let mut newest: Option<Newest> = None;
        let mut e = [0u8; ENTRY];
        for sector in 0..2 {
            for index in 0..PER_SECTOR {
                flash.read(at(sector, index), &mut e)?;
                if let Some((seq, slot)) = parse(&e)
                    && newest.is_none_or(|n| seq > n.seq)
                {
                    newest = Some(Newest {
                        sector,
                        index,
                        seq,
                        slot,
                    });
                }
            }
        }
        Ok(SlotRecord { newest })
    }

    /// The recorded slot.
    pub fn slot(&self) -> Option<Slot> {
        self.newest.map(|n| n.slot)
    }

    /// Records `slot`: one entry programmed (and, when a sector is full, the other sector erased first).
    pub fn set<F: RecordFlash + ?Sized>(
        &mut self,
        flash: &mut F,
        slot: Slot,
    ) -> Result<(), StorageError> {
        let (sector, index, seq) = match self.newest {
            Some(n) => match free_after(flash, n)? {
                Some(index) => (n.sector, index, n.seq.wrapping_add(1)),
                None => {
                    let other = 1 - n.sector;
                    flash.erase_sector(other * RECORD_SECTOR)?;
                    (other, 0, n.seq.wrapping_add(1))
                }
            },
            None => {
                // No record yet (erased, or foreign data): nothing to lose by erasing sector 0.
                flash.erase_sector(0)?;
                (0, 0, 1)
            }
        };
        flash.program(at(sector, index), &entry(seq, slot))?;
        let mut back = [0u8; ENTRY];
        flash.read(at(sector, index), &mut back)?;
        if parse(&back) != Some((seq, slot)) {
            return Err(StorageError);
        }
        self.newest = Some(Newest {
            sector,
            index,
            seq,
            slot,
        });
        Ok(())
    }
}

/// The first erased entry after the newest one in its sector.
fn free_after<F: RecordFlash + ?Sized>(
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
