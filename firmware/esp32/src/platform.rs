//! `EspPlatform`: bandx-core's `Platform` on the BandX board (ESP32, MPU-6050-class IMU on I2C, 4 MB flash laid
//! out by ../partitions.csv). Flash and OTA go through ESP-IDF's C API (esp_partition, esp_ota, NVS). The OLED on
//! the same I2C bus shows the pairing code ([`crate::oled`]).
//!
//! Model slots are read through memory-mapped flash. A mapping is an address range whose content changes when the
//! slot is erased or written, so no `&'static [u8]` is made over it: `slot()` builds a slice that borrows the
//! platform (it ends before the next `&mut self` erase or write), and every erase or write drops the slot's
//! mapping and maps it again, so the next view reads the flash as it now is, not a stale cache line.
use std::sync::{Arc, Mutex};

use bandx_core::band::Platform;
use bandx_core::boot::OtaState;
use bandx_core::imu::{AccelRange, FullScale, GyroRange, RawSample};
use bandx_core::log::LogFlash;
use bandx_core::protocol::Characteristic;
use bandx_core::update::{Chip, FirmwareSink, ModelStore, Slot, StorageError};
use esp_idf_svc::hal::delay::BLOCK;
use esp_idf_svc::hal::gpio::{Gpio21, Gpio22};
use esp_idf_svc::hal::i2c::{I2cConfig, I2cDriver, I2C0};
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
    partitions: [*const idf::esp_partition_t; 2],
    maps: [Mapping; 2],
    /// The activity log's partition.
    log: *const idf::esp_partition_t,
    ota: Option<idf::esp_ota_handle_t>,
}

// SAFETY: the raw pointers in an `EspPlatform` point into ESP-IDF's partition table (static for the program's life)
// and into flash mappings that stay valid until the platform itself releases them; none is tied to the thread that
// made it. The band always sits behind a `Mutex`, which serializes every use. esp32-nimble's callbacks must be
// `Send + Sync`, so `Arc<Mutex<Band<EspPlatform>>>` needs this (it did before issue 17 too: the write callbacks).
unsafe impl Send for EspPlatform {}

impl EspPlatform {
    /// I2C0 on SDA GPIO21 / SCL GPIO22 (the IMU, and the OLED that shows the pairing code).
    pub fn new(
        i2c0: I2C0,
        sda: Gpio21,
        scl: Gpio22,
        outbox: Outbox,
    ) -> Result<Self, Box<dyn std::error::Error>> {
        let config = I2cConfig::new().baudrate(400.kHz().into());
        let mut i2c = I2cDriver::new(i2c0, sda, scl, &config)?;
        // Wake the IMU; ±4 g, ±500 dps (matches `full_scale`).
        i2c.write(IMU_ADDR, &[0x6B, 0x00], BLOCK)?;
        i2c.write(IMU_ADDR, &[0x1C, 0x08], BLOCK)?;
        i2c.write(IMU_ADDR, &[0x1B, 0x08], BLOCK)?;
        let nvs = EspNvs::new(EspDefaultNvsPartition::take()?, "bandx", true)?;
        let a = find_data_partition(c"model_a")?;
        let b = find_data_partition(c"model_b")?;
        let maps = [Mapping::new(a)?, Mapping::new(b)?];
        let log = find_data_partition(c"log")?;
        Ok(Self { i2c, outbox, nvs, partitions: [a, b], maps, log, ota: None })
    }

    /// Shows the pairing code on the OLED, or clears it (`None`).
    pub fn show_passkey(&mut self, code: Option<u32>) {
        crate::oled::show_passkey(&mut self.i2c, code);
    }

    fn partition(&self, slot: Slot) -> *const idf::esp_partition_t {
        self.partitions[slot as usize]
    }

    /// After an erase or write of `slot`: map it afresh (see the module documentation).
    fn remap(&mut self, slot: Slot) -> Result<(), StorageError> {
        let fresh = Mapping::new(self.partition(slot)).map_err(|_| StorageError)?;
        self.maps[slot as usize] = fresh; // the old mapping is released by its Drop
        Ok(())
    }
}

/// Finds a data partition by label (the model slots and the log are data/undefined, see ../partitions.csv).
fn find_data_partition(
    label: &core::ffi::CStr,
) -> Result<*const idf::esp_partition_t, Box<dyn std::error::Error>> {
    // SAFETY: a plain lookup in the partition table, which is static for the program's life.
    let part = unsafe {
        idf::esp_partition_find_first(
            idf::esp_partition_type_t_ESP_PARTITION_TYPE_DATA,
            idf::esp_partition_subtype_t_ESP_PARTITION_SUBTYPE_ANY,
            label.as_ptr(),
        )
    };
    if part.is_null() {
        return Err(format!("partition {label:?} missing: flash ../partitions.csv").into());
    }
    Ok(part)
}

/// A model partition mapped into the data address space (so blobs are parsed in place), released on drop.
struct Mapping {
    ptr: *const u8,
    handle: idf::esp_partition_mmap_handle_t,
}

