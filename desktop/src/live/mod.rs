//! Live: the band's own predictions shown and stored, checked by shadow inference on the desktop,
//! and the per-day history built from them.
//!
//! [`run_live`] starts the band's IMU stream and predictions, stores each prediction (batched, with
//! its class name from the active model's labels as GetInfo reports them) and emits [`LiveEvent`]s.
//! A dropped link pauses it; it reconnects with backoff and goes on.
//!
//! **Shadow inference** ([`Shadow`]): the desktop runs the same int8 blob with bandx-core's engine
//! on the raw IMU stream, windowed by bandx-core's `Windower`, and compares each of its windows with
//! the band's prediction for the same window. Alignment: a prediction carries the band-clock time of
//! its window's last sample, and every IMU sample carries its band-clock time, so a band window is
//! "the 60 samples ending at the prediction's timestamp". The shadow's windower is phase-locked on
//! the first band prediction whose 60 samples it holds (it is fed exactly those samples, then every
//! sample after, yielding a window every 30 like the band's); it relocks whenever a band window does
//! not line up (a gap in the stream, a new connection, the band restarting its windows). Windows
//! are then matched by end timestamp. A band prediction whose samples the desktop did not receive
//! (lost frames) is counted as unmatched, not as a disagreement. Since both sides run the same
//! integer engine on the same counts, agreement is 100 % unless the windows are misaligned.
//!
//! Modules: [`shadow`] (the desktop's check of every band window), [`history`] (per-day minutes per class),
//! [`day`] (one day's merged timeline).

mod day;
mod history;
mod shadow;

pub use day::{DaySegment, DayTimeline, MUTED_ROWS, Source, day_timeline, row_label};
pub use history::{DailyHistory, WINDOW_SECONDS, daily_history};
pub use shadow::{Shadow, ShadowMatch, deployed_blob};

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bandx_core::blob::BlobError;

use crate::band::{BandClient, BandError};
use crate::calibrate::{CalibrateError, reconnect_client};
use crate::link::{Backoff, Link, LinkError, disconnected};
use crate::store::{BandId, NewPrediction, ProfileId, Store, StoreError, UnixMs};

/// What can stop a live session.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Band(#[from] BandError),
    #[error("the band did not come back: {0}")]
    Reconnect(#[source] LinkError),
    /// The band has no active model to predict with.
    #[error("the band has no model: deploy one first")]
    NoModel,
    /// The blob given for shadow inference is not the band's active model.
    #[error("the shadow model is not the band's model: {0}")]
    ShadowModel(String),
    #[error("the shadow model blob is invalid: {0:?}")]
    Blob(BlobError),
}

impl From<CalibrateError> for LiveError {
    fn from(e: CalibrateError) -> Self {
        match e {
            CalibrateError::Store(e) => LiveError::Store(e),
            CalibrateError::Band(e) => LiveError::Band(e),
            CalibrateError::Reconnect(e) => LiveError::Reconnect(e),
            CalibrateError::Stalled(d) => LiveError::Band(BandError::Link(LinkError::Timeout {
                operation: "live stream",
                after: d,
            })),
        }
    }
}

/// Where the predictions go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveTarget {
    pub profile: ProfileId,
    pub band: BandId,
}

/// How a live session runs.
#[derive(Clone, Debug, PartialEq)]
pub struct LiveConfig {
    /// Stop after this long (`None`: until cancelled).
    pub duration: Option<Duration>,
    /// Predictions stored per transaction (also stored when the session pauses or ends).
    pub store_batch: usize,
    pub backoff: Backoff,
    /// A connected band that sends no prediction for this long (it predicts every 1.5 s) is
    /// treated like a dropped link: the session pauses, reconnects and starts the stream again.
    pub stall: Duration,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            duration: None,
            store_batch: 10,
            backoff: Backoff::default(),
            stall: Duration::from_secs(15),
        }
    }
}

