//! Fuzzes `checks::csv_file` (see `../checks.rs`): the reader must never panic.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::csv_file(data));
