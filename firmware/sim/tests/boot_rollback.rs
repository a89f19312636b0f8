//! The virtual band as strict as the hardware about firmware updates: ESP-IDF's OTA states in the flash
//! file's `otadata` (NEW -> PENDING_VERIFY -> VALID, or ABORTED and rolled back at the next reset), the
//! boot check of bandx-core confirming a new firmware, and flash erases charged on the simulated clock.
//! The flash file is read directly (not through `SimFlash`) for the states.

mod support;

use std::time::Duration;

use bandx_board::partitions::FlashLayout;
use bandx_core::boot::OtaState;
use bandx_core::protocol::{ResponseBody, UpdateTarget};
use bandx_sim::flash::SECTOR_ERASE;
use bandx_sim::{SIM_FIRMWARE_VERSION, SimBand, firmware_version_of};
use support::{Desktop, demo_blob, esp32_image, fresh_band};

/// The (`ota_seq`, `ota_state`) of both `otadata` entries, read from the flash file.
fn otadata_entries(dir: &std::path::Path) -> [(u32, u32); 2] {
    let flash = std::fs::read(dir.join("band.flash")).unwrap();
    let at = FlashLayout::band().otadata().offset as usize;
    let word = |i: usize| u32::from_le_bytes(flash[at + i..at + i + 4].try_into().unwrap());
    [(word(0), word(24)), (word(0x1000), word(0x1000 + 24))]
}

/// The firmware version GetInfo reports after a fresh connection.
fn reported_version(band: &SimBand) -> String {
    let mut d = Desktop::connect(band, 247);
    d.info().firmware_version.to_string()
}

/// Uploads `image` and resets the band into it.
fn update_and_reset(band: &SimBand, image: &[u8]) {
    let mut d = Desktop::connect(band, 247);
    assert_eq!(d.upload_firmware(image), ResponseBody::Ok);
    drop(d);
    band.power_cycle().unwrap();
}

#[test]
fn a_confirmed_firmware_keeps_running_after_two_resets() {
    let dir = tempfile::tempdir().unwrap();
    let band = fresh_band(dir.path());
    assert_eq!(reported_version(&band), SIM_FIRMWARE_VERSION);
    assert_eq!(
        band.running_app_state(),
        None,
        "a fresh band has no otadata"
    );
    let image = esp32_image(20_000, 1);

    update_and_reset(&band, &image);
    // Started on trial, passed its boot check, confirmed: VALID in the file.
    assert_eq!(band.running_app_state(), Some(OtaState::Valid));
    assert_eq!(reported_version(&band), firmware_version_of(&image));
    let valid = otadata_entries(dir.path())
        .into_iter()
        .find(|&(seq, _)| seq == 2)
        .expect("the entry selecting ota_1");
    assert_eq!(valid.1, OtaState::Valid.raw());

    for reset in 1..=2 {
        band.power_cycle().unwrap();
        assert_eq!(
            reported_version(&band),
            firmware_version_of(&image),
            "reset {reset}"
        );
        assert_eq!(band.running_app_state(), Some(OtaState::Valid));
    }
}

#[test]
fn a_firmware_that_fails_its_boot_check_is_rolled_back_after_two_resets() {
    let dir = tempfile::tempdir().unwrap();
    let band = fresh_band(dir.path());
    let good = esp32_image(20_000, 1);
    let bad = esp32_image(20_000, 2);
    update_and_reset(&band, &good);
    assert_eq!(band.running_app_state(), Some(OtaState::Valid));

    band.break_next_firmware();
    update_and_reset(&band, &bad);
    // First reset: the new firmware runs on trial, finds no IMU and is not confirmed.
    assert_eq!(reported_version(&band), firmware_version_of(&bad));
    assert_eq!(band.running_app_state(), Some(OtaState::PendingVerify));
    let states: Vec<u32> = otadata_entries(dir.path()).iter().map(|e| e.1).collect();
    assert!(
        states.contains(&OtaState::PendingVerify.raw()),
        "{states:?}"
    );

    // Second reset: the bootloader aborts it and starts the previous firmware, still valid.
    band.power_cycle().unwrap();
    assert_eq!(reported_version(&band), firmware_version_of(&good));
    assert_eq!(band.running_app_state(), Some(OtaState::Valid));
    let mut states: Vec<u32> = otadata_entries(dir.path()).iter().map(|e| e.1).collect();
    states.sort();
    assert_eq!(
        states,
        vec![OtaState::Valid.raw(), OtaState::Aborted.raw()],
        "the broken firmware's entry is ABORTED"
    );
    // It stays rolled back, and the band still takes updates.
    band.power_cycle().unwrap();
    assert_eq!(reported_version(&band), firmware_version_of(&good));
    let fixed = esp32_image(20_000, 3);
    update_and_reset(&band, &fixed);
    assert_eq!(reported_version(&band), firmware_version_of(&fixed));
    assert_eq!(band.running_app_state(), Some(OtaState::Valid));
}

#[test]
fn flash_erases_take_their_datasheet_time_on_the_simulated_clock() {
    let dir = tempfile::tempdir().unwrap();
    let band = fresh_band(dir.path());
    let mut d = Desktop::connect(&band, 247);
    // A model update erases the whole 64 KB inactive model slot before it answers: 16 sectors.
    let blob = demo_blob(2);
    let t0 = band.now();
    assert_eq!(d.begin_model(&blob, 2).unwrap(), 0);
    let waited = band.now() - t0;
    assert!(waited >= SECTOR_ERASE * 16, "{waited:?}");
    assert!(
        waited < SECTOR_ERASE * 16 + Duration::from_millis(200),
        "{waited:?}"
    );
    // A firmware is erased sector by sector as its chunks arrive: no request waits for a whole slot.
    let image = esp32_image(40_000, 4);
    let t1 = band.now();
    let begin = d
        .request(support::signed_begin(
            UpdateTarget::Firmware,
            &image,
            support::DEMO_RELEASE,
        ))
        .unwrap();
    assert!(matches!(begin, ResponseBody::UpdateStatus { .. }));
    // (The request itself takes up to two 50 ms steps of the test's clock; the 10 sectors would take 450 ms.)
    let begun = band.now() - t1;
    assert!(
        begun <= Duration::from_millis(100),
        "BeginUpdate erases nothing: {begun:?}"
    );
    let t2 = band.now();
    assert_eq!(d.upload_firmware(&image), ResponseBody::Ok);
    let sectors = image.len().div_ceil(4096) as u32;
    // Every sector of the image, plus the otadata sector at commit.
    assert!(band.now() - t2 >= SECTOR_ERASE * (sectors + 1));
}
