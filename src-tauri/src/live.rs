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

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bandx_core::blob::{BlobError, Model};
use bandx_core::protocol::{ModelInfo, PredictionEvent};
use bandx_core::window::Windower;
use bandx_core::{WINDOW_HOP, WINDOW_LEN};

use crate::band::{BandClient, BandError, ImuFrame};
use crate::calibrate::{CalibrateError, reconnect_client, unix_ms};
use crate::link::{Backoff, Link, LinkError, disconnected};
use crate::store::{BandId, Day, NewPrediction, ProfileId, Store, StoreError, UnixMs};

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

/// The shadow's result for one band window.
#[derive(Clone, Debug, PartialEq)]
pub struct ShadowMatch {
    pub band: PredictionEvent,
    pub shadow_class: u8,
    pub shadow_confidence: f32,
}

impl ShadowMatch {
    pub fn agree(&self) -> bool {
        self.band.class == self.shadow_class
    }

    /// Same class and the same confidence to the permille the band reports: what the same engine
    /// on the same window gives. Same class with another confidence means another window.
    pub fn identical(&self) -> bool {
        self.agree()
            && u32::from(self.band.confidence_permille)
                == (self.shadow_confidence * 1000.0 + 0.5) as u32
    }
}

/// Desktop-side inference on the raw stream, aligned with the band's windows (see the module docs).
pub struct Shadow {
    blob: Vec<u8>,
    arena: Vec<u8>,
    period_ms: u32,
    /// The latest contiguous samples (band time, SI).
    run: VecDeque<(u32, [f32; 6])>,
    windower: Option<Windower>,
    /// Shadow windows not matched yet: (end time, class, confidence).
    computed: VecDeque<(u32, u8, f32)>,
    /// Band predictions waiting for their samples.
    pending: VecDeque<PredictionEvent>,
    unmatched: u64,
}

/// Samples kept for locking onto a band window (10 s at 20 Hz).
const RUN_CAPACITY: usize = 200;
/// Unmatched shadow windows kept.
const COMPUTED_CAPACITY: usize = 8;

impl Shadow {
    /// A shadow running `blob` (bandx-core's format) on a stream at `sample_rate_hz`.
    pub fn new(blob: Vec<u8>, sample_rate_hz: u8) -> Result<Shadow, LiveError> {
        let arena = vec![
            0;
            Model::parse(&blob)
                .map_err(LiveError::Blob)?
                .required_arena()
        ];
        Ok(Shadow {
            blob,
            arena,
            period_ms: 1000 / u32::from(sample_rate_hz.max(1)),
            run: VecDeque::with_capacity(RUN_CAPACITY),
            windower: None,
            computed: VecDeque::new(),
            pending: VecDeque::new(),
            unmatched: 0,
        })
    }

    /// Checks that the blob is the band's active model (same id, version and labels).
    pub fn check_against(&self, active: &ModelInfo) -> Result<(), LiveError> {
        let model = Model::parse(&self.blob).map_err(LiveError::Blob)?;
        let labels: Vec<&str> = model.labels().iter().collect();
        let band: Vec<&str> = active.labels.iter().map(|l| l.as_str()).collect();
        if (model.id(), model.version()) != (active.id, active.version) || labels != band {
            return Err(LiveError::ShadowModel(format!(
                "blob {:#x} v{} {labels:?}, band {:#x} v{} {band:?}",
                model.id(),
                model.version(),
                active.id,
                active.version
            )));
        }
        Ok(())
    }

    /// Band predictions the shadow could not check.
    pub fn unmatched(&self) -> u64 {
        self.unmatched
    }

    /// Forgets the stream (a new connection: the band's windows start over).
    pub fn reset(&mut self) {
        self.run.clear();
        self.windower = None;
        self.computed.clear();
        self.unmatched += self.pending.len() as u64;
        self.pending.clear();
    }

