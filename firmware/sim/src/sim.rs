//! [`SimBand`]: the virtual band — bandx-core's `Band` on [`SimPlatform`], behind a simulated BLE link.
//!
//! Time is simulated in microseconds. The band ticks every 50 ms (20 Hz); packets take time on air
//! ([`LinkTiming`]). With the virtual clock (the default) nothing moves until [`SimBand::step`] /
//! [`SimBand::advance`] or a write (which waits for its packet to arrive); [`SimBand::run_realtime`]
//! starts a thread that follows the wall clock instead, for the app.
//!
//! Like the hardware, a reset goes through the ESP-IDF bootloader's `otadata` pass (a new firmware starts
//! on trial, an unconfirmed one is rolled back) and bandx-core's boot check, which confirms the app; the
//! band reports the firmware it runs ([`firmware_version_of`]). Flash erases stall the band for their
//! datasheet time ([`crate::flash::SECTOR_ERASE`]) on the simulated clock.
//!
//! Like the hardware, the band's GATT service needs an authenticated link: a central that never paired gets
//! [`SimError::InsufficientAuthentication`] (ATT error 0x05) on every write and subscription. Pairing is LE Secure
//! Connections with passkey entry: [`SimConnection::start_pairing`] makes the band show a six-digit code
//! ([`SimBand::displayed_passkey`], the virtual band's screen), [`SimConnection::finish_pairing`] takes what the
//! user typed; the band then stores a bond ([`crate::bonds`]) and a later [`SimBand::connect_as`] with the
//! long-term key is authenticated at once. bandx-core's pairing rules decide when the band takes a new pairing.

use std::collections::{HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bandx_core::band::{Band, MAX_ATT_PAYLOAD};
use bandx_core::boot::OtaState;
use bandx_core::pairing::{
    PAIRING_TIMEOUT_MS, PairingContext, PairingRefused, Passkey, pairing_mode,
};
use bandx_core::protocol::{ADVERTISED_NAME_PREFIX, Characteristic, SERVICE_UUID, att_payload};

use crate::bonds::Bond;
use crate::flash::{FlashError, SimFlash};
use crate::link::{DisconnectReason, Faults, LinkEvent, LinkStats, LinkTiming, Notification};
use crate::platform::SimPlatform;
use crate::wearer::{Activity, Style, Wearer, WearerError};

/// The firmware version the virtual band reports while it runs its own build (a fresh band, or one
/// whose boot slot holds no valid app image).
pub const SIM_FIRMWARE_VERSION: &str = concat!("sim-", env!("CARGO_PKG_VERSION"));

/// The firmware version the virtual band reports once it runs the app image `image` (it does not
/// execute images; it stands for them): `"sim-"` and the first 8 hex digits of the image's SHA-256
/// (the digest the desktop announces in `BeginUpdate`), 12 characters.
pub fn firmware_version_of(image: &[u8]) -> String {
    let digest = bandx_core::blob::sha256(image);
    let hex: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    format!("sim-{hex}")
}

/// `Band::new` takes a `&'static str`: each distinct version string is leaked once.
fn interned(version: String) -> &'static str {
    static VERSIONS: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let mut versions = VERSIONS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(v) = versions.iter().find(|v| **v == version) {
        return v;
    }
    let v: &'static str = Box::leak(version.into_boxed_str());
    versions.push(v);
    v
}
/// Band tick period (20 Hz).
pub const TICK: Duration = Duration::from_millis(50);
const TICK_US: u64 = 50_000;
/// In real time, the most simulated time caught up at once after the host stalled.
const MAX_CATCH_UP_US: u64 = 1_000_000;
/// Largest ATT MTU the band accepts (its notifications and frames are sized for it).
pub const MAX_MTU: u16 = MAX_ATT_PAYLOAD as u16 + 3;

/// How to build a virtual band.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The band's flash file (created if missing).
    pub flash_path: PathBuf,
    /// The model a fresh flash file starts with (ignored when the file exists).
    pub fresh_model: Option<Vec<u8>>,
    pub wearer: Wearer,
    /// Advertised name (should start with "BandX").
    pub name: String,
    pub timing: LinkTiming,
    /// Simulated seconds per wall-clock second once [`SimBand::run_realtime`] runs it (1.0: real
    /// time; a demo or an end-to-end test of the app may run the band faster). Values that are not
    /// finite and positive count as 1.0.
    pub realtime_speed: f64,
}

impl SimConfig {
    /// A band with its flash at `flash_path`, starting fresh with `fresh_model`, worn by the bundled wearer.
    pub fn new(flash_path: impl Into<PathBuf>, fresh_model: Option<Vec<u8>>) -> SimConfig {
        SimConfig {
            flash_path: flash_path.into(),
            fresh_model,
            wearer: Wearer::bundled(),
            name: format!("{ADVERTISED_NAME_PREFIX} Sim"),
            timing: LinkTiming::TYPICAL,
            realtime_speed: 1.0,
        }
    }
}

