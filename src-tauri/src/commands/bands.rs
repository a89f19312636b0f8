//! Bands screen: scan, connect (a real band or the virtual one), band info, the virtual wearer.

use std::str::FromStr;
use std::sync::Arc;

use bandx_desktop::link::sim::{Activity, Style};
use serde::Serialize;
use tauri::{AppHandle, State};

use crate::UiError;
use crate::events::{self, BandState, BandStateReason};
use crate::state::{AppState, ConnectedBand, LinkKind, now_ms};
use bandx_desktop::band::BandClient;
use bandx_desktop::link::ble::BleLink;
use bandx_desktop::link::sim::SimLink;
use bandx_desktop::link::sim::sim_config;
use bandx_desktop::link::{DisconnectReason, Link, ScanRequest, disconnected};
use bandx_desktop::owner::{OwnerKeyFile, claim_band};

/// The app's version (the About line; the e2e test checks the UI reaches the core with it).
#[tauri::command]
pub fn app_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// A band heard during a scan.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct ScanRow {
    pub id: String,
    pub address: String,
    pub name: String,
    /// dBm, when the adapter reported it.
    pub rssi: Option<i16>,
}

/// Everything the Bands screen shows about the connected band.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct BandView {
    /// The link's id for the band (pass it back to pair, unpair or connect).
    pub id: String,
    pub name: String,
    pub address: String,
    pub kind: LinkKind,
    pub firmware: String,
    pub protocol_version: u8,
    pub battery_percent: u8,
    pub sample_rate_hz: u8,
    pub model: Option<ModelView>,
    pub imu_streaming: bool,
    pub predicting: bool,
    pub mtu: u16,
}

/// The model the band runs.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct ModelView {
    pub id: u32,
    pub version: u32,
    pub classes: Vec<String>,
}

/// What the virtual band's wearer is doing.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct WearerView {
    /// Every activity the wearer's recordings have, in dataset order.
    pub activities: Vec<String>,
    pub activity: String,
    pub style: WearerStyle,
}

/// How the virtual wearer wears the band.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum WearerStyle {
    Natural,
    /// Other wrist, twisted, slower.
    Different,
}

/// Listens for BandX bands over Bluetooth for 3 seconds, strongest first.
#[tauri::command]
pub async fn scan_bands(state: State<'_, AppState>) -> Result<Vec<ScanRow>, UiError> {
    let link = ble_link(&state).await?;
    let found = link.scan(ScanRequest::default()).await?;
    let mut links = state.links.lock().await;
    let rows = found
        .iter()
        .map(|r| ScanRow {
            id: r.id.clone(),
            address: r.address.clone(),
            name: r.name.clone().unwrap_or_else(|| "BandX".into()),
            rssi: r.rssi,
        })
        .collect();
    for r in found {
        links.seen.insert(r.id.clone(), r);
    }
    Ok(rows)
}

/// Connects to a band found by [`scan_bands`].
#[tauri::command]
pub async fn connect_band(
    app: AppHandle,
    state: State<'_, AppState>,
    id: String,
) -> Result<BandView, UiError> {
    let link: Arc<dyn Link> = ble_link(&state).await?;
    let seen = state.links.lock().await.seen.get(&id).cloned();
    let (address, name) = seen.map_or((id.clone(), "BandX".to_string()), |r| {
        (r.address, r.name.unwrap_or_else(|| "BandX".into()))
    });
    let view = attach(
        &app,
        &state,
        link,
        LinkKind::Bluetooth,
        &id,
        &address,
        &name,
    )
    .await?;
    state.remember_band(&id);
    Ok(view)
}

/// Starts the built-in virtual band (once) and connects to it.
#[tauri::command]
pub async fn use_virtual_band(
    app: AppHandle,
    state: State<'_, AppState>,
) -> Result<BandView, UiError> {
    let sim = sim_link(&state).await?;
    let ad = sim.band().scan_result();
    let link: Arc<dyn Link> = sim;
    attach(
        &app,
        &state,
        link,
        LinkKind::Virtual,
        &ad.id,
        &ad.address,
        &ad.name,
    )
    .await
}

