//! The format's bytes: headers match the serialized fields, and the files come out exactly as
//! BandX Studio's export has written them since version 1.

use super::*;

/// The text the store writes for a CSV file: its header line, then the rows without serde's header.
fn csv_text<T: CsvRow>(rows: &[T]) -> String {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    w.write_record(T::HEADER).unwrap();
    for row in rows {
        w.serialize(row).unwrap();
    }
    String::from_utf8(w.into_inner().unwrap()).unwrap()
}

/// The header serde would write for a row: the field names in declaration order.
fn serde_header<T: CsvRow>(row: &T) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.serialize(row).unwrap();
    let text = String::from_utf8(w.into_inner().unwrap()).unwrap();
    text.lines().next().unwrap().to_string()
}

fn sample() -> SampleRow {
    SampleRow {
        index: 0,
        frame_seq: 12,
        t_ms: 5_000,
        ax: -1,
        ay: 2,
        az: 4096,
        gx: -32768,
        gy: 0,
        gz: 32767,
    }
}

fn deployment() -> DeploymentRow {
    DeploymentRow {
        model_version: Some(2),
        band: "AA:BB:CC:DD:EE:FF".into(),
        transport: "ble_model".into(),
        status: "verified".into(),
        started_at_ms: 1_700_000_000_000,
        finished_at_ms: None,
        bytes_total: 8076,
        bytes_sent: 8076,
        resumed_count: 1,
        error: None,
    }
}

#[test]
fn every_csv_header_names_the_serialized_fields_in_order() {
    assert_eq!(serde_header(&sample()), SampleRow::HEADER.join(","));
    let window = WindowRow {
        recording: "0001".into(),
        start_index: 30,
        verdict: Verdict::Rejected,
        reason: Some("too still".into()),
    };
    assert_eq!(
        serde_header(&window),
        WindowRow::<Verdict>::HEADER.join(",")
    );
    assert_eq!(
        serde_header(&deployment()),
        DeploymentRow::<String, String>::HEADER.join(",")
    );
    let prediction = PredictionRow {
        band: "AA:BB:CC:DD:EE:FF".into(),
        t_ms: 1,
        class: "walking".into(),
        confidence: 0.5,
        window_seq: 3,
    };
    assert_eq!(serde_header(&prediction), PredictionRow::HEADER.join(","));
}

#[test]
fn csv_files_come_out_as_version_1_wrote_them() {
    assert_eq!(
        csv_text(&[sample()]),
        "index,frame_seq,t_ms,ax,ay,az,gx,gy,gz\n0,12,5000,-1,2,4096,-32768,0,32767\n"
    );
    let windows = [
        WindowRow {
            recording: "0001".into(),
            start_index: 0,
            verdict: Verdict::Good,
            reason: None,
        },
        WindowRow {
            recording: "0001".into(),
            start_index: 30,
            verdict: Verdict::Rejected,
            reason: Some("too still".into()),
        },
    ];
    assert_eq!(
        csv_text(&windows),
        "recording,start_index,verdict,reason\n0001,0,good,\n0001,30,rejected,too still\n"
    );
    assert_eq!(
        csv_text(&[deployment()]),
        "model_version,band,transport,status,started_at_ms,finished_at_ms,bytes_total,bytes_sent,resumed_count,error\n\
         2,AA:BB:CC:DD:EE:FF,ble_model,verified,1700000000000,,8076,8076,1,\n"
    );
    let empty: [PredictionRow; 0] = [];
    assert_eq!(csv_text(&empty), "band,t_ms,class,confidence,window_seq\n");
}

#[test]
fn json_manifests_come_out_as_version_1_wrote_them() {
    let text =
        serde_json::to_string_pretty(&ProfileManifest::new("alice", 1_700_000_000_000)).unwrap();
    assert_eq!(
        text,
        "{\n  \"format\": \"bandx-profile\",\n  \"format_version\": 1,\n  \"name\": \"alice\",\n  \"created_at_ms\": 1700000000000\n}"
    );
    let entry = RecordingEntry {
        id: recording_id(0),
        class: Some("walking".into()),
        band: None,
        started_at_ms: 7,
        sample_rate_hz: 20.0,
        accel_range_g: 8,
        gyro_range_dps: 1000,
        samples: 100,
    };
    assert_eq!(
        serde_json::to_string(&entry).unwrap(),
        r#"{"id":"0001","class":"walking","band":null,"started_at_ms":7,"sample_rate_hz":20.0,"accel_range_g":8,"gyro_range_dps":1000,"samples":100}"#
    );
    let model = ModelEntry {
        version: 2,
        backbone_id: "backbone@ef7c278444a1".into(),
        classes: vec!["walking".into(), "sitting".into()],
        metrics: serde_json::json!({"personal_accuracy": 0.9}),
        created_at_ms: 9,
        bytes: 8076,
        sha256: "ab".repeat(32),
    };
    let text = serde_json::to_string(&model).unwrap();
    assert!(
        text.starts_with(r#"{"version":2,"backbone_id":"backbone@ef7c278444a1","classes":["walking","sitting"],"metrics":{"personal_accuracy":0.9},"created_at_ms":9,"bytes":8076,"sha256":"abab"#),
        "{text}"
    );
    assert_eq!(
        serde_json::to_string(&ClassEntry {
            name: "walking".into(),
            created_at_ms: 1
        })
        .unwrap(),
        r#"{"name":"walking","created_at_ms":1}"#
    );
    assert_eq!(
        serde_json::to_string(&BandEntry {
            address: "AA".into(),
            name: "BandX".into(),
            first_seen_ms: 1
        })
        .unwrap(),
        r#"{"address":"AA","name":"BandX","first_seen_ms":1}"#
    );
}

#[test]
fn manifests_refuse_unknown_fields_and_other_formats() {
    let extra =
        r#"{"format":"bandx-profile","format_version":1,"name":"a","created_at_ms":0,"x":1}"#;
    assert!(serde_json::from_str::<ProfileManifest>(extra).is_err());
    let other: ProfileManifest = serde_json::from_str(
        r#"{"format":"bandx-profile","format_version":2,"name":"a","created_at_ms":0}"#,
    )
    .unwrap();
    assert!(!other.is_supported());
    assert!(ProfileManifest::new("a", 0).is_supported());
}

#[test]
fn file_names_and_ids() {
    assert_eq!(recording_file("0001"), Path::new("recordings/0001.csv"));
    assert_eq!(model_file(3), Path::new("models/v3.bin"));
    assert_eq!(recording_id(41), "0042");
    assert!(is_valid_recording_id("0001") && is_valid_recording_id("a_b-C"));
    for bad in ["", "../0001", "a/b", "a.csv", "é", &"x".repeat(65)] {
        assert!(!is_valid_recording_id(bad), "{bad:?}");
    }
    assert_eq!(Verdict::parse("good"), Some(Verdict::Good));
    assert_eq!(
        Verdict::parse(Verdict::Rejected.as_str()),
        Some(Verdict::Rejected)
    );
    assert_eq!(Verdict::parse("maybe"), None);
}
