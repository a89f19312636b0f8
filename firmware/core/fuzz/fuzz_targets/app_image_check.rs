//! Fuzzes the ESP-IDF app image check: as-is for both chips, and in two pieces (the update receiver's path) which
//! must give the one-shot answer.
#![no_main]

use bandx_core::update::{AppImageChecker, Chip, check_app_image};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for chip in [Chip::Esp32, Chip::Esp32C3] {
        let whole = check_app_image(data, chip);
        let cut = data.first().map_or(0, |&b| b as usize).min(data.len());
        let mut checker = AppImageChecker::new(chip, data.len() as u32);
        let _ = checker.push(&data[..cut]);
        let _ = checker.push(&data[cut..]);
        assert_eq!(checker.finish(), whole);
    }
});
