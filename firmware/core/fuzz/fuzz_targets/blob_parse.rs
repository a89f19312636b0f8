//! Fuzzes the model blob parser and the band's model check (`checks::blob_parse`, see
//! `../checks.rs`).
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::blob_parse(data));
