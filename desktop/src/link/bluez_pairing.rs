//! Pairing on Linux, through BlueZ's D-Bus API (zbus; btleplug has no pairing API).
//!
//! [`pair`] exports an `org.bluez.Agent1` (capability "KeyboardDisplay") on a connection of its
//! own to the system bus, registers it with `AgentManager1.RegisterAgent` and
//! `RequestDefaultAgent`, calls `Device1.Pair()` on the band, answers BlueZ's `RequestPasskey`
//! with what the user typed ([`PasskeyEntry`]), and unregisters the agent whatever happens. The
//! agent refuses every request about another device, and every method other than passkey entry
//! (a BandX band only displays a code). [`unpair`] is `Adapter1.RemoveDevice`: BlueZ forgets the
//! bond and the device.
//!
//! BlueZ reports every failed SMP exchange (wrong code, a band refusing to pair, a passkey our
//! agent declined) as `org.bluez.Error.AuthenticationFailed`: the kernel turns any SMP "Pairing
//! Failed" into one HCI authentication failure. What the agent saw tells them apart (see
//! [`pair_error`]): asked and answered -> the code was wrong; declined -> the user cancelled;
//! never asked -> the band refused before showing a code (not in pairing mode).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use zbus::zvariant::{ObjectPath, OwnedObjectPath, OwnedValue, Value};
use zbus::{Connection, DBusError as _, interface, proxy};

use super::ble::map_dbus_error;
use super::{LinkError, PairError, PasskeyEntry};

/// The largest passkey: six decimal digits.
const MAX_PASSKEY: u32 = 999_999;

/// The capability our agent registers: it can show and type, so BlueZ asks it for the passkey
/// the band displays.
pub const AGENT_CAPABILITY: &str = "KeyboardDisplay";

/// How long the band waits for the code once it shows it: SMP's transaction timeout.
pub const SMP_TIMEOUT: Duration = Duration::from_secs(30);

/// Where our agents live on the bus (one per pairing: a counter tells them apart).
const AGENT_PATH_PREFIX: &str = "/org/bandx/studio/agent";

