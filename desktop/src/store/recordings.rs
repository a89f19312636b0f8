//! Raw IMU recordings, stored sample by sample exactly as received, and the [`RecordingWriter`] that
//! commits them in small batches so a crash loses at most about a second.

use std::time::{Duration, Instant};

use rusqlite::{OptionalExtension, params};

use super::{BandId, ClassId, ProfileId, RecordingId, Store, StoreError, UnixMs};

/// The IMU's full-scale settings while recording: an i16 count of 32767 means +`accel_g` g / +`gyro_dps` deg/s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FullScale {
    pub accel_g: u16,
    pub gyro_dps: u16,
}

/// One 6-axis reading as the band sent it. The i16 -> SI conversion belongs to bandx-core, not the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RawSample {
    /// Sequence number of the BLE frame that carried this sample (gaps = lost frames).
    pub frame_seq: u32,
    /// The band's timestamp of the sample, in milliseconds.
    pub t_ms: i64,
    pub accel: [i16; 3],
    pub gyro: [i16; 3],
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewRecording {
    /// The activity being recorded; `None` for a free recording (e.g. `bandx record` without a class).
    pub class: Option<ClassId>,
    pub band: Option<BandId>,
    pub started_at_ms: UnixMs,
    pub sample_rate_hz: f32,
    pub full_scale: FullScale,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Recording {
    pub id: RecordingId,
    pub profile: ProfileId,
    pub class: Option<ClassId>,
    pub band: Option<BandId>,
    pub started_at_ms: UnixMs,
    pub sample_rate_hz: f32,
    pub full_scale: FullScale,
    /// Samples stored so far.
    pub samples: u64,
}

impl Store {
    pub fn create_recording(
        &self,
        profile: ProfileId,
        new: &NewRecording,
    ) -> Result<RecordingId, StoreError> {
        if !(new.sample_rate_hz.is_finite() && new.sample_rate_hz > 0.0) {
            return Err(StoreError::Invalid {
                what: "sample rate",
                reason: format!("{} Hz is not a positive rate", new.sample_rate_hz),
            });
        }
        if new.full_scale.accel_g == 0 || new.full_scale.gyro_dps == 0 {
            return Err(StoreError::Invalid {
                what: "full scale",
                reason: format!("{:?} has a zero range", new.full_scale),
            });
        }
        if let Some(class) = new.class
            && self.class(class)?.profile != profile
        {
            return Err(StoreError::Invalid {
                what: "recording class",
                reason: format!("class {class} belongs to another profile"),
            });
        }
        self.conn.execute(
            "INSERT INTO recordings (profile_id, class_id, band_id, started_at_ms, sample_rate_hz,
                                     accel_range_g, gyro_range_dps)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                profile,
                new.class,
                new.band,
                new.started_at_ms,
                f64::from(new.sample_rate_hz),
                new.full_scale.accel_g,
                new.full_scale.gyro_dps
            ],
        )?;
        Ok(RecordingId(self.conn.last_insert_rowid()))
    }

    /// Appends samples after those already stored, in one transaction: all of them or none.
    pub fn append_samples(
        &self,
        recording: RecordingId,
        samples: &[RawSample],
    ) -> Result<(), StoreError> {
        self.atomically(|| {
            let next: i64 = self.conn.query_row(
                "SELECT COALESCE(MAX(idx) + 1, 0) FROM samples WHERE recording_id = ?1",
                [recording],
                |row| row.get(0),
            )?;
            {
                let mut insert = self.conn.prepare_cached(
                "INSERT INTO samples (recording_id, idx, frame_seq, t_ms, ax, ay, az, gx, gy, gz)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?;
                for (i, s) in samples.iter().enumerate() {
                    insert.execute(params![
                        recording,
                        next + i as i64,
                        s.frame_seq,
                        s.t_ms,
                        s.accel[0],
                        s.accel[1],
                        s.accel[2],
                        s.gyro[0],
                        s.gyro[1],
                        s.gyro[2]
                    ])?;
                }
            }
            Ok(())
        })
    }

    pub fn recording(&self, id: RecordingId) -> Result<Recording, StoreError> {
        self.conn
            .query_row(
                &format!("{RECORDING_SELECT} WHERE r.id = ?1"),
                [id],
                row_to_recording,
            )
            .optional()?
            .ok_or(StoreError::NotFound {
                what: "recording",
                id: id.0,
            })
    }

    /// The profile's recordings, oldest first.
    pub fn recordings(&self, profile: ProfileId) -> Result<Vec<Recording>, StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "{RECORDING_SELECT} WHERE r.profile_id = ?1 ORDER BY r.id"
        ))?;
        let rows = stmt.query_map([profile], row_to_recording)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The recordings of one class, oldest first.
    pub fn recordings_of_class(&self, class: ClassId) -> Result<Vec<Recording>, StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "{RECORDING_SELECT} WHERE r.class_id = ?1 ORDER BY r.id"
        ))?;
        let rows = stmt.query_map([class], row_to_recording)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every stored sample of a recording, in order.
    pub fn samples(&self, recording: RecordingId) -> Result<Vec<RawSample>, StoreError> {
        self.samples_range(recording, 0, u64::MAX)
    }

    /// Up to `len` samples starting at sample index `start` (e.g. one calibration window).
    pub fn samples_range(
        &self,
        recording: RecordingId,
        start: u64,
        len: u64,
    ) -> Result<Vec<RawSample>, StoreError> {
        let end = start.saturating_add(len).min(i64::MAX as u64);
        let mut stmt = self.conn.prepare_cached(
            "SELECT frame_seq, t_ms, ax, ay, az, gx, gy, gz FROM samples
             WHERE recording_id = ?1 AND idx >= ?2 AND idx < ?3 ORDER BY idx",
        )?;
        let rows = stmt.query_map(params![recording, start as i64, end as i64], |row| {
            Ok(RawSample {
                frame_seq: row.get(0)?,
                t_ms: row.get(1)?,
                accel: [row.get(2)?, row.get(3)?, row.get(4)?],
                gyro: [row.get(5)?, row.get(6)?, row.get(7)?],
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn sample_count(&self, recording: RecordingId) -> Result<u64, StoreError> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*) FROM samples WHERE recording_id = ?1",
            [recording],
            |row| row.get(0),
        )?)
    }

    /// Deletes a recording with its samples and windows.
    pub fn delete_recording(&self, id: RecordingId) -> Result<(), StoreError> {
        match self
            .conn
            .execute("DELETE FROM recordings WHERE id = ?1", [id])?
        {
            0 => Err(StoreError::NotFound {
                what: "recording",
                id: id.0,
            }),
            _ => Ok(()),
        }
    }
}

