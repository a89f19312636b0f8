//! `C3Platform`: bandx-core's `Platform` on the ESP32-C3 band: the MPU-6050-class IMU over I2C (mpu6050-dmp), the
//! battery ADC, the flash layer ([`crate::flash`], also the activity log's partition) and the outbox of notifications
//! the BLE task sends.

use bandx_core::band::{MAX_ATT_PAYLOAD, Platform};
use bandx_core::boot::OtaState;
use bandx_core::imu::{AccelRange, FullScale, GyroRange, RawSample};
use bandx_core::log::LogFlash;
use bandx_core::protocol::{Characteristic, PredictionEvent, att_payload};
use bandx_core::update::{Chip, FirmwareSink, ModelStore, Slot, StorageError};
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::channel::Channel;
use embedded_hal::i2c::I2c;
use mpu6050_dmp::accel::AccelFullScale;
use mpu6050_dmp::address::Address;
use mpu6050_dmp::config::DigitalLowPassFilter;
use mpu6050_dmp::gyro::GyroFullScale;
use mpu6050_dmp::sensor::Mpu6050;

use crate::battery::Battery;
use crate::flash::Flash;

/// Notifications waiting for the BLE task: enough for the longest control response at the default MTU
/// (768 bytes in 19-byte fragments) plus a few stream packets.
pub type Outbox =
    Channel<CriticalSectionRawMutex, (Characteristic, heapless::Vec<u8, MAX_ATT_PAYLOAD>), 48>;

/// The IMU's full scale: ±4 g, ±500 °/s (set at start, reported in every frame).
const FULL_SCALE: FullScale = FullScale {
    accel: AccelRange::G4,
    gyro: GyroRange::Dps500,
};

pub struct C3Platform<I: I2c + 'static> {
    imu: Option<Mpu6050<I>>,
    battery: Battery,
    flash: Flash,
    outbox: &'static Outbox,
    mtu: u16,
    latest: Option<PredictionEvent>,
}

impl<I: I2c + 'static> C3Platform<I> {
    /// Wakes and configures the IMU (the band runs without one, but its boot check then fails).
    pub fn new(i2c: I, battery: Battery, flash: Flash, outbox: &'static Outbox) -> Self {
        let imu = match Mpu6050::new(i2c, Address::default()) {
            Ok(mut imu) => {
                let configured = imu
                    .set_accel_full_scale(AccelFullScale::G4)
                    .and_then(|()| imu.set_gyro_full_scale(GyroFullScale::Deg500))
                    // ~44 Hz bandwidth: anti-aliasing for 20 Hz sampling.
                    .and_then(|()| imu.set_digital_lowpass_filter(DigitalLowPassFilter::Filter3));
                if configured.is_err() {
                    log::warn!("IMU did not take its configuration");
                }
                Some(imu)
            }
            Err(_) => {
                log::error!("no MPU-6050 answers on I2C");
                None
            }
        };
        C3Platform {
            imu,
            battery,
            flash,
            outbox,
            mtu: 23,
            latest: None,
        }
    }

    /// The ATT MTU of the current connection.
    pub fn set_mtu(&mut self, mtu: u16) {
        self.mtu = mtu;
    }

    /// The flash layer (the BLE bonds live there too).
    pub fn flash(&self) -> &Flash {
        &self.flash
    }

    pub fn flash_mut(&mut self) -> &mut Flash {
        &mut self.flash
    }

    /// The prediction notified since the last call, for the display.
    pub fn take_prediction(&mut self) -> Option<PredictionEvent> {
        self.latest.take()
    }
}

impl<I: I2c + 'static> ModelStore for C3Platform<I> {
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

impl<I: I2c + 'static> FirmwareSink for C3Platform<I> {
    fn app_chip(&self) -> Chip {
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
        self.flash.running_app_digest()
    }
}

impl<I: I2c + 'static> bandx_core::owner::OwnerFlash for C3Platform<I> {
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

impl<I: I2c + 'static> LogFlash for C3Platform<I> {
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

impl<I: I2c + 'static> Platform for C3Platform<I> {
    fn now_ms(&self) -> u32 {
        embassy_time::Instant::now().as_millis() as u32
    }

    fn read_imu(&mut self) -> Option<RawSample> {
        let (a, g) = self.imu.as_mut()?.motion6().ok()?;
        Some(RawSample {
            accel: [a.x(), a.y(), a.z()],
            gyro: [g.x(), g.y(), g.z()],
        })
    }

    fn full_scale(&self) -> FullScale {
        FULL_SCALE
    }

    fn notify(&mut self, characteristic: Characteristic, bytes: &[u8]) {
        if characteristic == Characteristic::Predictions {
            self.latest = PredictionEvent::decode(bytes).ok();
        }
        if let Ok(packet) = heapless::Vec::from_slice(bytes) {
            // A full outbox means nobody is draining it (no link): the packet is dropped, as unsubscribed ones are.
            let _ = self.outbox.try_send((characteristic, packet));
        }
    }

    fn att_payload(&self) -> usize {
        att_payload(self.mtu)
    }

    fn battery_percent(&mut self) -> u8 {
        self.battery.percent()
    }

    fn reboot(&mut self) {
        esp_hal::system::software_reset();
    }

    fn running_app_state(&mut self) -> Option<OtaState> {
        self.flash.running_app_state()
    }

    fn mark_app_valid(&mut self) -> Result<(), StorageError> {
        self.flash.mark_app_valid()
    }
}
