//! The btleplug link, for real, against a BlueZ stand-in on a private system D-Bus.
//!
//! libdbus reads `DBUS_SYSTEM_BUS_ADDRESS` once per process, so this binary holds ONE test that
//! walks through the states in order: no bus, a bus without BlueZ, Bluetooth off, then scanning,
//! connecting, notifications, writes, a dropped band and reconnection. The bus address never
//! changes: the daemon is started on the socket the variable already names.
//!
//! Needs `dbus-daemon` (Debian package `dbus`; override with `BANDX_DBUS_DAEMON=/path`).

mod support;
use support::bluez;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bandx_desktop::link::ble::{BleLink, BleOptions};
use bandx_desktop::link::{
    BANDX_SERVICE_UUID, BULK_UUID, Backoff, CONTROL_UUID, Characteristic, Connection,
    ConnectionState, DisconnectReason, IMU_UUID, Link, LinkError, Notification, PREDICTIONS_UUID,
    ScanRequest, disconnected, reconnect,
};
use bluez::{
    BluezStandIn, CharacteristicSpec, DeviceSpec, PeripheralBehaviour, PrivateBus, ServiceSpec,
    Silent,
};
use futures::StreamExt;
use futures::stream::BoxStream;
use uuid::{Uuid, uuid};

const BAND: &str = "C0:FF:EE:00:00:01";
const BAND_RSSI: i16 = -48;
const BAND_MTU: u16 = 247;
const HEADPHONES: &str = "11:22:33:44:55:66";
const HEADPHONES_RSSI: i16 = -71;
const BATTERY_SERVICE: Uuid = uuid!("0000180f-0000-1000-8000-00805f9b34fb");
const BATTERY_LEVEL: Uuid = uuid!("00002a19-0000-1000-8000-00805f9b34fb");

/// Generous bound on waiting for something the stand-in will certainly do, so that a broken link
/// fails the test instead of hanging it. Not a performance assertion.
const PATIENCE: Duration = Duration::from_secs(10);

/// One write the peripheral received.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Received {
    characteristic: Uuid,
    value: Vec<u8>,
    with_response: bool,
}

/// A peripheral that logs every write and answers control requests with "ack:" + the request.
struct Acknowledger {
    log: Arc<Mutex<Vec<Received>>>,
}

fn ack(request: &[u8]) -> Vec<u8> {
    [b"ack:".as_slice(), request].concat()
}

impl PeripheralBehaviour for Acknowledger {
    fn on_write(&mut self, uuid: Uuid, value: &[u8], with_response: bool) -> Vec<(Uuid, Vec<u8>)> {
        self.log.lock().unwrap().push(Received {
            characteristic: uuid,
            value: value.to_vec(),
            with_response,
        });
        if uuid == CONTROL_UUID && with_response {
            vec![(CONTROL_UUID, ack(value))]
        } else {
            Vec::new()
        }
    }
}

fn band(log: Arc<Mutex<Vec<Received>>>) -> DeviceSpec {
    let characteristic = |uuid, flags: &[&'static str]| CharacteristicSpec {
        uuid,
        flags: flags.to_vec(),
    };
    DeviceSpec {
        address: BAND.into(),
        name: "BandX-7F3A".into(),
        rssi: BAND_RSSI,
        advertised: vec![BANDX_SERVICE_UUID],
        services: vec![ServiceSpec {
            uuid: BANDX_SERVICE_UUID,
            characteristics: vec![
                characteristic(IMU_UUID, &["notify"]),
                characteristic(PREDICTIONS_UUID, &["notify"]),
                characteristic(CONTROL_UUID, &["write", "notify"]),
                characteristic(BULK_UUID, &["write-without-response"]),
            ],
        }],
        mtu: BAND_MTU,
        behaviour: Box::new(Acknowledger { log }),
        security: None,
    }
}

