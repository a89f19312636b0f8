//! Guided calibration: per class, a countdown, then recording until enough good windows (15 by
//! default) are stored, each window judged as it completes ([`quality`]), rejected ones stored with
//! their reason and not counted.
//!
//! - [`session::ClassSession`]: the state machine (no I/O, unit-tested with frames).
//! - [`record_class`]: the async driver running it against a band, storing into the store and
//!   emitting [`SessionEvent`]s; cancellable; a dropped link pauses the session, reconnects with
//!   backoff and resumes in a new recording (a window never spans the gap).
//! - [`reject_window`] (re-record one window) and [`reset_class`] (re-record a class) edit what is
//!   stored; the next [`record_class`] counts on from the good windows in the store.
//!
//! The store is the source of truth for progress: good windows of the class from earlier sessions
//! count, and a window the user discards while the session runs makes it record one more.
//! Windows are stored as `NewWindow { start_index, verdict, reason }` over the class's recordings,
//! which is exactly what `train::calibration::load` reads back.

pub mod quality;
pub mod session;

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bandx_core::imu;

pub use quality::{QualityRules, Rejection, WindowSample};
pub use session::{ChartSample, ClassSession, FrameWork, JudgedWindow, Phase};

use crate::band::{BandClient, BandError};
use crate::link::{Backoff, Link, LinkError, disconnected};
use crate::store::{
    BandId, ClassId, FlushPolicy, FullScale, NewRecording, NewWindow, ProfileId, RecordingId,
    RecordingWriter, Store, StoreError, Verdict, WindowId,
};

/// Good windows per class unless told otherwise.
pub const DEFAULT_WINDOWS: u32 = 15;

/// What can end a session early.
#[derive(Debug, thiserror::Error)]
pub enum CalibrateError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Band(#[from] BandError),
    /// The link dropped and did not come back within the backoff.
    #[error("the band did not come back: {0}")]
    Reconnect(#[source] LinkError),
    /// Connected, but no IMU frame arrived for this long.
    #[error("the band sent no IMU data for {0:?}")]
    Stalled(Duration),
}

/// Which class is being recorded, for whom, on which band.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClassTarget {
    pub profile: ProfileId,
    /// The band in the store (recorded with each recording), if known.
    pub band: Option<BandId>,
    pub class: ClassId,
}

/// How a session runs.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionConfig {
    /// Good windows needed.
    pub windows: u32,
    /// Countdown steps before recording starts (0: start at once).
    pub countdown: u32,
    /// Length of one countdown step (a second for people, less in tests).
    pub countdown_step: Duration,
    pub rules: QualityRules,
    /// Samples per [`SessionEvent::Samples`] (10 = two chart updates a second at 20 Hz).
    pub chart_batch: usize,
    pub flush: FlushPolicy,
    /// How to retry after the link dropped.
    pub backoff: Backoff,
    /// No IMU frame for this long while connected is an error.
    pub stall: Duration,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            windows: DEFAULT_WINDOWS,
            countdown: 3,
            countdown_step: Duration::from_secs(1),
            rules: QualityRules::default(),
            chart_batch: 10,
            flush: FlushPolicy::default(),
            backoff: Backoff::default(),
            stall: Duration::from_secs(10),
        }
    }
}

/// What the session tells the UI, in order. Serialized with a `type` tag, fields in camelCase.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum SessionEvent {
    /// Good windows so far (counting earlier sessions) and how many are needed.
    Progress { good: u32, needed: u32 },
    /// Countdown steps left before recording (emitted for each step, ending with 0 = go).
    Countdown { remaining: u32 },
    /// Storing into a new recording (at the start, and after each resume).
    RecordingStarted { recording: RecordingId },
    /// The samples as they arrive (SI units), batched, also during the countdown.
    Samples { samples: Vec<ChartSample> },
    /// A window was judged and stored.
    WindowJudged {
        /// 0, 1, 2, ... in this session.
        index: u32,
        window: WindowId,
        recording: RecordingId,
        start_index: u64,
        good: bool,
        /// The stored reason text for a rejected window.
        reason: Option<String>,
        rejection: Option<Rejection>,
    },
    /// The link dropped; what is recorded is stored. Reconnecting.
    Paused { reason: String },
    /// The link is back; recording goes on in a new recording.
    Resumed,
    /// Enough good windows.
    ClassDone { good: u32, rejected: u32 },
    /// Stopped by the user; everything recorded so far is kept.
    Cancelled { good: u32, needed: u32 },
}

