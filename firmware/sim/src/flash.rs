//! The band's 4 MB SPI flash as a file, laid out by `firmware/partitions.csv` ([`FlashLayout`]).
//!
//! - `model_a` / `model_b` hold model blobs; they are mirrored in memory because bandx-core reads a slot
//!   in place (memory-mapped flash on the ESP32).
//! - The active-slot record lives in the `nvs` partition as two 16-byte records in separate sectors:
//!   `"BXAS" | seq u32 | slot u8 | ff ff ff | crc32 of the first 12 bytes`. A switch erases the sector
//!   *not* holding the newest valid record and programs a record with `seq + 1` there, so a write cut
//!   at any byte leaves either the old record (the new one fails its CRC) or the new one. The file is
//!   `fsync`ed after each record. (The ESP32 build keeps the same value in a real NVS entry instead.)
//! - The `keys` partition holds the owner record (bandx-core's `owner::OwnerRecord`, sectors 0-1, through
//!   [`bandx_core::owner::OwnerFlash`]) and the desktops bonded with the band ([`crate::bonds`], sector 2).
//! - Firmware images go to the app slot the band does not run, erased sector by sector as the chunks
//!   arrive (as the C3 firmware does); committing writes an ESP-IDF `otadata` entry in state NEW (the
//!   bootloader's rule: the usable entry with the highest `ota_seq` picks `ota_(seq-1)%2`).
//! - [`SimFlash::bootloader`] is the ESP-IDF bootloader's pass at a reset (bandx-board's
//!   `otadata::boot`): NEW -> PENDING_VERIFY, and a PENDING_VERIFY app that was never confirmed is
//!   ABORTED and the previous one started. [`SimFlash::mark_running_app_valid`] is
//!   `esp_ota_mark_app_valid_cancel_rollback`.
//! - The `log` partition holds bandx-core's activity log ([`LogFlash`]: reads, programs and erases go to
//!   the file through the same power-cut plan; a minute record is not `fsync`ed, like a real flash write it
//!   simply lands).
//! - Erases take flash time: [`SECTOR_ERASE`] per 4 KB sector, summed in [`SimFlash::take_busy`] for the
//!   sim to charge on its clock.
//!
//! Flash semantics are those of NOR flash: erase sets bytes to 0xFF, programming can only clear bits.
//! [`SimFlash::cut_power_after`] injects a power cut: the write it lands on is torn (half its bytes
//! reach the file) and every later write fails.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use bandx_core::log::LogFlash;
use bandx_core::update::app_image::{AppImageError, Chip, check_app_image};
use bandx_core::update::{FirmwareSink, ModelStore, Slot, StorageError, blob_len};

use bandx_board::otadata::{self, app_slot_of_seq, newest_entry};
use bandx_board::partitions::{AppSlot, FlashLayout, KEYS_PARTITION, SECTOR_SIZE};

use crate::bonds::{BONDS_SECTOR, Bonds};

/// Time one 4 KB sector erase takes: 45 ms, the typical sector erase time (tSE, 4 KB) in the datasheets
/// of the SPI NOR parts ESP32 modules carry (Winbond W25Q32JV: 45 ms typ., 400 ms max.; GigaDevice
/// GD25Q32C: 50 ms typ.). Programming time (about 0.7 ms per 256-byte page) is not charged.
pub const SECTOR_ERASE: std::time::Duration = std::time::Duration::from_millis(45);

const RECORD_MAGIC: &[u8; 4] = b"BXAS";
const RECORD_LEN: usize = 16;
const RECORD_CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// Why the flash file could not be opened or created.
#[derive(Debug, thiserror::Error)]
pub enum FlashError {
    #[error("flash file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("flash file {path} is {len} bytes, not a {expected}-byte band flash")]
    WrongSize {
        path: PathBuf,
        len: u64,
        expected: u32,
    },
    #[error("the model for a fresh band is not usable: {0}")]
    FreshModel(String),
    #[error("flash file {0} is in use by another virtual band")]
    InUse(PathBuf),
}

/// An active-slot record as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Record {
    seq: u32,
    slot: Slot,
}