    /// Samples from the band; returns the band windows they let the shadow check.
    pub fn push_frame(&mut self, frame: &ImuFrame) -> Vec<ShadowMatch> {
        let rate = (1000 / self.period_ms.max(1)) as u8;
        for (k, (t, si)) in frame.si_samples(rate).into_iter().enumerate() {
            let contiguous = self
                .run
                .back()
                .is_some_and(|(last, _)| t.wrapping_sub(*last) == self.period_ms);
            if !contiguous || (k == 0 && frame.lost_before > 0) {
                // A gap: no window spans it; relock on the next band window.
                self.run.clear();
                self.windower = None;
            }
            if self.run.len() == RUN_CAPACITY {
                self.run.pop_front();
            }
            self.run.push_back((t, si));
            if let Some(window) = self.windower.as_mut().and_then(|w| w.push(si)) {
                self.infer(t, &window);
            }
        }
        self.settle()
    }

    /// A band prediction; returns the band windows the shadow could check now.
    pub fn push_prediction(&mut self, prediction: PredictionEvent) -> Vec<ShadowMatch> {
        self.pending.push_back(prediction);
        self.settle()
    }

    fn infer(&mut self, end_ms: u32, window: &bandx_core::Window) {
        let Ok(model) = Model::parse(&self.blob) else {
            return;
        };
        match model.infer(window, &mut self.arena) {
            Ok(p) => {
                if self.computed.len() == COMPUTED_CAPACITY {
                    self.computed.pop_front();
                }
                self.computed.push_back((end_ms, p.class, p.confidence));
            }
            Err(e) => tracing::warn!("shadow inference failed: {e}"),
        }
    }

    /// Matches pending band predictions with shadow windows, locking the windower when needed.
    fn settle(&mut self) -> Vec<ShadowMatch> {
        let mut matches = Vec::new();
        while let Some(&band) = self.pending.front() {
            let end = band.timestamp_ms;
            if let Some(i) = self.computed.iter().position(|(t, ..)| *t == end) {
                let (_, class, confidence) = self.computed.remove(i).expect("found");
                // Older shadow windows have no band counterpart any more.
                self.computed.drain(..i);
                self.pending.pop_front();
                matches.push(ShadowMatch {
                    band,
                    shadow_class: class,
                    shadow_confidence: confidence,
                });
                continue;
            }
            let Some(&(latest, _)) = self.run.back() else {
                break;
            };
            // Not yet: the samples up to the window's end are still on their way.
            let ahead = end.wrapping_sub(latest);
            if ahead != 0 && ahead < 0x8000_0000 {
                break;
            }
            // The band's windows are not where the shadow's are (or it has none yet): relock.
            if !self.lock_on(end) {
                self.pending.pop_front();
                self.unmatched += 1;
            }
        }
        matches
    }

    /// Restarts the windower so that its windows end where the band's do, feeding it the 60
    /// samples ending at `end` and every one after. Returns whether the samples were there.
    fn lock_on(&mut self, end: u32) -> bool {
        let Some(i) = self.run.iter().position(|(t, _)| *t == end) else {
            return false;
        };
        if i + 1 < WINDOW_LEN {
            return false;
        }
        let mut windower = Windower::new();
        self.computed.clear();
        let samples: Vec<(u32, [f32; 6])> =
            self.run.iter().skip(i + 1 - WINDOW_LEN).copied().collect();
        for (t, si) in samples {
            if let Some(window) = windower.push(si) {
                self.infer(t, &window);
            }
        }
        self.windower = Some(windower);
        self.computed.iter().any(|(t, ..)| *t == end)
    }
}

/// Runs live predictions until `config.duration` has passed or `cancel` is set, storing every
/// prediction for `target` and, with `shadow_blob` (which must be the band's active model, see
/// [`deployed_blob`]), checking each band window on the desktop. `client` is replaced by a new client when the link drops and
/// comes back. Returns (and emits last) the summary.
// The app and the CLI pass each of these separately (the UI's commands hold them in different places).
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
                        .get_or_insert_with(|| unix_ms() - i64::from(p.timestamp_ms));
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
        summary.unmatched = shadow.unmatched() + shadow.pending.len() as u64;
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

