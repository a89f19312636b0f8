//! The active model slot record: which of `model_a` / `model_b` the band runs, kept so that a power cut at any
//! instant leaves the old or the new value (bandx-core's `ModelStore::set_active_slot` contract).
//!
//! It lives in the first two sectors of the `nvs` partition (this firmware has no ESP-IDF NVS) as an append-only
//! log of 16-byte entries: magic `BXas`, a sequence number, the slot and its complement, 8 bytes 0xA5. The valid
//! entry with the highest sequence number wins; a torn entry fails its checks and is skipped. When a sector is
//! full the next entry goes to the other sector, which is erased first while the full one still holds the record.

use bandx_core::update::{Slot, StorageError};
use esp_storage::{FlashStorage, FlashStorageError};

const MAGIC: [u8; 4] = *b"BXas";
const ENTRY: usize = 16;
const SECTOR: u32 = FlashStorage::SECTOR_SIZE;
const PER_SECTOR: u32 = SECTOR / ENTRY as u32;

/// Where the newest entry is and what it says.
#[derive(Debug, Clone, Copy)]
struct Newest {
    sector: u32,
    index: u32,
    seq: u32,
    slot: Slot,
}

/// The record, as loaded at boot and kept in step with every write.
pub struct Record {
    base: u32,
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

impl Record {
    /// Scans both sectors at `base`.
    pub fn load(flash: &mut FlashStorage<'_>, base: u32) -> Result<Record, FlashStorageError> {
        let mut newest: Option<Newest> = None;
        let mut block = [0u8; 256];
        for sector in 0..2 {
            for chunk in 0..SECTOR / block.len() as u32 {
                let at = base + sector * SECTOR + chunk * block.len() as u32;
                flash.read(at, &mut block)?;
                for (i, e) in block.chunks_exact(ENTRY).enumerate() {
                    let index = chunk * (block.len() / ENTRY) as u32 + i as u32;
                    if let Some((seq, slot)) = parse(e)
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
        }
        Ok(Record { base, newest })
    }

    /// The recorded slot.
    pub fn slot(&self) -> Option<Slot> {
        self.newest.map(|n| n.slot)
    }

    /// Appends an entry naming `slot`.
    pub fn set(&mut self, flash: &mut FlashStorage<'_>, slot: Slot) -> Result<(), StorageError> {
        let (sector, index, seq) = match self.newest {
            Some(n) => {
                match self.free_after(flash, n).map_err(|_| StorageError)? {
                    Some(index) => (n.sector, index, n.seq.wrapping_add(1)),
                    None => {
                        // Full: start the other sector (its entries are all older).
                        let other = 1 - n.sector;
                        let at = self.base + other * SECTOR;
                        flash.erase(at, at + SECTOR).map_err(|_| StorageError)?;
                        (other, 0, n.seq.wrapping_add(1))
                    }
                }
            }
            None => {
                // No record yet (fresh or foreign data): nothing to lose by erasing sector 0.
                flash
                    .erase(self.base, self.base + SECTOR)
                    .map_err(|_| StorageError)?;
                (0, 0, 1)
            }
        };
        let at = self.base + sector * SECTOR + index * ENTRY as u32;
        flash
            .write_nor(at, &entry(seq, slot))
            .map_err(|_| StorageError)?;
        let mut back = [0u8; ENTRY];
        flash.read(at, &mut back).map_err(|_| StorageError)?;
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

    /// The first erased entry after the newest one in its sector.
    fn free_after(
        &self,
        flash: &mut FlashStorage<'_>,
        n: Newest,
    ) -> Result<Option<u32>, FlashStorageError> {
        let mut e = [0u8; ENTRY];
        for index in n.index + 1..PER_SECTOR {
            flash.read(self.base + n.sector * SECTOR + index * ENTRY as u32, &mut e)?;
            if e.iter().all(|&b| b == 0xFF) {
                return Ok(Some(index));
            }
        }
        Ok(None)
    }
}
