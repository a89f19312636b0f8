//! Pairing over BlueZ, for real: the desktop's agent and `Pair()` against the BlueZ stand-in on a
//! private system D-Bus, with a band that refuses every GATT request until it is bonded.
//!
//! One test (the bus address is process-wide), walking through: an unpaired desktop refused
//! everything; a band not in pairing mode; a wrong code; a cancelled and two timed-out pairings;
//! the right code (read off the band's screen, as a user would), after which everything works;
//! pairing again; unpairing, after which the band refuses again. Then the same through BlueZ
//! with the virtual band's own pairing (bandx-sim) behind the stand-in.
//!
//! Needs `dbus-daemon` (Debian package `dbus`; override with `BANDX_DBUS_DAEMON=/path`).

mod support;
use support::bluez;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bandx_desktop::link::ble::{BleLink, BleOptions};
use bandx_desktop::link::sim::SHIPPED_MODEL;
use bandx_desktop::link::{
    BANDX_SERVICE_UUID, BULK_UUID, CONTROL_UUID, Characteristic, IMU_UUID, Link, LinkError,
    PREDICTIONS_UUID, PairError, PasskeyEntry, ScanRequest,
};
use bandx_sim::{SimBand, SimConfig};
use bluez::{
    BandSecurity, BluezStandIn, CharacteristicSpec, DeviceSpec, PasskeyBand, PeripheralBehaviour,
    PrivateBus, RegisteredAgent, ServiceSpec, SimBandSecurity,
};
use futures::StreamExt;
use uuid::Uuid;

const BAND: &str = "C0:FF:EE:00:00:02";
/// A band whose pairing is the virtual band's (bandx-sim).
const VIRTUAL_BAND: &str = "C0:FF:EE:00:00:04";
/// The stand-in adapter's address, as the virtual band sees it.
const ADAPTER_ADDRESS: [u8; 6] = [0x00, 0x1A, 0x7D, 0xDA, 0x71, 0x13];
const OTHER_DEVICE_PATH: &str = "/org/bluez/hci0/dev_11_22_33_44_55_66";
/// The codes the band shows, one per pairing attempt.
const CODES: [u32; 6] = [271_828, 314_159, 4_242, 161_803, 141_421, 577_215];

/// The writes that reached a band.
type WriteLog = Arc<Mutex<Vec<(Uuid, Vec<u8>)>>>;
/// What a band's screen shows.
type Screen = Arc<dyn Fn() -> Option<u32> + Send + Sync>;
/// The agents BlueZ has registered, and its default agent (owner, path).
type AgentsSeen = (Vec<RegisteredAgent>, Option<(String, String)>);
type BluezAgents = Arc<dyn Fn() -> AgentsSeen + Send + Sync>;

/// Bounds waiting for what will certainly happen, so a broken link fails instead of hanging.
const PATIENCE: Duration = Duration::from_secs(10);

/// Logs the writes that reach the band; answers control requests with "ack:" + the request.
struct Acknowledger {
    log: WriteLog,
}

impl PeripheralBehaviour for Acknowledger {
    fn on_write(&mut self, uuid: Uuid, value: &[u8], with_response: bool) -> Vec<(Uuid, Vec<u8>)> {
        self.log.lock().unwrap().push((uuid, value.to_vec()));
        if uuid == CONTROL_UUID && with_response {
            vec![(CONTROL_UUID, [b"ack:".as_slice(), value].concat())]
        } else {
            Vec::new()
        }
    }
}

fn band(address: &str, log: WriteLog, security: Box<dyn BandSecurity>) -> DeviceSpec {
    let characteristic = |uuid, flags: &[&'static str]| CharacteristicSpec {
        uuid,
        flags: flags.to_vec(),
    };
    DeviceSpec {
        address: address.into(),
        name: format!("BandX-{}", &address[12..]),
        rssi: -50,
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
        mtu: 247,
        behaviour: Box::new(Acknowledger { log }),
        security: Some(security),
    }
}

/// What the user does when asked for the code.
#[derive(Clone, Copy)]
enum User {
    /// Reads the band's screen and types what it shows.
    TypesTheCode,
    /// Types one digit wrong.
    Mistypes,
    /// Cancels.
    Cancels,
    /// Walks away.
    Dawdles,
}

/// A [`PasskeyEntry`] played by a scripted user, which also notes what BlueZ looked like while
/// it was asked (the agents registered at that moment).
struct Scripted {
    user: User,
    /// What the band's screen shows.
    screen: Screen,
    bluez_agents: BluezAgents,
    asked: Mutex<Vec<AgentsSeen>>,
    /// What a request about another device got from our agent, when asked to try.
    probe_other_device: bool,
    probe: Mutex<Option<Result<u32, String>>>,
}

