//! The ESP32-C3's SPI flash, laid out by `firmware/partitions.csv` and read through its partition table: the model
//! A/B slots, the active-slot record (sectors 0-1 of `nvs`), the owner record and the BLE bonds (sectors 0-1 and 2-3
//! of `keys`), firmware images into the next OTA app slot, the running app's OTA state in `otadata` (which the
//! ESP-IDF second-stage bootloader reads), and the activity log's `log` partition (bandx-core's [`LogFlash`];
//! optional: without it the band keeps no log).
//!
//! Model slots are read through RAM mirrors, not memory-mapped flash: [`ModelStore::slot`] returns a mirror,
//! which is filled from flash at boot and, after every erase or write, re-read from flash over the range that
//! changed, so the view is what the flash holds and no slice over flash outlives a write. A mirror holds the first
//! [`MIRROR_LEN`] bytes of a slot, which is the slot capacity the band announces (models are ~10 KB).

use bandx_core::boot::OtaState;
use bandx_core::log::LogFlash;
use bandx_core::update::{Chip, FirmwareSink, ModelStore, Slot, SlotRecord, StorageError};
use esp_bootloader_esp_idf::ota::OtaImageState;
use esp_bootloader_esp_idf::ota_updater::OtaUpdater;
use esp_bootloader_esp_idf::partitions::{
    self, AppPartitionSubType, PARTITION_TABLE_MAX_LEN, PartitionType,
};
use esp_storage::FlashStorage;

use crate::bonds::{BONDS_LEN, Bonds};
use crate::record::{self, RecordRegion};

/// Bytes of a model slot mirrored in RAM: the slot capacity the band announces.
pub const MIRROR_LEN: usize = 16 * 1024;
/// Flash sector (erase unit).
pub const SECTOR: usize = FlashStorage::SECTOR_SIZE as usize;
const WORD: usize = FlashStorage::WORD_SIZE as usize;

/// RAM the flash layer needs, from `static`s (so it never travels over a task stack).
pub struct Buffers {
    pub table: &'static mut [u8; PARTITION_TABLE_MAX_LEN],
    pub mirrors: &'static mut [[u8; MIRROR_LEN]; 2],
    pub sector: &'static mut [u8; SECTOR],
}

/// Why the flash layer could not start.
#[derive(Debug, Clone, Copy)]
pub enum FlashError {
    /// No valid partition table at 0x8000.
    PartitionTable,
    /// A partition `firmware/partitions.csv` defines is missing (flash that table).
    Missing(&'static str),
    /// A flash read failed.
    Read,
}

impl core::fmt::Display for FlashError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            FlashError::PartitionTable => {
                write!(f, "no partition table: flash firmware/partitions.csv")
            }
            FlashError::Missing(what) => {
                write!(f, "partition {what} missing: flash firmware/partitions.csv")
            }
            FlashError::Read => write!(f, "flash read failed"),
        }
    }
}

/// A firmware image being written to the next OTA app slot, one sector at a time: each sector is erased just
/// before it is written, so no long erase stalls the BLE link.
struct Staging {
    base: u32,
    len: u32,
    /// Start of the sector being filled in `sector`, relative to `base`.
    sector_start: u32,
    filled: usize,
}

/// Model slots, active-slot record, OTA.
pub struct Flash {
    flash: FlashStorage<'static>,
    table: &'static mut [u8; PARTITION_TABLE_MAX_LEN],
    model_base: [u32; 2],
    mirrors: &'static mut [[u8; MIRROR_LEN]; 2],
    record: SlotRecord,
    record_base: u32,
    /// Start of the `keys` partition: the owner record, then the bonds.
    keys_base: u32,
    bonds: Bonds,
    sector: &'static mut [u8; SECTOR],
    staging: Option<Staging>,
    app_capacity: usize,
    /// The `log` partition: offset and length.
    log: Option<(u32, u32)>,
}

