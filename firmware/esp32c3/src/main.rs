//! BandX firmware for the ESP32-C3 (RISC-V): esp-hal + esp-radio's BLE controller + the trouble-host BLE stack on
//! the embassy executor (esp-rtos). Thin glue: bandx-core's `Band` holds every behaviour; this file wires the
//! board ([`platform::C3Platform`]), the GATT server built from bandx-core's table ([`gatt`]), a 20 Hz tick and
//! the OLED, and runs confirm-after-boot (`Band::check_boot`) once BLE advertises. BLE security (issue 17):
//! trouble-host's security manager, the band DisplayOnly (LE Secure Connections passkey entry, bonding), bonds
//! restored from flash at boot ([`bonds`]), the pairing-mode policy and the code on the OLED ([`pairing`]).
#![no_std]
#![no_main]

mod battery;
mod bonds;
mod display;
mod flash;
mod gatt;
mod pairing;
mod platform;
mod record;

use core::cell::RefCell;
use core::fmt::Write;

use bandx_core::band::{Band, MAX_ATT_PAYLOAD};
use bandx_core::protocol::gatt::SERVICE;
use bandx_core::protocol::{ADVERTISED_NAME_PREFIX, Characteristic};
use embassy_executor::Spawner;
use embassy_futures::join::join3;
use embassy_futures::select::select;
use embassy_time::{Duration, Ticker, Timer};
use embedded_hal_bus::i2c::RefCellDevice;
use esp_backtrace as _;
use esp_bootloader_esp_idf::partitions::PARTITION_TABLE_MAX_LEN;
use esp_hal::Blocking;
use esp_hal::clock::CpuClock;
use esp_hal::gpio::{Input, InputConfig, Pull};
use esp_hal::i2c::master::{Config as I2cConfig, I2c};
use esp_hal::time::Rate;
use esp_hal::timer::timg::TimerGroup;
use esp_radio::ble::controller::BleConnector;
use esp_storage::FlashStorage;
use static_cell::StaticCell;
use trouble_host::prelude::*;

use display::{Display, Screen};
use flash::{Buffers, Flash, MIRROR_LEN, SECTOR};
use gatt::Server;
use pairing::{LinkPairing, Pairing};
use platform::{C3Platform, Outbox};

esp_bootloader_esp_idf::esp_app_desc!();

const FIRMWARE_VERSION: &str = env!("CARGO_PKG_VERSION");

type Bus = I2c<'static, Blocking>;
type BusDevice = RefCellDevice<'static, Bus>;
type TheBand = Band<C3Platform<BusDevice>>;
type Controller = ExternalController<BleConnector<'static>, 20>;

static OUTBOX: Outbox = Outbox::new();
static I2C_BUS: StaticCell<RefCell<Bus>> = StaticCell::new();
static TABLE: StaticCell<[u8; PARTITION_TABLE_MAX_LEN]> = StaticCell::new();
static MIRRORS: StaticCell<[[u8; MIRROR_LEN]; 2]> = StaticCell::new();
static SECTOR_BUF: StaticCell<[u8; SECTOR]> = StaticCell::new();
static VALUES: StaticCell<[[u8; MAX_ATT_PAYLOAD]; 4]> = StaticCell::new();
static BAND: StaticCell<RefCell<TheBand>> = StaticCell::new();
static NAME: StaticCell<heapless::String<16>> = StaticCell::new();
static RESOURCES: StaticCell<HostResources<Controller, DefaultPacketPool, 1, 2>> =
    StaticCell::new();