#[async_trait]
impl PasskeyEntry for Scripted {
    async fn passkey(&self) -> Option<u32> {
        let (agents, default) = (self.bluez_agents)();
        if self.probe_other_device
            && let Some(agent) = agents.first()
        {
            *self.probe.lock().unwrap() = Some(ask_agent_about_another_device(agent).await);
        }
        self.asked.lock().unwrap().push((agents, default));
        let shown = (self.screen)().expect("the band shows its code while pairing");
        match self.user {
            User::TypesTheCode => Some(shown),
            User::Mistypes => Some((shown + 1) % 1_000_000),
            User::Cancels => None,
            User::Dawdles => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                None
            }
        }
    }
}

/// Calls our agent's RequestPasskey for a device it is not pairing, as another program could.
async fn ask_agent_about_another_device(agent: &RegisteredAgent) -> Result<u32, String> {
    let bus = zbus::Connection::system().await.expect("the test bus");
    let other = zbus::zvariant::ObjectPath::try_from(OTHER_DEVICE_PATH).unwrap();
    let reply = bus
        .call_method(
            Some(agent.owner.as_str()),
            agent.path.as_str(),
            Some("org.bluez.Agent1"),
            "RequestPasskey",
            &(other,),
        )
        .await;
    match reply {
        Ok(message) => Ok(message.body().deserialize::<u32>().unwrap()),
        Err(zbus::Error::MethodError(name, _, _)) => Err(name.to_string()),
        Err(other) => Err(other.to_string()),
    }
}

#[test]
fn pairing_over_bluez_with_the_bands_code() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("system_bus_socket");
    // SAFETY: set before the runtime starts and before anything else in this single-test process
    // reads the environment.
    unsafe { std::env::set_var("DBUS_SYSTEM_BUS_ADDRESS", bluez::bus::address_for(&socket)) };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let bus = PrivateBus::start(&socket, dir.path()).expect("start dbus-daemon");
    runtime.block_on(walk_through(bus.address()));
    drop(bus);
}

struct World {
    bluez: Arc<BluezStandIn>,
    link: BleLink,
    screen: PasskeyBand,
    log: WriteLog,
}

impl World {
    fn user(&self, user: User) -> Scripted {
        let screen = self.screen.clone();
        self.user_reading(user, Arc::new(move || screen.screen()))
    }

    fn user_reading(&self, user: User, screen: Screen) -> Scripted {
        let bluez = Arc::clone(&self.bluez);
        Scripted {
            user,
            screen,
            bluez_agents: Arc::new(move || (bluez.agents(), bluez.default_agent())),
            asked: Mutex::new(Vec::new()),
            probe_other_device: false,
            probe: Mutex::new(None),
        }
    }

    async fn scan(&self) {
        let found = self
            .link
            .scan(ScanRequest {
                duration: Duration::from_millis(300),
                bandx_only: true,
            })
            .await
            .expect("scan");
        assert!(found.iter().any(|r| r.address == BAND), "{found:?}");
    }

    /// No agent is left registered, and none is the default.
    fn no_agent_left(&self) {
        assert_eq!(self.bluez.agents(), Vec::new(), "the agent is unregistered");
        assert_eq!(self.bluez.default_agent(), None);
    }
}

async fn walk_through(bus_address: &str) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let screen = PasskeyBand::new(CODES.to_vec());
    let flash = tempfile::tempdir().unwrap();
    let virtual_band = SimBand::new(SimConfig::new(
        flash.path().join("band.flash"),
        Some(SHIPPED_MODEL.to_vec()),
    ))
    .unwrap();
    let devices = vec![
        band(BAND, log.clone(), Box::new(screen.clone())),
        band(
            VIRTUAL_BAND,
            Arc::new(Mutex::new(Vec::new())),
            Box::new(SimBandSecurity::new(virtual_band.clone(), ADAPTER_ADDRESS)),
        ),
    ];
    let bluez = BluezStandIn::start(bus_address, true, devices)
        .await
        .expect("start the BlueZ stand-in");
    let link = BleLink::new().await.expect("the stand-in adapter");
    let world = World {
        bluez: Arc::new(bluez),
        link,
        screen,
        log,
    };
    world.scan().await;

    an_unpaired_desktop_is_refused_everything(&world).await;
    a_band_not_in_pairing_mode_refuses(&world).await;
    a_wrong_code_is_refused(&world).await;
    a_cancelled_pairing(&world).await;
    timeouts(&world).await;
    the_right_code_pairs(&world).await;
    pairing_again_is_a_no_op(&world).await;
    unpairing_forgets_the_bond(&world).await;
    the_virtual_bands_own_pairing(&world, &virtual_band).await;
}