#[proxy(
    interface = "org.bluez.AgentManager1",
    default_service = "org.bluez",
    default_path = "/org/bluez"
)]
trait AgentManager1 {
    fn register_agent(&self, agent: &ObjectPath<'_>, capability: &str) -> zbus::Result<()>;
    fn unregister_agent(&self, agent: &ObjectPath<'_>) -> zbus::Result<()>;
    fn request_default_agent(&self, agent: &ObjectPath<'_>) -> zbus::Result<()>;
}

#[proxy(interface = "org.bluez.Device1", default_service = "org.bluez")]
trait Device1 {
    fn pair(&self) -> zbus::Result<()>;
    fn cancel_pairing(&self) -> zbus::Result<()>;
    #[zbus(property)]
    fn adapter(&self) -> zbus::Result<OwnedObjectPath>;
}

#[proxy(interface = "org.bluez.Adapter1", default_service = "org.bluez")]
trait Adapter1 {
    fn remove_device(&self, device: &ObjectPath<'_>) -> zbus::Result<()>;
}

/// Pairs with the device BlueZ knows under `address` (`AA:BB:CC:DD:EE:FF`), asking `passkey`
/// for the code once the band shows it. Gives up after `timeout` (cancelling the pairing).
/// A device BlueZ already holds a bond with counts as paired.
pub async fn pair(
    address: &str,
    passkey: &dyn PasskeyEntry,
    timeout: Duration,
) -> Result<(), PairError> {
    let bus = system_bus().await?;
    let device_path = find_device(&bus, address).await?;
    let device = Device1Proxy::builder(&bus)
        .path(device_path.clone())
        .map_err(|e| dbus_error(&e, address))?
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .await
        .map_err(|e| dbus_error(&e, address))?;

    static NEXT_AGENT: AtomicU32 = AtomicU32::new(0);
    let agent_path = format!(
        "{AGENT_PATH_PREFIX}{}_{}",
        std::process::id(),
        NEXT_AGENT.fetch_add(1, Ordering::Relaxed)
    );
    let agent_path =
        OwnedObjectPath::try_from(agent_path).expect("the agent path is a valid object path");
    let (requests_tx, requests) = mpsc::unbounded_channel();
    let seen = Arc::new(Mutex::new(AgentLog::default()));
    let (cancel, _) = watch::channel(false);
    let agent = Agent {
        device: device_path.clone(),
        requests: requests_tx,
        seen: Arc::clone(&seen),
        cancel,
    };
    bus.object_server()
        .at(&agent_path, agent)
        .await
        .map_err(|e| dbus_error(&e, address))?;

    let manager = AgentManager1Proxy::new(&bus)
        .await
        .map_err(|e| dbus_error(&e, address))?;
    let outcome = async {
        manager
            .register_agent(&agent_path.as_ref(), AGENT_CAPABILITY)
            .await
            .map_err(|e| dbus_error(&e, address))?;
        let registered = async {
            // Our agent answers for the band even if the desktop runs its own default agent.
            manager
                .request_default_agent(&agent_path.as_ref())
                .await
                .map_err(|e| dbus_error(&e, address))?;
            let (driven, unanswered) = drive(&device, requests, passkey, timeout).await;
            // Cancel while our agent is still there (and its request still open) to hear
            // BlueZ's Cancel.
            if let Driven::TimedOut = driven
                && let Err(error) = device.cancel_pairing().await
            {
                tracing::debug!(%error, "cancelling a pairing that timed out");
            }
            drop(unanswered);
            Ok::<_, PairError>(driven)
        }
        .await;
        if !seen_lock(&seen).released
            && let Err(error) = manager.unregister_agent(&agent_path.as_ref()).await
        {
            tracing::debug!(%error, "unregistering the pairing agent");
        }
        registered
    }
    .await;
    if let Err(error) = bus.object_server().remove::<Agent, _>(&agent_path).await {
        tracing::debug!(%error, "removing the pairing agent");
    }

    let seen = seen_lock(&seen).clone();
    match outcome? {
        Driven::Replied(Ok(())) => {
            tracing::info!(%address, "paired");
            Ok(())
        }
        Driven::Replied(Err(error)) => {
            let (name, message) = error_name(&error);
            tracing::info!(%address, %name, %message, ?seen, "pairing failed");
            pair_error(&name, &message, &seen, address)
        }
        Driven::TimedOut => Err(PairError::Timeout(timeout)),
    }
}

/// Forgets the bond with the device BlueZ knows under `address` (and the device itself: it
/// comes back at the next scan). Nothing to forget is not an error.
pub async fn unpair(address: &str) -> Result<(), PairError> {
    let bus = system_bus().await?;
    let device_path = match find_device(&bus, address).await {
        Ok(path) => path,
        Err(LinkError::NotFound(_)) => {
            tracing::info!(%address, "BlueZ does not know this band: no bond to forget");
            return Ok(());
        }
        Err(other) => return Err(other.into()),
    };
    let device = Device1Proxy::builder(&bus)
        .path(device_path.clone())
        .map_err(|e| dbus_error(&e, address))?
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .await
        .map_err(|e| dbus_error(&e, address))?;
    let adapter_path = device
        .adapter()
        .await
        .map_err(|e| dbus_error(&e, address))?;
    let adapter = Adapter1Proxy::builder(&bus)
        .path(adapter_path)
        .map_err(|e| dbus_error(&e, address))?
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .await
        .map_err(|e| dbus_error(&e, address))?;
    match adapter.remove_device(&device_path.as_ref()).await {
        Ok(()) => {
            tracing::info!(%address, "bond forgotten");
            Ok(())
        }
        Err(error) if error_name(&error).0 == "org.bluez.Error.DoesNotExist" => Ok(()),
        Err(error) => Err(dbus_error(&error, address).into()),
    }
}

/// What BlueZ's answer to `Pair()` means, given what our agent saw.
pub(crate) fn pair_error(
    name: &str,
    message: &str,
    seen: &AgentLog,
    address: &str,
) -> Result<(), PairError> {
    match name {
        // BlueZ already holds a bond with the band.
        "org.bluez.Error.AlreadyExists" => Ok(()),
        "org.bluez.Error.AuthenticationFailed" if seen.declined => Err(PairError::Cancelled),
        "org.bluez.Error.AuthenticationFailed" if seen.answered => Err(PairError::WrongCode),
        // The band answered the pairing request with "Pairing Failed" before any code.
        "org.bluez.Error.AuthenticationFailed" => Err(PairError::NotInPairingMode),
        "org.bluez.Error.AuthenticationCanceled" if seen.declined => Err(PairError::Cancelled),
        // Cancelled or disconnected after the code was typed: the link went away.
        "org.bluez.Error.AuthenticationCanceled" if seen.answered => {
            Err(LinkError::ConnectionLost.into())
        }
        // The band dropped the link when asked to pair.
        "org.bluez.Error.AuthenticationCanceled" => Err(PairError::NotInPairingMode),
        // The controller reports the band rejected us outright (HCI "connection rejected due
        // to security reasons"): a band that only lets its bonded desktops in.
        "org.bluez.Error.AuthenticationRejected" => Err(PairError::BondedElsewhere),
        "org.bluez.Error.AuthenticationTimeout" => Err(PairError::Timeout(SMP_TIMEOUT)),
        // BlueZ could not even connect (page timeout): out of range.
        "org.bluez.Error.ConnectionAttemptFailed" => {
            Err(LinkError::NotFound(address.to_string()).into())
        }
        "org.bluez.Error.InProgress" => Err(LinkError::Gatt(
            "another pairing with this band is in progress: finish or cancel it first".into(),
        )
        .into()),
        _ => Err(map_dbus_error(name, message, address).into()),
    }
}

/// How a `Pair()` call ended.
enum Driven {
    Replied(zbus::Result<()>),
    /// Our deadline passed first.
    TimedOut,
}

/// Calls `Pair()` and answers the agent's passkey requests while it runs. Also returns the
/// request the user was still typing for when the deadline passed: dropping it answers "no".
async fn drive(
    device: &Device1Proxy<'_>,
    mut requests: mpsc::UnboundedReceiver<PasskeyRequest>,
    passkey: &dyn PasskeyEntry,
    timeout: Duration,
) -> (Driven, Option<PasskeyRequest>) {
    let pair_call = device.pair();
    tokio::pin!(pair_call);
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            result = &mut pair_call => return (Driven::Replied(result), None),
            _ = &mut deadline => return (Driven::TimedOut, None),
            Some(request) = requests.recv() => {
                let answer = tokio::select! {
                    answer = passkey.passkey() => answer,
                    // BlueZ gave up while the user was typing.
                    result = &mut pair_call => return (Driven::Replied(result), None),
                    _ = &mut deadline => return (Driven::TimedOut, Some(request)),
                };
                // The agent may have been cancelled meanwhile: nobody to answer then.
                let _ = request.reply.send(answer);
            }
        }
    }
}

/// What the agent was asked and answered during one pairing.
#[derive(Clone, Debug, Default)]
pub(crate) struct AgentLog {
    /// BlueZ asked for the passkey.
    pub asked: bool,
    /// ...and the user gave one.
    pub answered: bool,
    /// ...or the user cancelled (no code), and the agent declined.
    pub declined: bool,
    /// BlueZ cancelled the request before it was answered.
    pub cancelled: bool,
    /// BlueZ released the agent (it unregistered it itself, e.g. on shutdown).
    pub released: bool,
}

fn seen_lock(seen: &Mutex<AgentLog>) -> std::sync::MutexGuard<'_, AgentLog> {
    seen.lock().unwrap_or_else(|e| e.into_inner())
}

/// A passkey BlueZ asked for, to be answered by whoever drives the pairing.
struct PasskeyRequest {
    reply: oneshot::Sender<Option<u32>>,
}

/// The errors an agent answers with.
#[derive(Debug, zbus::DBusError)]
#[zbus(prefix = "org.bluez.Error")]
enum AgentError {
    #[zbus(error)]
    ZBus(zbus::Error),
    Rejected(String),
    Canceled(String),
}

/// Our `org.bluez.Agent1`: answers passkey requests for one device, refuses everything else.
struct Agent {
    device: OwnedObjectPath,
    requests: mpsc::UnboundedSender<PasskeyRequest>,
    seen: Arc<Mutex<AgentLog>>,
    /// Set when BlueZ cancels or releases the agent: a pending request stops waiting.
    cancel: watch::Sender<bool>,
}

impl Agent {
    fn only_ours(&self, device: &OwnedObjectPath) -> Result<(), AgentError> {
        if device.as_str() == self.device.as_str() {
            Ok(())
        } else {
            Err(AgentError::Rejected(format!(
                "BandX Studio is pairing {} only",
                self.device.as_str()
            )))
        }
    }
}

#[interface(name = "org.bluez.Agent1", introspection_docs = false)]
impl Agent {
    async fn release(&self) {
        seen_lock(&self.seen).released = true;
        self.cancel.send_replace(true);
    }

