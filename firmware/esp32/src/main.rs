//! BandX firmware entry point: wires NimBLE's GATT server and a 20 Hz timer to `bandx_core::band::Band`.
//! All behaviour lives in bandx-core; this file only moves bytes between the radio and the band.
mod platform;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bandx_core::band::Band;
use bandx_core::protocol::{self, Characteristic};
use esp32_nimble::{uuid128, BLEAdvertisementData, BLEDevice, NimbleProperties};
use esp_idf_svc::hal::peripherals::Peripherals;

use platform::{EspPlatform, Outbox};

const FIRMWARE_VERSION: &str = env!("CARGO_PKG_VERSION");

fn uuid(value: u128) -> esp32_nimble::utilities::BleUuid {
    esp32_nimble::utilities::BleUuid::from_uuid128(value.to_le_bytes())
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
    let service = server.create_service(uuid(protocol::SERVICE_UUID));

    let notify = NimbleProperties::READ | NimbleProperties::NOTIFY;
    let imu = service.lock().create_characteristic(uuid(protocol::IMU_UUID), notify);
    let predictions = service.lock().create_characteristic(uuid(protocol::PREDICTIONS_UUID), notify);
    let control = service.lock().create_characteristic(
        uuid(protocol::CONTROL_UUID),
        NimbleProperties::WRITE | NimbleProperties::NOTIFY,
    );
    let bulk = service
        .lock()
        .create_characteristic(uuid(protocol::BULK_UUID), NimbleProperties::WRITE_NO_RSP);

    {
        let band = band.clone();
        control.lock().on_write(move |args| band.lock().unwrap().on_control_write(args.recv_data()));
    }
    {
        let band = band.clone();
        bulk.lock().on_write(move |args| band.lock().unwrap().on_bulk_write(args.recv_data()));
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
        BLEAdvertisementData::new().name(name).add_service_uuid(uuid(protocol::SERVICE_UUID)),
    )?;
    device.get_advertising().lock().start()?;
    log::info!("{name} {FIRMWARE_VERSION} advertising");

    // The band's clock: one tick per IMU sample; queued notifications go out after each tick.
    let period = Duration::from_millis(1000 / bandx_core::SAMPLE_RATE_HZ as u64);
    loop {
        band.lock().unwrap().tick();
        for (characteristic, bytes) in outbox.drain() {
            let target = match characteristic {
                Characteristic::Imu => &imu,
                Characteristic::Predictions => &predictions,
                Characteristic::Control => &control,
                Characteristic::Bulk => continue,
            };
            target.lock().set_value(&bytes).notify();
        }
        std::thread::sleep(period);
    }
}

/// `Result` without pulling anyhow into the firmware image.
mod anyhow_free {
    pub type Result = core::result::Result<(), Box<dyn std::error::Error>>;
}
