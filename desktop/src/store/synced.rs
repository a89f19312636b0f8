//! Minutes synced from the band's activity log (bandx-core `log`), one row per `(band, seq)`: storing the same
//! record twice stores it once. And the merged history: per-day minutes per activity from live predictions and
//! synced minutes, where a minute the band logged replaces the live predictions of that same minute.

use std::collections::{BTreeMap, HashMap};

use rusqlite::params;

use bandx_core::protocol::{FLAG_NO_MODEL, FLAG_NOT_WORN};

use super::{BandId, Day, Prediction, ProfileId, Store, StoreError, UnixMs};

const MS_PER_MINUTE: i64 = 60_000;

/// One minute of the band's log as stored.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SyncedMinute {
    pub band: BandId,
    pub seq: u32,
    pub boot: u32,
    /// Minutes since that boot.
    pub band_minute: u32,
    /// Start of the minute; `None`: time unknown (the band's clock was never set in that boot).
    pub t_ms: Option<UnixMs>,
    /// Version of the model that classified it (0: none).
    pub model_version: u32,
    pub class_index: u8,
    /// The class's label, if the model is known (the band's current one, or one stored for the profile).
    pub class: Option<String>,
    pub dominant: u8,
    pub windows: u8,
    pub confidence_pct: u8,
    /// bandx-core's `FLAG_NOT_WORN` | `FLAG_NO_MODEL`.
    pub flags: u8,
}

impl SyncedMinute {
    /// Whether the minute says what the wearer did (worn, classified, label known).
    pub fn activity(&self) -> Option<&str> {
        (self.flags == 0 && self.dominant > 0)
            .then_some(self.class.as_deref())
            .flatten()
    }
}

/// Minutes of one activity on one day, merged from both sources.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DailyMinutes {
    pub day: Day,
    pub class: String,
    /// Minutes from the band's log.
    pub synced: f64,
    /// Minutes from live predictions in minutes the log does not cover (windows x 1.5 s).
    pub live: f64,
}

/// The history of a time range from both sources (see [`Store::merged_activity`]), each sorted by time.
#[derive(Debug, Clone, PartialEq)]
pub struct MergedActivity {
    /// Minutes from the band's log whose time is known.
    pub logged: Vec<LoggedMinute>,
    /// Live predictions in time no synced minute covers.
    pub live: Vec<Prediction>,
}

/// One minute of the band's log placed in time.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedMinute {
    pub band: BandId,
    /// Start of the minute.
    pub t_ms: UnixMs,
    pub state: MinuteState,
}

/// What a minute of the band's log says the wearer did.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MinuteState {
    /// Worn and classified: the minute's dominant activity.
    Activity(String),
    /// Not worn (no window, or most windows motionless).
    NotWorn,
    /// Worn, but the band had no model to classify with.
    NoModel,
    /// Classified by a model this desktop does not know the labels of.
    UnknownModel,
}

impl MinuteState {
    fn of(class: Option<String>, flags: u8, dominant: u8) -> Self {
        if flags & FLAG_NOT_WORN != 0 {
            MinuteState::NotWorn
        } else if flags & FLAG_NO_MODEL != 0 || dominant == 0 {
            MinuteState::NoModel
        } else {
            class.map_or(MinuteState::UnknownModel, MinuteState::Activity)
        }
    }
}

impl Store {
    /// Stores synced minutes in one transaction; a `(band, seq)` already stored is left as it is.
    /// Returns how many were new.
    pub fn add_synced_minutes(
        &self,
        profile: ProfileId,
        minutes: &[SyncedMinute],
        synced_at_ms: UnixMs,
    ) -> Result<usize, StoreError> {
        self.atomically(|| {
            let mut insert = self.conn.prepare_cached(
                "INSERT OR IGNORE INTO synced_minutes (band_id, seq, profile_id, boot, band_minute, t_ms,
                   model_version, class_index, class, dominant, windows, confidence_pct, flags, synced_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            )?;
            let mut added = 0;
            for m in minutes {
                added += insert.execute(params![
                    m.band,
                    m.seq,
                    profile,
                    m.boot,
                    m.band_minute,
                    m.t_ms,
                    m.model_version,
                    m.class_index,
                    m.class,
                    m.dominant,
                    m.windows,
                    m.confidence_pct,
                    m.flags,
                    synced_at_ms
                ])?;
            }
            Ok(added)
        })
    }

    /// The highest sequence number stored for `band` (0: none): where the next sync starts.
    pub fn last_synced_seq(&self, band: BandId) -> Result<u32, StoreError> {
        Ok(self.conn.query_row(
            "SELECT COALESCE(MAX(seq), 0) FROM synced_minutes WHERE band_id = ?1",
            [band],
            |row| row.get(0),
        )?)
    }

    /// When `band`'s log was last synced (the newest row's sync time).
    pub fn last_synced_at(&self, band: BandId) -> Result<Option<UnixMs>, StoreError> {
        Ok(self.conn.query_row(
            "SELECT MAX(synced_at_ms) FROM synced_minutes WHERE band_id = ?1",
            [band],
            |row| row.get(0),
        )?)
    }

