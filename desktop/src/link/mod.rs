//! The link to a band: how the whole desktop talks to a BandX, whatever carries the bytes.
//!
//! A [`Link`] finds bands ([`Link::scan`]) and opens a [`Connection`] to one ([`Link::connect`]).
//! A connection carries the band's GATT traffic: notifications from the band, writes with and
//! without response, its negotiated MTU, and its state (a dropped link shows up there).
//!
//! Two implementations: [`ble::BleLink`] (a real band, over BlueZ with btleplug) and the virtual
//! band (bandx-sim). Both traits are object safe: the app holds a `Box<dyn Link>` and a
//! `Box<dyn Connection>` and never knows which one it has.
//!
//! A band only answers the desktop it is bonded with: [`Link::pair`] pairs (the user types the
//! code the band shows, through a [`PasskeyEntry`]), [`Link::unpair`] forgets the bond here.
//!
//! [`LinkError`] variants are the plain states the UI shows (no adapter, Bluetooth off, band not
//! found, connection lost, timeout, not paired); [`reconnect`] retries a connect with [`Backoff`].

pub mod backoff;
pub mod ble;
#[cfg(target_os = "linux")]
mod bluez_pairing;
mod gatt;
pub mod pairing;
pub mod sim;
mod sim_bond;

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;
use tokio::sync::watch;

pub use backoff::{Backoff, reconnect};
pub use gatt::{
    BANDX_NAME_PREFIX, BANDX_SERVICE_UUID, BULK_UUID, CONTROL_UUID, Characteristic, IMU_UUID,
    PREDICTIONS_UUID, characteristic_of, uuid_of,
};
pub use pairing::{KnownPasskey, PairError, PasskeyEntry, parse_passkey};

/// Finds bands and connects to them.
#[async_trait]
pub trait Link: Send + Sync {
    /// Listens for advertising devices for `request.duration` and returns what it heard, strongest
    /// signal first.
    async fn scan(&self, request: ScanRequest) -> Result<Vec<ScanResult>, LinkError>;

    /// Connects to the device with this [`ScanResult::id`] (or its address) and checks that it
    /// offers the BandX service.
    async fn connect(&self, id: &str) -> Result<Box<dyn Connection>, LinkError>;

    /// Pairs and bonds with the band with this id (or address): the band shows a six-digit code,
    /// `passkey` gives what the user typed. A band already bonded with this desktop is paired.
    async fn pair(&self, id: &str, passkey: &dyn PasskeyEntry) -> Result<(), PairError>;

    /// Forgets the bond with this band on this desktop (the band keeps its side until it is
    /// reset); the band then refuses this desktop until it pairs again.
    async fn unpair(&self, id: &str) -> Result<(), PairError>;
}

/// An open connection to one band.
#[async_trait]
pub trait Connection: Send + Sync {
    /// The id this connection was opened with (pass it to [`Link::connect`] to come back).
    fn id(&self) -> &str;

    /// The ATT MTU negotiated for this connection (23 when the stack does not report one).
    fn mtu(&self) -> u16;

    /// The longest value one write can carry: the MTU minus the 3-byte ATT header.
    fn max_write_len(&self) -> usize {
        usize::from(self.mtu()).saturating_sub(ATT_HEADER_LEN)
    }

    /// Asks the band to notify changes of `characteristic`; they arrive on [`Self::notifications`].
    async fn subscribe(&self, characteristic: Characteristic) -> Result<(), LinkError>;

    /// A stream of every notification from the band on subscribed characteristics, in the order the
    /// band sent them. Each call gives a new stream that starts now.
    async fn notifications(&self) -> Result<BoxStream<'static, Notification>, LinkError>;

    /// Writes a value and waits for the band to acknowledge it (ATT write request).
    async fn write(&self, characteristic: Characteristic, value: &[u8]) -> Result<(), LinkError>;

    /// Writes a value without asking for an acknowledgement (ATT write command). Writes arrive in
    /// the order they were made.
    async fn write_without_response(
        &self,
        characteristic: Characteristic,
        value: &[u8],
    ) -> Result<(), LinkError>;

