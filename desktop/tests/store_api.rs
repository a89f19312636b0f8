//! The store's entities on a real SQLite file: classes (add/rename/delete), recordings and the batched writer,
//! windows, models, deployments, predictions and per-day totals, and the cascades between them.

use std::time::Duration;

use bandx_desktop::store::{
    DailyTotal, Day, DeploymentStatus, DeploymentUpdate, FlushPolicy, FullScale, NewDeployment,
    NewModel, NewPrediction, NewRecording, NewWindow, RawSample, RecordingWriter, Store,
    StoreError, Transport, Verdict,
};

const FS: FullScale = FullScale {
    accel_g: 8,
    gyro_dps: 1000,
};

fn sample(i: u32) -> RawSample {
    let v = (i as i32 * 37 % 65_536 - 32_768) as i16;
    RawSample {
        frame_seq: i / 2,
        t_ms: 1_000 + i64::from(i) * 50,
        accel: [v, v.wrapping_add(1), -1],
        gyro: [0, i16::MIN, i16::MAX],
    }
}

fn new_recording(class: Option<bandx_desktop::store::ClassId>) -> NewRecording {
    NewRecording {
        class,
        band: None,
        started_at_ms: 5,
        sample_rate_hz: 20.0,
        full_scale: FS,
    }
}

fn file_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("bandx.db")).unwrap();
    (dir, store)
}

#[test]
fn classes_are_added_renamed_and_deleted_per_profile() {
    let (_dir, store) = file_store();
    let ada = store.create_profile("Ada", 1).unwrap();
    let bob = store.create_profile("Bob", 2).unwrap();
    let walk = store.add_class(ada, "walk", 10).unwrap();
    let run = store.add_class(ada, "run", 11).unwrap();
    // Names are unique per profile, ignoring case; another profile may use the same name.
    assert!(matches!(
        store.add_class(ada, "WALK", 12),
        Err(StoreError::ClassExists(_))
    ));
    store.add_class(bob, "walk", 13).unwrap();
    assert!(matches!(
        store.rename_class(run, "Walk"),
        Err(StoreError::ClassExists(_))
    ));
    store.rename_class(walk, "Walk").unwrap();
    store.rename_class(run, "jog").unwrap();
    let names: Vec<_> = store
        .classes(ada)
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["Walk", "jog"]);
    for bad in ["", "   ", "tab\there", &"x".repeat(65)] {
        assert!(
            matches!(
                store.add_class(ada, bad, 0),
                Err(StoreError::Invalid { .. })
            ),
            "{bad:?}"
        );
    }

    // Deleting a class deletes its recordings, their samples and windows — and nothing else.
    let rec = store
        .create_recording(ada, &new_recording(Some(run)))
        .unwrap();
    store
        .append_samples(rec, &(0..10).map(sample).collect::<Vec<_>>())
        .unwrap();
    store
        .add_window(
            rec,
            &NewWindow {
                start_index: 0,
                verdict: Verdict::Good,
                reason: None,
            },
        )
        .unwrap();
    let kept = store
        .create_recording(ada, &new_recording(Some(walk)))
        .unwrap();
    store.delete_class(run).unwrap();
    assert!(matches!(
        store.recording(rec),
        Err(StoreError::NotFound {
            what: "recording",
            ..
        })
    ));
    assert_eq!(
        store
            .recordings(ada)
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect::<Vec<_>>(),
        [kept]
    );
    let orphans: i64 = store
        .connection()
        .query_row(
            "SELECT (SELECT COUNT(*) FROM samples) + (SELECT COUNT(*) FROM calibration_windows)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(orphans, 0);
    assert!(matches!(
        store.delete_class(run),
        Err(StoreError::NotFound { .. })
    ));
    assert!(store.check_integrity().unwrap().is_empty());
}

#[test]
fn a_recording_cannot_use_another_profiles_class() {
    let store = Store::open_in_memory().unwrap();
    let ada = store.create_profile("Ada", 1).unwrap();
    let bob = store.create_profile("Bob", 1).unwrap();
    let bobs = store.add_class(bob, "walk", 1).unwrap();
    assert!(matches!(
        store.create_recording(ada, &new_recording(Some(bobs))),
        Err(StoreError::Invalid { .. })
    ));
    let bad_rate = NewRecording {
        sample_rate_hz: 0.0,
        ..new_recording(None)
    };
    assert!(matches!(
        store.create_recording(ada, &bad_rate),
        Err(StoreError::Invalid { .. })
    ));
}

