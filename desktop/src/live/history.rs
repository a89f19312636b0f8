//! The activity history: per-day minutes per class, merged from the live predictions and the minutes synced from
//! the band's activity log (a minute the log covers counts once, from the log: see
//! [`Store::merged_daily_minutes`]).

use bandx_core::WINDOW_HOP;

use crate::store::{Day, ProfileId, Store, StoreError, UnixMs};

/// Windows the band classifies per minute of activity: each window adds [`WINDOW_HOP`] new samples.
pub const WINDOW_SECONDS: f64 = WINDOW_HOP as f64 / bandx_core::SAMPLE_RATE_HZ as f64;

/// Per-day totals per class over the last `days` days up to `now_ms` (today included), as a table:
/// `windows[d][c]` live predictions of `classes[c]` on `days[d]` (in minutes the band's log does not cover),
/// `minutes` the merged minutes: those windows in minutes plus the synced minutes of that class.
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
    let from_ms = first.start_ms(utc_offset_minutes);
    let to_ms = Day(today.0 + 1).start_ms(utc_offset_minutes);
    let totals = store.merged_daily_minutes(profile, from_ms, to_ms, utc_offset_minutes)?;
    let mut classes: Vec<String> = totals.iter().map(|t| t.class.clone()).collect();
    classes.sort();
    classes.dedup();
    let mut windows = vec![vec![0u64; classes.len()]; days as usize];
    let mut minutes = vec![vec![0f64; classes.len()]; days as usize];
    for t in &totals {
        let d = (t.day.0 - first.0) as usize;
        if let (Some(row), Some(m), Ok(c)) = (
            windows.get_mut(d),
            minutes.get_mut(d),
            classes.binary_search(&t.class),
        ) {
            row[c] += (t.live * 60.0 / WINDOW_SECONDS).round() as u64;
            m[c] += t.synced + t.live;
        }
    }
    Ok(DailyHistory {
        days: (0..days).map(|d| Day(first.0 + d).to_string()).collect(),
        classes,
        windows,
        minutes,
    })
}
