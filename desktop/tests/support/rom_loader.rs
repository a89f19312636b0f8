//! An emulated ESP32 ROM serial loader, for testing the USB flasher without a board.
//!
//! It sits on the far end of a pseudo-terminal pair (`serialport::TTYPort::pair()`) and answers
//! the way the ESP32's mask ROM does in download mode: SLIP frames, SYNC (eight replies), READ_REG /
//! WRITE_REG with just enough registers for chip detection and the SPI flash-ID probe,
//! SPI_ATTACH, SPI_SET_PARAMS, CHANGE_BAUDRATE, FLASH_BEGIN (erases), FLASH_DATA (checks the
//! sequence and checksum, writes), FLASH_END and SPI_FLASH_MD5, over an in-memory 4 MB flash.
//! GET_SECURITY_INFO is refused like on a real ESP32 ROM, and there is no stub loader: MEM_* are
//! refused, so a flasher that tries to upload a stub fails loudly.
//!
//! Faults to inject: unplug (close its end) or go silent after N bytes of flash data, corrupt one
//! flash byte after it is written, or claim to be another chip.
#![allow(dead_code)]

use std::{
    io::{ErrorKind, Read, Write},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::Duration,
};

use md5::{Digest, Md5};
use serialport::{SerialPort, TTYPort};

pub const FLASH_SIZE: usize = 4 * 1024 * 1024;
/// `CHIP_DETECT_MAGIC_REG` of every Espressif ROM.
pub const CHIP_DETECT_MAGIC_REG: u32 = 0x4000_1000;
pub const ESP32_MAGIC: u32 = 0x00f0_1d83;
pub const ESP32C3_MAGIC: u32 = 0x6921_506f;
/// JEDEC ID of a 4 MB Winbond flash; byte 2 (0x16) encodes the size.
pub const FLASH_ID_4MB: u32 = 0x0016_40ef;

const SPI_BASE: u32 = 0x3ff4_2000;
const SPI_CMD: u32 = SPI_BASE;
const SPI_USR2: u32 = SPI_BASE + 0x24;
const SPI_W0: u32 = SPI_BASE + 0x80;
const SPI_CMD_USR: u32 = 1 << 18;
const SPI_FLASH_RDID: u32 = 0x9f;

const END: u8 = 0xC0;
const ESC: u8 = 0xDB;
const ESC_END: u8 = 0xDC;
const ESC_ESC: u8 = 0xDD;

// ROM error codes (esptool's serial protocol documentation).
const ERR_INVALID_MESSAGE: u8 = 0x05;
const ERR_FAILED_TO_ACT: u8 = 0x06;
const ERR_INVALID_CRC: u8 = 0x07;

mod op {
    pub const FLASH_BEGIN: u8 = 0x02;
    pub const FLASH_DATA: u8 = 0x03;
    pub const FLASH_END: u8 = 0x04;
    pub const SYNC: u8 = 0x08;
    pub const WRITE_REG: u8 = 0x09;
    pub const READ_REG: u8 = 0x0A;
    pub const SPI_SET_PARAMS: u8 = 0x0B;
    pub const SPI_ATTACH: u8 = 0x0D;
    pub const CHANGE_BAUDRATE: u8 = 0x0F;
    pub const SPI_FLASH_MD5: u8 = 0x13;
}

/// Something to go wrong, on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Close the loader's end of the line once this many flash-data bytes were received
    /// (the block that crosses the limit is written, then no answer).
    UnplugAfter(usize),
    /// Keep the line open but stop answering once this many flash-data bytes were received.
    SilentAfter(usize),
    /// Flip the bits of the flash byte at this address right after it is written.
    CorruptByte(u32),
}

#[derive(Debug, Clone)]
pub struct LoaderConfig {
    /// Value of the chip-detect magic register (ESP32: [`ESP32_MAGIC`]).
    pub magic: u32,
    pub flash_id: u32,
    pub fault: Option<Fault>,
    /// Flash contents at power-on (4 MB).
    pub flash: Vec<u8>,
}

