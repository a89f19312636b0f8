//! A real band over Bluetooth Low Energy: btleplug (BlueZ over D-Bus on Linux).
//!
//! Scans ask the adapter for the BandX service UUID; a connection discovers the service, reads the
//! MTU BlueZ negotiated, and watches the adapter's events to notice at once when the band drops.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use btleplug::api::{
    Central, CentralEvent, CentralState, Manager as _, Peripheral as _, ScanFilter, WriteType,
};
use btleplug::platform::{Adapter, Manager, Peripheral, PeripheralId};
use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::sync::watch;

use super::{
    BANDX_SERVICE_UUID, Characteristic, Connection, ConnectionState, DisconnectReason, Link,
    LinkError, Notification, PairError, PasskeyEntry, ScanRequest, ScanResult, characteristic_of,
};

/// Time limits for the steps of talking to a band.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BleOptions {
    /// Connecting, including service discovery.
    pub connect_timeout: Duration,
    /// One GATT operation (write, subscribe).
    pub gatt_timeout: Duration,
}

impl Default for BleOptions {
    fn default() -> Self {
        BleOptions {
            connect_timeout: Duration::from_secs(10),
            gatt_timeout: Duration::from_secs(5),
        }
    }
}

/// The first Bluetooth adapter of this machine.
pub struct BleLink {
    adapter: Adapter,
    options: BleOptions,
}

impl BleLink {
    /// Opens the first Bluetooth adapter, or says why there is none ([`LinkError::NoAdapter`]).
    pub async fn new() -> Result<BleLink, LinkError> {
        BleLink::with_options(BleOptions::default()).await
    }

    pub async fn with_options(options: BleOptions) -> Result<BleLink, LinkError> {
        let manager = Manager::new()
            .await
            .map_err(|e| LinkError::NoAdapter(format!("cannot reach the system D-Bus: {e}")))?;
        let adapters = manager
            .adapters()
            .await
            .map_err(|e| match map_error(e, "") {
                no_adapter @ LinkError::NoAdapter(_) => no_adapter,
                other => LinkError::NoAdapter(other.to_string()),
            })?;
        let adapter = adapters.into_iter().next().ok_or_else(|| {
            LinkError::NoAdapter("BlueZ is running but has no adapter".to_string())
        })?;
        Ok(BleLink { adapter, options })
    }

    async fn ensure_powered(&self) -> Result<(), LinkError> {
        match self
            .adapter
            .adapter_state()
            .await
            .map_err(|e| map_error(e, ""))?
        {
            CentralState::PoweredOff => Err(LinkError::BluetoothOff),
            CentralState::PoweredOn | CentralState::Unknown => Ok(()),
        }
    }

    /// The peripheral BlueZ knows under this id or address.
    async fn find(&self, id: &str) -> Result<Peripheral, LinkError> {
        let peripherals = self
            .adapter
            .peripherals()
            .await
            .map_err(|e| map_error(e, id))?;
        peripherals
            .into_iter()
            .find(|p| p.id().to_string() == id || p.address().to_string().eq_ignore_ascii_case(id))
            .ok_or_else(|| LinkError::NotFound(id.to_string()))
    }

    async fn describe(peripheral: &Peripheral) -> Result<ScanResult, LinkError> {
        let id = peripheral.id().to_string();
        let properties = peripheral
            .properties()
            .await
            .map_err(|e| map_error(e, &id))?
            .unwrap_or_default();
        Ok(ScanResult {
            address: peripheral.address().to_string(),
            name: properties.local_name.or(properties.advertisement_name),
            rssi: properties.rssi,
            bandx: properties.services.contains(&BANDX_SERVICE_UUID),
            id,
        })
    }
}

#[async_trait]
impl Link for BleLink {
    async fn scan(&self, request: ScanRequest) -> Result<Vec<ScanResult>, LinkError> {
        self.ensure_powered().await?;
        let filter = ScanFilter {
            services: if request.bandx_only {
                vec![BANDX_SERVICE_UUID]
            } else {
                Vec::new()
            },
        };
        self.adapter
            .start_scan(filter)
            .await
            .map_err(|e| map_error(e, ""))?;
        tokio::time::sleep(request.duration).await;
        if let Err(error) = self.adapter.stop_scan().await {
            tracing::warn!(%error, "stopping the scan failed");
        }

        let mut found = Vec::new();
        let peripherals = self
            .adapter
            .peripherals()
            .await
            .map_err(|e| map_error(e, ""))?;
        for peripheral in &peripherals {
            match BleLink::describe(peripheral).await {
                Ok(result) if result.bandx || !request.bandx_only => found.push(result),
                Ok(_) => {}
                // A device can vanish between listing and reading it: skip it.
                Err(error) => tracing::debug!(%error, "skipping a device"),
            }
        }
        found.sort_by_key(|r| std::cmp::Reverse(r.rssi.unwrap_or(i16::MIN)));
        Ok(found)
    }