/// What the virtual band advertises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advertisement {
    /// Stable id (pass it back to connect).
    pub id: String,
    pub address: String,
    pub name: String,
    pub rssi: i16,
    pub service_uuid: u128,
}

/// The desktop end of a connection: its address and, if it bonded with the band before, the long-term key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Central {
    pub address: [u8; 6],
    pub ltk: Option<[u8; 16]>,
}

/// Why a pairing failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SimPairError {
    #[error("{0}")]
    Refused(PairingRefused),
    #[error("the code typed is not the one the band shows")]
    WrongPasskey,
    #[error("the pairing timed out: the code was not entered within 30 s")]
    Timeout,
    #[error("no pairing in progress on this connection: start one first")]
    NotStarted,
    #[error("not connected to the virtual band")]
    NotConnected,
    #[error("the band could not store the bond (flash write failed)")]
    Storage,
}

/// Errors of the virtual band and its link.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("not connected to the virtual band")]
    NotConnected,
    #[error("the virtual band is already connected")]
    AlreadyConnected,
    #[error("characteristic {0:032x} is not one of the BandX service")]
    UnknownCharacteristic(u128),
    #[error("{characteristic:?} does not accept writes {}", if *.with_response { "with response" } else { "without response" })]
    NotWritable {
        characteristic: Characteristic,
        with_response: bool,
    },
    #[error(
        "{0:?} needs an authenticated link (ATT error 0x05, Insufficient Authentication): pair with the band first"
    )]
    InsufficientAuthentication(Characteristic),
    #[error("a {len}-byte write exceeds the {max}-byte ATT payload of this connection")]
    TooLong { len: usize, max: usize },
    #[error("the band did not acknowledge the write (packet lost)")]
    NoAck,
    #[error("the virtual band runs in real time; it cannot be stepped")]
    RealTime,
    #[error("the virtual band is off: its flash could not be reopened")]
    Off,
    #[error("pairing failed: {0}")]
    Pairing(SimPairError),
    #[error(transparent)]
    Flash(#[from] FlashError),
    #[error(transparent)]
    Wearer(#[from] WearerError),
}

#[derive(Debug, Clone, Copy)]
enum Clock {
    Virtual,
    /// Sim time = `offset_us` + wall time since `origin`.
    Real {
        origin: Instant,
        offset_us: u64,
    },
}

struct Conn {
    id: u64,
    /// The central's address (its bond is looked up by it).
    address: [u8; 6],
    /// Encrypted with keys from an authenticated pairing (now or a bond's).
    authenticated: bool,
    subscribed: HashSet<u128>,
    listeners: Vec<Sender<Notification>>,
    events: Vec<Sender<LinkEvent>>,
    /// Notifications on air: (due time, notification).
    in_flight: VecDeque<(u64, Notification)>,
    /// Writes on air: (due time, characteristic, value).
    writes_in_flight: VecDeque<(u64, Characteristic, Vec<u8>)>,
    /// When each direction's radio is free again.
    up_free_us: u64,
    down_free_us: u64,
    stats: LinkStats,
}

struct Core {
    band: Option<Box<Band<SimPlatform>>>,
    flash_path: PathBuf,
    name: String,
    timing: LinkTiming,
    faults: Faults,
    clock: Clock,
    now_us: u64,
    next_tick_us: u64,
    conn: Option<Conn>,
    next_conn_id: u64,
    boots: u32,
    /// A requested restart, due once the band's last notifications (its Ok) are on their way.
    reboot_at_us: Option<u64>,
    /// Kept so a rebooted band gets the same wearer (and for when the band is off).
    wearer: Option<Wearer>,
    broken: BrokenFirmware,
    /// Simulated time per wall-clock time in real-time mode ([`SimConfig::realtime_speed`]).
    speed: f64,
    /// When the running band booted (its pairing window counts from there).
    booted_at_us: u64,
    /// When the band's button was last pressed.
    button_at_us: Option<u64>,
    /// A pairing the band is showing a code for.
    pairing: Option<PendingPairing>,
}

/// A pairing in progress: the code on the band's screen, for one connection.
#[derive(Debug, Clone, Copy)]
struct PendingPairing {
    conn_id: u64,
    passkey: Passkey,
    started_us: u64,
}

struct Shared {
    core: Mutex<Core>,
}

/// Handle to a virtual band (cheap to clone; all clones are the same band).
#[derive(Clone)]
pub struct SimBand {
    shared: Arc<Shared>,
}

/// The desktop's end of a connection to the virtual band.
pub struct SimConnection {
    shared: Arc<Shared>,
    id: u64,
    mtu: u16,
}

/// The thread that runs a [`SimBand`] in real time; stops when dropped.
pub struct RealtimeRunner {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Firmwares that boot without an IMU ([`SimBand::break_next_firmware`]), so they fail their boot check.
#[derive(Debug, Default)]
struct BrokenFirmware {
    /// The next firmware that starts on trial is broken.
    next: bool,
    versions: HashSet<&'static str>,
}

/// A reset: the bootloader's pass over `otadata` (NEW -> PENDING_VERIFY, or the rollback of an app that
/// never confirmed itself), the band started on the chosen app, then bandx-core's boot check, as the
/// firmwares run it once BLE is up: it confirms an app on trial or leaves it to be rolled back.
fn boot(
    flash_path: &Path,
    fresh: Option<&[u8]>,
    wearer: Wearer,
    broken: &mut BrokenFirmware,
    now_ms: u32,
) -> Result<Box<Band<SimPlatform>>, FlashError> {
    let mut flash = SimFlash::open(flash_path, fresh)?;
    let slot = flash.bootloader().unwrap_or_else(|_| {
        tracing::warn!("the bootloader could not update otadata");
        flash.boot_app_slot()
    });
    let image = flash.app_image(slot);
    let version = image.as_ref().map_or(SIM_FIRMWARE_VERSION, |image| {
        interned(firmware_version_of(image))
    });
    let on_trial = matches!(
        flash.running_app_state().and_then(OtaState::from_raw),
        Some(OtaState::New | OtaState::PendingVerify)
    );
    if on_trial && std::mem::take(&mut broken.next) {
        broken.versions.insert(version);
    }
    let mut platform = SimPlatform::new(flash, wearer);
    // The band's clock as the band starts (its uptime counts from here).
    platform.now_ms = now_ms;
    platform.imu_missing = broken.versions.contains(version);
    platform.running_digest = image.as_deref().map(bandx_core::blob::sha256);
    let mut band = Box::new(Band::new(platform, version));
    if let Some(image) = &image {
        // The image it stands for declares its release in its app description.
        let chip = bandx_core::update::FirmwareSink::app_chip(band.platform());
        let release = bandx_core::update::check_app_image(image, chip)
            .ok()
            .and_then(|info| info.release);
        band.set_firmware_release(release);
    }
    // The check's probe of the IMU does not move the wearer on through the recording (it follows the
    // band's ticks), so the wearer is put back as it was.
    let wearer = band.platform().wearer().clone();
    let checked = band.check_boot(true);
    *band.platform_mut().wearer_mut() = wearer;
    match checked {
        Ok(decision) => tracing::info!(?slot, version, ?decision, "virtual band booted"),
        Err(_) => tracing::warn!(version, "the boot check could not confirm the app"),
    }
    Ok(band)
}

impl SimBand {
    /// Boots a virtual band on its flash file, with the virtual clock at 0.
    pub fn new(config: SimConfig) -> Result<SimBand, SimError> {
        let mut broken = BrokenFirmware::default();
        let mut band = boot(
            &config.flash_path,
            config.fresh_model.as_deref(),
            config.wearer.clone(),
            &mut broken,
            0,
        )?;
        let booting = band.platform_mut().flash_mut().take_busy();
        Ok(SimBand {
            shared: Arc::new(Shared {
                core: Mutex::new(Core {
                    band: Some(band),
                    flash_path: config.flash_path,
                    name: config.name,
                    timing: config.timing,
                    faults: Faults::none(),
                    clock: Clock::Virtual,
                    now_us: booting.as_micros() as u64,
                    next_tick_us: booting.as_micros() as u64 + TICK_US,
                    conn: None,
                    next_conn_id: 1,
                    boots: 1,
                    reboot_at_us: None,
                    wearer: Some(config.wearer),
                    broken,
                    speed: if config.realtime_speed.is_finite() && config.realtime_speed > 0.0 {
                        config.realtime_speed
                    } else {
                        1.0
                    },
                    booted_at_us: 0,
                    button_at_us: None,
                    pairing: None,
                }),
            }),
        })
    }

    fn core(&self) -> MutexGuard<'_, Core> {
        lock(&self.shared)
    }

    /// What a scan finds.
    pub fn scan_result(&self) -> Advertisement {
        let core = self.core();
        let hash = core.name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        let b = hash.to_be_bytes();
        Advertisement {
            id: format!("sim:{}", core.name),
            address: format!("5A:1B:{:02X}:{:02X}:{:02X}:{:02X}", b[0], b[1], b[2], b[3]),
            name: core.name.clone(),
            rssi: -42,
            service_uuid: SERVICE_UUID,
        }
    }

    /// Connects a central that never bonded with the band (a fresh address), with an ATT MTU of `mtu`. Until it
    /// pairs ([`SimConnection::start_pairing`]) the band's service refuses it.
    pub fn connect(&self, mtu: u16) -> Result<SimConnection, SimError> {
        let n = self.core().next_conn_id;
        let address = [0xC2, 0x00, 0x00, 0x00, (n >> 8) as u8, n as u8];
        self.connect_as(mtu, Central { address, ltk: None })
    }

    /// Connects with an ATT MTU of `mtu` (the band accepts 23..=247; others are clamped into that range,
    /// as an MTU exchange would). A central whose long-term key matches the band's bond for its address gets an
    /// authenticated link at once (the BLE encryption procedure with the bond's key).
    pub fn connect_as(&self, mtu: u16, central: Central) -> Result<SimConnection, SimError> {
        let mut core = self.core();
        if core.conn.is_some() {
            return Err(SimError::AlreadyConnected);
        }
        let mtu = mtu.clamp(23, MAX_MTU);
        let band = core.band.as_mut().ok_or(SimError::Off)?;
        band.platform_mut().payload = att_payload(mtu);
        let authenticated = central.ltk.is_some_and(|ltk| {
            band.platform_mut()
                .flash_mut()
                .bonds()
                .proves(&central.address, &ltk)
        });
        band.on_link_secured(authenticated);
        let id = core.next_conn_id;
        core.next_conn_id += 1;
        let now = core.now_us;
        core.conn = Some(Conn {
            id,
            address: central.address,
            authenticated,
            subscribed: HashSet::new(),
            listeners: Vec::new(),
            events: Vec::new(),
            in_flight: VecDeque::new(),
            writes_in_flight: VecDeque::new(),
            up_free_us: now,
            down_free_us: now,
            stats: LinkStats::default(),
        });
        Ok(SimConnection {
            shared: self.shared.clone(),
            id,
            mtu,
        })
    }

    /// Connects a new central and pairs it the way a user does who reads the code off the band's screen and types
    /// it right; returns the connection (authenticated) and the central's bond. For tests and demos.
    pub fn connect_paired(&self, mtu: u16) -> Result<(SimConnection, Central), SimError> {
        let conn = self.connect(mtu)?;
        let address = lock(&self.shared).connection(conn.id).map(|c| c.address)?;
        conn.start_pairing().map_err(SimError::Pairing)?;
        let code = self
            .displayed_passkey()
            .ok_or(SimError::Pairing(SimPairError::NotStarted))?;
        let ltk = conn
            .finish_pairing(code.value())
            .map_err(SimError::Pairing)?;
        Ok((
            conn,
            Central {
                address,
                ltk: Some(ltk),
            },
        ))
    }

    /// The band's flash file.
    pub fn flash_path(&self) -> PathBuf {
        self.core().flash_path.clone()
    }

    /// The six-digit code on the band's screen while a pairing waits for it (`None` otherwise).
    pub fn displayed_passkey(&self) -> Option<Passkey> {
        self.core().pairing.map(|p| p.passkey)
    }

    /// Presses the band's button: it takes new pairings for the next two minutes.
    pub fn press_button(&self) {
        let mut core = self.core();
        core.sync_real_clock();
        core.button_at_us = Some(core.now_us);
    }

    /// How many desktops are bonded with the band.
    pub fn bonds(&self) -> Result<usize, SimError> {
        let mut core = self.core();
        let band = core.band.as_mut().ok_or(SimError::Off)?;
        Ok(band.platform_mut().flash_mut().bonds().len())
    }

    /// Sets the faults for this and later connections (packet numbers count per connection).
    pub fn set_faults(&self, faults: Faults) {
        self.core().faults = faults;
    }

    pub fn set_timing(&self, timing: LinkTiming) {
        self.core().timing = timing;
    }

    /// What the wearer does from now on (continuing that activity's recording where it was left).
    pub fn set_activity(&self, activity: Activity) -> Result<(), SimError> {
        self.with_wearer(|w| w.set_activity(activity))?
            .map_err(SimError::from)
    }

    /// The wearer follows `script` from now on (activities, or the band off the wrist, minute by minute).
    pub fn set_script(&self, script: crate::wearer::Script) -> Result<(), SimError> {
        self.with_wearer(|w| w.set_script(script))?
            .map_err(SimError::from)
    }

    pub fn set_style(&self, style: Style) -> Result<(), SimError> {
        self.with_wearer(|w| w.set_style(style))?
            .map_err(SimError::from)
    }

    /// The wearer, for anything else (seek, inspect).
    pub fn with_wearer<R>(&self, f: impl FnOnce(&mut Wearer) -> R) -> Result<R, SimError> {
        let mut core = self.core();
        let band = core.band.as_mut().ok_or(SimError::Off)?;
        Ok(f(band.platform_mut().wearer_mut()))
    }

    /// The running band (e.g. its active model), for tests and tools.
    pub fn with_band<R>(&self, f: impl FnOnce(&mut Band<SimPlatform>) -> R) -> Result<R, SimError> {
        let mut core = self.core();
        let band = core.band.as_mut().ok_or(SimError::Off)?;
        Ok(f(band))
    }

    /// Simulated time since the band was created.
    pub fn now(&self) -> Duration {
        let mut core = self.core();
        core.sync_real_clock();
        Duration::from_micros(core.now_us)
    }

    /// Advances the virtual clock by `ticks` band ticks (50 ms each).
    pub fn step(&self, ticks: u32) -> Result<(), SimError> {
        self.advance(TICK * ticks)
    }

    /// Advances the virtual clock: the band ticks, notifications arrive.
    pub fn advance(&self, by: Duration) -> Result<(), SimError> {
        let mut core = self.core();
        if matches!(core.clock, Clock::Real { .. }) {
            return Err(SimError::RealTime);
        }
        let to = core.now_us + by.as_micros() as u64;
        core.advance_to(to);
        Ok(())
    }

    /// The band goes out of range: the connection is lost.
    pub fn drop_link(&self) {
        self.core().disconnect(DisconnectReason::Lost);
    }

    /// Turns the band off and on: the connection is lost, RAM state (transfers, streams) is gone, the
    /// flash file is reopened and the band boots from it.
    pub fn power_cycle(&self) -> Result<(), SimError> {
        self.core().reboot()
    }

    /// Breaks the next firmware that starts on trial (the first boot after a firmware update): it
    /// boots without an IMU, so its boot check fails, it is never confirmed and the bootloader rolls it
    /// back at the following reset. Every later boot of that same image has no IMU either.
    pub fn break_next_firmware(&self) {
        self.core().broken.next = true;
    }

    /// The running firmware's `otadata` state (`None`: not started from an `otadata` entry).
    pub fn running_app_state(&self) -> Option<OtaState> {
        self.core()
            .band
            .as_mut()?
            .platform_mut()
            .flash_mut()
            .running_app_state()
            .and_then(OtaState::from_raw)
    }

    /// The firmware version the band reports.
    pub fn firmware_version(&self) -> Option<&'static str> {
        self.core().band.as_ref().map(|b| b.firmware_version())
    }

    /// How many times the band has booted.
    pub fn boots(&self) -> u32 {
        self.core().boots
    }

    /// Runs the band in real time on a thread (20 Hz ticks, packets delivered when due) until the
    /// runner is dropped. Writes then wait in wall-clock time; [`SimBand::step`] is refused.
    /// [`SimConfig::realtime_speed`] scales it (2.0: two simulated seconds per wall-clock second).
    pub fn run_realtime(&self) -> RealtimeRunner {
        {
            let mut core = self.core();
            if let Clock::Virtual = core.clock {
                core.clock = Clock::Real {
                    origin: Instant::now(),
                    offset_us: core.now_us,
                };
            }
        }
        let stop = Arc::new(AtomicBool::new(false));
        let shared = self.shared.clone();
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("bandx-sim".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    let wait_us = {
                        let mut core = lock(&shared);
                        core.sync_real_clock();
                        core.wall_us(core.next_event_us().saturating_sub(core.now_us))
                    };
                    std::thread::sleep(Duration::from_micros(wait_us.clamp(1_000, 20_000)));
                }
            })
            .expect("spawning the sim thread");
        RealtimeRunner {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for RealtimeRunner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn lock(shared: &Shared) -> MutexGuard<'_, Core> {
    shared.core.lock().unwrap_or_else(|e| e.into_inner())
}

