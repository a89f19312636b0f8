//! Fuzzes the owner key parser, the grant signature check and the owner record loader (`checks::owner_check`,
//! see `../checks.rs`).
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::owner_check(data));
