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
//! [`LinkError`] variants are the plain states the UI shows (no adapter, Bluetooth off, band not
//! found, connection lost, timeout, not paired); [`reconnect`] retries a connect with [`Backoff`].
//!
//! A band serves only a desktop that paired with it ([`Link::pair`]: LE Secure Connections, the user types the
//! six-digit code the band shows, through a [`PasskeyEntry`]); the bond the pairing leaves lets later
//! connections in at once. Anything else gets [`LinkError::NotAuthenticated`].

pub mod backoff;
pub mod ble;
#[cfg(target_os = "linux")]
mod bluez_pairing;
mod gatt;
pub mod sim;

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

/// Finds bands and connects to them.
#[async_trait]
pub trait Link: Send + Sync {
    /// Listens for advertising devices for `request.duration` and returns what it heard, strongest
    /// signal first.
    async fn scan(&self, request: ScanRequest) -> Result<Vec<ScanResult>, LinkError>;

    /// Connects to the device with this [`ScanResult::id`] (or its address) and checks that it
    /// offers the BandX service.
    async fn connect(&self, id: &str) -> Result<Box<dyn Connection>, LinkError>;

    /// Pairs and bonds with the band (LE Secure Connections, passkey entry): the band shows a six-digit
    /// code on its screen and `passkey` asks the user for it. Once per band; later connections are
    /// encrypted with the bond.
    async fn pair(&self, id: &str, passkey: &dyn PasskeyEntry) -> Result<(), PairError>;

    /// Forgets the bond with this band on this desktop (pairing again needs the band in pairing mode).
    async fn unpair(&self, id: &str) -> Result<(), PairError>;
}

/// Asks the user for the code the band shows.
#[async_trait]
pub trait PasskeyEntry: Send + Sync {
    /// The six-digit code as the user typed it; `None` if they cancelled.
    async fn passkey(&self) -> Option<u32>;
}

/// Why a pairing failed, as the Pair step says it.
#[derive(Debug, thiserror::Error)]
pub enum PairError {
    /// The code typed is not the one on the band's screen.
    #[error(
        "wrong code: it does not match the six digits on the band's screen; pair again for a new code"
    )]
    WrongCode,
    /// The code was not entered in time.
    #[error("pairing timed out after {0:?}: pair again and type the code within 30 seconds")]
    Timeout(Duration),
    /// The band already has a bond and is past its pairing window.
    #[error(
        "the band is not in pairing mode: restart it (or press its button), then pair within 2 minutes"
    )]
    NotInPairingMode,
    /// The band refused: it is bonded with another desktop and did not accept this one.
    #[error(
        "the band refused to pair: it is bonded with another desktop; restart it to put it in pairing mode"
    )]
    BondedElsewhere,
    /// The user cancelled.
    #[error("pairing cancelled")]
    Cancelled,
    #[error(transparent)]
    Link(#[from] LinkError),
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
    /// The band refuses a desktop that has not paired with it (ATT Insufficient Authentication).
    #[error(
        "the band only answers its paired desktop: pair with it first (the band shows a six-digit code); if this \
         desktop was paired before, the band has forgotten it: unpair, then pair again"
    )]
    NotAuthenticated,
    /// The band answered, but not as a BandX should (missing service, rejected write, ...).
    #[error("GATT error: {0}")]
    Gatt(String),
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
