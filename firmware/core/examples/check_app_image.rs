//! Checks an ESP-IDF app image file the way the band does before a firmware update becomes bootable
//! (`bandx_core::update::check_app_image`), and that a copy with one byte flipped in its header, in the middle of
//! its segments and in its appended SHA-256 is refused. `make firmware-c3` runs it on the ESP32-C3 image:
//! `cargo run -p bandx-core --example check_app_image -- IMAGE esp32c3`. Exit code 1 on any surprise.

use bandx_core::update::{Chip, check_app_image};
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(path), chip) = (args.next(), args.next()) else {
        eprintln!("usage: check_app_image IMAGE [esp32|esp32c3]");
        return ExitCode::from(2);
    };
    let chip = match chip.as_deref() {
        Some("esp32") => Chip::Esp32,
        None | Some("esp32c3") => Chip::Esp32C3,
        Some(other) => {
            eprintln!("unknown chip {other}");
            return ExitCode::from(2);
        }
    };
    let image = match std::fs::read(&path) {
        Ok(image) => image,
        Err(e) => {
            eprintln!("{path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    match check_app_image(&image, chip) {
        Ok(info) => println!(
            "{path}: a bootable {} app image: {} segments, entry {:#x}, {} bytes, SHA-256 appended: {}",
            info.chip.name(),
            info.segments,
            info.entry,
            info.len,
            info.hash_appended
        ),
        Err(e) => {
            eprintln!("{path}: refused: {e}");
            return ExitCode::FAILURE;
        }
    }
    for at in [1, image.len() / 2, image.len() - 1] {
        let mut damaged = image.clone();
        damaged[at] ^= 0x01;
        match check_app_image(&damaged, chip) {
            Ok(_) => {
                eprintln!("{path}: a copy with byte {at} flipped was accepted");
                return ExitCode::FAILURE;
            }
            Err(e) => println!("  byte {at} flipped: refused ({e})"),
        }
    }
    ExitCode::SUCCESS
}
