//! Schema versioning: a database left at any older version, with data in it, opens and upgrades to the latest
//! schema without losing anything; a newer database is refused; a failing step leaves the old version intact.

use bandx_desktop::store::schema::{self, LATEST_VERSION, MIGRATIONS, Migration};
use bandx_desktop::store::{
    DeploymentStatus, FullScale, RawSample, Store, StoreError, Transport, Verdict,
};
use rusqlite::{Connection, params};

fn schema_sql(conn: &Connection) -> Vec<String> {
    let mut stmt = conn
        .prepare("SELECT type, name, COALESCE(sql, '') FROM sqlite_master ORDER BY type, name")
        .unwrap();
    stmt.query_map([], |r| {
        Ok(format!(
            "{} {} {}",
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?
        ))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

/// Writes, with plain SQL as a build of that version would have, the data each version can hold.
fn fill_as_version(conn: &Connection, version: u32) {
    if version >= 1 {
        conn.execute_batch(
            "INSERT INTO profiles (id, name, created_at_ms) VALUES (1, 'Ada', 1000);
             INSERT INTO bands (id, address, name, first_seen_ms) VALUES (1, 'AA:BB:CC:DD:EE:01', 'BandX-01', 900);
             INSERT INTO activity_classes (id, profile_id, name, created_at_ms) VALUES (1, 1, 'walk', 1100);
             INSERT INTO activity_classes (id, profile_id, name, created_at_ms) VALUES (2, 1, 'brush teeth', 1200);
             INSERT INTO recordings (id, profile_id, class_id, band_id, started_at_ms, sample_rate_hz,
                                     accel_range_g, gyro_range_dps)
                 VALUES (1, 1, 2, 1, 2000, 20.0, 4, 500);
             INSERT INTO calibration_windows (recording_id, start_index, verdict, reason)
                 VALUES (1, 0, 'good', NULL), (1, 30, 'rejected', 'clipping');",
        )
        .unwrap();
        for i in 0..90i64 {
            conn.execute(
                "INSERT INTO samples (recording_id, idx, frame_seq, t_ms, ax, ay, az, gx, gy, gz)
                 VALUES (1, ?1, ?2, ?3, ?4, -?4, 8192, 7, -7, ?5)",
                params![i, i / 3, 2000 + i * 50, i * 100, i - 45],
            )
            .unwrap();
        }
    }
    if version >= 2 {
        conn.execute_batch(
            "INSERT INTO models (id, profile_id, version, backbone_id, classes_json, metrics_json, blob, created_at_ms)
                 VALUES (1, 1, 1, 'wisdm-cnn-v1', '[\"walk\",\"brush teeth\"]', '{\"accuracy\":0.93}', x'00FF10', 3000);
             INSERT INTO deployments (profile_id, model_id, band_id, transport, status, started_at_ms, finished_at_ms,
                                      bytes_total, bytes_sent, resumed_count, error)
                 VALUES (1, 1, 1, 'ble_model', 'verified', 4000, 9000, 3, 3, 1, NULL);",
        )
        .unwrap();
    }
    if version >= 3 {
        conn.execute_batch(
            "INSERT INTO predictions (profile_id, band_id, t_ms, class, confidence, window_seq)
                 VALUES (1, 1, 10000, 'walk', 0.75, 17);",
        )
        .unwrap();
    }
}

/// Checks, through the store's API, that the data `fill_as_version(version)` wrote is all there.
fn check_data(store: &Store, version: u32) {
    let profile = store.profile_by_name("ada").unwrap().expect("profile kept");
    assert_eq!(profile.created_at_ms, 1000);
    let classes: Vec<_> = store
        .classes(profile.id)
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(classes, ["walk", "brush teeth"]);
    let recordings = store.recordings(profile.id).unwrap();
    assert_eq!(recordings.len(), 1);
    let rec = &recordings[0];
    assert_eq!(
        rec.full_scale,
        FullScale {
            accel_g: 4,
            gyro_dps: 500
        }
    );
    assert_eq!(rec.sample_rate_hz, 20.0);
    assert_eq!(rec.samples, 90);
    let samples = store.samples(rec.id).unwrap();
    assert_eq!(
        samples[89],
        RawSample {
            frame_seq: 29,
            t_ms: 2000 + 89 * 50,
            accel: [8900, -8900, 8192],
            gyro: [7, -7, 44]
        }
    );
    let windows = store.windows(rec.id).unwrap();
    assert_eq!(windows.len(), 2);
    assert_eq!(windows[1].verdict, Verdict::Rejected);
    assert_eq!(windows[1].reason.as_deref(), Some("clipping"));
    let models = store.models(profile.id).unwrap();
    let deployments = store.deployments(profile.id).unwrap();
    let predictions = store.predictions_between(profile.id, 0, i64::MAX).unwrap();
    if version >= 2 {
        assert_eq!(models.len(), 1);
        assert_eq!(models[0].classes, ["walk", "brush teeth"]);
        assert_eq!(models[0].metrics["accuracy"], 0.93);
        assert_eq!(models[0].blob, [0x00, 0xFF, 0x10]);
        assert_eq!(deployments.len(), 1);
        assert_eq!(deployments[0].transport, Transport::BleModel);
        assert_eq!(deployments[0].status, DeploymentStatus::Verified);
        assert_eq!(deployments[0].resumed_count, 1);
    } else {
        assert!(models.is_empty() && deployments.is_empty());
    }
    if version >= 3 {
        assert_eq!(predictions.len(), 1);
        assert_eq!(predictions[0].confidence, 0.75);
        assert_eq!(predictions[0].window_seq, 17);
    } else {
        assert!(predictions.is_empty());
    }
}

#[test]
fn migrations_are_numbered_in_order() {
    for (i, m) in MIGRATIONS.iter().enumerate() {
        assert_eq!(
            m.version as usize,
            i + 1,
            "migration {:?} out of order",
            m.description
        );
    }
    assert_eq!(LATEST_VERSION as usize, MIGRATIONS.len());
}

#[test]
fn a_new_store_is_at_the_latest_version_with_wal_and_foreign_keys() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("bandx.db")).unwrap();
    assert_eq!(store.schema_version().unwrap(), LATEST_VERSION);
    let conn = store.connection();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let fk: i64 = conn
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .unwrap();
    assert_eq!(fk, 1);
    // Foreign keys really are enforced: a class of a profile that does not exist is refused.
    let orphan = conn.execute(
        "INSERT INTO activity_classes (profile_id, name, created_at_ms) VALUES (999, 'x', 0)",
        [],
    );
    assert!(orphan.is_err());
}

#[test]
fn every_older_version_with_data_upgrades_to_the_latest() {
    let dir = tempfile::tempdir().unwrap();
    let fresh = Store::open(dir.path().join("fresh.db")).unwrap();
    let latest_schema = schema_sql(fresh.connection());

    for version in 1..=LATEST_VERSION {
        let path = dir.path().join(format!("v{version}.db"));
        {
            let mut conn = Connection::open(&path).unwrap();
            schema::migrate_to(&mut conn, version).unwrap();
            assert_eq!(schema::version(&conn).unwrap(), version);
            fill_as_version(&conn, version);
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(
            store.schema_version().unwrap(),
            LATEST_VERSION,
            "from v{version}"
        );
        assert_eq!(
            schema_sql(store.connection()),
            latest_schema,
            "schema upgraded from v{version}"
        );
        assert_eq!(store.check_integrity().unwrap(), Vec::<String>::new());
        check_data(&store, version);
        // And the upgraded store takes the newest kinds of data.
        let profile = store.profile_by_name("Ada").unwrap().unwrap().id;
        let band = store
            .upsert_band("AA:BB:CC:DD:EE:01", "BandX-01", 0)
            .unwrap();
        store
            .add_predictions(
                profile,
                &[bandx_desktop::store::NewPrediction {
                    band,
                    t_ms: 20_000,
                    class: "walk".into(),
                    confidence: 0.5,
                    window_seq: 99,
                }],
            )
            .unwrap();
        drop(store);
        // Opening again is a no-op.
        let again = Store::open(&path).unwrap();
        assert_eq!(again.schema_version().unwrap(), LATEST_VERSION);
    }
}

#[test]
fn an_empty_version_0_file_is_created_from_scratch() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.db");
    Connection::open(&path)
        .unwrap()
        .execute_batch("VACUUM")
        .unwrap();
    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), LATEST_VERSION);
    assert!(store.profiles().unwrap().is_empty());
}

