//! A BlueZ stand-in: the `org.bluez` service btleplug talks to, on a private system bus, with
//! devices whose behaviour a test (or the virtual band) supplies.
//!
//! ```ignore
//! let bus = PrivateBus::start(&socket, dir.path())?;          // dbus-daemon --config-file=...
//! // DBUS_SYSTEM_BUS_ADDRESS=unix:path=<socket> for the whole process (libdbus reads it once)
//! let bluez = BluezStandIn::start(bus.address(), true, vec![band_spec]).await?;
//! bluez.device("C0:FF:EE:00:00:01").notify(IMU_UUID, frame);   // the band sends something
//! bluez.device("C0:FF:EE:00:00:01").force_disconnect().await;  // the band walks away
//! ```
//!
//! It is written with zbus (pure Rust) and exports, like BlueZ 5: an ObjectManager at `/`,
//! `org.bluez.Adapter1` at /org/bluez/hci0, and, once discovery starts, `org.bluez.Device1` per
//! device in range (filtered by the discovery filter's UUIDs). Connect exports the device's
//! GattService1/GattCharacteristic1 objects, then sets Connected and ServicesResolved; a
//! disconnect clears both and removes them. Characteristic writes go to the device's
//! [`PeripheralBehaviour`]; its answers and [`DeviceHandle::notify`] become `Value`
//! PropertiesChanged signals on subscribed characteristics, in order.
//!
//! Pairing, for a device with a [`BandSecurity`]: `AgentManager1` at /org/bluez takes clients'
//! agents; `Device1.Pair()` runs the band's side of SMP and calls the agent's `RequestPasskey`
//! (see `pairing.rs`); Paired/Bonded follow; `Adapter1.RemoveDevice` forgets the bond. Until
//! paired, GATT reads, writes and subscriptions fail as BlueZ reports ATT "Insufficient
//! Authentication" (`org.bluez.Error.NotPermitted` "Not paired"); write commands are dropped.

#![allow(dead_code)] // Each test binary uses a different part of the stand-in.

pub mod bus;
mod objects;
mod pairing;
pub mod peripheral;
pub mod security;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use uuid::Uuid;
use zbus::Connection;

pub use bus::PrivateBus;
pub use objects::ADAPTER_PATH;
use objects::{Adapter1, Device, DeviceCommand, DeviceState, Shared};
pub use pairing::RegisteredAgent;
pub use peripheral::{CharacteristicSpec, DeviceSpec, PeripheralBehaviour, ServiceSpec, Silent};
pub use security::{BandSecurity, PairingRefused, PasskeyBand, SimBandSecurity};

/// The running stand-in: owns the `org.bluez` name on the bus until stopped or dropped.
pub struct BluezStandIn {
    connection: Connection,
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
}

impl BluezStandIn {
    /// Connects to the bus at `bus_address`, takes the name `org.bluez` and exports one adapter
    /// (powered or not) with `devices` in range.
    pub async fn start(
        bus_address: &str,
        powered: bool,
        devices: Vec<DeviceSpec>,
    ) -> zbus::Result<BluezStandIn> {
        let mut queues = Vec::new();
        let devices: Vec<Arc<Device>> = devices
            .into_iter()
            .map(|spec| {
                let (commands, queue) = mpsc::unbounded_channel();
                queues.push(queue);
                Arc::new(Device {
                    path: Device::path_for(&spec.address),
                    address: spec.address,
                    name: spec.name,
                    rssi: spec.rssi,
                    advertised: spec.advertised,
                    services: spec.services,
                    mtu: spec.mtu,
                    state: Mutex::new(DeviceState {
                        connected: false,
                        services_resolved: false,
                        connect_calls: 0,
                        refuse_connections: 0,
                        connect_hangs: false,
                        behaviour: spec.behaviour,
                        security: spec.security,
                        paired: false,
                        pairing: false,
                        cancel_pairing: None,
                        pair_calls: 0,
                        dropped_commands: 0,
                    }),
                    commands,
                })
            })
            .collect();
        let shared = Arc::new(Shared {
            adapter: Mutex::new(objects::AdapterState {
                powered,
                ..Default::default()
            }),
            devices,
            agents: Mutex::new(pairing::Agents::default()),
            smp_timeout: Mutex::new(Duration::from_secs(30)),
        });
        let connection = zbus::connection::Builder::address(bus_address)?
            .name("org.bluez")?
            .serve_at("/", zbus::fdo::ObjectManager)?
            .serve_at(
                pairing::AGENT_MANAGER_PATH,
                pairing::AgentManager1 {
                    shared: Arc::clone(&shared),
                },
            )?
            .serve_at(
                ADAPTER_PATH,
                Adapter1 {
                    shared: Arc::clone(&shared),
                },
            )?
            .build()
            .await?;
        let workers = shared
            .devices
            .iter()
            .zip(queues)
            .map(|(device, queue)| {
                tokio::spawn(run_device(connection.clone(), Arc::clone(device), queue))
            })
            .collect();
        Ok(BluezStandIn {
            connection,
            shared,
            workers,
        })
    }

