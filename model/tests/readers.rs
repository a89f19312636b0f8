//! Readers on small files written in each data set's real format.

use std::io::Write;
use std::path::Path;

use bandx_model::ModelError;
use bandx_model::readers::csv::{CsvOptions, read_file as read_csv};
use bandx_model::readers::{pamap2, wisdm};
use bandx_model::recording::{AccelUnit, GyroUnit, STANDARD_GRAVITY};

/// One WISDM line: `subject,activity,timestamp_ns,x,y,z;`.
fn wisdm_line(subject: u32, code: char, t_ns: i64, xyz: [f32; 3]) -> String {
    format!(
        "{subject},{code},{t_ns},{},{},{};\n",
        xyz[0], xyz[1], xyz[2]
    )
}

/// A block of `n` readings at 20 Hz starting at `t0`, with x = time in seconds * `slope`.
fn wisdm_block(subject: u32, code: char, t0: i64, n: usize, slope: f32) -> String {
    (0..n)
        .map(|i| {
            let t = t0 + i as i64 * 50_000_000;
            wisdm_line(subject, code, t, [slope * (t - t0) as f32 / 1e9, 1.0, -1.0])
        })
        .collect()
}

fn write_wisdm(dir: &Path, subject: u32, accel: &str, gyro: &str, xz: bool) {
    for (sensor, text) in [("accel", accel), ("gyro", gyro)] {
        let d = dir.join("raw/watch").join(sensor);
        std::fs::create_dir_all(&d).unwrap();
        let name = format!("data_{subject}_{sensor}_watch.txt");
        if xz {
            let mut out = Vec::new();
            lzma_rs::xz_compress(&mut text.as_bytes(), &mut out).unwrap();
            std::fs::write(d.join(format!("{name}.xz")), out).unwrap();
        } else {
            std::fs::write(d.join(name), text).unwrap();
        }
    }
}

#[test]
fn wisdm_aligns_accel_and_gyro_by_timestamp_per_activity() {
    let dir = tempfile::tempdir().unwrap();
    // Gyro starts 25 ms after accel; both cover 200 readings per activity.
    let t_a = 90_000_000_000_000i64;
    let t_b = 80_000_000_000_000i64; // every block has its own clock origin in real files
    let accel = wisdm_block(1600, 'A', t_a, 200, 1.0) + &wisdm_block(1600, 'B', t_b, 200, 1.0);
    let gyro = wisdm_block(1600, 'A', t_a + 25_000_000, 200, 2.0)
        + &wisdm_block(1600, 'B', t_b + 25_000_000, 200, 2.0);
    write_wisdm(dir.path(), 1600, &accel, &gyro, false);

    let (recs, inputs) = wisdm::read_dir(dir.path(), None).unwrap();
    assert_eq!(inputs.len(), 2);
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0].label, "walking");
    assert_eq!(recs[1].label, "jogging");
    let r = &recs[0];
    assert_eq!(r.subject, "1600");
    assert_eq!(r.rate_hz, 20.0);
    // Common span is 25 ms .. 9.95 s: 199 grid points at 50 ms.
    assert_eq!(r.samples.len(), 199);
    for (k, s) in r.samples.iter().enumerate() {
        let t = 0.025 + 0.05 * k as f32; // seconds since the accel block start
        assert!((s[0] - t).abs() < 1e-4, "accel x at {k}: {} vs {t}", s[0]);
        let tg = t - 0.025; // seconds since the gyro block start
        assert!(
            (s[3] - 2.0 * tg).abs() < 1e-4,
            "gyro x at {k}: {} vs {}",
            s[3],
            2.0 * tg
        );
        assert_eq!((s[1], s[2], s[4], s[5]), (1.0, -1.0, 1.0, -1.0));
    }
}