impl Core {
    /// In real time, catches the simulation up with the wall clock.
    fn sync_real_clock(&mut self) {
        if let Clock::Real { origin, offset_us } = self.clock {
            let t = offset_us + (origin.elapsed().as_micros() as f64 * self.speed) as u64;
            if t > self.now_us + MAX_CATCH_UP_US {
                // The host stalled (suspend, debugger): skip the gap rather than replay it in a burst.
                let skip = t - MAX_CATCH_UP_US - self.now_us;
                tracing::debug!(
                    skipped_ms = skip / 1000,
                    "virtual band skipped a host stall"
                );
                self.now_us += skip;
                self.next_tick_us = self.next_tick_us.max(self.now_us);
            }
            self.advance_to(t);
        }
    }

    /// Wall-clock microseconds that `sim_us` of simulated time take in real-time mode.
    fn wall_us(&self, sim_us: u64) -> u64 {
        (sim_us as f64 / self.speed) as u64
    }

    fn next_event_us(&self) -> u64 {
        let (notification, write) = self.conn.as_ref().map_or((u64::MAX, u64::MAX), |c| {
            (
                c.in_flight.front().map_or(u64::MAX, |(t, _)| *t),
                c.writes_in_flight.front().map_or(u64::MAX, |(t, ..)| *t),
            )
        });
        notification
            .min(write)
            .min(self.next_tick_us)
            .min(self.reboot_at_us.unwrap_or(u64::MAX))
    }

