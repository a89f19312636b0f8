//! [`ActivityLog`]: the ring of minute records over the whole sectors of the `log` partition.
//!
//! Records are appended to the newest sector; a new sector is opened when the newest is full, when the band
//! rebooted (a header carries one boot) or runs another model (a header carries one model), or when the
//! minute no longer fits the record's 13-bit delta. Opening one erases only the sector after the newest
//! (the oldest), after marking the newest "retiring next", so a half-erased sector is never read back. At
//! load, the newest sector is the valid header with the highest base sequence number; its first slot after
//! the last written one is where the next record goes (a torn record keeps its slot and its number).

use super::minute::Minute;
use super::record::{
    HEADER_LEN, HEADER_USED, Header, LOG_SECTOR, MAX_DELTA, RECORD_LEN, RECORDS_PER_SECTOR,
    RETIRE_AT, Slot, TIME_AT, decode_record, encode_record, encode_time,
};
use crate::update::StorageError;

/// Most sectors the ring uses (the 64 KB partition); a larger partition's tail is left alone.
pub const MAX_SECTORS: usize = 16;

/// The log partition's flash, addressed from its start (`0..log_len()`).
pub trait LogFlash {
    /// Bytes of the partition (whole [`LOG_SECTOR`]s); 0 on a board that keeps no log.
    fn log_len(&self) -> u32;
    /// Reads `buf.len()` bytes at `offset`.
    fn log_read(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), StorageError>;
    /// Programs `data` at `offset`, both multiples of 4 bytes. NOR semantics: bits only go from 1 to 0, so
    /// 0xFF bytes leave what is there untouched.
    fn log_program(&mut self, offset: u32, data: &[u8]) -> Result<(), StorageError>;
    /// Erases the sector starting at `offset` (a multiple of [`LOG_SECTOR`]) to 0xFF.
    fn log_erase_sector(&mut self, offset: u32) -> Result<(), StorageError>;
}

/// The model a record was classified with (`id` and `version` of the blob; both 0: none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ModelTag {
    pub id: u32,
    pub version: u32,
}

/// One record as read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogEntry {
    /// Sequence number (1, 2, ... across the band's life; a lost record leaves a gap of one).
    pub seq: u32,
    /// The boot it was written in (counted in the log's headers).
    pub boot: u32,
    /// Band minute since that boot.
    pub minute: u32,
    /// Unix time (ms) of the minute's start, if the wall clock was learnt in that boot.
    pub unix_ms: Option<u64>,
    pub model: ModelTag,
    pub data: Minute,
}

/// The log's state in RAM: one header per sector, where the next record goes, this boot's number and
/// wall clock.
#[derive(Debug, Clone)]
pub struct ActivityLog {
    sectors: u32,
    heads: [Option<Header>; MAX_SECTORS],
    newest: Option<usize>,
    next_index: u32,
    boot: u32,
    boot_unix_ms: Option<u64>,
}

fn sector_at(sector: usize) -> u32 {
    sector as u32 * LOG_SECTOR
}

fn record_at(sector: usize, index: u32) -> u32 {
    sector_at(sector) + HEADER_LEN + index * RECORD_LEN
}

/// Programs `data` at any `offset`: whole 4-byte words, padded with 0xFF (which programs nothing).
fn program<F: LogFlash + ?Sized>(
    flash: &mut F,
    offset: u32,
    data: &[u8],
) -> Result<(), StorageError> {
    let start = offset & !3;
    let end = (offset + data.len() as u32 + 3) & !3;
    let mut words = [0xFFu8; HEADER_USED + 4];
    let buf = words
        .get_mut(..(end - start) as usize)
        .ok_or(StorageError)?;
    let lead = (offset - start) as usize;
    buf[lead..lead + data.len()].copy_from_slice(data);
    flash.log_program(start, buf)
}

fn read_record<F: LogFlash + ?Sized>(
    flash: &mut F,
    sector: usize,
    index: u32,
) -> Result<Slot, StorageError> {
    let mut r = [0u8; RECORD_LEN as usize];
    flash.log_read(record_at(sector, index), &mut r)?;
    Ok(decode_record(&r))
}

