//! Writing a model or a firmware to the band over USB, through the ESP32's ROM serial loader,
//! with espflash as the library.
//!
//! The flow: open the serial port, reset the band into download mode (DTR/RTS, injectable), let
//! espflash sync, detect the chip (it must be an ESP32) and probe the flash, then write the
//! payload into its partition (`model_a`/`model_b` or `ota_0`/`ota_1` from
//! `firmware/partitions.csv`), compare the MD5 the ROM computes over the written region with
//! ours, and only then restart the band. A firmware write also rewrites `otadata`, after its
//! image verified, so the bootloader starts the new slot.
//!
//! The blocks are sent with espflash's own `FLASH_BEGIN` / `FLASH_DATA` / `FLASH_END` commands
//! over its `Connection` rather than `Flasher::write_bin_to_flash`, because that call runs all
//! blocks in one go and ends with a reboot: it leaves no point to stop at when the user cancels,
//! nor to erase a slot whose verification failed before the band restarts.
//!
//! What an interrupted write leaves: only the target partition is ever erased and written (plus
//! `otadata` at the very end of a verified firmware write), so the other slot keeps what it had.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use bandx_sim::partitions::{AppSlot, FlashLayout, ModelSlot, Partition, SECTOR_SIZE};
use espflash::{
    command::{Command, CommandType},
    connection::{Connection, Port, ResetAfterOperation, ResetBeforeOperation},
    flasher::{Flasher, SpiAttachParams},
    target::Chip,
};
use md5::{Digest, Md5};
use serde::Serialize;
use serialport::{SerialPortInfo, SerialPortType, UsbPortInfo};

use bandx_sim::otadata;

/// The ROM loader's data block: 1 KB per `FLASH_DATA` (no stub loader).
const BLOCK_SIZE: usize = 0x400;
/// The ROM loader always starts at this rate; espflash may switch up after syncing.
const CONNECT_BAUD: u32 = 115_200;

/// USB serial bridges found on ESP32 boards, and the ESP32's own USB-JTAG/serial.
pub const ESP32_USB_BRIDGES: &[(u16, u16, &str)] = &[
    (0x10c4, 0xea60, "Silicon Labs CP210x"),
    (0x1a86, 0x7523, "WCH CH340"),
    (0x1a86, 0x55d4, "WCH CH9102"),
    (0x0403, 0x6001, "FTDI FT232R"),
    (0x303a, 0x1001, "Espressif USB-JTAG/serial"),
];

/// A serial port that looks like it has an ESP32 behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BandPort {
    /// Device path, e.g. `/dev/ttyUSB0`.
    pub path: String,
    pub vid: u16,
    pub pid: u16,
    /// The USB bridge chip, e.g. "Silicon Labs CP210x".
    pub bridge: &'static str,
    pub serial_number: Option<String>,
    pub product: Option<String>,
}

/// Serial ports on this machine that look like an ESP32 board.
pub fn list_band_ports() -> Result<Vec<BandPort>, UsbError> {
    let ports = serialport::available_ports().map_err(|e| UsbError::Serial(e.to_string()))?;
    Ok(band_ports(ports))
}

/// The one band port to use when the user did not pick one: the first ESP32-looking port.
pub fn find_band_port() -> Result<BandPort, UsbError> {
    let mut ports = list_band_ports()?;
    ports.sort_by(|a, b| a.path.cmp(&b.path));
    ports.into_iter().next().ok_or(UsbError::NoPort)
}

/// Keeps the ports whose USB vendor/product id is a known ESP32 bridge.
pub fn band_ports(ports: Vec<SerialPortInfo>) -> Vec<BandPort> {
    ports
        .into_iter()
        .filter_map(|port| {
            let SerialPortType::UsbPort(usb) = port.port_type else {
                return None;
            };
            let bridge = ESP32_USB_BRIDGES
                .iter()
                .find(|(vid, pid, _)| (*vid, *pid) == (usb.vid, usb.pid))
                .map(|(_, _, bridge)| *bridge)?;
            Some(BandPort {
                path: port.port_name,
                vid: usb.vid,
                pid: usb.pid,
                bridge,
                serial_number: usb.serial_number,
                product: usb.product,
            })
        })
        .collect()
}

/// An open serial line to a board, before anything is said on it.
#[derive(Debug)]
pub struct SerialLine {
    port: Port,
    usb: UsbPortInfo,
    name: String,
}

