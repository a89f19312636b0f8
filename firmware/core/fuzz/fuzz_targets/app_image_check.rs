//! Fuzzes the ESP-IDF app image check (`checks::app_image_check`, see `../checks.rs`).
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::app_image_check(data));
