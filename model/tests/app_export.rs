//! The app-export reader on profile folders written in BandX Studio's export format
//! (`src-tauri/src/store/export.rs`): JSON listings, raw i16 sample CSVs, window verdicts.

use std::path::Path;

use bandx_model::ModelError;
use bandx_model::readers::app_export;
use bandx_model::recording::STANDARD_GRAVITY;

/// One recording of the fixture: id, class, full scale, and its samples as
/// `(frame_seq, t_ms, [ax, ay, az, gx, gy, gz] counts)`.
struct Rec {
    id: &'static str,
    class: Option<&'static str>,
    accel_g: u16,
    gyro_dps: u16,
    samples: Vec<(u32, i64, [i16; 6])>,
}

/// `n` samples at 20 Hz, 4 per frame, starting at frame `seq0` and time `t0`; value of sample i
/// on channel c is `(i * 7 + c * 100) as i16`.
fn samples(n: usize, seq0: u32, t0: i64) -> Vec<(u32, i64, [i16; 6])> {
    (0..n)
        .map(|i| {
            let v = std::array::from_fn(|c| (i * 7 + c * 100) as i16);
            (seq0 + (i / 4) as u32, t0 + 50 * i as i64, v)
        })
        .collect()
}

fn write_export(dir: &Path, recs: &[Rec], windows: &[(&str, u64, &str)]) {
    std::fs::create_dir_all(dir.join("recordings")).unwrap();
    std::fs::create_dir_all(dir.join("models")).unwrap();
    let json = |name: &str, v: serde_json::Value| {
        std::fs::write(dir.join(name), serde_json::to_string_pretty(&v).unwrap()).unwrap()
    };
    json(
        "profile.json",
        serde_json::json!({"format": "bandx-profile", "format_version": 1, "name": "alice", "created_at_ms": 1_700_000_000_000i64}),
    );
    json(
        "classes.json",
        serde_json::json!([{"name": "walking", "created_at_ms": 1}, {"name": "sitting", "created_at_ms": 2}]),
    );
    json(
        "bands.json",
        serde_json::json!([{"address": "AA:BB:CC:DD:EE:FF", "name": "BandX", "first_seen_ms": 1}]),
    );
    let entries: Vec<serde_json::Value> = recs
        .iter()
        .map(|r| {
            serde_json::json!({
                "id": r.id, "class": r.class, "band": "AA:BB:CC:DD:EE:FF",
                "started_at_ms": 1_700_000_000_000i64, "sample_rate_hz": 20.0,
                "accel_range_g": r.accel_g, "gyro_range_dps": r.gyro_dps, "samples": r.samples.len(),
            })
        })
        .collect();
    json("recordings.json", serde_json::Value::Array(entries));
    for r in recs {
        let mut text = String::from("index,frame_seq,t_ms,ax,ay,az,gx,gy,gz\n");
        for (i, (seq, t, v)) in r.samples.iter().enumerate() {
            text.push_str(&format!(
                "{i},{seq},{t},{},{},{},{},{},{}\n",
                v[0], v[1], v[2], v[3], v[4], v[5]
            ));
        }
        std::fs::write(dir.join("recordings").join(format!("{}.csv", r.id)), text).unwrap();
    }
    let mut text = String::from("recording,start_index,verdict,reason\n");
    for (rec, start, verdict) in windows {
        let reason = if *verdict == "rejected" {
            "too still"
        } else {
            ""
        };
        text.push_str(&format!("{rec},{start},{verdict},{reason}\n"));
    }
    std::fs::write(dir.join("windows.csv"), text).unwrap();
    json("models.json", serde_json::json!([]));
    std::fs::write(
        dir.join("deployments.csv"),
        "model_version,band,transport,status,started_at_ms,finished_at_ms,bytes_total,bytes_sent,resumed_count,error\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("predictions.csv"),
        "band,t_ms,class,confidence,window_seq\n",
    )
    .unwrap();
}

