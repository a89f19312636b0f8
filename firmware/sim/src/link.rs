//! What the sim's radio does to packets: timing (latency, throughput) and injected faults.

use std::time::Duration;

use bandx_core::protocol::Characteristic;

/// Latency and throughput of the simulated BLE link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkTiming {
    /// One-way delay of every packet (about a connection interval).
    pub latency: Duration,
    /// Air throughput in each direction, counting the 3-byte ATT header of every packet.
    pub bytes_per_second: u32,
}

impl LinkTiming {
    /// A typical phone-class link: 15 ms one way, 20 kB/s.
    pub const TYPICAL: LinkTiming = LinkTiming {
        latency: Duration::from_millis(15),
        bytes_per_second: 20_000,
    };

    /// Time on air of a packet of `len` payload bytes, in microseconds.
    pub(crate) fn airtime_us(&self, len: usize) -> u64 {
        let bps = u64::from(self.bytes_per_second.max(1));
        ((len as u64 + 3) * 1_000_000).div_ceil(bps)
    }

    pub(crate) fn latency_us(&self) -> u64 {
        self.latency.as_micros() as u64
    }
}

impl Default for LinkTiming {
    fn default() -> Self {
        LinkTiming::TYPICAL
    }
}

/// Faults injected into the current (and following) connections. Packets are numbered from 1 per
/// connection and direction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// Desktop-to-band writes that are lost (a lost write with response reports [`crate::SimError::NoAck`]).
    pub drop_writes: Vec<u64>,
    /// Band-to-desktop notifications that are lost.
    pub drop_notifications: Vec<u64>,
    /// The link drops ([`DisconnectReason::Lost`]) on the write that takes the bytes written in this
    /// connection past this count; that write is lost.
    pub disconnect_after_bytes: Option<u64>,
}

impl Faults {
    /// No faults.
    pub fn none() -> Faults {
        Faults::default()
    }

    /// Also lose the `n`th write (1-based).
    pub fn drop_write(mut self, n: u64) -> Faults {
        self.drop_writes.push(n);
        self
    }

    /// Also lose the `n`th notification (1-based).
    pub fn drop_notification(mut self, n: u64) -> Faults {
        self.drop_notifications.push(n);
        self
    }

    /// Drop the link once more than `bytes` have been written.
    pub fn disconnect_after_bytes(mut self, bytes: u64) -> Faults {
        self.disconnect_after_bytes = Some(bytes);
        self
    }
}

/// Why a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The desktop called disconnect.
    Requested,
    /// The band went away: injected fault, [`crate::SimBand::drop_link`], reboot or power cycle.
    Lost,
}

/// Something that happened to a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkEvent {
    Disconnected(DisconnectReason),
}

/// A notification from the band, with the exact GATT value bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub characteristic: Characteristic,
    pub value: Vec<u8>,
}

impl Notification {
    /// The characteristic's 128-bit UUID (`uuid::Uuid::from_u128` on the desktop).
    pub fn uuid(&self) -> u128 {
        self.characteristic.uuid()
    }
}

/// Traffic counters of one connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    pub writes: u64,
    pub bytes_written: u64,
    pub dropped_writes: u64,
    pub notifications: u64,
    pub bytes_notified: u64,
    pub dropped_notifications: u64,
}