impl SerialLine {
    /// Opens a port found by [`list_band_ports`].
    pub fn open(band: &BandPort) -> Result<SerialLine, UsbError> {
        let mut line = SerialLine::open_path(&band.path)?;
        line.usb.vid = band.vid;
        line.usb.pid = band.pid;
        Ok(line)
    }

    /// Opens a serial device by path (a USB bridge is assumed to be a CP210x).
    pub fn open_path(path: &str) -> Result<SerialLine, UsbError> {
        let port = serialport::new(path, CONNECT_BAUD)
            .timeout(Duration::from_secs(3))
            .open_native()
            .map_err(|e| open_error(path, e))?;
        Ok(SerialLine {
            port,
            usb: cp210x(),
            name: path.to_owned(),
        })
    }

    /// Wraps an already open port, e.g. one end of `TTYPort::pair()` in tests.
    pub fn from_port(port: Port, name: impl Into<String>) -> SerialLine {
        SerialLine {
            port,
            usb: cp210x(),
            name: name.into(),
        }
    }
}

fn cp210x() -> UsbPortInfo {
    UsbPortInfo {
        vid: 0x10c4,
        pid: 0xea60,
        serial_number: None,
        manufacturer: None,
        product: None,
    }
}

fn open_error(path: &str, e: serialport::Error) -> UsbError {
    use serialport::ErrorKind;
    match e.kind() {
        ErrorKind::Io(std::io::ErrorKind::PermissionDenied) => UsbError::PermissionDenied {
            port: path.to_owned(),
        },
        ErrorKind::Io(std::io::ErrorKind::NotFound) => UsbError::PortNotFound {
            port: path.to_owned(),
        },
        // serialport reports a port held by another program (EBUSY, flock) as NoDevice.
        ErrorKind::NoDevice => UsbError::PortBusy {
            port: path.to_owned(),
        },
        _ => UsbError::Serial(format!("{path}: {e}")),
    }
}

/// What to write, and where.
#[derive(Debug, Clone, Copy)]
pub enum Payload<'a> {
    /// A model blob (bandx-core's format). It is checked like the band checks it (parse and
    /// self-test) before anything is written, then written to `first`, verified, and written to
    /// the other model slot too, verified.
    ///
    /// Why both: the band keeps its active-slot record in NVS, which the ROM loader cannot update,
    /// and at boot it runs the recorded slot if its blob checks out, else the other. With the new
    /// model in both slots it runs it whatever the record says, and the next BLE deploy (to the
    /// slot the record does not name) still leaves a good model in place. Pass as `first` the
    /// slot the band is *not* running from (its GetInfo names the active one): until `first` is
    /// verified, the other slot and so the band's current model are left alone.
    Model { first: ModelSlot, blob: &'a [u8] },
    /// A firmware image into an app slot; the bootloader is pointed at it once it verified.
    Firmware { slot: AppSlot, image: &'a [u8] },
}

impl Payload<'_> {
    fn bytes(&self) -> &[u8] {
        match self {
            Payload::Model { blob, .. } => blob,
            Payload::Firmware { image, .. } => image,
        }
    }

    /// The partitions to write, in order, each with what the band still has if its write does
    /// not complete.
    fn targets(&self, layout: &FlashLayout) -> Vec<(Partition, String)> {
        match *self {
            Payload::Model { first, .. } => {
                let (a, b) = (first.partition_name(), first.other().partition_name());
                vec![
                    (
                        layout.model_slot(first).clone(),
                        format!(
                            "{b} was not touched, so the band keeps running the model it had \
                             (it never runs a model that fails its checks)"
                        ),
                    ),
                    (
                        layout.model_slot(first.other()).clone(),
                        format!(
                            "The new model is already complete and verified in {a}, so the band \
                             runs it; {b} is incomplete and gets rewritten when you retry"
                        ),
                    ),
                ]
            }
            Payload::Firmware { slot, .. } => vec![(
                layout.app_slot(slot).clone(),
                format!(
                    "{} and the boot selection were not touched, so the band still starts the \
                     firmware it had",
                    slot.other().partition_name()
                ),
            )],
        }
    }
}

/// Checks a model blob the way the band does before running it.
fn check_model(blob: &[u8]) -> Result<(), UsbError> {
    let model =
        bandx_core::blob::Model::parse(blob).map_err(|e| UsbError::InvalidModel(e.to_string()))?;
    let mut arena = vec![0u8; bandx_core::band::ARENA_CAPACITY];
    bandx_core::infer::self_test(&model, &mut arena)
        .map_err(|e| UsbError::InvalidModel(format!("its self-test fails ({e})")))?;
    Ok(())
}

