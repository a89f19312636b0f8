//! The app image check against images laid out here byte by byte, every single-byte corruption of them, arbitrary
//! bytes, and arbitrary ways of cutting an image into chunks.
extern crate std;

use super::*;
use proptest::prelude::*;
use std::vec;
use std::vec::Vec;

/// An image written the way esptool / espflash lay it out, from first principles (not with the demo writer):
/// header, `segments` (load address, data), zero padding to 15 mod 16, checksum byte, optional SHA-256.
fn image(chip_id: u16, segments: &[(u32, Vec<u8>)], hash: bool) -> Vec<u8> {
    let mut out = vec![0xE9, segments.len() as u8, 0x02, 0x20];
    out.extend_from_slice(&0x4038_0000u32.to_le_bytes()); // entry
    out.extend_from_slice(&[0xEE, 0, 0, 0]); // WP pin, SPI pin drive
    out.extend_from_slice(&chip_id.to_le_bytes());
    out.extend_from_slice(&[3, 0, 0, 0xFF, 0xFF, 0, 0, 0, 0]); // min rev, min/max full rev, reserved
    out.push(hash as u8);
    assert_eq!(out.len(), 24);
    let mut checksum = 0xEFu8;
    for (addr, data) in segments {
        out.extend_from_slice(&addr.to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(data);
        for &b in data {
            checksum ^= b;
        }
    }
    while out.len() % 16 != 15 {
        out.push(0);
    }
    out.push(checksum);
    if hash {
        let digest = crate::blob::sha256(&out);
        out.extend_from_slice(&digest);
    }
    out
}

fn bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// Three segments (one empty), C3 chip id, SHA-256 appended.
fn c3_image() -> Vec<u8> {
    image(
        5,
        &[
            (0x3C00_0020, bytes(400, 1)),
            (0x3FC8_0000, Vec::new()),
            (0x4200_0020, bytes(1236, 7)),
        ],
        true,
    )
}

#[test]
fn a_well_formed_image_passes_and_says_what_it_is() {
    let img = c3_image();
    assert_eq!(
        check_app_image(&img, Chip::Esp32C3),
        Ok(AppImageInfo {
            chip: Chip::Esp32C3,
            segments: 3,
            entry: 0x4038_0000,
            len: img.len() as u32,
            hash_appended: true,
            release: None,
        })
    );
    let esp32 = image(0, &[(0x3F40_0020, bytes(64, 3))], false);
    assert!(check_app_image(&esp32, Chip::Esp32).is_ok());
}

#[test]
fn every_single_flipped_byte_of_a_hashed_image_is_refused() {
    let img = c3_image();
    for i in 0..img.len() {
        for flip in [0x01u8, 0x80, 0xFF] {
            let mut bad = img.clone();
            bad[i] ^= flip;
            assert!(
                check_app_image(&bad, Chip::Esp32C3).is_err(),
                "byte {i} ^ {flip:#x} went unnoticed"
            );
        }
    }
}

#[test]
fn without_a_digest_the_checksum_catches_flipped_segment_bytes() {
    let segments = [(0x3C00_0020, bytes(40, 1)), (0x4200_0020, bytes(84, 2))];
    let img = image(5, &segments, false);
    assert!(check_app_image(&img, Chip::Esp32C3).is_ok());
    let data_at = [24 + 8..24 + 8 + 40, 24 + 8 + 40 + 8..24 + 8 + 40 + 8 + 84];
    for i in data_at.into_iter().flatten() {
        let mut bad = img.clone();
        bad[i] ^= 0x04;
        assert!(matches!(
            check_app_image(&bad, Chip::Esp32C3),
            Err(AppImageError::ChecksumMismatch { .. })
        ));
    }
}

#[test]
fn each_defect_gets_its_own_error() {
    let good = c3_image();
    let check = |img: &[u8]| check_app_image(img, Chip::Esp32C3);

    assert_eq!(
        check_app_image(&good, Chip::Esp32),
        Err(AppImageError::WrongChip {
            expected: Chip::Esp32,
            found: 5
        })
    );
    let mut bad = good.clone();
    bad[0] = 0xE8;
    assert_eq!(check(&bad), Err(AppImageError::BadMagic { found: 0xE8 }));
    for count in [0u8, 17] {
        bad = good.clone();
        bad[1] = count;
        assert_eq!(check(&bad), Err(AppImageError::BadSegmentCount { count }));
    }
    // Segment 0's length (bytes 28..32): unaligned, then past the end.
    bad = good.clone();
    bad[28..32].copy_from_slice(&402u32.to_le_bytes());
    assert_eq!(
        check(&bad),
        Err(AppImageError::BadSegmentLength { index: 0, len: 402 })
    );
    bad[28..32].copy_from_slice(&0x0010_0000u32.to_le_bytes());
    assert_eq!(
        check(&bad),
        Err(AppImageError::BadSegmentLength {
            index: 0,
            len: 0x0010_0000
        })
    );
    let checksum_at = good.len() - 33;
    bad = good.clone();
    bad[checksum_at] ^= 1;
    assert_eq!(
        check(&bad),
        Err(AppImageError::ChecksumMismatch {
            stored: good[checksum_at] ^ 1,
            computed: good[checksum_at]
        })
    );
    bad = good.clone();
    bad[checksum_at + 5] ^= 1;
    assert_eq!(check(&bad), Err(AppImageError::DigestMismatch));
    assert_eq!(
        check(&good[..good.len() - 1]),
        Err(AppImageError::Truncated {
            len: good.len() as u32 - 1
        })
    );
    assert_eq!(check(&[]), Err(AppImageError::Truncated { len: 0 }));
    bad = good.clone();
    bad.push(0);
    assert_eq!(
        check(&bad),
        Err(AppImageError::TrailingBytes {
            image_len: good.len() as u32,
            total_len: good.len() as u32 + 1
        })
    );
}

#[test]
fn the_demo_writer_makes_images_this_check_accepts() {
    let mut out = vec![0u8; 4096];
    for chip in [Chip::Esp32, Chip::Esp32C3] {
        let len = crate::demo::write_demo_app_image(&mut out, chip, 3001, 9).unwrap();
        let info = check_app_image(&out[..len], chip).unwrap();
        assert_eq!((info.segments, info.hash_appended), (2, true));
    }
    assert_eq!(
        crate::demo::write_demo_app_image(&mut out[..100], Chip::Esp32, 3001, 9),
        None
    );
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600), chip_c3 in any::<bool>()) {
        let chip = if chip_c3 { Chip::Esp32C3 } else { Chip::Esp32 };
        let _ = check_app_image(&data, chip);
    }

    #[test]
    fn corrupted_images_never_panic_and_are_refused(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
        cut in any::<usize>(),
    ) {
        let good = c3_image();
        let mut img = good.clone();
        for (at, value) in edits {
            let i = at % img.len();
            img[i] = value;
        }
        img.truncate(cut % (img.len() + 1));
        let result = check_app_image(&img, Chip::Esp32C3);
        prop_assert!(result.is_err() || img == good);
    }

    #[test]
    fn any_chunking_gives_the_one_shot_answer(
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
        corrupt in proptest::option::of((any::<usize>(), 1..=255u8)),
    ) {
        let mut img = c3_image();
        if let Some((at, flip)) = corrupt {
            let i = at % img.len();
            img[i] ^= flip;
        }
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (img.len() + 1)).collect();
        cuts.push(0);
        cuts.push(img.len());
        cuts.sort_unstable();
        let mut checker = AppImageChecker::new(Chip::Esp32C3, img.len() as u32);
        for pair in cuts.windows(2) {
            let _ = checker.push(&img[pair[0]..pair[1]]);
        }
        prop_assert_eq!(checker.finish(), check_app_image(&img, Chip::Esp32C3));
    }
}

