//! The BandX GATT server, built by iterating bandx-core's one declaration of the service
//! (`bandx_core::protocol::gatt::SERVICE`): UUIDs, property bits and the security each characteristic requires
//! come from there, nothing is restated here. A characteristic that requires `AuthenticatedEncryption` gets
//! trouble-host's `AuthenticationRequired` on its value (read, write) and on its CCCD (subscribing, and so every
//! notification), so a central without an authenticated bond gets ATT error 0x05 "Insufficient Authentication".
//! The GAP service (the advertised name) stays open.

use bandx_core::band::MAX_ATT_PAYLOAD;
use bandx_core::protocol::Characteristic as Role;
use bandx_core::protocol::gatt::{SERVICE, Security};
use embassy_sync::blocking_mutex::raw::NoopRawMutex;
use trouble_host::prelude::*;

/// Attributes: the GAP service plus the BandX service (declaration, and per characteristic a declaration, a
/// value and at most one CCCD).
pub const ATTRIBUTES: usize = GAP_SERVICE_ATTRIBUTE_COUNT + 1 + 3 * 4;
/// Connections served at once.
pub const CONNECTIONS: usize = 1;

/// A characteristic's value: any bytes up to the largest ATT payload the band uses.
pub type Value = heapless09::Vec<u8, MAX_ATT_PAYLOAD>;

/// trouble-host's permission level for a required security.
fn permission(security: Security) -> PermissionLevel {
    match security {
        Security::Open => PermissionLevel::Allowed,
        Security::AuthenticatedEncryption => PermissionLevel::AuthenticationRequired,
    }
}

pub type AttServer =
    AttributeServer<'static, NoopRawMutex, DefaultPacketPool, ATTRIBUTES, CONNECTIONS>;

/// The server and, in table order, the handle of each characteristic.
pub struct Server {
    pub att: AttServer,
    characteristics: [(Role, trouble_host::attribute::Characteristic<Value>); 4],
}

impl Server {
    /// Builds the GAP service (advertised name) and the BandX service.
    pub fn new(name: &'static str, stores: &'static mut [[u8; MAX_ATT_PAYLOAD]; 4]) -> Server {
        let mut table = AttributeTable::<'static, NoopRawMutex, ATTRIBUTES>::new();
        // The GAP service fits the table by construction (ATTRIBUTES counts it).
        let _ = GapConfig::default(name).build(&mut table);
        let mut service = table.add_service(Service::new(SERVICE.uuid));
        let mut stores = stores.iter_mut();
        let characteristics = SERVICE.characteristics.map(|spec| {
            let store = stores.next().map(|s| &mut s[..]).unwrap_or_default();
            let level = permission(spec.security);
            let p = spec.properties;
            let mut c = service.add_characteristic(spec.uuid, p.bits(), Value::new(), store);
            // Only operations the properties allow get a level: the others stay "not permitted".
            if p.read {
                c = c.read_permission(level);
            }
            if p.write || p.write_without_response {
                c = c.write_permission(level);
            }
            if p.notify {
                c = c.cccd_permission(level);
            }
            (spec.role, c.build())
        });
        service.build();
        Server {
            att: AttributeServer::new(table),
            characteristics,
        }
    }

    /// The role of the characteristic whose value has this handle.
    pub fn role(&self, handle: u16) -> Option<Role> {
        self.characteristics
            .iter()
            .find(|(_, c)| c.handle == handle)
            .map(|(role, _)| *role)
    }

    /// The characteristic that plays `role`.
    pub fn characteristic(&self, role: Role) -> &trouble_host::attribute::Characteristic<Value> {
        &self.characteristics[role as usize].1
    }
}
