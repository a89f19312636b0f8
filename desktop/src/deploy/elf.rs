//! Firmware files that are ELF executables (what `cargo build` leaves, magic `0x7F 'E' 'L' 'F'`) made into the
//! ESP-IDF app image the band's bootloader boots, with espflash's library (`IdfBootloaderFormat`: the code
//! `espflash save-image` runs; `make firmware-c3` makes the C3 firmware's `.bin` with this module too).
//!
//! The chip is the one the ELF is built for (RISC-V: ESP32-C3; Xtensa: ESP32), or the one given, which must
//! agree. The image carries the band's flash settings ([`band_flash`]: DIO, 4 MB, 40 MHz). The result is only an
//! image: [`super::payload::check`] then checks it like any `.bin` before anything is sent.
//!
//! Never panics on a malformed ELF: the ELF is parsed by the `object` crate inside espflash, a few shapes that
//! espflash itself would trip on (overlapping sections, an app description outside flash) are refused first by
//! [`precheck`], and espflash's conversion runs under `catch_unwind` as a last guard, so any other trip is an
//! error too.

use std::panic::{AssertUnwindSafe, catch_unwind};

use bandx_core::update::app_image::Chip;
use espflash::flasher::{FlashData, FlashFrequency, FlashMode, FlashSettings, FlashSize};
use espflash::image_format::idf::IdfBootloaderFormat;
use espflash::target::{Chip as EspflashChip, XtalFrequency};

use super::payload::PayloadError;

/// The first bytes of every ELF file.
pub const ELF_MAGIC: [u8; 4] = *b"\x7fELF";

/// `e_machine` of a RISC-V ELF (the ESP32-C3).
const EM_RISCV: u16 = 243;
/// `e_machine` of an Xtensa ELF (the ESP32).
const EM_XTENSA: u16 = 94;

/// The band's SPI flash, as the image header declares it (`firmware/esp32/sdkconfig.defaults`: 4 MB; DIO at
/// 40 MHz, what both firmwares' bootloaders are built for).
pub fn band_flash() -> FlashSettings {
    FlashSettings::new(
        Some(FlashMode::Dio),
        Some(FlashSize::_4Mb),
        Some(FlashFrequency::_40Mhz),
    )
}

/// Whether a file is an ELF executable (else it is taken as an app image).
pub fn is_elf(file: &[u8]) -> bool {
    file.starts_with(&ELF_MAGIC)
}

/// The chip an ELF is built for, from its header (32-bit little-endian; RISC-V or Xtensa).
pub fn elf_chip(elf: &[u8]) -> Result<Chip, PayloadError> {
    let invalid = |why: String| Err(PayloadError::InvalidElf(why));
    if !is_elf(elf) {
        return invalid("it does not start with the ELF magic bytes".into());
    }
    let Some(header) = elf.get(..20) else {
        return invalid(format!(
            "it is {} bytes, shorter than an ELF header",
            elf.len()
        ));
    };
    if header[4] != 1 || header[5] != 1 {
        return invalid("it is not a 32-bit little-endian ELF, as ESP32 firmwares are".into());
    }
    match u16::from_le_bytes([header[18], header[19]]) {
        EM_RISCV => Ok(Chip::Esp32C3),
        EM_XTENSA => Ok(Chip::Esp32),
        other => Err(PayloadError::WrongChip {
            image: format!("an ELF for machine {other} (neither RISC-V nor Xtensa)"),
            band: "an ESP32 or ESP32-C3",
        }),
    }
}

/// The ESP-IDF app image of a firmware ELF for `chip` (or the chip the ELF names when `None`), laid out by
/// espflash with the band's flash settings. A `chip` other than the ELF's is refused as [`PayloadError::WrongChip`];
/// a malformed ELF as [`PayloadError::InvalidElf`].
pub fn app_image_from_elf(elf: &[u8], chip: Option<Chip>) -> Result<Vec<u8>, PayloadError> {
    let built_for = elf_chip(elf)?;
    let chip = chip.unwrap_or(built_for);
    if chip != built_for {
        return Err(PayloadError::WrongChip {
            image: format!("{} (the ELF's machine)", built_for.name()),
            band: chip.name(),
        });
    }
    precheck(elf, chip)?;
    let flash = FlashData::new(
        band_flash(),
        0,
        None,
        espflash_chip(chip),
        XtalFrequency::_40Mhz,
    );
    let converted = catch_unwind(AssertUnwindSafe(|| {
        IdfBootloaderFormat::new(elf, &flash, None, None, None, None)
            .map(|image| image.ota_segments().next().map(|s| s.data.into_owned()))
    }));
    match converted {
        Ok(Ok(Some(image))) => {
            tracing::debug!(
                chip = chip.name(),
                bytes = image.len(),
                "app image made from an ELF"
            );
            Ok(image)
        }
        Ok(Ok(None)) => Err(PayloadError::InvalidElf(
            "espflash made no app segment".into(),
        )),
        Ok(Err(e)) => Err(PayloadError::InvalidElf(e.to_string())),
        Err(_) => Err(PayloadError::InvalidElf(
            "espflash could not lay out its sections (a malformed ELF)".into(),
        )),
    }
}