    /// Runs every tick and delivers every packet due up to `t`, in time order.
    fn advance_to(&mut self, t: u64) {
        loop {
            let next = self.next_event_us();
            if next > t {
                break;
            }
            self.now_us = self.now_us.max(next);
            if let Some(c) = self.conn.as_mut() {
                if c.writes_in_flight
                    .front()
                    .is_some_and(|(due, ..)| *due <= next)
                {
                    let (_, characteristic, value) =
                        c.writes_in_flight.pop_front().expect("front checked");
                    self.with_band(|band| match characteristic {
                        Characteristic::Control => band.on_control_write(&value),
                        _ => band.on_bulk_write(&value),
                    });
                    continue;
                }
                if c.in_flight.front().is_some_and(|(due, _)| *due <= next) {
                    let (_, n) = c.in_flight.pop_front().expect("front checked");
                    c.listeners.retain(|l| l.send(n.clone()).is_ok());
                    continue;
                }
            }
            // After the notifications due at the same instant (the response).
            if self.reboot_at_us.is_some_and(|at| at <= next) {
                self.reboot_at_us = None;
                let _ = self.reboot();
                continue;
            }
            self.next_tick_us += TICK_US;
            self.with_band(|band| band.tick());
        }
        self.now_us = self.now_us.max(t);
    }

