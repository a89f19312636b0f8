//! The active model slot record on this board: bandx-core's power-cut-safe [`SlotRecord`] log, kept in the first
//! two sectors of the `nvs` partition (this firmware has no ESP-IDF NVS). This file only maps its flash accesses.

use bandx_core::update::{RecordFlash, SlotRecord, StorageError};
use esp_storage::FlashStorage;

/// The record's two sectors at `base` on the SPI flash.
pub struct RecordRegion<'a, 'd> {
    pub flash: &'a mut FlashStorage<'d>,
    pub base: u32,
}

impl RecordFlash for RecordRegion<'_, '_> {
    fn read(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), StorageError> {
        self.flash
            .read(self.base + offset, buf)
            .map_err(|_| StorageError)
    }

    fn program(&mut self, offset: u32, data: &[u8]) -> Result<(), StorageError> {
        self.flash
            .write_nor(self.base + offset, data)
            .map_err(|_| StorageError)
    }

    fn erase_sector(&mut self, offset: u32) -> Result<(), StorageError> {
        let at = self.base + offset;
        self.flash
            .erase(at, at + FlashStorage::SECTOR_SIZE)
            .map_err(|_| StorageError)
    }
}

/// Reads the record at `base`.
pub fn load(flash: &mut FlashStorage<'_>, base: u32) -> Result<SlotRecord, StorageError> {
    SlotRecord::load(&mut RecordRegion { flash, base })
}
