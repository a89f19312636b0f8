//! BandX firmware entry point (ESP32): builds NimBLE's GATT server from bandx-core's table (`protocol::gatt`), wires
//! it and a 20 Hz timer to `bandx_core::band::Band`, and runs the confirm-after-boot check once BLE is up.
//! All behaviour lives in bandx-core; this file only moves bytes between the radio and the band.
//!
//! BLE security (issue 17): every BandX characteristic requires an encrypted, authenticated link (NimBLE's
//! `*_ENC | *_AUTHEN` flags from the table's `security`); pairing is LE Secure Connections passkey entry with the
//! band DisplayOnly, the code on the OLED, under the pairing-mode policy of [`pairing`]. NOT COMPILED HERE (no
//! Xtensa toolchain on this project's CI): the security part is written against esp32-nimble 0.11.1's source and
//! kept small enough to check by reading; build it on a machine with `espup` before trusting it.
mod oled;
mod pairing;
mod platform;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bandx_core::band::Band;
use bandx_core::protocol::gatt::{self, Properties, Security};
use bandx_core::protocol::Characteristic;
use esp32_nimble::enums::{AuthReq, SecurityIOCap};
use esp32_nimble::{BLEAdvertisementData, BLEDevice, NimbleProperties};
use esp_idf_svc::hal::gpio::{PinDriver, Pull};
use esp_idf_svc::hal::peripherals::Peripherals;

use bandx_core::pairing::Passkey;
use pairing::Pairing;
use platform::{EspPlatform, Outbox};

const FIRMWARE_VERSION: &str = env!("CARGO_PKG_VERSION");

fn uuid(value: u128) -> esp32_nimble::utilities::BleUuid {
    esp32_nimble::utilities::BleUuid::from_uuid128(value.to_le_bytes())
}

/// NimBLE's flags for the properties the table declares and the security it requires: reads and writes of an
/// `AuthenticatedEncryption` characteristic need an encrypted, authenticated (MITM) link.
fn properties(p: Properties, security: Security) -> NimbleProperties {
    let mut flags = NimbleProperties::empty();
    let secure = security == Security::AuthenticatedEncryption;
    for (on, flag) in [
        (p.read, NimbleProperties::READ),
        (p.read && secure, NimbleProperties::READ_ENC | NimbleProperties::READ_AUTHEN),
        (p.write, NimbleProperties::WRITE),
        (p.write_without_response, NimbleProperties::WRITE_NO_RSP),
        (
            (p.write || p.write_without_response) && secure,
            NimbleProperties::WRITE_ENC | NimbleProperties::WRITE_AUTHEN,
        ),
        (p.notify, NimbleProperties::NOTIFY),
    ] {
        if on {
            flags |= flag;
        }
    }
    flags
}

