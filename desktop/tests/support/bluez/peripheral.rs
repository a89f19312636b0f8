//! What the stand-in's devices are: their advertisement, GATT table and behaviour.

use uuid::Uuid;

use super::security::BandSecurity;

/// The device-side logic behind a stand-in device. The stand-in calls it from its D-Bus handlers;
/// whatever it returns is notified back to the central, in order, on characteristics the central
/// subscribed to. A virtual band implements this to sit behind the stand-in.
pub trait PeripheralBehaviour: Send + 'static {
    /// A central wrote `value` to `characteristic` (`with_response`: ATT write request rather than
    /// write command). Returns notifications to send: (characteristic, value).
    fn on_write(
        &mut self,
        characteristic: Uuid,
        value: &[u8],
        with_response: bool,
    ) -> Vec<(Uuid, Vec<u8>)>;

    /// A central connected.
    fn on_connect(&mut self) {}

    /// The connection ended (either side).
    fn on_disconnect(&mut self) {}
}

/// A peripheral that never answers.
pub struct Silent;

impl PeripheralBehaviour for Silent {
    fn on_write(&mut self, _: Uuid, _: &[u8], _: bool) -> Vec<(Uuid, Vec<u8>)> {
        Vec::new()
    }
}

/// One characteristic of a GATT service: its UUID and BlueZ flags ("read", "write",
/// "write-without-response", "notify", ...).
#[derive(Clone, Debug)]
pub struct CharacteristicSpec {
    pub uuid: Uuid,
    pub flags: Vec<&'static str>,
}

/// One primary GATT service.
#[derive(Clone, Debug)]
pub struct ServiceSpec {
    pub uuid: Uuid,
    pub characteristics: Vec<CharacteristicSpec>,
}

/// A device in radio range of the stand-in adapter.
pub struct DeviceSpec {
    /// `AA:BB:CC:DD:EE:FF`.
    pub address: String,
    pub name: String,
    pub rssi: i16,
    /// Service UUIDs in its advertisement.
    pub advertised: Vec<Uuid>,
    /// Its GATT table, resolved on connection.
    pub services: Vec<ServiceSpec>,
    /// The ATT MTU a connection negotiates.
    pub mtu: u16,
    pub behaviour: Box<dyn PeripheralBehaviour>,
    /// The band's side of pairing: with one, every GATT request needs a bonded, authenticated
    /// link. `None`: an open device.
    pub security: Option<Box<dyn BandSecurity>>,
}
