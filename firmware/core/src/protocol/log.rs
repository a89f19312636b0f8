//! The activity log on the wire: [`LogChunk`], the answer to `ReadLog` (see `PROTOCOL.md`, "Activity log").

use serde::{Deserialize, Serialize};

use crate::log::{LogEntry, Minute};

/// Most records one `ReadLog` response carries (it also stops before the message would exceed
/// [`super::MAX_MESSAGE_LEN`]).
pub const MAX_LOG_RECORDS: usize = 40;

/// [`LogRecord::flags`]: the band was not worn (no window, or most windows motionless).
pub const FLAG_NOT_WORN: u8 = 1;
/// [`LogRecord::flags`]: no model classified the minute.
pub const FLAG_NO_MODEL: u8 = 2;

/// Records after the desktop's last sequence number, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogChunk {
    /// The oldest sequence number the band still holds: if it is above the desktop's `after_seq + 1`, the
    /// records in between were overwritten by the ring before they were synced.
    pub oldest_seq: u32,
    /// The sequence number the band's next record will get (everything below it is written).
    pub next_seq: u32,
    pub records: heapless::Vec<LogRecord, MAX_LOG_RECORDS>,
}

/// One minute of the band's log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRecord {
    pub seq: u32,
    /// The band's boot the minute belongs to.
    pub boot: u32,
    /// Minutes since that boot.
    pub minute: u32,
    /// Unix time (ms) of the minute's start; `None`: the wall clock was never set in that boot, so the
    /// minute's time is unknown.
    pub unix_ms: Option<u64>,
    /// Version of the model that classified it (0: none).
    pub model_version: u32,
    /// The dominant class (index into that model's labels).
    pub class: u8,
    /// Windows of the dominant class, and all windows of the minute.
    pub dominant: u8,
    pub windows: u8,
    /// Mean confidence of the dominant class's windows, percent.
    pub confidence_pct: u8,
    /// [`FLAG_NOT_WORN`] | [`FLAG_NO_MODEL`].
    pub flags: u8,
}

impl From<&LogEntry> for LogRecord {
    fn from(e: &LogEntry) -> Self {
        let Minute {
            class,
            dominant,
            windows,
            confidence_pct,
            not_worn,
            no_model,
        } = e.data;
        LogRecord {
            seq: e.seq,
            boot: e.boot,
            minute: e.minute,
            unix_ms: e.unix_ms,
            model_version: e.model.version,
            class,
            dominant,
            windows,
            confidence_pct,
            flags: (u8::from(not_worn) * FLAG_NOT_WORN) | (u8::from(no_model) * FLAG_NO_MODEL),
        }
    }
}

impl LogRecord {
    /// Bytes the record takes in a message (postcard).
    pub fn encoded_len(&self) -> usize {
        let mut buf = [0u8; 48];
        postcard::to_slice(self, &mut buf).map_or(48, |b| b.len())
    }
}