/// How a session ended.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClassOutcome {
    pub class: ClassId,
    /// Good windows of the class in the store.
    pub good: u32,
    pub needed: u32,
    /// Windows rejected in this session.
    pub rejected: u32,
    /// Recordings made in this session (one per connection).
    pub recordings: Vec<RecordingId>,
    /// Times the link dropped and came back.
    pub pauses: u32,
    pub cancelled: bool,
}

/// Runs the guided session for one class until it has `config.windows` good windows (counting
/// those already stored), the user cancels (`cancel` set: what was recorded is kept), or the link
/// cannot be brought back.
///
/// `client` is replaced by a new client when the link drops and comes back (reconnecting with
/// `config.backoff` through `link` to `client.connection().id()`). Events go to `on_event` as they
/// happen. IMU streaming is stopped at the end.
pub async fn record_class(
    client: &mut BandClient,
    link: &dyn Link,
    store: &Mutex<Store>,
    target: &ClassTarget,
    config: &SessionConfig,
    on_event: &mut (dyn FnMut(SessionEvent) + Send),
    cancel: &AtomicBool,
) -> Result<ClassOutcome, CalibrateError> {
    let band_id = client.connection().id().to_string();
    let rate = client.get_info().await?.sample_rate_hz.max(1);
    let rules = QualityRules {
        sample_rate_hz: u32::from(rate),
        ..config.rules
    };
    let good = with_store(store, |s| good_windows(s, target.class))?;
    let mut machine = ClassSession::new(config.windows, good, rules);
    let mut run = Run {
        store,
        target,
        config,
        rate,
        writer: None,
        recordings: Vec::new(),
        chart: Vec::new(),
        on_event,
    };
    (run.on_event)(SessionEvent::Progress {
        good,
        needed: config.windows,
    });

    let mut pauses = 0;
    let mut countdown = config.countdown;
    'connection: while !machine.is_over() {
        let mut frames = client.imu_frames().await?;
        let mut state = client.connection().state();
        client.start_imu().await?;
        let mut countdown_at = tokio::time::Instant::now();
        let mut housekeeping = tokio::time::interval(Duration::from_millis(100));
        let mut last_frame = tokio::time::Instant::now();
        loop {
            if cancel.load(Ordering::Relaxed) {
                machine.cancel();
                break 'connection;
            }
            if machine.is_over() {
                break 'connection;
            }
            tokio::select! {
                frame = frames.next() => match frame {
                    Some(frame) => {
                        last_frame = tokio::time::Instant::now();
                        let work = machine.on_frame(&frame, rate);
                        run.apply(work, &mut machine)?;
                    }
                    None => break,
                },
                _ = disconnected(&mut state) => break,
                _ = tokio::time::sleep_until(countdown_at), if machine.phase() == Phase::Countdown => {
                    (run.on_event)(SessionEvent::Countdown { remaining: countdown });
                    if countdown == 0 {
                        machine.start_recording();
                    } else {
                        countdown -= 1;
                        countdown_at += config.countdown_step;
                    }
                }
                _ = housekeeping.tick() => {
                    if let Some(writer) = run.writer.as_mut() {
                        with_store(store, |s| writer.tick(s))?;
                    }
                    if last_frame.elapsed() > config.stall {
                        run.finish_segment()?;
                        return Err(CalibrateError::Stalled(config.stall));
                    }
                }
            }
        }

        // The link dropped: keep what was recorded, wait for the band.
        run.finish_segment()?;
        machine.pause();
        if machine.phase() == Phase::Countdown {
            countdown = config.countdown;
        }
        pauses += 1;
        (run.on_event)(SessionEvent::Paused {
            reason: LinkError::ConnectionLost.to_string(),
        });
        match reconnect_client(link, &band_id, &config.backoff, cancel).await? {
            Some(new) => *client = new,
            None => {
                machine.cancel();
                break;
            }
        }
        machine.resume();
        (run.on_event)(SessionEvent::Resumed);
    }

    run.finish_segment()?;
    if client
        .connection()
        .state()
        .borrow()
        .eq(&crate::link::ConnectionState::Connected)
        && let Err(e) = client.stop_imu().await
    {
        tracing::warn!("could not stop the IMU stream: {e}");
    }
    let good = with_store(store, |s| good_windows(s, target.class))?;
    let cancelled = machine.phase() == Phase::Cancelled;
    (run.on_event)(if cancelled {
        SessionEvent::Cancelled {
            good,
            needed: config.windows,
        }
    } else {
        SessionEvent::ClassDone {
            good,
            rejected: machine.rejected(),
        }
    });
    Ok(ClassOutcome {
        class: target.class,
        good,
        needed: config.windows,
        rejected: machine.rejected(),
        recordings: run.recordings,
        pauses,
        cancelled,
    })
}