    async fn request_passkey(&self, device: OwnedObjectPath) -> Result<u32, AgentError> {
        self.only_ours(&device)?;
        seen_lock(&self.seen).asked = true;
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(PasskeyRequest { reply })
            .map_err(|_| AgentError::Canceled("the pairing is over".into()))?;
        let mut cancelled = self.cancel.subscribe();
        tokio::select! {
            answer = answer => match answer {
                Ok(Some(code)) if code <= MAX_PASSKEY => {
                    seen_lock(&self.seen).answered = true;
                    Ok(code)
                }
                _ => {
                    seen_lock(&self.seen).declined = true;
                    Err(AgentError::Canceled("the user cancelled".into()))
                }
            },
            _ = cancelled.wait_for(|c| *c) => {
                Err(AgentError::Canceled("the request was cancelled".into()))
            }
        }
    }

    async fn request_pin_code(&self, device: OwnedObjectPath) -> Result<String, AgentError> {
        self.only_ours(&device)?;
        Err(AgentError::Rejected(
            "a BandX band pairs with a six-digit passkey, not a PIN".into(),
        ))
    }

    async fn display_pin_code(
        &self,
        device: OwnedObjectPath,
        _pincode: String,
    ) -> Result<(), AgentError> {
        self.only_ours(&device)?;
        Err(AgentError::Rejected(
            "a BandX band pairs with a six-digit passkey, not a PIN".into(),
        ))
    }