#[test]
fn images_written_by_another_tool_pass() {
    // The fuzz seeds, written by a few lines of Python following esptool's layout.
    let c3 = include_bytes!("../../../fuzz/corpus/app_image_check/c3-two-segments");
    let esp32 = include_bytes!("../../../fuzz/corpus/app_image_check/esp32-no-digest");
    assert_eq!(
        check_app_image(c3, Chip::Esp32C3).map(|i| i.segments),
        Ok(2)
    );
    assert_eq!(
        check_app_image(esp32, Chip::Esp32).map(|i| i.hash_appended),
        Ok(false)
    );
}

#[test]
fn the_release_comes_from_the_app_description_fed_in_any_pieces() {
    let mut buf = [0u8; 4096];
    let n = crate::demo::write_demo_app_image_release(&mut buf, Chip::Esp32C3, 1000, 3, "1.4.2")
        .unwrap();
    let img = &buf[..n];
    assert_eq!(
        check_app_image(img, Chip::Esp32C3).unwrap().release,
        Some(1_004_002)
    );
    for piece in [1, 7, 33, 250] {
        let mut checker = AppImageChecker::new(Chip::Esp32C3, n as u32);
        for chunk in img.chunks(piece) {
            checker.push(chunk).unwrap();
        }
        assert_eq!(
            checker.finish().unwrap().release,
            Some(1_004_002),
            "pieces of {piece}"
        );
    }
}
