//! The replay set shipped beside a backbone: other people's windows of the pre-training classes,
//! so [`Method::Replay`](crate::personalize::Method::Replay) can mix them into a user's
//! fine-tuning batches outside `evaluate` (the desktop app, `bandx-model personalize`).
//!
//! Windows are stored in SI units (not normalized), so any checkpoint's normalization applies.
//! File format (little endian), `.replay`:
//!
//! ```text
//! "BXRP"  u16 version (1)  u16 window length (60)  u8 channels (6)
//! u8 label count L, then L x (u8 byte length, UTF-8 name)
//! 6 x f32 channel step: SI value of one i16 unit (finite, > 0)
//! u32 window count N, then N x (u8 label index, 60 x 6 i16 samples, [t][c])
//! ```
//!
//! Nothing may follow the last window. [`ReplaySet::from_bytes`] never panics on any input.

use std::path::Path;

use crate::error::{ModelError, Result};
use crate::personalize::replay_set;
use crate::preprocess::{Normalization, WINDOW_LEN, WINDOW_VALUES, Window};
use crate::recording::CHANNELS;
use crate::train::Examples;

const MAGIC: &[u8; 4] = b"BXRP";
const VERSION: u16 = 1;

/// Labelled SI windows (`[t][c]`, 60 x 6) of other people.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplaySet {
    labels: Vec<String>,
    /// `(label index, SI samples)`.
    windows: Vec<(usize, Vec<f32>)>,
}

impl ReplaySet {
    /// Up to `per_class` windows of each of `labels`, spread evenly over `windows` (see
    /// [`replay_set`]).
    pub fn pick(windows: &[&Window], labels: &[String], per_class: usize) -> Result<ReplaySet> {
        if labels.len() > usize::from(u8::MAX) {
            return Err(ModelError::InvalidInput(format!(
                "a replay set holds at most 255 labels, got {}",
                labels.len()
            )));
        }
        if let Some(l) = labels.iter().find(|l| l.is_empty() || l.len() > 255) {
            return Err(ModelError::InvalidInput(format!(
                "replay label {l:?} must be 1 to 255 bytes long"
            )));
        }
        let windows = replay_set(windows, labels, per_class)
            .into_iter()
            .filter_map(|w| {
                let y = labels.iter().position(|l| *l == w.label)?;
                (w.data.len() == WINDOW_VALUES).then(|| (y, w.data.clone()))
            })
            .collect();
        Ok(ReplaySet {
            labels: labels.to_vec(),
            windows,
        })
    }

    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    pub fn len(&self) -> usize {
        self.windows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }

    /// Windows per label, in label order.
    pub fn counts(&self) -> Vec<usize> {
        let mut n = vec![0; self.labels.len()];
        for (y, _) in &self.windows {
            n[*y] += 1;
        }
        n
    }