/// What the live session tells the UI. Serialized with a `type` tag, fields in camelCase.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum LiveEvent {
    /// Streaming: the band's active model, and whether shadow inference runs.
    Started {
        model_id: u32,
        model_version: u32,
        labels: Vec<String>,
        shadow: bool,
    },
    /// One band prediction.
    Prediction {
        window_seq: u32,
        class: String,
        class_index: u8,
        confidence: f32,
        /// Wall-clock time of the window's end, Unix ms.
        t_ms: UnixMs,
    },
    /// The shadow's verdict on the band window `window_seq`.
    Shadow {
        window_seq: u32,
        band_class: String,
        shadow_class: String,
        shadow_confidence: f32,
        agree: bool,
        /// Same class and same confidence (to the permille): the very same computation.
        identical: bool,
    },
    /// Agreement so far (after each shadow result).
    Agreement {
        compared: u64,
        agreed: u64,
        rate: f32,
    },
    Paused {
        reason: String,
    },
    Resumed,
    /// The end: the same as [`run_live`]'s result.
    Summary(LiveSummary),
}

/// How a live session went.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveSummary {
    pub predictions: u64,
    pub stored: u64,
    /// Predictions per class, in the model's label order.
    pub per_class: Vec<ClassCount>,
    /// Band windows the shadow computed too.
    pub compared: u64,
    pub agreed: u64,
    /// Compared windows where the shadow's confidence equals the band's too (see
    /// [`ShadowMatch::identical`]).
    pub identical: u64,
    /// `agreed / compared`, if anything was compared.
    pub agreement: Option<f32>,
    /// Band windows whose samples the desktop did not have (lost frames, just after a reconnect).
    pub unmatched: u64,
    pub lost_frames: u64,
    pub reconnects: u32,
    pub cancelled: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClassCount {
    pub class: String,
    pub windows: u64,
}

