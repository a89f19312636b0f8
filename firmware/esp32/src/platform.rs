//! `EspPlatform`: bandx-core's `Platform` on the BandX board (ESP32, MPU-6050-class IMU on I2C, 4 MB flash laid
//! out by ../partitions.csv). Flash and OTA go through ESP-IDF's C API (esp_partition, esp_ota, NVS).
use std::sync::{Arc, Mutex};

use bandx_core::band::Platform;
use bandx_core::imu::{AccelRange, FullScale, GyroRange, RawSample};
use bandx_core::protocol::Characteristic;
use bandx_core::update::{FirmwareSink, ModelStore, Slot, StorageError};
use esp_idf_svc::hal::delay::BLOCK;
use esp_idf_svc::hal::i2c::{I2cConfig, I2cDriver};
use esp_idf_svc::hal::peripherals::Peripherals;
use esp_idf_svc::hal::units::FromValueType;
use esp_idf_svc::nvs::{EspDefaultNvsPartition, EspNvs, NvsDefault};
use esp_idf_svc::sys as idf;

const IMU_ADDR: u8 = 0x68;
const MODEL_SLOT_BYTES: usize = 64 * 1024;

/// Notifications queued by the band during a tick, sent by the main loop.
#[derive(Clone, Default)]
pub struct Outbox {
    queue: Arc<Mutex<Vec<(Characteristic, Vec<u8>)>>>,
    mtu: Arc<Mutex<u16>>,
}

impl Outbox {
    pub fn drain(&self) -> Vec<(Characteristic, Vec<u8>)> {
        std::mem::take(&mut *self.queue.lock().unwrap())
    }
    pub fn set_mtu(&self, mtu: u16) {
        *self.mtu.lock().unwrap() = mtu;
    }
}

pub struct EspPlatform {
    i2c: I2cDriver<'static>,
    outbox: Outbox,
    nvs: EspNvs<NvsDefault>,
    slots: [&'static [u8]; 2],
    partitions: [*const idf::esp_partition_t; 2],
    ota: Option<idf::esp_ota_handle_t>,
}

impl EspPlatform {
    pub fn new(p: Peripherals, outbox: Outbox) -> Result<Self, Box<dyn std::error::Error>> {
        let config = I2cConfig::new().baudrate(400.kHz().into());
        let mut i2c = I2cDriver::new(p.i2c0, p.pins.gpio21, p.pins.gpio22, &config)?;
        // Wake the IMU; ±4 g, ±500 dps (matches `full_scale`).
        i2c.write(IMU_ADDR, &[0x6B, 0x00], BLOCK)?;
        i2c.write(IMU_ADDR, &[0x1C, 0x08], BLOCK)?;
        i2c.write(IMU_ADDR, &[0x1B, 0x08], BLOCK)?;
        let nvs = EspNvs::new(EspDefaultNvsPartition::take()?, "bandx", true)?;
        let (a, map_a) = map_model_partition(c"model_a")?;
        let (b, map_b) = map_model_partition(c"model_b")?;
        Ok(Self { i2c, outbox, nvs, slots: [map_a, map_b], partitions: [a, b], ota: None })
    }

