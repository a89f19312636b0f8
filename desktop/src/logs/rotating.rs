//! A log file that never grows past its cap: when the next record would take `name.log` over `cap_bytes`,
//! it becomes `name.log.1` (the older ones shift to `.2`, `.3`, …; the oldest past `keep` is deleted) and a
//! fresh `name.log` starts. Whole records only: one `write` is never split across two files. On disk at
//! most `cap_bytes × (keep + 1)`. Writes go straight to the file (no buffer), so a crash loses nothing
//! that was logged before it.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// A size-capped, rotating log file; clones write to the same file.
#[derive(Clone)]
pub struct RotatingFile {
    inner: Arc<Mutex<Open>>,
}

struct Open {
    path: PathBuf,
    file: File,
    written: u64,
    cap_bytes: u64,
    keep: usize,
}

impl RotatingFile {
    /// Opens (appending to) `path`, creating its directory; keeps `keep` older files beside it.
    pub fn open(path: impl Into<PathBuf>, cap_bytes: u64, keep: usize) -> io::Result<RotatingFile> {
        let path = path.into();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = append(&path)?;
        let written = file.metadata()?.len();
        Ok(RotatingFile {
            inner: Arc::new(Mutex::new(Open {
                path,
                file,
                written,
                cap_bytes: cap_bytes.max(1),
                keep,
            })),
        })
    }

    /// The current file (the newest records).
    pub fn path(&self) -> PathBuf {
        self.lock().path.clone()
    }

    /// The `n`th older file (`n` ≥ 1) of the file at `path`.
    pub fn rotated(path: &Path, n: usize) -> PathBuf {
        let mut name = path.as_os_str().to_owned();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }

    fn lock(&self) -> MutexGuard<'_, Open> {
        // A panic while logging must not silence the log (the panic hook logs through here).
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

impl Open {
    fn rotate(&mut self) -> io::Result<()> {
        if self.keep == 0 {
            self.file.set_len(0)?;
        } else {
            let _ = std::fs::remove_file(RotatingFile::rotated(&self.path, self.keep));
            for n in (1..self.keep).rev() {
                let from = RotatingFile::rotated(&self.path, n);
                if from.exists() {
                    std::fs::rename(&from, RotatingFile::rotated(&self.path, n + 1))?;
                }
            }
            std::fs::rename(&self.path, RotatingFile::rotated(&self.path, 1))?;
            self.file = append(&self.path)?;
        }
        self.written = 0;
        Ok(())
    }
}

impl Write for &RotatingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut open = self.lock();
        if open.written > 0 && open.written + buf.len() as u64 > open.cap_bytes {
            open.rotate()?;
        }
        // One record is written whole (a record larger than the cap gets a file of its own).
        open.file.write_all(buf)?;
        open.written += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.lock().file.flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for RotatingFile {
    type Writer = &'a RotatingFile;
    fn make_writer(&'a self) -> Self::Writer {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(path: &Path) -> u64 {
        std::fs::metadata(path).map_or(0, |m| m.len())
    }

    #[test]
    fn rotates_at_the_cap_and_keeps_only_the_newest_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs/app.log");
        let log = RotatingFile::open(&path, 100, 2).unwrap();
        for i in 0..40 {
            writeln!(&log, "record {i:03} ........").unwrap(); // 20 bytes each: 5 fit in a file
        }
        for file in [
            &path,
            &RotatingFile::rotated(&path, 1),
            &RotatingFile::rotated(&path, 2),
        ] {
            let n = size(file);
            assert!(n > 0 && n <= 100, "{} holds {n} bytes", file.display());
        }
        assert!(
            !RotatingFile::rotated(&path, 3).exists(),
            "only 2 older files are kept"
        );
        // The newest records are in the current file, the one before in .1; the oldest are gone.
        let now = std::fs::read_to_string(&path).unwrap();
        assert!(now.ends_with("record 039 ........\n"), "{now}");
        let before = std::fs::read_to_string(RotatingFile::rotated(&path, 1)).unwrap();
        assert!(
            before.contains("record 030") && !before.contains("record 035"),
            "{before}"
        );
        let all = [
            &path,
            &RotatingFile::rotated(&path, 1),
            &RotatingFile::rotated(&path, 2),
        ]
        .map(|p| std::fs::read_to_string(p).unwrap())
        .concat();
        assert!(
            !all.contains("record 000"),
            "the oldest records were dropped"
        );
        assert_eq!(all.lines().count(), 15, "every kept record is whole");
    }

    #[test]
    fn reopening_appends_and_counts_what_is_already_there() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        std::fs::write(&path, "x".repeat(90)).unwrap();
        let log = RotatingFile::open(&path, 100, 1).unwrap();
        writeln!(&log, "a record of 20 bytes").unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "a record of 20 bytes\n"
        );
        assert_eq!(size(&RotatingFile::rotated(&path, 1)), 90);
    }

    #[test]
    fn with_nothing_to_keep_the_file_starts_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        let log = RotatingFile::open(&path, 30, 0).unwrap();
        for _ in 0..5 {
            writeln!(&log, "0123456789abcdef").unwrap();
        }
        assert!(size(&path) <= 30);
        assert!(!RotatingFile::rotated(&path, 1).exists());
    }
}
