//! The band's activity log: one compact record per minute in a ring of 4 KB flash sectors (the `log`
//! partition), kept whether or not a desktop is connected, so the desktop can sync what it missed.
//!
//! - [`minute`]: [`MinuteAccumulator`] folds each window's prediction into the current minute's [`Minute`];
//! - [`record`]: the on-flash forms, a 64-byte sector header (base sequence number, boot number, base minute,
//!   model id and version, a later-programmed wall-clock field) and 6-byte minute records;
//! - [`ring`]: [`ActivityLog`], the ring over whole sectors behind the [`LogFlash`] trait: append, set the
//!   wall clock, read records after a sequence number.
//!
//! Promises (property-tested in `tests.rs` against a NOR flash that loses power at any operation, tearing it):
//! a power cut loses at most the record being written; wrapping erases only the oldest sector; 16 sectors hold
//! at least [`MIN_CAPACITY_RECORDS`] minutes (7 days); a record's wall-clock time is either the band's boot
//! time learnt in that same boot plus its minute, or unknown — never guessed.

mod crc;
pub mod minute;
pub mod record;
mod ring;

pub use minute::{Minute, MinuteAccumulator, is_motionless};
pub use record::{HEADER_LEN, LOG_SECTOR, RECORD_LEN, RECORDS_PER_SECTOR};
pub use ring::{ActivityLog, LogEntry, LogFlash, MAX_SECTORS, ModelTag};

/// Minutes the 64 KB `log` partition always holds, even right after a wrap erased its oldest sector:
/// 15 full sectors of [`RECORDS_PER_SECTOR`] (10,080 = 7 days).
pub const MIN_CAPACITY_RECORDS: u32 = (MAX_SECTORS as u32 - 1) * RECORDS_PER_SECTOR;

#[cfg(test)]
mod tests;
