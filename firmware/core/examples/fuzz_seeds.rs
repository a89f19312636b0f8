//! Writes the fuzz seed corpus: `cargo run -p bandx-core --example fuzz_seeds -- firmware/core/fuzz/corpus`.

use bandx_core::demo::{DEMO_BLOB_CAPACITY, write_demo_model};
use bandx_core::frame::{Frame, MAX_FRAME_LEN};
use bandx_core::imu::{FullScale, RawSample};
use bandx_core::protocol::{
    BulkChunk, FLAG_NOT_WORN, LogChunk, LogRecord, MAX_MESSAGE_LEN, PredictionEvent, Request,
    RequestBody, Response, ResponseBody, UpdateTarget, encode_request, encode_response,
};
use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let root = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "firmware/core/fuzz/corpus".into()),
    );
    let blobs = root.join("blob_parse");
    let messages = root.join("message_decode");
    std::fs::create_dir_all(&blobs)?;
    std::fs::create_dir_all(&messages)?;

    let mut buf = [0u8; DEMO_BLOB_CAPACITY];
    let len = write_demo_model(&mut buf, 1, 1, 1).expect("demo model");
    std::fs::write(blobs.join("demo-7-class"), &buf[..len])?;
    std::fs::write(blobs.join("demo-header-only"), &buf[..64])?;

    let requests = [
        RequestBody::GetInfo,
        RequestBody::StartImu,
        RequestBody::StartPredictions,
        RequestBody::BeginUpdate {
            target: UpdateTarget::Model,
            total_len: 7000,
            sha256: [7; 32],
            version: 2,
        },
        RequestBody::UpdateStatus {
            target: UpdateTarget::Firmware,
        },
        RequestBody::CommitUpdate {
            target: UpdateTarget::Model,
        },
        RequestBody::Reboot,
        RequestBody::SetTime {
            unix_ms: 1_764_921_600_000,
        },
        RequestBody::ReadLog {
            after_seq: 672,
            max: 255,
        },
    ];
    let mut msg = [0u8; MAX_MESSAGE_LEN];
    for (i, body) in requests.into_iter().enumerate() {
        let n = encode_request(&Request { id: i as u16, body }, &mut msg).expect("encode");
        std::fs::write(messages.join(format!("request-{i}")), &msg[..n])?;
    }
    let response = Response {
        id: 3,
        body: ResponseBody::UpdateStatus {
            target: UpdateTarget::Model,
            next_offset: 400,
            total_len: 7000,
        },
    };
    let n = encode_response(&response, &mut msg).expect("encode");
    std::fs::write(messages.join("response-status"), &msg[..n])?;
    let record = LogRecord {
        seq: 673,
        boot: 2,
        minute: 95,
        unix_ms: Some(1_764_927_300_000),
        model_version: 4,
        class: 3,
        dominant: 31,
        windows: 40,
        confidence_pct: 87,
        flags: 0,
    };
    let response = Response {
        id: 4,
        body: ResponseBody::Log(LogChunk {
            oldest_seq: 1,
            next_seq: 700,
            records: [
                record,
                LogRecord {
                    seq: 674,
                    unix_ms: None,
                    flags: FLAG_NOT_WORN,
                    ..record
                },
            ]
            .into_iter()
            .collect(),
        }),
    };
    let n = encode_response(&response, &mut msg).expect("encode");
    std::fs::write(messages.join("response-log"), &msg[..n])?;
    let n = BulkChunk {
        target: UpdateTarget::Model,
        offset: 240,
        data: &[1, 2, 3, 4],
    }
    .encode(&mut msg)
    .expect("bulk");
    std::fs::write(messages.join("bulk-chunk"), &msg[..n])?;
    let event = PredictionEvent {
        window_seq: 9,
        timestamp_ms: 4500,
        class: 2,
        confidence_permille: 870,
    };
    let n = event.encode(&mut msg).expect("event");
    std::fs::write(messages.join("prediction"), &msg[..n])?;
    let frame = Frame {
        seq: 5,
        timestamp_ms: 1000,
        full_scale: FullScale::DEFAULT,
        samples: (0..3)
            .map(|i| RawSample {
                accel: [i, -i, 4096],
                gyro: [1, 2, 3],
            })
            .collect(),
    };
    let mut fbuf = [0u8; MAX_FRAME_LEN];
    let n = frame.encode(&mut fbuf).expect("frame");
    std::fs::write(messages.join("imu-frame"), &fbuf[..n])?;
    println!("seeds written to {}", root.display());
    Ok(())
}