/// Every request the desktop can make fails as "not paired", and the band receives nothing.
async fn refused_everything(world: &World) {
    refused_everything_by(world, BAND).await;
}

async fn refused_everything_by(world: &World, address: &str) {
    let connection = world
        .link
        .connect(address)
        .await
        .expect("an unpaired desktop can connect");
    for characteristic in [
        Characteristic::Control,
        Characteristic::Imu,
        Characteristic::Predictions,
    ] {
        let subscribe = connection.subscribe(characteristic).await;
        assert!(
            matches!(subscribe, Err(LinkError::NotAuthenticated)),
            "subscribe {characteristic:?}: {subscribe:?}"
        );
    }
    let write = connection.write(Characteristic::Control, b"get-info").await;
    match write {
        Err(error @ LinkError::NotAuthenticated) => {
            assert!(error.to_string().contains("pair with it first"), "{error}");
            assert!(!error.is_transient(), "retrying cannot help");
        }
        other => panic!("write: {other:?}"),
    }
    // A write command has no response: BlueZ reports success, the band drops it.
    let dropped_before = world.bluez.device(address).dropped_commands();
    connection
        .write_without_response(Characteristic::Bulk, &[1, 2, 3])
        .await
        .expect("a write command is sent");
    assert_eq!(
        world.bluez.device(address).dropped_commands(),
        dropped_before + 1
    );
    assert_eq!(
        world.log.lock().unwrap().clone(),
        Vec::new(),
        "nothing reached the band"
    );
    connection.disconnect().await.unwrap();
}

async fn an_unpaired_desktop_is_refused_everything(world: &World) {
    refused_everything(world).await;
    assert_eq!(world.bluez.device(BAND).pair_calls(), 0);
}

async fn a_band_not_in_pairing_mode_refuses(world: &World) {
    world.screen.set_pairing_mode(false);
    let user = world.user(User::TypesTheCode);
    let result = world.link.pair(BAND, &user).await;
    assert!(
        matches!(result, Err(PairError::NotInPairingMode)),
        "{result:?}"
    );
    assert!(user.asked.lock().unwrap().is_empty(), "no code was shown");
    assert_eq!(world.bluez.passkey_requests(), Vec::<String>::new());
    assert_eq!(
        world.bluez.device(BAND).pair_calls(),
        1,
        "Pair() was called"
    );
    world.no_agent_left();
    assert!(!world.bluez.device(BAND).is_paired());
    world.screen.set_pairing_mode(true);
}

async fn a_wrong_code_is_refused(world: &World) {
    let user = world.user(User::Mistypes);
    let result = world.link.pair(BAND, &user).await;
    assert!(matches!(result, Err(PairError::WrongCode)), "{result:?}");

    // BlueZ asked our agent, once, registered as KeyboardDisplay and the default agent.
    let band_path = world.bluez.device(BAND).object_path().to_string();
    assert_eq!(world.bluez.passkey_requests(), [band_path]);
    let asked = user.asked.lock().unwrap().clone();
    assert_eq!(asked.len(), 1, "asked once");
    let (agents, default) = &asked[0];
    assert_eq!(agents.len(), 1, "{agents:?}");
    assert_eq!(agents[0].capability, "KeyboardDisplay");
    assert_eq!(
        default.as_ref(),
        Some(&(agents[0].owner.clone(), agents[0].path.clone())),
        "our agent is the default agent while pairing"
    );
    world.no_agent_left();
    assert!(!world.bluez.device(BAND).is_paired());
    assert!(!world.screen.is_bonded());
    refused_everything(world).await;
}

async fn a_cancelled_pairing(world: &World) {
    let user = world.user(User::Cancels);
    let result = world.link.pair(BAND, &user).await;
    assert!(matches!(result, Err(PairError::Cancelled)), "{result:?}");
    assert_eq!(user.asked.lock().unwrap().len(), 1);
    world.no_agent_left();
    assert!(!world.bluez.device(BAND).is_paired());
    assert_eq!(
        world.screen.screen(),
        None,
        "the band stopped showing its code"
    );
}

