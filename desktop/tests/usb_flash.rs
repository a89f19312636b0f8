//! The USB flasher's real espflash code path against an emulated ESP32 ROM loader on a pty.

mod support;
use support::rom_loader;

use std::sync::atomic::Ordering;

use bandx_board::otadata;
use bandx_board::partitions::{AppSlot, FlashLayout, Partition};
use bandx_core::update::Slot;
use bandx_desktop::deploy::usb::{self, FlashOptions, Payload, SerialLine, UsbError};
use bandx_desktop::deploy::{DeployProgress, PayloadError, Stage, firmware_file};
use espflash::connection::{ResetAfterOperation, ResetBeforeOperation};
use rom_loader::{Fault, LoaderConfig, RomLoader, Transcript};
use serialport::TTYPort;

const FLASH_BEGIN: u8 = 0x02;
const FLASH_DATA: u8 = 0x03;
const MEM_BEGIN: u8 = 0x05;
const SPI_FLASH_MD5: u8 = 0x13;

/// A well-formed ESP32 app image of about `len` bytes (bandx-core's demo image: pseudo-random segments,
/// checksum, appended SHA-256), as the bootloader and the deploy service accept.
fn app_image(len: usize, seed: u64) -> Vec<u8> {
    let mut buf = vec![0u8; len + 256];
    let n = bandx_core::demo::write_demo_app_image(
        &mut buf,
        bandx_core::update::app_image::Chip::Esp32,
        len - 128,
        seed as u32,
    )
    .expect("room for the image");
    buf.truncate(n);
    buf
}

/// Deterministic bytes that are not all alike (xorshift).
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A real model blob in bandx-core's format (the demo model: 7 classes, random weights).
fn model_blob(seed: u32) -> Vec<u8> {
    bandx_testkit::demo_blob(7, 2, seed)
}

fn model(first: Slot, blob: &[u8]) -> Payload<'_> {
    Payload::Model { first, blob }
}

/// A band whose flash holds older contents everywhere, on the far end of a pty.
fn band(config: impl FnOnce(Vec<u8>) -> LoaderConfig) -> (RomLoader, SerialLine, Vec<u8>) {
    let config = config(noise(rom_loader::FLASH_SIZE, 7));
    let before = config.flash.clone();
    let (device_end, host_end) = TTYPort::pair().expect("a pseudo-terminal pair");
    let loader = RomLoader::spawn(device_end, config);
    (loader, SerialLine::from_port(host_end, "pty"), before)
}

/// The emulator is already in download mode and a pty has no DTR/RTS lines.
fn options() -> FlashOptions {
    FlashOptions {
        before: ResetBeforeOperation::NoReset,
        after: ResetAfterOperation::NoReset,
        baud: Some(921_600),
        ..FlashOptions::default()
    }
}

/// Asserts that nothing outside `written` changed.
fn assert_only_changed(before: &[u8], after: &[u8], written: &[&Partition]) {
    let mut start = 0;
    let mut regions: Vec<_> = written.iter().map(|p| p.range()).collect();
    regions.sort_by_key(|r| r.start);
    for r in regions
        .iter()
        .chain(std::iter::once(&(after.len()..after.len())))
    {
        assert!(
            before[start..r.start] == after[start..r.start],
            "flash changed outside the written partitions, between {start:#x} and {:#x}",
            r.start
        );
        start = r.end;
    }
}

fn flash_with(
    line: SerialLine,
    payload: Payload<'_>,
    options: &FlashOptions,
) -> (Result<usb::FlashReport, UsbError>, Vec<DeployProgress>) {
    let mut events = Vec::new();
    let result = usb::flash(
        line,
        &FlashLayout::band(),
        payload,
        options,
        &mut |p: &DeployProgress| events.push(p.clone()),
    );
    (result, events)
}

