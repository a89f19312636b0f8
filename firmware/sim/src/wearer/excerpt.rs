//! The recorded wrist data the virtual wearer replays: a compact excerpt of one WISDM 2019 subject.
//!
//! Binary layout (little-endian), xz-compressed as a whole:
//! ```text
//! magic "BXWE" | version u8 (1) | subject u16 | sample_rate_hz u8 (20)
//! accel_unit f32 (m/s² per count) | gyro_unit f32 (rad/s per count) | activity count u8
//! per activity: code u8 (ASCII) | start_ms u32 (offset into the WISDM activity block) | n u32
//!               | n × (ax ay az gx gy gz: i16)
//! ```
//! [`build_from_wisdm`] makes it from the dataset's raw watch files (see `examples/make_wearer_excerpt.rs`).

use std::collections::BTreeMap;
use std::io::Cursor;

use super::Activity;

const MAGIC: &[u8; 4] = b"BXWE";
const VERSION: u8 = 1;
/// Resolution of stored accelerometer values (±32.7 m/s² representable; the WISDM watch reads ±2 g).
pub const ACCEL_UNIT: f32 = 1.0 / 1000.0;
/// Resolution of stored gyroscope values (±32.7 rad/s representable).
pub const GYRO_UNIT: f32 = 1.0 / 1000.0;

/// One aligned 20 Hz reading in SI: ax, ay, az (m/s²), gx, gy, gz (rad/s).
pub type SiSample = [f32; 6];

/// The recording of one activity.
#[derive(Debug, Clone, PartialEq)]
pub struct Recording {
    pub activity: Activity,
    /// Where the excerpt starts inside the subject's WISDM block for this activity.
    pub start_ms: u32,
    /// 20 Hz samples.
    pub samples: Vec<SiSample>,
}

/// A subject's recordings, one per activity.
#[derive(Debug, Clone, PartialEq)]
pub struct Excerpt {
    pub subject: u16,
    pub recordings: Vec<Recording>,
}

/// Why excerpt bytes or WISDM text could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExcerptError {
    #[error("the excerpt is not valid xz data: {0}")]
    Compression(String),
    #[error("the excerpt does not start with BXWE version 1")]
    BadHeader,
    #[error("the excerpt is truncated")]
    Truncated,
    #[error("the excerpt has bytes after its last recording")]
    TrailingBytes,
    #[error("unknown activity code {0:#04x} in the excerpt")]
    BadActivity(u8),
    #[error("WISDM line {line}: {reason}")]
    BadLine { line: usize, reason: &'static str },
    #[error("activity {0} has too little aligned accelerometer and gyroscope data")]
    TooShort(Activity),
}

impl Excerpt {
    /// The recording of `activity`, if the excerpt has one.
    pub fn recording(&self, activity: Activity) -> Option<&Recording> {
        self.recordings.iter().find(|r| r.activity == activity)
    }