impl Record {
    fn encode(&self) -> [u8; RECORD_LEN] {
        let mut r = [0xFF; RECORD_LEN];
        r[..4].copy_from_slice(RECORD_MAGIC);
        r[4..8].copy_from_slice(&self.seq.to_le_bytes());
        r[8] = match self.slot {
            Slot::A => 0,
            Slot::B => 1,
        };
        let crc = RECORD_CRC.checksum(&r[..12]);
        r[12..].copy_from_slice(&crc.to_le_bytes());
        r
    }

    fn decode(r: &[u8]) -> Option<Record> {
        let r = r.get(..RECORD_LEN)?;
        if &r[..4] != RECORD_MAGIC || RECORD_CRC.checksum(&r[..12]).to_le_bytes() != r[12..16] {
            return None;
        }
        let slot = match r[8] {
            0 => Slot::A,
            1 => Slot::B,
            _ => return None,
        };
        Some(Record {
            seq: u32::from_le_bytes([r[4], r[5], r[6], r[7]]),
            slot,
        })
    }
}

/// A firmware image being written.
#[derive(Debug, Clone, Copy)]
struct Staging {
    slot: AppSlot,
    len: u32,
    /// Bytes from the slot's start erased so far (whole sectors).
    erased: u32,
}

/// The band's flash, backed by a file.
#[derive(Debug)]
pub struct SimFlash {
    path: PathBuf,
    file: File,
    layout: FlashLayout,
    models: [Vec<u8>; 2],
    /// The newest valid active-slot record and the `nvs` sector holding it.
    record: Option<(usize, Record)>,
    staging: Option<Staging>,
    /// Writes left before the power cut (`None`: no cut planned).
    power_budget: Option<u32>,
    powered: bool,
    writes: u64,
    /// Flash time spent on erases not yet charged to the sim's clock.
    busy: std::time::Duration,
    /// The `otadata` entry the running app was started from, as (sector, `ota_seq`).
    running: Option<(usize, u32)>,
}