    async fn connect(&self, id: &str) -> Result<Box<dyn Connection>, LinkError> {
        self.ensure_powered().await?;
        let peripheral = self.find(id).await?;
        // Listen before connecting, so a drop right after the connection is not missed.
        let events = self.adapter.events().await.map_err(|e| map_error(e, id))?;

        let connect = async {
            peripheral.connect().await?;
            peripheral.discover_services().await
        };
        with_timeout("connecting", self.options.connect_timeout, id, connect).await?;

        let characteristics: Vec<(Characteristic, btleplug::api::Characteristic)> = peripheral
            .characteristics()
            .into_iter()
            .filter(|c| c.service_uuid == BANDX_SERVICE_UUID)
            .filter_map(|c| characteristic_of(c.uuid).map(|name| (name, c)))
            .collect();
        if characteristics.is_empty() {
            if let Err(error) = peripheral.disconnect().await {
                tracing::debug!(%error, "disconnecting a device that is not a band");
            }
            return Err(LinkError::Gatt(format!(
                "{id} does not offer the BandX service"
            )));
        }

        let (state_tx, state_rx) = watch::channel(ConnectionState::Connected);
        let state_tx = Arc::new(state_tx);
        tokio::spawn(watch_for_drop(
            events,
            peripheral.id(),
            Arc::clone(&state_tx),
        ));
        tracing::info!(%id, mtu = peripheral.mtu(), "connected");
        Ok(Box::new(BleConnection {
            id: id.to_string(),
            peripheral,
            characteristics,
            state_tx,
            state_rx,
            options: self.options,
        }))
    }

    async fn pair(&self, _id: &str, _passkey: &dyn PasskeyEntry) -> Result<(), PairError> {
        // Pairing through BlueZ's Agent1 lands with the agent module; until then the OS's own
        // Bluetooth settings pair the band.
        Err(PairError::Link(LinkError::Gatt(
            "pair the band in the system's Bluetooth settings (BandX Studio's own pairing step is not available here yet)"
                .into(),
        )))
    }

    async fn unpair(&self, _id: &str) -> Result<(), PairError> {
        Err(PairError::Link(LinkError::Gatt(
            "remove the band in the system's Bluetooth settings".into(),
        )))
    }
}

/// Marks the connection lost when the adapter reports the device disconnected (unless it was
/// closed on purpose first). Ends with the connection.
async fn watch_for_drop(
    mut events: std::pin::Pin<Box<dyn futures::Stream<Item = CentralEvent> + Send>>,
    device: PeripheralId,
    state: Arc<watch::Sender<ConnectionState>>,
) {
    loop {
        tokio::select! {
            event = events.next() => match event {
                Some(CentralEvent::DeviceDisconnected(id)) if id == device => {
                    mark_disconnected(&state, DisconnectReason::Lost);
                    return;
                }
                Some(_) => {}
                None => {
                    // The D-Bus connection itself is gone: so is the band.
                    mark_disconnected(&state, DisconnectReason::Lost);
                    return;
                }
            },
            _ = state.closed() => return,
        }
    }
}

/// Records the end of a connection, unless it already ended. Returns whether it was up.
fn mark_disconnected(state: &watch::Sender<ConnectionState>, reason: DisconnectReason) -> bool {
    state.send_if_modified(|s| {
        let was_up = *s == ConnectionState::Connected;
        if was_up {
            *s = ConnectionState::Disconnected(reason);
        }
        was_up
    })
}

struct BleConnection {
    id: String,
    peripheral: Peripheral,
    characteristics: Vec<(Characteristic, btleplug::api::Characteristic)>,
    state_tx: Arc<watch::Sender<ConnectionState>>,
    state_rx: watch::Receiver<ConnectionState>,
    options: BleOptions,
}