#[test]
fn a_model_blob_lands_in_model_a_then_model_b_byte_exact() {
    let layout = FlashLayout::band();
    let (a, b) = (
        layout.model_slot(Slot::A).clone(),
        layout.model_slot(Slot::B).clone(),
    );
    let (loader, line, before) = band(LoaderConfig::esp32);
    let blob = model_blob(1);
    assert_ne!(
        blob.len() % 1024,
        0,
        "a partial last block is part of the test"
    );

    let (result, _) = flash_with(line, model(Slot::A, &blob), &options());
    let report = result.expect("a clean write");
    let after = loader.flash();
    let transcript: Transcript = loader.finish();

    for slot in [&a, &b] {
        let start = slot.offset as usize;
        assert_eq!(
            &after[start..start + blob.len()],
            &blob[..],
            "{}",
            slot.name
        );
        // The ROM erased whole sectors: the rest of the last one is blank, the slot beyond untouched.
        let erased_end = start + blob.len().div_ceil(0x1000) * 0x1000;
        assert!(
            after[start + blob.len()..erased_end]
                .iter()
                .all(|&x| x == 0xff)
        );
        assert_eq!(
            after[erased_end..slot.end() as usize],
            before[erased_end..slot.end() as usize]
        );
    }
    assert_only_changed(&before, &after, &[&a, &b]);

    assert_eq!(report.partitions, ["model_a", "model_b"]);
    eprintln!(
        "model: {} bytes x 2 slots in {:.3} s, {:.0} KB/s writing against the emulated ROM loader",
        report.bytes,
        report.elapsed.as_secs_f64(),
        report.bytes_per_sec / 1024.0
    );
    // model_a is erased, written and checked before model_b is touched.
    assert_eq!(
        transcript.erased,
        [
            (a.offset, 0x1000 * blob.len().div_ceil(0x1000) as u32),
            (b.offset, 0x1000 * blob.len().div_ceil(0x1000) as u32)
        ]
    );
    assert_eq!(transcript.count(FLASH_DATA), 2 * blob.len().div_ceil(1024));
    assert_eq!(transcript.count(SPI_FLASH_MD5), 2);
    assert_eq!(transcript.count(MEM_BEGIN), 0, "no stub loader is uploaded");
    assert_eq!(transcript.baud_changes, [921_600]);
}

#[test]
fn a_blob_the_band_would_reject_is_never_written() {
    let (loader, line, before) = band(LoaderConfig::esp32);
    let mut blob = model_blob(2);
    let last = blob.len() - 1;
    blob[last] ^= 0x55; // breaks the blob's digest

    let (result, events) = flash_with(line, model(Slot::B, &blob), &options());
    let after = loader.flash();
    let transcript = loader.finish();

    assert!(
        matches!(
            result,
            Err(UsbError::Payload(PayloadError::InvalidModel(_)))
        ),
        "{result:?}"
    );
    assert!(events.is_empty(), "refused before connecting");
    assert!(transcript.commands.is_empty());
    assert!(after == before);
}

#[test]
fn a_firmware_image_lands_in_ota_0_and_is_selected_for_boot() {
    let layout = FlashLayout::band();
    let ota_0 = layout.app_slot(AppSlot::Ota0).clone();
    let (loader, line, before) = band(|flash| {
        let mut flash = flash;
        // The band currently boots ota_1.
        let range = layout.otadata().range();
        flash[range].copy_from_slice(&otadata::select(AppSlot::Ota1));
        LoaderConfig::esp32(flash)
    });
    // Most of a 1.875 MB slot, like a real firmware.
    let image = app_image(1_500_000, 3);

    let (result, _) = flash_with(
        line,
        Payload::Firmware {
            slot: AppSlot::Ota0,
            image: &image,
        },
        &options(),
    );
    let report = result.expect("a clean write");
    let after = loader.flash();
    drop(loader);

    let start = ota_0.offset as usize;
    assert_eq!(&after[start..start + image.len()], &image[..]);
    assert!(report.boot_slot_selected);
    assert_eq!(
        otadata::selected(&after[layout.otadata().range()]),
        Some(AppSlot::Ota0)
    );
    assert_only_changed(&before, &after, &[&ota_0, layout.otadata()]);
    eprintln!(
        "firmware: {} bytes in {:.2} s, {:.0} KB/s writing against the emulated ROM loader",
        report.bytes,
        report.elapsed.as_secs_f64(),
        report.bytes_per_sec / 1024.0
    );
}

