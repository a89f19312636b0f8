//! [`Platform`]: the only thing a board implements.

use crate::imu::{FullScale, RawSample};
use crate::protocol::Characteristic;
use crate::update::{FirmwareSink, ModelStore};

/// Everything board-specific: clock, IMU, model flash slots ([`ModelStore`]), firmware sink ([`FirmwareSink`]),
/// BLE notifications, battery, reboot.
pub trait Platform: ModelStore + FirmwareSink {
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
}
