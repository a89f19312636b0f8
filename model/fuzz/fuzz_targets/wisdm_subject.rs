//! Fuzzes `checks::wisdm_subject` (see `../checks.rs`): the reader must never panic.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::wisdm_subject(data));