/// A firmware ELF (an ESP32 one: the USB path talks to an ESP32's ROM loader) is made into its app image by the
/// desktop's conversion, then written to ota_0 like any image, read back as the bootloader would check it.
#[test]
fn an_esp32_elf_is_written_as_the_app_image_made_of_it() {
    let layout = FlashLayout::band();
    let ota_0 = layout.app_slot(AppSlot::Ota0).clone();
    let (loader, line, before) = band(|flash| {
        let mut flash = flash;
        let range = layout.otadata().range();
        flash[range].copy_from_slice(&otadata::select(AppSlot::Ota1));
        LoaderConfig::esp32(flash)
    });
    let elf = bandx_testkit::esp32_demo_elf("0.4.0", 11);
    let image = firmware_file(elf.clone()).expect("an ESP32 ELF converts");
    assert_ne!(image, elf);

    let (result, _) = flash_with(
        line,
        Payload::Firmware {
            slot: AppSlot::Ota0,
            image: &image,
        },
        &options(),
    );
    let report = result.expect("a clean write");
    let after = loader.flash();
    drop(loader);

    let start = ota_0.offset as usize;
    let written = &after[start..start + image.len()];
    assert!(
        written == &image[..],
        "ota_0 holds the converted image byte for byte"
    );
    let info = bandx_core::update::app_image::check_app_image(
        written,
        bandx_core::update::app_image::Chip::Esp32,
    )
    .expect("what ota_0 holds passes the bootloader's checks");
    assert_eq!(info.release, Some(4_000));
    assert!(report.boot_slot_selected);
    assert_eq!(
        otadata::selected(&after[layout.otadata().range()]),
        Some(AppSlot::Ota0)
    );
    assert_only_changed(&before, &after, &[&ota_0, layout.otadata()]);
}

#[test]
fn progress_is_monotonic_and_reaches_100_percent() {
    let (_loader, line, _) = band(LoaderConfig::esp32);
    let blob = model_blob(3);
    let (result, events) = flash_with(line, model(Slot::B, &blob), &options());
    result.expect("a clean write");

    let total = 2 * blob.len() as u64;
    assert_eq!(events.first().map(|e| e.stage), Some(Stage::Connecting));
    assert_eq!(events.last().map(|e| e.stage), Some(Stage::Done));
    for pair in events.windows(2) {
        assert!(pair[1].bytes_sent >= pair[0].bytes_sent, "{pair:?}");
    }
    let writes: Vec<_> = events
        .iter()
        .filter(|e| e.stage == Stage::Sending)
        .collect();
    assert_eq!(
        writes.len(),
        2 * blob.len().div_ceil(1024),
        "one event per block"
    );
    assert!(
        writes
            .iter()
            .all(|e| e.bytes_total == total && e.bytes_per_sec > 0.0)
    );
    let last = writes.last().unwrap();
    assert_eq!((last.bytes_sent, last.fraction()), (total, 1.0));
    assert_eq!(last.eta_secs, Some(0.0));
    let order: Vec<(&str, Stage)> = events
        .iter()
        .map(|e| (e.partition.as_deref().unwrap_or("-"), e.stage))
        .filter(|(_, stage)| *stage != Stage::Sending)
        .collect();
    assert_eq!(
        order,
        [
            ("model_b", Stage::Connecting),
            ("model_b", Stage::Verifying),
            ("model_a", Stage::Verifying),
            ("model_a", Stage::Done)
        ]
    );
}

#[test]
fn unplugging_mid_flash_reports_it_and_leaves_the_other_slot_alone() {
    let layout = FlashLayout::band();
    let (loader, line, before) =
        band(|flash| LoaderConfig::esp32(flash).with_fault(Fault::UnplugAfter(2 * 1024)));
    let blob = model_blob(4);

    let (result, events) = flash_with(line, model(Slot::B, &blob), &options());
    let err = result.unwrap_err();
    let after = loader.flash();
    let transcript = loader.finish();

    assert!(transcript.unplugged);
    match &err {
        UsbError::Unplugged {
            partition,
            written,
            total,
            ..
        } => {
            assert_eq!(partition, "model_b");
            assert_eq!(*total, blob.len() as u64);
            // The block that crossed 2 KB was never acknowledged.
            assert_eq!(*written, 1024);
        }
        other => panic!("expected Unplugged, got {other:?}"),
    }
    let message = err.to_string();
    assert!(message.contains("model_a was not touched"), "{message}");
    assert!(!events.iter().any(|e| e.stage == Stage::Done));
    let a = layout.model_slot(Slot::A).range();
    assert_eq!(after[a.clone()], before[a]);
    assert_only_changed(&before, &after, &[layout.model_slot(Slot::B)]);
}

#[test]
fn unplugging_while_writing_the_second_slot_leaves_the_new_model_in_the_first() {
    let layout = FlashLayout::band();
    let blob = model_blob(5);
    let first_blocks = blob.len().div_ceil(1024) * 1024;
    let (loader, line, _) = band(|flash| {
        LoaderConfig::esp32(flash).with_fault(Fault::UnplugAfter(first_blocks + 1024))
    });

    let (result, _) = flash_with(line, model(Slot::B, &blob), &options());
    let err = result.unwrap_err();
    let after = loader.flash();
    drop(loader);

    assert!(
        matches!(&err, UsbError::Unplugged { partition, .. } if partition == "model_a"),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("already complete and verified in model_b"),
        "{err}"
    );
    let b = layout.model_slot(Slot::B).offset as usize;
    assert_eq!(&after[b..b + blob.len()], &blob[..]);
}