fn two_classes() -> Vec<Rec> {
    vec![
        Rec {
            id: "0001",
            class: Some("walking"),
            accel_g: 8,
            gyro_dps: 1000,
            samples: samples(100, 10, 5_000),
        },
        Rec {
            id: "0002",
            class: None, // a free recording: no label, not read
            accel_g: 8,
            gyro_dps: 1000,
            samples: samples(30, 50, 20_000),
        },
        Rec {
            id: "0003",
            class: Some("sitting"),
            accel_g: 4,
            gyro_dps: 500,
            samples: samples(80, 90, 40_000),
        },
    ]
}

#[test]
fn recordings_become_si_sessions_labelled_by_class() {
    let dir = tempfile::tempdir().unwrap();
    write_export(
        dir.path(),
        &two_classes(),
        &[("0001", 0, "good"), ("0003", 0, "good")],
    );
    let recs = app_export::read(dir.path()).unwrap();
    assert_eq!(recs.len(), 2);
    assert_eq!(
        (
            recs[0].subject.as_str(),
            recs[0].session.as_str(),
            recs[0].label.as_str()
        ),
        ("alice", "0001", "walking")
    );
    assert_eq!(
        (recs[1].session.as_str(), recs[1].label.as_str()),
        ("0003", "sitting")
    );
    assert_eq!((recs[0].samples.len(), recs[1].samples.len()), (100, 80));
    assert_eq!(recs[0].rate_hz, 20.0);
    // Sample 3 of 0001: counts 21, 121, 221 | 321, 421, 521 at ±8 g, ±1000 °/s.
    let a = 8.0 * STANDARD_GRAVITY / 32768.0;
    let g = 1000f32.to_radians() / 32768.0;
    let s = recs[0].samples[3];
    for (c, want) in [
        21.0 * a,
        121.0 * a,
        221.0 * a,
        321.0 * g,
        421.0 * g,
        521.0 * g,
    ]
    .iter()
    .enumerate()
    {
        assert!(
            (s[c] - want).abs() < 1e-5,
            "channel {c}: {} vs {want}",
            s[c]
        );
    }
    // 0003 is at ±4 g, ±500 °/s: half the scale.
    let s = recs[1].samples[0];
    assert!((s[0] - 0.0).abs() < 1e-6);
    assert!((s[1] - 100.0 * 4.0 * STANDARD_GRAVITY / 32768.0).abs() < 1e-5);
    assert!((s[4] - 400.0 * 500f32.to_radians() / 32768.0).abs() < 1e-6);
}

#[test]
fn lost_frames_and_clock_jumps_split_a_recording() {
    let mut recs = two_classes();
    // Frames 10..=34 carry samples 0..100; drop frame 15 (samples 20..24): a lost BLE frame.
    recs[0].samples.retain(|(seq, _, _)| *seq != 15);
    // 0003: the clock jumps by a second after sample 40 (frames still consecutive).
    for s in recs[2].samples.iter_mut().skip(40) {
        s.1 += 1000;
    }
    let dir = tempfile::tempdir().unwrap();
    write_export(dir.path(), &recs, &[]);
    let out = app_export::read(dir.path()).unwrap();
    let lens: Vec<(String, usize, usize)> = out
        .iter()
        .map(|r| (r.session.clone(), r.order, r.samples.len()))
        .collect();
    assert_eq!(
        lens,
        vec![
            ("0001".into(), 0, 20),
            ("0001".into(), 1, 76),
            ("0003".into(), 0, 40),
            ("0003".into(), 1, 40),
        ]
    );
}

