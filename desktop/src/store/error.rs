//! What can go wrong in the store, and while exporting or importing a profile.

use std::path::PathBuf;

/// An error from the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error(
        "the database has schema version {found}, newer than this BandX Studio understands ({supported}); \
         update BandX Studio"
    )]
    TooNew { found: u32, supported: u32 },
    #[error("migration to schema version {version} ({description}) failed: {source}")]
    Migration {
        version: u32,
        description: &'static str,
        source: rusqlite::Error,
    },
    #[error("SQLite refused write-ahead logging (journal mode is {mode:?})")]
    NoWal { mode: String },
    #[error("{what} {id} does not exist")]
    NotFound { what: &'static str, id: i64 },
    #[error("a profile named {0:?} already exists")]
    ProfileExists(String),
    #[error("an activity class named {0:?} already exists in this profile")]
    ClassExists(String),
    #[error("invalid {what}: {reason}")]
    Invalid { what: &'static str, reason: String },
    #[error("stored JSON in {what} is unreadable: {source}")]
    Json {
        what: &'static str,
        source: serde_json::Error,
    },
}

/// An error while exporting or importing a profile. An import that fails leaves the store untouched.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is missing from the export")]
    Missing { path: PathBuf },
    #[error("{path}: not valid JSON for this file: {source}")]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{path}: {source}")]
    Csv { path: PathBuf, source: csv::Error },
    #[error(
        "{path}: unsupported export format {found:?} version {version} (this build reads {expected:?} version {supported})"
    )]
    Format {
        path: PathBuf,
        found: String,
        version: u32,
        expected: &'static str,
        supported: u32,
    },
    #[error("{path}: {reason}")]
    Inconsistent { path: PathBuf, reason: String },
    /// A file of the export is far larger than any export writes.
    #[error(transparent)]
    TooLarge(crate::files::FileError),
    #[error("{path}: content does not match its checksum (file damaged?)")]
    Checksum { path: PathBuf },
    #[error("export destination {path} already exists")]
    DestinationExists { path: PathBuf },
    #[error("{path}: the store refused the import: {source}")]
    Rejected { path: PathBuf, source: StoreError },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for ArchiveError {
    fn from(e: rusqlite::Error) -> Self {
        ArchiveError::Store(StoreError::Sqlite(e))
    }
}
