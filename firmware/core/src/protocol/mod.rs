//! The BLE wire protocol (see `PROTOCOL.md`): the GATT table ([`gatt`]), control messages, fragmentation, bulk update
//! chunks, prediction notifications and the activity log's records. One definition for the band, the simulator
//! and the desktop.

mod bulk;
mod fragment;
pub mod gatt;
mod log;
mod message;
mod prediction;

pub use bulk::{BULK_HEADER_LEN, BulkChunk, BulkError};
pub use fragment::{FragmentError, Fragments, MAX_MESSAGE_LEN, Reassembler, fragments};
pub use log::{FLAG_NO_MODEL, FLAG_NOT_WORN, LogChunk, LogRecord, MAX_LOG_RECORDS};
pub use message::{
    ALL_REQUESTS, DecodeError, ErrorCode, Info, LABEL_CAPACITY, ModelInfo, Request, RequestBody,
    Response, ResponseBody, SignatureBytes, UpdateTarget, decode_request, decode_response,
    encode_request, encode_response,
};
pub use prediction::PredictionEvent;

/// Protocol version: the first byte of every control message. Bumped on incompatible changes.
pub const PROTOCOL_VERSION: u8 = 2;

/// Prefix of the band's advertised local name.
pub const ADVERTISED_NAME_PREFIX: &str = "BandX";

/// The BandX GATT service (from [`gatt::SERVICE`]).
pub const SERVICE_UUID: u128 = gatt::SERVICE.uuid;
/// IMU stream frames (notify), see [`crate::frame`].
pub const IMU_UUID: u128 = Characteristic::Imu.uuid();
/// Predictions (notify), see [`PredictionEvent`].
pub const PREDICTIONS_UUID: u128 = Characteristic::Predictions.uuid();
/// Control: requests (write with response) and responses (notify), fragmented.
pub const CONTROL_UUID: u128 = Characteristic::Control.uuid();
/// Bulk update chunks (write without response), see [`BulkChunk`].
pub const BULK_UUID: u128 = Characteristic::Bulk.uuid();

/// [`SERVICE_UUID`] in canonical text form.
pub const SERVICE_UUID_STR: &str = gatt::SERVICE.uuid_str;
/// [`IMU_UUID`] in canonical text form.
pub const IMU_UUID_STR: &str = Characteristic::Imu.spec().uuid_str;
/// [`PREDICTIONS_UUID`] in canonical text form.
pub const PREDICTIONS_UUID_STR: &str = Characteristic::Predictions.spec().uuid_str;
/// [`CONTROL_UUID`] in canonical text form.
pub const CONTROL_UUID_STR: &str = Characteristic::Control.spec().uuid_str;
/// [`BULK_UUID`] in canonical text form.
pub const BULK_UUID_STR: &str = Characteristic::Bulk.spec().uuid_str;

/// The four characteristics of the service, in the order of [`gatt::SERVICE`]'s table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Characteristic {
    Imu,
    Predictions,
    Control,
    Bulk,
}

impl Characteristic {
    /// All four, in table order.
    pub const ALL: [Characteristic; 4] = [Self::Imu, Self::Predictions, Self::Control, Self::Bulk];

    /// Its entry in [`gatt::SERVICE`]: UUID, properties.
    pub const fn spec(self) -> &'static gatt::CharacteristicSpec {
        &gatt::SERVICE.characteristics[self as usize]
    }

    /// The characteristic's 128-bit UUID.
    pub const fn uuid(self) -> u128 {
        self.spec().uuid
    }

    /// The characteristic with this UUID, if it is one of ours.
    pub fn from_uuid(uuid: u128) -> Option<Self> {
        gatt::SERVICE.find(uuid).map(|c| c.role)
    }
}

/// ATT payload of a notification or write at ATT MTU `mtu` (MTU - 3).
pub const fn att_payload(mtu: u16) -> usize {
    if mtu < 23 { 20 } else { mtu as usize - 3 }
}

#[cfg(test)]
mod tests;