/// The driver's I/O side: the current recording and the events.
struct Run<'a> {
    store: &'a Mutex<Store>,
    target: &'a ClassTarget,
    config: &'a SessionConfig,
    rate: u8,
    writer: Option<RecordingWriter>,
    recordings: Vec<RecordingId>,
    chart: Vec<ChartSample>,
    on_event: &'a mut (dyn FnMut(SessionEvent) + Send),
}

impl Run<'_> {
    fn apply(&mut self, work: FrameWork, machine: &mut ClassSession) -> Result<(), CalibrateError> {
        self.chart.extend(work.chart);
        if self.chart.len() >= self.config.chart_batch {
            self.emit_chart();
        }
        if let Some(fs) = work.open_recording {
            self.finish_segment()?;
            let new = NewRecording {
                class: Some(self.target.class),
                band: self.target.band,
                started_at_ms: crate::store::now_ms(),
                sample_rate_hz: f32::from(self.rate),
                full_scale: store_full_scale(fs),
            };
            let (profile, policy) = (self.target.profile, self.config.flush);
            let writer = with_store(self.store, |s| {
                let id = s.create_recording(profile, &new)?;
                RecordingWriter::new(s, id, policy)
            })?;
            self.recordings.push(writer.recording());
            (self.on_event)(SessionEvent::RecordingStarted {
                recording: writer.recording(),
            });
            self.writer = Some(writer);
        }
        let Some(writer) = self.writer.as_mut() else {
            return Ok(());
        };
        if work.samples.is_empty() && work.windows.is_empty() {
            return Ok(());
        }
        let class = self.target.class;
        let (stored, good) = with_store(self.store, |s| {
            for sample in work.samples {
                writer.push(s, sample)?;
            }
            if work.windows.is_empty() {
                return Ok((Vec::new(), None));
            }
            // A window is stored only once its samples are.
            writer.flush(s)?;
            let mut stored = Vec::with_capacity(work.windows.len());
            for w in work.windows {
                let reason = w.verdict.as_ref().err().map(|r| r.to_string());
                let id = s.add_window(
                    writer.recording(),
                    &NewWindow {
                        start_index: w.start_index,
                        verdict: if w.verdict.is_ok() {
                            Verdict::Good
                        } else {
                            Verdict::Rejected
                        },
                        reason: reason.clone(),
                    },
                )?;
                stored.push((w, id, reason));
            }
            Ok((stored, Some(good_windows(s, class)?)))
        })?;
        let recording = writer.recording();
        for (w, window, reason) in stored {
            (self.on_event)(SessionEvent::WindowJudged {
                index: w.index,
                window,
                recording,
                start_index: w.start_index,
                good: w.verdict.is_ok(),
                reason,
                rejection: w.verdict.err(),
            });
        }
        if let Some(good) = good {
            machine.set_good(good);
            let (good, needed) = machine.progress();
            (self.on_event)(SessionEvent::Progress { good, needed });
        }
        Ok(())
    }

    fn emit_chart(&mut self) {
        if !self.chart.is_empty() {
            let samples = std::mem::take(&mut self.chart);
            (self.on_event)(SessionEvent::Samples { samples });
        }
    }

    /// Commits the current recording's buffered samples and closes it.
    fn finish_segment(&mut self) -> Result<(), CalibrateError> {
        self.emit_chart();
        if let Some(mut writer) = self.writer.take() {
            with_store(self.store, |s| writer.flush(s))?;
        }
        Ok(())
    }
}