/// Disconnects the band (stopping whatever streamed from it).
#[tauri::command]
pub async fn disconnect_band(app: AppHandle, state: State<'_, AppState>) -> Result<(), UiError> {
    refuse_while_checked_out(&state)?;
    let band = state.band.lock().await.take();
    if let Some(band) = band {
        // Already gone is fine: the user wanted it gone.
        let _ = band.client.connection().disconnect().await;
        events::emit(
            &app,
            events::BAND_STATE,
            BandState {
                connected: false,
                reason: BandStateReason::Requested,
                name: Some(band.name.clone()),
            },
        );
    }
    Ok(())
}

/// The connected band's info, asked afresh; `None` when no band is connected.
#[tauri::command]
pub async fn band_info(state: State<'_, AppState>) -> Result<Option<BandView>, UiError> {
    let checked_out = state
        .band_user
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .is_some();
    if !checked_out && state.band.lock().await.is_none() {
        return Ok(None);
    }
    let band = state.connected().await?;
    Ok(Some(view(&band).await?))
}

/// The virtual wearer's activities and what they are doing now (starts the virtual band's link
/// if needed, without connecting).
#[tauri::command]
pub async fn virtual_wearer(state: State<'_, AppState>) -> Result<WearerView, UiError> {
    let link = sim_link(&state).await?;
    let view = link
        .band()
        .with_wearer(|w| WearerView {
            activities: w
                .activities()
                .iter()
                .map(|a| a.name().to_string())
                .collect(),
            activity: w.activity().name().to_string(),
            style: if w.style() == Style::NATURAL {
                WearerStyle::Natural
            } else {
                WearerStyle::Different
            },
        })
        .map_err(|e| {
            UiError::new(
                "virtual_band",
                format!("The virtual band is off ({e})"),
                "Restart BandX Studio",
            )
        })?;
    Ok(view)
}

/// What the virtual wearer does from now on.
#[tauri::command]
pub async fn set_wearer_activity(
    state: State<'_, AppState>,
    activity: String,
) -> Result<(), UiError> {
    let activity = Activity::from_str(&activity)
        .map_err(|e| UiError::new("invalid", e.to_string(), "Pick an activity from the list"))?;
    let link = sim_link(&state).await?;
    link.band().set_activity(activity).map_err(|e| {
        UiError::new(
            "invalid",
            format!("The wearer cannot do that ({e})"),
            "Pick another activity from the list",
        )
    })
}

/// How the virtual wearer wears the band: `natural` or `different`.
#[tauri::command]
pub async fn set_wearer_style(state: State<'_, AppState>, style: String) -> Result<(), UiError> {
    let style = match style.as_str() {
        "natural" => Style::NATURAL,
        "different" => Style::DIFFERENT,
        other => {
            return Err(UiError::new(
                "invalid",
                format!("\"{other}\" is not a wearer style"),
                "Pick natural or different",
            ));
        }
    };
    let link = sim_link(&state).await?;
    link.band().set_style(style).map_err(|e| {
        UiError::new(
            "invalid",
            format!("The wearer cannot wear the band that way ({e})"),
            "Pick another style",
        )
    })
}

/// A job has the band to itself: connecting or disconnecting now would pull it from under it.
fn refuse_while_checked_out(state: &AppState) -> Result<(), UiError> {
    match *state.band_user.lock().unwrap_or_else(|e| e.into_inner()) {
        Some(job) => Err(UiError::new(
            "busy",
            format!("{} is using the band", job.label()),
            "Stop it first",
        )),
        None => Ok(()),
    }
}

pub(crate) async fn ble_link(state: &AppState) -> Result<Arc<BleLink>, UiError> {
    let mut links = state.links.lock().await;
    if let Some(link) = &links.ble {
        return Ok(link.clone());
    }
    let link = Arc::new(BleLink::new().await?);
    links.ble = Some(link.clone());
    Ok(link)
}

