//! The stand-in's pairing, as BlueZ and the kernel's SMP report it over D-Bus: `AgentManager1`
//! (clients register their `org.bluez.Agent1`), and the procedure behind `Device1.Pair()`.
//!
//! Pair asks the band to pair ([`BandSecurity::start_pairing`]); a refusal comes back as
//! `AuthenticationFailed`, the agent never asked (the kernel reports every SMP "Pairing Failed"
//! as one authentication failure). An agent that cannot type (no agent, or a capability without
//! a keyboard) cannot do passkey entry, which the band requires: `AuthenticationFailed` too.
//! Otherwise the agent's `RequestPasskey` is called over D-Bus, with the band's SMP timeout; an
//! agent error (declined) is a negative reply -> `AuthenticationFailed`; no answer in time ->
//! the agent gets `Cancel` and Pair `AuthenticationTimeout` (`CancelPairing` meanwhile: `Cancel`
//! and `AuthenticationCanceled`); an answer goes to the band, which
//! compares it with the code it shows: wrong -> `AuthenticationFailed`, right -> bonded.

use std::sync::Arc;

use tokio::sync::oneshot;
use zbus::message::Header;
use zbus::zvariant::{ObjectPath, OwnedObjectPath};
use zbus::{Connection, interface};

use super::objects::{BluezError, Device, Shared};

/// Where BlueZ exports AgentManager1.
pub const AGENT_MANAGER_PATH: &str = "/org/bluez";

/// The capabilities BlueZ accepts in RegisterAgent ("" means KeyboardDisplay).
const CAPABILITIES: [&str; 5] = [
    "DisplayOnly",
    "DisplayYesNo",
    "KeyboardOnly",
    "NoInputNoOutput",
    "KeyboardDisplay",
];

/// One agent a client registered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegisteredAgent {
    /// The client's unique bus name.
    pub owner: String,
    pub path: String,
    pub capability: String,
}

/// The agents registered now, which one is the default, and what they were asked.
#[derive(Debug, Default)]
pub struct Agents {
    pub registered: Vec<RegisteredAgent>,
    /// (owner, path) of the default agent.
    pub default: Option<(String, String)>,
    /// Every RequestPasskey sent: the device object path it was about.
    pub passkey_requests: Vec<String>,
    /// Every Cancel sent to an agent (its path).
    pub cancels: Vec<String>,
}

impl Agents {
    /// The agent a Pair() from `caller` uses: the caller's own, else the default agent.
    fn for_caller(&self, caller: Option<&str>) -> Option<RegisteredAgent> {
        caller
            .and_then(|c| self.registered.iter().find(|a| a.owner == c))
            .or_else(|| {
                let (owner, path) = self.default.as_ref()?;
                self.registered
                    .iter()
                    .find(|a| &a.owner == owner && &a.path == path)
            })
            .cloned()
    }
}

pub struct AgentManager1 {
    pub shared: Arc<Shared>,
}

fn sender(header: &Header<'_>) -> Result<String, BluezError> {
    header
        .sender()
        .map(|s| s.to_string())
        .ok_or_else(|| BluezError::InvalidArguments("Invalid Arguments".into()))
}

#[interface(name = "org.bluez.AgentManager1", introspection_docs = false)]
impl AgentManager1 {
    fn register_agent(
        &self,
        agent: OwnedObjectPath,
        capability: String,
        #[zbus(header)] header: Header<'_>,
    ) -> Result<(), BluezError> {
        let owner = sender(&header)?;
        let capability = if capability.is_empty() {
            "KeyboardDisplay".to_string()
        } else {
            capability
        };
        if !CAPABILITIES.contains(&capability.as_str()) {
            return Err(BluezError::InvalidArguments("Invalid Arguments".into()));
        }
        let mut agents = self.shared.agents();
        if agents.registered.iter().any(|a| a.owner == owner) {
            return Err(BluezError::AlreadyExists("Already Exists".into()));
        }
        agents.registered.push(RegisteredAgent {
            owner,
            path: agent.to_string(),
            capability,
        });
        Ok(())
    }