fn headphones() -> DeviceSpec {
    DeviceSpec {
        address: HEADPHONES.into(),
        name: "Headphones".into(),
        rssi: HEADPHONES_RSSI,
        advertised: vec![BATTERY_SERVICE],
        services: vec![ServiceSpec {
            uuid: BATTERY_SERVICE,
            characteristics: vec![CharacteristicSpec {
                uuid: BATTERY_LEVEL,
                flags: vec!["read", "notify"],
            }],
        }],
        mtu: 23,
        behaviour: Box::new(Silent),
        security: None,
    }
}

async fn next(stream: &mut BoxStream<'static, Notification>) -> Notification {
    tokio::time::timeout(PATIENCE, stream.next())
        .await
        .expect("no notification arrived")
        .expect("the notification stream ended")
}

#[test]
fn btleplug_link_against_a_bluez_stand_in() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("system_bus_socket");
    // SAFETY: set before the runtime starts and before anything else in this single-test process
    // reads the environment.
    unsafe { std::env::set_var("DBUS_SYSTEM_BUS_ADDRESS", bluez::bus::address_for(&socket)) };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();

    // No system bus at all: no adapter.
    let error = runtime.block_on(BleLink::new()).err();
    assert!(
        matches!(error, Some(LinkError::NoAdapter(_))),
        "no bus: {error:?}"
    );

    // A bus, but nobody owns org.bluez (ServiceUnknown): no adapter either.
    let bus = PrivateBus::start(&socket, dir.path()).expect("start dbus-daemon");
    let error = runtime.block_on(BleLink::new()).err();
    assert!(
        matches!(error, Some(LinkError::NoAdapter(_))),
        "bus without BlueZ: {error:?}"
    );

    runtime.block_on(with_bluez(bus.address()));
    drop(bus);
}

async fn with_bluez(bus_address: &str) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let bluez = BluezStandIn::start(bus_address, false, vec![band(log.clone()), headphones()])
        .await
        .expect("start the BlueZ stand-in");
    let link = BleLink::new().await.expect("the stand-in adapter is found");

    bluetooth_off(&link, &bluez).await;
    bluez.set_powered(true).await.unwrap();
    scanning(&link, &bluez).await;
    connecting_to_the_wrong_device(&link, &bluez).await;
    let connection = link.connect(BAND).await.expect("connect to the band");
    negotiated_mtu(connection.as_ref());
    notifications_and_writes(connection.as_ref(), &bluez, &log).await;
    let connection = dropped_band_comes_back(connection, &link, &bluez).await;
    requested_disconnect(connection, &bluez).await;
    dropping_a_connection_closes_it(&link, &bluez).await;
    giving_up_and_timing_out(&link, &bluez).await;

    bluez.stop().await;
    let error = BleLink::new().await.err();
    assert!(
        matches!(error, Some(LinkError::NoAdapter(_))),
        "BlueZ gone: {error:?}"
    );
}

async fn bluetooth_off(link: &BleLink, bluez: &BluezStandIn) {
    let scan = link.scan(ScanRequest::default()).await;
    assert!(
        matches!(scan, Err(LinkError::BluetoothOff)),
        "scan with the adapter off: {scan:?}"
    );
    let connect = link.connect(BAND).await.err();
    assert!(
        matches!(connect, Some(LinkError::BluetoothOff)),
        "connect with the adapter off: {connect:?}"
    );
    assert!(
        !bluez.powered(),
        "the link must not switch the user's Bluetooth on behind their back"
    );
}