#[esp_rtos::main]
async fn main(_spawner: Spawner) -> ! {
    esp_println::logger::init_logger_from_env();
    let peripherals = esp_hal::init(esp_hal::Config::default().with_cpu_clock(CpuClock::max()));
    // The BLE controller allocates from this heap.
    esp_alloc::heap_allocator!(size: 64 * 1024);
    let timg0 = TimerGroup::new(peripherals.TIMG0);
    esp_rtos::start(timg0.timer0, peripherals.FROM_CPU_INTR0);

    // One I2C bus (SDA GPIO4, SCL GPIO5, 400 kHz) for the IMU and the OLED.
    let i2c = I2c::new(
        peripherals.I2C0,
        I2cConfig::default().with_frequency(Rate::from_khz(400)),
    )
    .expect("I2C0 configuration")
    .with_sda(peripherals.GPIO4)
    .with_scl(peripherals.GPIO5);
    let bus: &'static RefCell<Bus> = I2C_BUS.init(RefCell::new(i2c));
    let mut display = Display::new(RefCellDevice::new(bus));

    let buffers = Buffers {
        table: TABLE.init([0; PARTITION_TABLE_MAX_LEN]),
        mirrors: MIRRORS.init([[0xFF; MIRROR_LEN]; 2]),
        sector: SECTOR_BUF.init([0xFF; SECTOR]),
    };
    let flash = match Flash::new(FlashStorage::new(peripherals.FLASH), buffers) {
        Ok(flash) => flash,
        Err(e) => halt(&mut display, "flash?", e),
    };
    // The BOOT button (GPIO9, to ground when pressed): held for a second, it opens pairing mode.
    let button = Input::new(
        peripherals.GPIO9,
        InputConfig::default().with_pull(Pull::Up),
    );
    let battery = battery::Battery::new(peripherals.ADC1, peripherals.GPIO3);
    let platform = C3Platform::new(RefCellDevice::new(bus), battery, flash, &OUTBOX);
    let band: &'static RefCell<TheBand> =
        BAND.init(RefCell::new(Band::new(platform, FIRMWARE_VERSION)));
    log::info!(
        "BandX {FIRMWARE_VERSION} (ESP32-C3), model slot {:?}",
        band.borrow().running_slot()
    );

    // BLE: esp-radio's controller under trouble-host. The random static address comes from the chip's MAC.
    let mac = esp_hal::efuse::base_mac_address();
    let mut address = [0u8; 6];
    address.copy_from_slice(mac.as_bytes());
    address[5] |= 0xC0;
    let name = NAME.init(advertised_name(&address));
    let connector = match BleConnector::new(peripherals.BT, Default::default()) {
        Ok(c) => c,
        Err(_) => {
            // No BLE: the boot check fails, so a new app stays pending and the next reset rolls it back.
            report_boot_check(band, false);
            halt(&mut display, "no BLE", "controller init failed")
        }
    };
    let stack = trouble_host::new(
        Controller::new(connector),
        RESOURCES.init(HostResources::new()),
    )
    .set_random_address(Address::random(address))
    // The band shows the code, the desktop types it: LE Secure Connections passkey entry (MITM protected).
    .set_io_capabilities(IoCapabilities::DisplayOnly)
    .build();
    // Bonded desktops reconnect encrypted: their keys go back into the stack.
    for bond in band.borrow().platform().flash().bonds().iter() {
        if let Err(e) = stack.add_bond_information(bond.clone()) {
            log::error!("bond not restored: {e:?}");
        }
    }
    let pairing = Pairing::new(band.borrow().platform().flash().bonds().len());
    let mut runner = stack.runner();
    let mut peripheral = stack.peripheral();
    let server = Server::new(name, VALUES.init([[0; MAX_ATT_PAYLOAD]; 4]));

    join3(
        async {
            if let Err(e) = runner.run().await {
                log::error!("BLE host stopped: {e:?}");
            }
        },
        serve_forever(&mut peripheral, &server, band, name, &stack, &pairing),
        tick_forever(band, &mut display, &pairing, &button),
    )
    .await;
    loop {
        Timer::after(Duration::from_secs(1)).await;
    }
}

/// `BandX-XXXX`, from the address's last two bytes.
fn advertised_name(address: &[u8; 6]) -> heapless::String<16> {
    let mut name = heapless::String::new();
    let _ = write!(
        name,
        "{ADVERTISED_NAME_PREFIX}-{:02X}{:02X}",
        address[1], address[0]
    );
    name
}

/// Confirm-after-boot through bandx-core's policy, logged.
fn report_boot_check(band: &RefCell<TheBand>, ble_up: bool) {
    match band.borrow_mut().check_boot(ble_up) {
        Ok(decision) => log::info!("boot check: {decision:?}"),
        Err(e) => log::error!("boot check: could not mark the app valid: {e}"),
    }
}

/// Shows why the band cannot run and stops (a reset retries).
fn halt(display: &mut Display<BusDevice>, headline: &str, why: impl core::fmt::Display) -> ! {
    log::error!("{headline}: {why}");
    display.show(Screen {
        headline: headline.try_into().unwrap_or_default(),
        confidence_permille: None,
        battery_percent: 0,
    });
    loop {
        core::hint::spin_loop();
    }
}

/// Advertises, serves one connection at a time, and runs the boot check after the first advertising attempt.
async fn serve_forever(
    peripheral: &mut Peripheral<'_, Controller, DefaultPacketPool>,
    server: &Server,
    band: &RefCell<TheBand>,
    name: &str,
    stack: &Stack<'_, Controller, DefaultPacketPool>,
    pairing: &Pairing,
) {
    let mut checked = false;
    loop {
        let advertiser = advertise(peripheral, name).await;
        if !checked {
            checked = true;
            report_boot_check(band, advertiser.is_ok());
        }
        let Ok(advertiser) = advertiser else {
            log::error!("advertising failed");
            Timer::after(Duration::from_secs(1)).await;
            continue;
        };
        let Ok(conn) = advertiser.accept().await else {
            continue;
        };
        // Pairings with the band bond (whether a new one is accepted is `pairing`'s call).
        if conn.set_bondable(true).is_err() {
            log::warn!("link not bondable");
        }
        let Ok(conn) = conn.with_attribute_server(&server.att) else {
            continue;
        };
        log::info!("connected");
        serve(&conn, server, band, stack, pairing).await;
        pairing.clear();
        band.borrow_mut().on_disconnect();
        OUTBOX.clear();
        log::info!("disconnected");
    }
}