    /// Switches the adapter on or off (as rfkill or the desktop's Bluetooth switch would).
    pub async fn set_powered(&self, powered: bool) -> zbus::Result<()> {
        self.shared.adapter().powered = powered;
        let adapter = self
            .connection
            .object_server()
            .interface::<_, Adapter1>(ADAPTER_PATH)
            .await?;
        adapter
            .get()
            .await
            .powered_changed(adapter.signal_emitter())
            .await
    }

    pub fn powered(&self) -> bool {
        self.shared.adapter().powered
    }

    /// The service UUIDs of the last discovery filter a client set (empty: none).
    pub fn discovery_filter(&self) -> Vec<String> {
        self.shared.adapter().filter_uuids.clone()
    }

    /// The agents clients registered now.
    pub fn agents(&self) -> Vec<RegisteredAgent> {
        self.shared.agents().registered.clone()
    }

    /// The default agent's (owner, path), if any.
    pub fn default_agent(&self) -> Option<(String, String)> {
        self.shared.agents().default.clone()
    }

    /// The device paths of every RequestPasskey sent to an agent so far.
    pub fn passkey_requests(&self) -> Vec<String> {
        self.shared.agents().passkey_requests.clone()
    }

    /// The agent paths of every Cancel sent so far.
    pub fn agent_cancels(&self) -> Vec<String> {
        self.shared.agents().cancels.clone()
    }

    /// How long bands wait for a passkey (30 s unless a test is impatient).
    pub fn set_smp_timeout(&self, timeout: Duration) {
        *self.shared.smp_timeout.lock().unwrap() = timeout;
    }

    /// The device with this address. Panics if the stand-in has none (a test mistake).
    pub fn device(&self, address: &str) -> DeviceHandle {
        let device = self
            .shared
            .devices
            .iter()
            .find(|d| d.address.eq_ignore_ascii_case(address))
            .unwrap_or_else(|| panic!("the stand-in has no device {address}"));
        DeviceHandle {
            device: Arc::clone(device),
        }
    }

    /// Releases `org.bluez` and leaves the bus.
    pub async fn stop(mut self) {
        self.shutdown();
        let _ = self.connection.release_name("org.bluez").await;
    }

    fn shutdown(&mut self) {
        for worker in self.workers.drain(..) {
            worker.abort();
        }
    }
}

impl Drop for BluezStandIn {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Controls one device from outside: what a real band or the radio would do on its own.
#[derive(Clone)]
pub struct DeviceHandle {
    device: Arc<Device>,
}

impl DeviceHandle {
    /// The band sends `value` on `characteristic` (dropped unless connected and subscribed).
    /// Queued behind earlier notifications.
    pub fn notify(&self, characteristic: Uuid, value: Vec<u8>) {
        let _ = self
            .device
            .commands
            .send(DeviceCommand::Notify(characteristic, value));
    }

    /// The band drops the connection (out of range, reset), after any queued notifications.
    pub async fn force_disconnect(&self) {
        let (done, wait) = oneshot::channel();
        if self
            .device
            .commands
            .send(DeviceCommand::Disconnect(done))
            .is_ok()
        {
            let _ = wait.await;
        }
    }

    /// The next `n` connection attempts fail (org.bluez.Error.Failed), as when the band is out of
    /// range.
    pub fn refuse_connections(&self, n: u32) {
        self.device.state.lock().unwrap().refuse_connections = n;
    }

    /// Connection attempts never complete (an unanswered connect) while `true`.
    pub fn hang_connections(&self, hang: bool) {
        self.device.state.lock().unwrap().connect_hangs = hang;
    }

    /// How many times a client called Connect.
    pub fn connect_calls(&self) -> u32 {
        self.device.state.lock().unwrap().connect_calls
    }

    pub fn is_connected(&self) -> bool {
        self.device.state.lock().unwrap().connected
    }

    pub fn object_path(&self) -> &str {
        &self.device.path
    }

    /// Whether BlueZ holds a bond with the device (its Paired property).
    pub fn is_paired(&self) -> bool {
        self.device.state.lock().unwrap().paired
    }

    /// How many times a client called Pair.
    pub fn pair_calls(&self) -> u32 {
        self.device.state.lock().unwrap().pair_calls
    }

    /// Write commands the band dropped for want of an authenticated link.
    pub fn dropped_commands(&self) -> u32 {
        self.device.state.lock().unwrap().dropped_commands
    }
}

/// Works through one device's queue in order.
async fn run_device(
    connection: Connection,
    device: Arc<Device>,
    mut queue: mpsc::UnboundedReceiver<DeviceCommand>,
) {
    while let Some(command) = queue.recv().await {
        match command {
            DeviceCommand::Notify(uuid, value) => {
                objects::notify(&connection, &device, uuid, value).await
            }
            DeviceCommand::Disconnect(done) => {
                objects::disconnect(&connection, &device).await;
                let _ = done.send(());
            }
        }
    }
}