impl SimFlash {
    /// Opens the band's flash file, or creates it for a fresh band: erased, with `fresh_model` (if any)
    /// in `model_a` and recorded as active. The file appears complete or not at all (written to a
    /// temporary name, then renamed).
    pub fn open(path: &Path, fresh_model: Option<&[u8]>) -> Result<SimFlash, FlashError> {
        let io = |source| FlashError::Io {
            path: path.to_path_buf(),
            source,
        };
        let layout = FlashLayout::band();
        if !path.exists() {
            let tmp = path.with_extension("creating");
            let mut image = vec![0xFFu8; layout.flash_size() as usize];
            if let Some(blob) = fresh_model {
                check_fresh_model(blob)?;
                let slot = layout.model_slot(Slot::A);
                if blob.len() > slot.size as usize {
                    return Err(FlashError::FreshModel(format!(
                        "{} bytes do not fit the {}-byte model slot",
                        blob.len(),
                        slot.size
                    )));
                }
                image[slot.offset as usize..][..blob.len()].copy_from_slice(blob);
                let nvs = layout.get("nvs").expect("validated layout has nvs").offset as usize;
                image[nvs..][..RECORD_LEN].copy_from_slice(
                    &Record {
                        seq: 1,
                        slot: Slot::A,
                    }
                    .encode(),
                );
            }
            let mut f = File::create(&tmp).map_err(io)?;
            f.write_all(&image).map_err(io)?;
            f.sync_all().map_err(io)?;
            std::fs::rename(&tmp, path).map_err(io)?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(io)?;
        // One band per flash file (an advisory lock, released when the file is closed).
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(FlashError::InUse(path.to_path_buf()));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        let len = file.metadata().map_err(io)?.len();
        if len != u64::from(layout.flash_size()) {
            return Err(FlashError::WrongSize {
                path: path.to_path_buf(),
                len,
                expected: layout.flash_size(),
            });
        }
        let mut read = |offset: u32, size: u32| -> Result<Vec<u8>, FlashError> {
            let mut buf = vec![0; size as usize];
            file.seek(SeekFrom::Start(offset.into())).map_err(io)?;
            file.read_exact(&mut buf).map_err(io)?;
            Ok(buf)
        };
        let a = layout.model_slot(Slot::A);
        let b = layout.model_slot(Slot::B);
        let models = [read(a.offset, a.size)?, read(b.offset, b.size)?];
        let nvs = layout.get("nvs").expect("validated layout has nvs");
        let nvs_bytes = read(nvs.offset, 2 * SECTOR_SIZE)?;
        let record = nvs_bytes
            .chunks(SECTOR_SIZE as usize)
            .enumerate()
            .filter_map(|(i, s)| Record::decode(s).map(|r| (i, r)))
            .max_by_key(|(_, r)| r.seq);
        Ok(SimFlash {
            path: path.to_path_buf(),
            file,
            layout,
            models,
            record,
            staging: None,
            power_budget: None,
            powered: true,
            writes: 0,
            busy: std::time::Duration::ZERO,
            running: None,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn layout(&self) -> &FlashLayout {
        &self.layout
    }

    /// Plans a power cut: `writes` more flash writes (erase or program) succeed, the next one is torn
    /// and all later ones fail.
    pub fn cut_power_after(&mut self, writes: u32) {
        self.power_budget = Some(writes);
    }

    /// Whether the planned power cut has happened.
    pub fn power_lost(&self) -> bool {
        !self.powered
    }

    /// Flash writes (erases and programs) done since opening.
    pub fn writes(&self) -> u64 {
        self.writes
    }

    /// Reads `len` bytes of flash at `offset` from the file.
    pub fn read(&mut self, offset: u32, len: usize) -> std::io::Result<Vec<u8>> {
        let mut buf = vec![0; len];
        self.file.seek(SeekFrom::Start(offset.into()))?;
        self.file.read_exact(&mut buf)?;
        Ok(buf)
    }

    /// The app slot the bootloader would start (`ota_0` when `otadata` holds no valid entry).
    pub fn boot_app_slot(&mut self) -> AppSlot {
        let otadata = self.layout.otadata().clone();
        self.read(otadata.offset, otadata.size as usize)
            .ok()
            .and_then(|d| newest_entry(&d))
            .map_or(AppSlot::Ota0, |(_, seq)| app_slot_of_seq(seq))
    }

    /// The ESP32 app image stored in `slot`, if it holds one that passes the bootloader's image check.
    pub fn app_image(&mut self, slot: AppSlot) -> Option<Vec<u8>> {
        let p = self.layout.app_slot(slot).clone();
        let mut bytes = self.read(p.offset, p.size as usize).ok()?;
        // The slot is longer than the image: the check stops at the image's end and says how long it is.
        let len = match check_app_image(&bytes, Chip::Esp32) {
            Ok(info) => info.len,
            Err(AppImageError::TrailingBytes { image_len, .. }) => image_len,
            Err(_) => return None,
        };
        bytes.truncate(len as usize);
        check_app_image(&bytes, Chip::Esp32).ok()?;
        Some(bytes)
    }

    /// Flash time spent on erases since the last call (the sim charges it to its clock).
    pub fn take_busy(&mut self) -> std::time::Duration {
        std::mem::take(&mut self.busy)
    }

    fn otadata(&mut self) -> Result<Vec<u8>, StorageError> {
        let otadata = self.layout.otadata().clone();
        self.read(otadata.offset, otadata.size as usize)
            .map_err(|_| StorageError)
    }

    /// Erases `otadata`'s `sector` and programs `entry` there (how ESP-IDF rewrites an entry).
    fn write_otadata_entry(&mut self, sector: usize, entry: &[u8]) -> Result<(), StorageError> {
        let at = self.layout.otadata().offset + sector as u32 * SECTOR_SIZE;
        self.write_op(|f, torn| f.erase(at, SECTOR_SIZE, torn))?;
        self.write_op(|f, torn| {
            f.program(at, entry, torn)?;
            f.file.sync_data()
        })
    }

    /// The ESP-IDF bootloader's pass at a reset ([`otadata::boot`]): rewrites the entries it changes
    /// (NEW -> PENDING_VERIFY; an unconfirmed PENDING_VERIFY -> ABORTED, rolled back) and returns the app
    /// slot it starts. Call once per boot, before the app runs.
    pub fn bootloader(&mut self) -> Result<AppSlot, StorageError> {
        let pass = otadata::boot(&self.otadata()?);
        for w in &pass.writes {
            self.write_otadata_entry(w.sector, &w.entry)?;
        }
        if pass.writes.iter().any(|w| w.entry[24..28] == [4, 0, 0, 0]) {
            tracing::info!("the bootloader rolled back an app that was never confirmed");
        }
        self.running = pass.running;
        Ok(pass.slot())
    }

    /// The `otadata` state of the running app (`None`: not started from an `otadata` entry, e.g. a
    /// fresh band or one flashed over USB without one).
    pub fn running_app_state(&mut self) -> Option<u32> {
        let (sector, _) = self.running?;
        otadata::entry_state(&self.otadata().ok()?, sector)
    }

    /// Confirms the running app: its entry becomes VALID (`esp_ota_mark_app_valid_cancel_rollback`).
    pub fn mark_running_app_valid(&mut self) -> Result<(), StorageError> {
        let (sector, seq) = self.running.ok_or(StorageError)?;
        self.write_otadata_entry(sector, &otadata::entry(seq, otadata::OTA_IMG_VALID))
    }

    /// The desktops bonded with the band (none if the record is erased or torn).
    pub fn bonds(&mut self) -> Bonds {
        let at = self.bonds_offset();
        self.read(at, SECTOR_SIZE as usize)
            .map(|r| Bonds::decode(&r))
            .unwrap_or_default()
    }

    /// Stores the bonds: erases their sector, programs the record, syncs the file.
    pub fn store_bonds(&mut self, bonds: &Bonds) -> Result<(), StorageError> {
        let at = self.bonds_offset();
        let record = bonds.encode();
        self.write_op(|f, torn| f.erase(at, SECTOR_SIZE, torn))?;
        self.write_op(|f, torn| {
            f.program(at, &record, torn)?;
            f.file.sync_data()
        })
    }

    fn bonds_offset(&self) -> u32 {
        self.keys_offset() + BONDS_SECTOR * SECTOR_SIZE
    }

    fn keys_offset(&self) -> u32 {
        self.layout
            .get(KEYS_PARTITION)
            .expect("validated layout has keys")
            .offset
    }

    /// The owner record's range in the file, if `offset..offset + len` lies inside it.
    fn owner_range(&self, offset: u32, len: usize) -> Result<u32, StorageError> {
        let end = u64::from(offset) + len as u64;
        if end > u64::from(bandx_core::owner::OWNER_RECORD_LEN) {
            return Err(StorageError);
        }
        Ok(self.keys_offset() + offset)
    }

    fn model_offset(&self, slot: Slot) -> u32 {
        self.layout.model_slot(slot).offset
    }

    /// One flash write, through the power-cut plan. `op` gets the fraction of the bytes that reach flash.
    fn write_op(
        &mut self,
        apply: impl FnOnce(&mut Self, bool) -> std::io::Result<()>,
    ) -> Result<(), StorageError> {
        if !self.powered {
            return Err(StorageError);
        }
        let torn = match self.power_budget.as_mut() {
            Some(0) => true,
            Some(n) => {
                *n -= 1;
                false
            }
            None => false,
        };
        self.writes += 1;
        let result = apply(self, torn);
        if torn {
            self.powered = false;
            tracing::debug!(writes = self.writes, "simulated power cut");
            return Err(StorageError);
        }
        result.map_err(|e| {
            tracing::warn!("flash file write failed: {e}");
            StorageError
        })
    }

    /// Erases `len` bytes at `offset` (sector aligned). Torn: only the first half.
    fn erase(&mut self, offset: u32, len: u32, torn: bool) -> std::io::Result<()> {
        self.busy += SECTOR_ERASE * len.div_ceil(SECTOR_SIZE);
        let len = if torn { len / 2 } else { len };
        self.file.seek(SeekFrom::Start(offset.into()))?;
        self.file.write_all(&vec![0xFF; len as usize])?;
        for (i, slot) in [Slot::A, Slot::B].into_iter().enumerate() {
            let base = self.model_offset(slot);
            let (lo, hi) = (
                offset.max(base),
                (offset + len).min(base + self.models[i].len() as u32),
            );
            if lo < hi {
                self.models[i][(lo - base) as usize..(hi - base) as usize].fill(0xFF);
            }
        }
        Ok(())
    }

    /// Programs `data` at `offset` (NOR: bits only clear). Torn: only the first half of the bytes.
    fn program(&mut self, offset: u32, data: &[u8], torn: bool) -> std::io::Result<()> {
        let data = if torn { &data[..data.len() / 2] } else { data };
        let mut current = vec![0; data.len()];
        self.file.seek(SeekFrom::Start(offset.into()))?;
        self.file.read_exact(&mut current)?;
        for (c, d) in current.iter_mut().zip(data) {
            *c &= d;
        }
        self.file.seek(SeekFrom::Start(offset.into()))?;
        self.file.write_all(&current)?;
        for (i, slot) in [Slot::A, Slot::B].into_iter().enumerate() {
            let base = self.model_offset(slot);
            let end = offset as usize + current.len();
            if offset >= base && end <= base as usize + self.models[i].len() {
                self.models[i][(offset - base) as usize..][..current.len()]
                    .copy_from_slice(&current);
            }
        }
        Ok(())
    }
}

impl SimFlash {
    /// The log partition's offset and size (none in a table without one).
    fn log_partition(&self) -> Option<(u32, u32)> {
        self.layout.log().map(|p| (p.offset, p.size))
    }

    /// Checks an access to the log partition and returns its flash address.
    fn log_address(&self, offset: u32, len: usize) -> Result<u32, StorageError> {
        let (base, size) = self.log_partition().ok_or(StorageError)?;
        let end = u64::from(offset) + len as u64;
        if end > u64::from(size) {
            return Err(StorageError);
        }
        Ok(base + offset)
    }
}

impl LogFlash for SimFlash {
    fn log_len(&self) -> u32 {
        self.log_partition().map_or(0, |(_, size)| size)
    }
    fn log_read(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), StorageError> {
        let at = self.log_address(offset, buf.len())?;
        self.file
            .seek(SeekFrom::Start(at.into()))
            .and_then(|_| self.file.read_exact(buf))
            .map_err(|_| StorageError)
    }
    fn log_program(&mut self, offset: u32, data: &[u8]) -> Result<(), StorageError> {
        if !offset.is_multiple_of(4) || !data.len().is_multiple_of(4) {
            return Err(StorageError);
        }
        let at = self.log_address(offset, data.len())?;
        self.write_op(|f, torn| f.program(at, data, torn))
    }
    fn log_erase_sector(&mut self, offset: u32) -> Result<(), StorageError> {
        if !offset.is_multiple_of(SECTOR_SIZE) {
            return Err(StorageError);
        }
        let at = self.log_address(offset, SECTOR_SIZE as usize)?;
        self.write_op(|f, torn| f.erase(at, SECTOR_SIZE, torn))
    }
}

/// A fresh band's model must be one the band will run: bandx-core's one check (parse, budgets, self-test).
fn check_fresh_model(blob: &[u8]) -> Result<(), FlashError> {
    let bad = |e: String| FlashError::FreshModel(e);
    let len = blob_len(blob).ok_or_else(|| bad("not a model blob".into()))?;
    bandx_core::budget::check_model(&blob[..len]).map_err(|e| bad(e.to_string()))?;
    Ok(())
}

impl ModelStore for SimFlash {
    fn slot_capacity(&self) -> usize {
        self.models[0].len().min(self.models[1].len())
    }

    fn slot(&self, slot: Slot) -> &[u8] {
        &self.models[slot as usize]
    }

    fn erase_slot(&mut self, slot: Slot) -> Result<(), StorageError> {
        let p = self.layout.model_slot(slot).clone();
        self.write_op(|f, torn| f.erase(p.offset, p.size, torn))
    }

    fn write_slot(&mut self, slot: Slot, offset: usize, data: &[u8]) -> Result<(), StorageError> {
        let p = self.layout.model_slot(slot).clone();
        if offset
            .checked_add(data.len())
            .is_none_or(|end| end > p.size as usize)
        {
            return Err(StorageError);
        }
        self.write_op(|f, torn| f.program(p.offset + offset as u32, data, torn))
    }

    fn active_slot(&self) -> Option<Slot> {
        self.record.map(|(_, r)| r.slot)
    }

    fn set_active_slot(&mut self, slot: Slot) -> Result<(), StorageError> {
        let nvs = self
            .layout
            .get("nvs")
            .expect("validated layout has nvs")
            .offset;
        let (sector, seq) = match self.record {
            Some((s, r)) => (1 - s, r.seq.wrapping_add(1)),
            None => (0, 1),
        };
        let at = nvs + sector as u32 * SECTOR_SIZE;
        let record = Record { seq, slot };
        self.write_op(|f, torn| f.erase(at, SECTOR_SIZE, torn))?;
        self.write_op(|f, torn| {
            f.program(at, &record.encode(), torn)?;
            f.file.sync_data()
        })?;
        self.record = Some((sector, record));
        Ok(())
    }
}

impl FirmwareSink for SimFlash {
    /// The virtual band is the ESP32 board of `firmware/partitions.csv`.
    fn app_chip(&self) -> bandx_core::update::Chip {
        bandx_core::update::Chip::Esp32
    }

    fn firmware_capacity(&self) -> usize {
        self.layout.app_slot(AppSlot::Ota0).size as usize
    }

    fn firmware_begin(&mut self, total_len: u32) -> Result<(), StorageError> {
        self.staging = None;
        let slot = self.boot_app_slot().other();
        let p = self.layout.app_slot(slot).clone();
        if total_len > p.size {
            return Err(StorageError);
        }
        // Nothing is erased yet: each sector is erased when the first chunk reaching it arrives, so no
        // request waits for more than one sector erase (a whole 1.9 MB slot would take 21 s).
        self.staging = Some(Staging {
            slot,
            len: total_len,
            erased: 0,
        });
        Ok(())
    }

    fn firmware_write(&mut self, offset: u32, data: &[u8]) -> Result<(), StorageError> {
        let s = self.staging.ok_or(StorageError)?;
        let end = u64::from(offset) + data.len() as u64;
        if end > u64::from(s.len) {
            return Err(StorageError);
        }
        let base = self.layout.app_slot(s.slot).offset;
        let mut erased = s.erased;
        while u64::from(erased) < end {
            self.write_op(|f, torn| f.erase(base + erased, SECTOR_SIZE, torn))?;
            erased += SECTOR_SIZE;
            if let Some(s) = self.staging.as_mut() {
                s.erased = erased;
            }
        }
        self.write_op(|f, torn| f.program(base + offset, data, torn))
    }

    fn firmware_commit(&mut self) -> Result<(), StorageError> {
        let s = self.staging.take().ok_or(StorageError)?;
        let current = self.otadata()?;
        let (sector, mut seq) = match newest_entry(&current) {
            Some((i, seq)) => (1 - i, seq + 1),
            None => (0, 1),
        };
        if app_slot_of_seq(seq) != s.slot {
            seq += 1;
        }
        // NEW, as esp_ota_set_boot_partition leaves it: the bootloader starts it on trial.
        self.write_otadata_entry(sector, &otadata::entry(seq, otadata::OTA_IMG_NEW))
    }

    fn firmware_abort(&mut self) {
        self.staging = None;
    }

    /// The flash holds images, not which one runs: the band's platform knows that ([`crate::SimPlatform`] is
    /// told at boot).
    fn running_app_digest(&mut self) -> Option<[u8; 32]> {
        None
    }
}

/// The owner record's two sectors at the start of the `keys` partition, with the flash file's power-cut plan.
impl bandx_core::owner::OwnerFlash for SimFlash {
    fn read(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), StorageError> {
        let at = self.owner_range(offset, buf.len())?;
        let bytes = SimFlash::read(self, at, buf.len()).map_err(|_| StorageError)?;
        buf.copy_from_slice(&bytes);
        Ok(())
    }

    fn program(&mut self, offset: u32, data: &[u8]) -> Result<(), StorageError> {
        let at = self.owner_range(offset, data.len())?;
        self.write_op(|f, torn| {
            f.program(at, data, torn)?;
            f.file.sync_data()
        })
    }

    fn erase_sector(&mut self, offset: u32) -> Result<(), StorageError> {
        let at = self.owner_range(offset, SECTOR_SIZE as usize)?;
        self.write_op(|f, torn| f.erase(at, SECTOR_SIZE, torn))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bandx_core::demo::{DEMO_BLOB_CAPACITY, write_demo_model};

    fn demo(version: u32) -> Vec<u8> {
        let mut buf = [0u8; DEMO_BLOB_CAPACITY];
        let n = write_demo_model(&mut buf, 9, version, version).unwrap();
        buf[..n].to_vec()
    }

    #[test]
    fn a_fresh_flash_starts_with_the_given_model_at_model_a() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("band.flash");
        let blob = demo(1);
        let mut flash = SimFlash::open(&path, Some(&blob)).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 4 * 1024 * 1024);
        assert_eq!(flash.active_slot(), Some(Slot::A));
        // Independently of SimFlash: the blob is in the file at model_a's offset from partitions.csv.
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[0x3D_0000..][..blob.len()], &blob[..]);
        assert!(bytes[0x3E_0000..0x3F_0000].iter().all(|&b| b == 0xFF));
        assert_eq!(flash.boot_app_slot(), AppSlot::Ota0);

        let empty = SimFlash::open(&dir.path().join("empty.flash"), None).unwrap();
        assert_eq!(empty.active_slot(), None);
    }

    #[test]
    fn a_broken_fresh_model_or_a_wrong_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut blob = demo(1);
        let last = blob.len() - 40;
        blob[last] ^= 1; // breaks the digest
        let path = dir.path().join("band.flash");
        assert!(matches!(
            SimFlash::open(&path, Some(&blob)),
            Err(FlashError::FreshModel(_))
        ));
        assert!(!path.exists(), "nothing half-made is left behind");
        std::fs::write(&path, [0u8; 100]).unwrap();
        assert!(matches!(
            SimFlash::open(&path, None),
            Err(FlashError::WrongSize { len: 100, .. })
        ));
    }

    #[test]
    fn the_active_record_alternates_sectors_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("band.flash");
        let mut flash = SimFlash::open(&path, Some(&demo(1))).unwrap();
        for (i, slot) in [Slot::B, Slot::A, Slot::B].into_iter().enumerate() {
            flash.set_active_slot(slot).unwrap();
            drop(flash);
            flash = SimFlash::open(&path, None).unwrap();
            assert_eq!(flash.active_slot(), Some(slot), "switch {i}");
        }
    }