impl Mapping {
    fn new(part: *const idf::esp_partition_t) -> Result<Self, idf::EspError> {
        let mut ptr: *const core::ffi::c_void = core::ptr::null();
        let mut handle: idf::esp_partition_mmap_handle_t = 0;
        // SAFETY: `part` came from esp_partition_find_first; ptr and handle are valid out-parameters.
        idf::esp!(unsafe {
            idf::esp_partition_mmap(
                part,
                0,
                MODEL_SLOT_BYTES,
                idf::esp_partition_mmap_memory_t_ESP_PARTITION_MMAP_DATA,
                &mut ptr,
                &mut handle,
            )
        })?;
        Ok(Mapping { ptr: ptr.cast(), handle })
    }

    /// The mapped bytes, for as long as the mapping is borrowed.
    fn bytes(&self) -> &[u8] {
        // SAFETY: the mapping covers MODEL_SLOT_BYTES from ptr until it is dropped; the returned slice borrows
        // self, and the platform only erases or writes the slot through `&mut self`, after which it remaps.
        unsafe { core::slice::from_raw_parts(self.ptr, MODEL_SLOT_BYTES) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the handle came from esp_partition_mmap and is released once.
        unsafe { idf::esp_partition_munmap(self.handle) }
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
        self.maps[slot as usize].bytes()
    }
    fn erase_slot(&mut self, slot: Slot) -> Result<(), StorageError> {
        // SAFETY: the partition pointer came from esp_partition_find_first and is valid forever.
        let erased =
            flash(unsafe { idf::esp_partition_erase_range(self.partition(slot), 0, MODEL_SLOT_BYTES) });
        self.remap(slot)?;
        erased
    }
    fn write_slot(&mut self, slot: Slot, offset: usize, data: &[u8]) -> Result<(), StorageError> {
        // SAFETY: as above; data is a valid slice for the duration of the call.
        let written = flash(unsafe {
            idf::esp_partition_write(self.partition(slot), offset, data.as_ptr().cast(), data.len())
        });
        self.remap(slot)?;
        written
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
    fn app_chip(&self) -> Chip {
        Chip::Esp32
    }
    fn firmware_capacity(&self) -> usize {
        // SAFETY: esp_ota_get_next_update_partition only reads the partition table.
        let next = unsafe { idf::esp_ota_get_next_update_partition(core::ptr::null()) };
        if next.is_null() { 0 } else { unsafe { (*next).size as usize } }
    }
    fn firmware_begin(&mut self, _total_len: u32) -> Result<(), StorageError> {
        self.firmware_abort();
        let mut handle = 0;
        // Sized by the receiver (total_len <= firmware_capacity); OTA_WITH_SEQUENTIAL_WRITES makes esp_ota_write
        // erase each sector just before writing it, instead of esp_ota_begin erasing the whole image up front
        // (seconds with the BLE link stalled).
        // SAFETY: the next OTA partition pointer is valid; handle is a valid out-parameter.
        flash(unsafe {
            let next = idf::esp_ota_get_next_update_partition(core::ptr::null());
            idf::esp_ota_begin(next, idf::OTA_WITH_SEQUENTIAL_WRITES as usize, &mut handle)
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
        // SAFETY: esp_ota_end validates the image; only then is it made the boot partition, in state NEW. The
        // bootloader's rollback (CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE) returns to the old app if the new one never
        // confirms (`Band::check_boot` -> `mark_app_valid`).
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

/// The activity log on the `log` partition (16 sectors of 4 KB, ../partitions.csv), through esp_partition's
/// read / write / erase_range; bandx-core's `log` keeps the records and their power-cut rules.
impl LogFlash for EspPlatform {
    fn log_len(&self) -> u32 {
        // SAFETY: the partition pointer came from esp_partition_find_first and is valid forever.
        unsafe { (*self.log).size }
    }
    fn log_read(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), StorageError> {
        // SAFETY: as above; buf is a valid, writable slice for the duration of the call (bounds checked by IDF).
        flash(unsafe {
            idf::esp_partition_read(self.log, offset as usize, buf.as_mut_ptr().cast(), buf.len())
        })
    }
    fn log_program(&mut self, offset: u32, data: &[u8]) -> Result<(), StorageError> {
        // SAFETY: as above; data is a valid slice for the duration of the call.
        flash(unsafe {
            idf::esp_partition_write(self.log, offset as usize, data.as_ptr().cast(), data.len())
        })
    }
    fn log_erase_sector(&mut self, offset: u32) -> Result<(), StorageError> {
        // SAFETY: as above; IDF refuses a range outside the partition or not sector-aligned.
        flash(unsafe {
            idf::esp_partition_erase_range(self.log, offset as usize, bandx_core::log::LOG_SECTOR as usize)
        })
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
    fn running_app_state(&mut self) -> Option<OtaState> {
        let mut state: idf::esp_ota_img_states_t = 0;
        // SAFETY: the running partition pointer is static; `state` is a valid out-parameter. A factory app or an
        // app without an otadata entry gives an error: nothing to confirm.
        let found = unsafe {
            let running = idf::esp_ota_get_running_partition();
            !running.is_null() && idf::esp_ota_get_state_partition(running, &mut state) == idf::ESP_OK as idf::esp_err_t
        };
        if found { OtaState::from_raw(state as u32) } else { None }
    }
    fn mark_app_valid(&mut self) -> Result<(), StorageError> {
        // SAFETY: no preconditions; writes the running app's otadata entry as VALID.
        flash(unsafe { idf::esp_ota_mark_app_valid_cancel_rollback() })
    }
}
