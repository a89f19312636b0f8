//! Live screen: the band's own predictions as they come (`live::run_live` on a spawned task, which
//! stores them and checks them by shadow inference), the last hour as a timeline, today's totals.

use serde::Serialize;
use tauri::{AppHandle, State};

use crate::commands::bands::watch_connection;
use crate::events::{self, BandState, JobEnd};
use crate::state::{AppState, JobKind, now_ms};
use crate::{UiError, plot_options};
use bandx_desktop::live::{self, LiveConfig, LiveError, LiveEvent, LiveTarget};
use bandx_desktop::plots::{self, TimelinePoint};
use bandx_desktop::store::{Day, ProfileId};

/// One band prediction for the window.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct LivePrediction {
    pub window_seq: u32,
    pub t_ms: i64,
    pub class: String,
    pub confidence: f32,
}

/// The desktop's check of one band window.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct ShadowCheck {
    pub window_seq: u32,
    pub agree: bool,
    /// Agreement so far in this session, 0..=1.
    pub rate: Option<f32>,
}

/// The live view paused (reconnecting, `reason` says why) or resumed.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct LiveLink {
    pub paused: bool,
    pub reason: Option<String>,
}

/// What the Live screen shows besides the current prediction.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[ts(rename = "LiveSummary")]
pub struct LiveSummaryView {
    pub timeline_svg: String,
    /// Today from midnight, merged from the band's log and the live predictions.
    pub day_svg: String,
    pub today: Vec<DailyTotalView>,
}

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[ts(rename = "DailyTotal")]
pub struct DailyTotalView {
    pub class: String,
    pub minutes: f64,
}

/// A band window covers this much new time (the hop between windows).
const HOP_MS: i64 = 1500;

/// Starts the band's predictions; they come as `live:prediction` events until cancelled.
#[tauri::command]
pub async fn start_live(
    app: AppHandle,
    state: State<'_, AppState>,
    profile: ProfileId,
) -> Result<(), UiError> {
    state.store().profile(profile)?;
    let job = state.start_job(JobKind::Live)?;
    let mut band = state.check_out(JobKind::Live).await?;
    let state = state.inner().clone();
    // Run like the flash job: on a blocking thread of its own, so the live future need not be Send.
    tauri::async_runtime::spawn_blocking(move || {
        let result = tauri::async_runtime::block_on(async {
            let info = band.client.get_info().await.map_err(UiError::from)?;
            let active = info.model.ok_or_else(|| live_error(LiveError::NoModel))?;
            let shadow = live::deployed_blob(&state.store(), profile, band.band_id, &active)?;
            let target = LiveTarget {
                profile,
                band: band.band_id,
            };
            let forward = app.clone();
            let mut rate = None;
            let mut on_event = move |e: LiveEvent| match e {
                LiveEvent::Prediction {
                    window_seq,
                    class,
                    confidence,
                    t_ms,
                    ..
                } => events::emit(
                    &forward,
                    events::LIVE_PREDICTION,
                    LivePrediction {
                        window_seq,
                        t_ms,
                        class,
                        confidence,
                    },
                ),
                LiveEvent::Agreement { rate: r, .. } => rate = Some(r),
                LiveEvent::Paused { reason } => events::emit(
                    &forward,
                    events::LIVE_LINK,
                    LiveLink {
                        paused: true,
                        reason: Some(reason),
                    },
                ),
                LiveEvent::Resumed => events::emit(
                    &forward,
                    events::LIVE_LINK,
                    LiveLink {
                        paused: false,
                        reason: None,
                    },
                ),
                LiveEvent::Shadow {
                    window_seq, agree, ..
                } => events::emit(
                    &forward,
                    events::LIVE_SHADOW,
                    ShadowCheck {
                        window_seq,
                        agree,
                        rate,
                    },
                ),
                _ => {}
            };
            let link = band.link.clone();
            live::run_live(
                &mut band.client,
                link.as_ref(),
                &state.store,
                &target,
                shadow,
                &LiveConfig::default(),
                &mut on_event,
                &job.cancel,
            )
            .await
            .map_err(live_error)
        });
        let band_name = band.name.clone();
        let back = tauri::async_runtime::block_on(state.check_in(band));
        match back {
            Some(band) => watch_connection(app.clone(), state.clone(), &band),
            None => events::emit(
                &app,
                events::BAND_STATE,
                BandState {
                    connected: false,
                    reason: events::BandStateReason::Lost,
                    name: Some(band_name),
                },
            ),
        }
        drop(job);
        let end = match result {
            Ok(summary) if summary.cancelled => Err(UiError::cancelled("The live view")),
            Ok(_) => Ok(()),
            Err(e) => Err(e),
        };
        events::emit(&app, events::LIVE_DONE, JobEnd::of(end));
    });
    Ok(())
}

