//! The band's GATT layout as the desktop names it: one service, four characteristics.

use uuid::{Uuid, uuid};

// TODO: switch to the `bandx_core::protocol` constants once bandx-core exports them (the values
// below are the contract's; this is the only place the desktop spells them out).
/// The BandX GATT service, advertised by every band.
pub const BANDX_SERVICE_UUID: Uuid = uuid!("b7a1d000-7c2e-4f6a-9b1d-3e5f0ba9d0c0");
/// Notify: IMU stream frames.
pub const IMU_UUID: Uuid = uuid!("b7a1d001-7c2e-4f6a-9b1d-3e5f0ba9d0c0");
/// Notify: on-device predictions.
pub const PREDICTIONS_UUID: Uuid = uuid!("b7a1d002-7c2e-4f6a-9b1d-3e5f0ba9d0c0");
/// Write with response: requests; notify: their responses.
pub const CONTROL_UUID: Uuid = uuid!("b7a1d003-7c2e-4f6a-9b1d-3e5f0ba9d0c0");
/// Write without response: update chunks.
pub const BULK_UUID: Uuid = uuid!("b7a1d004-7c2e-4f6a-9b1d-3e5f0ba9d0c0");
/// Advertised local names start with this.
pub const BANDX_NAME_PREFIX: &str = "BandX";

/// A characteristic of the BandX service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Characteristic {
    Imu,
    Predictions,
    Control,
    Bulk,
}

impl Characteristic {
    pub const ALL: [Characteristic; 4] = [
        Characteristic::Imu,
        Characteristic::Predictions,
        Characteristic::Control,
        Characteristic::Bulk,
    ];

    pub fn uuid(self) -> Uuid {
        match self {
            Characteristic::Imu => IMU_UUID,
            Characteristic::Predictions => PREDICTIONS_UUID,
            Characteristic::Control => CONTROL_UUID,
            Characteristic::Bulk => BULK_UUID,
        }
    }

    /// The BandX characteristic with this UUID, if it is one.
    pub fn from_uuid(uuid: Uuid) -> Option<Characteristic> {
        Characteristic::ALL.into_iter().find(|c| c.uuid() == uuid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_map_back_to_their_characteristic_and_nothing_else_does() {
        for c in Characteristic::ALL {
            assert_eq!(Characteristic::from_uuid(c.uuid()), Some(c));
        }
        assert_eq!(Characteristic::from_uuid(BANDX_SERVICE_UUID), None);
    }
}