impl Flash {
    /// Reads the partition table, the model slots, the active-slot record and the bonds.
    pub fn new(mut flash: FlashStorage<'static>, buffers: Buffers) -> Result<Flash, FlashError> {
        let Buffers {
            table,
            mirrors,
            sector,
        } = buffers;
        let (model_a, model_b, nvs, keys, app, log) = {
            let pt = partitions::read_partition_table(&mut flash, table)
                .map_err(|_| FlashError::PartitionTable)?;
            let find = |label: &str| {
                pt.iter()
                    .find(|p| p.label_as_str() == label)
                    .map(|p| (p.offset(), p.len()))
            };
            let app = pt
                .find_partition(PartitionType::App(AppPartitionSubType::Ota0))
                .ok()
                .flatten()
                .map(|p| p.len());
            (
                find("model_a"),
                find("model_b"),
                find("nvs"),
                find("keys"),
                app,
                find("log"),
            )
        };
        let model_a = model_a.ok_or(FlashError::Missing("model_a"))?;
        let model_b = model_b.ok_or(FlashError::Missing("model_b"))?;
        let nvs = nvs.ok_or(FlashError::Missing("nvs"))?;
        let keys = keys.ok_or(FlashError::Missing("keys"))?;
        let app_capacity = app.ok_or(FlashError::Missing("ota_0"))? as usize;
        if (model_a.1 as usize) < MIRROR_LEN || (model_b.1 as usize) < MIRROR_LEN {
            return Err(FlashError::Missing("model slots of at least 16 KB"));
        }
        let model_base = [model_a.0, model_b.0];
        for (mirror, base) in mirrors.iter_mut().zip(model_base) {
            flash
                .read(base, &mut mirror[..])
                .map_err(|_| FlashError::Read)?;
        }
        let owner_len = bandx_core::owner::OWNER_RECORD_LEN;
        if keys.1 < owner_len + BONDS_LEN {
            return Err(FlashError::Missing("keys of at least 16 KB"));
        }
        let record = record::load(&mut flash, nvs.0).map_err(|_| FlashError::Read)?;
        let bonds = Bonds::load(&mut flash, keys.0 + owner_len);
        Ok(Flash {
            flash,
            table,
            model_base,
            mirrors,
            record,
            record_base: nvs.0,
            keys_base: keys.0,
            bonds,
            sector,
            staging: None,
            app_capacity,
            log,
        })
    }

    /// Re-reads `range` of a slot's mirror from flash.
    fn refresh(&mut self, slot: Slot, start: usize, end: usize) -> Result<(), StorageError> {
        let base = self.model_base[slot as usize];
        let mirror = &mut self.mirrors[slot as usize];
        self.flash
            .read(base + start as u32, &mut mirror[start..end])
            .map_err(|_| StorageError)
    }

    /// The running app's OTA state: that of the app `otadata` selects, if the bootloader started that one.
    pub fn running_app_state(&mut self) -> Option<OtaState> {
        let booted = {
            let pt = partitions::read_partition_table(&mut self.flash, self.table).ok()?;
            pt.booted_partition().ok()??.partition_type()
        };
        let mut ota = OtaUpdater::new(&mut self.flash, self.table).ok()?;
        if PartitionType::App(ota.selected_partition().ok()?) != booted {
            // The bootloader fell back to another app: the selected one was rolled back, this one is not on trial.
            return None;
        }
        OtaState::from_raw(ota.current_ota_state().ok()? as u32)
    }

    /// Marks the running (selected) app valid in `otadata`.
    pub fn mark_app_valid(&mut self) -> Result<(), StorageError> {
        let mut ota = OtaUpdater::new(&mut self.flash, self.table).map_err(|_| StorageError)?;
        ota.set_current_ota_state(OtaImageState::Valid)
            .map_err(|_| StorageError)
    }

    /// The stored BLE bonds.
    pub fn bonds(&self) -> &Bonds {
        &self.bonds
    }

    /// Stores `bond` as the newest bond (see [`Bonds::insert`]); returns the bond dropped to make room, if any.
    pub fn add_bond(
        &mut self,
        bond: trouble_host::BondInformation,
    ) -> Result<Option<trouble_host::BondInformation>, StorageError> {
        let evicted = self.bonds.insert(bond);
        let base = self.keys_base + bandx_core::owner::OWNER_RECORD_LEN;
        self.bonds.store(&mut self.flash, base)?;
        Ok(evicted)
    }

