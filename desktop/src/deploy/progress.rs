//! Progress of a deployment, whatever the transport: one event type and one callback trait (as espflash's
//! `ProgressCallbacks`). The library reports through [`Progress`]; the CLI draws a bar from it, the app
//! forwards it to the window as an event.

use serde::Serialize;

/// What an update writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum DeployTarget {
    Model,
    Firmware,
}

/// Where a deployment is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Stage {
    /// Reaching the band (BLE: connecting; USB: resetting into the ROM loader and syncing).
    Connecting,
    /// Payload bytes on their way (USB: written block by block).
    Sending,
    /// BLE: back on a new connection after the link dropped, continuing from the band's offset.
    Resuming,
    /// Making the new payload the one the band runs (BLE: `CommitUpdate`; USB: pointing the
    /// bootloader at a new firmware slot).
    Committing,
    /// Checking the band holds and runs what was sent (BLE: `GetInfo`; USB: the ROM's MD5).
    Verifying,
    /// Firmware over BLE: the band restarts into the new image.
    Rebooting,
    Done,
}

/// A progress event, for the UI (serializable) and the CLI's bar.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeployProgress {
    pub stage: Stage,
    pub target: DeployTarget,
    /// USB: the partition being written or verified; BLE: none (the band picks its slot).
    pub partition: Option<String>,
    /// Bytes sent in order so far (BLE: the position in the payload; USB: over all partitions written).
    pub bytes_sent: u64,
    pub bytes_total: u64,
    /// Payload bytes per second since the transfer started (reconnections included).
    pub bytes_per_sec: f64,
    /// Estimated seconds until all bytes are sent.
    pub eta_secs: Option<f64>,
    /// BLE: times the link dropped and was reconnected so far (USB: always 0).
    pub reconnects: u32,
}

impl DeployProgress {
    /// Fraction sent, 0.0 to 1.0.
    pub fn fraction(&self) -> f64 {
        if self.bytes_total == 0 {
            1.0
        } else {
            self.bytes_sent as f64 / self.bytes_total as f64
        }
    }
}

/// Receives progress events. Any `FnMut(&DeployProgress) + Send` closure is one.
pub trait Progress: Send {
    fn update(&mut self, progress: &DeployProgress);
}

impl<F: FnMut(&DeployProgress) + Send> Progress for F {
    fn update(&mut self, progress: &DeployProgress) {
        self(progress)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_events_serialize_in_camel_case_for_the_ui() {
        let event = DeployProgress {
            stage: Stage::Resuming,
            target: DeployTarget::Model,
            partition: None,
            bytes_sent: 1024,
            bytes_total: 4096,
            bytes_per_sec: 2048.0,
            eta_secs: Some(1.5),
            reconnects: 1,
        };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["stage"], "resuming");
        assert_eq!(json["target"], "model");
        assert_eq!(json["bytesSent"], 1024);
        assert_eq!(json["etaSecs"], 1.5);
        assert_eq!(event.fraction(), 0.25);
    }
}
