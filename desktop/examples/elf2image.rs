//! Makes a firmware ELF's ESP-IDF app image with the desktop's own conversion (`deploy::elf`, espflash's
//! library), checks it as a deployment would (`deploy::payload::check_firmware_image`), writes it, and prints its
//! size and the firmware's static RAM (.data + .bss: every allocated `.data*` and `.bss*` section). With budgets
//! given, exits 1 when one is exceeded. `make firmware-c3` runs it on the ESP32-C3 firmware:
//! `cargo run -q --example elf2image -- ELF OUT [--max-image BYTES] [--max-static-ram BYTES]`.

use std::process::ExitCode;

use anyhow::{Context, bail};
use bandx_desktop::deploy::elf::{app_image_from_elf, elf_chip};
use bandx_desktop::deploy::payload::check_firmware_image;
use object::{Object as _, ObjectSection as _, SectionFlags};

struct Args {
    elf: String,
    out: String,
    max_image: Option<usize>,
    max_static_ram: Option<u64>,
}

fn args() -> anyhow::Result<Args> {
    let mut it = std::env::args().skip(1);
    let usage = "usage: elf2image ELF OUT [--max-image BYTES] [--max-static-ram BYTES]";
    let (Some(elf), Some(out)) = (it.next(), it.next()) else {
        bail!(usage);
    };
    let mut args = Args {
        elf,
        out,
        max_image: None,
        max_static_ram: None,
    };
    while let Some(flag) = it.next() {
        let value = it.next().context(usage)?;
        match flag.as_str() {
            "--max-image" => args.max_image = Some(value.parse().context("--max-image")?),
            "--max-static-ram" => {
                args.max_static_ram = Some(value.parse().context("--max-static-ram")?)
            }
            _ => bail!(usage),
        }
    }
    Ok(args)
}

/// Bytes of RAM the firmware's statics take: every allocated `.data*` and `.bss*` section.
fn static_ram(elf: &[u8]) -> anyhow::Result<u64> {
    const SHF_ALLOC: u64 = 0x2;
    let file = object::File::parse(elf).context("parsing the ELF")?;
    Ok(file
        .sections()
        .filter(|s| matches!(s.flags(), SectionFlags::Elf { sh_flags, .. } if sh_flags.0 & SHF_ALLOC != 0))
        .filter(|s| {
            s.name()
                .is_ok_and(|n| n.starts_with(".data") || n.starts_with(".bss"))
        })
        .map(|s| s.size())
        .sum())
}

fn run() -> anyhow::Result<bool> {
    let args = args()?;
    let elf = std::fs::read(&args.elf).with_context(|| format!("reading {}", args.elf))?;
    let chip = elf_chip(&elf)?;
    let image = app_image_from_elf(&elf, Some(chip))?;
    check_firmware_image(&image).context("the converted image")?;
    std::fs::write(&args.out, &image).with_context(|| format!("writing {}", args.out))?;
    let ram = static_ram(&elf)?;
    let name = chip.name().to_lowercase().replace('-', "");
    println!(
        "{name} app image: {} bytes ({:.1} KiB) -> {}",
        image.len(),
        image.len() as f64 / 1024.0,
        args.out
    );
    println!(
        "{name} static RAM (.data + .bss): {ram} bytes ({:.1} KiB)",
        ram as f64 / 1024.0
    );
    let mut within = true;
    if let Some(max) = args.max_image.filter(|&max| image.len() > max) {
        eprintln!(
            "{name} budget exceeded: app image {} B > budget {max} B",
            image.len()
        );
        within = false;
    }
    if let Some(max) = args.max_static_ram.filter(|&max| ram > max) {
        eprintln!("{name} budget exceeded: static RAM {ram} B > budget {max} B");
        within = false;
    }
    Ok(within)
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("elf2image: {e:#}");
            ExitCode::FAILURE
        }
    }
}