async fn advertise<'d>(
    peripheral: &mut Peripheral<'d, Controller, DefaultPacketPool>,
    name: &str,
) -> Result<
    Advertiser<'d, Controller, DefaultPacketPool>,
    BleHostError<esp_radio::ble::controller::BleConnectorError>,
> {
    let mut adv = [0u8; 31];
    let uuid = SERVICE.uuid.to_le_bytes();
    let len = AdStructure::encode_slice(
        &[
            AdStructure::Flags(LE_GENERAL_DISCOVERABLE | BR_EDR_NOT_SUPPORTED),
            AdStructure::CompleteServiceUuids128(&[uuid]),
        ],
        &mut adv[..],
    )?;
    let mut scan = [0u8; 31];
    let scan_len = AdStructure::encode_slice(
        &[AdStructure::CompleteLocalName(name.as_bytes())],
        &mut scan[..],
    )?;
    peripheral
        .advertise(
            &AdvertisementParameters::default(),
            Advertisement::ConnectableScannableUndirected {
                adv_data: &adv[..len],
                scan_data: &scan[..scan_len],
            },
        )
        .await
}

/// One connection: writes go to the band, the band's notifications go out, pairing events go to the policy,
/// until the link drops. trouble-host answers requests the link's security does not allow (ATT error 0x05) and
/// never hands them to the band.
async fn serve(
    conn: &GattConnection<'_, '_, DefaultPacketPool>,
    server: &Server,
    band: &RefCell<TheBand>,
    stack: &Stack<'_, Controller, DefaultPacketPool>,
    pairing: &Pairing,
) {
    let mut link = LinkPairing::default();
    let events = async {
        loop {
            match conn.next().await {
                GattConnectionEvent::Disconnected { reason } => {
                    log::info!("link lost: {reason:?}");
                    break;
                }
                GattConnectionEvent::Gatt { event } => {
                    if let GattEvent::Write(write) = &event {
                        let role = server.role(write.handle());
                        let mtu = conn.raw().att_mtu();
                        write.with_data(|_, data| {
                            let mut band = band.borrow_mut();
                            band.platform_mut().set_mtu(mtu);
                            match role {
                                Some(Characteristic::Control) => band.on_control_write(data),
                                Some(Characteristic::Bulk) => band.on_bulk_write(data),
                                _ => {}
                            }
                        });
                    }
                    match event.accept() {
                        Ok(reply) => reply.send().await,
                        Err(e) => log::warn!("GATT reply: {e:?}"),
                    }
                }
                other => {
                    if !pairing.on_event(&other, &mut link, band, stack) {
                        conn.raw().disconnect();
                    }
                }
            }
        }
    };
    let notifications = async {
        loop {
            let (role, bytes) = OUTBOX.receive().await;
            if let Err(e) = server
                .characteristic(role)
                .notify_raw(conn, &bytes, false)
                .await
            {
                log::warn!("notify {role:?}: {e:?}");
            }
        }
    };
    select(events, notifications).await;
}

/// The band's clock: one tick per IMU sample (20 Hz); the OLED follows the predictions and pairing; the BOOT
/// button, held for [`pairing::BUTTON_HOLD`], opens pairing mode.
async fn tick_forever(
    band: &RefCell<TheBand>,
    display: &mut Display<BusDevice>,
    pairing: &Pairing,
    button: &Input<'_>,
) {
    let period = Duration::from_millis(1000 / u64::from(bandx_core::SAMPLE_RATE_HZ));
    let hold_ticks = (pairing::BUTTON_HOLD.as_millis() / period.as_millis()) as u32;
    let mut ticker = Ticker::every(period);
    let mut ticks: u32 = 0;
    let mut held: u32 = 0;
    loop {
        ticker.next().await;
        ticks = ticks.wrapping_add(1);
        held = if button.is_low() { held + 1 } else { 0 };
        if held == hold_ticks {
            pairing.button_held();
        }
        display.set_pairing(match pairing.passkey() {
            Some(code) => display::Pairing::Passkey(code),
            None if pairing.accepts_new() => display::Pairing::Open,
            None => display::Pairing::Closed,
        });
        let mut band = band.borrow_mut();
        band.tick();
        let prediction = band.platform_mut().take_prediction();
        // Redraw on a new prediction, and every 10 s otherwise (battery, status).
        if prediction.is_none() && ticks % 200 != 1 {
            continue;
        }
        let battery_percent = bandx_core::band::Platform::battery_percent(band.platform_mut());
        let screen = match prediction {
            Some(p) => Screen {
                headline: band
                    .model()
                    .and_then(|m| m.labels().iter().nth(usize::from(p.class)))
                    .and_then(|l| l.try_into().ok())
                    .unwrap_or_default(),
                confidence_permille: Some(p.confidence_permille),
                battery_percent,
            },
            None if band.predicting() => continue,
            None => Screen {
                headline: (if band.model().is_some() {
                    "ready"
                } else {
                    "no model"
                })
                .try_into()
                .unwrap_or_default(),
                confidence_permille: None,
                battery_percent,
            },
        };
        drop(band);
        display.show(screen);
    }
}