impl LoaderConfig {
    /// An ESP32 with 4 MB of flash filled with `flash`.
    pub fn esp32(flash: Vec<u8>) -> LoaderConfig {
        assert_eq!(flash.len(), FLASH_SIZE);
        LoaderConfig {
            magic: ESP32_MAGIC,
            flash_id: FLASH_ID_4MB,
            fault: None,
            flash,
        }
    }

    pub fn with_fault(mut self, fault: Fault) -> LoaderConfig {
        self.fault = Some(fault);
        self
    }
}

/// What the loader saw, for assertions about the conversation.
#[derive(Debug, Default, Clone)]
pub struct Transcript {
    /// Command opcodes in the order received.
    pub commands: Vec<u8>,
    /// Flash-data payload bytes received (padding included).
    pub flash_data_bytes: usize,
    /// Regions erased by FLASH_BEGIN, as (offset, size).
    pub erased: Vec<(u32, u32)>,
    /// Whether the loader pulled the plug.
    pub unplugged: bool,
    /// Baud rates asked for with CHANGE_BAUDRATE.
    pub baud_changes: Vec<u32>,
}

impl Transcript {
    pub fn count(&self, opcode: u8) -> usize {
        self.commands.iter().filter(|&&c| c == opcode).count()
    }
}

/// A running emulated loader; stops when dropped or finished.
pub struct RomLoader {
    flash: Arc<Mutex<Vec<u8>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Transcript>>,
}

impl RomLoader {
    pub fn spawn(mut port: TTYPort, config: LoaderConfig) -> RomLoader {
        let flash = Arc::new(Mutex::new(config.flash.clone()));
        let stop = Arc::new(AtomicBool::new(false));
        port.set_timeout(Duration::from_millis(20)).unwrap();
        let mut device = Device {
            config,
            flash: flash.clone(),
            regs: Default::default(),
            transcript: Transcript::default(),
            download: None,
            silent: false,
            attached: false,
        };
        let stop_flag = stop.clone();
        let thread = std::thread::spawn(move || {
            device.run(port, &stop_flag);
            device.transcript
        });
        RomLoader {
            flash,
            stop,
            thread: Some(thread),
        }
    }

    /// A copy of the whole flash as it is now.
    pub fn flash(&self) -> Vec<u8> {
        self.flash.lock().unwrap().clone()
    }

