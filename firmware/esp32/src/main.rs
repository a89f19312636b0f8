//! BandX firmware entry point (ESP32): builds NimBLE's GATT server from bandx-core's table (`protocol::gatt`), wires
//! it and a 20 Hz timer to `bandx_core::band::Band`, and runs the confirm-after-boot check once BLE is up.
//! All behaviour lives in bandx-core; this file only moves bytes between the radio and the band.
mod platform;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bandx_core::band::Band;
use bandx_core::protocol::gatt::{self, Properties};
use bandx_core::protocol::Characteristic;
use esp32_nimble::{BLEAdvertisementData, BLEDevice, NimbleProperties};
use esp_idf_svc::hal::peripherals::Peripherals;

use platform::{EspPlatform, Outbox};

const FIRMWARE_VERSION: &str = env!("CARGO_PKG_VERSION");

fn uuid(value: u128) -> esp32_nimble::utilities::BleUuid {
    esp32_nimble::utilities::BleUuid::from_uuid128(value.to_le_bytes())
}

/// NimBLE's flags for the properties the table declares.
fn properties(p: Properties) -> NimbleProperties {
    let mut flags = NimbleProperties::empty();
    for (on, flag) in [
        (p.read, NimbleProperties::READ),
        (p.write, NimbleProperties::WRITE),
        (p.write_without_response, NimbleProperties::WRITE_NO_RSP),
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

    let peripherals = Peripherals::take()?;
    let outbox = Outbox::default();
    let platform = EspPlatform::new(peripherals, outbox.clone())?;
    let band = Arc::new(Mutex::new(Band::new(platform, FIRMWARE_VERSION)));

    let device = BLEDevice::take();
    device.set_preferred_mtu(247)?;
    let server = device.get_server();
    // The attribute table comes from bandx-core's one declaration of the service.
    let service = server.create_service(uuid(gatt::SERVICE.uuid));
    let characteristics: Vec<_> = gatt::SERVICE
        .characteristics
        .iter()
        .map(|spec| {
            let c = service.lock().create_characteristic(uuid(spec.uuid), properties(spec.properties));
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
        server.on_connect(move |_, desc| mtu.set_mtu(desc.mtu()));
        server.on_disconnect(move |_, _| {
            band.lock().unwrap().on_disconnect();
            let _ = BLEDevice::take().get_advertising().lock().start();
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

    // The band's clock: one tick per IMU sample; queued notifications go out after each tick.
    let period = Duration::from_millis(1000 / bandx_core::SAMPLE_RATE_HZ as u64);
    loop {
        band.lock().unwrap().tick();
        for (characteristic, bytes) in outbox.drain() {
            if let Some((_, target)) = characteristics.iter().find(|(role, _)| *role == characteristic) {
                target.lock().set_value(&bytes).notify();
            }
        }
        std::thread::sleep(period);
    }
}

/// `Result` without pulling anyhow into the firmware image.
mod anyhow_free {
    pub type Result = core::result::Result<(), Box<dyn std::error::Error>>;
}