#[test]
fn samples_are_appended_in_order_and_read_back_exactly() {
    let (_dir, store) = file_store();
    let ada = store.create_profile("Ada", 1).unwrap();
    let rec = store.create_recording(ada, &new_recording(None)).unwrap();
    let all: Vec<RawSample> = (0..150).map(sample).collect();
    store.append_samples(rec, &all[..70]).unwrap();
    store.append_samples(rec, &all[70..]).unwrap();
    assert_eq!(store.samples(rec).unwrap(), all);
    assert_eq!(store.sample_count(rec).unwrap(), 150);
    assert_eq!(store.samples_range(rec, 60, 60).unwrap(), all[60..120]);
    assert_eq!(store.samples_range(rec, 140, 60).unwrap(), all[140..]);
    let meta = store.recording(rec).unwrap();
    assert_eq!(
        (meta.samples, meta.full_scale, meta.sample_rate_hz),
        (150, FS, 20.0)
    );
}

#[test]
fn the_writer_commits_every_n_samples_visibly_to_another_connection() {
    let (dir, store) = file_store();
    let ada = store.create_profile("Ada", 1).unwrap();
    let rec = store.create_recording(ada, &new_recording(None)).unwrap();
    let policy = FlushPolicy {
        max_samples: 20,
        max_age: Duration::from_secs(3600),
    };
    let mut writer = RecordingWriter::new(&store, rec, policy).unwrap();
    let reader = Store::open(dir.path().join("bandx.db")).unwrap();
    let mut commits = 0;
    for i in 0..45 {
        if writer.push(&store, sample(i)).unwrap() {
            commits += 1;
        }
    }
    assert_eq!((commits, writer.committed(), writer.pending()), (2, 40, 5));
    assert_eq!(
        reader.samples(rec).unwrap(),
        (0..40).map(sample).collect::<Vec<_>>()
    );
    writer.flush(&store).unwrap();
    assert_eq!(reader.sample_count(rec).unwrap(), 45);

    // A writer on a recording that already has samples (a resumed session) continues after them.
    let mut resumed = RecordingWriter::new(&store, rec, policy).unwrap();
    assert_eq!(resumed.committed(), 45);
    for i in 45..50 {
        resumed.push(&store, sample(i)).unwrap();
    }
    resumed.flush(&store).unwrap();
    assert_eq!(
        reader.samples(rec).unwrap(),
        (0..50).map(sample).collect::<Vec<_>>()
    );
}

#[test]
fn the_writer_commits_old_samples_on_push_or_tick() {
    let store = Store::open_in_memory().unwrap();
    let ada = store.create_profile("Ada", 1).unwrap();
    let rec = store.create_recording(ada, &new_recording(None)).unwrap();
    let policy = FlushPolicy {
        max_samples: 1000,
        max_age: Duration::from_millis(30),
    };
    let mut writer = RecordingWriter::new(&store, rec, policy).unwrap();
    assert!(!writer.push(&store, sample(0)).unwrap());
    assert!(!writer.tick(&store).unwrap(), "nothing is old yet");
    std::thread::sleep(Duration::from_millis(40));
    assert!(
        writer.push(&store, sample(1)).unwrap(),
        "the oldest sample is past max_age"
    );
    assert_eq!(store.sample_count(rec).unwrap(), 2);
    writer.push(&store, sample(2)).unwrap();
    std::thread::sleep(Duration::from_millis(40));
    assert!(writer.tick(&store).unwrap());
    assert_eq!(store.sample_count(rec).unwrap(), 3);
}