    /// Only asked of us if the band had a keyboard; it has none, so there is nothing to show.
    async fn display_passkey(&self, device: OwnedObjectPath, _passkey: u32, _entered: u16) {
        tracing::debug!(%device, "BlueZ asked to display a passkey: ignored");
    }

    async fn request_confirmation(
        &self,
        device: OwnedObjectPath,
        _passkey: u32,
    ) -> Result<(), AgentError> {
        self.only_ours(&device)?;
        Err(AgentError::Rejected(
            "a BandX band pairs by passkey entry, not numeric comparison".into(),
        ))
    }

    async fn request_authorization(&self, device: OwnedObjectPath) -> Result<(), AgentError> {
        self.only_ours(&device)?;
        Err(AgentError::Rejected(
            "pairing without a code is not allowed".into(),
        ))
    }

    async fn authorize_service(
        &self,
        device: OwnedObjectPath,
        _uuid: String,
    ) -> Result<(), AgentError> {
        self.only_ours(&device)?;
        Err(AgentError::Rejected(
            "BandX Studio only pairs; it authorizes no service".into(),
        ))
    }

    async fn cancel(&self) {
        seen_lock(&self.seen).cancelled = true;
        self.cancel.send_replace(true);
    }
}

async fn system_bus() -> Result<Connection, LinkError> {
    Connection::system()
        .await
        .map_err(|e| LinkError::NoAdapter(format!("cannot reach the system D-Bus: {e}")))
}

/// The object path of the `org.bluez.Device1` with this address.
async fn find_device(bus: &Connection, address: &str) -> Result<OwnedObjectPath, LinkError> {
    let objects = zbus::fdo::ObjectManagerProxy::builder(bus)
        .destination("org.bluez")
        .and_then(|b| b.path("/"))
        .map_err(|e| dbus_error(&e, address))?
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .await
        .map_err(|e| dbus_error(&e, address))?
        .get_managed_objects()
        .await
        .map_err(|e| dbus_error(&zbus::Error::from(e), address))?;
    objects
        .into_iter()
        .find(|(_, interfaces)| {
            interfaces
                .iter()
                .find(|(name, _)| name.as_str() == "org.bluez.Device1")
                .and_then(|(_, properties)| string_property(properties, "Address"))
                .is_some_and(|a| a.eq_ignore_ascii_case(address))
        })
        .map(|(path, _)| path)
        .ok_or_else(|| LinkError::NotFound(address.to_string()))
}

fn string_property(properties: &HashMap<String, OwnedValue>, name: &str) -> Option<String> {
    match properties.get(name).map(|v| &**v) {
        Some(Value::Str(s)) => Some(s.to_string()),
        _ => None,
    }
}

/// The D-Bus error name and message of a failed call.
fn error_name(error: &zbus::Error) -> (String, String) {
    match error {
        zbus::Error::MethodError(name, detail, _) => {
            (name.to_string(), detail.clone().unwrap_or_default())
        }
        zbus::Error::FDO(fdo) => (
            fdo.name().to_string(),
            fdo.description().unwrap_or_default().to_string(),
        ),
        other => (String::new(), other.to_string()),
    }
}

fn dbus_error(error: &zbus::Error, address: &str) -> LinkError {
    let (name, message) = error_name(error);
    if name.is_empty() {
        return LinkError::Gatt(message);
    }
    map_dbus_error(&name, &message, address)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(asked: bool, answered: bool, declined: bool) -> AgentLog {
        AgentLog {
            asked,
            answered,
            declined,
            ..AgentLog::default()
        }
    }

    #[test]
    fn what_a_failed_pair_means() {
        let failed = "org.bluez.Error.AuthenticationFailed";
        let band = "C0:FF:EE:00:00:01";
        assert!(matches!(
            pair_error(failed, "", &seen(true, true, false), band),
            Err(PairError::WrongCode)
        ));
        assert!(matches!(
            pair_error(failed, "", &seen(true, false, true), band),
            Err(PairError::Cancelled)
        ));
        assert!(matches!(
            pair_error(failed, "", &seen(false, false, false), band),
            Err(PairError::NotInPairingMode)
        ));
        assert!(
            pair_error(
                "org.bluez.Error.AlreadyExists",
                "",
                &seen(false, false, false),
                band
            )
            .is_ok()
        );
        assert!(matches!(
            pair_error(
                "org.bluez.Error.AuthenticationTimeout",
                "",
                &seen(true, false, false),
                band
            ),
            Err(PairError::Timeout(SMP_TIMEOUT))
        ));
        assert!(matches!(
            pair_error(
                "org.bluez.Error.AuthenticationRejected",
                "",
                &seen(false, false, false),
                band
            ),
            Err(PairError::BondedElsewhere)
        ));
        assert!(matches!(
            pair_error("org.bluez.Error.ConnectionAttemptFailed", "Page Timeout", &seen(false, false, false), band),
            Err(PairError::Link(LinkError::NotFound(a))) if a == band
        ));
        assert!(matches!(
            pair_error(
                "org.bluez.Error.NotReady",
                "Resource Not Ready",
                &seen(false, false, false),
                band
            ),
            Err(PairError::Link(LinkError::BluetoothOff))
        ));
    }
}