/// How to talk to the board.
#[derive(Debug, Clone)]
pub struct FlashOptions {
    /// How to get the ESP32 into download mode: DTR/RTS toggling on real boards;
    /// `NoReset` when it is already there (tests, or BOOT held by hand).
    pub before: ResetBeforeOperation,
    /// What to do once done: `HardReset` (RTS) restarts a real band into its new contents.
    pub after: ResetAfterOperation,
    /// Baud rate to switch to after syncing at 115200 (`None`: stay at 115200).
    pub baud: Option<u32>,
    /// Set it to stop between two blocks.
    pub cancel: Arc<AtomicBool>,
}

impl Default for FlashOptions {
    fn default() -> Self {
        FlashOptions {
            before: ResetBeforeOperation::DefaultReset,
            after: ResetAfterOperation::HardReset,
            baud: Some(460_800),
            cancel: Arc::new(AtomicBool::new(false)),
        }
    }
}

/// Where a flash operation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Connecting,
    Writing,
    Verifying,
    /// Pointing the bootloader at the new firmware slot.
    Activating,
    Done,
}

/// A progress event, for the UI (serializable) and the CLI's progress bar.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlashProgress {
    pub stage: Stage,
    pub partition: String,
    /// Payload bytes the band has acknowledged.
    pub written: u64,
    pub total: u64,
    pub bytes_per_sec: f64,
    /// Estimated time left in the writing stage (seconds, for the UI).
    #[serde(serialize_with = "as_secs_opt")]
    pub eta: Option<Duration>,
}

impl FlashProgress {
    /// Fraction written, 0.0 to 1.0.
    pub fn fraction(&self) -> f64 {
        if self.total == 0 {
            1.0
        } else {
            self.written as f64 / self.total as f64
        }
    }
}

fn as_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

fn as_secs_opt<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&d.as_secs_f64()),
        None => s.serialize_none(),
    }
}

/// The result of a verified write.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlashReport {
    /// Partitions written and verified, in order.
    pub partitions: Vec<String>,
    /// Payload size (written once per partition).
    pub bytes: usize,
    /// MD5 of the payload, equal to the one the band's ROM computed over each written region.
    pub md5: [u8; 16],
    #[serde(serialize_with = "as_secs")]
    pub elapsed: Duration,
    /// Throughput of the writing stages.
    pub bytes_per_sec: f64,
    /// A firmware write: whether `otadata` now selects the new slot.
    pub boot_slot_selected: bool,
}

/// Why a USB flash did not happen or did not complete. Each message is a plain sentence with
/// the next step.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsbError {
    #[error(
        "No BandX band was found on USB. Plug the band in with a data cable (some cables only \
         charge) and try again."
    )]
    NoPort,
    #[error(
        "The serial port {port} does not exist any more. Plug the band in again and pick it again."
    )]
    PortNotFound { port: String },
    #[error(
        "BandX Studio is not allowed to open {port}. On Linux, add your user to the `dialout` \
         group (`sudo usermod -aG dialout $USER`), log out and back in, then try again."
    )]
    PermissionDenied { port: String },
    #[error("{port} is in use by another program (a serial monitor?). Close it and try again.")]
    PortBusy { port: String },
    #[error(
        "The board on {port} did not answer like an ESP32 waiting for a download. Unplug and \
         replug the band, or hold its BOOT button while pressing RESET, then try again. Nothing \
         was written."
    )]
    NotResponding { port: String },
    #[error("The board on {port} is {detected}, not the band's ESP32. Nothing was written.")]
    NotAnEsp32 { port: String, detected: String },
    #[error(
        "This model cannot run on the band: {0}. Nothing was written; train or export it again."
    )]
    InvalidModel(String),
    #[error(
        "The {what} is {size} bytes but {partition} holds only {capacity}. Nothing was written."
    )]
    TooLarge {
        what: &'static str,
        partition: String,
        size: usize,
        capacity: u32,
    },
    #[error(
        "The band was disconnected after {written} of {total} bytes were written to {partition}. \
         {kept}. Plug the band in again and retry."
    )]
    Unplugged {
        partition: String,
        written: u64,
        total: u64,
        kept: String,
    },
    #[error(
        "The band stopped answering after {written} of {total} bytes were written to {partition}. \
         {kept}. Unplug and replug the band, then retry."
    )]
    Timeout {
        partition: String,
        written: u64,
        total: u64,
        kept: String,
    },
    #[error(
        "What the band stored in {partition} does not match what was sent (MD5 check failed). \
         The slot was erased again so the band cannot use it. {kept}. Retry, and if it happens \
         again try another USB cable or port."
    )]
    VerifyFailed { partition: String, kept: String },
    #[error(
        "Flashing was cancelled after {written} of {total} bytes were written to {partition}. {kept}."
    )]
    Cancelled {
        partition: String,
        written: u64,
        total: u64,
        kept: String,
    },
    #[error(
        "The band's ROM loader refused a command: {0}. Unplug and replug the band, then retry."
    )]
    Device(String),
    #[error("Serial communication with the band failed: {0}")]
    Serial(String),
}

