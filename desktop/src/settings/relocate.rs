//! Moving the data directory without ever losing data: copy, verify, then switch.
//!
//! [`relocate_data`] copies the store with SQLite's `VACUUM INTO` (a consistent snapshot even while the
//! app has it open) and every other file (the virtual band's flash, the logs) byte for byte, then checks
//! the copy: the new store passes `PRAGMA integrity_check` and holds as many rows in every table as the
//! old one, and every other file has the same SHA-256. Only then does it return, and only then does the
//! caller switch the setting. On any failure the half-made copy is removed and the old directory is left as
//! it was. The old directory is never deleted: the user removes it once they are sure.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};
use sha2::{Digest, Sha256};

use crate::paths::{DataDir, STORE_FILE_NAME};

/// A data directory move that did not happen (the old directory is untouched).
#[derive(Debug, thiserror::Error)]
pub enum RelocateError {
    #[error("the new data folder must be a full path (starting with /), not \"{0}\"")]
    NotAbsolute(PathBuf),
    #[error("{0} is the data folder already")]
    Same(PathBuf),
    #[error("the new data folder {new} cannot be inside the current one {old}, or hold it")]
    Nested { old: PathBuf, new: PathBuf },
    #[error("{0} is not empty: choose a new or empty folder (nothing was copied)")]
    NotEmpty(PathBuf),
    #[error("copying to {path} failed ({reason}); nothing changed, your data stays in {old}")]
    Copy {
        path: PathBuf,
        old: PathBuf,
        reason: String,
    },
    #[error(
        "the copy in {new} does not match ({reason}); it was removed and your data stays in {old}"
    )]
    Mismatch {
        new: PathBuf,
        old: PathBuf,
        reason: String,
    },
}

/// A verified copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relocated {
    pub new: DataDir,
    /// Files copied (the store counts as one).
    pub files: usize,
    /// Rows in the copied store, all tables together.
    pub rows: u64,
}

/// Copies the data directory `old` to `new` (which must be absent or empty) and verifies the copy.
/// The caller holds whatever lock keeps the app from writing to the store meanwhile, and switches to
/// `new` only when this returns `Ok`.
pub fn relocate_data(old: &DataDir, new: &Path) -> Result<Relocated, RelocateError> {
    if !new.is_absolute() {
        return Err(RelocateError::NotAbsolute(new.to_path_buf()));
    }
    let old_root = old.root();
    let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let (o, n) = (canonical(old_root), canonical(new));
    if o == n {
        return Err(RelocateError::Same(new.to_path_buf()));
    }
    if n.starts_with(&o) || o.starts_with(&n) {
        return Err(RelocateError::Nested {
            old: old_root.to_path_buf(),
            new: new.to_path_buf(),
        });
    }
    let existed = new.exists();
    if existed && std::fs::read_dir(new).map_or(true, |mut d| d.next().is_some()) {
        return Err(RelocateError::NotEmpty(new.to_path_buf()));
    }
    let result = copy_and_verify(old, new);
    if result.is_err() {
        // Remove only what this call made: the folder itself when it did not exist before.
        let _ = if existed {
            clear_dir(new)
        } else {
            std::fs::remove_dir_all(new)
        };
    }
    result
}

fn copy_and_verify(old: &DataDir, new: &Path) -> Result<Relocated, RelocateError> {
    let copy_err = |path: &Path, reason: String| RelocateError::Copy {
        path: path.to_path_buf(),
        old: old.root().to_path_buf(),
        reason,
    };
    std::fs::create_dir_all(new).map_err(|e| copy_err(new, e.to_string()))?;
    let new_dir = DataDir::at(new);
    let mut files = 0;
    let old_store = old.store_path();
    if old_store.exists() {
        let conn = Connection::open_with_flags(&old_store, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| copy_err(&old_store, e.to_string()))?;
        let dest = new_dir.store_path();
        conn.execute("VACUUM INTO ?1", [dest.to_string_lossy()])
            .map_err(|e| copy_err(&dest, e.to_string()))?;
        files += 1;
    }
    let others = other_files(old.root()).map_err(|e| copy_err(old.root(), e.to_string()))?;
    for rel in &others {
        let (from, to) = (old.root().join(rel), new.join(rel));
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(|e| copy_err(parent, e.to_string()))?;
        }
        std::fs::copy(&from, &to).map_err(|e| copy_err(&to, e.to_string()))?;
        files += 1;
    }

    let mismatch = |reason: String| RelocateError::Mismatch {
        new: new.to_path_buf(),
        old: old.root().to_path_buf(),
        reason,
    };
    let mut rows = 0;
    if old_store.exists() {
        let before = row_counts(&old_store).map_err(|e| mismatch(e.to_string()))?;
        let after_path = new_dir.store_path();
        let check: String =
            Connection::open_with_flags(&after_path, OpenFlags::SQLITE_OPEN_READ_ONLY)
                .and_then(|c| c.query_row("PRAGMA integrity_check", [], |r| r.get(0)))
                .map_err(|e| mismatch(e.to_string()))?;
        if check != "ok" {
            return Err(mismatch(format!("integrity check: {check}")));
        }
        let after = row_counts(&after_path).map_err(|e| mismatch(e.to_string()))?;
        if before != after {
            return Err(mismatch(format!(
                "rows per table {before:?} became {after:?}"
            )));
        }
        rows = after.iter().map(|(_, n)| n).sum();
    }
    for rel in &others {
        let (a, b) = (digest(&old.root().join(rel)), digest(&new.join(rel)));
        match (a, b) {
            (Ok(a), Ok(b)) if a == b => {}
            _ => return Err(mismatch(format!("{} differs", rel.display()))),
        }
    }
    tracing::info!(
        files,
        rows,
        "copied the data directory and verified the copy"
    );
    Ok(Relocated {
        new: new_dir,
        files,
        rows,
    })
}

/// Every file under `root` except the store and SQLite's side files, relative to `root`.
fn other_files(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let dir = root.join(&rel);
        if !dir.exists() {
            continue;
        }
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let path = rel.join(&name);
            let kind = entry.file_type()?;
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file()
                && !(rel.as_os_str().is_empty() && is_store_file(&name.to_string_lossy()))
            {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn is_store_file(name: &str) -> bool {
    name == STORE_FILE_NAME
        || ["-wal", "-shm", "-journal"]
            .iter()
            .any(|suffix| name.strip_suffix(suffix) == Some(STORE_FILE_NAME))
}

fn row_counts(store: &Path) -> rusqlite::Result<Vec<(String, u64)>> {
    let conn = Connection::open_with_flags(store, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    tables
        .into_iter()
        .map(|t| {
            let n: u64 = conn.query_row(
                &format!("SELECT COUNT(*) FROM \"{}\"", t.replace('"', "\"\"")),
                [],
                |r| r.get(0),
            )?;
            Ok((t, n))
        })
        .collect()
}

fn digest(path: &Path) -> std::io::Result<[u8; 32]> {
    Ok(Sha256::digest(std::fs::read(path)?).into())
}

fn clear_dir(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            std::fs::remove_dir_all(path)?;
        } else {
            std::fs::remove_file(path)?;
        }
    }
    Ok(())
}