    #[test]
    fn a_flash_file_serves_one_band_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("band.flash");
        let flash = SimFlash::open(&path, None).unwrap();
        assert!(matches!(
            SimFlash::open(&path, None),
            Err(FlashError::InUse(_))
        ));
        drop(flash);
        SimFlash::open(&path, None).unwrap();
    }

    #[test]
    fn a_torn_record_write_keeps_the_previous_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("band.flash");
        for cut in 0..2 {
            let _ = std::fs::remove_file(&path);
            let mut flash = SimFlash::open(&path, Some(&demo(1))).unwrap();
            flash.cut_power_after(cut);
            assert_eq!(flash.set_active_slot(Slot::B), Err(StorageError));
            assert!(flash.power_lost());
            drop(flash);
            let reopened = SimFlash::open(&path, None).unwrap();
            assert_eq!(
                reopened.active_slot(),
                Some(Slot::A),
                "cut after {cut} writes"
            );
        }
    }

    #[test]
    fn flash_programming_only_clears_bits() {
        let dir = tempfile::tempdir().unwrap();
        let mut flash = SimFlash::open(&dir.path().join("f"), None).unwrap();
        flash.erase_slot(Slot::B).unwrap();
        flash.write_slot(Slot::B, 0, &[0xF0]).unwrap();
        flash.write_slot(Slot::B, 0, &[0x3C]).unwrap();
        assert_eq!(flash.slot(Slot::B)[0], 0x30);
        assert_eq!(flash.read(0x3E_0000, 1).unwrap(), [0x30]);
        assert_eq!(flash.write_slot(Slot::B, 0x1_0000, &[0]), Err(StorageError));
    }

    #[test]
    fn firmware_goes_to_the_other_app_slot_and_otadata_selects_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("band.flash");
        let mut flash = SimFlash::open(&path, None).unwrap();
        let image: Vec<u8> = (0..10_000u32).map(|i| (i * 7) as u8).collect();
        for (round, expect) in [AppSlot::Ota1, AppSlot::Ota0, AppSlot::Ota1]
            .into_iter()
            .enumerate()
        {
            flash.firmware_begin(image.len() as u32).unwrap();
            for (i, chunk) in image.chunks(1000).enumerate() {
                flash.firmware_write(i as u32 * 1000, chunk).unwrap();
            }
            flash.firmware_commit().unwrap();
            drop(flash);
            flash = SimFlash::open(&path, None).unwrap();
            assert_eq!(flash.boot_app_slot(), expect, "round {round}");
            let bytes = std::fs::read(&path).unwrap();
            let at = flash.layout().app_slot(expect).offset as usize;
            assert_eq!(&bytes[at..at + image.len()], &image[..]);
        }
        // Too large for an app slot.
        assert_eq!(flash.firmware_begin(0x1E_0001), Err(StorageError));
    }
}
