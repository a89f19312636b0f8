//! The virtual band (bandx-sim) behind the desktop's [`Link`] / [`Connection`] traits, following the
//! adapter recipe in `firmware/sim/README.md`.
//!
//! The sim runs in real time on its own thread for as long as the link or any of its connections
//! lives. Its calls block (a write sleeps for its simulated air time), so writes go through
//! `spawn_blocking`; notifications and link events are forwarded from the sim's std channels into
//! tokio channels by small forwarding threads.
//!
//! Pairing works as with a real band: the virtual band shows a code (the app's virtual-band panel,
//! `bandx --sim pair`), the user types it, and this desktop's half of the bond (its address and long-term
//! key) is kept in [`BOND_FILE_NAME`] beside the band's flash file, as BlueZ keeps a real band's.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use async_trait::async_trait;
use bandx_sim::{
    Central, LinkEvent, RealtimeRunner, SimBand, SimConfig, SimConnection, SimError, SimPairError,
};

/// What the virtual wearer does and how it wears the band (the app's virtual-band panel, `bandx --sim record`).
pub use bandx_sim::{Activity, Style};
use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::sync::{mpsc, watch};

use crate::paths::DataDir;

use super::{
    Characteristic, Connection, ConnectionState, DisconnectReason, Link, LinkError, Notification,
    PairError, PasskeyEntry, ScanRequest, ScanResult,
};

/// The model a fresh virtual band starts with, as a band leaves the factory: the generic model
/// (the shipped backbone with its 18-class WISDM head, int8), which the app then personalizes.
pub const SHIPPED_MODEL: &[u8] = include_bytes!("../../../model/pretrained/generic-wisdm18.blob");

/// A personal model of the virtual wearer (WISDM subject 1650, the band's 7 classes): a second,
/// different valid blob for demos and tests.
pub const DEMO_PERSONAL_MODEL: &[u8] =
    include_bytes!("../../../model/pretrained/wearer-1650-band7.blob");

/// The virtual band's flash file inside the app data dir.
pub const FLASH_FILE_NAME: &str = "virtual-band.flash";

/// This desktop's half of its bond with the virtual band, beside the band's flash file.
pub const BOND_FILE_NAME: &str = "virtual-band.bond.json";

/// How long the virtual band waits for the code (the SMP timeout).
const PAIRING_TIMEOUT: Duration = Duration::from_secs(30);

/// The ATT MTU the virtual band connects with unless told otherwise (the band's largest).
pub const DEFAULT_MTU: u16 = bandx_sim::MAX_MTU;

/// Environment variable: how many times faster than real time the virtual band runs (end-to-end
/// tests set it so a 24 s calibration takes a few seconds; 1 when unset).
pub const SIM_SPEED_ENV: &str = "BANDX_SIM_SPEED";

/// How the virtual band is built: its flash in the data directory, starting with the shipped
/// model, at [`sim_speed`].
pub fn sim_config(data: &DataDir) -> SimConfig {
    let mut config = SimConfig::new(
        data.sim_dir().join(FLASH_FILE_NAME),
        Some(SHIPPED_MODEL.to_vec()),
    );
    config.realtime_speed = sim_speed();
    if let Some(script) = sim_script() {
        // Checked when parsed: every step is an activity of the bundled wearer or `off`.
        if let Err(e) = config.wearer.set_script(script) {
            tracing::warn!("{SIM_SCRIPT_ENV} ignored: {e}");
        }
    }
    config
}

/// Environment variable with the virtual wearer's day, e.g. `walking:30,off:10,sitting:60` (activity or `off`,
/// minutes; repeated).
pub const SIM_SCRIPT_ENV: &str = "BANDX_SIM_SCRIPT";

/// `$BANDX_SIM_SCRIPT`, if set and valid.
pub fn sim_script() -> Option<bandx_sim::Script> {
    let text = std::env::var(SIM_SCRIPT_ENV).ok()?;
    text.parse()
        .map_err(|e| tracing::warn!("{SIM_SCRIPT_ENV} ignored: {e}"))
        .ok()
}