impl BleConnection {
    fn characteristic(
        &self,
        characteristic: Characteristic,
    ) -> Result<&btleplug::api::Characteristic, LinkError> {
        if *self.state_rx.borrow() != ConnectionState::Connected {
            return Err(LinkError::ConnectionLost);
        }
        self.characteristics
            .iter()
            .find(|(name, _)| *name == characteristic)
            .map(|(_, c)| c)
            .ok_or_else(|| {
                LinkError::Gatt(format!("the band has no {characteristic:?} characteristic"))
            })
    }

    async fn write_as(
        &self,
        characteristic: Characteristic,
        value: &[u8],
        write_type: WriteType,
    ) -> Result<(), LinkError> {
        let target = self.characteristic(characteristic)?;
        let write = self.peripheral.write(target, value, write_type);
        with_timeout("writing", self.options.gatt_timeout, &self.id, write).await
    }
}

/// Dropping a connection closes it, so a forgotten connection does not keep the band busy.
impl Drop for BleConnection {
    fn drop(&mut self) {
        let was_up = mark_disconnected(&self.state_tx, DisconnectReason::Requested);
        if let (true, Ok(runtime)) = (was_up, tokio::runtime::Handle::try_current()) {
            let peripheral = self.peripheral.clone();
            runtime.spawn(async move {
                if let Err(error) = peripheral.disconnect().await {
                    tracing::debug!(%error, "disconnecting a dropped connection");
                }
            });
        }
    }
}

#[async_trait]
impl Connection for BleConnection {
    fn id(&self) -> &str {
        &self.id
    }

    fn mtu(&self) -> u16 {
        self.peripheral.mtu()
    }

    async fn subscribe(&self, characteristic: Characteristic) -> Result<(), LinkError> {
        let target = self.characteristic(characteristic)?;
        let subscribe = self.peripheral.subscribe(target);
        with_timeout(
            "subscribing",
            self.options.gatt_timeout,
            &self.id,
            subscribe,
        )
        .await
    }

    async fn notifications(&self) -> Result<BoxStream<'static, Notification>, LinkError> {
        let stream = self
            .peripheral
            .notifications()
            .await
            .map_err(|e| map_error(e, &self.id))?;
        Ok(stream
            .filter_map(|n| async move {
                if n.service_uuid != BANDX_SERVICE_UUID {
                    return None;
                }
                Some(Notification {
                    characteristic: characteristic_of(n.uuid)?,
                    value: n.value,
                })
            })
            .boxed())
    }

    async fn write(&self, characteristic: Characteristic, value: &[u8]) -> Result<(), LinkError> {
        self.write_as(characteristic, value, WriteType::WithResponse)
            .await
    }

    async fn write_without_response(
        &self,
        characteristic: Characteristic,
        value: &[u8],
    ) -> Result<(), LinkError> {
        // A write command must fit in one packet; BlueZ would otherwise fail it with a vague error.
        let max = self.max_write_len();
        if value.len() > max {
            return Err(LinkError::Gatt(format!(
                "a write without response carries at most {max} bytes at this MTU, got {}",
                value.len()
            )));
        }
        self.write_as(characteristic, value, WriteType::WithoutResponse)
            .await
    }

    async fn disconnect(&self) -> Result<(), LinkError> {
        mark_disconnected(&self.state_tx, DisconnectReason::Requested);
        let disconnect = self.peripheral.disconnect();
        match with_timeout(
            "disconnecting",
            self.options.gatt_timeout,
            &self.id,
            disconnect,
        )
        .await
        {
            // Already gone is what we wanted.
            Err(LinkError::ConnectionLost) => Ok(()),
            other => other,
        }
    }

    fn state(&self) -> watch::Receiver<ConnectionState> {
        self.state_rx.clone()
    }
}

async fn with_timeout<T>(
    operation: &'static str,
    after: Duration,
    id: &str,
    future: impl Future<Output = btleplug::Result<T>>,
) -> Result<T, LinkError> {
    match tokio::time::timeout(after, future).await {
        Ok(result) => result.map_err(|e| map_error(e, id)),
        Err(_) => Err(LinkError::Timeout { operation, after }),
    }
}

