//! The schema and its history. The database's `PRAGMA user_version` is the number of migrations applied;
//! opening a store applies the missing ones in order, each in its own transaction (a failed step leaves the
//! database at the previous version). Never edit a released migration: append a new one.

use rusqlite::Connection;

use super::StoreError;

/// One step of the schema's history.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// The version the database has after this step.
    pub version: u32,
    pub description: &'static str,
    pub sql: &'static str,
}

/// Every migration, oldest first; `MIGRATIONS[i].version == i + 1`.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "profiles, bands, activity classes, recordings, raw samples, calibration windows",
        sql: r#"
CREATE TABLE profiles (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE COLLATE NOCASE,
    created_at_ms INTEGER NOT NULL
);
CREATE TABLE bands (
    id            INTEGER PRIMARY KEY,
    address       TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    first_seen_ms INTEGER NOT NULL
);
CREATE TABLE activity_classes (
    id            INTEGER PRIMARY KEY,
    profile_id    INTEGER NOT NULL REFERENCES profiles(id) ON DELETE CASCADE,
    name          TEXT NOT NULL COLLATE NOCASE,
    created_at_ms INTEGER NOT NULL,
    UNIQUE (profile_id, name)
);
CREATE TABLE recordings (
    id             INTEGER PRIMARY KEY,
    profile_id     INTEGER NOT NULL REFERENCES profiles(id) ON DELETE CASCADE,
    class_id       INTEGER REFERENCES activity_classes(id) ON DELETE CASCADE,
    band_id        INTEGER REFERENCES bands(id) ON DELETE SET NULL,
    started_at_ms  INTEGER NOT NULL,
    sample_rate_hz REAL NOT NULL,
    accel_range_g  INTEGER NOT NULL CHECK (accel_range_g > 0),
    gyro_range_dps INTEGER NOT NULL CHECK (gyro_range_dps > 0)
);
CREATE INDEX recordings_by_profile ON recordings(profile_id);
CREATE INDEX recordings_by_class ON recordings(class_id);
CREATE INDEX recordings_by_band ON recordings(band_id);
CREATE TABLE samples (
    recording_id INTEGER NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
    idx          INTEGER NOT NULL CHECK (idx >= 0),
    frame_seq    INTEGER NOT NULL,
    t_ms         INTEGER NOT NULL,
    ax INTEGER NOT NULL, ay INTEGER NOT NULL, az INTEGER NOT NULL,
    gx INTEGER NOT NULL, gy INTEGER NOT NULL, gz INTEGER NOT NULL,
    PRIMARY KEY (recording_id, idx)
) WITHOUT ROWID;
CREATE TABLE calibration_windows (
    id           INTEGER PRIMARY KEY,
    recording_id INTEGER NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
    start_index  INTEGER NOT NULL CHECK (start_index >= 0),
    verdict      TEXT NOT NULL CHECK (verdict IN ('good', 'rejected')),
    reason       TEXT
);
CREATE INDEX windows_by_recording ON calibration_windows(recording_id);
"#,
    },
    Migration {
        version: 2,
        description: "models and deployments",
        sql: r#"
CREATE TABLE models (
    id            INTEGER PRIMARY KEY,
    profile_id    INTEGER NOT NULL REFERENCES profiles(id) ON DELETE CASCADE,
    version       INTEGER NOT NULL CHECK (version > 0),
    backbone_id   TEXT NOT NULL,
    classes_json  TEXT NOT NULL,
    metrics_json  TEXT NOT NULL,
    blob          BLOB NOT NULL,
    created_at_ms INTEGER NOT NULL,
    UNIQUE (profile_id, version)
);
CREATE TABLE deployments (
    id             INTEGER PRIMARY KEY,
    profile_id     INTEGER NOT NULL REFERENCES profiles(id) ON DELETE CASCADE,
    model_id       INTEGER REFERENCES models(id) ON DELETE SET NULL,
    band_id        INTEGER NOT NULL REFERENCES bands(id) ON DELETE CASCADE,
    transport      TEXT NOT NULL CHECK (transport IN ('ble_model', 'ble_firmware', 'usb')),
    status         TEXT NOT NULL
                   CHECK (status IN ('pending', 'transferring', 'committed', 'verified', 'failed', 'cancelled')),
    started_at_ms  INTEGER NOT NULL,
    finished_at_ms INTEGER,
    bytes_total    INTEGER NOT NULL CHECK (bytes_total >= 0),
    bytes_sent     INTEGER NOT NULL CHECK (bytes_sent >= 0),
    resumed_count  INTEGER NOT NULL DEFAULT 0 CHECK (resumed_count >= 0),
    error          TEXT
);
CREATE INDEX deployments_by_profile ON deployments(profile_id);
CREATE INDEX deployments_by_model ON deployments(model_id);
CREATE INDEX deployments_by_band ON deployments(band_id);
"#,
    },
    Migration {
        version: 3,
        description: "prediction history",
        sql: r#"
CREATE TABLE predictions (
    id         INTEGER PRIMARY KEY,
    profile_id INTEGER NOT NULL REFERENCES profiles(id) ON DELETE CASCADE,
    band_id    INTEGER NOT NULL REFERENCES bands(id) ON DELETE CASCADE,
    t_ms       INTEGER NOT NULL,
    class      TEXT NOT NULL,
    confidence REAL NOT NULL CHECK (confidence >= 0.0 AND confidence <= 1.0),
    window_seq INTEGER NOT NULL
);
CREATE INDEX predictions_by_profile_time ON predictions(profile_id, t_ms);
CREATE INDEX predictions_by_band ON predictions(band_id);
"#,
    },
    Migration {
        version: 4,
        description: "minutes synced from the band's activity log",
        sql: r#"
CREATE TABLE synced_minutes (
    band_id        INTEGER NOT NULL REFERENCES bands(id) ON DELETE CASCADE,
    seq            INTEGER NOT NULL CHECK (seq > 0),
    profile_id     INTEGER NOT NULL REFERENCES profiles(id) ON DELETE CASCADE,
    boot           INTEGER NOT NULL,
    band_minute    INTEGER NOT NULL,
    t_ms           INTEGER,
    model_version  INTEGER NOT NULL,
    class_index    INTEGER NOT NULL,
    class          TEXT,
    dominant       INTEGER NOT NULL,
    windows        INTEGER NOT NULL,
    confidence_pct INTEGER NOT NULL,
    flags          INTEGER NOT NULL,
    synced_at_ms   INTEGER NOT NULL,
    PRIMARY KEY (band_id, seq)
) WITHOUT ROWID;
CREATE INDEX synced_minutes_by_profile_time ON synced_minutes(profile_id, t_ms);
"#,
    },
];