/// `$BANDX_SIM_SPEED` within 0.25..=20, else 1.
pub fn sim_speed() -> f64 {
    std::env::var(SIM_SPEED_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite())
        .map_or(1.0, |v| v.clamp(0.25, 20.0))
}

/// How long a real ATT stack waits for a write acknowledgement before giving up (Core spec, ATT
/// transaction timeout); a write the sim drops reports this.
const ATT_TRANSACTION_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the virtual band could not be started.
#[derive(Debug, thiserror::Error)]
pub enum SimLinkError {
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot start the virtual band: {0}")]
    Band(#[from] SimError),
}

/// A [`Link`] to one virtual band.
pub struct SimLink {
    band: SimBand,
    mtu: u16,
    runner: Arc<RealtimeRunner>,
    /// This desktop as the band sees it, with its bond once paired.
    central: Mutex<Central>,
    bond_path: PathBuf,
    /// The connection in use, if any: a pairing runs over it (the band takes one connection at a time).
    current: Mutex<Weak<SimConnection>>,
}

/// The bond file's content: this desktop's address and, once paired, its long-term key (hex).
#[derive(serde::Serialize, serde::Deserialize)]
struct BondFile {
    address: String,
    ltk: Option<String>,
}

/// This desktop's bond from `path`; a missing or unreadable file is a desktop that never paired (a new
/// address is drawn and kept).
fn load_central(path: &Path) -> Central {
    let stored = std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice::<BondFile>(&b).ok())
        .and_then(|f| {
            Some(Central {
                address: crate::hex::decode(&f.address)?,
                ltk: match f.ltk {
                    Some(k) => Some(crate::hex::decode(&k)?),
                    None => None,
                },
            })
        });
    stored.unwrap_or_else(|| {
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
            ^ u64::from(std::process::id()) << 32;
        let b = n.to_le_bytes();
        // A static random address: the two top bits set.
        Central {
            address: [b[0] | 0xC0, b[1], b[2], b[3], b[4], b[5]],
            ltk: None,
        }
    })
}

/// Writes this desktop's bond (to a temporary file, then renamed: never half a key).
fn store_central(path: &Path, central: &Central) -> Result<(), LinkError> {
    let file = BondFile {
        address: crate::hex::encode(&central.address),
        ltk: central.ltk.map(|k| crate::hex::encode(&k)),
    };
    let json = serde_json::to_vec_pretty(&file).expect("a bond serializes");
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, json)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| LinkError::Gatt(format!("cannot store the bond in {}: {e}", path.display())))
}

impl SimLink {
    /// The virtual band whose flash file is [`FLASH_FILE_NAME`] in `data_dir` (created if missing; a
    /// fresh file starts with [`SHIPPED_MODEL`]), running in real time.
    pub fn open(data_dir: &Path) -> Result<SimLink, SimLinkError> {
        std::fs::create_dir_all(data_dir).map_err(|source| SimLinkError::DataDir {
            path: data_dir.to_path_buf(),
            source,
        })?;
        let config = SimConfig::new(data_dir.join(FLASH_FILE_NAME), Some(SHIPPED_MODEL.to_vec()));
        SimLink::with_config(config)
    }

    /// A virtual band built from `config`, running in real time.
    pub fn with_config(config: SimConfig) -> Result<SimLink, SimLinkError> {
        let bond_path = config
            .flash_path
            .parent()
            .map_or_else(|| PathBuf::from(BOND_FILE_NAME), |d| d.join(BOND_FILE_NAME));
        let band = SimBand::new(config)?;
        let runner = Arc::new(band.run_realtime());
        Ok(SimLink {
            band,
            mtu: DEFAULT_MTU,
            runner,
            central: Mutex::new(load_central(&bond_path)),
            bond_path,
            current: Mutex::new(Weak::new()),
        })
    }