    /// Erases and writes the staged sector.
    fn flush_sector(&mut self) -> Result<(), StorageError> {
        let s = self.staging.as_mut().ok_or(StorageError)?;
        if s.filled == 0 {
            return Ok(());
        }
        let at = s.base + s.sector_start;
        let len = s.filled.div_ceil(WORD) * WORD;
        self.sector[s.filled..len].fill(0xFF);
        self.flash
            .erase(at, at + SECTOR as u32)
            .map_err(|_| StorageError)?;
        self.flash
            .write_nor(at, &self.sector[..len])
            .map_err(|_| StorageError)?;
        s.sector_start += SECTOR as u32;
        s.filled = 0;
        Ok(())
    }
}

impl Flash {
    /// The flash address of `len` bytes at `offset` of the log partition, if they lie inside it.
    fn log_address(&self, offset: u32, len: usize) -> Result<u32, StorageError> {
        let (base, size) = self.log.ok_or(StorageError)?;
        if u64::from(offset) + len as u64 > u64::from(size) {
            return Err(StorageError);
        }
        Ok(base + offset)
    }
}

impl LogFlash for Flash {
    fn log_len(&self) -> u32 {
        self.log.map_or(0, |(_, size)| size)
    }

    /// Reads through whole words (the log reads 6-byte records at any offset).
    fn log_read(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), StorageError> {
        let at = self.log_address(offset, buf.len())?;
        let mut words = [0u8; 64];
        let mut done = 0;
        while done < buf.len() {
            let addr = at + done as u32;
            let start = addr & !(WORD as u32 - 1);
            let lead = (addr - start) as usize;
            let take = (buf.len() - done).min(words.len() - lead);
            let len = (lead + take).div_ceil(WORD) * WORD;
            self.flash
                .read(start, &mut words[..len])
                .map_err(|_| StorageError)?;
            buf[done..done + take].copy_from_slice(&words[lead..lead + take]);
            done += take;
        }
        Ok(())
    }

    fn log_program(&mut self, offset: u32, data: &[u8]) -> Result<(), StorageError> {
        let at = self.log_address(offset, data.len())?;
        self.flash.write_nor(at, data).map_err(|_| StorageError)
    }

    fn log_erase_sector(&mut self, offset: u32) -> Result<(), StorageError> {
        let at = self.log_address(offset, SECTOR)?;
        self.flash
            .erase(at, at + SECTOR as u32)
            .map_err(|_| StorageError)
    }
}

impl ModelStore for Flash {
    fn slot_capacity(&self) -> usize {
        MIRROR_LEN
    }

    fn slot(&self, slot: Slot) -> &[u8] {
        &self.mirrors[slot as usize]
    }

    fn erase_slot(&mut self, slot: Slot) -> Result<(), StorageError> {
        let base = self.model_base[slot as usize];
        let erased = self
            .flash
            .erase(base, base + MIRROR_LEN as u32)
            .map_err(|_| StorageError);
        self.refresh(slot, 0, MIRROR_LEN)?;
        erased
    }

    fn write_slot(&mut self, slot: Slot, offset: usize, data: &[u8]) -> Result<(), StorageError> {
        let end = offset
            .checked_add(data.len())
            .filter(|&end| end <= MIRROR_LEN)
            .ok_or(StorageError)?;
        // NOR flash: programming only clears bits. Program whole words: the bytes around the new ones are the
        // mirror's (0xFF where still erased), which programs nothing new.
        let (start, stop) = (offset / WORD * WORD, end.div_ceil(WORD) * WORD);
        let mirror = &mut self.mirrors[slot as usize];
        for (dst, &b) in mirror[offset..end].iter_mut().zip(data) {
            *dst &= b;
        }
        let base = self.model_base[slot as usize];
        let written = self
            .flash
            .write_nor(base + start as u32, &mirror[start..stop])
            .map_err(|_| StorageError);
        self.refresh(slot, start, stop)?;
        written
    }