async fn timeouts(world: &World) {
    // The band gives up first (its SMP timeout): BlueZ cancels our agent's request.
    world.bluez.set_smp_timeout(Duration::from_millis(400));
    let user = world.user(User::Dawdles);
    let result = tokio::time::timeout(PATIENCE, world.link.pair(BAND, &user))
        .await
        .expect("the pairing ends");
    assert!(
        matches!(result, Err(PairError::Timeout(after)) if after == Duration::from_secs(30)),
        "{result:?}"
    );
    assert_eq!(world.bluez.agent_cancels().len(), 1, "the agent got Cancel");
    world.no_agent_left();
    world.bluez.set_smp_timeout(Duration::from_secs(30));

    // The desktop gives up first: it cancels the pairing (and BlueZ its agent's request).
    let impatient = BleLink::with_options(BleOptions {
        pair_timeout: Duration::from_millis(400),
        ..BleOptions::default()
    })
    .await
    .unwrap();
    let result = tokio::time::timeout(PATIENCE, impatient.pair(BAND, &user))
        .await
        .expect("the pairing ends");
    assert!(
        matches!(result, Err(PairError::Timeout(after)) if after == Duration::from_millis(400)),
        "{result:?}"
    );
    let cancelled = tokio::time::timeout(PATIENCE, async {
        while world.bluez.agent_cancels().len() < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(
        cancelled.is_ok(),
        "CancelPairing made BlueZ cancel the agent"
    );
    world.no_agent_left();
    assert!(!world.bluez.device(BAND).is_paired());
    assert_eq!(user.asked.lock().unwrap().len(), 2);
}

async fn the_right_code_pairs(world: &World) {
    let mut user = world.user(User::TypesTheCode);
    user.probe_other_device = true;
    world.link.pair(BAND, &user).await.expect("paired");
    assert_eq!(
        user.probe.lock().unwrap().clone(),
        Some(Err("org.bluez.Error.Rejected".to_string())),
        "our agent answers for the band being paired only"
    );
    assert!(world.bluez.device(BAND).is_paired());
    assert!(world.screen.is_bonded());
    world.no_agent_left();

    // Now the band answers.
    let connection = world.link.connect(BAND).await.expect("connect");
    let mut notifications = connection.notifications().await.unwrap();
    connection.subscribe(Characteristic::Control).await.unwrap();
    connection.subscribe(Characteristic::Imu).await.unwrap();
    connection
        .write(Characteristic::Control, b"get-info")
        .await
        .unwrap();
    let reply = tokio::time::timeout(PATIENCE, notifications.next())
        .await
        .expect("the band answers")
        .expect("stream open");
    assert_eq!(reply.value, b"ack:get-info");
    connection
        .write_without_response(Characteristic::Bulk, &[9, 8, 7])
        .await
        .unwrap();
    assert_eq!(
        world.log.lock().unwrap().clone(),
        [
            (CONTROL_UUID, b"get-info".to_vec()),
            (BULK_UUID, vec![9, 8, 7])
        ]
    );
    connection.disconnect().await.unwrap();
    world.log.lock().unwrap().clear();
}

async fn pairing_again_is_a_no_op(world: &World) {
    let user = world.user(User::Mistypes);
    world
        .link
        .pair(BAND, &user)
        .await
        .expect("a bonded band counts as paired");
    assert!(user.asked.lock().unwrap().is_empty(), "no code asked");
    world.no_agent_left();
}

async fn unpairing_forgets_the_bond(world: &World) {
    world.link.unpair(BAND).await.expect("unpaired");
    assert!(!world.bluez.device(BAND).is_paired());
    assert!(
        world.screen.is_bonded(),
        "the band keeps its side of the bond"
    );
    // BlueZ forgot the device too: it comes back with the next scan, refusing us again.
    let gone = world.link.connect(BAND).await.err();
    assert!(matches!(gone, Some(LinkError::NotFound(_))), "{gone:?}");
    world.scan().await;
    refused_everything(world).await;

    let unknown = world.link.unpair("AA:AA:AA:AA:AA:AA").await;
    assert!(
        matches!(unknown, Err(PairError::Link(LinkError::NotFound(_)))),
        "{unknown:?}"
    );
}

async fn the_virtual_bands_own_pairing(world: &World, band: &SimBand) {
    let screen = band.clone();
    let read = move || screen.displayed_passkey().map(|p| p.value());
    refused_everything_by(world, VIRTUAL_BAND).await;

    let mistyped = world.user_reading(User::Mistypes, Arc::new(read.clone()));
    let result = world.link.pair(VIRTUAL_BAND, &mistyped).await;
    assert!(matches!(result, Err(PairError::WrongCode)), "{result:?}");
    assert_eq!(band.bonds().unwrap(), 0);

    let user = world.user_reading(User::TypesTheCode, Arc::new(read));
    world.link.pair(VIRTUAL_BAND, &user).await.expect("paired");
    assert_eq!(band.bonds().unwrap(), 1, "the virtual band stored the bond");
    assert!(world.bluez.device(VIRTUAL_BAND).is_paired());
    let connection = world.link.connect(VIRTUAL_BAND).await.expect("connect");
    connection
        .subscribe(Characteristic::Control)
        .await
        .expect("the band answers its paired desktop");
    connection.disconnect().await.unwrap();
    world.no_agent_left();
}
