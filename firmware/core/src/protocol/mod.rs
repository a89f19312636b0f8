//! The BLE wire protocol (see `PROTOCOL.md`): GATT UUIDs, control messages, fragmentation, bulk update
//! chunks and prediction notifications. One definition for the band, the simulator and the desktop.

mod bulk;
mod fragment;
mod message;
mod prediction;

pub use bulk::{BULK_HEADER_LEN, BulkChunk, BulkError};
pub use fragment::{FragmentError, Fragments, MAX_MESSAGE_LEN, Reassembler, fragments};
pub use message::{
    ALL_REQUESTS, DecodeError, ErrorCode, Info, LABEL_CAPACITY, ModelInfo, Request, RequestBody,
    Response, ResponseBody, UpdateTarget, decode_request, decode_response, encode_request,
    encode_response,
};
pub use prediction::PredictionEvent;

/// Protocol version: the first byte of every control message. Bumped on incompatible changes.
pub const PROTOCOL_VERSION: u8 = 1;

/// Prefix of the band's advertised local name.
pub const ADVERTISED_NAME_PREFIX: &str = "BandX";

/// The BandX GATT service.
pub const SERVICE_UUID: u128 = 0xb7a1d000_7c2e_4f6a_9b1d_3e5f0ba9d0c0;
/// IMU stream frames (notify), see [`crate::frame`].
pub const IMU_UUID: u128 = 0xb7a1d001_7c2e_4f6a_9b1d_3e5f0ba9d0c0;
/// Predictions (notify), see [`PredictionEvent`].
pub const PREDICTIONS_UUID: u128 = 0xb7a1d002_7c2e_4f6a_9b1d_3e5f0ba9d0c0;
/// Control: requests (write with response) and responses (notify), fragmented.
pub const CONTROL_UUID: u128 = 0xb7a1d003_7c2e_4f6a_9b1d_3e5f0ba9d0c0;
/// Bulk update chunks (write without response), see [`BulkChunk`].
pub const BULK_UUID: u128 = 0xb7a1d004_7c2e_4f6a_9b1d_3e5f0ba9d0c0;

/// [`SERVICE_UUID`] in canonical text form.
pub const SERVICE_UUID_STR: &str = "b7a1d000-7c2e-4f6a-9b1d-3e5f0ba9d0c0";
/// [`IMU_UUID`] in canonical text form.
pub const IMU_UUID_STR: &str = "b7a1d001-7c2e-4f6a-9b1d-3e5f0ba9d0c0";
/// [`PREDICTIONS_UUID`] in canonical text form.
pub const PREDICTIONS_UUID_STR: &str = "b7a1d002-7c2e-4f6a-9b1d-3e5f0ba9d0c0";
/// [`CONTROL_UUID`] in canonical text form.
pub const CONTROL_UUID_STR: &str = "b7a1d003-7c2e-4f6a-9b1d-3e5f0ba9d0c0";
/// [`BULK_UUID`] in canonical text form.
pub const BULK_UUID_STR: &str = "b7a1d004-7c2e-4f6a-9b1d-3e5f0ba9d0c0";

/// The four characteristics of the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Characteristic {
    Imu,
    Predictions,
    Control,
    Bulk,
}

impl Characteristic {
    /// The characteristic's 128-bit UUID.
    pub const fn uuid(self) -> u128 {
        match self {
            Self::Imu => IMU_UUID,
            Self::Predictions => PREDICTIONS_UUID,
            Self::Control => CONTROL_UUID,
            Self::Bulk => BULK_UUID,
        }
    }

    /// The characteristic with this UUID, if it is one of ours.
    pub fn from_uuid(uuid: u128) -> Option<Self> {
        [Self::Imu, Self::Predictions, Self::Control, Self::Bulk]
            .into_iter()
            .find(|c| c.uuid() == uuid)
    }
}

/// ATT payload of a notification or write at ATT MTU `mtu` (MTU - 3).
pub const fn att_payload(mtu: u16) -> usize {
    if mtu < 23 { 20 } else { mtu as usize - 3 }
}

#[cfg(test)]
mod tests;