/// The blob to shadow the band with: the profile's stored model that is the band's active one
/// (same blob id and version), preferring the one last deployed to `band`. `None` if the store
/// has no such model (e.g. the band still runs a model the app did not make).
pub fn deployed_blob(
    store: &Store,
    profile: ProfileId,
    band: BandId,
    active: &ModelInfo,
) -> Result<Option<Vec<u8>>, StoreError> {
    let is_active = |blob: &[u8]| {
        Model::parse(blob).is_ok_and(|m| (m.id(), m.version()) == (active.id, active.version))
    };
    let mut deployments = store.deployments(profile)?;
    deployments.sort_by_key(|d| std::cmp::Reverse(d.started_at_ms));
    for d in deployments.iter().filter(|d| d.band == band) {
        if let Some(model) = d.model {
            let model = store.model(model)?;
            if is_active(&model.blob) {
                return Ok(Some(model.blob));
            }
        }
    }
    Ok(store
        .models(profile)?
        .into_iter()
        .rev()
        .find(|m| is_active(&m.blob))
        .map(|m| m.blob))
}

/// Windows the band classifies per minute of activity: each window adds [`WINDOW_HOP`] new samples.
pub const WINDOW_SECONDS: f64 = WINDOW_HOP as f64 / bandx_core::SAMPLE_RATE_HZ as f64;

/// Per-day totals per class over the last `days` days up to `now_ms` (today included), as a table:
/// `windows[d][c]` predictions of `classes[c]` on `days[d]`, `minutes` the same in minutes.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DailyHistory {
    /// `YYYY-MM-DD`, oldest first, every day of the range (days without predictions are zeros).
    pub days: Vec<String>,
    /// Classes seen in the range, by name.
    pub classes: Vec<String>,
    pub windows: Vec<Vec<u64>>,
    pub minutes: Vec<Vec<f64>>,
}