#[test]
fn a_corrupted_write_fails_verification_and_the_slot_is_erased() {
    let layout = FlashLayout::band();
    let slot = layout.model_slot(Slot::A).clone();
    let (loader, line, before) = band(|flash| {
        LoaderConfig::esp32(flash).with_fault(Fault::CorruptByte(slot.offset + 1_500))
    });
    let blob = model_blob(6);

    let (result, _) = flash_with(line, model(Slot::A, &blob), &options());
    let err = result.unwrap_err();
    let after = loader.flash();
    drop(loader);

    assert!(
        matches!(&err, UsbError::VerifyFailed { partition, .. } if partition == "model_a"),
        "{err:?}"
    );
    assert!(err.to_string().contains("model_b was not touched"), "{err}");
    let start = slot.offset as usize;
    assert!(
        after[start..start + 0x1000].iter().all(|&b| b == 0xff),
        "the slot's first sector is blank"
    );
    assert_only_changed(&before, &after, &[&slot]);
}

#[test]
fn a_board_that_is_not_an_esp32_is_refused_before_writing() {
    let (loader, line, before) = band(|flash| LoaderConfig {
        magic: rom_loader::ESP32C3_MAGIC,
        ..LoaderConfig::esp32(flash)
    });
    let (result, _) = flash_with(line, model(Slot::A, &model_blob(7)), &options());
    let err = result.unwrap_err();
    let after = loader.flash();
    let transcript = loader.finish();

    assert!(
        matches!(&err, UsbError::NotAnEsp32 { detected, .. } if detected.to_lowercase().contains("esp32-c3")),
        "{err:?}"
    );
    assert!(err.to_string().contains("Nothing was written"));
    assert_eq!(transcript.count(FLASH_BEGIN), 0);
    assert!(after == before);
}

/// The USB flasher talks to an ESP32's ROM loader only: an ESP32-C3 image (bandx-core's demo one, the real C3
/// firmware's .bin when `make firmware-c3` built it, and the image the desktop makes of its ELF) is refused
/// before the port is even opened.
#[test]
fn an_esp32c3_firmware_image_is_refused_before_anything_is_written() {
    let demo = bandx_testkit::demo_app_image(bandx_core::update::Chip::Esp32C3, 20_000, 5);
    let from_elf = bandx_testkit::esp32c3_firmware_elf()
        .map(|elf| firmware_file(elf).expect("the real C3 ELF converts"));
    let images = std::iter::once(demo)
        .chain(bandx_testkit::esp32c3_firmware_image())
        .chain(from_elf);
    for (i, image) in images.enumerate() {
        let (loader, line, before) = band(LoaderConfig::esp32);
        let (result, events) = flash_with(
            line,
            Payload::Firmware {
                slot: AppSlot::Ota0,
                image: &image,
            },
            &options(),
        );
        let after = loader.flash();
        let transcript = loader.finish();
        let err = result.expect_err("an ESP32-C3 image on an ESP32");
        assert!(
            matches!(&err, UsbError::Payload(PayloadError::WrongChip { image, band })
                if image.contains("ESP32-C3") && band.contains("ESP32")),
            "image {i}: {err:?}"
        );
        let message = err.to_string();
        assert!(message.contains("Nothing was sent or written"), "{message}");
        assert_eq!(transcript.count(FLASH_BEGIN), 0, "image {i}");
        assert!(after == before, "image {i}: the flash is untouched");
        assert!(events.iter().all(|e| e.bytes_sent == 0), "image {i}");
    }
}

#[test]
fn an_unknown_chip_is_refused_too() {
    let (_loader, line, _) = band(|flash| LoaderConfig {
        magic: 0xdead_beef,
        ..LoaderConfig::esp32(flash)
    });
    let (result, _) = flash_with(line, model(Slot::A, &model_blob(8)), &options());
    assert!(
        matches!(result, Err(UsbError::NotAnEsp32 { .. })),
        "{result:?}"
    );
}