/// A firmware file as the band takes it: an ELF is converted ([`app_image_from_elf`], for the chip it names),
/// anything else is returned as it is (an app image, checked later).
pub fn firmware_file(file: Vec<u8>) -> Result<Vec<u8>, PayloadError> {
    if is_elf(&file) {
        app_image_from_elf(&file, None)
    } else {
        Ok(file)
    }
}

fn espflash_chip(chip: Chip) -> EspflashChip {
    match chip {
        Chip::Esp32 => EspflashChip::Esp32,
        Chip::Esp32C3 => EspflashChip::Esp32c3,
    }
}

/// Refuses what espflash's layout assumes never happens (it would trip over it: `unreachable!`, a slice or an
/// address out of range): loadable sections outside the file, past the 32-bit address space or overlapping one
/// another at the addresses espflash places them (a program header's load address when it is outside flash),
/// a program header that maps a section past 4 GB, and an app description (`.flash.appdesc`, found by name as
/// espflash finds it) that is not a whole loadable description in flash.
fn precheck(elf: &[u8], chip: Chip) -> Result<(), PayloadError> {
    use object::elf::{PT_LOAD, SHT_INIT_ARRAY, SHT_PROGBITS};
    use object::read::elf::{ElfFile32, ProgramHeader as _, SectionHeader as _};
    use object::{Endianness, Object as _, ObjectSection as _};
    let invalid = |why: String| Err(PayloadError::InvalidElf(why));
    let le = Endianness::Little;
    let chip = espflash_chip(chip);
    let file = match ElfFile32::<Endianness>::parse(elf) {
        Ok(file) => file,
        Err(e) => return invalid(format!("it does not parse: {e}")),
    };
    // Where espflash places a section that runs at `vaddr` (its `load_address`), if representable.
    let placed = |vaddr: u32| -> Option<u32> {
        let phdr = file.elf_program_headers().iter().find(|p| {
            let start = p.p_vaddr(le);
            p.p_type(le) == PT_LOAD && (start..start.saturating_add(p.p_memsz(le))).contains(&vaddr)
        });
        let Some(phdr) = phdr else {
            return Some(vaddr);
        };
        let lma = phdr.p_paddr(le).checked_add(vaddr - phdr.p_vaddr(le))?;
        Some(if lma != vaddr && !chip.addr_is_flash(lma) {
            lma
        } else {
            vaddr
        })
    };
    let mut loadable: Vec<(u64, u64, String)> = Vec::new();
    for section in file.sections() {
        let header = section.elf_section_header();
        let kind = header.sh_type(le);
        let (vaddr, size) = (section.address(), section.size());
        let name = section.name().unwrap_or("<unnamed>").to_string();
        let takes = size > 0
            && (kind == SHT_PROGBITS || kind == SHT_INIT_ARRAY)
            && header.sh_offset(le) > 0
            && vaddr > 0
            && header.sh_flags(le).0 != 0
            && section.data().is_ok();
        if !takes {
            continue;
        }
        let addr = u32::try_from(vaddr).ok().and_then(placed);
        let Some((addr, end)) =
            addr.and_then(|a| Some((a, a.checked_add(u32::try_from(size).ok()?)?)))
        else {
            return invalid(format!(
                "section `{name}` runs past the 32-bit address space"
            ));
        };
        loadable.push((u64::from(addr), u64::from(end), name));
    }
    if let Some(desc) = file.section_by_name(".flash.appdesc") {
        let addr = u32::try_from(desc.address()).unwrap_or(0);
        let whole = loadable.iter().any(|(start, end, name)| {
            name == ".flash.appdesc" && *start == u64::from(addr) && end - start >= 256
        });
        if !(whole && chip.addr_is_flash(addr)) {
            return invalid(format!(
                "its app description (`.flash.appdesc` at 0x{addr:08X}) is not a whole loadable description \
                 in flash"
            ));
        }
    }
    loadable.sort();
    for pair in loadable.windows(2) {
        let ((_, end, a), (start, _, b)) = (&pair[0], &pair[1]);
        if start < end {
            return invalid(format!("sections `{a}` and `{b}` overlap"));
        }
    }
    Ok(())
}
