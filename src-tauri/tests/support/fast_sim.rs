//! The virtual band behind the desktop's `Link`, on the sim's virtual clock paced faster than real
//! time, so a 15-window calibration (24 s of band time) takes about a second.
//!
//! `SimLink` (the app's adapter) always runs the band in real time; this is the same adapter recipe
//! (firmware/sim/README.md) with a pacer thread that steps the virtual clock one band tick at a time.
//! Everything on the band side is the real bandx-sim: exact GATT bytes, bandx-core's band, faults.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use async_trait::async_trait;
use bandx_sim::{LinkEvent, SimBand, SimConfig, SimConnection, SimError};
use bandx_studio::link::sim::{FLASH_FILE_NAME, SHIPPED_MODEL};
use bandx_studio::link::{
    Characteristic, Connection, ConnectionState, DisconnectReason, Link, LinkError, Notification,
    ScanRequest, ScanResult,
};
use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::sync::{mpsc, watch};

/// Steps the band one tick (50 ms of band time) every `50 ms / speed` of wall time.
struct Pacer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Pacer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub struct FastSimLink {
    band: SimBand,
    _pacer: Arc<Pacer>,
}

impl FastSimLink {
    /// The virtual band with its flash in `dir` (fresh: the shipped model), `speed` times real time.
    pub fn open(dir: &Path, speed: u32) -> FastSimLink {
        let config = SimConfig::new(dir.join(FLASH_FILE_NAME), Some(SHIPPED_MODEL.to_vec()));
        let band = SimBand::new(config).expect("the virtual band starts");
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, stepped) = (stop.clone(), band.clone());
        let period = bandx_sim::TICK / speed.max(1);
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                stepped.step(1).expect("virtual clock");
                std::thread::sleep(period);
            }
        });
        FastSimLink {
            band,
            _pacer: Arc::new(Pacer {
                stop,
                thread: Some(thread),
            }),
        }
    }

    pub fn band(&self) -> &SimBand {
        &self.band
    }
}

#[async_trait]
impl Link for FastSimLink {
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
        let conn = self
            .band
            .connect(bandx_sim::MAX_MTU)
            .map_err(|e| LinkError::Gatt(e.to_string()))?;
        let (tx, state) = watch::channel(ConnectionState::Connected);
        let events = conn.events();
        std::thread::spawn(move || {
            while let Ok(LinkEvent::Disconnected(reason)) = events.recv() {
                tx.send_replace(ConnectionState::Disconnected(match reason {
                    bandx_sim::DisconnectReason::Requested => DisconnectReason::Requested,
                    bandx_sim::DisconnectReason::Lost => DisconnectReason::Lost,
                }));
            }
        });
        Ok(Box::new(FastConnection {
            id: ad.id,
            conn: Arc::new(conn),
            state,
            _pacer: self._pacer.clone(),
        }))
    }
}

struct FastConnection {
    id: String,
    conn: Arc<SimConnection>,
    state: watch::Receiver<ConnectionState>,
    _pacer: Arc<Pacer>,
}

fn link_error(e: SimError) -> LinkError {
    match e {
        SimError::NotConnected => LinkError::ConnectionLost,
        SimError::NoAck => LinkError::Timeout {
            operation: "write acknowledgement",
            after: Duration::from_secs(30),
        },
        other => LinkError::Gatt(other.to_string()),
    }
}

impl FastConnection {
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
        .map_err(|e| LinkError::Gatt(e.to_string()))?
        .map_err(link_error)
    }
}

#[async_trait]
impl Connection for FastConnection {
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
        std::thread::spawn(move || {
            while let Ok(n) = from_band.recv() {
                let n = Notification {
                    characteristic: n.characteristic,
                    value: n.value,
                };
                if tx.send(n).is_err() {
                    break;
                }
            }
        });
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
