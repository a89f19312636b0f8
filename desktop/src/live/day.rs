//! One day of the merged history as a timeline: stretches of one activity (or of "not worn" / "no model"), from
//! the minutes the band logged and from the live predictions in time its log does not cover (the same merge as
//! the daily minutes, [`Store::merged_activity`]). The Live and Data screens and `bandx report` draw it.

use crate::plots::Segment;
use crate::store::{Day, MinuteState, ProfileId, Store, StoreError, UnixMs};

use super::WINDOW_SECONDS;

/// Which source a stretch of the timeline comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// The band's own activity log, synced.
    BandLog,
    /// Predictions the desktop received live.
    Live,
}

/// A stretch of time with one state from one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaySegment {
    pub start_ms: UnixMs,
    pub end_ms: UnixMs,
    pub state: MinuteState,
    pub source: Source,
}

impl DaySegment {
    pub fn minutes(&self) -> f64 {
        (self.end_ms - self.start_ms) as f64 / 60_000.0
    }
}

/// The merged history of one local day, its segments sorted by start and clipped to the day.
#[derive(Debug, Clone, PartialEq)]
pub struct DayTimeline {
    pub day: Day,
    /// Local midnight, in UTC milliseconds.
    pub start_ms: UnixMs,
    pub end_ms: UnixMs,
    pub segments: Vec<DaySegment>,
}

/// Two pieces of the same state and source closer than this are one stretch: a live prediction covers one
/// window hop, and a prediction or two may be lost on the link without the wearer stopping.
const JOIN_GAP_MS: i64 = (2.0 * WINDOW_SECONDS * 1000.0) as i64;
const MINUTE_MS: i64 = 60_000;

/// The timeline of `day` (local days `utc_offset_minutes` east of UTC) for `profile`.
pub fn day_timeline(
    store: &Store,
    profile: ProfileId,
    day: Day,
    utc_offset_minutes: i32,
) -> Result<DayTimeline, StoreError> {
    let start_ms = day.start_ms(utc_offset_minutes);
    let end_ms = Day(day.0 + 1).start_ms(utc_offset_minutes);
    // A band minute that started before midnight still shows its part after it.
    let merged = store.merged_activity(profile, start_ms - MINUTE_MS, end_ms)?;
    let hop_ms = (WINDOW_SECONDS * 1000.0) as i64;
    let mut pieces: Vec<DaySegment> = merged
        .logged
        .into_iter()
        .map(|m| DaySegment {
            start_ms: m.t_ms,
            end_ms: m.t_ms + MINUTE_MS,
            state: m.state,
            source: Source::BandLog,
        })
        .chain(merged.live.into_iter().map(|p| DaySegment {
            start_ms: p.t_ms,
            end_ms: p.t_ms + hop_ms,
            state: MinuteState::Activity(p.class),
            source: Source::Live,
        }))
        .filter_map(|mut s| {
            s.start_ms = s.start_ms.max(start_ms);
            s.end_ms = s.end_ms.min(end_ms);
            (s.end_ms > s.start_ms).then_some(s)
        })
        .collect();
    pieces.sort_by_key(|s| (s.start_ms, s.end_ms));
    Ok(DayTimeline {
        day,
        start_ms,
        end_ms,
        segments: join(pieces),
    })
}

/// Joins time-sorted pieces into stretches (same state and source, gap at most [`JOIN_GAP_MS`]). Where a
/// piece starts inside the stretch before it and cannot join it, that stretch ends there: a live window that
/// began just before the band's minute, or two bands' minutes, never count the same time twice.
fn join(pieces: Vec<DaySegment>) -> Vec<DaySegment> {
    let mut out: Vec<DaySegment> = Vec::new();
    for p in pieces {
        if let Some(last) = out.last_mut() {
            if last.state == p.state
                && last.source == p.source
                && p.start_ms <= last.end_ms + JOIN_GAP_MS
            {
                last.end_ms = last.end_ms.max(p.end_ms);
                continue;
            }
            if p.start_ms < last.end_ms {
                last.end_ms = p.start_ms;
                if last.end_ms <= last.start_ms {
                    out.pop();
                }
            }
        }
        out.push(p);
    }
    out
}

/// The row a state is drawn in: the class's name, or what the band said instead.
pub fn row_label(state: &MinuteState) -> &str {
    match state {
        MinuteState::Activity(class) => class,
        MinuteState::NotWorn => NOT_WORN,
        MinuteState::NoModel => NO_MODEL,
        MinuteState::UnknownModel => UNKNOWN_MODEL,
    }
}

/// Row labels of the states that are not an activity (drawn muted, below the activities).
pub const NOT_WORN: &str = "not worn";
pub const NO_MODEL: &str = "no model";
pub const UNKNOWN_MODEL: &str = "unknown model";
pub const MUTED_ROWS: [&str; 3] = [NOT_WORN, NO_MODEL, UNKNOWN_MODEL];

impl DayTimeline {
    /// The segments as the plot draws them (one row per label).
    pub fn plot_segments(&self) -> Vec<Segment> {
        self.segments
            .iter()
            .map(|s| Segment {
                class: row_label(&s.state).to_string(),
                start_ms: s.start_ms,
                end_ms: s.end_ms,
            })
            .collect()
    }

    /// Minutes of each row label, from each source: `(label, from the band's log, live)`, activities by name
    /// first, then the muted rows.
    pub fn minutes(&self) -> Vec<(String, f64, f64)> {
        let mut rows: Vec<(String, f64, f64)> = Vec::new();
        for s in &self.segments {
            let label = row_label(&s.state);
            let i = match rows.iter().position(|r| r.0 == label) {
                Some(i) => i,
                None => {
                    rows.push((label.to_string(), 0.0, 0.0));
                    rows.len() - 1
                }
            };
            match s.source {
                Source::BandLog => rows[i].1 += s.minutes(),
                Source::Live => rows[i].2 += s.minutes(),
            }
        }
        rows.sort_by(|a, b| {
            let muted = |l: &str| MUTED_ROWS.contains(&l);
            (muted(&a.0), &a.0).cmp(&(muted(&b.0), &b.0))
        });
        rows
    }

    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn piece(start_s: i64, end_s: i64, class: &str, source: Source) -> DaySegment {
        DaySegment {
            start_ms: start_s * 1000,
            end_ms: end_s * 1000,
            state: MinuteState::Activity(class.into()),
            source,
        }
    }

    #[test]
    fn joins_only_the_same_state_and_source_across_small_gaps() {
        let joined = join(vec![
            piece(0, 60, "walking", Source::BandLog),
            piece(60, 120, "walking", Source::BandLog),
            piece(120, 121, "walking", Source::Live),
            piece(124, 125, "walking", Source::Live),
            piece(130, 131, "walking", Source::Live),
            piece(131, 132, "sitting", Source::Live),
            piece(140, 142, "sitting", Source::Live),
            piece(141, 201, "sitting", Source::BandLog),
        ]);
        let spans: Vec<(i64, i64, Source)> = joined
            .iter()
            .map(|s| (s.start_ms / 1000, s.end_ms / 1000, s.source))
            .collect();
        assert_eq!(
            spans,
            vec![
                (0, 120, Source::BandLog),
                (120, 125, Source::Live),
                (130, 131, Source::Live),
                (131, 132, Source::Live),
                (140, 141, Source::Live),
                (141, 201, Source::BandLog),
            ]
        );
    }
}