/// [`crate::band::reconnect_client_until`], with a link failure told apart from a band that answered wrongly.
pub(crate) async fn reconnect_client(
    link: &dyn Link,
    band_id: &str,
    backoff: &Backoff,
    cancel: &AtomicBool,
) -> Result<Option<BandClient>, CalibrateError> {
    crate::band::reconnect_client_until(link, band_id, backoff, cancel)
        .await
        .map_err(|e| match e {
            BandError::Link(e) => CalibrateError::Reconnect(e),
            other => CalibrateError::from(other),
        })
}

/// The profile's class named `class` (created, with the profile, if missing).
pub fn ensure_class(
    store: &Store,
    profile: &str,
    class: &str,
) -> Result<(ProfileId, ClassId), StoreError> {
    let now = crate::store::now_ms();
    let profile = match store.profile_by_name(profile)? {
        Some(p) => p.id,
        None => store.create_profile(profile, now)?,
    };
    let class = match store.class_by_name(profile, class)? {
        Some(c) => c.id,
        None => store.add_class(profile, class, now)?,
    };
    Ok((profile, class))
}

/// Good windows of a class in the store.
pub fn good_windows(store: &Store, class: ClassId) -> Result<u32, StoreError> {
    Ok(store
        .windows_of_class(class)?
        .iter()
        .filter(|w| w.verdict == Verdict::Good)
        .count() as u32)
}

/// Re-record one window: it is kept, marked rejected by the user (so it no longer counts and
/// training skips it); the next (or running) session records one more. Returns the window's new id.
pub fn reject_window(store: &Store, window: WindowId) -> Result<WindowId, StoreError> {
    store.atomically(|| {
        let old = store.window(window)?;
        store.delete_window(window)?;
        store.add_window(
            old.recording,
            &NewWindow {
                start_index: old.start_index,
                verdict: Verdict::Rejected,
                reason: Some(Rejection::RejectedByUser.to_string()),
            },
        )
    })
}

/// Re-record a whole class: deletes its recordings (with their samples and windows). Returns how
/// many recordings were deleted.
pub fn reset_class(store: &Store, class: ClassId) -> Result<usize, StoreError> {
    store.atomically(|| {
        let recordings = store.recordings_of_class(class)?;
        for r in &recordings {
            store.delete_recording(r.id)?;
        }
        Ok(recordings.len())
    })
}

/// The store's numbers for bandx-core's full-scale settings.
pub fn store_full_scale(fs: imu::FullScale) -> FullScale {
    FullScale {
        accel_g: fs.accel.g() as u16,
        gyro_dps: fs.gyro.dps() as u16,
    }
}

fn with_store<T>(
    store: &Mutex<Store>,
    f: impl FnOnce(&Store) -> Result<T, StoreError>,
) -> Result<T, CalibrateError> {
    let guard = store.lock().unwrap_or_else(|e| e.into_inner());
    Ok(f(&guard)?)
}