/// How an espflash error came about, as far as the user is concerned.
#[derive(Debug, PartialEq, Eq)]
enum Cause {
    Unplugged,
    Timeout,
    Rom(String),
    Other(String),
}

fn cause(e: &espflash::Error) -> Cause {
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

/// Writes `payload` into its partition(s) on the band on `line`, verifies each, and restarts
/// the band.
///
/// `progress` is called at every stage change and after each acknowledged 1 KB block; its byte
/// counts cover the whole operation (a model is written twice, see [`Payload::Model`]).
pub fn flash(
    line: SerialLine,
    layout: &FlashLayout,
    payload: Payload<'_>,
    options: &FlashOptions,
    progress: &mut dyn FnMut(&FlashProgress),
) -> Result<FlashReport, UsbError> {
    let data = payload.bytes();
    let targets = payload.targets(layout);
    let capacity = targets[0].0.size;
    if data.len() > capacity as usize {
        return Err(UsbError::TooLarge {
            what: match payload {
                Payload::Model { .. } => "model",
                Payload::Firmware { .. } => "firmware image",
            },
            partition: targets[0].0.name.clone(),
            size: data.len(),
            capacity,
        });
    }
    if let Payload::Model { blob, .. } = payload {
        check_model(blob)?;
    }
    let total = (data.len() * targets.len()) as u64;
    let mut report = |stage, partition: &str, written, rate: f64| {
        let eta = (rate > 0.0 && stage == Stage::Writing)
            .then(|| Duration::from_secs_f64((total - written) as f64 / rate));
        progress(&FlashProgress {
            stage,
            partition: partition.to_owned(),
            written,
            total,
            bytes_per_sec: rate,
            eta,
        });
    };
    report(Stage::Connecting, &targets[0].0.name, 0, 0.0);

    let port = line.name.clone();
    let mut flasher = connect(line, options)?;
    let started = Instant::now();
    let conn = flasher.connection();
    if options.before == ResetBeforeOperation::NoResetNoSync {
        // espflash skipped chip detection and the flash probe: attach the SPI flash ourselves.
        attach_flash(conn).map_err(|e| UsbError::Device(e.to_string()))?;
    }

    let ours: [u8; 16] = Md5::digest(data).into();
    let mut done = 0u64;
    let mut writing = Duration::ZERO;
    for (partition, kept) in &targets {
        let failed = Failure {
            port: &port,
            partition: &partition.name,
            total: data.len() as u64,
            kept,
        };

        // Write this partition, and nothing else.
        let write_start = Instant::now();
        let result = write_region(conn, partition.offset, data, &options.cancel, &mut |n| {
            let secs = (writing + write_start.elapsed()).as_secs_f64();
            let rate = if secs > 0.0 {
                (done + n) as f64 / secs
            } else {
                0.0
            };
            report(Stage::Writing, &partition.name, done + n, rate);
        });
        writing += write_start.elapsed();
        let rate = (done + data.len() as u64) as f64 / writing.as_secs_f64().max(1e-9);
        match result {
            Ok(Written::All) => {}
            Ok(Written::Cancelled(n)) => {
                restart(conn);
                return Err(UsbError::Cancelled {
                    partition: partition.name.clone(),
                    written: n,
                    total: data.len() as u64,
                    kept: kept.clone(),
                });
            }
            Err((e, n)) => return Err(failed.during_write(e, n)),
        }
        done += data.len() as u64;

        // Compare the ROM's MD5 of the region with ours; a mismatch leaves the slot blank.
        report(Stage::Verifying, &partition.name, done, rate);
        let theirs = region_md5(conn, partition.offset, data.len())
            .map_err(|e| failed.during_write(e, data.len() as u64))?;
        if theirs != ours {
            erase(conn, partition.offset, SECTOR_SIZE)
                .map_err(|e| failed.during_write(e, data.len() as u64))?;
            restart(conn);
            return Err(UsbError::VerifyFailed {
                partition: partition.name.clone(),
                kept: kept.clone(),
            });
        }
    }
    let rate = total as f64 / writing.as_secs_f64().max(1e-9);

    // A verified firmware becomes the one the bootloader starts.
    let boot_slot_selected = if let Payload::Firmware { slot, .. } = payload {
        let partition = &targets[0].0.name;
        report(Stage::Activating, partition, total, rate);
        let kept = format!(
            "{partition} holds the complete, verified new firmware, but the boot selection was \
             being rewritten, so the band may start either firmware until you retry"
        );
        let failed = Failure {
            port: &port,
            partition,
            total: data.len() as u64,
            kept: &kept,
        };
        select_boot_slot(conn, layout, slot).map_err(|e| match e {
            BootSelection::Failed(e) => failed.during_write(e, data.len() as u64),
            BootSelection::Mismatch => UsbError::VerifyFailed {
                partition: "otadata".into(),
                kept: kept.clone(),
            },
        })?;
        true
    } else {
        false
    };

    restart(conn);
    report(Stage::Done, &targets[targets.len() - 1].0.name, total, rate);
    Ok(FlashReport {
        partitions: targets.iter().map(|(p, _)| p.name.clone()).collect(),
        bytes: data.len(),
        md5: ours,
        elapsed: started.elapsed(),
        bytes_per_sec: rate,
        boot_slot_selected,
    })
}

/// Turns an espflash error during a partition's write into the user's terms.
struct Failure<'a> {
    port: &'a str,
    partition: &'a str,
    /// Bytes this partition gets.
    total: u64,
    /// What the band still has if this partition's write does not complete.
    kept: &'a str,
}

