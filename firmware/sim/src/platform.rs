//! [`SimPlatform`]: bandx-core's `Platform` on the host — the flash file, the virtual wearer as the IMU,
//! the sim's clock, the running app's OTA state (the flash file's `otadata`), the activity log's partition,
//! and an outbox of notifications the link carries.

use bandx_core::band::Platform;
use bandx_core::boot::OtaState;
use bandx_core::imu::{FullScale, RawSample};
use bandx_core::log::LogFlash;
use bandx_core::protocol::{Characteristic, att_payload};
use bandx_core::update::{FirmwareSink, ModelStore, Slot, StorageError};

use crate::flash::SimFlash;
use crate::wearer::Wearer;

/// The host board the band's logic runs on.
#[derive(Debug)]
pub struct SimPlatform {
    pub(crate) flash: SimFlash,
    pub(crate) wearer: Wearer,
    pub(crate) full_scale: FullScale,
    /// Band clock, set by the sim before every call into the band.
    pub(crate) now_ms: u32,
    pub(crate) payload: usize,
    pub(crate) battery_percent: u8,
    /// Notifications produced by the band, drained by the link after every call.
    pub(crate) outbox: Vec<(Characteristic, Vec<u8>)>,
    pub(crate) reboot_requested: bool,
    /// Make the next IMU reads fail (tests of the band's handling of a missing sample).
    pub(crate) imu_failures: u32,
    /// The firmware runs without an IMU (a firmware that fails its boot check).
    pub(crate) imu_missing: bool,
    /// SHA-256 of the app image the band runs (`None`: its own build, no image in a slot).
    pub(crate) running_digest: Option<[u8; 32]>,
}

impl SimPlatform {
    pub(crate) fn new(flash: SimFlash, wearer: Wearer) -> SimPlatform {
        SimPlatform {
            flash,
            wearer,
            full_scale: FullScale::DEFAULT,
            now_ms: 0,
            payload: att_payload(23),
            battery_percent: 100,
            outbox: Vec::new(),
            reboot_requested: false,
            imu_failures: 0,
            imu_missing: false,
            running_digest: None,
        }
    }

    /// The flash.
    pub fn flash(&self) -> &SimFlash {
        &self.flash
    }

    /// The flash, mutably (e.g. to plan a power cut).
    pub fn flash_mut(&mut self) -> &mut SimFlash {
        &mut self.flash
    }

    /// The wearer.
    pub fn wearer(&self) -> &Wearer {
        &self.wearer
    }

    pub fn wearer_mut(&mut self) -> &mut Wearer {
        &mut self.wearer
    }

    /// The battery charge GetInfo reports (clamped to 100).
    pub fn set_battery_percent(&mut self, percent: u8) {
        self.battery_percent = percent.min(100);
    }

    /// Makes the next `reads` IMU reads fail (the band restarts its window; frames skip the sample).
    pub fn fail_imu_reads(&mut self, reads: u32) {
        self.imu_failures = reads;
    }

    /// The IMU's full scale (the band reports it in every frame).
    pub fn set_full_scale(&mut self, full_scale: FullScale) {
        self.full_scale = full_scale;
    }
}

impl ModelStore for SimPlatform {
    fn slot_capacity(&self) -> usize {
        self.flash.slot_capacity()
    }
    fn slot(&self, slot: Slot) -> &[u8] {
        self.flash.slot(slot)
    }
    fn erase_slot(&mut self, slot: Slot) -> Result<(), StorageError> {
        self.flash.erase_slot(slot)
    }
    fn write_slot(&mut self, slot: Slot, offset: usize, data: &[u8]) -> Result<(), StorageError> {
        self.flash.write_slot(slot, offset, data)
    }
    fn active_slot(&self) -> Option<Slot> {
        self.flash.active_slot()
    }
    fn set_active_slot(&mut self, slot: Slot) -> Result<(), StorageError> {
        self.flash.set_active_slot(slot)
    }
}

impl FirmwareSink for SimPlatform {
    fn app_chip(&self) -> bandx_core::update::Chip {
        self.flash.app_chip()
    }
    fn firmware_capacity(&self) -> usize {
        self.flash.firmware_capacity()
    }
    fn firmware_begin(&mut self, total_len: u32) -> Result<(), StorageError> {
        self.flash.firmware_begin(total_len)
    }
    fn firmware_write(&mut self, offset: u32, data: &[u8]) -> Result<(), StorageError> {
        self.flash.firmware_write(offset, data)
    }
    fn firmware_commit(&mut self) -> Result<(), StorageError> {
        self.flash.firmware_commit()
    }
    fn firmware_abort(&mut self) {
        self.flash.firmware_abort()
    }
    fn running_app_digest(&mut self) -> Option<[u8; 32]> {
        self.running_digest
    }
}

impl bandx_core::owner::OwnerFlash for SimPlatform {
    fn read(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), StorageError> {
        bandx_core::owner::OwnerFlash::read(&mut self.flash, offset, buf)
    }
    fn program(&mut self, offset: u32, data: &[u8]) -> Result<(), StorageError> {
        bandx_core::owner::OwnerFlash::program(&mut self.flash, offset, data)
    }
    fn erase_sector(&mut self, offset: u32) -> Result<(), StorageError> {
        bandx_core::owner::OwnerFlash::erase_sector(&mut self.flash, offset)
    }
}

impl LogFlash for SimPlatform {
    fn log_len(&self) -> u32 {
        self.flash.log_len()
    }
    fn log_read(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), StorageError> {
        self.flash.log_read(offset, buf)
    }
    fn log_program(&mut self, offset: u32, data: &[u8]) -> Result<(), StorageError> {
        self.flash.log_program(offset, data)
    }
    fn log_erase_sector(&mut self, offset: u32) -> Result<(), StorageError> {
        self.flash.log_erase_sector(offset)
    }
}

impl Platform for SimPlatform {
    fn now_ms(&self) -> u32 {
        self.now_ms
    }

    fn read_imu(&mut self) -> Option<RawSample> {
        if self.imu_missing {
            return None;
        }
        if self.imu_failures > 0 {
            self.imu_failures -= 1;
            return None;
        }
        Some(self.wearer.next_raw(self.full_scale))
    }

    fn full_scale(&self) -> FullScale {
        self.full_scale
    }

    fn notify(&mut self, characteristic: Characteristic, bytes: &[u8]) {
        self.outbox.push((characteristic, bytes.to_vec()));
    }

    fn att_payload(&self) -> usize {
        self.payload
    }

    fn battery_percent(&mut self) -> u8 {
        self.battery_percent
    }

    fn reboot(&mut self) {
        self.reboot_requested = true;
    }

    /// The running app's state in the flash file's `otadata` (set by the bootloader pass at boot).
    fn running_app_state(&mut self) -> Option<OtaState> {
        self.flash.running_app_state().and_then(OtaState::from_raw)
    }

    /// Rewrites the running app's `otadata` entry as VALID.
    fn mark_app_valid(&mut self) -> Result<(), StorageError> {
        self.flash.mark_running_app_valid()
    }
}
