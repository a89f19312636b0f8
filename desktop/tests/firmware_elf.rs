//! Firmware ELFs made into app images by the desktop (`deploy::elf`, espflash's library): the real ESP32-C3
//! firmware's ELF against the image the independent Python tool (`firmware/esp32c3/tools/app_image.py`, byte for
//! byte esptool's `elf2image`) makes of it; the chip an ELF names; and garbled ELFs, which are errors, never a
//! panic. Where the converted images go next (USB, BLE): usb_flash.rs and deploy_ble.rs.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use bandx_core::update::app_image::{Chip, check_app_image};
use bandx_desktop::deploy::elf::{app_image_from_elf, elf_chip};
use bandx_desktop::deploy::payload::check_firmware_image;
use bandx_desktop::deploy::{PayloadError, firmware_file, firmware_version};

/// Header bytes where espflash's image differs from esptool's: `min_rev` (byte 14) and `max_chip_rev_full`
/// (bytes 17-18). espflash copies both from its bundled ESP32-C3 bootloader (v0.3 .. v1.99); esptool writes
/// 0 and 0xFFFF (any revision). `min_chip_rev_full` (bytes 15-16) is 0 in both.
const REVISION_BYTES: [usize; 3] = [14, 17, 18];

/// The image `app_image.py` makes of `elf`, or `None` (said on stderr) when python3 cannot run.
fn python_image(elf: &Path) -> Option<Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("py.bin");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../firmware/esp32c3/tools/app_image.py"
    );
    match Command::new("python3")
        .arg(script)
        .arg(elf)
        .arg("--out")
        .arg(&out)
        .output()
    {
        Ok(run) => {
            assert!(run.status.success(), "app_image.py: {run:?}");
            Some(std::fs::read(&out).unwrap())
        }
        Err(e) => {
            eprintln!("SKIPPED: the cross-check with app_image.py (python3: {e})");
            None
        }
    }
}

#[test]
fn the_real_c3_elf_becomes_the_image_esptool_lays_out_but_for_the_revision_range() {
    let Some(elf) = bandx_testkit::esp32c3_firmware_elf() else {
        return;
    };
    assert_eq!(elf_chip(&elf), Ok(Chip::Esp32C3));
    let image = app_image_from_elf(&elf, None).expect("the real firmware converts");
    assert_eq!(check_firmware_image(&image), Ok(Chip::Esp32C3));
    let info = check_app_image(&image, Chip::Esp32C3).expect("the bootloader's checks pass");
    assert!(info.release.is_some(), "the app description is found");
    assert!(
        firmware_version(&image) > 0,
        "the C3 firmware declares its release"
    );
    assert_eq!(firmware_file(elf.clone()).as_deref(), Ok(&image[..]));

    let Some(reference) = python_image(Path::new(bandx_testkit::ESP32C3_ELF)) else {
        return;
    };
    assert_eq!(
        image.len(),
        reference.len(),
        "the same segments, padding and length"
    );
    assert_eq!(firmware_version(&image), firmware_version(&reference));
    let digest = image.len() - 32;
    let differing: Vec<usize> = (0..digest).filter(|&i| image[i] != reference[i]).collect();
    assert_eq!(
        differing, REVISION_BYTES,
        "only the chip-revision range differs before the digest"
    );
    assert_eq!(image[14], 3, "espflash: min_rev v0.3");
    assert_eq!(
        u16::from_le_bytes([image[17], image[18]]),
        199,
        "espflash: up to v1.99"
    );
    assert_eq!(reference[14], 0);
    assert_eq!(u16::from_le_bytes([reference[17], reference[18]]), 0xFFFF);
    assert_ne!(
        image[digest..],
        reference[digest..],
        "so the SHA-256 differs too"
    );
    // With the range written as esptool writes it, the rest (segments, checksum) is esptool's byte for byte.
    let mut as_esptool = image.clone();
    for i in REVISION_BYTES {
        as_esptool[i] = reference[i];
    }
    assert_eq!(as_esptool[..digest], reference[..digest]);
    check_app_image(&reference, Chip::Esp32C3).expect("and the reference checks too");
}