impl ActivityLog {
    /// Reads every sector's header and finds where the next record goes. This boot's number is one more than
    /// the highest in the log.
    pub fn load<F: LogFlash + ?Sized>(flash: &mut F) -> Result<ActivityLog, StorageError> {
        let sectors = (flash.log_len() / LOG_SECTOR).min(MAX_SECTORS as u32);
        // A ring needs a sector to erase besides the one it writes.
        let sectors = if sectors < 2 { 0 } else { sectors };
        let mut heads = [None; MAX_SECTORS];
        for (s, head) in heads.iter_mut().enumerate().take(sectors as usize) {
            let mut h = [0u8; HEADER_USED];
            flash.log_read(sector_at(s), &mut h)?;
            *head = Header::decode(&h);
        }
        let newest = (0..sectors as usize)
            .filter_map(|s| heads[s].map(|h| (s, h.base_seq)))
            .max_by_key(|&(_, seq)| seq)
            .map(|(s, _)| s);
        if let Some(n) = newest
            && heads[n].is_some_and(|h| h.retiring_next)
        {
            // The sector after it was being erased when the power went: whatever it holds is not trusted.
            let next = (n + 1) % sectors as usize;
            if next != n {
                heads[next] = None;
            }
        }
        let mut next_index = 0;
        if let Some(n) = newest {
            for index in (0..RECORDS_PER_SECTOR).rev() {
                if read_record(flash, n, index)? != Slot::Erased {
                    next_index = index + 1;
                    break;
                }
            }
        }
        let boot = heads
            .iter()
            .flatten()
            .map(|h| h.boot)
            .max()
            .map_or(0, |b| b.wrapping_add(1));
        Ok(ActivityLog {
            sectors,
            heads,
            newest,
            next_index,
            boot,
            boot_unix_ms: None,
        })
    }

    /// Whether the board has a log partition the ring can use.
    pub fn available(&self) -> bool {
        self.sectors > 0
    }

    /// This boot's number.
    pub fn boot(&self) -> u32 {
        self.boot
    }

    /// The wall clock learnt in this boot: Unix ms at band time 0.
    pub fn boot_unix_ms(&self) -> Option<u64> {
        self.boot_unix_ms
    }

    /// The sequence number the next record gets.
    pub fn next_seq(&self) -> u32 {
        self.newest
            .and_then(|n| self.heads[n])
            .map_or(1, |h| h.base_seq + self.next_index)
    }

    /// The oldest sequence number still in the log (records older than it were overwritten); equals
    /// [`Self::next_seq`] when the log is empty.
    pub fn oldest_seq(&self) -> u32 {
        self.heads
            .iter()
            .flatten()
            .map(|h| h.base_seq)
            .min()
            .unwrap_or_else(|| self.next_seq())
    }

    /// Appends the record of band minute `minute` (since this boot), classified with `model`. Returns its
    /// sequence number. On an error (a power cut) the record is lost and its slot stays used.
    pub fn append<F: LogFlash + ?Sized>(
        &mut self,
        flash: &mut F,
        minute: u32,
        model: ModelTag,
        data: &Minute,
    ) -> Result<u32, StorageError> {
        if self.sectors == 0 {
            return Err(StorageError);
        }
        let fits = self.newest.and_then(|n| self.heads[n]).is_some_and(|h| {
            self.next_index < RECORDS_PER_SECTOR
                && h.boot == self.boot
                && h.model_id == model.id
                && h.model_version == model.version
                && minute >= h.base_minute
                && minute - h.base_minute <= MAX_DELTA
        });
        if !fits {
            self.open_sector(flash, minute, model)?;
        }
        let n = self.newest.ok_or(StorageError)?;
        let h = self.heads[n].ok_or(StorageError)?;
        let index = self.next_index;
        self.next_index += 1;
        let (first, committed) = encode_record(minute - h.base_minute, data);
        program(flash, record_at(n, index), &first)?;
        program(flash, record_at(n, index), &committed)?;
        Ok(h.base_seq + index)
    }