#[test]
fn rejected_windows_are_left_out_unless_an_accepted_window_covers_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut recs = two_classes();
    recs[0].samples = samples(200, 10, 5_000);
    // Windows of 60 samples: good at 0 and 90, rejected at 30 (30..90) and 140 (140..200).
    write_export(
        dir.path(),
        &recs,
        &[
            ("0001", 0, "good"),
            ("0001", 30, "rejected"),
            ("0001", 90, "good"),
            ("0001", 140, "rejected"),
        ],
    );
    let out = app_export::read(dir.path()).unwrap();
    let walking: Vec<usize> = out
        .iter()
        .filter(|r| r.label == "walking")
        .map(|r| r.samples.len())
        .collect();
    // Samples 60..90 are only in the rejected window at 30; 150..200 only in the one at 140.
    assert_eq!(walking, vec![60, 60]);
    // The second run starts at sample 90: its first ax count is 90 * 7.
    let second = out.iter().filter(|r| r.label == "walking").nth(1).unwrap();
    let a = 8.0 * STANDARD_GRAVITY / 32768.0;
    assert!((second.samples[0][0] - 630.0 * a).abs() < 1e-4);
}

#[test]
fn damaged_exports_get_specific_errors() {
    let expect = |edit: &dyn Fn(&Path), needle: &str| {
        let dir = tempfile::tempdir().unwrap();
        write_export(dir.path(), &two_classes(), &[("0001", 0, "good")]);
        edit(dir.path());
        let err = app_export::read(dir.path()).unwrap_err().to_string();
        assert!(err.contains(needle), "{needle:?} not in {err:?}");
    };
    expect(
        &|d| {
            std::fs::write(
                d.join("profile.json"),
                r#"{"format":"something-else","format_version":1,"name":"x","created_at_ms":0}"#,
            )
            .unwrap()
        },
        "expected \"bandx-profile\"",
    );
    expect(
        &|d| {
            let p = d.join("recordings/0001.csv");
            let text = std::fs::read_to_string(&p).unwrap();
            let cut: Vec<&str> = text.lines().take(50).collect();
            std::fs::write(&p, cut.join("\n") + "\n").unwrap();
        },
        "holds 49 samples, recordings.json says 100",
    );
    expect(
        &|d| {
            let p = d.join("recordings/0003.csv");
            let text = std::fs::read_to_string(&p).unwrap();
            std::fs::write(&p, text.replace("\n5,91,", "\n5,91,x")).unwrap();
        },
        "0003.csv:7",
    );
    expect(
        &|d| {
            std::fs::write(
                d.join("windows.csv"),
                "recording,start_index,verdict,reason\n0001,0,maybe,\n",
            )
            .unwrap()
        },
        "verdict \"maybe\"",
    );
    expect(
        &|d| {
            std::fs::write(
                d.join("windows.csv"),
                "recording,start_index,verdict,reason\n0042,0,good,\n",
            )
            .unwrap()
        },
        "unknown recording \"0042\"",
    );
    expect(
        &|d| {
            std::fs::write(
                d.join("classes.json"),
                r#"[{"name":"walking","created_at_ms":1}]"#,
            )
            .unwrap()
        },
        "class \"sitting\", not listed",
    );
    expect(
        &|d| {
            let p = d.join("recordings.json");
            let text = std::fs::read_to_string(&p).unwrap();
            std::fs::write(
                &p,
                text.replacen("\"accel_range_g\": 8", "\"accel_range_g\": 3", 1),
            )
            .unwrap();
        },
        "±3 g is not an IMU setting",
    );
    expect(
        &|d| {
            let p = d.join("recordings.json");
            let text = std::fs::read_to_string(&p).unwrap();
            std::fs::write(&p, text.replacen("\"0001\"", "\"../0001\"", 1)).unwrap();
        },
        "bad recording id \"../0001\"",
    );
    expect(
        &|d| std::fs::remove_file(d.join("windows.csv")).unwrap(),
        "windows.csv",
    );
    let err = app_export::read(Path::new("/nonexistent/bandx-export")).unwrap_err();
    assert!(matches!(err, ModelError::InvalidInput(_)), "{err}");
}

