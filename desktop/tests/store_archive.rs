//! Export and import of a profile as plain files: import(export(profile)) == profile on random profiles, and
//! clear errors — with nothing imported — for a damaged or incomplete export folder.

use std::fs;
use std::path::Path;

use bandx_desktop::store::{
    ArchiveError, ArchivedBand, ArchivedClass, ArchivedDeployment, ArchivedModel,
    ArchivedPrediction, ArchivedRecording, ArchivedWindow, DeploymentStatus, FullScale,
    ProfileArchive, RawSample, Store, StoreError, Transport, Verdict, export_profile,
    import_profile,
};
use proptest::prelude::*;

fn name() -> impl Strategy<Value = String> {
    // Commas, quotes and non-ASCII letters on purpose: they must survive CSV and JSON.
    "[A-Za-zé][A-Za-z0-9 ,\"'éü_-]{0,12}"
}

fn unique_names(max: usize) -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(name(), 0..=max).prop_map(|names| {
        let mut seen = std::collections::HashSet::new();
        names
            .into_iter()
            .filter(|n| seen.insert(n.to_lowercase()))
            .collect()
    })
}

fn raw_sample() -> impl Strategy<Value = RawSample> {
    (
        any::<u32>(),
        any::<i64>(),
        any::<[i16; 3]>(),
        any::<[i16; 3]>(),
    )
        .prop_map(|(frame_seq, t_ms, accel, gyro)| RawSample {
            frame_seq,
            t_ms,
            accel,
            gyro,
        })
}

fn note() -> impl Strategy<Value = Option<String>> {
    prop::option::of("[a-z][a-z ,\"]{0,15}")
}

fn window() -> impl Strategy<Value = ArchivedWindow> {
    (
        0u64..200,
        prop_oneof![Just(Verdict::Good), Just(Verdict::Rejected)],
        note(),
    )
        .prop_map(|(start_index, verdict, reason)| ArchivedWindow {
            start_index,
            verdict,
            reason,
        })
}

fn transport() -> impl Strategy<Value = Transport> {
    prop_oneof![
        Just(Transport::BleModel),
        Just(Transport::BleFirmware),
        Just(Transport::Usb)
    ]
}

fn status() -> impl Strategy<Value = DeploymentStatus> {
    prop_oneof![
        Just(DeploymentStatus::Pending),
        Just(DeploymentStatus::Transferring),
        Just(DeploymentStatus::Committed),
        Just(DeploymentStatus::Verified),
        Just(DeploymentStatus::Failed),
        Just(DeploymentStatus::Cancelled),
    ]
}

prop_compose! {
    fn metrics()(accuracy in -1e6f64..1e6, generic in 0.0f64..1.0, confusion in prop::collection::vec(prop::collection::vec(0u32..500, 3), 3))
        -> serde_json::Value {
        serde_json::json!({ "accuracy": accuracy, "generic_accuracy": generic, "confusion": confusion, "folds": 5 })
    }
}

