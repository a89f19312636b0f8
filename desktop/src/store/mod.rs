//! The local store: one SQLite file (bundled SQLite, WAL, foreign keys on) holding everything BandX Studio
//! keeps about a person — profiles, bands, activity classes, raw recordings, calibration windows, models,
//! deployments and the prediction history.
//!
//! Raw samples are stored exactly as the band sent them (i16 counts + the recording's full-scale settings);
//! conversion to SI units happens later, in one place (bandx-core), never here.
//!
//! A [`ProfileArchive`] is a profile with everything it owns, free of database ids: it is what
//! [`export_profile`] writes as plain files and [`import_profile`] reads back.

mod archive;
mod bands;
mod classes;
mod deployments;
mod error;
mod export;
mod ids;
mod models;
mod outdated;
mod predictions;
mod profiles;
mod recordings;
pub mod schema;
mod synced;
mod windows;

pub use archive::{
    ArchivedBand, ArchivedClass, ArchivedDeployment, ArchivedModel, ArchivedPrediction,
    ArchivedRecording, ArchivedWindow, ProfileArchive,
};
pub use bands::Band;
pub use classes::ActivityClass;
pub use deployments::{Deployment, DeploymentStatus, DeploymentUpdate, NewDeployment, Transport};
pub use error::{ArchiveError, StoreError};
pub use export::{export_profile, import_profile};
pub use ids::{BandId, ClassId, DeploymentId, ModelId, ProfileId, RecordingId, WindowId};
pub use models::{Model, NewModel};
pub use outdated::{OutdatedModel, outdated_reason};
pub use predictions::{DailyTotal, Day, NewPrediction, Prediction};
pub use profiles::Profile;
pub use recordings::{FlushPolicy, FullScale, NewRecording, RawSample, Recording, RecordingWriter};
pub use synced::{DailyMinutes, LoggedMinute, MergedActivity, MinuteState, SyncedMinute};
pub use windows::{CalibrationWindow, NewWindow, Verdict};

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;

/// Milliseconds since the Unix epoch (UTC): every timestamp in the store.
pub type UnixMs = i64;

/// The wall clock, now, as the store stamps things.
pub fn now_ms() -> UnixMs {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as UnixMs)
}

/// The open store. Cheap to keep open for the whole session; not `Sync` (wrap it in a `Mutex` to share it).
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: Option<PathBuf>,
}

impl Store {
    /// Opens (creating if needed) the store at `path` and upgrades its schema to the latest version.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref();
        let conn = Connection::open(path)?;
        // WAL: readers never block the recorder; synchronous=NORMAL keeps every committed transaction
        // when the app crashes (only a power loss can drop the last few).
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::NoWal { mode });
        }
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        Self::setup(conn, Some(path.to_path_buf()))
    }

    /// A store that lives in memory only (tests, previews).
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Self::setup(Connection::open_in_memory()?, None)
    }

    fn setup(mut conn: Connection, path: Option<PathBuf>) -> Result<Self, StoreError> {
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(Duration::from_secs(5))?;
        schema::migrate(&mut conn)?;
        Ok(Self { conn, path })
    }

    /// The file this store lives in (`None` for an in-memory store).
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The schema version of the open database (always [`schema::LATEST_VERSION`] after `open`).
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        schema::version(&self.conn)
    }

    /// SQLite's own consistency checks: `integrity_check` and `foreign_key_check`.
    /// Returns the problems found (empty when the database is sound).
    pub fn check_integrity(&self) -> Result<Vec<String>, StoreError> {
        let mut problems = Vec::new();
        let mut stmt = self.conn.prepare("PRAGMA integrity_check")?;
        for row in stmt.query_map([], |row| row.get::<_, String>(0))? {
            let row = row?;
            if row != "ok" {
                problems.push(row);
            }
        }
        let mut stmt = self.conn.prepare("PRAGMA foreign_key_check")?;
        let rows = stmt.query_map([], |row| {
            Ok(format!(
                "foreign key violation in {} row {:?} -> {}",
                row.get::<_, String>(0)?,
                row.get::<_, Option<i64>>(1)?,
                row.get::<_, String>(2)?
            ))
        })?;
        for row in rows {
            problems.push(row?);
        }
        Ok(problems)
    }

    /// Runs `f` all-or-nothing. Nests (a savepoint inside an outer one), unlike `BEGIN`.
    pub(crate) fn atomically<T, E: From<rusqlite::Error>>(
        &self,
        f: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        struct Guard<'c>(&'c Connection, bool);
        impl Drop for Guard<'_> {
            fn drop(&mut self) {
                if !self.1 {
                    // Also on panic: leave no half-done work behind.
                    let _ = self.0.execute_batch("ROLLBACK TO bandx; RELEASE bandx");
                }
            }
        }
        self.conn.execute_batch("SAVEPOINT bandx")?;
        let mut guard = Guard(&self.conn, false);
        let value = f()?;
        self.conn.execute_batch("RELEASE bandx")?;
        guard.1 = true;
        Ok(value)
    }

    /// Direct access for the rare query this API does not cover (reports, tests).
    pub fn connection(&self) -> &Connection {
        &self.conn
    }
}