#[test]
fn an_export_without_labelled_samples_is_no_data() {
    let dir = tempfile::tempdir().unwrap();
    let recs = vec![Rec {
        id: "0001",
        class: None,
        accel_g: 8,
        gyro_dps: 1000,
        samples: samples(10, 0, 0),
    }];
    write_export(dir.path(), &recs, &[]);
    assert!(matches!(
        app_export::read(dir.path()),
        Err(ModelError::NoData(_))
    ));
}

/// Rewrites `recordings.json` through `edit` on its parsed entries.
fn edit_listing(dir: &Path, edit: impl FnOnce(&mut Vec<serde_json::Value>)) {
    let path = dir.join("recordings.json");
    let mut entries: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    edit(&mut entries);
    std::fs::write(&path, serde_json::to_string_pretty(&entries).unwrap()).unwrap();
}

#[test]
fn a_recording_id_listed_twice_is_refused() {
    // The first listing of 0001 is class-less and declares 5 samples; the second is the real one.
    // A reader that sized 0001's window marks by the first listing indexed past them.
    let dir = tempfile::tempdir().unwrap();
    write_export(
        dir.path(),
        &two_classes(),
        &[("0001", 0, "rejected"), ("0001", 40, "good")],
    );
    edit_listing(dir.path(), |entries| {
        let mut ghost = entries[0].clone();
        ghost["class"] = serde_json::Value::Null;
        ghost["samples"] = 5.into();
        entries.insert(0, ghost);
    });
    match app_export::read(dir.path()) {
        Err(ModelError::ProfileFolder {
            path,
            problem: app_export::FolderProblem::DuplicateRecordingId { id },
        }) => {
            assert_eq!(id, "0001");
            assert!(path.ends_with("recordings.json"), "{}", path.display());
        }
        other => panic!("expected a duplicate-id error, got {other:?}"),
    }
}

#[test]
fn every_declared_sample_count_must_match_its_file() {
    // 0002 has no class (it is not learned from) but its listing still has to be true.
    for declared in [29u64, 31, 1_000_000_000_000] {
        let dir = tempfile::tempdir().unwrap();
        write_export(dir.path(), &two_classes(), &[("0002", 0, "rejected")]);
        edit_listing(dir.path(), |entries| {
            entries[1]["samples"] = declared.into()
        });
        match app_export::read(dir.path()) {
            Err(ModelError::ProfileFolder {
                path,
                problem: app_export::FolderProblem::SampleCount { declared: d, found },
            }) => {
                assert_eq!((d, found), (declared, 30));
                assert!(path.ends_with("recordings/0002.csv"), "{}", path.display());
            }
            other => panic!("declared {declared}: expected a count error, got {other:?}"),
        }
    }
}

#[test]
fn a_folder_in_memory_reads_like_the_folder_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    write_export(
        dir.path(),
        &two_classes(),
        &[("0001", 0, "good"), ("0001", 30, "rejected")],
    );
    let mut files = std::collections::BTreeMap::new();
    for name in [
        "profile.json",
        "classes.json",
        "recordings.json",
        "windows.csv",
    ] {
        files.insert(name.into(), std::fs::read(dir.path().join(name)).unwrap());
    }
    for id in ["0001", "0002", "0003"] {
        let rel = std::path::PathBuf::from(format!("recordings/{id}.csv"));
        files.insert(rel.clone(), std::fs::read(dir.path().join(&rel)).unwrap());
    }
    let on_disk = app_export::read(dir.path()).unwrap();
    let unbundled = app_export::unbundle(&app_export::bundle(&files));
    assert_eq!(unbundled, files);
    let in_memory = app_export::read_files(&unbundled).unwrap();
    assert_eq!(in_memory, on_disk);
    files.remove(std::path::Path::new("windows.csv"));
    let err = app_export::read_files(&files).unwrap_err().to_string();
    assert!(err.contains("profile/windows.csv"), "{err}");
}