#[test]
fn cancelling_stops_between_blocks_and_keeps_the_other_slot() {
    let layout = FlashLayout::band();
    let (loader, line, before) = band(LoaderConfig::esp32);
    let blob = model_blob(9);
    let options = options();
    let cancel = options.cancel.clone();

    let mut events = Vec::new();
    let result = usb::flash(
        line,
        &layout,
        model(Slot::A, &blob),
        &options,
        &mut |p: &DeployProgress| {
            if p.bytes_sent >= 2 * 1024 {
                cancel.store(true, Ordering::SeqCst);
            }
            events.push(p.clone());
        },
    );
    let after = loader.flash();
    let transcript = loader.finish();

    match result {
        Err(UsbError::Cancelled { written, .. }) => assert_eq!(written, 2 * 1024),
        other => panic!("expected Cancelled, got {other:?}"),
    }
    assert_eq!(
        transcript.count(FLASH_DATA),
        2,
        "no block is sent after the flag is set"
    );
    assert_only_changed(&before, &after, &[layout.model_slot(Slot::A)]);
}

#[test]
fn a_band_that_stops_answering_times_out() {
    // Takes about 10 s: espflash's shortest FLASH_DATA timeout.
    let layout = FlashLayout::band();
    let (loader, line, before) =
        band(|flash| LoaderConfig::esp32(flash).with_fault(Fault::SilentAfter(2 * 1024)));
    let blob = model_blob(10);
    let (result, _) = flash_with(line, model(Slot::B, &blob), &options());
    let after = loader.flash();
    drop(loader);
    match &result {
        Err(UsbError::Timeout { written, .. }) => assert_eq!(*written, 1024),
        other => panic!("expected Timeout, got {other:?}"),
    }
    let a = layout.model_slot(Slot::A).range();
    assert_eq!(after[a.clone()], before[a]);
}

/// A band that boots `ota_0` today.
fn booting_ota_0(flash: Vec<u8>) -> Vec<u8> {
    let mut flash = flash;
    let range = FlashLayout::band().otadata().range();
    flash[range].copy_from_slice(&otadata::select(AppSlot::Ota0));
    flash
}