/// The history table the UI and `bandx history` show (see [`DailyHistory`]); days are local days
/// at `utc_offset_minutes`.
pub fn daily_history(
    store: &Store,
    profile: ProfileId,
    days: u32,
    now_ms: UnixMs,
    utc_offset_minutes: i32,
) -> Result<DailyHistory, StoreError> {
    let days = i64::from(days.max(1));
    let today = Day::of(now_ms, utc_offset_minutes);
    let first = Day(today.0 - days + 1);
    let offset_ms = i64::from(utc_offset_minutes) * 60_000;
    let from_ms = first.0 * 86_400_000 - offset_ms;
    let to_ms = (today.0 + 1) * 86_400_000 - offset_ms;
    let totals = store.daily_totals(profile, from_ms, to_ms, utc_offset_minutes)?;
    let mut classes: Vec<String> = totals.iter().map(|t| t.class.clone()).collect();
    classes.sort();
    classes.dedup();
    let mut windows = vec![vec![0u64; classes.len()]; days as usize];
    for t in &totals {
        let d = (t.day.0 - first.0) as usize;
        if let (Some(row), Ok(c)) = (windows.get_mut(d), classes.binary_search(&t.class)) {
            row[c] += t.windows;
        }
    }
    let minutes = windows
        .iter()
        .map(|row| {
            row.iter()
                .map(|&w| w as f64 * WINDOW_SECONDS / 60.0)
                .collect()
        })
        .collect();
    Ok(DailyHistory {
        days: (0..days).map(|d| Day(first.0 + d).to_string()).collect(),
        classes,
        windows,
        minutes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::sim::SHIPPED_MODEL;
    use bandx_core::frame::FrameBuilder;
    use bandx_core::imu::{FullScale, RawSample};

    /// A wrist moving in a way that changes over time, so windows differ.
    fn raw(i: u32) -> RawSample {
        let t = i as f32 * 0.05;
        let swing = (t * (1.0 + (t * 0.1).sin())).sin();
        RawSample {
            accel: [
                (1500.0 * swing) as i16,
                (600.0 * (t * 2.3).cos()) as i16,
                4000 + (900.0 * (t * 0.7).sin() * swing) as i16,
            ],
            gyro: [
                (2000.0 * swing) as i16,
                (800.0 * (t * 1.3).sin()) as i16,
                100,
            ],
        }
    }

    /// What the band does: windows from sample `start` on (its StartPredictions), classified by the
    /// engine, each prediction stamped with its last sample's time.
    fn band_predictions(samples: u32, start: u32) -> Vec<(u32, PredictionEvent)> {
        let model = Model::parse(SHIPPED_MODEL).unwrap();
        let mut arena = vec![0; model.required_arena()];
        let mut windower = Windower::new();
        let mut out = Vec::new();
        for i in start..samples {
            let si = FullScale::DEFAULT.to_si(&raw(i));
            if let Some(w) = windower.push(si) {
                let p = model.infer(&w, &mut arena).unwrap();
                out.push((
                    i,
                    PredictionEvent {
                        window_seq: windower.emitted() - 1,
                        timestamp_ms: 1000 + i * 50,
                        class: p.class,
                        confidence_permille: (p.confidence * 1000.0 + 0.5) as u16,
                    },
                ));
            }
        }
        out
    }

    /// Delivers samples in 19-sample frames (MTU 247), each band prediction as soon as its window
    /// ends (before the frame carrying that sample), skipping the frames in `lost`.
    fn run(shadow: &mut Shadow, samples: u32, start: u32, lost: &[u16]) -> Vec<ShadowMatch> {
        let predictions = band_predictions(samples, start);
        let mut builder = FrameBuilder::new(8 + 19 * 12, FullScale::DEFAULT);
        let mut matches = Vec::new();
        let mut lost_before = 0;
        for i in 0..samples {
            for (_, p) in predictions.iter().filter(|(at, _)| *at == i) {
                matches.extend(shadow.push_prediction(*p));
            }
            if let Some(frame) = builder.push(raw(i), 1000 + i * 50) {
                if lost.contains(&frame.seq) {
                    lost_before += 1;
                    continue;
                }
                let frame = ImuFrame { frame, lost_before };
                lost_before = 0;
                matches.extend(shadow.push_frame(&frame));
            }
        }
        matches
    }

    #[test]
    fn the_shadow_locks_onto_the_bands_windows_whatever_their_phase() {
        for start in [0, 17, 29] {
            let mut shadow = Shadow::new(SHIPPED_MODEL.to_vec(), 20).unwrap();
            let matches = run(&mut shadow, 1200, start, &[]);
            let band = band_predictions(1200, start);
            // Every band window checked but the last (its frame is not full yet), identically.
            assert!(
                matches.len() + 1 >= band.len(),
                "start {start}: {} of {}",
                matches.len(),
                band.len()
            );
            assert!(matches.iter().all(ShadowMatch::identical), "start {start}");
            assert_eq!(shadow.unmatched(), 0);
            // The windows do not all look alike: a misaligned shadow would show.
            let classes: std::collections::HashSet<u8> =
                matches.iter().map(|m| m.band.class).collect();
            let confidences: std::collections::HashSet<u16> =
                matches.iter().map(|m| m.band.confidence_permille).collect();
            assert!(
                classes.len() > 1 || confidences.len() > 5,
                "{classes:?} {confidences:?}"
            );
        }
    }

    #[test]
    fn windows_over_lost_frames_are_unmatched_then_the_shadow_relocks() {
        let mut shadow = Shadow::new(SHIPPED_MODEL.to_vec(), 20).unwrap();
        let matches = run(&mut shadow, 1200, 5, &[20]);
        let band = band_predictions(1200, 5);
        assert!(
            shadow.unmatched() >= 2,
            "the windows over the gap and until 60 samples after it"
        );
        assert!(shadow.unmatched() <= 4, "{}", shadow.unmatched());
        assert!(matches.len() as u64 + shadow.unmatched() + 1 >= band.len() as u64);
        assert!(matches.iter().all(ShadowMatch::identical));
        // Matching goes on after the gap (frame 20 holds samples 380..399).
        assert!(
            matches
                .iter()
                .any(|m| m.band.timestamp_ms > 1000 + 500 * 50)
        );
    }

    #[test]
    fn a_shadow_a_sample_off_would_not_be_identical() {
        // The check the live test relies on: the same model one sample later gives another confidence.
        let band = band_predictions(600, 0);
        let shifted = band_predictions(601, 1);
        let differ = band
            .iter()
            .zip(&shifted)
            .filter(|((_, a), (_, b))| {
                a.confidence_permille != b.confidence_permille || a.class != b.class
            })
            .count();
        assert!(differ * 2 > band.len(), "{differ} of {}", band.len());
    }
}