#[test]
fn wisdm_splits_at_gaps_and_reads_xz() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = 1_000_000_000_000i64;
    // 100 readings, then a 2 s gap, then 100 more, all activity D.
    let accel = wisdm_block(1601, 'D', t0, 100, 1.0)
        + &wisdm_block(1601, 'D', t0 + 7_000_000_000, 100, 1.0);
    let gyro = wisdm_block(1601, 'D', t0, 220, 1.0);
    write_wisdm(dir.path(), 1601, &accel, &gyro, true);
    let (recs, _) = wisdm::read_dir(dir.path(), None).unwrap();
    assert_eq!(recs.len(), 2, "the gap must split the activity");
    assert!(recs.iter().all(|r| r.label == "sitting"));
    assert_eq!(recs[0].samples.len(), 100);
    // Second stretch: accel 7.0..11.95 s, gyro ends at 10.95 s.
    assert_eq!(recs[1].samples.len(), 80);
    assert_eq!((recs[0].order, recs[1].order), (0, 1));
}

#[test]
fn wisdm_reports_damaged_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut accel = wisdm_block(1602, 'A', 0, 10, 1.0);
    accel.push_str("1602,A,550000000,1.0,2.0;\n");
    write_wisdm(
        dir.path(),
        1602,
        &accel,
        &wisdm_block(1602, 'A', 0, 10, 1.0),
        false,
    );
    match wisdm::read_dir(dir.path(), None) {
        Err(ModelError::Parse { line, reason, .. }) => {
            assert_eq!(line, 11);
            assert!(reason.contains("6 comma-separated fields"), "{reason}");
        }
        other => panic!("expected a parse error, got {other:?}"),
    }

    let dir = tempfile::tempdir().unwrap();
    let bad = wisdm_block(1603, 'A', 0, 3, 1.0).replace(",A,", ",N,");
    write_wisdm(dir.path(), 1603, &bad, &bad, false);
    let err = wisdm::read_dir(dir.path(), None).unwrap_err();
    assert!(
        err.to_string().contains("unknown activity code 'N'"),
        "{err}"
    );

    let dir = tempfile::tempdir().unwrap();
    write_wisdm(dir.path(), 1604, "x", "y", false);
    let watch = dir.path().join("raw/watch/accel");
    std::fs::write(
        watch.join("data_1604_accel_watch.txt.xz"),
        b"\xfd7zXZ\0garbage",
    )
    .unwrap();
    std::fs::remove_file(watch.join("data_1604_accel_watch.txt")).unwrap();
    assert!(matches!(
        wisdm::read_dir(dir.path(), None),
        Err(ModelError::Xz { .. })
    ));

    let empty = tempfile::tempdir().unwrap();
    let err = wisdm::read_dir(empty.path(), None).unwrap_err();
    assert!(
        err.to_string().contains("does not look like WISDM"),
        "{err}"
    );
}

/// A PAMAP2 row: 54 columns; hand IMU acc16 at columns 5-7, acc6 at 8-10, gyro at 11-13.
fn pamap2_row(t: f64, activity: u32, acc16: [f32; 3], gyro: [f32; 3]) -> String {
    let mut cols = vec![
        format!("{t:.2}"),
        activity.to_string(),
        "NaN".into(),
        "30.0".into(),
    ];
    cols.extend(acc16.iter().map(|v| v.to_string()));
    cols.extend(["99".to_string(), "99".into(), "99".into()]); // ±6 g accel: must not be used
    cols.extend(gyro.iter().map(|v| v.to_string()));
    while cols.len() < 54 {
        cols.push("7.5".into()); // magnetometer, orientation, chest and ankle IMUs
    }
    cols.join(" ") + "\n"
}