#[allow(clippy::too_many_arguments)]
pub async fn run_live(
    client: &mut BandClient,
    link: &dyn Link,
    store: &Mutex<Store>,
    target: &LiveTarget,
    shadow_blob: Option<Vec<u8>>,
    config: &LiveConfig,
    on_event: &mut (dyn FnMut(LiveEvent) + Send),
    cancel: &AtomicBool,
) -> Result<LiveSummary, LiveError> {
    let band_id = client.connection().id().to_string();
    let info = client.get_info().await?;
    let active = info.model.ok_or(LiveError::NoModel)?;
    let labels: Vec<String> = active.labels.iter().map(|l| l.to_string()).collect();
    let mut shadow = match shadow_blob {
        Some(blob) => {
            let shadow = Shadow::new(blob, info.sample_rate_hz)?;
            shadow.check_against(&active)?;
            Some(shadow)
        }
        None => None,
    };
    on_event(LiveEvent::Started {
        model_id: active.id,
        model_version: active.version,
        labels: labels.clone(),
        shadow: shadow.is_some(),
    });

    let mut summary = LiveSummary {
        per_class: labels
            .iter()
            .map(|l| ClassCount {
                class: l.clone(),
                windows: 0,
            })
            .collect(),
        ..LiveSummary::default()
    };
    let mut batch: Vec<NewPrediction> = Vec::with_capacity(config.store_batch);
    let deadline = config.duration.map(|d| tokio::time::Instant::now() + d);
    let class_name = |i: u8| {
        labels
            .get(usize::from(i))
            .cloned()
            .unwrap_or_else(|| format!("class {i}"))
    };

    'connection: loop {
        let mut predictions = client.predictions().await?;
        let mut frames = client.imu_frames().await?;
        let mut state = client.connection().state();
        if shadow.is_some() {
            client.start_imu().await?;
        }
        client.start_predictions().await?;
        // Band clock -> wall clock, fixed per connection at the first prediction.
        let mut clock_offset: Option<i64> = None;
        let mut poll = tokio::time::interval(Duration::from_millis(100));
        let lost_before = summary.lost_frames;
        let mut last_heard = tokio::time::Instant::now();
        let pause_reason = loop {
            if cancel.load(Ordering::Relaxed) {
                summary.cancelled = true;
                break 'connection;
            }
            if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
                break 'connection;
            }
            tokio::select! {
                p = predictions.next() => {
                    let Some(p) = p else { break LinkError::ConnectionLost.to_string() };
                    last_heard = tokio::time::Instant::now();
                    let offset = *clock_offset
                        .get_or_insert_with(|| crate::store::now_ms() - i64::from(p.timestamp_ms));
                    let t_ms = offset + i64::from(p.timestamp_ms);
                    let class = class_name(p.class);
                    let confidence = f32::from(p.confidence_permille.min(1000)) / 1000.0;
                    summary.predictions += 1;
                    if let Some(c) = summary.per_class.get_mut(usize::from(p.class)) {
                        c.windows += 1;
                    }
                    on_event(LiveEvent::Prediction {
                        window_seq: p.window_seq,
                        class: class.clone(),
                        class_index: p.class,
                        confidence,
                        t_ms,
                    });
                    batch.push(NewPrediction {
                        band: target.band,
                        t_ms,
                        class,
                        confidence,
                        window_seq: p.window_seq,
                    });
                    if batch.len() >= config.store_batch {
                        summary.stored += store_batch(store, target.profile, &mut batch)?;
                    }
                    if let Some(shadow) = shadow.as_mut() {
                        let matches = shadow.push_prediction(p);
                        report(&matches, &mut summary, &class_name, on_event);
                    }
                }
                f = frames.next() => {
                    let Some(f) = f else { break LinkError::ConnectionLost.to_string() };
                    summary.lost_frames = lost_before + frames.lost();
                    if let Some(shadow) = shadow.as_mut() {
                        let matches = shadow.push_frame(&f);
                        report(&matches, &mut summary, &class_name, on_event);
                    }
                }
                _ = disconnected(&mut state) => break LinkError::ConnectionLost.to_string(),
                _ = poll.tick() => {
                    if last_heard.elapsed() > config.stall {
                        if let Err(e) = client.connection().disconnect().await {
                            tracing::debug!("disconnecting from a silent band: {e}");
                        }
                        break format!(
                            "The band sent no prediction for {} s",
                            config.stall.as_secs_f32().round()
                        );
                    }
                }
            }
        };

        // The link dropped, or the band went silent.
        summary.stored += store_batch(store, target.profile, &mut batch)?;
        on_event(LiveEvent::Paused {
            reason: pause_reason,
        });
        match reconnect_client(link, &band_id, &config.backoff, cancel).await? {
            Some(new) => *client = new,
            None => {
                summary.cancelled = true;
                break;
            }
        }
        summary.reconnects += 1;
        if let Some(shadow) = shadow.as_mut() {
            shadow.reset();
        }
        on_event(LiveEvent::Resumed);
    }

    summary.stored += store_batch(store, target.profile, &mut batch)?;
    if client
        .connection()
        .state()
        .borrow()
        .eq(&crate::link::ConnectionState::Connected)
    {
        for stop in [client.stop_predictions().await, client.stop_imu().await] {
            if let Err(e) = stop {
                tracing::warn!("could not stop the band's streams: {e}");
            }
        }
    }
    if let Some(shadow) = &shadow {
        summary.unmatched = shadow.unmatched_at_end();
    }
    summary.agreement =
        (summary.compared > 0).then(|| summary.agreed as f32 / summary.compared as f32);
    on_event(LiveEvent::Summary(summary.clone()));
    Ok(summary)
}

fn report(
    matches: &[ShadowMatch],
    summary: &mut LiveSummary,
    class_name: &dyn Fn(u8) -> String,
    on_event: &mut (dyn FnMut(LiveEvent) + Send),
) {
    for m in matches {
        summary.compared += 1;
        summary.agreed += u64::from(m.agree());
        summary.identical += u64::from(m.identical());
        on_event(LiveEvent::Shadow {
            window_seq: m.band.window_seq,
            band_class: class_name(m.band.class),
            shadow_class: class_name(m.shadow_class),
            shadow_confidence: m.shadow_confidence,
            agree: m.agree(),
            identical: m.identical(),
        });
        on_event(LiveEvent::Agreement {
            compared: summary.compared,
            agreed: summary.agreed,
            rate: summary.agreed as f32 / summary.compared as f32,
        });
    }
}

fn store_batch(
    store: &Mutex<Store>,
    profile: ProfileId,
    batch: &mut Vec<NewPrediction>,
) -> Result<u64, StoreError> {
    if batch.is_empty() {
        return Ok(0);
    }
    let store = store.lock().unwrap_or_else(|e| e.into_inner());
    store.add_predictions(profile, batch)?;
    let n = batch.len() as u64;
    batch.clear();
    Ok(n)
}