fn live_error(e: LiveError) -> UiError {
    match e {
        LiveError::Store(e) => e.into(),
        LiveError::Band(e) => e.into(),
        LiveError::NoModel => UiError::new(
            "no_model",
            "The band has no model to recognize activities with",
            "Train a model and flash it on the Flash screen",
        ),
        LiveError::Reconnect(_) => UiError::new(
            "connection_lost",
            "The band went out of reach and did not come back",
            "Everything it reported so far is saved. Connect it again on the Bands screen",
        ),
        other => UiError::new(
            "live",
            format!("The live view stopped: {other}"),
            "Flash the model again on the Flash screen, then start the live view",
        ),
    }
}

/// The last hour as a timeline SVG and today's minutes per class. `offset` is the local time
/// zone, minutes east of UTC.
#[tauri::command]
pub async fn live_summary(
    state: State<'_, AppState>,
    profile: ProfileId,
    dark: bool,
    offset: i32,
) -> Result<LiveSummaryView, UiError> {
    let now = now_ms();
    let store = state.store();
    let points: Vec<TimelinePoint> = store
        .predictions_between(profile, now - 3_600_000, now + 1)?
        .into_iter()
        .map(|p| TimelinePoint {
            t_ms: p.t_ms,
            class: p.class,
        })
        .collect();
    let classes = store
        .latest_model(profile)?
        .map(|m| m.classes)
        .unwrap_or_default();
    let offset = offset.clamp(-14 * 60, 14 * 60);
    let history = live::daily_history(&store, profile, 1, now, offset)?;
    let day = live::day_timeline(&store, profile, Day::of(now, offset), offset)?;
    drop(store);
    let mut options = plot_options(dark);
    options.height = 240;
    let timeline_svg =
        plots::activity_timeline(&points, &classes, now, HOP_MS, "Last hour", &options)
            .map_err(|e| UiError::internal("Drawing the timeline", e))?;
    let day_svg = day_svg(&day, &classes, "Today", &options)?;
    let today = history
        .minutes
        .last()
        .map(|row| {
            history
                .classes
                .iter()
                .zip(row)
                .filter(|(_, m)| **m > 0.0)
                .map(|(c, m)| DailyTotalView {
                    class: c.clone(),
                    minutes: *m,
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(LiveSummaryView {
        timeline_svg,
        day_svg,
        today,
    })
}

/// The Data screen's activity history: merged minutes per activity for each of the last `days` days, and the
/// timeline of one of them.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct ActivityHistoryView {
    /// `YYYY-MM-DD`, oldest first.
    pub days: Vec<String>,
    pub classes: Vec<String>,
    /// `minutes[d][c]`: merged minutes of `classes[c]` on `days[d]`.
    pub minutes: Vec<Vec<f64>>,
    /// Index into `days` of the day drawn.
    pub day: usize,
    pub day_svg: String,
    /// Minutes of each row of that day's timeline, by source.
    pub day_rows: Vec<DayRowView>,
    /// Minutes synced from the band whose time is unknown (in no day).
    pub time_unknown_minutes: u64,
}

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct DayRowView {
    /// An activity, or "not worn" / "no model" / "unknown model".
    pub label: String,
    pub band_log_minutes: f64,
    pub live_minutes: f64,
}

/// The last `days` days (1-92) of merged history and the timeline of `day` (an index into them; the last day
/// when absent). `offset` is the local time zone, minutes east of UTC.
#[tauri::command]
pub async fn activity_history(
    state: State<'_, AppState>,
    profile: ProfileId,
    days: u32,
    day: Option<usize>,
    dark: bool,
    offset: i32,
) -> Result<ActivityHistoryView, UiError> {
    let now = now_ms();
    let offset = offset.clamp(-14 * 60, 14 * 60);
    let store = state.store();
    let history = live::daily_history(&store, profile, days.clamp(1, 92), now, offset)?;
    let last = history.days.len() - 1;
    let index = day.unwrap_or(last).min(last);
    let chosen = Day(Day::of(now, offset).0 - (last - index) as i64);
    let timeline = live::day_timeline(&store, profile, chosen, offset)?;
    let classes = store
        .latest_model(profile)?
        .map(|m| m.classes)
        .unwrap_or_default();
    let time_unknown_minutes = store.time_unknown_minutes(profile)?;
    drop(store);
    let mut options = plot_options(dark);
    options.height = 260;
    let day_svg = day_svg(&timeline, &classes, &history.days[index], &options)?;
    Ok(ActivityHistoryView {
        day: index,
        day_svg,
        day_rows: timeline
            .minutes()
            .into_iter()
            .map(|(label, band_log_minutes, live_minutes)| DayRowView {
                label,
                band_log_minutes,
                live_minutes,
            })
            .collect(),
        days: history.days,
        classes: history.classes,
        minutes: history.minutes,
        time_unknown_minutes,
    })
}

/// One day of the merged history drawn as a timeline (rows: `classes`, then any other activity, then the
/// "not worn" / "no model" rows that occur).
pub(crate) fn day_svg(
    day: &live::DayTimeline,
    classes: &[String],
    title: &str,
    options: &plots::PlotOptions,
) -> Result<String, UiError> {
    plots::day_timeline(
        &day.plot_segments(),
        classes,
        &live::MUTED_ROWS,
        day.start_ms,
        title,
        options,
    )
    .map_err(|e| UiError::internal("Drawing the day's timeline", e))
}
