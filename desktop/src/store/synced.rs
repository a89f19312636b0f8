//! Minutes synced from the band's activity log (bandx-core `log`), one row per `(band, seq)`: storing the same
//! record twice stores it once. And the merged history: per-day minutes per activity from live predictions and
//! synced minutes, where a minute the band logged replaces the live predictions of that same minute.

use std::collections::{BTreeMap, HashMap};

use rusqlite::params;

use super::{BandId, Day, ProfileId, Store, StoreError, UnixMs};

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

    /// Per-day minutes per activity with `from_ms <= t < to_ms` (days `utc_offset_minutes` east of UTC), from
    /// both sources, never counting a minute twice: a wall-clock minute (per band) the log covers counts once,
    /// from the log; the live predictions of that minute are left out. Minutes not worn, without a model or of
    /// an unknown model's class are not activity. Sorted by day, then class.
    pub fn merged_daily_minutes(
        &self,
        profile: ProfileId,
        from_ms: UnixMs,
        to_ms: UnixMs,
        utc_offset_minutes: i32,
    ) -> Result<Vec<DailyMinutes>, StoreError> {
        // The band time each synced minute covers, [t_ms, t_ms + 1 min), per band: the band's minutes need not
        // line up with the wall clock's.
        let mut covered: HashMap<BandId, Vec<i64>> = HashMap::new();
        // (synced minutes, live windows) per day and class.
        let mut totals: BTreeMap<(Day, String), (u64, u64)> = BTreeMap::new();
        let mut synced = self.conn.prepare_cached(
            "SELECT band_id, t_ms, class, flags, dominant FROM synced_minutes
             WHERE profile_id = ?1 AND t_ms >= ?2 AND t_ms < ?3",
        )?;
        let rows = synced.query_map(params![profile, from_ms, to_ms], |row| {
            Ok((
                row.get::<_, BandId>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, Option<String>>(2)?,
                row.get::<_, u8>(3)?,
                row.get::<_, u8>(4)?,
            ))
        })?;
        for row in rows {
            let (band, t_ms, class, flags, dominant) = row?;
            covered.entry(band).or_default().push(t_ms);
            if let Some(class) = class.filter(|_| flags == 0 && dominant > 0) {
                totals
                    .entry((Day::of(t_ms, utc_offset_minutes), class))
                    .or_default()
                    .0 += 1;
            }
        }
        for starts in covered.values_mut() {
            starts.sort_unstable();
        }
        let is_covered = |band: BandId, t_ms: i64| {
            covered.get(&band).is_some_and(|starts| {
                let after = starts.partition_point(|&s| s <= t_ms);
                after > 0 && t_ms < starts[after - 1] + MS_PER_MINUTE
            })
        };
        let window_minutes = crate::live::WINDOW_SECONDS / 60.0;
        let mut live = self.conn.prepare_cached(
            "SELECT band_id, t_ms, class FROM predictions
             WHERE profile_id = ?1 AND t_ms >= ?2 AND t_ms < ?3",
        )?;
        let rows = live.query_map(params![profile, from_ms, to_ms], |row| {
            Ok((
                row.get::<_, BandId>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, String>(2)?,
            ))
        })?;
        for row in rows {
            let (band, t_ms, class) = row?;
            if is_covered(band, t_ms) {
                continue;
            }
            totals
                .entry((Day::of(t_ms, utc_offset_minutes), class))
                .or_default()
                .1 += 1;
        }
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