    fn unregister_agent(
        &self,
        agent: OwnedObjectPath,
        #[zbus(header)] header: Header<'_>,
    ) -> Result<(), BluezError> {
        let owner = sender(&header)?;
        let mut agents = self.shared.agents();
        let before = agents.registered.len();
        agents
            .registered
            .retain(|a| !(a.owner == owner && a.path == agent.as_str()));
        if agents.registered.len() == before {
            return Err(BluezError::DoesNotExist("Does Not Exist".into()));
        }
        if agents.default == Some((owner, agent.to_string())) {
            agents.default = None;
        }
        Ok(())
    }

    fn request_default_agent(
        &self,
        agent: OwnedObjectPath,
        #[zbus(header)] header: Header<'_>,
    ) -> Result<(), BluezError> {
        let owner = sender(&header)?;
        let mut agents = self.shared.agents();
        if !agents
            .registered
            .iter()
            .any(|a| a.owner == owner && a.path == agent.as_str())
        {
            return Err(BluezError::DoesNotExist("Does Not Exist".into()));
        }
        agents.default = Some((owner, agent.to_string()));
        Ok(())
    }
}

/// Pairs the (connected) `device` for a Pair() call from `caller`; see the module header.
pub async fn pair(
    connection: &Connection,
    shared: &Shared,
    device: &Arc<Device>,
    caller: Option<String>,
    cancelled: oneshot::Receiver<()>,
) -> Result<(), BluezError> {
    let failed = || BluezError::AuthenticationFailed("Authentication Failed".into());
    {
        let mut state = device.lock();
        let Some(band) = state.security.as_mut() else {
            // An open device: "just works".
            state.paired = true;
            return Ok(());
        };
        band.start_pairing().map_err(|_| failed())?;
    }
    let agent = shared.agents().for_caller(caller.as_deref());
    let Some(agent) =
        agent.filter(|a| matches!(a.capability.as_str(), "KeyboardOnly" | "KeyboardDisplay"))
    else {
        abandon(device);
        return Err(failed());
    };
    shared.agents().passkey_requests.push(device.path.clone());
    let timeout = *shared.smp_timeout.lock().unwrap_or_else(|e| e.into_inner());
    let device_path = ObjectPath::try_from(device.path.as_str()).expect("a valid path");
    let body = (device_path,);
    let request = connection.call_method(
        Some(agent.owner.as_str()),
        agent.path.as_str(),
        Some("org.bluez.Agent1"),
        "RequestPasskey",
        &body,
    );
    let ended = tokio::select! {
        reply = tokio::time::timeout(timeout, request) => match reply {
            Ok(reply) => Ok(reply),
            Err(_) => Err(BluezError::AuthenticationTimeout("Authentication Timeout".into())),
        },
        Ok(()) = cancelled => Err(BluezError::AuthenticationCanceled("Authentication Canceled".into())),
    };
    let reply = match ended {
        Ok(reply) => reply,
        Err(error) => {
            shared.agents().cancels.push(agent.path.clone());
            let cancel = connection.call_method(
                Some(agent.owner.as_str()),
                agent.path.as_str(),
                Some("org.bluez.Agent1"),
                "Cancel",
                &(),
            );
            let _ = tokio::time::timeout(timeout, cancel).await;
            abandon(device);
            return Err(error);
        }
    };
    // An agent error is a negative passkey reply; a body that is not a u32 too.
    let entered = reply.ok().and_then(|m| m.body().deserialize::<u32>().ok());
    let Some(entered) = entered.filter(|code| *code <= 999_999) else {
        abandon(device);
        return Err(failed());
    };
    let mut state = device.lock();
    let band = state.security.as_mut().expect("checked above");
    if !band.finish_pairing(entered) {
        return Err(failed());
    }
    state.paired = true;
    Ok(())
}

fn abandon(device: &Device) {
    if let Some(band) = device.lock().security.as_mut() {
        band.abandon_pairing();
    }
}