    /// Marks the newest sector retiring, erases the one after it and writes its header.
    fn open_sector<F: LogFlash + ?Sized>(
        &mut self,
        flash: &mut F,
        minute: u32,
        model: ModelTag,
    ) -> Result<(), StorageError> {
        let (target, base_seq) = match self.newest.and_then(|n| self.heads[n].map(|h| (n, h))) {
            Some((n, h)) => {
                if !h.retiring_next {
                    program(flash, sector_at(n) + RETIRE_AT, &[0; 4])?;
                    self.heads[n] = Some(Header {
                        retiring_next: true,
                        ..h
                    });
                }
                (
                    (n + 1) % self.sectors as usize,
                    h.base_seq + self.next_index,
                )
            }
            None => (0, 1),
        };
        self.heads[target] = None;
        flash.log_erase_sector(sector_at(target))?;
        let header = Header {
            base_seq,
            boot: self.boot,
            base_minute: minute,
            model_id: model.id,
            model_version: model.version,
            retiring_next: false,
            boot_unix_ms: self.boot_unix_ms,
        };
        program(flash, sector_at(target), &header.encode())?;
        self.heads[target] = Some(header);
        self.newest = Some(target);
        self.next_index = 0;
        Ok(())
    }

    /// The wall clock, learnt from the desktop: Unix ms at band time 0 of this boot. The first one of a
    /// boot is kept (later ones differ only by the band's clock drift) and written into the headers of this
    /// boot's sectors, so records written before it get their time too, even after a reboot.
    pub fn set_time<F: LogFlash + ?Sized>(
        &mut self,
        flash: &mut F,
        boot_unix_ms: u64,
    ) -> Result<(), StorageError> {
        let t = *self.boot_unix_ms.get_or_insert(boot_unix_ms);
        for s in 0..self.sectors as usize {
            if let Some(h) = self.heads[s]
                && h.boot == self.boot
                && h.boot_unix_ms.is_none()
            {
                program(flash, sector_at(s) + TIME_AT, &encode_time(t))?;
                self.heads[s] = Some(Header {
                    boot_unix_ms: Some(t),
                    ..h
                });
            }
        }
        Ok(())
    }

    /// Calls `visit` with each record whose sequence number is above `after_seq`, oldest first, until it
    /// returns `false`.
    pub fn read_after<F: LogFlash + ?Sized>(
        &self,
        flash: &mut F,
        after_seq: u32,
        mut visit: impl FnMut(LogEntry) -> bool,
    ) -> Result<(), StorageError> {
        let mut from_seq = 0u32;
        loop {
            // The sector with the lowest base sequence number at or above `from_seq`.
            let Some((s, h)) = (0..self.sectors as usize)
                .filter_map(|s| self.heads[s].map(|h| (s, h)))
                .filter(|(_, h)| h.base_seq >= from_seq)
                .min_by_key(|(_, h)| h.base_seq)
            else {
                return Ok(());
            };
            let used = if Some(s) == self.newest {
                self.next_index
            } else {
                RECORDS_PER_SECTOR
            };
            let first = after_seq.saturating_add(1).saturating_sub(h.base_seq);
            for index in first..used {
                if let Slot::Record(delta, data) = read_record(flash, s, index)? {
                    let minute = h.base_minute + delta;
                    let boot_unix_ms = h
                        .boot_unix_ms
                        .or(self.boot_unix_ms.filter(|_| h.boot == self.boot));
                    let entry = LogEntry {
                        seq: h.base_seq + index,
                        boot: h.boot,
                        minute,
                        unix_ms: boot_unix_ms.map(|t| t + u64::from(minute) * 60_000),
                        model: ModelTag {
                            id: h.model_id,
                            version: h.model_version,
                        },
                        data,
                    };
                    if !visit(entry) {
                        return Ok(());
                    }
                }
            }
            from_seq = h.base_seq + 1;
        }
    }
}