#[test]
fn an_elf_names_its_chip_and_another_chip_is_refused() {
    let elf = bandx_testkit::esp32_demo_elf("0.3.1", 7);
    assert_eq!(elf_chip(&elf), Ok(Chip::Esp32));
    let image = app_image_from_elf(&elf, None).expect("a well-formed ESP32 ELF converts");
    assert_eq!(check_firmware_image(&image), Ok(Chip::Esp32));
    assert_eq!(firmware_version(&image), 3_001);
    assert_eq!(
        app_image_from_elf(&elf, Some(Chip::Esp32)),
        Ok(image.clone())
    );
    // The same ELF with other contents makes another image: the conversion carries the sections' bytes.
    let other = app_image_from_elf(&bandx_testkit::esp32_demo_elf("0.3.1", 8), None).unwrap();
    assert_eq!(other.len(), image.len());
    assert_ne!(other, image);

    let err = app_image_from_elf(&elf, Some(Chip::Esp32C3)).unwrap_err();
    assert!(
        matches!(&err, PayloadError::WrongChip { image, band } if image.contains("ESP32") && *band == "ESP32-C3"),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("Nothing was sent or written"),
        "{err}"
    );

    let mut x86 = elf.clone();
    x86[18..20].copy_from_slice(&62u16.to_le_bytes()); // EM_X86_64
    let err = app_image_from_elf(&x86, None).unwrap_err();
    assert!(err.to_string().contains("machine 62"), "{err}");

    if let Some(c3) = bandx_testkit::esp32c3_firmware_elf() {
        assert!(matches!(
            app_image_from_elf(&c3, Some(Chip::Esp32)),
            Err(PayloadError::WrongChip { band: "ESP32", .. })
        ));
    }
    // A .bin passes through unchanged, to be checked like any image.
    let bin = bandx_testkit::demo_app_image(Chip::Esp32, 4000, 1);
    assert_eq!(firmware_file(bin.clone()), Ok(bin));
}

/// Panics seen anywhere in this test binary (the hook also keeps the default message).
static PANICS: AtomicUsize = AtomicUsize::new(0);

fn count_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        default(info);
    }));
}

/// Converts a garbled ELF; whatever it gives must be an error or an image the payload check then judges.
fn convert(elf: &[u8]) -> bool {
    match app_image_from_elf(elf, None) {
        Ok(image) => {
            let _ = check_firmware_image(&image);
            true
        }
        Err(e) => {
            assert!(!e.to_string().is_empty());
            false
        }
    }
}

#[test]
fn truncated_or_garbled_elfs_are_errors_never_a_panic() {
    count_panics();
    let demo = bandx_testkit::esp32_demo_elf("0.3.1", 3);
    let real = bandx_testkit::esp32c3_firmware_elf();
    let mut refused = 0;
    let mut tried = 0;
    for elf in std::iter::once(&demo).chain(real.as_ref()) {
        // Every truncation loses the section headers at the end of the file (or the header itself).
        let n = elf.len();
        let cuts = [
            0,
            1,
            4,
            5,
            19,
            20,
            51,
            52,
            100,
            n / 3,
            n / 2,
            n - 41,
            n - 40,
            n - 1,
        ];
        for cut in cuts.into_iter().chain((1..40).map(|k| n * k / 40)) {
            let result = app_image_from_elf(&elf[..cut], None);
            assert!(
                matches!(
                    result,
                    Err(PayloadError::InvalidElf(_) | PayloadError::WrongChip { .. })
                ),
                "cut at {cut}: {result:?}"
            );
        }
        // Bytes changed where they steer the layout: the ELF header, the program headers (load addresses) and
        // the section header table.
        let word = |at: usize| u32::from_le_bytes(elf[at..at + 4].try_into().unwrap()) as usize;
        let (phoff, shoff) = (word(28), word(32));
        let phdrs = 32 * u16::from_le_bytes([elf[44], elf[45]]) as usize;
        let mut x = 0x9E37_79B9u32 ^ n as u32;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        let rounds = if elf.len() > 100_000 { 150 } else { 1500 };
        for round in 0..rounds {
            let mut garbled = elf.clone();
            for _ in 0..1 + round % 4 {
                let at = match next() % 4 {
                    0 => next() as usize % 52,
                    1 if phdrs > 0 => phoff + next() as usize % phdrs,
                    _ => shoff + next() as usize % (n - shoff),
                };
                garbled[at] = match next() % 4 {
                    0 => 0,
                    1 => 0xFF,
                    _ => next() as u8,
                };
            }
            tried += 1;
            if !convert(&garbled) {
                refused += 1;
            }
        }
    }
    assert_eq!(
        PANICS.load(Ordering::SeqCst),
        0,
        "no garbled ELF reached a panic, even one caught"
    );
    assert!(
        refused > tried / 4,
        "{refused} of {tried} garbled ELFs refused"
    );
    eprintln!(
        "{refused} of {tried} garbled ELFs refused, the rest converted to images then checked"
    );
}