    fn partition(&self, slot: Slot) -> *const idf::esp_partition_t {
        self.partitions[slot as usize]
    }
}

/// Maps a model partition into the data address space, so blobs are parsed in place from flash.
fn map_model_partition(
    label: &core::ffi::CStr,
) -> Result<(*const idf::esp_partition_t, &'static [u8]), Box<dyn std::error::Error>> {
    // SAFETY: plain ESP-IDF lookups; the partition table is static for the program's life, and the mapping is
    // never released, so the slice stays valid; flash writes through esp_partition_write invalidate the cache.
    unsafe {
        let part = idf::esp_partition_find_first(
            idf::esp_partition_type_t_ESP_PARTITION_TYPE_DATA,
            idf::esp_partition_subtype_t_ESP_PARTITION_SUBTYPE_ANY,
            label.as_ptr(),
        );
        if part.is_null() {
            return Err(format!("partition {label:?} missing: flash ../partitions.csv").into());
        }
        let mut ptr: *const core::ffi::c_void = core::ptr::null();
        let mut handle: idf::esp_partition_mmap_handle_t = 0;
        idf::esp!(idf::esp_partition_mmap(
            part,
            0,
            MODEL_SLOT_BYTES,
            idf::esp_partition_mmap_memory_t_ESP_PARTITION_MMAP_DATA,
            &mut ptr,
            &mut handle,
        ))?;
        Ok((part, core::slice::from_raw_parts(ptr as *const u8, MODEL_SLOT_BYTES)))
    }
}

fn flash(err: idf::esp_err_t) -> Result<(), StorageError> {
    if err == idf::ESP_OK as idf::esp_err_t { Ok(()) } else { Err(StorageError) }
}

impl ModelStore for EspPlatform {
    fn slot_capacity(&self) -> usize {
        MODEL_SLOT_BYTES
    }
    fn slot(&self, slot: Slot) -> &[u8] {
        self.slots[slot as usize]
    }
    fn erase_slot(&mut self, slot: Slot) -> Result<(), StorageError> {
        // SAFETY: the partition pointer came from esp_partition_find_first and is valid forever.
        flash(unsafe { idf::esp_partition_erase_range(self.partition(slot), 0, MODEL_SLOT_BYTES) })
    }
    fn write_slot(&mut self, slot: Slot, offset: usize, data: &[u8]) -> Result<(), StorageError> {
        // SAFETY: as above; data is a valid slice for the duration of the call.
        flash(unsafe {
            idf::esp_partition_write(self.partition(slot), offset, data.as_ptr().cast(), data.len())
        })
    }
    fn active_slot(&self) -> Option<Slot> {
        match self.nvs.get_u8("active").ok().flatten()? {
            0 => Some(Slot::A),
            1 => Some(Slot::B),
            _ => None,
        }
    }
    fn set_active_slot(&mut self, slot: Slot) -> Result<(), StorageError> {
        // An NVS entry write is atomic: after a power cut the old or the new value is read.
        self.nvs.set_u8("active", slot as u8).map_err(|_| StorageError)
    }
}

impl FirmwareSink for EspPlatform {
    fn firmware_capacity(&self) -> usize {
        // SAFETY: esp_ota_get_next_update_partition only reads the partition table.
        let next = unsafe { idf::esp_ota_get_next_update_partition(core::ptr::null()) };
        if next.is_null() { 0 } else { unsafe { (*next).size as usize } }
    }
    fn firmware_begin(&mut self, total_len: u32) -> Result<(), StorageError> {
        self.firmware_abort();
        let mut handle = 0;
        // SAFETY: the next OTA partition pointer is valid; esp_ota_begin erases it for `total_len` bytes.
        flash(unsafe {
            let next = idf::esp_ota_get_next_update_partition(core::ptr::null());
            idf::esp_ota_begin(next, total_len as usize, &mut handle)
        })?;
        self.ota = Some(handle);
        Ok(())
    }
    fn firmware_write(&mut self, _offset: u32, data: &[u8]) -> Result<(), StorageError> {
        let handle = self.ota.ok_or(StorageError)?;
        // SAFETY: handle is live (begin succeeded, not yet ended); data is a valid slice.
        flash(unsafe { idf::esp_ota_write(handle, data.as_ptr().cast(), data.len()) })
    }
    fn firmware_commit(&mut self) -> Result<(), StorageError> {
        let handle = self.ota.take().ok_or(StorageError)?;
        // SAFETY: esp_ota_end validates the image; only then is it made the boot partition. The bootloader's
        // rollback (CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE) returns to the old app if the new one never confirms.
        flash(unsafe { idf::esp_ota_end(handle) })?;
        flash(unsafe {
            idf::esp_ota_set_boot_partition(idf::esp_ota_get_next_update_partition(core::ptr::null()))
        })
    }
    fn firmware_abort(&mut self) {
        if let Some(handle) = self.ota.take() {
            // SAFETY: handle is live; abort releases it.
            unsafe { idf::esp_ota_abort(handle) };
        }
    }
}

impl Platform for EspPlatform {
    fn now_ms(&self) -> u32 {
        // SAFETY: esp_timer_get_time has no preconditions.
        (unsafe { idf::esp_timer_get_time() } / 1000) as u32
    }
    fn read_imu(&mut self) -> Option<RawSample> {
        let mut buf = [0u8; 14];
        self.i2c.write_read(IMU_ADDR, &[0x3B], &mut buf, BLOCK).ok()?;
        let word = |i: usize| i16::from_be_bytes([buf[i], buf[i + 1]]);
        Some(RawSample { accel: [word(0), word(2), word(4)], gyro: [word(8), word(10), word(12)] })
    }
    fn full_scale(&self) -> FullScale {
        FullScale { accel: AccelRange::G4, gyro: GyroRange::Dps500 }
    }
    fn notify(&mut self, characteristic: Characteristic, bytes: &[u8]) {
        self.outbox.queue.lock().unwrap().push((characteristic, bytes.to_vec()));
    }
    fn att_payload(&self) -> usize {
        bandx_core::protocol::att_payload(*self.outbox.mtu.lock().unwrap())
    }
    fn battery_percent(&mut self) -> u8 {
        // The prototype has no fuel gauge wired yet: report full rather than invent a number.
        100
    }
    fn reboot(&mut self) {
        // SAFETY: esp_restart has no preconditions and does not return.
        unsafe { idf::esp_restart() }
    }
}