impl Failure<'_> {
    fn during_write(&self, e: espflash::Error, written: u64) -> UsbError {
        let (partition, total, kept) =
            (self.partition.to_owned(), self.total, self.kept.to_owned());
        match cause(&e) {
            Cause::Unplugged => UsbError::Unplugged {
                partition,
                written,
                total,
                kept,
            },
            Cause::Timeout => UsbError::Timeout {
                partition,
                written,
                total,
                kept,
            },
            Cause::Rom(detail) => UsbError::Device(detail),
            Cause::Other(detail) => UsbError::Serial(format!("{}: {detail}", self.port)),
        }
    }
}

enum BootSelection {
    Failed(espflash::Error),
    /// `otadata` did not read back as written.
    Mismatch,
}

/// Rewrites `otadata` so the bootloader starts `slot`, and checks it.
fn select_boot_slot(
    conn: &mut Connection,
    layout: &FlashLayout,
    slot: AppSlot,
) -> Result<(), BootSelection> {
    let record = otadata::select(slot);
    let offset = layout.otadata().offset;
    let never = AtomicBool::new(false);
    write_region(conn, offset, &record, &never, &mut |_| {})
        .map_err(|(e, _)| BootSelection::Failed(e))?;
    let expected: [u8; 16] = Md5::digest(&record).into();
    if region_md5(conn, offset, record.len()).map_err(BootSelection::Failed)? != expected {
        return Err(BootSelection::Mismatch);
    }
    Ok(())
}