    /// All synced minutes of a band, by sequence number.
    pub fn synced_minutes(&self, band: BandId) -> Result<Vec<SyncedMinute>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT band_id, seq, boot, band_minute, t_ms, model_version, class_index, class, dominant,
                    windows, confidence_pct, flags
             FROM synced_minutes WHERE band_id = ?1 ORDER BY seq",
        )?;
        let rows = stmt.query_map([band], |row| {
            Ok(SyncedMinute {
                band: row.get(0)?,
                seq: row.get(1)?,
                boot: row.get(2)?,
                band_minute: row.get(3)?,
                t_ms: row.get(4)?,
                model_version: row.get(5)?,
                class_index: row.get(6)?,
                class: row.get(7)?,
                dominant: row.get(8)?,
                windows: row.get(9)?,
                confidence_pct: row.get(10)?,
                flags: row.get(11)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Synced minutes of a profile whose time is unknown (never placed on a day).
    pub fn time_unknown_minutes(&self, profile: ProfileId) -> Result<u64, StoreError> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*) FROM synced_minutes WHERE profile_id = ?1 AND t_ms IS NULL",
            [profile],
            |row| row.get(0),
        )?)
    }

    /// The band model versions the synced minutes of each day were classified with (0: none), so a model
    /// change on the band shows in the history; days `utc_offset_minutes` east of UTC, oldest first.
    pub fn synced_models_by_day(
        &self,
        profile: ProfileId,
        from_ms: UnixMs,
        to_ms: UnixMs,
        utc_offset_minutes: i32,
    ) -> Result<Vec<(Day, Vec<u32>)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT DISTINCT t_ms, model_version FROM synced_minutes
             WHERE profile_id = ?1 AND t_ms >= ?2 AND t_ms < ?3 ORDER BY t_ms",
        )?;
        let rows = stmt.query_map(params![profile, from_ms, to_ms], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, u32>(1)?))
        })?;
        let mut days: BTreeMap<Day, Vec<u32>> = BTreeMap::new();
        for row in rows {
            let (t_ms, version) = row?;
            let versions = days.entry(Day::of(t_ms, utc_offset_minutes)).or_default();
            if !versions.contains(&version) {
                versions.push(version);
            }
        }
        Ok(days.into_iter().collect())
    }

    /// Both sources of the history with `from_ms <= t < to_ms`, never the same time twice: every synced minute
    /// (time known), and the live predictions that no synced minute of the same band covers. A synced minute
    /// covers the band time `[t_ms, t_ms + 1 min)`: the band's minutes need not line up with the wall clock's.
    pub fn merged_activity(
        &self,
        profile: ProfileId,
        from_ms: UnixMs,
        to_ms: UnixMs,
    ) -> Result<MergedActivity, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT band_id, t_ms, class, flags, dominant FROM synced_minutes
             WHERE profile_id = ?1 AND t_ms >= ?2 AND t_ms < ?3 ORDER BY t_ms, band_id",
        )?;
        let rows = stmt.query_map(params![profile, from_ms, to_ms], |row| {
            let class: Option<String> = row.get(2)?;
            let flags: u8 = row.get(3)?;
            let dominant: u8 = row.get(4)?;
            Ok(LoggedMinute {
                band: row.get(0)?,
                t_ms: row.get(1)?,
                state: MinuteState::of(class, flags, dominant),
            })
        })?;
        let logged: Vec<LoggedMinute> = rows.collect::<Result<_, _>>()?;
        let mut covered: HashMap<BandId, Vec<i64>> = HashMap::new();
        for m in &logged {
            covered.entry(m.band).or_default().push(m.t_ms);
        }
        let is_covered = |band: BandId, t_ms: i64| {
            covered.get(&band).is_some_and(|starts| {
                let after = starts.partition_point(|&s| s <= t_ms);
                after > 0 && t_ms < starts[after - 1] + MS_PER_MINUTE
            })
        };
        let live = self
            .predictions_between(profile, from_ms, to_ms)?
            .into_iter()
            .filter(|p| !is_covered(p.band, p.t_ms))
            .collect();
        Ok(MergedActivity { logged, live })
    }

    /// Per-day minutes per activity with `from_ms <= t < to_ms` (days `utc_offset_minutes` east of UTC), from
    /// both sources, never counting a minute twice (see [`Store::merged_activity`]). Minutes not worn, without
    /// a model or of an unknown model's class are not activity. Sorted by day, then class.
    pub fn merged_daily_minutes(
        &self,
        profile: ProfileId,
        from_ms: UnixMs,
        to_ms: UnixMs,
        utc_offset_minutes: i32,
    ) -> Result<Vec<DailyMinutes>, StoreError> {
        let merged = self.merged_activity(profile, from_ms, to_ms)?;
        // (synced minutes, live windows) per day and class.
        let mut totals: BTreeMap<(Day, String), (u64, u64)> = BTreeMap::new();
        for m in merged.logged {
            if let MinuteState::Activity(class) = m.state {
                totals
                    .entry((Day::of(m.t_ms, utc_offset_minutes), class))
                    .or_default()
                    .0 += 1;
            }
        }
        for p in merged.live {
            totals
                .entry((Day::of(p.t_ms, utc_offset_minutes), p.class))
                .or_default()
                .1 += 1;
        }
        let window_minutes = crate::live::WINDOW_SECONDS / 60.0;
        Ok(totals
            .into_iter()
            .map(|((day, class), (synced, live))| DailyMinutes {
                day,
                class,
                synced: synced as f64,
                live: live as f64 * window_minutes,
            })
            .collect())
    }
}
