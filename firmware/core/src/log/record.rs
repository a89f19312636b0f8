//! The log's on-flash forms: the sector header and the 6-byte minute record.
//!
//! A sector is `header (64 bytes) | 672 records of 6 bytes` = 4096 bytes exactly.
//!
//! Header, little-endian:
//! `0 magic "BXlg" | 4 base_seq u32 | 8 boot u32 | 12 base_minute u32 | 16 model_id u32 | 20 model_version u32 |
//!  24 crc32(0..24) | 28 retire marker u32 | 32 boot_unix_ms u64 | 40 crc32(32..40) | 44..64 0xFF`.
//! Record `i` of the sector has sequence number `base_seq + i`, was written in boot `boot` and covers band
//! minute `base_minute + delta`. The retire marker is programmed (any bit cleared) just before the *next*
//! sector is erased, so a power cut in that erase cannot leave a half-erased sector that looks valid. The
//! wall-clock field (`boot_unix_ms`: Unix time at band time 0 of that boot) is programmed once, when the desktop
//! first sets the time in that boot; until then (or if that write was torn) the sector's time is unknown.
//!
//! Record: 48 bits, little-endian: `delta 13 | class 5 | dominant 6 | windows 6 | confidence 7 | not_worn 1 |
//! no_model 1 | uncommitted 1 | crc8 8` (the CRC over the first five bytes with `uncommitted` = 0). It is
//! programmed twice: first with `uncommitted` = 1, then the single bit cleared. A write torn anywhere leaves
//! either an uncommitted record (skipped), or one whose CRC fails (skipped), or the whole record.

use super::crc::{crc8, crc32};
use super::minute::Minute;

/// Erase unit and ring step.
pub const LOG_SECTOR: u32 = 4096;
/// Bytes reserved for a sector's header.
pub const HEADER_LEN: u32 = 64;
/// Bytes per minute record.
pub const RECORD_LEN: u32 = 6;
/// Records per sector: 672.
pub const RECORDS_PER_SECTOR: u32 = (LOG_SECTOR - HEADER_LEN) / RECORD_LEN;
/// Largest minute distance from a sector's base minute a record can carry (13 bits: 5.7 days).
pub const MAX_DELTA: u32 = (1 << 13) - 1;

const MAGIC: [u8; 4] = *b"BXlg";
/// Bytes of the header that are read and written (the rest is reserved, erased).
pub(super) const HEADER_USED: usize = 44;
/// Offset of the retire marker.
pub(super) const RETIRE_AT: u32 = 28;
/// Offset of the wall-clock field (`boot_unix_ms` + its CRC).
pub(super) const TIME_AT: u32 = 32;
const UNCOMMITTED: u64 = 1 << 39;

/// A sector header as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub base_seq: u32,
    pub boot: u32,
    pub base_minute: u32,
    pub model_id: u32,
    pub model_version: u32,
    /// The retire marker was started: the next sector was (being) erased.
    pub retiring_next: bool,
    /// Unix ms at band time 0 of `boot`, if known.
    pub boot_unix_ms: Option<u64>,
}

impl Header {
    /// The header's bytes, retire marker erased, wall-clock field set if known.
    pub fn encode(&self) -> [u8; HEADER_USED] {
        let mut h = [0xFFu8; HEADER_USED];
        h[..4].copy_from_slice(&MAGIC);
        h[4..8].copy_from_slice(&self.base_seq.to_le_bytes());
        h[8..12].copy_from_slice(&self.boot.to_le_bytes());
        h[12..16].copy_from_slice(&self.base_minute.to_le_bytes());
        h[16..20].copy_from_slice(&self.model_id.to_le_bytes());
        h[20..24].copy_from_slice(&self.model_version.to_le_bytes());
        let crc = crc32(&h[..24]);
        h[24..28].copy_from_slice(&crc.to_le_bytes());
        if let Some(t) = self.boot_unix_ms {
            h[32..44].copy_from_slice(&encode_time(t));
        }
        h
    }

    /// Parses a header; `None` if the sector holds no valid one (erased, torn, foreign).
    pub fn decode(h: &[u8; HEADER_USED]) -> Option<Header> {
        if h[..4] != MAGIC || crc32(&h[..24]).to_le_bytes() != h[24..28] {
            return None;
        }
        let word = |at: usize| u32::from_le_bytes([h[at], h[at + 1], h[at + 2], h[at + 3]]);
        Some(Header {
            base_seq: word(4),
            boot: word(8),
            base_minute: word(12),
            model_id: word(16),
            model_version: word(20),
            retiring_next: word(28) != u32::MAX,
            boot_unix_ms: decode_time(&h[32..44]),
        })
    }
}

/// The wall-clock field: `boot_unix_ms u64 | crc32`.
pub fn encode_time(boot_unix_ms: u64) -> [u8; 12] {
    let mut t = [0u8; 12];
    t[..8].copy_from_slice(&boot_unix_ms.to_le_bytes());
    let crc = crc32(&t[..8]);
    t[8..].copy_from_slice(&crc.to_le_bytes());
    t
}

fn decode_time(t: &[u8]) -> Option<u64> {
    let value: [u8; 8] = t.get(..8)?.try_into().ok()?;
    (t.get(8..12)? == crc32(&value).to_le_bytes()).then(|| u64::from_le_bytes(value))
}

/// A record's bytes: `(first program, committed)`. `delta` must be at most [`MAX_DELTA`].
pub fn encode_record(
    delta: u32,
    m: &Minute,
) -> ([u8; RECORD_LEN as usize], [u8; RECORD_LEN as usize]) {
    let bits = u64::from(delta & MAX_DELTA)
        | u64::from(m.class & 0x1F) << 13
        | u64::from(m.dominant & 0x3F) << 18
        | u64::from(m.windows & 0x3F) << 24
        | u64::from(m.confidence_pct.min(100)) << 30
        | u64::from(m.not_worn) << 37
        | u64::from(m.no_model) << 38;
    let body = bits.to_le_bytes();
    let crc = crc8(&body[..5]);
    let committed = bits | u64::from(crc) << 40;
    let first = committed | UNCOMMITTED;
    let six = |v: u64| {
        let b = v.to_le_bytes();
        [b[0], b[1], b[2], b[3], b[4], b[5]]
    };
    (six(first), six(committed))
}

/// What a record slot holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// Never written.
    Erased,
    /// Written but torn or never committed: the record is lost, the slot used.
    Broken,
    /// A committed record: minute delta and the minute.
    Record(u32, Minute),
}

/// Parses a record slot.
pub fn decode_record(r: &[u8; RECORD_LEN as usize]) -> Slot {
    if r.iter().all(|&b| b == 0xFF) {
        return Slot::Erased;
    }
    let mut b = [0u8; 8];
    b[..6].copy_from_slice(r);
    let bits = u64::from_le_bytes(b);
    if bits & UNCOMMITTED != 0 || crc8(&b[..5]) != r[5] {
        return Slot::Broken;
    }
    let field = |at: u32, width: u32| ((bits >> at) & ((1 << width) - 1)) as u8;
    let minute = Minute {
        class: field(13, 5),
        dominant: field(18, 6),
        windows: field(24, 6),
        confidence_pct: field(30, 7),
        not_worn: bits >> 37 & 1 == 1,
        no_model: bits >> 38 & 1 == 1,
    };
    if minute.confidence_pct > 100 || minute.dominant > minute.windows {
        return Slot::Broken;
    }
    Slot::Record((bits & u64::from(MAX_DELTA)) as u32, minute)
}
