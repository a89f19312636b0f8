//! Fuzzes every decoder of bytes from the air: control requests/responses, fragments, bulk chunks,
//! prediction events and IMU frames.
#![no_main]

use bandx_core::frame::Frame;
use bandx_core::protocol::{
    BulkChunk, PredictionEvent, Reassembler, decode_request, decode_response,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
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
});
