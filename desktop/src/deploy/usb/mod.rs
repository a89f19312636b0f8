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

//!
//! Modules: [`port`] (finding and opening the band's serial port), [`rom`] (the ROM loader's commands),
//! [`error`] (what went wrong, in the user's terms); the flash job is here.

mod error;
mod port;
mod rom;

use std::{
    sync::{Arc, atomic::AtomicBool},
    time::{Duration, Instant},
};

use bandx_board::otadata;
use bandx_board::partitions::{AppSlot, FlashLayout, Partition, SECTOR_SIZE, model_partition_name};
use bandx_core::update::Slot;
use espflash::connection::{Connection, ResetAfterOperation, ResetBeforeOperation};
use md5::{Digest, Md5};
use serde::Serialize;

pub use error::UsbError;
pub use port::{
    BandPort, ESP32_USB_BRIDGES, SerialLine, SystemPort, band_ports, find_band_port,
    list_band_ports, list_system_ports, system_ports,
};

use super::payload;
use super::progress::{DeployProgress, DeployTarget, Progress, Stage};
use super::record::{Outcome, Recorded, Recording};
use crate::store::Transport;
use error::Failure;
use rom::{Written, attach_flash, connect, erase, region_md5, restart, write_region};

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
    Model { first: Slot, blob: &'a [u8] },
    /// A firmware image into an app slot; the bootloader is pointed at it once it verified.
    Firmware { slot: AppSlot, image: &'a [u8] },
}

impl<'a> Payload<'a> {
    fn bytes(&self) -> &'a [u8] {
        match *self {
            Payload::Model { blob, .. } => blob,
            Payload::Firmware { image, .. } => image,
        }
    }

    /// The same bytes as the deploy service checks them.
    fn as_deploy_payload(&self) -> payload::Payload<'a> {
        match *self {
            Payload::Model { blob, .. } => payload::Payload::Model(blob),
            Payload::Firmware { image, .. } => payload::Payload::firmware(image),
        }
    }

    /// Where a payload goes when the band's active model slot is unknown (no BLE connection): a model to
    /// `model_b` first (a band that never had a BLE update runs from `model_a`), then `model_a`; a
    /// firmware to `ota_1`, which becomes the boot slot.
    pub fn unknown_band(payload: payload::Payload<'a>) -> Payload<'a> {
        match payload {
            payload::Payload::Model(blob) => Payload::Model {
                first: Slot::B,
                blob,
            },
            payload::Payload::Firmware { image, .. } => Payload::Firmware {
                slot: AppSlot::Ota1,
                image,
            },
        }
    }

    /// The partitions to write, in order, each with what the band still has if its write does
    /// not complete.
    fn targets(&self, layout: &FlashLayout) -> Vec<(Partition, String)> {
        match *self {
            Payload::Model { first, .. } => {
                let (a, b) = (
                    model_partition_name(first),
                    model_partition_name(first.other()),
                );
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

fn as_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
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
    progress: &mut dyn Progress,
) -> Result<FlashReport, UsbError> {
    let data = payload.bytes();
    let targets = payload.targets(layout);
    if let payload::Checked::Firmware(chip) = payload::check(payload.as_deploy_payload(), layout)? {
        // The USB flasher speaks to the ESP32's ROM loader only (it refuses another chip when it connects).
        payload::ensure_chip(chip, bandx_core::update::app_image::Chip::Esp32)?;
    }
    let target = match payload {
        Payload::Model { .. } => DeployTarget::Model,
        Payload::Firmware { .. } => DeployTarget::Firmware,
    };
    let total = (data.len() * targets.len()) as u64;
    let mut report = |stage, partition: &str, written, rate: f64| {
        let eta_secs =
            (rate > 0.0 && stage == Stage::Sending).then(|| (total - written) as f64 / rate);
        progress.update(&DeployProgress {
            stage,
            target,
            partition: Some(partition.to_owned()),
            bytes_sent: written,
            bytes_total: total,
            bytes_per_sec: rate,
            eta_secs,
            reconnects: 0,
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
            report(Stage::Sending, &partition.name, done + n, rate);
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
        report(Stage::Committing, partition, total, rate);
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

/// [`flash`] to the band's layout (`firmware/partitions.csv`), recorded in the store like a BLE deployment
/// when `recorded` says where ([`Recording`]). The line is opened inside the recorded span, so a missing or
/// busy port is recorded as a failure.
pub fn flash_recorded(
    recorded: Option<&Recorded<'_>>,
    open: impl FnOnce() -> Result<SerialLine, UsbError>,
    payload: Payload<'_>,
    options: &FlashOptions,
    progress: &mut dyn Progress,
) -> Result<FlashReport, UsbError> {
    let total = payload.bytes().len() as u64;
    let mut recording = match recorded {
        Some(r) => Some(Recording::start(r, Transport::Usb, total).map_err(UsbError::store)?),
        None => None,
    };
    let mut forward = |p: &DeployProgress| {
        if let Some(r) = recording.as_mut() {
            r.progress(p);
        }
        progress.update(p);
    };
    let layout = FlashLayout::band();
    let result = open().and_then(|line| flash(line, &layout, payload, options, &mut forward));
    if let Some(recording) = recording {
        let outcome = match &result {
            Ok(_) => Outcome::Verified {
                bytes_sent: total,
                resumed_count: 0,
            },
            Err(UsbError::Cancelled { .. }) => Outcome::Cancelled,
            Err(e) => Outcome::Failed(e),
        };
        recording.finish(outcome).map_err(UsbError::store)?;
    }
    result
}

/// Opens the serial port the user named, else the first one with an ESP32 USB bridge.
pub fn open_line(port: Option<&str>) -> Result<SerialLine, UsbError> {
    match port {
        Some(path) => SerialLine::open_path(path),
        None => SerialLine::open(&find_band_port()?),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::PayloadError;

    #[test]
    fn an_oversized_payload_is_refused_before_any_io() {
        let (_, host) = serialport::TTYPort::pair().unwrap();
        let layout = FlashLayout::band();
        let blob = vec![0u8; layout.model_slot(Slot::A).size as usize + 1];
        let err = flash(
            SerialLine::from_port(host, "pty"),
            &layout,
            Payload::Model {
                first: Slot::A,
                blob: &blob,
            },
            &FlashOptions::default(),
            &mut |_: &DeployProgress| panic!("no progress before the size check"),
        )
        .unwrap_err();
        assert!(
            matches!(err, UsbError::Payload(PayloadError::TooLarge { .. })),
            "{err}"
        );
    }
}

/// What [`forget_owner`] erased.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ForgetReport {
    /// The partition erased (`keys`).
    pub partition: String,
    pub offset: u32,
    pub bytes: u32,
}

/// Clears the band's owner and its bonds: erases the `keys` partition through the ROM loader, then restarts the
/// band. The physical path to a new owner (the band must be plugged in): afterwards the band has no bond and no
/// owner, so the next desktop that pairs (with the code on its screen) becomes its owner. Nothing else is touched:
/// the firmware, the models and the activity log stay.
pub fn forget_owner(
    line: SerialLine,
    layout: &FlashLayout,
    options: &FlashOptions,
) -> Result<ForgetReport, UsbError> {
    let keys = layout
        .get(bandx_board::partitions::KEYS_PARTITION)
        .cloned()
        .ok_or_else(|| UsbError::Device("the band's layout has no keys partition".into()))?;
    let port = line.name.clone();
    let mut flasher = connect(line, options)?;
    let conn = flasher.connection();
    if options.before == ResetBeforeOperation::NoResetNoSync {
        attach_flash(conn).map_err(|e| UsbError::Device(e.to_string()))?;
    }
    let kept =
        "The owner record is torn: the band treats it as no owner (or the old one) until you retry";
    let failed = Failure {
        port: &port,
        partition: &keys.name,
        total: u64::from(keys.size),
        kept,
    };
    erase(conn, keys.offset, keys.size).map_err(|e| failed.during_write(e, 0))?;
    // Erased flash reads as 0xFF: check the whole partition (its MD5) before saying it is done.
    let blank: [u8; 16] = Md5::digest(vec![0xFF; keys.size as usize]).into();
    let theirs =
        region_md5(conn, keys.offset, keys.size as usize).map_err(|e| failed.during_write(e, 0))?;
    if theirs != blank {
        restart(conn);
        return Err(UsbError::VerifyFailed {
            partition: keys.name.clone(),
            kept: kept.to_string(),
        });
    }
    restart(conn);
    Ok(ForgetReport {
        partition: keys.name,
        offset: keys.offset,
        bytes: keys.size,
    })
}