pub(crate) async fn sim_link(state: &AppState) -> Result<Arc<SimLink>, UiError> {
    let mut links = state.links.lock().await;
    if let Some(link) = &links.sim {
        return Ok(link.clone());
    }
    let link = Arc::new(SimLink::with_config(sim_config(&state.data()))?);
    links.sim = Some(link.clone());
    Ok(link)
}

/// Connects, reads the band's info, remembers the band in the store, and watches for it going away.
async fn attach(
    app: &AppHandle,
    state: &AppState,
    link: Arc<dyn Link>,
    kind: LinkKind,
    id: &str,
    address: &str,
    name: &str,
) -> Result<BandView, UiError> {
    refuse_while_checked_out(state)?;
    let mut slot = state.band.lock().await;
    if let Some(old) = slot.take() {
        let _ = old.client.connection().disconnect().await;
    }
    let conn = link.connect(id).await?;
    let client = BandClient::new(conn).await?;
    // A band nobody owns yet (just paired) takes this desktop's owner key.
    match OwnerKeyFile::load_or_create(&state.data()) {
        Ok(owner) => match claim_band(&client, &owner).await {
            Ok(true) => {}
            Ok(false) => tracing::warn!(
                "the band belongs to another desktop: it will refuse updates from this one"
            ),
            Err(e) => tracing::warn!("cannot check the band's owner: {e}"),
        },
        Err(e) => tracing::warn!("no owner key: {e}"),
    }
    // The band stamps its activity log with this clock.
    bandx_desktop::sync::set_clock(&client).await;
    let band_id = state.store().upsert_band(address, name, now_ms())?;
    let band = Arc::new(ConnectedBand {
        client,
        link,
        kind,
        id: id.to_string(),
        address: address.to_string(),
        name: name.to_string(),
        band_id,
    });
    let view = view(&band).await?;
    *slot = Some(band.clone());
    drop(slot);
    watch_connection(app.clone(), state.clone(), &band);
    events::emit(
        app,
        events::BAND_STATE,
        BandState {
            connected: true,
            reason: BandStateReason::Connected,
            name: Some(name.to_string()),
        },
    );
    Ok(view)
}

/// When the band goes away on its own, forget it and tell the window.
pub(crate) fn watch_connection(app: AppHandle, state: AppState, band: &Arc<ConnectedBand>) {
    let mut watch = band.client.connection().state();
    let weak = Arc::downgrade(band);
    tauri::async_runtime::spawn(async move {
        let reason = disconnected(&mut watch).await;
        let mut slot = state.band.lock().await;
        let same = slot
            .as_ref()
            .is_some_and(|b| weak.upgrade().is_some_and(|w| Arc::ptr_eq(b, &w)));
        if !same {
            return;
        }
        let band = slot.take();
        drop(slot);
        events::emit(
            &app,
            events::BAND_STATE,
            BandState {
                connected: false,
                reason: match reason {
                    DisconnectReason::Requested => BandStateReason::Requested,
                    DisconnectReason::Lost => BandStateReason::Lost,
                },
                name: band.map(|b| b.name.clone()),
            },
        );
    });
}

pub(crate) async fn view(band: &ConnectedBand) -> Result<BandView, UiError> {
    // GetInfo has the client's own request timeout.
    let info = band.client.get_info().await?;
    Ok(BandView {
        id: band.id.clone(),
        name: band.name.clone(),
        address: band.address.clone(),
        kind: band.kind,
        firmware: info.firmware_version.to_string(),
        protocol_version: info.protocol_version,
        battery_percent: info.battery_percent,
        sample_rate_hz: info.sample_rate_hz,
        model: info.model.map(|m| ModelView {
            id: m.id,
            version: m.version,
            classes: m.labels.iter().map(|l| l.to_string()).collect(),
        }),
        imu_streaming: info.imu_streaming,
        predicting: info.predicting,
        mtu: band.client.connection().mtu(),
    })
}