    /// Calls into the band at the current time, then sends what it notified and honours a reboot.
    fn with_band(&mut self, f: impl FnOnce(&mut Band<SimPlatform>)) {
        let Some(band) = self.band.as_mut() else {
            return;
        };
        band.platform_mut().now_ms = (self.now_us / 1000) as u32;
        f(band);
        let platform = band.platform_mut();
        // The band is stuck in its flash erases (the CPU stalls while the flash is busy): what it answers
        // goes out after them, and the ticks that fell in between are missed.
        let busy = platform.flash_mut().take_busy();
        if !busy.is_zero() {
            self.now_us += busy.as_micros() as u64;
            self.next_tick_us = self.next_tick_us.max(self.now_us);
        }
        let outbox = std::mem::take(&mut platform.outbox);
        let reboot = std::mem::take(&mut platform.reboot_requested);
        for (characteristic, value) in outbox {
            self.send_notification(characteristic, value);
        }
        if reboot {
            // Like the firmware: the response goes out, then the band restarts.
            let last_due = self
                .conn
                .as_ref()
                .and_then(|c| c.in_flight.back())
                .map(|(t, _)| *t);
            self.reboot_at_us = Some(last_due.unwrap_or(self.now_us));
        }
    }

    fn send_notification(&mut self, characteristic: Characteristic, value: Vec<u8>) {
        let now = self.now_us;
        let (timing, faults) = (self.timing, &self.faults);
        let Some(c) = self.conn.as_mut() else {
            return;
        };
        if !c.subscribed.contains(&characteristic.uuid()) {
            return;
        }
        c.stats.notifications += 1;
        if faults.drop_notifications.contains(&c.stats.notifications) {
            c.stats.dropped_notifications += 1;
            return;
        }
        c.stats.bytes_notified += value.len() as u64;
        let sent = c.down_free_us.max(now) + timing.airtime_us(value.len());
        c.down_free_us = sent;
        c.in_flight.push_back((
            sent + timing.latency_us(),
            Notification {
                characteristic,
                value,
            },
        ));
    }