    fn active_slot(&self) -> Option<Slot> {
        self.record.slot()
    }

    fn set_active_slot(&mut self, slot: Slot) -> Result<(), StorageError> {
        let mut region = RecordRegion {
            flash: &mut self.flash,
            base: self.record_base,
        };
        self.record.set(&mut region, slot)
    }
}

impl FirmwareSink for Flash {
    fn app_chip(&self) -> Chip {
        Chip::Esp32C3
    }

    fn firmware_capacity(&self) -> usize {
        self.app_capacity
    }

    fn firmware_begin(&mut self, total_len: u32) -> Result<(), StorageError> {
        self.staging = None;
        let (subtype, size) = {
            let mut ota = OtaUpdater::new(&mut self.flash, self.table).map_err(|_| StorageError)?;
            let (region, subtype) = ota.next_partition().map_err(|_| StorageError)?;
            (subtype, region.partition_size())
        };
        if total_len as usize > size {
            return Err(StorageError);
        }
        let base = partitions::read_partition_table(&mut self.flash, self.table)
            .ok()
            .and_then(|pt| {
                pt.find_partition(PartitionType::App(subtype))
                    .ok()
                    .flatten()
            })
            .map(|p| p.offset())
            .ok_or(StorageError)?;
        self.staging = Some(Staging {
            base,
            len: total_len,
            sector_start: 0,
            filled: 0,
        });
        Ok(())
    }

    fn firmware_write(&mut self, offset: u32, mut data: &[u8]) -> Result<(), StorageError> {
        let s = self.staging.as_ref().ok_or(StorageError)?;
        let at = s.sector_start + s.filled as u32;
        if offset != at || u64::from(offset) + data.len() as u64 > u64::from(s.len) {
            return Err(StorageError);
        }
        while !data.is_empty() {
            let s = self.staging.as_mut().ok_or(StorageError)?;
            let take = data.len().min(SECTOR - s.filled);
            self.sector[s.filled..s.filled + take].copy_from_slice(&data[..take]);
            s.filled += take;
            data = &data[take..];
            if s.filled == SECTOR {
                self.flush_sector()?;
            }
        }
        Ok(())
    }

    fn firmware_commit(&mut self) -> Result<(), StorageError> {
        self.flush_sector()?;
        self.staging = None;
        let mut ota = OtaUpdater::new(&mut self.flash, self.table).map_err(|_| StorageError)?;
        ota.activate_next_partition().map_err(|_| StorageError)?;
        // On trial: the bootloader starts it once as pending-verify; `Band::check_boot` confirms it or the next
        // reset rolls it back (bootloaders built with CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE).
        ota.set_current_ota_state(OtaImageState::New)
            .map_err(|_| StorageError)
    }

    fn firmware_abort(&mut self) {
        self.staging = None;
    }

    /// Not computed on this board (it would hash the whole running partition at every update): an identical
    /// image is rewritten rather than refused as installed.
    fn running_app_digest(&mut self) -> Option<[u8; 32]> {
        None
    }
}

/// The owner record's two sectors at the start of the `keys` partition.
impl bandx_core::owner::OwnerFlash for Flash {
    fn read(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), StorageError> {
        let mut region = RecordRegion {
            flash: &mut self.flash,
            base: self.keys_base,
        };
        bandx_core::update::RecordFlash::read(&mut region, offset, buf)
    }

    fn program(&mut self, offset: u32, data: &[u8]) -> Result<(), StorageError> {
        let mut region = RecordRegion {
            flash: &mut self.flash,
            base: self.keys_base,
        };
        bandx_core::update::RecordFlash::program(&mut region, offset, data)
    }

    fn erase_sector(&mut self, offset: u32) -> Result<(), StorageError> {
        let mut region = RecordRegion {
            flash: &mut self.flash,
            base: self.keys_base,
        };
        bandx_core::update::RecordFlash::erase_sector(&mut region, offset)
    }
}