    /// Closes the connection. The state becomes [`ConnectionState::Disconnected`] with
    /// [`DisconnectReason::Requested`].
    async fn disconnect(&self) -> Result<(), LinkError>;

    /// The connection state: watch it to learn at once when the band goes away.
    fn state(&self) -> watch::Receiver<ConnectionState>;
}

/// Bytes of the ATT header in a write or notification; the rest of the MTU is payload.
pub const ATT_HEADER_LEN: usize = 3;

/// What to listen for during a scan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScanRequest {
    /// How long to listen.
    pub duration: Duration,
    /// Only report devices advertising the BandX service (the normal case). With `false` every
    /// device is reported, each marked with [`ScanResult::bandx`].
    pub bandx_only: bool,
}

impl Default for ScanRequest {
    fn default() -> Self {
        ScanRequest {
            duration: Duration::from_secs(3),
            bandx_only: true,
        }
    }
}

/// One device heard during a scan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScanResult {
    /// Stable id to pass to [`Link::connect`].
    pub id: String,
    /// Bluetooth address, `AA:BB:CC:DD:EE:FF`.
    pub address: String,
    /// Advertised local name, if any.
    pub name: Option<String>,
    /// Signal strength in dBm, if the stack reported one.
    pub rssi: Option<i16>,
    /// Whether the device advertises the BandX service.
    pub bandx: bool,
}

/// A value the band notified on one of its characteristics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    pub characteristic: Characteristic,
    pub value: Vec<u8>,
}

/// Whether a connection is up, and if not, why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionState {
    Connected,
    Disconnected(DisconnectReason),
}

/// Why a connection ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DisconnectReason {
    /// [`Connection::disconnect`] was called.
    Requested,
    /// The band went away (out of range, powered off, reset).
    Lost,
}

/// Waits until `state` reports a disconnection and returns its reason. Returns
/// [`DisconnectReason::Lost`] if the connection's owner is gone.
pub async fn disconnected(state: &mut watch::Receiver<ConnectionState>) -> DisconnectReason {
    loop {
        if let ConnectionState::Disconnected(reason) = *state.borrow_and_update() {
            return reason;
        }
        if state.changed().await.is_err() {
            return DisconnectReason::Lost;
        }
    }
}

/// Everything that can go wrong on a link, as the states the UI shows.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// No Bluetooth stack or adapter on this machine: offer the virtual band.
    #[error("no Bluetooth adapter found ({0})")]
    NoAdapter(String),
    /// The adapter exists but is powered off: ask the user to turn Bluetooth on.
    #[error("Bluetooth is turned off")]
    BluetoothOff,
    /// No band with this id is known: scan again, bring the band closer.
    #[error("band {0} not found")]
    NotFound(String),
    /// The band went away during an operation.
    #[error("the connection to the band was lost")]
    ConnectionLost,
    /// The band did not answer in time.
    #[error("{operation} timed out after {after:?}")]
    Timeout {
        operation: &'static str,
        after: Duration,
    },
    /// The band answered, but not as a BandX should (missing service, rejected write, ...).
    #[error("GATT error: {0}")]
    Gatt(String),
    /// The band refused: the link is not authenticated (this desktop is not paired with it).
    #[error("the band only answers its paired desktop: pair with it first")]
    NotAuthenticated,
}

impl LinkError {
    /// Whether trying again later can help (a lost or refused connection can come back; a missing
    /// adapter or a switched-off radio needs the user).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            LinkError::NotFound(_)
                | LinkError::ConnectionLost
                | LinkError::Timeout { .. }
                | LinkError::Gatt(_)
        )
    }
}

impl fmt::Display for ConnectionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectionState::Connected => f.write_str("connected"),
            ConnectionState::Disconnected(DisconnectReason::Requested) => {
                f.write_str("disconnected")
            }
            ConnectionState::Disconnected(DisconnectReason::Lost) => f.write_str("connection lost"),
        }
    }
}