    fn disconnect(&mut self, reason: DisconnectReason) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        if self.pairing.is_some_and(|p| p.conn_id == conn.id) {
            self.pairing = None;
        }
        for e in &conn.events {
            let _ = e.send(LinkEvent::Disconnected(reason));
        }
        if let Some(band) = self.band.as_mut() {
            band.on_disconnect();
            band.platform_mut().outbox.clear();
        }
    }

    fn reboot(&mut self) -> Result<(), SimError> {
        self.reboot_at_us = None;
        self.disconnect(DisconnectReason::Lost);
        if let Some(mut band) = self.band.take() {
            self.wearer = Some(band.platform_mut().wearer().clone());
        }
        let wearer = self.wearer.clone().unwrap_or_else(Wearer::bundled);
        self.boots += 1;
        self.booted_at_us = self.now_us;
        self.button_at_us = None;
        let now_ms = (self.now_us / 1000) as u32;
        let mut band = boot(&self.flash_path, None, wearer, &mut self.broken, now_ms)?;
        // The bootloader's and the boot check's otadata rewrites.
        self.now_us += band.platform_mut().flash_mut().take_busy().as_micros() as u64;
        self.next_tick_us = self.next_tick_us.max(self.now_us);
        self.band = Some(band);
        Ok(())
    }

    fn connection(&mut self, id: u64) -> Result<&mut Conn, SimError> {
        self.conn
            .as_mut()
            .filter(|c| c.id == id)
            .ok_or(SimError::NotConnected)
    }
}