    /// The windows of the user's classes, normalized with `norm`, `y` indexing `user_labels`.
    /// Names match ignoring case and surrounding spaces; a user class the set does not know
    /// gets no windows.
    pub fn examples(&self, user_labels: &[String], norm: &Normalization) -> Examples {
        let to_user: Vec<Option<usize>> = self
            .labels
            .iter()
            .map(|l| {
                user_labels
                    .iter()
                    .position(|u| u.trim().eq_ignore_ascii_case(l.trim()))
            })
            .collect();
        let mut e = Examples::default();
        for (y, data) in &self.windows {
            if let Some(u) = to_user[*y] {
                norm.apply_into(data, &mut e.x);
                e.y.push(u);
            }
        }
        e
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut step = [0f32; CHANNELS];
        for (_, data) in &self.windows {
            for (i, v) in data.iter().enumerate() {
                let c = i % CHANNELS;
                step[c] = step[c].max(v.abs() / f32::from(i16::MAX));
            }
        }
        for s in &mut step {
            if !(s.is_finite() && *s > 0.0) {
                *s = 1e-6;
            }
        }
        let mut out = Vec::with_capacity(64 + self.windows.len() * (1 + 2 * WINDOW_VALUES));
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&(WINDOW_LEN as u16).to_le_bytes());
        out.push(CHANNELS as u8);
        out.push(self.labels.len() as u8);
        for l in &self.labels {
            out.push(l.len() as u8);
            out.extend_from_slice(l.as_bytes());
        }
        for s in step {
            out.extend_from_slice(&s.to_le_bytes());
        }
        out.extend_from_slice(&(self.windows.len() as u32).to_le_bytes());
        for (y, data) in &self.windows {
            out.push(*y as u8);
            for (i, v) in data.iter().enumerate() {
                let q = (v / step[i % CHANNELS]).round().clamp(-32767.0, 32767.0) as i16;
                out.extend_from_slice(&q.to_le_bytes());
            }
        }
        out
    }

    /// Parses a `.replay` file's bytes; `origin` names it in errors.
    pub fn from_bytes(bytes: &[u8], origin: &Path) -> Result<ReplaySet> {
        let bad = |reason: String| ModelError::ReplaySet {
            path: origin.into(),
            reason,
        };
        let mut r = Reader { bytes, at: 0 };
        if r.take(4).map_err(&bad)? != MAGIC {
            return Err(bad(
                "not a replay set (the file does not start with BXRP)".into()
            ));
        }
        let version = r.u16().map_err(&bad)?;
        if version != VERSION {
            return Err(bad(format!(
                "format version {version} is not supported (this build reads {VERSION})"
            )));
        }
        let (len, channels) = (r.u16().map_err(&bad)?, r.u8().map_err(&bad)?);
        if usize::from(len) != WINDOW_LEN || usize::from(channels) != CHANNELS {
            return Err(bad(format!(
                "windows are {len} x {channels}, the model takes {WINDOW_LEN} x {CHANNELS}"
            )));
        }
        let label_count = r.u8().map_err(&bad)?;
        let mut labels = Vec::with_capacity(label_count.into());
        for i in 0..label_count {
            let n = r.u8().map_err(&bad)?;
            let name = std::str::from_utf8(r.take(n.into()).map_err(&bad)?)
                .map_err(|_| bad(format!("label {i} is not UTF-8")))?;
            labels.push(name.to_string());
        }
        let mut step = [0f32; CHANNELS];
        for (c, s) in step.iter_mut().enumerate() {
            *s = f32::from_le_bytes(r.array().map_err(&bad)?);
            if !(s.is_finite() && *s > 0.0) {
                return Err(bad(format!("channel {c} has an invalid step {s}")));
            }
        }
        let count = r.u32().map_err(&bad)? as usize;
        let record = 1 + 2 * WINDOW_VALUES;
        if r.rest() != count.saturating_mul(record) {
            return Err(bad(format!(
                "{count} windows need {} bytes after the header, the file has {} (truncated or padded)",
                count.saturating_mul(record),
                r.rest()
            )));
        }
        let mut windows = Vec::with_capacity(count);
        for i in 0..count {
            let y = usize::from(r.u8().map_err(&bad)?);
            if y >= labels.len() {
                return Err(bad(format!(
                    "window {i} has label index {y}, but there are {} labels",
                    labels.len()
                )));
            }
            let raw = r.take(2 * WINDOW_VALUES).map_err(&bad)?;
            let data = raw
                .chunks_exact(2)
                .enumerate()
                .map(|(k, b)| f32::from(i16::from_le_bytes([b[0], b[1]])) * step[k % CHANNELS])
                .collect();
            windows.push((y, data));
        }
        Ok(ReplaySet { labels, windows })
    }

    pub fn load(path: &Path) -> Result<ReplaySet> {
        let bytes = std::fs::read(path).map_err(|e| ModelError::io(path, e))?;
        ReplaySet::from_bytes(&bytes, path)
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| ModelError::io(dir, e))?;
        }
        std::fs::write(path, self.to_bytes()).map_err(|e| ModelError::io(path, e))
    }

    /// Where a checkpoint's replay set lives: beside it, `backbone.json` -> `backbone.replay`.
    pub fn path_beside(checkpoint: &Path) -> std::path::PathBuf {
        checkpoint.with_extension("replay")
    }
}