const RECORDING_SELECT: &str =
    "SELECT r.id, r.profile_id, r.class_id, r.band_id, r.started_at_ms, r.sample_rate_hz,
        r.accel_range_g, r.gyro_range_dps,
        (SELECT COUNT(*) FROM samples s WHERE s.recording_id = r.id)
    FROM recordings r";

fn row_to_recording(row: &rusqlite::Row<'_>) -> rusqlite::Result<Recording> {
    Ok(Recording {
        id: row.get(0)?,
        profile: row.get(1)?,
        class: row.get(2)?,
        band: row.get(3)?,
        started_at_ms: row.get(4)?,
        sample_rate_hz: row.get::<_, f64>(5)? as f32,
        full_scale: FullScale {
            accel_g: row.get(6)?,
            gyro_dps: row.get(7)?,
        },
        samples: row.get(8)?,
    })
}

/// When a [`RecordingWriter`] commits its buffer: after `max_samples` samples or once the oldest buffered
/// sample is `max_age` old, whichever comes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlushPolicy {
    pub max_samples: usize,
    pub max_age: Duration,
}

impl Default for FlushPolicy {
    /// At 20 Hz: a commit every second at the latest, so a crash loses at most ~1 s of samples.
    fn default() -> Self {
        Self {
            max_samples: 20,
            max_age: Duration::from_secs(1),
        }
    }
}

/// Buffers incoming samples and commits them to the store in batches (see [`FlushPolicy`]).
///
/// It does not borrow the store: pass it on each call, so the store can live behind a `Mutex`.
/// Call [`RecordingWriter::flush`] when the stream pauses or ends; buffered samples are lost if you do not.
#[derive(Debug)]
pub struct RecordingWriter {
    recording: RecordingId,
    policy: FlushPolicy,
    buffer: Vec<RawSample>,
    oldest: Option<Instant>,
    committed: u64,
}

impl RecordingWriter {
    /// A writer appending to `recording` (which may already hold samples: a resumed session).
    pub fn new(
        store: &Store,
        recording: RecordingId,
        policy: FlushPolicy,
    ) -> Result<Self, StoreError> {
        let committed = store.recording(recording)?.samples;
        Ok(Self {
            recording,
            policy,
            buffer: Vec::with_capacity(policy.max_samples),
            oldest: None,
            committed,
        })
    }

    pub fn recording(&self) -> RecordingId {
        self.recording
    }

    /// Samples safely committed to the database.
    pub fn committed(&self) -> u64 {
        self.committed
    }

    /// Samples waiting in memory for the next commit.
    pub fn pending(&self) -> usize {
        self.buffer.len()
    }

    /// Buffers one sample and commits the batch if the policy says so. Returns whether it committed.
    pub fn push(&mut self, store: &Store, sample: RawSample) -> Result<bool, StoreError> {
        self.buffer.push(sample);
        let oldest = *self.oldest.get_or_insert_with(Instant::now);
        if self.buffer.len() >= self.policy.max_samples || oldest.elapsed() >= self.policy.max_age {
            self.flush(store)?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Commits the buffer if its oldest sample is older than the policy allows (call it from a timer when the
    /// stream may stall). Returns whether it committed.
    pub fn tick(&mut self, store: &Store) -> Result<bool, StoreError> {
        match self.oldest {
            Some(oldest) if oldest.elapsed() >= self.policy.max_age => {
                self.flush(store)?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Commits every buffered sample now. On error the samples stay buffered for a retry.
    pub fn flush(&mut self, store: &Store) -> Result<(), StoreError> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        store.append_samples(self.recording, &self.buffer)?;
        self.committed += self.buffer.len() as u64;
        self.buffer.clear();
        self.oldest = None;
        Ok(())
    }
}