    /// Stops the loader and returns what it saw.
    pub fn finish(mut self) -> Transcript {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for RomLoader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

struct Download {
    next_offset: u32,
    end: u32,
    sequence: u32,
    block_size: u32,
}

struct Device {
    config: LoaderConfig,
    flash: Arc<Mutex<Vec<u8>>>,
    regs: std::collections::HashMap<u32, u32>,
    transcript: Transcript,
    download: Option<Download>,
    silent: bool,
    /// SPI flash attached (SPI_ATTACH); flash commands fail before it, as on the chip.
    attached: bool,
}

enum Reply {
    Ok {
        value: u32,
        data: Vec<u8>,
    },
    Err(u8),
    /// Several identical frames (SYNC).
    Repeat(u32, usize),
    /// The line is gone.
    Unplug,
    Nothing,
}

impl Device {
    fn run(&mut self, mut port: TTYPort, stop: &AtomicBool) {
        let mut frame = Vec::new();
        let mut in_frame = false;
        let mut escaped = false;
        let mut buf = [0u8; 4096];
        while !stop.load(Ordering::SeqCst) {
            let n = match port.read(&mut buf) {
                Ok(0) => continue,
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::TimedOut || e.kind() == ErrorKind::WouldBlock => {
                    continue;
                }
                Err(_) => return, // the host closed its end
            };
            for &byte in &buf[..n] {
                match (byte, in_frame, escaped) {
                    (END, false, _) => {
                        in_frame = true;
                        frame.clear();
                    }
                    (END, true, _) => {
                        in_frame = false;
                        if frame.is_empty() {
                            in_frame = true; // back-to-back END: start of the next frame
                            continue;
                        }
                        let packet = std::mem::take(&mut frame);
                        let reply = self.handle(&packet);
                        if matches!(reply, Reply::Unplug) {
                            self.transcript.unplugged = true;
                            return; // dropping `port` closes the line
                        }
                        if !self.silent && write_reply(&mut port, packet[1], reply).is_err() {
                            return;
                        }
                    }
                    (_, false, _) => {} // noise between frames is ignored, like the ROM does
                    (ESC, true, false) => escaped = true,
                    (ESC_END, true, true) => {
                        frame.push(END);
                        escaped = false;
                    }
                    (ESC_ESC, true, true) => {
                        frame.push(ESC);
                        escaped = false;
                    }
                    (b, true, true) => {
                        frame.push(b);
                        escaped = false;
                    }
                    (b, true, false) => frame.push(b),
                }
            }
        }
    }

    fn handle(&mut self, packet: &[u8]) -> Reply {
        if packet.len() < 8 || packet[0] != 0x00 {
            return Reply::Nothing;
        }
        let opcode = packet[1];
        let len = u16::from_le_bytes([packet[2], packet[3]]) as usize;
        let checksum = u32::from_le_bytes(packet[4..8].try_into().unwrap());
        let data = &packet[8..];
        if data.len() != len {
            return Reply::Err(ERR_INVALID_MESSAGE);
        }
        self.transcript.commands.push(opcode);
        let word = |i: usize| -> u32 {
            data.get(4 * i..4 * i + 4)
                .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
                .unwrap_or(0)
        };
        match opcode {
            op::SYNC => {
                if data.len() == 36 && data[..4] == [0x07, 0x07, 0x12, 0x20] {
                    Reply::Repeat(0, 8)
                } else {
                    Reply::Nothing
                }
            }
            op::READ_REG => {
                let addr = word(0);
                let value = if addr == CHIP_DETECT_MAGIC_REG {
                    self.config.magic
                } else {
                    self.regs.get(&addr).copied().unwrap_or(0)
                };
                ok(value)
            }
            op::WRITE_REG => {
                let (addr, value, mask) = (word(0), word(1), word(2));
                let old = self.regs.get(&addr).copied().unwrap_or(0);
                let mut new = (old & !mask) | (value & mask);
                if addr == SPI_CMD && new & SPI_CMD_USR != 0 {
                    let command = self.regs.get(&SPI_USR2).copied().unwrap_or(0) & 0xffff;
                    if command == SPI_FLASH_RDID {
                        self.regs.insert(SPI_W0, self.config.flash_id);
                    }
                    new &= !SPI_CMD_USR; // the SPI transaction completes at once
                }
                self.regs.insert(addr, new);
                ok(0)
            }
            op::SPI_ATTACH => {
                self.attached = true;
                ok(0)
            }
            op::SPI_SET_PARAMS => ok(0),
            op::FLASH_BEGIN | op::SPI_FLASH_MD5 if !self.attached => Reply::Err(ERR_FAILED_TO_ACT),
            op::CHANGE_BAUDRATE => {
                self.transcript.baud_changes.push(word(0));
                ok(0)
            }
            op::FLASH_BEGIN => self.flash_begin(word(0), word(1), word(2), word(3)),
            op::FLASH_DATA => self.flash_data(data, checksum),
            op::FLASH_END => {
                self.download = None;
                ok(0)
            }
            op::SPI_FLASH_MD5 => {
                let (addr, size) = (word(0) as usize, word(1) as usize);
                let flash = self.flash.lock().unwrap();
                let Some(region) = flash.get(addr..addr.saturating_add(size)) else {
                    return Reply::Err(ERR_FAILED_TO_ACT);
                };
                let digest = Md5::digest(region);
                let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
                Reply::Ok {
                    value: 0,
                    data: hex.into_bytes(),
                }
            }
            // GET_SECURITY_INFO (not in the ESP32 ROM), MEM_BEGIN/DATA/END (stub upload), ...
            _ => Reply::Err(ERR_INVALID_MESSAGE),
        }
    }

    fn flash_begin(
        &mut self,
        erase_size: u32,
        _blocks: u32,
        block_size: u32,
        offset: u32,
    ) -> Reply {
        let end = offset as u64 + erase_size as u64;
        if end > FLASH_SIZE as u64 || !offset.is_multiple_of(0x1000) {
            return Reply::Err(ERR_FAILED_TO_ACT);
        }
        // The ESP32 ROM erases the whole region up front.
        self.flash.lock().unwrap()[offset as usize..end as usize].fill(0xff);
        self.transcript.erased.push((offset, erase_size));
        self.download = Some(Download {
            next_offset: offset,
            end: end as u32,
            sequence: 0,
            block_size,
        });
        ok(0)
    }

    fn flash_data(&mut self, data: &[u8], checksum: u32) -> Reply {
        if data.len() < 16 {
            return Reply::Err(ERR_INVALID_MESSAGE);
        }
        let size = u32::from_le_bytes(data[0..4].try_into().unwrap()) as usize;
        let sequence = u32::from_le_bytes(data[4..8].try_into().unwrap());
        let payload = &data[16..];
        let Some(download) = self.download.as_mut() else {
            return Reply::Err(ERR_FAILED_TO_ACT);
        };
        if payload.len() != size
            || sequence != download.sequence
            || size as u32 > download.block_size
        {
            return Reply::Err(ERR_INVALID_MESSAGE);
        }
        if payload.iter().fold(0xEFu8, |acc, b| acc ^ b) as u32 != checksum {
            return Reply::Err(ERR_INVALID_CRC);
        }
        let start = download.next_offset as usize;
        if start + size > download.end as usize {
            return Reply::Err(ERR_FAILED_TO_ACT);
        }
        {
            let mut flash = self.flash.lock().unwrap();
            // NOR flash: writing can only clear bits.
            for (cell, byte) in flash[start..start + size].iter_mut().zip(payload) {
                *cell &= byte;
            }
            if let Some(Fault::CorruptByte(addr)) = self.config.fault
                && (start..start + size).contains(&(addr as usize))
            {
                flash[addr as usize] ^= 0xff;
            }
        }
        download.next_offset += size as u32;
        download.sequence += 1;
        self.transcript.flash_data_bytes += size;

        match self.config.fault {
            Some(Fault::UnplugAfter(n)) if self.transcript.flash_data_bytes >= n => Reply::Unplug,
            Some(Fault::SilentAfter(n)) if self.transcript.flash_data_bytes >= n => {
                self.silent = true;
                Reply::Nothing
            }
            _ => ok(0),
        }
    }
}

fn ok(value: u32) -> Reply {
    Reply::Ok {
        value,
        data: Vec::new(),
    }
}

/// ROM response: direction 1, opcode, length, value, data, then 4 status bytes.
fn write_reply(port: &mut TTYPort, opcode: u8, reply: Reply) -> std::io::Result<()> {
    let (value, data, status, error, times) = match reply {
        Reply::Ok { value, data } => (value, data, 0, 0, 1),
        Reply::Err(code) => (0, Vec::new(), 1, code, 1),
        Reply::Repeat(value, times) => (value, Vec::new(), 0, 0, times),
        Reply::Nothing | Reply::Unplug => return Ok(()),
    };
    let mut body = vec![0x01, opcode];
    body.extend_from_slice(&((data.len() + 4) as u16).to_le_bytes());
    body.extend_from_slice(&value.to_le_bytes());
    body.extend_from_slice(&data);
    body.extend_from_slice(&[status, error, 0, 0]);
    let mut out = Vec::with_capacity(body.len() * times + 4);
    for _ in 0..times {
        out.push(END);
        for &b in &body {
            match b {
                END => out.extend_from_slice(&[ESC, ESC_END]),
                ESC => out.extend_from_slice(&[ESC, ESC_ESC]),
                b => out.push(b),
            }
        }
        out.push(END);
    }
    port.write_all(&out)?;
    port.flush()
}
