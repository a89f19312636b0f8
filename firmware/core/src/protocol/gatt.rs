//! The BandX GATT service, declared once: the service UUID and, per characteristic, its UUID, its GATT properties
//! and its role. Firmwares build their attribute table by iterating [`SERVICE`]; the desktop and the virtual band
//! look characteristics up in it. The `*_UUID` / `*_UUID_STR` constants of [`crate::protocol`] are read from here,
//! and a test checks the table against `PROTOCOL.md`.

use super::Characteristic;

/// What a client may do with a characteristic: the GATT characteristic properties the band declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Properties {
    /// The client may read the value.
    pub read: bool,
    /// The client may write with response (ATT Write Request).
    pub write: bool,
    /// The client may write without response (ATT Write Command).
    pub write_without_response: bool,
    /// The band notifies the value (the client subscribes through the CCCD).
    pub notify: bool,
}

impl Properties {
    const NONE: Properties = Properties {
        read: false,
        write: false,
        write_without_response: false,
        notify: false,
    };

    /// The characteristic properties bit field of the GATT declaration (Bluetooth Core, Vol 3 Part G 3.3.1.1):
    /// read 0x02, write without response 0x04, write 0x08, notify 0x10.
    pub const fn bits(self) -> u8 {
        (self.read as u8) << 1
            | (self.write_without_response as u8) << 2
            | (self.write as u8) << 3
            | (self.notify as u8) << 4
    }
}

/// What the link must provide before the band lets a client touch a characteristic (read, write, or subscribe).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Anyone in range.
    Open,
    /// An encrypted link whose keys came from an authenticated (MITM-protected) pairing: LE Secure Connections with
    /// the passkey the band displays. A client without it gets ATT error 0x05, Insufficient Authentication.
    AuthenticatedEncryption,
}

impl Security {
    /// Whether a link with this much security may use the characteristic.
    pub const fn allows(self, link_authenticated: bool) -> bool {
        match self {
            Security::Open => true,
            Security::AuthenticatedEncryption => link_authenticated,
        }
    }
}

/// ATT error a band answers to a request on a characteristic whose [`Security`] the link lacks.
pub const ATT_INSUFFICIENT_AUTHENTICATION: u8 = 0x05;

/// One characteristic of the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CharacteristicSpec {
    /// Its role in the protocol.
    pub role: Characteristic,
    /// 128-bit UUID.
    pub uuid: u128,
    /// The UUID in canonical text form (lower case, 8-4-4-4-12).
    pub uuid_str: &'static str,
    pub properties: Properties,
    /// What the link needs before the band lets a client use it.
    pub security: Security,
}

/// The service: its UUID and characteristics, in [`Characteristic`] order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceSpec {
    pub uuid: u128,
    pub uuid_str: &'static str,
    pub characteristics: [CharacteristicSpec; 4],
}

impl ServiceSpec {
    /// The characteristic with this UUID, if it is one of ours.
    pub fn find(&self, uuid: u128) -> Option<&CharacteristicSpec> {
        self.characteristics.iter().find(|c| c.uuid == uuid)
    }
}

const SERVICE_UUID: u128 = 0xb7a1d000_7c2e_4f6a_9b1d_3e5f0ba9d0c0;
const IMU_UUID: u128 = 0xb7a1d001_7c2e_4f6a_9b1d_3e5f0ba9d0c0;
const PREDICTIONS_UUID: u128 = 0xb7a1d002_7c2e_4f6a_9b1d_3e5f0ba9d0c0;
const CONTROL_UUID: u128 = 0xb7a1d003_7c2e_4f6a_9b1d_3e5f0ba9d0c0;
const BULK_UUID: u128 = 0xb7a1d004_7c2e_4f6a_9b1d_3e5f0ba9d0c0;

const SERVICE_TEXT: [u8; 36] = uuid_text(SERVICE_UUID);
const IMU_TEXT: [u8; 36] = uuid_text(IMU_UUID);
const PREDICTIONS_TEXT: [u8; 36] = uuid_text(PREDICTIONS_UUID);
const CONTROL_TEXT: [u8; 36] = uuid_text(CONTROL_UUID);
const BULK_TEXT: [u8; 36] = uuid_text(BULK_UUID);

/// The BandX service (see `PROTOCOL.md`, "GATT").
pub const SERVICE: ServiceSpec = ServiceSpec {
    uuid: SERVICE_UUID,
    uuid_str: text(&SERVICE_TEXT),
    characteristics: [
        // IMU stream frames, see `crate::frame`.
        CharacteristicSpec {
            role: Characteristic::Imu,
            uuid: IMU_UUID,
            uuid_str: text(&IMU_TEXT),
            properties: Properties {
                notify: true,
                ..Properties::NONE
            },
            security: Security::AuthenticatedEncryption,
        },
        // Prediction events, see `PredictionEvent`.
        CharacteristicSpec {
            role: Characteristic::Predictions,
            uuid: PREDICTIONS_UUID,
            uuid_str: text(&PREDICTIONS_TEXT),
            properties: Properties {
                notify: true,
                ..Properties::NONE
            },
            security: Security::AuthenticatedEncryption,
        },
        // Fragmented requests (written with response) and responses (notified).
        CharacteristicSpec {
            role: Characteristic::Control,
            uuid: CONTROL_UUID,
            uuid_str: text(&CONTROL_TEXT),
            properties: Properties {
                write: true,
                notify: true,
                ..Properties::NONE
            },
            security: Security::AuthenticatedEncryption,
        },
        // Bulk update chunks, see `BulkChunk`.
        CharacteristicSpec {
            role: Characteristic::Bulk,
            uuid: BULK_UUID,
            uuid_str: text(&BULK_TEXT),
            properties: Properties {
                write_without_response: true,
                ..Properties::NONE
            },
            security: Security::AuthenticatedEncryption,
        },
    ],
};

/// The canonical text form of a 128-bit UUID, as ASCII.
const fn uuid_text(uuid: u128) -> [u8; 36] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [b'-'; 36];
    let (mut digit, mut at) = (0, 0);
    while digit < 32 {
        if at == 8 || at == 13 || at == 18 || at == 23 {
            at += 1;
        }
        out[at] = HEX[((uuid >> (124 - 4 * digit)) & 0xF) as usize];
        digit += 1;
        at += 1;
    }
    out
}

/// ASCII as `&str` at compile time (the input is always hex digits and dashes).
const fn text(ascii: &'static [u8; 36]) -> &'static str {
    match core::str::from_utf8(ascii) {
        Ok(s) => s,
        Err(_) => panic!("a UUID's text form is ASCII"),
    }
}
