//! What each bandx-core fuzz target does with one input. Shared by the cargo-fuzz targets
//! (nightly) and by `firmware/core/tests/fuzz_corpus.rs`, which replays every committed seed on
//! stable. Decoders of untrusted bytes must return a value or an error, never panic.

#![allow(dead_code)] // each fuzz target uses one check

use bandx_core::blob::{DIGEST_LEN, Model, sha256};
use bandx_core::budget::check_model;
use bandx_core::frame::Frame;
use bandx_core::owner::{
    GRANT_MESSAGE_LEN, Grant, OWNER_RECORD_LEN, OwnerFlash, OwnerKey, OwnerRecord, verify,
};
use bandx_core::protocol::UpdateTarget;
use bandx_core::protocol::{
    BulkChunk, PredictionEvent, Reassembler, decode_request, decode_response,
};
use bandx_core::update::{AppImageChecker, Chip, StorageError, check_app_image};

/// What a target does with one input.
pub type Check = fn(&[u8]);

/// Every target: its name (the corpus folder `corpus/<name>/`) and its check.
pub const TARGETS: [(&str, Check); 4] = [
    ("blob_parse", blob_parse),
    ("message_decode", message_decode),
    ("app_image_check", app_image_check),
    ("owner_check", owner_check),
];

/// The model blob parser: as-is, and re-sealed (digest recomputed) so mutations reach the
/// structural checks; anything that parses is also run (self-test, labels) and checked as the
/// band does (`check_model`).
pub fn blob_parse(data: &[u8]) {
    let _ = Model::parse(data);
    let _ = check_model(data);
    if data.len() > DIGEST_LEN {
        let mut sealed = data.to_vec();
        let body = sealed.len() - DIGEST_LEN;
        let digest = sha256(&sealed[..body]);
        sealed[body..].copy_from_slice(&digest);
        if let Ok(model) = Model::parse(&sealed) {
            let _ = model.labels().iter().count();
            if model.required_arena() <= 1 << 20 {
                let mut arena = vec![0u8; model.required_arena()];
                let _ = model.self_test(&mut arena);
            }
            let _ = check_model(&sealed);
        }
    }
}

/// Every decoder of bytes from the air: control requests/responses, fragments, bulk chunks,
/// prediction events and IMU frames.
pub fn message_decode(data: &[u8]) {
    let _ = decode_request(data);
    let _ = decode_response(data);
    let _ = BulkChunk::decode(data);
    let _ = PredictionEvent::decode(data);
    let _ = Frame::decode(data);
    let mut r = Reassembler::new();
    for packet in data.chunks(20) {
        if let Ok(Some(message)) = r.push(packet) {
            let _ = decode_request(message);
        }
    }
}

/// The ESP-IDF app image check: as-is for both chips, and in two pieces (the update receiver's path), which
/// must give the one-shot answer.
pub fn app_image_check(data: &[u8]) {
    for chip in [Chip::Esp32, Chip::Esp32C3] {
        let whole = check_app_image(data, chip);
        let cut = data.first().map_or(0, |&b| b as usize).min(data.len());
        let mut checker = AppImageChecker::new(chip, data.len() as u32);
        let _ = checker.push(&data[..cut]);
        let _ = checker.push(&data[cut..]);
        assert_eq!(checker.finish(), whole);
    }
}

/// Bytes of the owner check's header: key 32, signature 64, then the grant: target 1, version 4, total_len 4,
/// sha256 32, downgrade 1.
pub const OWNER_HEADER: usize = 32 + 64 + 1 + 4 + 4 + 32 + 1;

/// The owner record's two sectors in memory (NOR: programs only clear bits).
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
        self.0[at..at + 4096].fill(0xFF);
        Ok(())
    }
}

/// The owner check (issue 17): an owner key from the air (`SetOwner`), a grant and signature from the air
/// (`BeginUpdate`), and the owner record as flash left it (the rest of the input over erased flash). Never a
/// panic; a key that parses encodes back to the same bytes; a signature that passes fails with any byte
/// flipped; the record loads whatever the flash holds, and a new owner or a clear it accepts reads back.
pub fn owner_check(data: &[u8]) {
    let mut head = [0u8; OWNER_HEADER];
    let n = data.len().min(OWNER_HEADER);
    head[..n].copy_from_slice(&data[..n]);
    let key_bytes: [u8; 32] = head[..32].try_into().unwrap();
    let signature: [u8; 64] = head[32..96].try_into().unwrap();
    let g = &head[96..];
    let grant = Grant {
        target: if g[0] & 1 == 0 {
            UpdateTarget::Model
        } else {
            UpdateTarget::Firmware
        },
        version: u32::from_le_bytes(g[1..5].try_into().unwrap()),
        total_len: u32::from_le_bytes(g[5..9].try_into().unwrap()),
        sha256: g[9..41].try_into().unwrap(),
        downgrade: g[41] & 1 == 1,
    };
    assert_eq!(grant.message().len(), GRANT_MESSAGE_LEN);
    let key = OwnerKey::from_bytes(&key_bytes);
    if let Ok(key) = key {
        assert_eq!(key.to_bytes(), key_bytes);
        if verify(&key, &grant, &signature).is_ok() {
            for at in 0..signature.len() {
                let mut forged = signature;
                forged[at] ^= 1;
                assert!(
                    verify(&key, &grant, &forged).is_err(),
                    "flipped signature byte {at} passed"
                );
            }
        }
    }

    let mut flash = RamFlash(vec![0xFF; OWNER_RECORD_LEN as usize]);
    let rest = &data[n..];
    let m = rest.len().min(flash.0.len());
    flash.0[..m].copy_from_slice(&rest[..m]);
    let Ok(mut record) = OwnerRecord::load(&mut flash) else {
        panic!("a RAM flash never fails")
    };
    // A write may refuse (an exhausted sequence number on crafted flash) but never lies.
    if let Ok(key) = key
        && record.set(&mut flash, &key).is_ok()
    {
        assert_eq!(OwnerRecord::load(&mut flash).unwrap().owner(), Some(key));
    }
    if record.clear(&mut flash).is_ok() {
        assert_eq!(OwnerRecord::load(&mut flash).unwrap().owner(), None);
    }
}