/// The schema version this build creates and understands.
pub const LATEST_VERSION: u32 = MIGRATIONS.len() as u32;

/// The schema version of a database (0 for a new, empty one).
pub fn version(conn: &Connection) -> Result<u32, StoreError> {
    Ok(conn.pragma_query_value(None, "user_version", |row| row.get(0))?)
}

/// Brings the database up to [`LATEST_VERSION`].
pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    migrate_to(conn, LATEST_VERSION)
}

/// Brings the database up to `target` (tests use this to build databases as older versions left them).
pub fn migrate_to(conn: &mut Connection, target: u32) -> Result<(), StoreError> {
    apply(conn, MIGRATIONS, target)
}

/// Applies the steps of `migrations` above the database's version, up to `target`.
pub fn apply(
    conn: &mut Connection,
    migrations: &[Migration],
    target: u32,
) -> Result<(), StoreError> {
    let found = version(conn)?;
    let supported = migrations.len() as u32;
    if found > supported {
        return Err(StoreError::TooNew { found, supported });
    }
    for step in migrations
        .iter()
        .filter(|m| m.version > found && m.version <= target)
    {
        let failed = |source| StoreError::Migration {
            version: step.version,
            description: step.description,
            source,
        };
        let tx = conn.transaction().map_err(failed)?;
        tx.execute_batch(step.sql).map_err(failed)?;
        tx.pragma_update(None, "user_version", step.version)
            .map_err(failed)?;
        tx.commit().map_err(failed)?;
        tracing::info!(
            version = step.version,
            step.description,
            "store schema migrated"
        );
    }
    Ok(())
}