#[test]
fn pamap2_reads_hand_imu_drops_transients_and_handles_nan() {
    let dir = tempfile::tempdir().unwrap();
    let protocol = dir.path().join("Protocol");
    std::fs::create_dir_all(&protocol).unwrap();
    let mut text = String::new();
    let mut t = 5.0;
    for _ in 0..50 {
        text += &pamap2_row(t, 0, [0.0; 3], [0.0; 3]); // transient: dropped
        t += 0.01;
    }
    for i in 0..400 {
        let v = i as f32;
        // Samples 100-101: a short dropout (bridged); 250-269: a long one (splits).
        let dropout = i == 100 || i == 101 || (250..270).contains(&i);
        let row = if dropout {
            pamap2_row(t, 4, [f32::NAN; 3], [f32::NAN; 3])
        } else {
            pamap2_row(t, 4, [v, 2.0, 3.0], [4.0, 5.0, 6.0])
        };
        text += &row;
        t += 0.01;
    }
    for _ in 0..120 {
        text += &pamap2_row(t, 12, [1.0, 1.0, 1.0], [0.5, 0.5, 0.5]);
        t += 0.01;
    }
    std::fs::write(protocol.join("subject105.dat"), &text).unwrap();

    let (recs, inputs) = pamap2::read_dir(dir.path()).unwrap();
    assert_eq!(inputs.len(), 1);
    let labels: Vec<_> = recs
        .iter()
        .map(|r| (r.label.as_str(), r.samples.len()))
        .collect();
    assert_eq!(
        labels,
        vec![
            ("walking", 250),
            ("walking", 130),
            ("ascending_stairs", 120)
        ]
    );
    let walk = &recs[0];
    assert_eq!(walk.subject, "105");
    assert_eq!(walk.rate_hz, 100.0);
    assert_eq!(walk.samples[0], [0.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    // The bridged samples lie on the line between their neighbours.
    assert!((walk.samples[100][0] - 100.0).abs() < 1e-4);
    assert!((walk.samples[101][0] - 101.0).abs() < 1e-4);
}

#[test]
fn pamap2_reports_wrong_column_count() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("subject101.dat"), "1.0 1 NaN 3.0 4.0\n").unwrap();
    match pamap2::read_dir(dir.path()) {
        Err(ModelError::Parse {
            line: 1, reason, ..
        }) => assert!(reason.contains("54"), "{reason}"),
        other => panic!("expected a parse error, got {other:?}"),
    }
}

#[test]
fn csv_converts_units_and_splits_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wrist.csv");
    let mut f = std::fs::File::create(&path).unwrap();
    writeln!(f, "subject,session,label,ax,ay,az,gx,gy,gz").unwrap();
    for _ in 0..3 {
        writeln!(f, "u1,morning,walk,1,0,-1,180,90,0").unwrap();
    }
    writeln!(f, "u1,evening,walk,0.5,0,0,0,0,0").unwrap();
    writeln!(f, "u1,evening,row,0,0,0,0,0,0").unwrap();
    drop(f);
    let options = CsvOptions {
        rate_hz: 50.0,
        accel_unit: AccelUnit::StandardGravity,
        gyro_unit: GyroUnit::DegreesPerSecond,
    };
    let (recs, _) = read_csv(&path, options).unwrap();
    assert_eq!(recs.len(), 3);
    assert_eq!(recs[0].samples.len(), 3);
    assert_eq!(recs[0].rate_hz, 50.0);
    let s = recs[0].samples[0];
    assert!((s[0] - STANDARD_GRAVITY).abs() < 1e-5);
    assert!((s[3] - std::f32::consts::PI).abs() < 1e-5);
    assert!((s[4] - std::f32::consts::FRAC_PI_2).abs() < 1e-5);
    assert_eq!((recs[1].session.as_str(), recs[1].order), ("evening", 1));
    assert_eq!(recs[2].label, "row");
}

#[test]
fn csv_reports_bad_header_and_values() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.csv");
    std::fs::write(&path, "subject,label,ax,ay,az,gx,gy,gz\n").unwrap();
    let err = read_csv(&path, CsvOptions::default()).unwrap_err();
    assert!(err.to_string().contains("header must be"), "{err}");

    std::fs::write(
        &path,
        "subject,session,label,ax,ay,az,gx,gy,gz\nu,s,a,1,2,x,4,5,6\n",
    )
    .unwrap();
    match read_csv(&path, CsvOptions::default()) {
        Err(ModelError::Parse {
            line: 2, reason, ..
        }) => assert!(reason.contains("az"), "{reason}"),
        other => panic!("expected a parse error on line 2, got {other:?}"),
    }
    let opts = CsvOptions {
        rate_hz: 0.0,
        ..CsvOptions::default()
    };
    assert!(read_csv(&path, opts).is_err());
}
