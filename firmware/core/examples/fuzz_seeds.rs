//! Writes the fuzz seed corpus: `cargo run -p bandx-core --example fuzz_seeds -- firmware/core/fuzz/corpus`.

use bandx_core::demo::{DEMO_BLOB_CAPACITY, write_demo_model};
use bandx_core::frame::{Frame, MAX_FRAME_LEN};
use bandx_core::imu::{FullScale, RawSample};
use bandx_core::owner::{
    Grant, OWNER_RECORD_LEN, OWNER_RECORD_SECTOR, OwnerFlash, OwnerKey, OwnerRecord,
};
use bandx_core::protocol::{
    BulkChunk, FLAG_NOT_WORN, LogChunk, LogRecord, MAX_MESSAGE_LEN, PredictionEvent, Request,
    RequestBody, Response, ResponseBody, UpdateTarget, encode_request, encode_response,
};
use bandx_core::update::StorageError;
use ed25519_dalek::{Signer, SigningKey};
use std::path::{Path, PathBuf};

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
            downgrade: false,
            signature: bandx_core::protocol::SignatureBytes {
                r: [3; 32],
                s: [4; 32],
            },
        },
        RequestBody::UpdateStatus {
            target: UpdateTarget::Firmware,
        },
        RequestBody::CommitUpdate {
            target: UpdateTarget::Model,
        },
        RequestBody::Reboot,
        RequestBody::SetOwner {
            public_key: [5; 32],
        },
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
    owner_seeds(&root.join("owner_check"))?;
    println!("seeds written to {}", root.display());
    Ok(())
}

/// The owner record's two sectors in memory, to lay out real record entries.
struct RamFlash(Vec<u8>);

impl OwnerFlash for RamFlash {
    fn read(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), StorageError> {
        let at = offset as usize;
        buf.copy_from_slice(&self.0[at..at + buf.len()]);
        Ok(())
    }
    fn program(&mut self, offset: u32, data: &[u8]) -> Result<(), StorageError> {
        let at = offset as usize;
        for (d, b) in self.0[at..at + data.len()].iter_mut().zip(data) {
            *d &= b;
        }
        Ok(())
    }
    fn erase_sector(&mut self, offset: u32) -> Result<(), StorageError> {
        let at = offset as usize;
        self.0[at..at + OWNER_RECORD_SECTOR as usize].fill(0xFF);
        Ok(())
    }
}

/// `owner_check` inputs (layout in `fuzz/checks.rs`): key, signature, grant fields, then owner record flash.
fn owner_seeds(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let sk = SigningKey::from_bytes(&[0x42; 32]);
    let key = OwnerKey::from_bytes(&sk.verifying_key().to_bytes()).expect("key");
    let grant = Grant {
        target: UpdateTarget::Firmware,
        version: 3,
        total_len: 333_968,
        sha256: [0x3C; 32],
        downgrade: true,
    };
    let signature = sk.sign(&grant.message()).to_bytes();
    let header = |key: &[u8; 32], signature: &[u8; 64]| {
        let mut h = Vec::new();
        h.extend_from_slice(key);
        h.extend_from_slice(signature);
        h.push(grant.target as u8);
        h.extend_from_slice(&grant.version.to_le_bytes());
        h.extend_from_slice(&grant.total_len.to_le_bytes());
        h.extend_from_slice(&grant.sha256);
        h.push(u8::from(grant.downgrade));
        h
    };
    let mut flash = RamFlash(vec![0xFF; OWNER_RECORD_LEN as usize]);
    let mut record = OwnerRecord::load(&mut flash).expect("load");
    record.set(&mut flash, &key).expect("set");
    record.clear(&mut flash).expect("clear");
    record.set(&mut flash, &key).expect("set");

    let mut signed = header(&key.to_bytes(), &signature);
    signed.extend_from_slice(&flash.0[..3 * 48]);
    std::fs::write(dir.join("signed-grant-and-record"), signed)?;

    let mut forged_signature = signature;
    forged_signature[40] ^= 0x10;
    let mut forged = header(&key.to_bytes(), &forged_signature);
    forged.extend_from_slice(&flash.0[..48 + 30]); // the second entry torn
    std::fs::write(dir.join("forged-and-torn"), forged)?;

    let mut identity = [0u8; 32];
    identity[0] = 1; // a small-order point: refused as a key
    std::fs::write(dir.join("small-order-key"), header(&identity, &[0; 64]))?;
    Ok(())
}