#[test]
fn unplugging_during_a_firmware_write_keeps_the_boot_selection() {
    let layout = FlashLayout::band();
    let (loader, line, before) = band(|flash| {
        LoaderConfig::esp32(booting_ota_0(flash)).with_fault(Fault::UnplugAfter(64 * 1024))
    });
    let image = app_image(200_000, 19);

    let (result, _) = flash_with(
        line,
        Payload::Firmware {
            slot: AppSlot::Ota1,
            image: &image,
        },
        &options(),
    );
    let err = result.unwrap_err();
    let after = loader.flash();
    drop(loader);

    assert!(matches!(err, UsbError::Unplugged { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("ota_0 and the boot selection were not touched"),
        "{err}"
    );
    assert_eq!(
        otadata::selected(&after[layout.otadata().range()]),
        Some(AppSlot::Ota0)
    );
    assert_only_changed(&before, &after, &[layout.app_slot(AppSlot::Ota1)]);
}

#[test]
fn a_firmware_that_fails_verification_is_not_selected_for_boot() {
    let layout = FlashLayout::band();
    let ota_1 = layout.app_slot(AppSlot::Ota1).clone();
    let (loader, line, before) = band(|flash| {
        LoaderConfig::esp32(booting_ota_0(flash))
            .with_fault(Fault::CorruptByte(ota_1.offset + 70_000))
    });
    let image = app_image(100_000, 23);

    let (result, _) = flash_with(
        line,
        Payload::Firmware {
            slot: AppSlot::Ota1,
            image: &image,
        },
        &options(),
    );
    let after = loader.flash();
    drop(loader);

    assert!(
        matches!(&result, Err(UsbError::VerifyFailed { partition, .. }) if partition == "ota_1"),
        "{result:?}"
    );
    assert_eq!(
        otadata::selected(&after[layout.otadata().range()]),
        Some(AppSlot::Ota0)
    );
    assert_only_changed(&before, &after, &[&ota_1]);
}

#[test]
fn without_sync_or_detection_the_flash_is_still_attached_and_written() {
    // NoResetNoSync: for a band behind a pass-through that is already talking to the ROM.
    let layout = FlashLayout::band();
    let slot = layout.model_slot(Slot::B).clone();
    let (loader, line, before) = band(LoaderConfig::esp32);
    let blob = model_blob(11);
    let options = FlashOptions {
        before: ResetBeforeOperation::NoResetNoSync,
        baud: None,
        ..options()
    };

    let (result, _) = flash_with(line, model(Slot::B, &blob), &options);
    result.expect("a clean write");
    let after = loader.flash();
    let transcript = loader.finish();

    assert_eq!(transcript.count(0x08), 0, "no SYNC was sent");
    assert!(transcript.count(0x0D) >= 1, "SPI_ATTACH before writing");
    let start = slot.offset as usize;
    assert_eq!(&after[start..start + blob.len()], &blob[..]);
    assert_only_changed(&before, &after, &[&slot, layout.model_slot(Slot::A)]);
}

#[test]
fn unplugging_while_switching_the_boot_slot_says_what_state_the_band_is_in() {
    let layout = FlashLayout::band();
    let ota_1 = layout.app_slot(AppSlot::Ota1).clone();
    let image = app_image(100_000, 31);
    // The loader counts padded 1 KB blocks: the image, then 2 of otadata's 8 blocks.
    let image_blocks = image.len().div_ceil(1024) * 1024;
    let (loader, line, _) = band(|flash| {
        LoaderConfig::esp32(booting_ota_0(flash))
            .with_fault(Fault::UnplugAfter(image_blocks + 2 * 1024))
    });

    let (result, events) = flash_with(
        line,
        Payload::Firmware {
            slot: AppSlot::Ota1,
            image: &image,
        },
        &options(),
    );
    let after = loader.flash();
    drop(loader);

    let err = result.unwrap_err();
    assert!(matches!(err, UsbError::Unplugged { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("ota_1 holds the complete, verified new firmware"),
        "{message}"
    );
    assert!(!message.contains("were not touched"), "{message}");
    assert!(events.iter().any(|e| e.stage == Stage::Committing));
    let start = ota_1.offset as usize;
    assert_eq!(&after[start..start + image.len()], &image[..]);
}

/// The owner record's two sectors inside a flash image, for the test's checks.
struct KeysRegion<'a>(&'a mut [u8]);

impl bandx_core::owner::OwnerFlash for KeysRegion<'_> {
    fn read(
        &mut self,
        offset: u32,
        buf: &mut [u8],
    ) -> Result<(), bandx_core::update::StorageError> {
        let at = offset as usize;
        buf.copy_from_slice(&self.0[at..at + buf.len()]);
        Ok(())
    }
    fn program(
        &mut self,
        offset: u32,
        data: &[u8],
    ) -> Result<(), bandx_core::update::StorageError> {
        let at = offset as usize;
        for (cell, d) in self.0[at..at + data.len()].iter_mut().zip(data) {
            *cell &= d;
        }
        Ok(())
    }
    fn erase_sector(&mut self, offset: u32) -> Result<(), bandx_core::update::StorageError> {
        let at = offset as usize;
        self.0[at..at + 4096].fill(0xFF);
        Ok(())
    }
}

#[test]
fn forget_owner_erases_the_keys_partition_and_nothing_else() {
    use bandx_core::owner::{OwnerKey, OwnerRecord};
    let layout = FlashLayout::band();
    let keys = layout
        .get("keys")
        .expect("the band has a keys partition")
        .clone();
    let owner = OwnerKey::from_bytes(
        &ed25519_dalek::SigningKey::from_bytes(&[3; 32])
            .verifying_key()
            .to_bytes(),
    )
    .unwrap();
    let (loader, line, before) = band(|flash| {
        let mut flash = flash;
        // The band has an owner: a real owner record at the start of `keys`.
        let region = &mut flash[keys.range()];
        region.fill(0xFF);
        let mut record = OwnerRecord::load(&mut KeysRegion(region)).unwrap();
        record.set(&mut KeysRegion(region), &owner).unwrap();
        LoaderConfig::esp32(flash)
    });
    let mut was = before.clone();
    assert_eq!(
        OwnerRecord::load(&mut KeysRegion(&mut was[keys.range()]))
            .unwrap()
            .owner(),
        Some(owner)
    );

    let report =
        usb::forget_owner(line, &layout, &options()).expect("the keys partition is erased");
    let mut after = loader.flash();
    drop(loader);
    assert_eq!(
        (report.partition.as_str(), report.offset),
        ("keys", keys.offset)
    );
    assert!(after[keys.range()].iter().all(|&b| b == 0xFF));
    assert_eq!(
        OwnerRecord::load(&mut KeysRegion(&mut after[keys.range()]))
            .unwrap()
            .owner(),
        None,
        "the band reads no owner after a restart"
    );
    assert_only_changed(&before, &after, &[&keys]);
}
