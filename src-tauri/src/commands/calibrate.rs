//! Calibrate screen: the guided recording of one class (`calibrate::record_class`) on a spawned
//! task, its events forwarded to the window, cancel, and re-recording a window or a class.

use std::time::Duration;

use serde::Serialize;
use tauri::{AppHandle, State};

use crate::UiError;
use crate::commands::bands::watch_connection;
use crate::events::{self, ImuBatch, JobEnd};
use crate::state::{AppState, JobKind};
use bandx_desktop::calibrate::{
    self, CalibrateError, ClassTarget, QualityRules, SessionConfig, SessionEvent,
};
use bandx_desktop::link::sim::sim_speed;
use bandx_desktop::store::{ClassId, ProfileId, WindowId};

/// The window's view of a session, tagged by `kind` (its TypeScript type is generated: `tests/ui_types.rs`).
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CalibrateEvent {
    Progress {
        class: ClassId,
        good_count: u32,
        needed: u32,
    },
    Countdown {
        class: ClassId,
        seconds_left: u32,
    },
    Recording {
        class: ClassId,
    },
    Paused {
        class: ClassId,
        message: String,
    },
    Resumed {
        class: ClassId,
    },
    Window {
        class: ClassId,
        index: u32,
        /// Set for a good window (the UI offers to discard it).
        window: Option<WindowId>,
        good: bool,
        reason: Option<String>,
    },
    Done {
        class: ClassId,
        good_count: u32,
        needed: u32,
    },
}

/// How a session ended.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct CalibrateResult {
    pub good: u32,
    pub needed: u32,
}

/// Starts recording `class` on the connected band until it has 15 good windows. `moving` adds the
/// too-little-motion check (for classes where the arm moves).
#[tauri::command]
pub async fn start_calibration(
    app: AppHandle,
    state: State<'_, AppState>,
    profile: ProfileId,
    class: ClassId,
    moving: bool,
) -> Result<(), UiError> {
    {
        let store = state.store();
        if store.class(class)?.profile != profile {
            return Err(UiError::new(
                "invalid",
                "That activity belongs to another profile",
                "Select the profile again on the Calibrate screen",
            ));
        }
    }
    let job = state.start_job(JobKind::Calibrate)?;
    let mut band = state.check_out(JobKind::Calibrate).await?;
    let state = state.inner().clone();
    tauri::async_runtime::spawn(async move {
        let speed = sim_speed();
        let config = SessionConfig {
            rules: if moving {
                QualityRules::moving()
            } else {
                QualityRules::default()
            },
            countdown_step: Duration::from_secs_f64(1.0 / speed),
            ..SessionConfig::default()
        };
        let target = ClassTarget {
            profile,
            band: Some(band.band_id),
            class,
        };
        let forward = app.clone();
        let mut on_event = move |e: SessionEvent| forward_event(&forward, class, e);
        let result = calibrate::record_class(
            &mut band.client,
            band.link.clone().as_ref(),
            &state.store,
            &target,
            &config,
            &mut on_event,
            &job.cancel,
        )
        .await;
        match state.check_in(band).await {
            Some(band) => watch_connection(app.clone(), state.clone(), &band),
            None => events::emit(
                &app,
                events::BAND_STATE,
                events::BandState {
                    connected: false,
                    reason: events::BandStateReason::Lost,
                    name: None,
                },
            ),
        }
        let end = match result {
            Ok(outcome) if outcome.cancelled => Err(UiError::cancelled("Recording")),
            Ok(outcome) => Ok(CalibrateResult {
                good: outcome.good,
                needed: outcome.needed,
            }),
            Err(e) => {
                tracing::warn!("calibration ended: {e}");
                Err(calibrate_error(e))
            }
        };
        drop(job);
        events::emit(&app, events::CALIBRATE_DONE, JobEnd::of(end));
    });
    Ok(())
}

fn forward_event(app: &AppHandle, class: ClassId, e: SessionEvent) {
    let event = match e {
        SessionEvent::Samples { samples } => {
            let batch = ImuBatch {
                samples: samples
                    .iter()
                    .map(|s| {
                        let [ax, ay, az, gx, gy, gz] = s.si;
                        [s.t_ms as f32, ax, ay, az, gx, gy, gz]
                    })
                    .collect(),
            };
            events::emit(app, events::IMU_SAMPLES, batch);
            return;
        }
        SessionEvent::Progress { good, needed } => CalibrateEvent::Progress {
            class,
            good_count: good,
            needed,
        },
        SessionEvent::Countdown { remaining: 0 } | SessionEvent::RecordingStarted { .. } => {
            CalibrateEvent::Recording { class }
        }
        SessionEvent::Countdown { remaining } => CalibrateEvent::Countdown {
            class,
            seconds_left: remaining,
        },
        SessionEvent::WindowJudged {
            index,
            window,
            good,
            reason,
            ..
        } => CalibrateEvent::Window {
            class,
            index,
            window: good.then_some(window),
            good,
            reason,
        },
        SessionEvent::Paused { reason } => CalibrateEvent::Paused {
            class,
            message: reason,
        },
        SessionEvent::Resumed => CalibrateEvent::Resumed { class },
        SessionEvent::ClassDone { good, .. } => CalibrateEvent::Done {
            class,
            good_count: good,
            needed: calibrate::DEFAULT_WINDOWS,
        },
        // The done event carries the cancellation.
        SessionEvent::Cancelled { .. } => return,
    };
    events::emit(app, events::CALIBRATE_EVENT, event);
}

fn calibrate_error(e: CalibrateError) -> UiError {
    match e {
        CalibrateError::Store(e) => e.into(),
        CalibrateError::Band(e) => {
            let mut ui = UiError::from(e);
            ui.next_step = format!("What was recorded is kept. {}", ui.next_step);
            ui
        }
        CalibrateError::Reconnect(_) => UiError::new(
            "connection_lost",
            "The band went out of reach and did not come back",
            "What was recorded is kept. Connect it again on the Bands screen and record the rest",
        ),
        CalibrateError::Stalled(after) => UiError::new(
            "stalled",
            format!(
                "The band stopped sending motion data for {} s",
                after.as_secs()
            ),
            "What was recorded is kept. Disconnect and connect the band again, then record the rest",
        ),
    }
}

/// Re-record one window: it no longer counts (the running or next session records one more).
#[tauri::command]
pub async fn discard_window(state: State<'_, AppState>, window: WindowId) -> Result<(), UiError> {
    calibrate::reject_window(&state.store(), window)?;
    Ok(())
}

/// Re-record a class: deletes its recordings and windows (the UI asks first).
#[tauri::command]
pub async fn discard_class_recordings(
    state: State<'_, AppState>,
    class: ClassId,
) -> Result<(), UiError> {
    if state.jobs.is_running(JobKind::Calibrate) {
        return Err(UiError::busy("Recording"));
    }
    calibrate::reset_class(&state.store(), class)?;
    Ok(())
}