#[test]
fn windows_keep_their_verdict_and_reason() {
    let store = Store::open_in_memory().unwrap();
    let ada = store.create_profile("Ada", 1).unwrap();
    let walk = store.add_class(ada, "walk", 1).unwrap();
    let rec = store
        .create_recording(ada, &new_recording(Some(walk)))
        .unwrap();
    let good = store
        .add_window(
            rec,
            &NewWindow {
                start_index: 0,
                verdict: Verdict::Good,
                reason: None,
            },
        )
        .unwrap();
    let bad = store
        .add_window(
            rec,
            &NewWindow {
                start_index: 30,
                verdict: Verdict::Rejected,
                reason: Some("lost frames".into()),
            },
        )
        .unwrap();
    let all = store.windows_of_class(walk).unwrap();
    assert_eq!(
        all.iter()
            .map(|w| (w.start_index, w.verdict))
            .collect::<Vec<_>>(),
        [(0, Verdict::Good), (30, Verdict::Rejected)]
    );
    assert_eq!(
        store.window(bad).unwrap().reason.as_deref(),
        Some("lost frames")
    );
    store.delete_window(good).unwrap();
    assert_eq!(store.windows(rec).unwrap().len(), 1);
}

#[test]
fn models_get_increasing_versions_and_deployments_track_progress() {
    let (_dir, store) = file_store();
    let ada = store.create_profile("Ada", 1).unwrap();
    let bob = store.create_profile("Bob", 1).unwrap();
    let model = |blob: Vec<u8>| NewModel {
        backbone_id: "wisdm-cnn-v1".into(),
        classes: vec!["walk".into(), "sit, or stand".into()],
        metrics: serde_json::json!({"accuracy": 0.9166666666666666, "confusion": [[11, 1], [1, 11]]}),
        blob,
        created_at_ms: 77,
    };
    let (m1, v1) = store.add_model(ada, &model(vec![1, 2, 3])).unwrap();
    let (m2, v2) = store.add_model(ada, &model(vec![4; 9000])).unwrap();
    let (_, bob_v1) = store.add_model(bob, &model(vec![])).unwrap();
    assert_eq!((v1, v2, bob_v1), (1, 2, 1));
    let back = store.model(m2).unwrap();
    assert_eq!(
        (back.blob.len(), back.metrics.clone(), back.classes.clone()),
        (9000, model(vec![]).metrics, model(vec![]).classes)
    );
    assert_eq!(store.latest_model(ada).unwrap().unwrap().id, m2);

    let band = store.upsert_band("sim:0", "BandX-sim", 5).unwrap();
    assert_eq!(
        store.upsert_band("sim:0", "renamed?", 6).unwrap(),
        band,
        "known bands are reused"
    );
    let dep = store
        .start_deployment(
            ada,
            &NewDeployment {
                model: Some(m1),
                band,
                transport: Transport::BleModel,
                started_at_ms: 100,
                bytes_total: 3,
            },
        )
        .unwrap();
    assert_eq!(
        store.deployment(dep).unwrap().status,
        DeploymentStatus::Pending
    );
    let done = DeploymentUpdate {
        status: DeploymentStatus::Verified,
        bytes_sent: 3,
        resumed_count: 2,
        finished_at_ms: Some(200),
        error: None,
    };
    store.update_deployment(dep, &done).unwrap();
    let d = store.deployment(dep).unwrap();
    assert_eq!(
        (d.status, d.bytes_sent, d.resumed_count, d.finished_at_ms),
        (DeploymentStatus::Verified, 3, 2, Some(200))
    );
    // A model of another profile cannot be deployed under this one.
    let bobs_model = store.models(bob).unwrap()[0].id;
    let foreign = NewDeployment {
        model: Some(bobs_model),
        band,
        transport: Transport::Usb,
        started_at_ms: 1,
        bytes_total: 1,
    };
    assert!(matches!(
        store.start_deployment(ada, &foreign),
        Err(StoreError::Invalid { .. })
    ));

    // Deleting the model keeps the deployment in the history, without it.
    store.delete_model(m1).unwrap();
    assert_eq!(store.deployments(ada).unwrap()[0].model, None);
    assert!(store.check_integrity().unwrap().is_empty());
}

const DAY_2026_11_25: i64 = 1_795_564_800_000;
const DAY_2026_11_26: i64 = 1_795_651_200_000;
const HOUR: i64 = 3_600_000;

