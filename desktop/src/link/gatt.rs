//! The band's GATT layout as the desktop names it: one service, four characteristics. The values
//! are bandx-core's (`bandx_core::protocol`), the one definition; here they only take `Uuid` form.

use bandx_core::protocol;
use uuid::Uuid;

pub use bandx_core::protocol::{ADVERTISED_NAME_PREFIX as BANDX_NAME_PREFIX, Characteristic};

/// The BandX GATT service, advertised by every band.
pub const BANDX_SERVICE_UUID: Uuid = Uuid::from_u128(protocol::SERVICE_UUID);
/// Notify: IMU stream frames.
pub const IMU_UUID: Uuid = Uuid::from_u128(protocol::IMU_UUID);
/// Notify: on-device predictions.
pub const PREDICTIONS_UUID: Uuid = Uuid::from_u128(protocol::PREDICTIONS_UUID);
/// Write with response: requests; notify: their responses.
pub const CONTROL_UUID: Uuid = Uuid::from_u128(protocol::CONTROL_UUID);
/// Write without response: update chunks.
pub const BULK_UUID: Uuid = Uuid::from_u128(protocol::BULK_UUID);

/// The UUID of a BandX characteristic.
pub fn uuid_of(characteristic: Characteristic) -> Uuid {
    Uuid::from_u128(characteristic.uuid())
}

/// The BandX characteristic with this UUID, if it is one.
pub fn characteristic_of(uuid: Uuid) -> Option<Characteristic> {
    Characteristic::from_uuid(uuid.as_u128())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_the_contract_values_and_map_back() {
        assert_eq!(
            BANDX_SERVICE_UUID.to_string(),
            "b7a1d000-7c2e-4f6a-9b1d-3e5f0ba9d0c0"
        );
        assert_eq!(
            BULK_UUID.to_string(),
            "b7a1d004-7c2e-4f6a-9b1d-3e5f0ba9d0c0"
        );
        for c in [
            Characteristic::Imu,
            Characteristic::Predictions,
            Characteristic::Control,
            Characteristic::Bulk,
        ] {
            assert_eq!(characteristic_of(uuid_of(c)), Some(c));
        }
        assert_eq!(characteristic_of(BANDX_SERVICE_UUID), None);
    }
}