    /// A link to a virtual band that already exists (e.g. one that spent a simulated day away from the
    /// desktop on its virtual clock), from now on running in real time.
    /// This desktop's bond is kept beside the band's flash file, as [`SimLink::with_config`] keeps it.
    pub fn from_band(band: SimBand) -> SimLink {
        let flash = band.flash_path();
        let bond_path = flash
            .parent()
            .map_or_else(|| PathBuf::from(BOND_FILE_NAME), |d| d.join(BOND_FILE_NAME));
        let runner = Arc::new(band.run_realtime());
        SimLink {
            band,
            mtu: DEFAULT_MTU,
            runner,
            central: Mutex::new(load_central(&bond_path)),
            bond_path,
            current: Mutex::new(Weak::new()),
        }
    }

    /// Connections made from now on ask for this ATT MTU (the band accepts 23..=247).
    pub fn with_mtu(mut self, mtu: u16) -> SimLink {
        self.mtu = mtu;
        self
    }

    /// The six-digit code on the virtual band's screen while a pairing waits for it.
    pub fn displayed_passkey(&self) -> Option<String> {
        self.band.displayed_passkey().map(|p| p.to_string())
    }

    /// The band itself: its wearer, faults, timing (the UI's controls and tests use it).
    pub fn band(&self) -> &SimBand {
        &self.band
    }
}

#[async_trait]
impl Link for SimLink {
    async fn scan(&self, _request: ScanRequest) -> Result<Vec<ScanResult>, LinkError> {
        let ad = self.band.scan_result();
        Ok(vec![ScanResult {
            id: ad.id,
            address: ad.address,
            name: Some(ad.name),
            rssi: Some(ad.rssi),
            bandx: true,
        }])
    }

    async fn connect(&self, id: &str) -> Result<Box<dyn Connection>, LinkError> {
        let ad = self.band.scan_result();
        if id != ad.id && !id.eq_ignore_ascii_case(&ad.address) {
            return Err(LinkError::NotFound(id.to_string()));
        }
        let central = *lock(&self.central);
        let conn = self
            .band
            .connect_as(self.mtu, central)
            .map_err(|e| match e {
                SimError::AlreadyConnected => LinkError::Gatt(e.to_string()),
                other => link_error(other),
            })?;
        let state = watch_events(&conn);
        let conn = Arc::new(conn);
        *lock(&self.current) = Arc::downgrade(&conn);
        Ok(Box::new(SimLinkConnection {
            id: ad.id,
            conn,
            state,
            _runner: self.runner.clone(),
        }))
    }

    async fn pair(&self, id: &str, passkey: &dyn PasskeyEntry) -> Result<(), PairError> {
        // Over the connection in use, else a connection of its own (as BlueZ's Pair connects).
        let current = lock(&self.current).upgrade();
        let (conn, _own) = match current.filter(|c| c.is_connected()) {
            Some(conn) => (conn, None),
            None => {
                let own = self.connect(id).await?;
                let conn = lock(&self.current)
                    .upgrade()
                    .ok_or(LinkError::ConnectionLost)?;
                (conn, Some(own))
            }
        };
        conn.start_pairing().map_err(pair_error)?;
        tracing::info!("the virtual band shows a pairing code");
        let Some(code) = passkey.passkey().await else {
            return Err(PairError::Cancelled);
        };
        let ltk = conn.finish_pairing(code).map_err(pair_error)?;
        let central = {
            let mut central = lock(&self.central);
            central.ltk = Some(ltk);
            *central
        };
        store_central(&self.bond_path, &central)?;
        Ok(())
    }