#[test]
fn daily_totals_count_windows_per_class_per_local_day() {
    let store = Store::open_in_memory().unwrap();
    let ada = store.create_profile("Ada", 1).unwrap();
    let bob = store.create_profile("Bob", 1).unwrap();
    let band = store.upsert_band("sim:0", "BandX-sim", 0).unwrap();
    let p = |t_ms: i64, class: &str| NewPrediction {
        band,
        t_ms,
        class: class.into(),
        confidence: 0.8,
        window_seq: 0,
    };
    store
        .add_predictions(
            ada,
            &[
                p(DAY_2026_11_25 + 10 * HOUR, "walk"),
                p(DAY_2026_11_25 + 10 * HOUR + 1500, "walk"),
                p(DAY_2026_11_25 + 11 * HOUR, "sit"),
                // 23:30 UTC on the 25th is 00:30 on the 26th at UTC+1.
                p(DAY_2026_11_25 + 23 * HOUR + HOUR / 2, "walk"),
                p(DAY_2026_11_26 + 9 * HOUR, "sit"),
            ],
        )
        .unwrap();
    store
        .add_predictions(bob, &[p(DAY_2026_11_25 + 10 * HOUR, "walk")])
        .unwrap();

    let total = |day: i64, class: &str, windows: u64| DailyTotal {
        day: Day(day),
        class: class.into(),
        windows,
    };
    let d25 = DAY_2026_11_25 / 86_400_000;
    assert_eq!(
        store.daily_totals(ada, 0, i64::MAX, 0).unwrap(),
        [
            total(d25, "sit", 1),
            total(d25, "walk", 3),
            total(d25 + 1, "sit", 1)
        ]
    );
    assert_eq!(
        store.daily_totals(ada, 0, i64::MAX, 60).unwrap(),
        [
            total(d25, "sit", 1),
            total(d25, "walk", 2),
            total(d25 + 1, "sit", 1),
            total(d25 + 1, "walk", 1)
        ]
    );
    // Only the asked range.
    assert_eq!(
        store
            .daily_totals(ada, DAY_2026_11_26, i64::MAX, 0)
            .unwrap(),
        [total(d25 + 1, "sit", 1)]
    );
    assert_eq!(Day(d25).to_string(), "2026-11-25");
    assert_eq!(
        Day::of(DAY_2026_11_25 + 23 * HOUR + HOUR / 2, 60).to_string(),
        "2026-11-26"
    );
    assert_eq!(Day::of(DAY_2026_11_25, -1).to_string(), "2026-11-24");
    assert_eq!(Day(0).to_string(), "1970-01-01");
    assert_eq!(Day(-1).to_string(), "1969-12-31");
    assert_eq!(Day(11_016).to_string(), "2000-02-29");
    // Parsing is the inverse of printing, over four centuries each side of 1970 (leap years, the 400-year rule).
    for d in (-160_000..160_000).step_by(7) {
        assert_eq!(Day(d).to_string().parse::<Day>(), Ok(Day(d)), "{}", Day(d));
    }
    for bad in [
        "2026-02-29",
        "2026-13-01",
        "2026-00-10",
        "2026-1-32",
        "26-1",
        "today",
        "2026-12-05x",
        "",
    ] {
        assert!(bad.parse::<Day>().is_err(), "{bad:?}");
    }
    assert_eq!("2026-1-5".parse::<Day>(), "2026-01-05".parse::<Day>());

    let last_hour = store
        .predictions_between(ada, DAY_2026_11_26 + 8 * HOUR, DAY_2026_11_26 + 10 * HOUR)
        .unwrap();
    assert_eq!(last_hour.len(), 1);
    assert_eq!(last_hour[0].class, "sit");
}