prop_compose! {
    fn archive()(
        profile in name(),
        created_at_ms in any::<i64>(),
        classes in unique_names(4),
        band_names in prop::collection::vec(name(), 1..=3),
        recordings in prop::collection::vec(
            (any::<prop::sample::Index>(), any::<bool>(), any::<prop::sample::Index>(), any::<i64>(), 0.5f32..400.0,
             1u16..=16, 1u16..=4000, prop::collection::vec(raw_sample(), 0..40), prop::collection::vec(window(), 0..4)),
            0..4),
        model_steps in prop::collection::vec(1u32..4, 0..3),
        models in prop::collection::vec(("[a-z0-9-]{1,12}", prop::collection::vec(name(), 0..4), metrics(),
            prop::collection::vec(any::<u8>(), 0..300), any::<i64>()), 3),
        deployments in prop::collection::vec(
            (any::<Option<prop::sample::Index>>(), any::<prop::sample::Index>(), transport(), status(), any::<i64>(),
             any::<Option<i64>>(), 0u64..1 << 40, 0u64..1 << 40, any::<u32>(), note()),
            0..4),
        predictions in prop::collection::vec(
            (any::<prop::sample::Index>(), any::<i64>(), name(), 0.0f32..=1.0, any::<u32>()), 0..20),
    ) -> ProfileArchive {
        let bands: Vec<ArchivedBand> = band_names.into_iter().enumerate().map(|(i, name)| ArchivedBand {
            address: format!("AA:BB:CC:DD:EE:{i:02X}"),
            name,
            first_seen_ms: i as i64 * 1000,
        }).collect();
        let mut used = vec![false; bands.len()];
        let mut band = |i: &prop::sample::Index| {
            let k = i.index(bands.len());
            used[k] = true;
            bands[k].address.clone()
        };
        let recordings: Vec<ArchivedRecording> = recordings.into_iter().map(
            |(class, has_band, band_ix, started_at_ms, sample_rate_hz, accel_g, gyro_dps, samples, windows)| {
                ArchivedRecording {
                    class: (!classes.is_empty()).then(|| classes[class.index(classes.len())].clone()),
                    band: has_band.then(|| band(&band_ix)),
                    started_at_ms,
                    sample_rate_hz,
                    full_scale: FullScale { accel_g, gyro_dps },
                    samples,
                    windows,
                }
            }).collect();
        // Versions increase, with gaps (older models deleted).
        let mut version = 0;
        let models: Vec<ArchivedModel> = model_steps.iter().zip(models).map(
            |(step, (backbone_id, classes, metrics, blob, created_at_ms))| {
                version += step;
                ArchivedModel { version, backbone_id, classes, metrics, blob, created_at_ms }
            }).collect();
        let deployments: Vec<ArchivedDeployment> = deployments.into_iter().map(
            |(model, band_ix, transport, status, started_at_ms, finished_at_ms, bytes_total, bytes_sent, resumed_count, error)| {
                ArchivedDeployment {
                    model_version: model.filter(|_| !models.is_empty()).map(|i| models[i.index(models.len())].version),
                    band: band(&band_ix),
                    transport, status, started_at_ms, finished_at_ms, bytes_total, bytes_sent, resumed_count, error,
                }
            }).collect();
        let mut predictions: Vec<ArchivedPrediction> = predictions.into_iter().map(
            |(band_ix, t_ms, class, confidence, window_seq)| ArchivedPrediction {
                band: band(&band_ix), t_ms, class, confidence, window_seq,
            }).collect();
        // The store lists predictions by time.
        predictions.sort_by_key(|p| p.t_ms);
        let bands = bands.into_iter().zip(used).filter(|(_, used)| *used).map(|(b, _)| b).collect();
        ProfileArchive {
            name: profile,
            created_at_ms,
            classes: classes.into_iter().enumerate().map(|(i, name)| ArchivedClass { name, created_at_ms: i as i64 }).collect(),
            bands,
            recordings,
            models,
            deployments,
            predictions,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn import_of_export_is_the_same_profile(archive in archive()) {
        let dir = tempfile::tempdir().unwrap();
        let source = Store::open(dir.path().join("source.db")).unwrap();
        let id = source.insert_archive(&archive).unwrap();
        // The store keeps everything the archive says...
        prop_assert_eq!(&source.load_archive(id).unwrap(), &archive);

        // ...and so do the files: exported, then imported into another store.
        let folder = dir.path().join("export");
        export_profile(&source, id, &folder).unwrap();
        let target = Store::open(dir.path().join("target.db")).unwrap();
        let imported = import_profile(&target, &folder).unwrap();
        prop_assert_eq!(&target.load_archive(imported).unwrap(), &archive);
        prop_assert!(target.check_integrity().unwrap().is_empty());

        // Importing into the store it came from is refused (same name) and adds nothing.
        let before = source.profiles().unwrap().len();
        let err = import_profile(&source, &folder).unwrap_err();
        prop_assert!(matches!(err, ArchiveError::Rejected { source: StoreError::ProfileExists(_), .. }), "{:?}", err);
        prop_assert_eq!(source.profiles().unwrap().len(), before);
    }
}

/// A small profile with one of everything, exported to `<dir>/export`.
fn exported(dir: &Path) -> std::path::PathBuf {
    let archive = ProfileArchive {
        name: "Ada".into(),
        created_at_ms: 1,
        classes: vec![
            ArchivedClass {
                name: "walk".into(),
                created_at_ms: 2,
            },
            ArchivedClass {
                name: "brush teeth".into(),
                created_at_ms: 3,
            },
        ],
        bands: vec![ArchivedBand {
            address: "sim:0".into(),
            name: "BandX-sim".into(),
            first_seen_ms: 0,
        }],
        recordings: vec![ArchivedRecording {
            class: Some("walk".into()),
            band: Some("sim:0".into()),
            started_at_ms: 10,
            sample_rate_hz: 20.0,
            full_scale: FullScale {
                accel_g: 4,
                gyro_dps: 500,
            },
            samples: (0..90)
                .map(|i| RawSample {
                    frame_seq: i / 3,
                    t_ms: i64::from(i) * 50,
                    accel: [1, 2, 3],
                    gyro: [4, 5, 6],
                })
                .collect(),
            windows: vec![ArchivedWindow {
                start_index: 30,
                verdict: Verdict::Rejected,
                reason: Some("clipping".into()),
            }],
        }],
        models: vec![ArchivedModel {
            version: 1,
            backbone_id: "wisdm-cnn-v1".into(),
            classes: vec!["walk".into(), "brush teeth".into()],
            metrics: serde_json::json!({"accuracy": 0.95}),
            blob: vec![7; 64],
            created_at_ms: 20,
        }],
        deployments: vec![ArchivedDeployment {
            model_version: Some(1),
            band: "sim:0".into(),
            transport: Transport::BleModel,
            status: DeploymentStatus::Verified,
            started_at_ms: 30,
            finished_at_ms: Some(40),
            bytes_total: 64,
            bytes_sent: 64,
            resumed_count: 1,
            error: None,
        }],
        predictions: vec![ArchivedPrediction {
            band: "sim:0".into(),
            t_ms: 50,
            class: "walk".into(),
            confidence: 0.9,
            window_seq: 3,
        }],
    };
    let store = Store::open_in_memory().unwrap();
    let id = store.insert_archive(&archive).unwrap();
    let folder = dir.join("export");
    export_profile(&store, id, &folder).unwrap();
    folder
}

/// Imports `folder` into a store that already holds another profile and a band, expecting a failure, and
/// checks the store did not change at all.
fn import_fails(folder: &Path) -> ArchiveError {
    let store = Store::open_in_memory().unwrap();
    store.create_profile("Someone else", 0).unwrap();
    store.upsert_band("AA:00", "Other band", 0).unwrap();
    let dump = |s: &Store| {
        let conn = s.connection();
        [
            "profiles",
            "bands",
            "activity_classes",
            "recordings",
            "samples",
            "calibration_windows",
            "models",
            "deployments",
            "predictions",
        ]
        .map(|t| {
            conn.query_row(&format!("SELECT COUNT(*) FROM {t}"), [], |r| {
                r.get::<_, i64>(0)
            })
            .unwrap()
        })
    };
    let before = dump(&store);
    let err = import_profile(&store, folder).expect_err("a damaged export must not import");
    assert_eq!(dump(&store), before, "nothing imported after {err}");
    err
}

#[test]
fn the_export_folder_holds_the_documented_files() {
    let dir = tempfile::tempdir().unwrap();
    let folder = exported(dir.path());
    for file in [
        "profile.json",
        "classes.json",
        "bands.json",
        "recordings.json",
        "recordings/0001.csv",
        "windows.csv",
        "models.json",
        "models/v1.bin",
        "deployments.csv",
        "predictions.csv",
    ] {
        assert!(folder.join(file).is_file(), "{file}");
    }
    let csv = fs::read_to_string(folder.join("recordings/0001.csv")).unwrap();
    assert_eq!(
        csv.lines().next(),
        Some("index,frame_seq,t_ms,ax,ay,az,gx,gy,gz")
    );
    assert_eq!(csv.lines().nth(2), Some("1,0,50,1,2,3,4,5,6"));
    assert_eq!(fs::read(folder.join("models/v1.bin")).unwrap(), vec![7; 64]);
    // No temporary folder is left beside it, and exporting over it is refused.
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    let store = Store::open_in_memory().unwrap();
    let id = store.create_profile("x", 0).unwrap();
    assert!(matches!(
        export_profile(&store, id, &folder),
        Err(ArchiveError::DestinationExists { .. })
    ));
}

#[test]
fn every_missing_file_is_named() {
    for file in [
        "profile.json",
        "classes.json",
        "bands.json",
        "recordings.json",
        "recordings/0001.csv",
        "windows.csv",
        "models.json",
        "models/v1.bin",
        "deployments.csv",
        "predictions.csv",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let folder = exported(dir.path());
        fs::remove_file(folder.join(file)).unwrap();
        match import_fails(&folder) {
            ArchiveError::Missing { path } => assert_eq!(path, folder.join(file)),
            other => panic!("{file}: expected Missing, got {other:?}"),
        }
    }
}

fn edit(folder: &Path, file: &str, f: impl FnOnce(String) -> String) {
    let path = folder.join(file);
    let text = fs::read_to_string(&path).unwrap();
    let new = f(text.clone());
    assert_ne!(new, text, "the edit of {file} changed nothing");
    fs::write(path, new).unwrap();
}

#[test]
fn damaged_files_give_specific_errors_and_import_nothing() {
    type Case = (&'static str, fn(&Path), fn(&ArchiveError) -> bool);
    let cases: Vec<Case> = vec![
        (
            "truncated recording",
            |f| {
                edit(f, "recordings/0001.csv", |t| {
                    t.lines().take(50).map(|l| format!("{l}\n")).collect()
                })
            },
            |e| matches!(e, ArchiveError::Inconsistent { reason, .. } if reason.contains("49 samples")),
        ),
        (
            "garbage in a sample",
            |f| {
                edit(f, "recordings/0001.csv", |t| {
                    t.replacen("1,0,50,1,2,3", "1,0,50,1,99999,3", 1)
                })
            },
            |e| matches!(e, ArchiveError::Csv { path, .. } if path.ends_with("recordings/0001.csv")),
        ),
        (
            "reordered samples",
            |f| {
                edit(f, "recordings/0001.csv", |t| {
                    t.replacen("1,0,50,", "7,0,50,", 1)
                })
            },
            |e| matches!(e, ArchiveError::Inconsistent { reason, .. } if reason.contains("index 7")),
        ),
        (
            "flipped byte in a model",
            |f| {
                let path = f.join("models/v1.bin");
                let mut blob = fs::read(&path).unwrap();
                blob[10] ^= 1;
                fs::write(path, blob).unwrap();
            },
            |e| matches!(e, ArchiveError::Checksum { path } if path.ends_with("models/v1.bin")),
        ),
        (
            "cut JSON",
            |f| edit(f, "models.json", |t| t[..t.len() / 2].to_string()),
            |e| matches!(e, ArchiveError::Json { path, .. } if path.ends_with("models.json")),
        ),
        (
            "other format",
            |f| {
                edit(f, "profile.json", |t| {
                    t.replace("bandx-profile", "something-else")
                })
            },
            |e| matches!(e, ArchiveError::Format { .. }),
        ),
        (
            "newer format",
            |f| {
                edit(f, "profile.json", |t| {
                    t.replace("\"format_version\": 1", "\"format_version\": 2")
                })
            },
            |e| matches!(e, ArchiveError::Format { version: 2, .. }),
        ),
        (
            "unknown class",
            |f| edit(f, "recordings.json", |t| t.replace("\"walk\"", "\"swim\"")),
            |e| matches!(e, ArchiveError::Inconsistent { reason, .. } if reason.contains("swim")),
        ),
        (
            "unknown band",
            |f| edit(f, "predictions.csv", |t| t.replace("sim:0", "sim:9")),
            |e| matches!(e, ArchiveError::Inconsistent { reason, .. } if reason.contains("sim:9")),
        ),
        (
            "unknown model version",
            |f| edit(f, "deployments.csv", |t| t.replacen("\n1,", "\n5,", 1)),
            |e| matches!(e, ArchiveError::Inconsistent { reason, .. } if reason.contains("version 5")),
        ),
        (
            "window of unknown recording",
            |f| edit(f, "windows.csv", |t| t.replace("0001", "0002")),
            |e| matches!(e, ArchiveError::Inconsistent { reason, .. } if reason.contains("0002")),
        ),
        (
            "bad verdict",
            |f| edit(f, "windows.csv", |t| t.replace("rejected", "meh")),
            |e| matches!(e, ArchiveError::Csv { .. }),
        ),
        (
            "confidence out of range",
            |f| edit(f, "predictions.csv", |t| t.replace("0.9", "1.5")),
            |e| matches!(e, ArchiveError::Inconsistent { reason, .. } if reason.contains("1.5")),
        ),
        (
            "path in a recording id",
            |f| {
                edit(f, "recordings.json", |t| {
                    t.replace("\"0001\"", "\"../../etc/passwd\"")
                })
            },
            |e| matches!(e, ArchiveError::Inconsistent { reason, .. } if reason.contains("bad recording id")),
        ),
        // Caught only by the database, halfway through the insert: the transaction must undo the new band,
        // profile and first class.
        (
            "duplicate class",
            |f| edit(f, "classes.json", |t| t.replace("brush teeth", "WALK")),
            |e| matches!(e, ArchiveError::Rejected { source: StoreError::ClassExists(n), .. } if n == "WALK"),
        ),
    ];
    for (what, damage, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        let folder = exported(dir.path());
        damage(&folder);
        let err = import_fails(&folder);
        assert!(expected(&err), "{what}: unexpected error {err:?}");
        // Errors are sentences that name the file.
        assert!(
            err.to_string().contains(&*folder.to_string_lossy()),
            "{what}: {err}"
        );
    }
}
