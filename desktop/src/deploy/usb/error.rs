//! Why a USB flash did not happen or did not complete, in the user's terms.

use super::super::payload::PayloadError;
use super::rom::{Cause, cause};

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
    #[error(transparent)]
    Payload(#[from] PayloadError),
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
    #[error("Cannot record the deployment in the local store: {0}")]
    Store(String),
}

impl UsbError {
    pub(super) fn store(e: crate::store::StoreError) -> UsbError {
        UsbError::Store(e.to_string())
    }
}

/// Turns an espflash error during a partition's write into the user's terms.
pub(super) struct Failure<'a> {
    pub port: &'a str,
    pub partition: &'a str,
    /// Bytes this partition gets.
    pub total: u64,
    /// What the band still has if this partition's write does not complete.
    pub kept: &'a str,
}

impl Failure<'_> {
    pub fn during_write(&self, e: espflash::Error, written: u64) -> UsbError {
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