async fn scanning(link: &BleLink, bluez: &BluezStandIn) {
    let short = Duration::from_millis(300);

    // Everything in range, each marked.
    let all = link
        .scan(ScanRequest {
            duration: short,
            bandx_only: false,
        })
        .await
        .expect("scan everything");
    assert!(
        bluez.discovery_filter().is_empty(),
        "no filter was asked for"
    );
    let summary: Vec<_> = all
        .iter()
        .map(|r| (r.address.as_str(), r.name.as_deref(), r.rssi, r.bandx))
        .collect();
    assert_eq!(
        summary,
        [
            (BAND, Some("BandX-7F3A"), Some(BAND_RSSI), true),
            (HEADPHONES, Some("Headphones"), Some(HEADPHONES_RSSI), false),
        ],
        "strongest first"
    );

    // The normal scan: BlueZ is asked for the BandX service, and the headphones BlueZ still
    // remembers from the previous scan are left out.
    let bands = link
        .scan(ScanRequest {
            duration: short,
            bandx_only: true,
        })
        .await
        .expect("scan for bands");
    assert_eq!(
        bluez.discovery_filter(),
        [BANDX_SERVICE_UUID.to_string()],
        "the scan filters on the BandX service UUID"
    );
    let addresses: Vec<_> = bands.iter().map(|r| r.address.as_str()).collect();
    assert_eq!(addresses, [BAND]);
    assert_eq!(bands[0].rssi, Some(BAND_RSSI));
    assert!(bands[0].bandx);
    assert!(
        bands[0].id.ends_with(&BAND.replace(':', "_")),
        "id: {}",
        bands[0].id
    );
}

async fn connecting_to_the_wrong_device(link: &BleLink, bluez: &BluezStandIn) {
    let unknown = link.connect("AA:AA:AA:AA:AA:AA").await.err();
    assert!(
        matches!(&unknown, Some(LinkError::NotFound(id)) if id == "AA:AA:AA:AA:AA:AA"),
        "unknown device: {unknown:?}"
    );
    let not_a_band = link.connect(HEADPHONES).await.err();
    assert!(
        matches!(&not_a_band, Some(LinkError::Gatt(m)) if m.contains("BandX service")),
        "headphones: {not_a_band:?}"
    );
    assert!(
        !bluez.device(HEADPHONES).is_connected(),
        "a device that is not a band is let go"
    );
}

fn negotiated_mtu(connection: &dyn Connection) {
    assert_eq!(connection.mtu(), BAND_MTU);
    assert_eq!(connection.max_write_len(), usize::from(BAND_MTU) - 3);
    assert_eq!(*connection.state().borrow(), ConnectionState::Connected);
}

async fn notifications_and_writes(
    connection: &dyn Connection,
    bluez: &BluezStandIn,
    log: &Arc<Mutex<Vec<Received>>>,
) {
    let band = bluez.device(BAND);
    let mut notifications = connection.notifications().await.unwrap();

    // Only subscribed characteristics notify: the IMU frame sent before subscribing to the IMU
    // is not delivered, the control value queued after it is.
    connection.subscribe(Characteristic::Control).await.unwrap();
    band.notify(IMU_UUID, vec![0xEE]);
    band.notify(CONTROL_UUID, vec![0x01]);
    assert_eq!(
        next(&mut notifications).await,
        Notification {
            characteristic: Characteristic::Control,
            value: vec![0x01]
        }
    );
    connection.subscribe(Characteristic::Imu).await.unwrap();
    let frames: Vec<Vec<u8>> = (0..20u8).map(|i| vec![i, i ^ 0x5A, 0xA5]).collect();
    for frame in &frames {
        band.notify(IMU_UUID, frame.clone());
    }
    for frame in &frames {
        let n = next(&mut notifications).await;
        assert_eq!((n.characteristic, &n.value), (Characteristic::Imu, frame));
    }

    // A request written with response gets the peripheral's reply as a notification.
    connection
        .write(Characteristic::Control, b"get-info")
        .await
        .unwrap();
    assert_eq!(
        next(&mut notifications).await,
        Notification {
            characteristic: Characteristic::Control,
            value: ack(b"get-info")
        }
    );

    // Writes without response arrive whole and in order; each fills a packet.
    let max = connection.max_write_len();
    let chunks: Vec<Vec<u8>> = (0..40u32)
        .map(|i| (0..max).map(|j| (i as usize * 7 + j) as u8).collect())
        .collect();
    for chunk in &chunks {
        connection
            .write_without_response(Characteristic::Bulk, chunk)
            .await
            .unwrap();
    }
    let too_long = connection
        .write_without_response(Characteristic::Bulk, &vec![0; max + 1])
        .await;
    assert!(
        matches!(&too_long, Err(LinkError::Gatt(m)) if m.contains(&max.to_string())),
        "{too_long:?}"
    );

    let received = log.lock().unwrap().clone();
    let expected: Vec<Received> = std::iter::once(Received {
        characteristic: CONTROL_UUID,
        value: b"get-info".to_vec(),
        with_response: true,
    })
    .chain(chunks.iter().map(|c| Received {
        characteristic: BULK_UUID,
        value: c.clone(),
        with_response: false,
    }))
    .collect();
    assert_eq!(received.len(), expected.len());
    assert!(
        received == expected,
        "writes arrived altered or out of order"
    );
}

