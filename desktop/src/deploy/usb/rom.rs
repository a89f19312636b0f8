//! The ESP32 ROM serial loader's primitives, over espflash's `Connection`: connect and sync, write a region
//! block by block (cancellable), the ROM's MD5 of a region, erase, restart; and what an espflash error
//! means for the user ([`cause`]).

use std::sync::atomic::{AtomicBool, Ordering};

use bandx_board::partitions::SECTOR_SIZE;
use espflash::{
    command::{Command, CommandType},
    connection::Connection,
    flasher::{Flasher, SpiAttachParams},
    target::Chip,
};

use super::{FlashOptions, SerialLine, UsbError};

/// The ROM loader's data block: 1 KB per `FLASH_DATA` (no stub loader).
pub(super) const BLOCK_SIZE: usize = 0x400;
/// The ROM loader always starts at this rate; espflash may switch up after syncing.
pub(super) const CONNECT_BAUD: u32 = 115_200;

/// How an espflash error came about, as far as the user is concerned.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Cause {
    Unplugged,
    Timeout,
    Rom(String),
    Other(String),
}

pub(super) fn cause(e: &espflash::Error) -> Cause {
    let inner: &(dyn std::error::Error + 'static) = match e {
        espflash::Error::RomError(rom) => return Cause::Rom(rom.to_string()),
        espflash::Error::Connection(inner) | espflash::Error::Flashing(inner) => inner.as_ref(),
        other => return Cause::Other(other.to_string()),
    };
    let text = inner.to_string();
    if text.starts_with("Timeout") {
        return Cause::Timeout;
    }
    if text == "Serial port not found" {
        return Cause::Unplugged;
    }
    // espflash wraps a serial error in its own type or, for some writes, passes the
    // io::Error itself: look at the whole chain, starting with the error itself.
    let mut source = Some(inner);
    while let Some(err) = source {
        let (kind, text) = if let Some(serial) = err.downcast_ref::<serialport::Error>() {
            match serial.kind() {
                serialport::ErrorKind::NoDevice => return Cause::Unplugged,
                serialport::ErrorKind::Io(kind) => (Some(kind), serial.description.clone()),
                _ => (None, String::new()),
            }
        } else if let Some(io) = err.downcast_ref::<std::io::Error>() {
            (Some(io.kind()), io.to_string())
        } else {
            (None, String::new())
        };
        match kind {
            Some(std::io::ErrorKind::TimedOut) => return Cause::Timeout,
            Some(kind) if line_gone(kind, &text) => return Cause::Unplugged,
            _ => {}
        }
        source = err.source();
    }
    Cause::Other(text)
}

/// An unplugged USB serial device (or a closed pty) reads as a hang-up or EIO.
fn line_gone(kind: std::io::ErrorKind, text: &str) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        kind,
        BrokenPipe | ConnectionReset | ConnectionAborted | NotConnected | UnexpectedEof | NotFound
    ) || text.contains("Input/output error")
        || text.contains("I/O error")
        // serialport's flush is tcdrain(), which on an open tty only fails once the line hung
        // up (EIO); serialport drops the errno and says just this.
        || text == "flush failed"
}

/// Resets the board into download mode, syncs, checks it is an ESP32 and probes its flash.
pub(super) fn connect(line: SerialLine, options: &FlashOptions) -> Result<Flasher, UsbError> {
    let port = line.name.clone();
    let connection = Connection::new(
        line.port,
        line.usb,
        options.after,
        options.before,
        CONNECT_BAUD,
    );
    // No stub loader: the ROM's own commands are enough to write a slot, and the band's
    // firmware never has to trust code uploaded to its RAM.
    Flasher::connect(
        connection,
        false,
        false,
        false,
        Some(Chip::Esp32),
        options.baud,
    )
    .map_err(|e| match e {
        espflash::Error::ChipMismatch(_, detected) => UsbError::NotAnEsp32 {
            port: port.clone(),
            detected: format!("an {}", chip_name(&detected)),
        },
        espflash::Error::ChipDetectError(_) => UsbError::NotAnEsp32 {
            port: port.clone(),
            detected: "a chip BandX Studio does not recognize".into(),
        },
        e => match cause(&e) {
            Cause::Unplugged => UsbError::PortNotFound { port: port.clone() },
            Cause::Rom(detail) => UsbError::Device(detail),
            Cause::Timeout | Cause::Other(_) => UsbError::NotResponding { port: port.clone() },
        },
    })
}

/// espflash names chips `esp32c3`; people know them as `ESP32-C3`.
fn chip_name(espflash_name: &str) -> String {
    match espflash_name.strip_prefix("esp32") {
        Some("") => "ESP32".into(),
        Some(variant) => format!("ESP32-{}", variant.to_uppercase()),
        None => espflash_name.to_uppercase(),
    }
}

