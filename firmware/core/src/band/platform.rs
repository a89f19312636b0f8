//! [`Platform`]: the only thing a board implements.

use crate::boot::OtaState;
use crate::imu::{FullScale, RawSample};
use crate::log::LogFlash;
use crate::owner::OwnerFlash;
use crate::protocol::Characteristic;
use crate::update::{FirmwareSink, ModelStore};

/// Everything board-specific: clock, IMU, model flash slots ([`ModelStore`]), firmware sink ([`FirmwareSink`]),
/// the two flash sectors of the owner record ([`OwnerFlash`]), BLE notifications, battery, reboot, the running app's
/// OTA state (for [`crate::boot`]), and the activity log's flash ([`LogFlash`]; a board without a log partition
/// reports a length of 0).
pub trait Platform: ModelStore + FirmwareSink + OwnerFlash + LogFlash {
    /// Milliseconds since boot (wrapping).
    fn now_ms(&self) -> u32;
    /// Reads one IMU sample; `None` if the read failed.
    fn read_imu(&mut self) -> Option<RawSample>;
    /// The IMU's full-scale settings.
    fn full_scale(&self) -> FullScale;
    /// Sends a notification on one of the service's characteristics (dropped if nobody subscribed).
    fn notify(&mut self, characteristic: Characteristic, bytes: &[u8]);
    /// ATT payload of the current connection (MTU - 3; 20 at the default MTU).
    fn att_payload(&self) -> usize;
    /// Battery charge, 0..=100 %.
    fn battery_percent(&mut self) -> u8;
    /// Restarts the band (on hardware this does not return).
    fn reboot(&mut self);
    /// The running app's state in `otadata`; `None` if it was not started from an OTA slot that `otadata`
    /// selects (e.g. flashed over USB with `otadata` erased): then there is nothing to confirm.
    fn running_app_state(&mut self) -> Option<OtaState>;
    /// Marks the running app valid, so the bootloader stops rolling it back
    /// (ESP-IDF: `esp_ota_mark_app_valid_cancel_rollback`).
    fn mark_app_valid(&mut self) -> Result<(), crate::update::StorageError>;
}