/// A cursor over untrusted bytes: every read is bounds-checked.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> std::result::Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| format!("truncated at byte {}", self.bytes.len()))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> std::result::Result<[u8; N], String> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn u8(&mut self) -> std::result::Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> std::result::Result<u16, String> {
        self.array().map(u16::from_le_bytes)
    }

    fn u32(&mut self) -> std::result::Result<u32, String> {
        self.array().map(u32::from_le_bytes)
    }

    fn rest(&self) -> usize {
        self.bytes.len() - self.at
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn window(label: &str, subject: &str, seed: f32) -> Window {
        Window {
            subject: subject.into(),
            session: "s".into(),
            label: label.into(),
            recording: 0,
            order: 0,
            start: 0,
            data: (0..WINDOW_VALUES)
                .map(|i| {
                    let c = i % CHANNELS;
                    let scale = if c < 3 { 20.0 } else { 5.0 };
                    scale * ((i as f32 * 0.37 + seed).sin())
                })
                .collect(),
        }
    }

    fn sample_set() -> ReplaySet {
        let w: Vec<Window> = (0..12)
            .map(|i| {
                let label = ["walking", "typing", "jogging"][i % 3];
                window(label, &format!("{}", 1600 + i / 3), i as f32)
            })
            .collect();
        let refs: Vec<&Window> = w.iter().collect();
        ReplaySet::pick(&refs, &["walking".into(), "typing".into()], 3).unwrap()
    }

    #[test]
    fn round_trips_within_half_a_step() {
        let set = sample_set();
        assert_eq!(set.counts(), vec![3, 3]);
        let back = ReplaySet::from_bytes(&set.to_bytes(), Path::new("t.replay")).unwrap();
        assert_eq!(back.labels(), set.labels());
        for ((y0, a), (y1, b)) in set.windows.iter().zip(&back.windows) {
            assert_eq!(y0, y1);
            for (i, (x, z)) in a.iter().zip(b).enumerate() {
                // |values| <= 20 (accel) or 5 (gyro), so a step is at most that / 32767.
                let max = if i % CHANNELS < 3 { 20.0 } else { 5.0 };
                let half_step = max / 32767.0 / 2.0;
                assert!((x - z).abs() <= half_step * 1.001, "{x} vs {z}");
            }
        }
    }

    #[test]
    fn user_classes_match_by_name_ignoring_case_and_unknown_ones_get_nothing() {
        let set = sample_set();
        let user = vec!["Cycling".to_string(), " Walking ".to_string()];
        let e = set.examples(&user, &Normalization::identity());
        assert_eq!(e.y, vec![1, 1, 1]);
        assert_eq!(e.x.len(), 3 * WINDOW_VALUES);
    }

    #[test]
    fn damaged_files_name_what_is_wrong() {
        let bytes = sample_set().to_bytes();
        let err = |b: &[u8]| {
            ReplaySet::from_bytes(b, Path::new("x.replay"))
                .unwrap_err()
                .to_string()
        };
        assert!(err(b"{\"json\": 1}").contains("does not start with BXRP"));
        assert!(err(&bytes[..bytes.len() - 1]).contains("truncated or padded"));
        let mut padded = bytes.clone();
        padded.push(0);
        assert!(err(&padded).contains("truncated or padded"));
        let mut v2 = bytes.clone();
        v2[4] = 2;
        assert!(err(&v2).contains("version 2"));
        let mut bad_label = bytes.clone();
        let first_window = bytes.len() - 6 * (1 + 2 * WINDOW_VALUES);
        bad_label[first_window] = 9;
        assert!(err(&bad_label).contains("label index 9"));
        for cut in 0..first_window {
            assert!(err(&bytes[..cut]).contains("x.replay"));
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = ReplaySet::from_bytes(&bytes, Path::new("p"));
        }

        #[test]
        fn corrupted_headers_never_panic(at in 0usize..64, value in any::<u8>()) {
            let mut bytes = sample_set().to_bytes();
            bytes[at] = value;
            let _ = ReplaySet::from_bytes(&bytes, Path::new("p"));
        }
    }
}
