//! What each bandx-core fuzz target does with one input. Shared by the cargo-fuzz targets
//! (nightly) and by `firmware/core/tests/fuzz_corpus.rs`, which replays every committed seed on
//! stable. Decoders of untrusted bytes must return a value or an error, never panic.

#![allow(dead_code)] // each fuzz target uses one check

use bandx_core::blob::{DIGEST_LEN, Model, sha256};
use bandx_core::budget::check_model;
use bandx_core::frame::Frame;
use bandx_core::protocol::{
    BulkChunk, PredictionEvent, Reassembler, decode_request, decode_response,
};
use bandx_core::update::{AppImageChecker, Chip, check_app_image};

/// What a target does with one input.
pub type Check = fn(&[u8]);

/// Every target: its name (the corpus folder `corpus/<name>/`) and its check.
pub const TARGETS: [(&str, Check); 3] = [
    ("blob_parse", blob_parse),
    ("message_decode", message_decode),
    ("app_image_check", app_image_check),
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