/// Turns a btleplug error into the state the user sees. `id` names the device involved, if any.
fn map_error(error: btleplug::Error, id: &str) -> LinkError {
    use btleplug::Error as E;
    match error {
        E::DeviceNotFound => LinkError::NotFound(id.to_string()),
        E::NotConnected => LinkError::ConnectionLost,
        E::NoAdapterAvailable => LinkError::NoAdapter("no Bluetooth adapter available".into()),
        E::PermissionDenied => LinkError::NoAdapter("permission to use Bluetooth denied".into()),
        E::TimedOut(after) => LinkError::Timeout {
            operation: "a Bluetooth operation",
            after,
        },
        E::Other(other) => map_platform_error(other.as_ref(), id),
        other => LinkError::Gatt(other.to_string()),
    }
}

#[cfg(target_os = "linux")]
fn map_platform_error(
    error: &(dyn std::error::Error + Send + Sync + 'static),
    id: &str,
) -> LinkError {
    use bluez_async::BluetoothError;
    match error.downcast_ref::<BluetoothError>() {
        Some(BluetoothError::DbusError(dbus)) => {
            map_dbus_error(dbus.name().unwrap_or(""), dbus.message().unwrap_or(""), id)
        }
        Some(BluetoothError::NoBluetoothAdapters) => {
            LinkError::NoAdapter("BlueZ has no adapter".into())
        }
        Some(BluetoothError::ServiceDiscoveryTimedOut) => LinkError::Timeout {
            operation: "service discovery",
            after: Duration::from_secs(30),
        },
        _ => LinkError::Gatt(error.to_string()),
    }
}

#[cfg(not(target_os = "linux"))]
fn map_platform_error(
    error: &(dyn std::error::Error + Send + Sync + 'static),
    _id: &str,
) -> LinkError {
    LinkError::Gatt(error.to_string())
}

/// D-Bus and BlueZ error names, as the UI should read them.
fn map_dbus_error(name: &str, message: &str, id: &str) -> LinkError {
    match name {
        // A bus without BlueZ on it.
        "org.freedesktop.DBus.Error.ServiceUnknown"
        | "org.freedesktop.DBus.Error.NameHasNoOwner" => {
            LinkError::NoAdapter("the Bluetooth service (BlueZ) is not running".into())
        }
        "org.freedesktop.DBus.Error.NoServer" | "org.freedesktop.DBus.Error.FileNotFound" => {
            LinkError::NoAdapter("no system D-Bus".into())
        }
        "org.freedesktop.DBus.Error.AccessDenied" => {
            LinkError::NoAdapter("permission to use Bluetooth denied".into())
        }
        "org.bluez.Error.NotReady" => LinkError::BluetoothOff,
        "org.bluez.Error.DoesNotExist" => LinkError::NotFound(id.to_string()),
        // The device's objects vanish from BlueZ when it disconnects.
        "org.bluez.Error.NotConnected" | "org.freedesktop.DBus.Error.UnknownObject" => {
            LinkError::ConnectionLost
        }
        "org.bluez.Error.Failed" if message.eq_ignore_ascii_case("not connected") => {
            LinkError::ConnectionLost
        }
        "org.freedesktop.DBus.Error.NoReply" | "org.freedesktop.DBus.Error.Timeout" => {
            LinkError::Timeout {
                operation: "a Bluetooth request",
                after: Duration::from_secs(30),
            }
        }
        _ => LinkError::Gatt(format!("{name}: {message}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dbus_errors_read_as_ui_states() {
        assert!(matches!(
            map_dbus_error("org.freedesktop.DBus.Error.ServiceUnknown", "", "x"),
            LinkError::NoAdapter(_)
        ));
        assert!(matches!(
            map_dbus_error("org.bluez.Error.NotReady", "Resource Not Ready", "x"),
            LinkError::BluetoothOff
        ));
        assert!(matches!(
            map_dbus_error("org.freedesktop.DBus.Error.UnknownObject", "", "x"),
            LinkError::ConnectionLost
        ));
        assert!(matches!(
            map_dbus_error("org.bluez.Error.Failed", "Not connected", "x"),
            LinkError::ConnectionLost
        ));
        match map_dbus_error(
            "org.bluez.Error.Failed",
            "le-connection-abort-by-local",
            "x",
        ) {
            LinkError::Gatt(message) => assert!(message.contains("le-connection-abort-by-local")),
            other => panic!("expected a GATT error, got {other:?}"),
        }
    }
}
