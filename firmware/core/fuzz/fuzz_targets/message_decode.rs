//! Fuzzes every decoder of bytes from the air (`checks::message_decode`, see `../checks.rs`).
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::message_decode(data));