pub(super) enum Written {
    All,
    Cancelled(u64),
}

/// FLASH_BEGIN (the ROM erases the covered sectors) then one FLASH_DATA per 1 KB block.
pub(super) fn write_region(
    conn: &mut Connection,
    offset: u32,
    data: &[u8],
    cancel: &AtomicBool,
    on_block: &mut dyn FnMut(u64),
) -> Result<Written, (espflash::Error, u64)> {
    if cancel.load(Ordering::SeqCst) {
        return Ok(Written::Cancelled(0));
    }
    let erase_size = (data.len().div_ceil(SECTOR_SIZE as usize) * SECTOR_SIZE as usize) as u32;
    let blocks = data.len().div_ceil(BLOCK_SIZE) as u32;
    conn.with_timeout(
        CommandType::FlashBegin.timeout_for_size(erase_size),
        |conn| {
            conn.command(Command::FlashBegin {
                size: erase_size,
                blocks,
                block_size: BLOCK_SIZE as u32,
                offset,
                // The ESP32's ROM takes the short form of FLASH_BEGIN.
                supports_encryption: false,
            })
        },
    )
    .map_err(|e| (e, 0))?;

    let mut written = 0u64;
    for (sequence, block) in data.chunks(BLOCK_SIZE).enumerate() {
        if cancel.load(Ordering::SeqCst) {
            return Ok(Written::Cancelled(written));
        }
        conn.with_timeout(
            CommandType::FlashData.timeout_for_size(block.len() as u32),
            |conn| {
                conn.command(Command::FlashData {
                    data: block,
                    pad_to: BLOCK_SIZE,
                    pad_byte: 0xff,
                    sequence: sequence as u32,
                })
            },
        )
        .map_err(|e| (e, written))?;
        written += block.len() as u64;
        on_block(written);
    }
    Ok(Written::All)
}

/// The MD5 the ROM computes over a flash region.
pub(super) fn region_md5(
    conn: &mut Connection,
    offset: u32,
    len: usize,
) -> Result<[u8; 16], espflash::Error> {
    let size = len as u32;
    let digest: u128 = conn
        .with_timeout(CommandType::FlashMd5.timeout_for_size(size), |conn| {
            conn.command(Command::FlashMd5 { offset, size })
        })?
        .try_into()?;
    Ok(digest.to_be_bytes())
}

/// SPI_ATTACH with the module's default pins (the band's ESP32 module is not a PICO-D4).
pub(super) fn attach_flash(conn: &mut Connection) -> Result<(), espflash::Error> {
    conn.with_timeout(CommandType::SpiAttach.timeout(), |conn| {
        conn.command(Command::SpiAttach {
            spi_params: SpiAttachParams::default(),
        })
    })?;
    Ok(())
}

/// Erases whole sectors: a FLASH_BEGIN with no data to follow.
pub(super) fn erase(conn: &mut Connection, offset: u32, size: u32) -> Result<(), espflash::Error> {
    conn.with_timeout(CommandType::FlashBegin.timeout_for_size(size), |conn| {
        conn.command(Command::FlashBegin {
            size,
            blocks: 0,
            block_size: BLOCK_SIZE as u32,
            offset,
            supports_encryption: false,
        })
    })?;
    Ok(())
}

/// Leaves the loader and restarts the band, best effort: the write's outcome is already known.
pub(super) fn restart(conn: &mut Connection) {
    let ended = conn.with_timeout(CommandType::FlashEnd.timeout(), |conn| {
        conn.command(Command::FlashEnd { reboot: true })
    });
    if let Err(e) = ended.and_then(|_| conn.reset_after(false, Chip::Esp32)) {
        tracing::warn!("could not restart the band after flashing: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn espflash_errors_are_told_apart() {
        use std::io::{Error, ErrorKind};
        // How espflash hands over a hang-up: the io::Error itself, or wrapped with serialport's.
        let flush = espflash::Error::from(Error::other("flush failed"));
        assert_eq!(cause(&flush), Cause::Unplugged);
        let hangup = espflash::Error::from(serialport::Error::from(Error::new(
            ErrorKind::BrokenPipe,
            "EPIPE",
        )));
        assert_eq!(cause(&hangup), Cause::Unplugged);
        let timeout = espflash::Error::from(Error::new(ErrorKind::TimedOut, "timed out"));
        assert_eq!(cause(&timeout), Cause::Timeout);
        let framing = espflash::Error::from(Error::new(ErrorKind::InvalidData, "garbage"));
        assert!(matches!(cause(&framing), Cause::Other(_)));
    }
}
