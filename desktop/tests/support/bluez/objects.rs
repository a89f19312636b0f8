//! The org.bluez objects the stand-in exports: Adapter1, Device1, GattService1,
//! GattCharacteristic1, as BlueZ 5 lays them out (/org/bluez/hci0/dev_XX/serviceXXXX/charXXXX).
//! A device with a [`BandSecurity`] refuses GATT requests until it is paired (what BlueZ's
//! gatt-client answers when the band returns ATT "Insufficient Authentication"); pairing itself
//! lives in `pairing.rs`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;
use zbus::object_server::SignalEmitter;
use zbus::zvariant::{OwnedObjectPath, OwnedValue, Value};
use zbus::{Connection, interface};

use super::pairing::{self, Agents};
use super::peripheral::{PeripheralBehaviour, ServiceSpec};
use super::security::BandSecurity;

pub const ADAPTER_PATH: &str = "/org/bluez/hci0";

/// The errors BlueZ answers with (org.bluez.Error.*).
#[derive(Debug, zbus::DBusError)]
#[zbus(prefix = "org.bluez.Error")]
pub enum BluezError {
    #[zbus(error)]
    ZBus(zbus::Error),
    Failed(String),
    NotReady(String),
    NotPermitted(String),
    InvalidValueLength(String),
    InvalidArguments(String),
    AlreadyExists(String),
    DoesNotExist(String),
    InProgress(String),
    AuthenticationFailed(String),
    AuthenticationTimeout(String),
    AuthenticationCanceled(String),
    ConnectionAttemptFailed(String),
}

/// The adapter's mutable state.
#[derive(Debug, Default)]
pub struct AdapterState {
    pub powered: bool,
    pub discovering: bool,
    /// Service UUIDs of the last SetDiscoveryFilter (empty: no filter).
    pub filter_uuids: Vec<String>,
}

/// A device's mutable state.
pub struct DeviceState {
    pub connected: bool,
    pub services_resolved: bool,
    pub connect_calls: u32,
    pub refuse_connections: u32,
    pub connect_hangs: bool,
    pub behaviour: Box<dyn PeripheralBehaviour>,
    /// The band's side of pairing; `None`: an open device that needs no pairing.
    pub security: Option<Box<dyn BandSecurity>>,
    /// BlueZ holds a bond with the device (its Paired and Bonded properties).
    pub paired: bool,
    /// A Pair() call is under way.
    pub pairing: bool,
    /// Ends the Pair() call under way (CancelPairing).
    pub cancel_pairing: Option<tokio::sync::oneshot::Sender<()>>,
    pub pair_calls: u32,
    /// Write commands the band dropped because the link was not authenticated.
    pub dropped_commands: u32,
}

impl DeviceState {
    /// Whether the link is encrypted and authenticated with a bond both sides hold (always, for
    /// a device without security).
    pub fn authenticated(&self) -> bool {
        match &self.security {
            None => true,
            Some(band) => self.paired && band.bonded(),
        }
    }
}

/// Work a device does in order, off the D-Bus handlers: notifying and dropping the connection.
pub enum DeviceCommand {
    Notify(Uuid, Vec<u8>),
    Disconnect(oneshot::Sender<()>),
}

/// One device: what never changes, what does, and its command queue.
pub struct Device {
    pub path: String,
    pub address: String,
    pub name: String,
    pub rssi: i16,
    pub advertised: Vec<Uuid>,
    pub services: Vec<ServiceSpec>,
    pub mtu: u16,
    pub state: Mutex<DeviceState>,
    pub commands: mpsc::UnboundedSender<DeviceCommand>,
}

impl Device {
    pub fn path_for(address: &str) -> String {
        format!("{ADAPTER_PATH}/dev_{}", address.replace(':', "_"))
    }

    fn service_path(&self, index: usize) -> String {
        format!("{}/service{:04x}", self.path, service_handle(index))
    }

    fn characteristic_path(&self, service: usize, characteristic: usize) -> String {
        format!(
            "{}/char{:04x}",
            self.service_path(service),
            service_handle(service) + 1 + 2 * characteristic as u16
        )
    }