async fn dropped_band_comes_back(
    connection: Box<dyn Connection>,
    link: &BleLink,
    bluez: &BluezStandIn,
) -> Box<dyn Connection> {
    let band = bluez.device(BAND);
    let mut state = connection.state();
    band.force_disconnect().await;
    let reason = tokio::time::timeout(PATIENCE, disconnected(&mut state))
        .await
        .expect("the drop is reported");
    assert_eq!(reason, DisconnectReason::Lost);
    let write = connection.write(Characteristic::Control, b"x").await;
    assert!(
        matches!(write, Err(LinkError::ConnectionLost)),
        "writing on a dropped link: {write:?}"
    );

    // The band stays out of reach for two attempts, then is back.
    band.refuse_connections(2);
    let calls_before = band.connect_calls();
    let backoff = Backoff {
        initial: Duration::from_millis(20),
        max: Duration::from_millis(80),
        attempts: 5,
    };
    let connection = reconnect(link, BAND, &backoff).await.expect("reconnected");
    assert_eq!(band.connect_calls() - calls_before, 3);
    assert_eq!(*connection.state().borrow(), ConnectionState::Connected);

    // The new connection works end to end (its GATT objects are new ones).
    let mut notifications = connection.notifications().await.unwrap();
    connection.subscribe(Characteristic::Control).await.unwrap();
    connection
        .write(Characteristic::Control, b"hello again")
        .await
        .unwrap();
    assert_eq!(next(&mut notifications).await.value, ack(b"hello again"));
    connection
}

async fn requested_disconnect(connection: Box<dyn Connection>, bluez: &BluezStandIn) {
    let mut state = connection.state();
    connection.disconnect().await.unwrap();
    assert_eq!(disconnected(&mut state).await, DisconnectReason::Requested);
    assert!(!bluez.device(BAND).is_connected());
}

async fn dropping_a_connection_closes_it(link: &BleLink, bluez: &BluezStandIn) {
    let band = bluez.device(BAND);
    let connection = link.connect(BAND).await.expect("connect");
    assert!(band.is_connected());
    drop(connection);
    let closed = tokio::time::timeout(PATIENCE, async {
        while band.is_connected() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(closed.is_ok(), "a dropped connection is closed");
}

async fn giving_up_and_timing_out(link: &BleLink, bluez: &BluezStandIn) {
    let band = bluez.device(BAND);

    // Out of reach for longer than the backoff allows: the last error comes back.
    band.refuse_connections(10);
    let calls_before = band.connect_calls();
    let backoff = Backoff {
        initial: Duration::from_millis(10),
        max: Duration::from_millis(20),
        attempts: 3,
    };
    let error = reconnect(link, BAND, &backoff).await.err();
    assert!(
        matches!(&error, Some(LinkError::Gatt(m)) if m.contains("le-connection-abort-by-local")),
        "{error:?}"
    );
    assert_eq!(band.connect_calls() - calls_before, 3);
    band.refuse_connections(0);

    // A connect that is never answered times out.
    band.hang_connections(true);
    let impatient = BleLink::with_options(BleOptions {
        connect_timeout: Duration::from_millis(300),
        ..BleOptions::default()
    })
    .await
    .unwrap();
    let error = impatient.connect(BAND).await.err();
    assert!(
        matches!(error, Some(LinkError::Timeout { .. })),
        "{error:?}"
    );
    band.hang_connections(false);
}