impl SimConnection {
    /// The ATT MTU of this connection.
    pub fn mtu(&self) -> u16 {
        self.mtu
    }

    /// The largest value one write or notification carries (MTU - 3).
    pub fn max_write_len(&self) -> usize {
        usize::from(self.mtu) - 3
    }

    /// Whether this connection is still up.
    pub fn is_connected(&self) -> bool {
        lock(&self.shared).connection(self.id).is_ok()
    }

    /// Enables notifications of a characteristic (the CCCD write).
    pub fn subscribe(&self, characteristic_uuid: u128) -> Result<(), SimError> {
        let characteristic = Characteristic::from_uuid(characteristic_uuid)
            .ok_or(SimError::UnknownCharacteristic(characteristic_uuid))?;
        if characteristic == Characteristic::Bulk {
            return Err(SimError::NotWritable {
                characteristic,
                with_response: true,
            });
        }
        let mut core = lock(&self.shared);
        let conn = core.connection(self.id)?;
        if !characteristic.spec().security.allows(conn.authenticated) {
            return Err(SimError::InsufficientAuthentication(characteristic));
        }
        conn.subscribed.insert(characteristic_uuid);
        Ok(())
    }

    /// A new receiver of every notification from now on (on subscribed characteristics).
    pub fn notifications(&self) -> Result<Receiver<Notification>, SimError> {
        let (tx, rx) = channel();
        lock(&self.shared).connection(self.id)?.listeners.push(tx);
        Ok(rx)
    }

    /// A new receiver of this connection's events (its end).
    pub fn events(&self) -> Receiver<LinkEvent> {
        let (tx, rx) = channel();
        match lock(&self.shared).connection(self.id) {
            Ok(c) => c.events.push(tx),
            // Already gone: say so at once.
            Err(_) => {
                let _ = tx.send(LinkEvent::Disconnected(DisconnectReason::Lost));
            }
        }
        rx
    }

    /// Traffic counters.
    pub fn stats(&self) -> Result<LinkStats, SimError> {
        Ok(lock(&self.shared).connection(self.id)?.stats)
    }

    /// Writes a value: the exact GATT bytes the band receives. Control takes writes with response
    /// (returning once acknowledged), bulk takes writes without response (returning once on air).
    pub fn write(
        &self,
        characteristic_uuid: u128,
        value: &[u8],
        with_response: bool,
    ) -> Result<(), SimError> {
        let characteristic = Characteristic::from_uuid(characteristic_uuid)
            .ok_or(SimError::UnknownCharacteristic(characteristic_uuid))?;
        let allowed = match characteristic {
            Characteristic::Control => with_response,
            Characteristic::Bulk => !with_response,
            Characteristic::Imu | Characteristic::Predictions => false,
        };
        if !allowed {
            return Err(SimError::NotWritable {
                characteristic,
                with_response,
            });
        }
        if value.len() > self.max_write_len() {
            return Err(SimError::TooLong {
                len: value.len(),
                max: self.max_write_len(),
            });
        }

        let (sent, ack, dropped) = {
            let mut core = lock(&self.shared);
            core.sync_real_clock();
            if !characteristic
                .spec()
                .security
                .allows(core.connection(self.id)?.authenticated)
            {
                // The ATT layer answers a write request with the error; a write command is dropped silently.
                return if with_response {
                    Err(SimError::InsufficientAuthentication(characteristic))
                } else {
                    Ok(())
                };
            }
            let (now, timing) = (core.now_us, core.timing);
            let limit = core.faults.disconnect_after_bytes;
            let drop_list = core.faults.drop_writes.clone();
            let c = core.connection(self.id)?;
            c.stats.writes += 1;
            c.stats.bytes_written += value.len() as u64;
            if limit.is_some_and(|limit| c.stats.bytes_written > limit) {
                core.disconnect(DisconnectReason::Lost);
                return Err(SimError::NotConnected);
            }
            let c = core.connection(self.id)?;
            let dropped = drop_list.contains(&c.stats.writes);
            if dropped {
                c.stats.dropped_writes += 1;
            }
            let sent = c.up_free_us.max(now) + timing.airtime_us(value.len());
            c.up_free_us = sent;
            let arrive = sent + timing.latency_us();
            if !dropped {
                c.writes_in_flight
                    .push_back((arrive, characteristic, value.to_vec()));
            }
            (sent, arrive + timing.latency_us(), dropped)
        };

        if !with_response {
            // A write command returns once it is on air; the band gets it `latency` later.
            drop(self.wait_until(sent));
            return Ok(());
        }
        // A write request returns when the band's acknowledgement is back (a Reboot request is
        // acknowledged, and answered, before the band goes down).
        let mut core = self.wait_until(ack);
        core.connection(self.id)?;
        if dropped {
            return Err(SimError::NoAck);
        }
        Ok(())
    }