#[test]
fn a_database_from_a_newer_build_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.db");
    {
        let store = Store::open(&path).unwrap();
        store.create_profile("Ada", 1).unwrap();
        store
            .connection()
            .pragma_update(None, "user_version", LATEST_VERSION + 1)
            .unwrap();
    }
    match Store::open(&path) {
        Err(StoreError::TooNew { found, supported }) => {
            assert_eq!((found, supported), (LATEST_VERSION + 1, LATEST_VERSION));
        }
        other => panic!("expected TooNew, got {other:?}"),
    }
    let conn = Connection::open(&path).unwrap();
    assert_eq!(schema::version(&conn).unwrap(), LATEST_VERSION + 1);
    let n: i64 = conn
        .query_row("SELECT COUNT(*) FROM profiles", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1);
}

#[test]
fn a_failing_migration_step_leaves_the_previous_version_intact() {
    let steps = [
        Migration {
            version: 1,
            description: "first",
            sql: "CREATE TABLE a (x INTEGER);",
        },
        Migration {
            version: 2,
            description: "broken",
            sql: "CREATE TABLE b (y INTEGER); INSERT INTO a VALUES (1); THIS IS NOT SQL;",
        },
    ];
    let mut conn = Connection::open_in_memory().unwrap();
    let err = schema::apply(&mut conn, &steps, 2).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Migration {
                version: 2,
                description: "broken",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(schema::version(&conn).unwrap(), 1);
    let tables: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE name = 'b'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tables, 0, "the half-applied step was rolled back");
    let rows: i64 = conn
        .query_row("SELECT COUNT(*) FROM a", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 0);
}