#[test]
fn a_batch_with_a_bad_prediction_stores_none_of_it() {
    let store = Store::open_in_memory().unwrap();
    let ada = store.create_profile("Ada", 1).unwrap();
    let band = store.upsert_band("sim:0", "BandX-sim", 0).unwrap();
    let p = |confidence: f32| NewPrediction {
        band,
        t_ms: 1,
        class: "walk".into(),
        confidence,
        window_seq: 1,
    };
    for bad in [1.5, -0.1, f32::NAN] {
        let err = store
            .add_predictions(ada, &[p(0.5), p(0.9), p(bad)])
            .unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Invalid {
                    what: "prediction confidence",
                    ..
                }
            ),
            "{err:?}"
        );
    }
    assert!(
        store
            .predictions_between(ada, i64::MIN, i64::MAX)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn deleting_a_profile_deletes_everything_it_owns() {
    let (_dir, store) = file_store();
    let ada = store.create_profile("Ada", 1).unwrap();
    let keep = store.create_profile("Bob", 1).unwrap();
    let walk = store.add_class(ada, "walk", 1).unwrap();
    let band = store.upsert_band("sim:0", "BandX-sim", 0).unwrap();
    let rec = store
        .create_recording(
            ada,
            &NewRecording {
                band: Some(band),
                ..new_recording(Some(walk))
            },
        )
        .unwrap();
    store.append_samples(rec, &[sample(0)]).unwrap();
    store
        .add_window(
            rec,
            &NewWindow {
                start_index: 0,
                verdict: Verdict::Good,
                reason: None,
            },
        )
        .unwrap();
    let (model, _) = store
        .add_model(
            ada,
            &NewModel {
                backbone_id: "b".into(),
                classes: vec![],
                metrics: serde_json::Value::Null,
                blob: vec![1],
                created_at_ms: 0,
            },
        )
        .unwrap();
    store
        .start_deployment(
            ada,
            &NewDeployment {
                model: Some(model),
                band,
                transport: Transport::Usb,
                started_at_ms: 0,
                bytes_total: 1,
            },
        )
        .unwrap();
    store
        .add_predictions(
            ada,
            &[NewPrediction {
                band,
                t_ms: 0,
                class: "walk".into(),
                confidence: 1.0,
                window_seq: 0,
            }],
        )
        .unwrap();
    store.delete_profile(ada).unwrap();
    let conn = store.connection();
    for table in [
        "activity_classes",
        "recordings",
        "samples",
        "calibration_windows",
        "models",
        "deployments",
        "predictions",
    ] {
        let n: i64 = conn
            .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0, "{table}");
    }
    assert_eq!(
        store
            .profiles()
            .unwrap()
            .iter()
            .map(|p| p.id)
            .collect::<Vec<_>>(),
        [keep]
    );
    assert_eq!(store.bands().unwrap().len(), 1, "bands are not a profile's");
    assert!(store.check_integrity().unwrap().is_empty());
}

/// Figures, not a check: `cargo test -p bandx-studio --release --test store_api -- --ignored --nocapture`.
#[test]
#[ignore = "a report: prints throughput and sizes"]
fn report_store_throughput() {
    use std::time::Instant;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bandx.db");
    let store = Store::open(&path).unwrap();
    let ada = store.create_profile("Ada", 1).unwrap();
    let rec = store.create_recording(ada, &new_recording(None)).unwrap();
    let hour = 20 * 3600; // one hour at 20 Hz
    let mut writer = RecordingWriter::new(&store, rec, FlushPolicy::default()).unwrap();
    let start = Instant::now();
    for i in 0..hour {
        writer.push(&store, sample(i)).unwrap();
    }
    writer.flush(&store).unwrap();
    let write = start.elapsed();
    let start = Instant::now();
    let all = store.samples(rec).unwrap();
    let read = start.elapsed();
    assert_eq!(all.len(), hour as usize);
    store
        .connection()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .unwrap();
    let db_bytes = std::fs::metadata(&path).unwrap().len();
    let folder = dir.path().join("export");
    let start = Instant::now();
    bandx_desktop::store::export_profile(&store, ada, &folder).unwrap();
    let export = start.elapsed();
    let target = Store::open_in_memory().unwrap();
    let start = Instant::now();
    bandx_desktop::store::import_profile(&target, &folder).unwrap();
    let import = start.elapsed();
    let csv_bytes = std::fs::metadata(folder.join("recordings/0001.csv"))
        .unwrap()
        .len();
    eprintln!(
        "1 h at 20 Hz = {hour} samples in {} commits: write {:.2} s ({:.0} samples/s, {:.2} ms/commit), read {:.0} ms, \
         db {:.1} MB ({:.1} B/sample), export {:.0} ms (csv {:.1} MB), import {:.0} ms",
        hour / 20,
        write.as_secs_f64(),
        f64::from(hour) / write.as_secs_f64(),
        write.as_secs_f64() * 1e3 / f64::from(hour / 20),
        read.as_secs_f64() * 1e3,
        db_bytes as f64 / 1e6,
        db_bytes as f64 / f64::from(hour),
        export.as_secs_f64() * 1e3,
        csv_bytes as f64 / 1e6,
        import.as_secs_f64() * 1e3,
    );
}