/// Resets the board into download mode, syncs, checks it is an ESP32 and probes its flash.
fn connect(line: SerialLine, options: &FlashOptions) -> Result<Flasher, UsbError> {
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

enum Written {
    All,
    Cancelled(u64),
}

/// FLASH_BEGIN (the ROM erases the covered sectors) then one FLASH_DATA per 1 KB block.
fn write_region(
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
fn region_md5(conn: &mut Connection, offset: u32, len: usize) -> Result<[u8; 16], espflash::Error> {
    let size = len as u32;
    let digest: u128 = conn
        .with_timeout(CommandType::FlashMd5.timeout_for_size(size), |conn| {
            conn.command(Command::FlashMd5 { offset, size })
        })?
        .try_into()?;
    Ok(digest.to_be_bytes())
}

/// SPI_ATTACH with the module's default pins (the band's ESP32 module is not a PICO-D4).
fn attach_flash(conn: &mut Connection) -> Result<(), espflash::Error> {
    conn.with_timeout(CommandType::SpiAttach.timeout(), |conn| {
        conn.command(Command::SpiAttach {
            spi_params: SpiAttachParams::default(),
        })
    })?;
    Ok(())
}

/// Erases whole sectors: a FLASH_BEGIN with no data to follow.
fn erase(conn: &mut Connection, offset: u32, size: u32) -> Result<(), espflash::Error> {
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
fn restart(conn: &mut Connection) {
    let ended = conn.with_timeout(CommandType::FlashEnd.timeout(), |conn| {
        conn.command(Command::FlashEnd { reboot: true })
    });
    if let Err(e) = ended.and_then(|_| conn.reset_after(false, Chip::Esp32)) {
        tracing::warn!("could not restart the band after flashing: {e}");
    }
}

/// An indicatif progress bar for the CLI, fed with [`FlashProgress`] events.
pub struct CliProgress {
    bar: indicatif::ProgressBar,
}

impl CliProgress {
    pub fn new() -> CliProgress {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{msg:>10} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
            )
            .expect("static template")
            .progress_chars("=> "),
        );
        CliProgress { bar }
    }

    pub fn update(&mut self, p: &FlashProgress) {
        self.bar.set_length(p.total);
        self.bar.set_position(p.written);
        self.bar.set_message(match p.stage {
            Stage::Connecting => "connecting",
            Stage::Writing => "writing",
            Stage::Verifying => "verifying",
            Stage::Activating => "activating",
            Stage::Done => "done",
        });
        if p.stage == Stage::Done {
            self.bar.finish();
        }
    }
}

impl Default for CliProgress {
    fn default() -> Self {
        CliProgress::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usb(vid: u16, pid: u16, name: &str) -> SerialPortInfo {
        SerialPortInfo {
            port_name: name.into(),
            port_type: SerialPortType::UsbPort(UsbPortInfo {
                vid,
                pid,
                serial_number: Some("0001".into()),
                manufacturer: None,
                product: Some("board".into()),
            }),
        }
    }

    #[test]
    fn progress_events_serialize_for_the_ui() {
        let event = FlashProgress {
            stage: Stage::Writing,
            partition: "model_a".into(),
            written: 1024,
            total: 4096,
            bytes_per_sec: 2048.0,
            eta: Some(Duration::from_millis(1500)),
        };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["stage"], "writing");
        assert_eq!(json["eta"], 1.5);
        assert_eq!(event.fraction(), 0.25);
    }

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

    #[test]
    fn only_esp32_bridges_are_listed() {
        let ports = vec![
            usb(0x10c4, 0xea60, "/dev/ttyUSB0"),
            usb(0x2341, 0x0043, "/dev/ttyACM0"), // an Arduino Uno
            usb(0x303a, 0x1001, "/dev/ttyACM1"),
            SerialPortInfo {
                port_name: "/dev/ttyS0".into(),
                port_type: SerialPortType::Unknown,
            },
        ];
        let found = band_ports(ports);
        let paths: Vec<&str> = found.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["/dev/ttyUSB0", "/dev/ttyACM1"]);
        assert_eq!(found[0].bridge, "Silicon Labs CP210x");
        assert_eq!(found[1].serial_number.as_deref(), Some("0001"));
    }

    #[test]
    fn open_errors_become_plain_sentences() {
        let denied = open_error(
            "/dev/ttyUSB0",
            serialport::Error::new(
                serialport::ErrorKind::Io(std::io::ErrorKind::PermissionDenied),
                "EACCES",
            ),
        );
        assert!(matches!(denied, UsbError::PermissionDenied { .. }));
        assert!(denied.to_string().contains("dialout"), "{denied}");
        let busy = open_error(
            "/dev/ttyUSB0",
            serialport::Error::new(serialport::ErrorKind::NoDevice, "EBUSY"),
        );
        assert!(matches!(busy, UsbError::PortBusy { .. }));
    }

    #[test]
    fn opening_a_missing_port_says_so() {
        let err = SerialLine::open_path("/dev/bandx-no-such-port").unwrap_err();
        assert_eq!(
            err,
            UsbError::PortNotFound {
                port: "/dev/bandx-no-such-port".into()
            }
        );
    }

    #[test]
    fn an_oversized_payload_is_refused_before_any_io() {
        let (_, host) = serialport::TTYPort::pair().unwrap();
        let layout = FlashLayout::band();
        let blob = vec![0u8; layout.model_slot(ModelSlot::A).size as usize + 1];
        let err = flash(
            SerialLine::from_port(host, "pty"),
            &layout,
            Payload::Model {
                first: ModelSlot::A,
                blob: &blob,
            },
            &FlashOptions::default(),
            &mut |_| panic!("no progress before the size check"),
        )
        .unwrap_err();
        assert!(matches!(err, UsbError::TooLarge { .. }), "{err}");
    }
}