    /// The activities present, in dataset order.
    pub fn activities(&self) -> impl Iterator<Item = Activity> + '_ {
        self.recordings.iter().map(|r| r.activity)
    }

    /// Reads an xz-compressed excerpt.
    pub fn from_xz(bytes: &[u8]) -> Result<Excerpt, ExcerptError> {
        let mut raw = Vec::new();
        lzma_rs::xz_decompress(&mut Cursor::new(bytes), &mut raw)
            .map_err(|e| ExcerptError::Compression(e.to_string()))?;
        Excerpt::decode(&raw)
    }

    /// Writes the excerpt, xz-compressed.
    pub fn to_xz(&self) -> Vec<u8> {
        let raw = self.encode();
        let mut out = Vec::new();
        lzma_rs::xz_compress(&mut Cursor::new(raw), &mut out)
            .expect("compressing into memory cannot fail");
        out
    }

    /// The uncompressed encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.extend_from_slice(&self.subject.to_le_bytes());
        out.push(20);
        out.extend_from_slice(&ACCEL_UNIT.to_le_bytes());
        out.extend_from_slice(&GYRO_UNIT.to_le_bytes());
        out.push(self.recordings.len() as u8);
        for r in &self.recordings {
            out.push(r.activity.code() as u8);
            out.extend_from_slice(&r.start_ms.to_le_bytes());
            out.extend_from_slice(&(r.samples.len() as u32).to_le_bytes());
            for s in &r.samples {
                for (c, v) in s.iter().enumerate() {
                    let unit = if c < 3 { ACCEL_UNIT } else { GYRO_UNIT };
                    let q = (v / unit).round().clamp(i16::MIN as f32, i16::MAX as f32) as i16;
                    out.extend_from_slice(&q.to_le_bytes());
                }
            }
        }
        out
    }

    /// Reads the uncompressed encoding; every length is checked.
    pub fn decode(bytes: &[u8]) -> Result<Excerpt, ExcerptError> {
        let mut r = Reader(bytes);
        if r.take(4)? != MAGIC || r.u8()? != VERSION {
            return Err(ExcerptError::BadHeader);
        }
        let subject = u16::from_le_bytes(r.array()?);
        if r.u8()? != 20 {
            return Err(ExcerptError::BadHeader);
        }
        let accel_unit = f32::from_le_bytes(r.array()?);
        let gyro_unit = f32::from_le_bytes(r.array()?);
        let count = r.u8()?;
        let mut recordings = Vec::with_capacity(count.into());
        for _ in 0..count {
            let code = r.u8()?;
            let activity =
                Activity::from_code(char::from(code)).ok_or(ExcerptError::BadActivity(code))?;
            let start_ms = u32::from_le_bytes(r.array()?);
            let n = u32::from_le_bytes(r.array()?) as usize;
            let body = r.take(n.checked_mul(12).ok_or(ExcerptError::Truncated)?)?;
            let samples = body
                .chunks_exact(12)
                .map(|s| {
                    std::array::from_fn(|c| {
                        let q = i16::from_le_bytes([s[2 * c], s[2 * c + 1]]);
                        f32::from(q) * if c < 3 { accel_unit } else { gyro_unit }
                    })
                })
                .collect();
            recordings.push(Recording {
                activity,
                start_ms,
                samples,
            });
        }
        if !r.0.is_empty() {
            return Err(ExcerptError::TrailingBytes);
        }
        Ok(Excerpt {
            subject,
            recordings,
        })
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ExcerptError> {
        if self.0.len() < n {
            return Err(ExcerptError::Truncated);
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, ExcerptError> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], ExcerptError> {
        let mut a = [0; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
}

/// One WISDM reading: timestamp (device ns) and x, y, z.
type Reading = (i64, [f32; 3]);

/// Parses a WISDM raw watch file (`subject,activity,timestamp_ns,x,y,z;` lines) into readings per activity.
pub fn parse_wisdm(text: &str) -> Result<BTreeMap<Activity, Vec<Reading>>, ExcerptError> {
    let mut out: BTreeMap<Activity, Vec<Reading>> = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim().trim_end_matches(';');
        if line.is_empty() {
            continue;
        }
        let bad = |reason| ExcerptError::BadLine {
            line: i + 1,
            reason,
        };
        let f: Vec<&str> = line.split(',').collect();
        if f.len() != 6 {
            return Err(bad("expected 6 comma-separated fields"));
        }
        let mut code = f[1].chars();
        let activity = match (code.next(), code.next()) {
            (Some(c), None) => Activity::from_code(c),
            _ => None,
        }
        .ok_or(bad("unknown activity code"))?;
        let t: i64 = f[2].parse().map_err(|_| bad("bad timestamp"))?;
        let mut xyz = [0f32; 3];
        for (v, s) in xyz.iter_mut().zip(&f[3..]) {
            *v = s.parse().map_err(|_| bad("bad value"))?;
            if !v.is_finite() {
                return Err(bad("non-finite value"));
            }
        }
        out.entry(activity).or_default().push((t, xyz));
    }
    Ok(out)
}

/// Builds an excerpt from a subject's WISDM watch accelerometer and gyroscope files (decompressed text):
/// for each activity present in both, `seconds` of samples starting `skip_seconds` into the block, on a
/// 20 Hz grid; each sensor is linearly interpolated at the grid times from its own timestamps (the two
/// files are not row-aligned and the accelerometer sometimes runs faster than 20 Hz).
pub fn build_from_wisdm(
    subject: u16,
    accel_text: &str,
    gyro_text: &str,
    skip_seconds: u32,
    seconds: u32,
) -> Result<Excerpt, ExcerptError> {
    let accel = parse_wisdm(accel_text)?;
    let gyro = parse_wisdm(gyro_text)?;
    let n = seconds as usize * 20;
    let mut recordings = Vec::new();
    for (&activity, a) in &accel {
        let Some(g) = gyro.get(&activity) else {
            continue;
        };
        let (Some(a0), Some(g0)) = (a.first(), g.first()) else {
            continue;
        };
        let block_start = a0.0.min(g0.0);
        let t0 = a0.0.max(g0.0) + i64::from(skip_seconds) * 1_000_000_000;
        let mut samples = Vec::with_capacity(n);
        for k in 0..n as i64 {
            let t = t0 + k * 50_000_000;
            let (Some(av), Some(gv)) = (interpolate(a, t), interpolate(g, t)) else {
                return Err(ExcerptError::TooShort(activity));
            };
            samples.push([av[0], av[1], av[2], gv[0], gv[1], gv[2]]);
        }
        recordings.push(Recording {
            activity,
            start_ms: ((t0 - block_start) / 1_000_000) as u32,
            samples,
        });
    }
    Ok(Excerpt {
        subject,
        recordings,
    })
}

/// The reading at time `t`, linearly interpolated between its neighbours; `None` outside the readings.
fn interpolate(readings: &[Reading], t: i64) -> Option<[f32; 3]> {
    let i = readings.partition_point(|r| r.0 <= t);
    if i == 0 || i > readings.len() {
        return None;
    }
    let (t1, v1) = readings[i - 1];
    if t1 == t {
        return Some(v1);
    }
    let (t2, v2) = *readings.get(i)?;
    let w = (t - t1) as f64 / (t2 - t1) as f64;
    Some(std::array::from_fn(|c| {
        (f64::from(v1[c]) + w * f64::from(v2[c] - v1[c])) as f32
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCEL: &str = "1650,A,1000000000,1.0,2.0,3.0;\n1650,A,1050000000,2.0,4.0,6.0;\n\
                         1650,A,1100000000,3.0,6.0,9.0;\n1650,A,1150000000,4.0,8.0,12.0;\n";
    const GYRO: &str = "1650,A,1025000000,0.5,0,0;\n1650,A,1075000000,1.5,0,0;\n\
                        1650,A,1125000000,2.5,0,0;\n1650,A,1175000000,3.5,0,0;\n";

    #[test]
    fn sensors_are_aligned_by_timestamp() {
        // Grid starts at the later first reading (gyro, 1.025 s): accel interpolated half-way.
        let n = 2; // 0.1 s = 2 samples
        let e = build_from_wisdm(1650, ACCEL, GYRO, 0, 0).unwrap();
        assert_eq!(e.recordings[0].samples.len(), 0);
        let a = parse_wisdm(ACCEL).unwrap();
        assert_eq!(
            interpolate(&a[&Activity::WALKING], 1_025_000_000),
            Some([1.5, 3.0, 4.5])
        );
        assert_eq!(interpolate(&a[&Activity::WALKING], 999_999_999), None);
        assert_eq!(interpolate(&a[&Activity::WALKING], 1_150_000_001), None);
        let g = parse_wisdm(GYRO).unwrap();
        let grid: Vec<_> = (0..n)
            .map(|k| interpolate(&g[&Activity::WALKING], 1_025_000_000 + k * 50_000_000))
            .collect();
        assert_eq!(grid, [Some([0.5, 0.0, 0.0]), Some([1.5, 0.0, 0.0])]);
    }

    #[test]
    fn a_block_too_short_is_an_error() {
        assert_eq!(
            build_from_wisdm(1650, ACCEL, GYRO, 0, 1),
            Err(ExcerptError::TooShort(Activity::WALKING))
        );
    }

    #[test]
    fn bad_lines_are_reported_with_their_number() {
        let err = parse_wisdm("1650,A,1,1,2,3;\n1650,N,2,1,2,3;\n").unwrap_err();
        assert_eq!(
            err,
            ExcerptError::BadLine {
                line: 2,
                reason: "unknown activity code"
            }
        );
        assert!(parse_wisdm("1650,A,x,1,2,3;").is_err());
        assert!(parse_wisdm("1650,A,1,1,2;").is_err());
        assert!(parse_wisdm("1650,A,1,1,2,NaN;").is_err());
    }

    #[test]
    fn encoding_round_trips_within_the_stored_resolution() {
        let e = Excerpt {
            subject: 1650,
            recordings: vec![Recording {
                activity: Activity::JOGGING,
                start_ms: 10_000,
                samples: vec![[9.81, -3.3, 0.001, 1.2345, -0.5, 7.0]; 3],
            }],
        };
        let back = Excerpt::from_xz(&e.to_xz()).unwrap();
        assert_eq!((back.subject, back.recordings[0].start_ms), (1650, 10_000));
        for (s, b) in e.recordings[0]
            .samples
            .iter()
            .zip(&back.recordings[0].samples)
        {
            for c in 0..6 {
                let unit = if c < 3 { ACCEL_UNIT } else { GYRO_UNIT };
                assert!((s[c] - b[c]).abs() <= unit / 2.0 + 1e-6, "{s:?} {b:?}");
            }
        }
    }

    #[test]
    fn damaged_excerpts_are_errors_not_panics() {
        let e = Excerpt {
            subject: 1650,
            recordings: vec![Recording {
                activity: Activity::WALKING,
                start_ms: 0,
                samples: vec![[0.0; 6]; 4],
            }],
        };
        let raw = e.encode();
        for cut in 0..raw.len() {
            assert!(Excerpt::decode(&raw[..cut]).is_err(), "cut at {cut}");
        }
        let mut extra = raw.clone();
        extra.push(0);
        assert_eq!(Excerpt::decode(&extra), Err(ExcerptError::TrailingBytes));
        let mut bad = raw.clone();
        bad[17] = b'N';
        assert_eq!(Excerpt::decode(&bad), Err(ExcerptError::BadActivity(b'N')));
        assert!(matches!(
            Excerpt::from_xz(b"not xz"),
            Err(ExcerptError::Compression(_))
        ));
    }
}