    /// Object paths of the characteristic with this UUID (one per service holding it).
    fn characteristic_paths(&self, uuid: Uuid) -> Vec<String> {
        let mut paths = Vec::new();
        for (s, service) in self.services.iter().enumerate() {
            for (c, characteristic) in service.characteristics.iter().enumerate() {
                if characteristic.uuid == uuid {
                    paths.push(self.characteristic_path(s, c));
                }
            }
        }
        paths
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, DeviceState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn matches(&self, filter: &[String]) -> bool {
        filter.is_empty()
            || self.advertised.iter().any(|u| {
                filter
                    .iter()
                    .any(|f| f.eq_ignore_ascii_case(&u.to_string()))
            })
    }
}

fn service_handle(index: usize) -> u16 {
    0x000a + 0x0010 * index as u16
}

fn object_path(path: &str) -> OwnedObjectPath {
    OwnedObjectPath::try_from(path.to_string()).expect("stand-in object paths are valid")
}

/// Everything the stand-in knows, shared by its objects and its handle.
pub struct Shared {
    pub adapter: Mutex<AdapterState>,
    pub devices: Vec<Arc<Device>>,
    /// Agents clients registered with AgentManager1.
    pub agents: Mutex<Agents>,
    /// How long a band waits for the passkey (SMP's 30 s).
    pub smp_timeout: Mutex<std::time::Duration>,
}

impl Shared {
    pub fn adapter(&self) -> std::sync::MutexGuard<'_, AdapterState> {
        self.adapter.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn agents(&self) -> std::sync::MutexGuard<'_, Agents> {
        self.agents.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn device_at(&self, path: &str) -> Option<&Arc<Device>> {
        self.devices.iter().find(|d| d.path == path)
    }
}

pub struct Adapter1 {
    pub shared: Arc<Shared>,
}

#[interface(name = "org.bluez.Adapter1", introspection_docs = false)]
impl Adapter1 {
    #[zbus(property)]
    fn address(&self) -> String {
        "00:1A:7D:DA:71:13".into()
    }

    #[zbus(property)]
    fn address_type(&self) -> String {
        "public".into()
    }

    #[zbus(property)]
    fn name(&self) -> String {
        "bandx-standin".into()
    }

    #[zbus(property)]
    fn alias(&self) -> String {
        "bandx-standin".into()
    }

    #[zbus(property)]
    fn modalias(&self) -> String {
        "usb:v1D6Bp0246d0548".into()
    }

    #[zbus(property)]
    fn powered(&self) -> bool {
        self.shared.adapter().powered
    }

    #[zbus(property)]
    fn set_powered(&self, powered: bool) {
        self.shared.adapter().powered = powered;
    }

    #[zbus(property)]
    fn discovering(&self) -> bool {
        self.shared.adapter().discovering
    }

