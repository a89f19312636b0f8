//! The prediction history: what the band said the wearer was doing, window by window, and per-day totals.

use rusqlite::params;

use super::{BandId, ProfileId, Store, StoreError, UnixMs};

const MS_PER_DAY: i64 = 86_400_000;

#[derive(Debug, Clone, PartialEq)]
pub struct NewPrediction {
    pub band: BandId,
    pub t_ms: UnixMs,
    /// The class label as the band's model named it.
    pub class: String,
    /// In [0, 1].
    pub confidence: f32,
    /// The band's window sequence number (gaps = windows not received).
    pub window_seq: u32,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Prediction {
    pub band: BandId,
    pub t_ms: UnixMs,
    pub class: String,
    pub confidence: f32,
    pub window_seq: u32,
}

/// A calendar day, as days since 1970-01-01 in the caller's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Day(pub i64);

impl Day {
    /// The day `t_ms` falls on, `utc_offset_minutes` east of UTC.
    pub fn of(t_ms: UnixMs, utc_offset_minutes: i32) -> Self {
        Day((t_ms + i64::from(utc_offset_minutes) * 60_000).div_euclid(MS_PER_DAY))
    }

    /// When the day starts (local midnight, `utc_offset_minutes` east of UTC), in UTC milliseconds.
    pub fn start_ms(self, utc_offset_minutes: i32) -> UnixMs {
        self.0 * MS_PER_DAY - i64::from(utc_offset_minutes) * 60_000
    }

    /// (year, month 1-12, day 1-31) in the proleptic Gregorian calendar.
    pub fn ymd(self) -> (i64, u32, u32) {
        // Howard Hinnant's civil_from_days.
        let z = self.0 + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let y = yoe + era * 400 + i64::from(m <= 2);
        (y, m, d)
    }
}

impl std::str::FromStr for Day {
    type Err = String;

    /// `YYYY-MM-DD` (proleptic Gregorian), the form [`Day`] displays as.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{text:?} is not a date like 2026-12-05");
        let mut parts = text.splitn(3, '-');
        let mut next = || {
            parts
                .next()
                .and_then(|p| p.parse::<i64>().ok())
                .ok_or_else(bad)
        };
        let (y, m, d) = (next()?, next()?, next()?);
        if !(1..=12).contains(&m) || !(1..=31).contains(&d) || !(1..=9999).contains(&y) {
            return Err(bad());
        }
        // Howard Hinnant's days_from_civil.
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (m + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let day = Day(era * 146_097 + doe - 719_468);
        // 2026-02-30 and the like come back as another date.
        if day.to_string() != format!("{:04}-{m:02}-{d:02}", if m <= 2 { y + 1 } else { y }) {
            return Err(bad());
        }
        Ok(day)
    }
}

impl std::fmt::Display for Day {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

/// How many windows of one class the band reported on one day.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DailyTotal {
    pub day: Day,
    pub class: String,
    pub windows: u64,
}

impl Store {
    /// Stores predictions in one transaction (all or none).
    pub fn add_predictions(
        &self,
        profile: ProfileId,
        predictions: &[NewPrediction],
    ) -> Result<(), StoreError> {
        self.atomically(|| {
            let mut insert = self.conn.prepare_cached(
                "INSERT INTO predictions (profile_id, band_id, t_ms, class, confidence, window_seq)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for p in predictions {
                if !(0.0..=1.0).contains(&p.confidence) {
                    return Err(StoreError::Invalid {
                        what: "prediction confidence",
                        reason: format!("{} is not in [0, 1]", p.confidence),
                    });
                }
                insert.execute(params![
                    profile,
                    p.band,
                    p.t_ms,
                    p.class,
                    f64::from(p.confidence),
                    p.window_seq
                ])?;
            }
            Ok(())
        })
    }

    /// Predictions with `from_ms <= t_ms < to_ms`, oldest first (e.g. the last hour for the timeline).
    pub fn predictions_between(
        &self,
        profile: ProfileId,
        from_ms: UnixMs,
        to_ms: UnixMs,
    ) -> Result<Vec<Prediction>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT band_id, t_ms, class, confidence, window_seq FROM predictions
             WHERE profile_id = ?1 AND t_ms >= ?2 AND t_ms < ?3 ORDER BY t_ms, id",
        )?;
        let rows = stmt.query_map(params![profile, from_ms, to_ms], |row| {
            Ok(Prediction {
                band: row.get(0)?,
                t_ms: row.get(1)?,
                class: row.get(2)?,
                confidence: row.get::<_, f64>(3)? as f32,
                window_seq: row.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Windows per class per day for predictions with `from_ms <= t_ms < to_ms`, days in the time zone
    /// `utc_offset_minutes` east of UTC; sorted by day, then class.
    pub fn daily_totals(
        &self,
        profile: ProfileId,
        from_ms: UnixMs,
        to_ms: UnixMs,
        utc_offset_minutes: i32,
    ) -> Result<Vec<DailyTotal>, StoreError> {
        let offset_ms = i64::from(utc_offset_minutes) * 60_000;
        // Floor division that is also right before 1970: SQLite's `/` truncates toward zero.
        let mut stmt = self.conn.prepare_cached(
            "SELECT ((t_ms + ?4) - (((t_ms + ?4) % ?5) + ?5) % ?5) / ?5 AS day, class, COUNT(*)
             FROM predictions WHERE profile_id = ?1 AND t_ms >= ?2 AND t_ms < ?3
             GROUP BY day, class ORDER BY day, class",
        )?;
        let rows = stmt.query_map(
            params![profile, from_ms, to_ms, offset_ms, MS_PER_DAY],
            |row| {
                Ok(DailyTotal {
                    day: Day(row.get(0)?),
                    class: row.get(1)?,
                    windows: row.get(2)?,
                })
            },
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