    /// Whether the link is encrypted with keys from an authenticated pairing.
    pub fn is_authenticated(&self) -> bool {
        lock(&self.shared)
            .connection(self.id)
            .is_ok_and(|c| c.authenticated)
    }

    /// Asks the band to pair (LE Secure Connections, passkey entry): if it is in pairing mode it shows a
    /// six-digit code on its screen ([`SimBand::displayed_passkey`]) and waits 30 s for
    /// [`Self::finish_pairing`]. A second call shows a new code.
    pub fn start_pairing(&self) -> Result<(), SimPairError> {
        let mut core = lock(&self.shared);
        core.sync_real_clock();
        let now = core.now_us;
        let (booted, button) = (core.booted_at_us, core.button_at_us);
        core.connection(self.id)
            .map_err(|_| SimPairError::NotConnected)?;
        let band = core.band.as_mut().ok_or(SimPairError::NotConnected)?;
        let bonds = band.platform_mut().flash_mut().bonds().len();
        let ms = |since: u64| u32::try_from((now - since) / 1000).unwrap_or(u32::MAX);
        pairing_mode(&PairingContext {
            bonds,
            uptime_ms: ms(booted),
            since_button_ms: button.map(ms),
        })
        .map_err(SimPairError::Refused)?;
        let passkey = Passkey::random(|| random_u64() as u32);
        core.pairing = Some(PendingPairing {
            conn_id: self.id,
            passkey,
            started_us: now,
        });
        Ok(())
    }

    /// The code the user typed. The right one ends the pairing: the band stores a bond for this central and the
    /// link is authenticated; the long-term key returned is the central's half of the bond. A wrong one fails
    /// the pairing (the band's screen clears; start again for a new code).
    pub fn finish_pairing(&self, entered: u32) -> Result<[u8; 16], SimPairError> {
        let mut core = lock(&self.shared);
        core.sync_real_clock();
        let now = core.now_us;
        let address = core
            .connection(self.id)
            .map_err(|_| SimPairError::NotConnected)?
            .address;
        let pending = core
            .pairing
            .filter(|p| p.conn_id == self.id)
            .ok_or(SimPairError::NotStarted)?;
        core.pairing = None;
        if now - pending.started_us > u64::from(PAIRING_TIMEOUT_MS) * 1000 {
            return Err(SimPairError::Timeout);
        }
        if entered != pending.passkey.value() {
            return Err(SimPairError::WrongPasskey);
        }
        let mut ltk = [0u8; 16];
        ltk[..8].copy_from_slice(&random_u64().to_le_bytes());
        ltk[8..].copy_from_slice(&random_u64().to_le_bytes());
        let band = core.band.as_mut().ok_or(SimPairError::NotConnected)?;
        let flash = band.platform_mut().flash_mut();
        let mut bonds = flash.bonds();
        bonds.insert(Bond { address, ltk });
        flash
            .store_bonds(&bonds)
            .map_err(|_| SimPairError::Storage)?;
        band.on_link_secured(true);
        core.connection(self.id)
            .map_err(|_| SimPairError::NotConnected)?
            .authenticated = true;
        Ok(ltk)
    }

    /// Closes the connection ([`DisconnectReason::Requested`]).
    pub fn disconnect(&self) -> Result<(), SimError> {
        let mut core = lock(&self.shared);
        core.connection(self.id)?;
        core.disconnect(DisconnectReason::Requested);
        Ok(())
    }

    /// Lets simulated time reach `t`: the virtual clock is advanced, the real one waited for.
    fn wait_until(&self, t: u64) -> MutexGuard<'_, Core> {
        let mut core = lock(&self.shared);
        match core.clock {
            Clock::Virtual => core.advance_to(t),
            Clock::Real { .. } => loop {
                core.sync_real_clock();
                if core.now_us >= t {
                    break;
                }
                let wait = core.wall_us(t - core.now_us).max(1);
                drop(core);
                std::thread::sleep(Duration::from_micros(wait));
                core = lock(&self.shared);
            },
        }
        core
    }
}

impl Drop for SimConnection {
    fn drop(&mut self) {
        let mut core = lock(&self.shared);
        if core.connection(self.id).is_ok() {
            core.disconnect(DisconnectReason::Requested);
        }
    }
}

/// 64 random bits from the OS (std's hasher keys are seeded from it), for passkeys and keys.
fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0x5eed);
    h.finish()
}