fn main() -> anyhow_free::Result {
    esp_idf_svc::sys::link_patches();
    esp_idf_svc::log::EspLogger::initialize_default();

    let Peripherals { i2c0, pins, .. } = Peripherals::take()?;
    let outbox = Outbox::default();
    let platform = EspPlatform::new(i2c0, pins.gpio21, pins.gpio22, outbox.clone())?;
    let band = Arc::new(Mutex::new(Band::new(platform, FIRMWARE_VERSION)));
    // The BOOT button (GPIO0, to ground when pressed): held for a second, it opens pairing mode.
    let mut button = PinDriver::input(pins.gpio0)?;
    button.set_pull(Pull::Up)?;

    let device = BLEDevice::take();
    device.set_preferred_mtu(247)?;
    // Bond + MITM + Secure Connections; the band displays, the desktop types. resolve_rpa: both sides hand over
    // their identity keys, so a desktop that uses resolvable private addresses is still recognised.
    device
        .security()
        .set_auth(AuthReq::all())
        .set_io_cap(SecurityIOCap::DisplayOnly)
        .resolve_rpa();
    let pairing = Arc::new(Pairing::new());
    let server = device.get_server();
    // The attribute table comes from bandx-core's one declaration of the service.
    let service = server.create_service(uuid(gatt::SERVICE.uuid));
    let characteristics: Vec<_> = gatt::SERVICE
        .characteristics
        .iter()
        .map(|spec| {
            let flags = properties(spec.properties, spec.security);
            let c = service.lock().create_characteristic(uuid(spec.uuid), flags);
            (spec.role, c)
        })
        .collect();
    for (role, characteristic) in &characteristics {
        let band = band.clone();
        match role {
            Characteristic::Control => characteristic
                .lock()
                .on_write(move |args| band.lock().unwrap().on_control_write(args.recv_data())),
            Characteristic::Bulk => characteristic
                .lock()
                .on_write(move |args| band.lock().unwrap().on_bulk_write(args.recv_data())),
            Characteristic::Imu | Characteristic::Predictions => continue,
        };
    }
    {
        let band = band.clone();
        let mtu = outbox.clone();
        let (on_connect, on_disconnect) = (pairing.clone(), pairing.clone());
        server.on_connect(move |_, desc| {
            mtu.set_mtu(desc.mtu());
            on_connect.on_connect(desc);
        });
        server.on_disconnect(move |_, _| {
            on_disconnect.on_disconnect();
            let mut band = band.lock().unwrap();
            band.platform_mut().show_passkey(None);
            band.on_disconnect();
            drop(band);
            let _ = BLEDevice::take().get_advertising().lock().start();
        });
    }
    {
        // DisplayOnly: NimBLE asks for the code to show; outside pairing mode it is not shown and the link drops.
        let (band, pairing) = (band.clone(), pairing.clone());
        server.on_passkey_request(move || {
            // SAFETY: esp_random has no preconditions (true random while the radio is on).
            let code = Passkey::random(|| unsafe { esp_idf_svc::sys::esp_random() }).value();
            if pairing.accepts_new() {
                log::info!("pairing: showing the passkey");
                band.lock().unwrap().platform_mut().show_passkey(Some(code));
            } else {
                pairing.refuse();
            }
            code
        });
    }
    {
        let (band, pairing) = (band.clone(), pairing.clone());
        server.on_authentication_complete(move |_, desc, result| {
            let authenticated = pairing.on_authentication_complete(desc, result.is_ok());
            let mut band = band.lock().unwrap();
            band.platform_mut().show_passkey(None);
            // The band ignores every write until it is told the link is authenticated.
            band.on_link_secured(authenticated);
        });
    }

    let name = "BandX";
    device.get_advertising().lock().set_data(
        BLEAdvertisementData::new().name(name).add_service_uuid(uuid(gatt::SERVICE.uuid)),
    )?;
    device.get_advertising().lock().start()?;
    log::info!("{name} {FIRMWARE_VERSION} advertising");

    // Confirm-after-boot (bandx-core's policy): a new app stays pending-verify, so the bootloader rolls it back
    // at the next reset, unless the IMU answers, the model loads and BLE is up.
    match band.lock().unwrap().check_boot(true) {
        Ok(outcome) => log::info!("boot check: {outcome:?}"),
        Err(e) => log::error!("boot check: {e}"),
    }

    // The band's clock: one tick per IMU sample; queued notifications go out after each tick, and only to an
    // encrypted, authenticated link (see `pairing`). The BOOT button held for a second opens pairing mode.
    let period = Duration::from_millis(1000 / bandx_core::SAMPLE_RATE_HZ as u64);
    let hold_ticks = bandx_core::SAMPLE_RATE_HZ as u32;
    let mut held = 0u32;
    loop {
        band.lock().unwrap().tick();
        let link = pairing.link();
        for (characteristic, bytes) in outbox.drain() {
            let Some(handle) = link else { continue };
            if let Some((_, target)) = characteristics.iter().find(|(role, _)| *role == characteristic) {
                let _ = target.lock().notify_with(&bytes, handle);
            }
        }
        held = if button.is_low() { held + 1 } else { 0 };
        if held == hold_ticks {
            pairing.button_held();
        }
        std::thread::sleep(period);
    }
}

/// `Result` without pulling anyhow into the firmware image.
mod anyhow_free {
    pub type Result = core::result::Result<(), Box<dyn std::error::Error>>;
}