    async fn unpair(&self, id: &str) -> Result<(), PairError> {
        let ad = self.band.scan_result();
        if id != ad.id && !id.eq_ignore_ascii_case(&ad.address) {
            return Err(LinkError::NotFound(id.to_string()).into());
        }
        let central = {
            let mut central = lock(&self.central);
            central.ltk = None;
            *central
        };
        store_central(&self.bond_path, &central)?;
        if let Some(conn) = lock(&self.current).upgrade() {
            let _ = conn.disconnect();
        }
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn pair_error(e: SimPairError) -> PairError {
    match e {
        SimPairError::Refused(_) => PairError::NotInPairingMode,
        SimPairError::WrongPasskey => PairError::WrongCode,
        SimPairError::Timeout => PairError::Timeout(PAIRING_TIMEOUT),
        SimPairError::NotStarted | SimPairError::NotConnected => {
            PairError::Link(LinkError::ConnectionLost)
        }
        SimPairError::Storage => PairError::Link(LinkError::Gatt(e.to_string())),
    }
}

/// An open connection to the virtual band.
struct SimLinkConnection {
    id: String,
    conn: Arc<SimConnection>,
    state: watch::Receiver<ConnectionState>,
    /// Keeps the band ticking while the connection is in use, even if the link is gone.
    _runner: Arc<RealtimeRunner>,
}

impl SimLinkConnection {
    async fn write_blocking(
        &self,
        characteristic: Characteristic,
        value: &[u8],
        with_response: bool,
    ) -> Result<(), LinkError> {
        let conn = self.conn.clone();
        let value = value.to_vec();
        tokio::task::spawn_blocking(move || {
            conn.write(characteristic.uuid(), &value, with_response)
        })
        .await
        .map_err(|e| LinkError::Gatt(format!("the write task failed: {e}")))?
        .map_err(link_error)
    }
}

#[async_trait]
impl Connection for SimLinkConnection {
    fn id(&self) -> &str {
        &self.id
    }

    fn mtu(&self) -> u16 {
        self.conn.mtu()
    }

    async fn subscribe(&self, characteristic: Characteristic) -> Result<(), LinkError> {
        self.conn
            .subscribe(characteristic.uuid())
            .map_err(link_error)
    }

    async fn notifications(&self) -> Result<BoxStream<'static, Notification>, LinkError> {
        let from_band = self.conn.notifications().map_err(link_error)?;
        let (tx, rx) = mpsc::unbounded_channel();
        // Ends when the connection ends (the sim drops its sender) or the stream is dropped (the
        // next send fails).
        std::thread::Builder::new()
            .name("bandx-sim-notify".into())
            .spawn(move || {
                while let Ok(n) = from_band.recv() {
                    let n = Notification {
                        characteristic: n.characteristic,
                        value: n.value,
                    };
                    if tx.send(n).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| LinkError::Gatt(format!("cannot start the notification thread: {e}")))?;
        Ok(
            futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|n| (n, rx)) })
                .boxed(),
        )
    }

    async fn write(&self, characteristic: Characteristic, value: &[u8]) -> Result<(), LinkError> {
        self.write_blocking(characteristic, value, true).await
    }

    async fn write_without_response(
        &self,
        characteristic: Characteristic,
        value: &[u8],
    ) -> Result<(), LinkError> {
        self.write_blocking(characteristic, value, false).await
    }

    async fn disconnect(&self) -> Result<(), LinkError> {
        self.conn.disconnect().map_err(link_error)
    }

    fn state(&self) -> watch::Receiver<ConnectionState> {
        self.state.clone()
    }
}

/// A watch of the connection's state, fed by the sim's link events.
fn watch_events(conn: &SimConnection) -> watch::Receiver<ConnectionState> {
    let (tx, rx) = watch::channel(ConnectionState::Connected);
    let events = conn.events();
    let forward = move || {
        // The sim drops the sender once the connection is over, which ends this loop.
        while let Ok(LinkEvent::Disconnected(reason)) = events.recv() {
            let reason = match reason {
                bandx_sim::DisconnectReason::Requested => DisconnectReason::Requested,
                bandx_sim::DisconnectReason::Lost => DisconnectReason::Lost,
            };
            tx.send_replace(ConnectionState::Disconnected(reason));
        }
    };
    if let Err(e) = std::thread::Builder::new()
        .name("bandx-sim-events".into())
        .spawn(forward)
    {
        tracing::error!("cannot watch the virtual band's link events: {e}");
    }
    rx
}

fn link_error(e: SimError) -> LinkError {
    match e {
        SimError::NotConnected => LinkError::ConnectionLost,
        SimError::InsufficientAuthentication(_) => LinkError::NotAuthenticated,
        SimError::NoAck => LinkError::Timeout {
            operation: "write acknowledgement",
            after: ATT_TRANSACTION_TIMEOUT,
        },
        other => LinkError::Gatt(other.to_string()),
    }
}