    async fn set_discovery_filter(&self, filter: HashMap<String, OwnedValue>) {
        let uuids = match filter.get("UUIDs").map(|v| &**v) {
            Some(Value::Array(array)) => array
                .inner()
                .iter()
                .filter_map(|v| match v {
                    Value::Str(s) => Some(s.to_string()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        self.shared.adapter().filter_uuids = uuids;
    }

    /// Brings the devices in range (that pass the filter) onto the bus, as BlueZ does when it
    /// hears their advertisements.
    async fn start_discovery(
        &self,
        #[zbus(connection)] connection: &Connection,
        #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
    ) -> Result<(), BluezError> {
        let filter = {
            let mut adapter = self.shared.adapter();
            if !adapter.powered {
                return Err(BluezError::NotReady("Resource Not Ready".into()));
            }
            adapter.discovering = true;
            adapter.filter_uuids.clone()
        };
        self.discovering_changed(&emitter).await?;
        let server = connection.object_server();
        for device in self.shared.devices.iter().filter(|d| d.matches(&filter)) {
            let device1 = Device1 {
                device: Arc::clone(device),
                shared: Arc::clone(&self.shared),
            };
            server.at(device.path.as_str(), device1).await?;
        }
        Ok(())
    }

    /// Forgets the device: disconnects it, drops the bond BlueZ holds (the band keeps its own),
    /// and removes its object (the next discovery brings it back).
    async fn remove_device(
        &self,
        device: OwnedObjectPath,
        #[zbus(connection)] connection: &Connection,
    ) -> Result<(), BluezError> {
        let Some(device) = self.shared.device_at(device.as_str()) else {
            return Err(BluezError::DoesNotExist("Does Not Exist".into()));
        };
        let server = connection.object_server();
        if server
            .interface::<_, Device1>(device.path.as_str())
            .await
            .is_err()
        {
            return Err(BluezError::DoesNotExist("Does Not Exist".into()));
        }
        disconnect(connection, device).await;
        device.lock().paired = false;
        server.remove::<Device1, _>(device.path.as_str()).await?;
        Ok(())
    }

    async fn stop_discovery(
        &self,
        #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
    ) -> Result<(), BluezError> {
        self.shared.adapter().discovering = false;
        self.discovering_changed(&emitter).await?;
        Ok(())
    }
}

pub struct Device1 {
    pub device: Arc<Device>,
    pub shared: Arc<Shared>,
}

#[interface(name = "org.bluez.Device1", introspection_docs = false)]
impl Device1 {
    #[zbus(property)]
    fn address(&self) -> String {
        self.device.address.clone()
    }

    #[zbus(property)]
    fn address_type(&self) -> String {
        "random".into()
    }

    #[zbus(property)]
    fn name(&self) -> String {
        self.device.name.clone()
    }

    #[zbus(property)]
    fn alias(&self) -> String {
        self.device.name.clone()
    }

    #[zbus(property)]
    fn adapter(&self) -> OwnedObjectPath {
        object_path(ADAPTER_PATH)
    }

    #[zbus(property, name = "RSSI")]
    fn rssi(&self) -> i16 {
        self.device.rssi
    }

    #[zbus(property, name = "UUIDs")]
    fn uuids(&self) -> Vec<String> {
        self.device.advertised.iter().map(Uuid::to_string).collect()
    }

    #[zbus(property)]
    fn paired(&self) -> bool {
        self.device.lock().paired
    }

    #[zbus(property)]
    fn bonded(&self) -> bool {
        self.device.lock().paired
    }

    #[zbus(property)]
    fn trusted(&self) -> bool {
        false
    }

    #[zbus(property)]
    fn blocked(&self) -> bool {
        false
    }

    #[zbus(property)]
    fn legacy_pairing(&self) -> bool {
        false
    }

    #[zbus(property)]
    fn connected(&self) -> bool {
        self.device.lock().connected
    }

    #[zbus(property)]
    fn services_resolved(&self) -> bool {
        self.device.lock().services_resolved
    }

    /// Connects and resolves the GATT table: exports its objects, then Connected and
    /// ServicesResolved become true (in that order, as in BlueZ).
    async fn connect(&self, #[zbus(connection)] connection: &Connection) -> Result<(), BluezError> {
        connect(connection, &self.device, || {
            BluezError::Failed("le-connection-abort-by-local".into())
        })
        .await
    }

    /// Connects if needed, then pairs through the caller's agent (or the default one): see
    /// `pairing::pair`.
    async fn pair(
        &self,
        #[zbus(connection)] connection: &Connection,
        #[zbus(header)] header: zbus::message::Header<'_>,
    ) -> Result<(), BluezError> {
        if !self.shared.adapter().powered {
            return Err(BluezError::NotReady("Resource Not Ready".into()));
        }
        {
            let mut state = self.device.lock();
            state.pair_calls += 1;
            if state.paired {
                return Err(BluezError::AlreadyExists("Already Paired".into()));
            }
            if state.pairing {
                return Err(BluezError::InProgress("In Progress".into()));
            }
            state.pairing = true;
        }
        let (cancel, cancelled) = oneshot::channel();
        self.device.lock().cancel_pairing = Some(cancel);
        let caller = header.sender().map(|s| s.to_string());
        let result = async {
            connect(connection, &self.device, || {
                BluezError::ConnectionAttemptFailed("Page Timeout".into())
            })
            .await?;
            pairing::pair(connection, &self.shared, &self.device, caller, cancelled).await
        }
        .await;
        {
            let mut state = self.device.lock();
            state.pairing = false;
            state.cancel_pairing = None;
        }
        if result.is_ok() {
            let server = connection.object_server();
            if let Ok(device1) = server
                .interface::<_, Device1>(self.device.path.as_str())
                .await
            {
                let emitter = device1.signal_emitter();
                let _ = device1.get().await.paired_changed(emitter).await;
                let _ = device1.get().await.bonded_changed(emitter).await;
            }
        }
        result
    }

    /// Ends the Pair() under way: it fails with AuthenticationCanceled, the agent gets Cancel.
    fn cancel_pairing(&self) -> Result<(), BluezError> {
        match self.device.lock().cancel_pairing.take() {
            Some(cancel) => {
                let _ = cancel.send(());
                Ok(())
            }
            None => Err(BluezError::DoesNotExist("Does Not Exist".into())),
        }
    }

    async fn disconnect(&self, #[zbus(connection)] connection: &Connection) {
        disconnect(connection, &self.device).await;
    }
}

/// Connects `device` (nothing to do if it is connected): exports its GATT objects, then
/// Connected and ServicesResolved become true (in that order, as in BlueZ). A refused attempt
/// fails with `refused()`.
pub async fn connect(
    connection: &Connection,
    device: &Arc<Device>,
    refused: impl FnOnce() -> BluezError,
) -> Result<(), BluezError> {
    let hang = {
        let mut state = device.lock();
        state.connect_calls += 1;
        if state.connected {
            return Ok(());
        }
        if state.refuse_connections > 0 {
            state.refuse_connections -= 1;
            return Err(refused());
        }
        state.connect_hangs
    };
    if hang {
        // An unreachable device: the call never completes; the caller's timeout must fire.
        std::future::pending::<()>().await;
    }
    let server = connection.object_server();
    for (s, service) in device.services.iter().enumerate() {
        let service_path = device.service_path(s);
        let service1 = GattService1 {
            uuid: service.uuid,
            device: device.path.clone(),
        };
        server.at(service_path.as_str(), service1).await?;
        for (c, characteristic) in service.characteristics.iter().enumerate() {
            let characteristic1 = GattCharacteristic1 {
                uuid: characteristic.uuid,
                service: service_path.clone(),
                flags: characteristic.flags.iter().map(|f| f.to_string()).collect(),
                device: Arc::clone(device),
                value: Mutex::new(Vec::new()),
                notifying: Mutex::new(false),
            };
            server
                .at(device.characteristic_path(s, c).as_str(), characteristic1)
                .await?;
        }
    }
    {
        let mut state = device.lock();
        state.connected = true;
        state.behaviour.on_connect();
    }
    let device1 = server.interface::<_, Device1>(device.path.as_str()).await?;
    let emitter = device1.signal_emitter();
    device1.get().await.connected_changed(emitter).await?;
    device.lock().services_resolved = true;
    device1
        .get()
        .await
        .services_resolved_changed(emitter)
        .await?;
    Ok(())
}

/// Drops the connection the way BlueZ reports it: ServicesResolved false, Connected false, then
/// the GATT objects vanish.
pub async fn disconnect(connection: &Connection, device: &Arc<Device>) {
    {
        let mut state = device.lock();
        if !state.connected {
            return;
        }
        state.connected = false;
        state.services_resolved = false;
        state.behaviour.on_disconnect();
    }
    let server = connection.object_server();
    if let Ok(device1) = server.interface::<_, Device1>(device.path.as_str()).await {
        let emitter = device1.signal_emitter();
        let _ = device1.get().await.services_resolved_changed(emitter).await;
        let _ = device1.get().await.connected_changed(emitter).await;
    }
    for (s, service) in device.services.iter().enumerate() {
        for c in 0..service.characteristics.len() {
            let path = device.characteristic_path(s, c);
            let _ = server.remove::<GattCharacteristic1, _>(path.as_str()).await;
        }
        let _ = server
            .remove::<GattService1, _>(device.service_path(s).as_str())
            .await;
    }
}

/// Sends `value` as a notification on `uuid`, if the device is connected and a central
/// subscribed (otherwise the radio would not carry it either).
pub async fn notify(connection: &Connection, device: &Device, uuid: Uuid, value: Vec<u8>) {
    if !device.lock().connected {
        return;
    }
    let server = connection.object_server();
    for path in device.characteristic_paths(uuid) {
        let Ok(characteristic) = server
            .interface::<_, GattCharacteristic1>(path.as_str())
            .await
        else {
            continue;
        };
        let iface = characteristic.get().await;
        if !*iface.notifying.lock().unwrap_or_else(|e| e.into_inner()) {
            continue;
        }
        *iface.value.lock().unwrap_or_else(|e| e.into_inner()) = value.clone();
        let _ = iface.value_changed(characteristic.signal_emitter()).await;
    }
}

pub struct GattService1 {
    uuid: Uuid,
    device: String,
}

#[interface(name = "org.bluez.GattService1", introspection_docs = false)]
impl GattService1 {
    #[zbus(property, name = "UUID")]
    fn uuid(&self) -> String {
        self.uuid.to_string()
    }

    #[zbus(property)]
    fn primary(&self) -> bool {
        true
    }

    #[zbus(property)]
    fn device(&self) -> OwnedObjectPath {
        object_path(&self.device)
    }
}

pub struct GattCharacteristic1 {
    uuid: Uuid,
    service: String,
    flags: Vec<String>,
    device: Arc<Device>,
    value: Mutex<Vec<u8>>,
    notifying: Mutex<bool>,
}

impl GattCharacteristic1 {
    fn has_flag(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }

    /// What BlueZ's gatt-client answers when the band refuses a request with ATT "Insufficient
    /// Authentication" (0x05): `create_gatt_dbus_error` maps it to NotPermitted "Not paired".
    fn authenticated(&self) -> Result<(), BluezError> {
        if self.device.lock().authenticated() {
            Ok(())
        } else {
            Err(BluezError::NotPermitted("Not paired".into()))
        }
    }
}

#[interface(name = "org.bluez.GattCharacteristic1", introspection_docs = false)]
impl GattCharacteristic1 {
    #[zbus(property, name = "UUID")]
    fn uuid(&self) -> String {
        self.uuid.to_string()
    }

    #[zbus(property)]
    fn service(&self) -> OwnedObjectPath {
        object_path(&self.service)
    }

    #[zbus(property)]
    fn flags(&self) -> Vec<String> {
        self.flags.clone()
    }

    #[zbus(property, name = "MTU")]
    fn mtu(&self) -> u16 {
        self.device.mtu
    }

    #[zbus(property)]
    fn value(&self) -> Vec<u8> {
        self.value.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    #[zbus(property)]
    fn notifying(&self) -> bool {
        *self.notifying.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn read_value(
        &self,
        _options: HashMap<String, OwnedValue>,
    ) -> Result<Vec<u8>, BluezError> {
        if !self.has_flag("read") {
            return Err(BluezError::NotPermitted("Read not permitted".into()));
        }
        self.authenticated()?;
        Ok(self.value())
    }

    /// Hands the write to the peripheral behaviour; its answers are queued as notifications.
    async fn write_value(
        &self,
        value: Vec<u8>,
        options: HashMap<String, OwnedValue>,
    ) -> Result<(), BluezError> {
        let with_response = match options.get("type").map(|v| &**v) {
            Some(Value::Str(kind)) => kind.as_str() != "command",
            _ => self.has_flag("write"),
        };
        let (flag, max_len) = if with_response {
            ("write", 512)
        } else {
            ("write-without-response", usize::from(self.device.mtu) - 3)
        };
        if !self.has_flag(flag) {
            return Err(BluezError::NotPermitted(format!("{flag} not permitted")));
        }
        if value.len() > max_len {
            return Err(BluezError::InvalidValueLength(format!(
                "{} bytes, at most {max_len}",
                value.len()
            )));
        }
        if !with_response && !self.device.lock().authenticated() {
            // A write command gets no ATT response: BlueZ reports success, the band drops it.
            self.device.lock().dropped_commands += 1;
            return Ok(());
        }
        self.authenticated()?;
        let answers = self
            .device
            .lock()
            .behaviour
            .on_write(self.uuid, &value, with_response);
        for (uuid, value) in answers {
            let _ = self
                .device
                .commands
                .send(DeviceCommand::Notify(uuid, value));
        }
        Ok(())
    }

    async fn start_notify(
        &self,
        #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
    ) -> Result<(), BluezError> {
        if !self.has_flag("notify") && !self.has_flag("indicate") {
            return Err(BluezError::NotPermitted("Notify not permitted".into()));
        }
        // The CCCD write is refused like any other request.
        self.authenticated()?;
        *self.notifying.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.notifying_changed(&emitter).await?;
        Ok(())
    }

    async fn stop_notify(
        &self,
        #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
    ) -> Result<(), BluezError> {
        let was = std::mem::replace(
            &mut *self.notifying.lock().unwrap_or_else(|e| e.into_inner()),
            false,
        );
        if !was {
            return Err(BluezError::Failed("No notify session started".into()));
        }
        self.notifying_changed(&emitter).await?;
        Ok(())
    }
}
