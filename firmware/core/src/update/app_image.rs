//! The ESP-IDF app image check: what the second-stage bootloader verifies before it starts an app, done before a
//! received firmware image is made bootable.
//!
//! Layout (`esp_image_header_t`, little-endian): a 24-byte header (magic `0xE9`, segment count, SPI mode and
//! speed, entry address, chip id at byte 12, chip revisions, `hash_appended` at byte 23), then each segment as
//! `load_addr u32 | data_len u32 | data`, then zero padding to the last byte of a 16-byte block, which holds the
//! checksum (`0xEF` XOR every segment data byte), then, when `hash_appended` is set, the SHA-256 of everything
//! before it. Checked here as the bootloader does (`esp_image_format.c`): magic, 1..=16 segments, the chip id, each
//! segment's length a multiple of 4 and inside the image, the checksum, the digest; and, because the desktop sends
//! exactly one image, no bytes after it. Not checked: segment load addresses, chip revisions, secure-boot signatures.
//!
//! [`AppImageChecker`] takes the image in pieces (the update receiver feeds it every chunk, so the band never
//! holds the image); [`check_app_image`] checks a whole one. Neither panics on any input.

use core::fmt;

use sha2::{Digest, Sha256};

use super::release::{APP_DESC_OFFSET, APP_DESC_READ_LEN, app_desc_release};

/// First byte of every app image.
pub const MAGIC: u8 = 0xE9;
/// The image header.
pub const HEADER_LEN: usize = 24;
/// A segment header: load address and data length.
pub const SEGMENT_HEADER_LEN: usize = 8;
/// Most segments the bootloader accepts (`ESP_IMAGE_MAX_SEGMENTS`).
pub const MAX_SEGMENTS: u8 = 16;
/// Seed of the XOR checksum (`ESP_ROM_CHECKSUM_INITIAL`).
pub const CHECKSUM_SEED: u8 = 0xEF;
/// Offset of the chip id (`u16`) in the header.
pub const CHIP_ID_OFFSET: usize = 12;
/// Offset of the `hash_appended` flag in the header.
pub const HASH_APPENDED_OFFSET: usize = 23;
/// The appended SHA-256.
pub const DIGEST_LEN: usize = 32;

/// The chip an app image is built for (`esp_chip_id_t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chip {
    /// ESP32 (Xtensa), chip id 0.
    Esp32,
    /// ESP32-C3 (RISC-V), chip id 5.
    Esp32C3,
}

impl Chip {
    /// The id in the image header.
    pub const fn id(self) -> u16 {
        match self {
            Chip::Esp32 => 0,
            Chip::Esp32C3 => 5,
        }
    }

    /// The chip's name as Espressif writes it.
    pub const fn name(self) -> &'static str {
        match self {
            Chip::Esp32 => "ESP32",
            Chip::Esp32C3 => "ESP32-C3",
        }
    }
}

/// Why an app image would not boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppImageError {
    /// The image ends after `len` bytes, before its header, segments, checksum or digest are complete.
    Truncated { len: u32 },
    /// The first byte is not [`MAGIC`]: not an ESP app image.
    BadMagic { found: u8 },
    /// The header declares 0 or more than [`MAX_SEGMENTS`] segments.
    BadSegmentCount { count: u8 },
    /// Built for another chip (the header's chip id).
    WrongChip { expected: Chip, found: u16 },
    /// Segment `index` declares a length that is not a multiple of 4 or runs past the end of the image.
    BadSegmentLength { index: u8, len: u32 },
    /// The checksum byte differs from the XOR of the segment data.
    ChecksumMismatch { stored: u8, computed: u8 },
    /// The appended SHA-256 differs from the image's.
    DigestMismatch,
    /// Bytes follow the end of the image.
    TrailingBytes { image_len: u32, total_len: u32 },
}

impl fmt::Display for AppImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            AppImageError::Truncated { len } => {
                write!(f, "the app image is cut short after {len} bytes")
            }
            AppImageError::BadMagic { found } => write!(
                f,
                "not an ESP app image (first byte {found:#04x}, expected {MAGIC:#04x})"
            ),
            AppImageError::BadSegmentCount { count } => write!(
                f,
                "the app image declares {count} segments (1..={MAX_SEGMENTS} allowed)"
            ),
            AppImageError::WrongChip { expected, found } => write!(
                f,
                "the app image is for chip id {found}{}, this band is an {} (chip id {})",
                match found {
                    0 => " (ESP32)",
                    5 => " (ESP32-C3)",
                    _ => "",
                },
                expected.name(),
                expected.id()
            ),
            AppImageError::BadSegmentLength { index, len } => write!(
                f,
                "segment {index} of the app image declares {len} bytes (not a multiple of 4, or past its end)"
            ),
            AppImageError::ChecksumMismatch { stored, computed } => write!(
                f,
                "the app image's checksum is {stored:#04x}, its segments give {computed:#04x}"
            ),
            AppImageError::DigestMismatch => {
                write!(f, "the app image's appended SHA-256 does not match it")
            }
            AppImageError::TrailingBytes {
                image_len,
                total_len,
            } => write!(
                f,
                "{} bytes follow the {image_len}-byte app image",
                total_len.saturating_sub(image_len)
            ),
        }
    }
}

impl core::error::Error for AppImageError {}

/// What a valid image declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppImageInfo {
    pub chip: Chip,
    pub segments: u8,
    /// Entry point address.
    pub entry: u32,
    /// Image length in bytes (digest included).
    pub len: u32,
    pub hash_appended: bool,
    /// The release its app description declares ([`super::release`]); `None` without a readable one.
    pub release: Option<u32>,
}

/// Where the checker is in the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Header,
    SegmentHeader,
    SegmentData { left: u32 },
    Padding { left: u32 },
    Checksum,
    Digest,
    Done,
}

/// Checks an app image fed in pieces of any size; see the module documentation.
#[derive(Debug, Clone)]
pub struct AppImageChecker {
    chip: Chip,
    total_len: u32,
    pos: u32,
    part: Part,
    /// Header, segment header or digest bytes gathered so far.
    buf: [u8; DIGEST_LEN],
    buf_len: usize,
    segments: u8,
    segment: u8,
    entry: u32,
    hash_appended: bool,
    checksum: u8,
    hasher: Sha256,
    /// The SHA-256 of the image up to and including the checksum byte.
    digest: [u8; DIGEST_LEN],
    error: Option<AppImageError>,
    /// The app description's first bytes, as they pass by.
    desc: [u8; APP_DESC_READ_LEN],
}

impl AppImageChecker {
    /// A checker for an image of `total_len` bytes that must be built for `chip`.
    pub fn new(chip: Chip, total_len: u32) -> Self {
        AppImageChecker {
            chip,
            total_len,
            pos: 0,
            part: Part::Header,
            buf: [0; DIGEST_LEN],
            buf_len: 0,
            segments: 0,
            segment: 0,
            entry: 0,
            hash_appended: false,
            checksum: CHECKSUM_SEED,
            hasher: Sha256::new(),
            digest: [0; DIGEST_LEN],
            error: None,
            desc: [0; APP_DESC_READ_LEN],
        }
    }

    /// Takes the next bytes of the image. The first error sticks: later calls and [`Self::finish`] return it.
    pub fn push(&mut self, mut data: &[u8]) -> Result<(), AppImageError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        // Keep the app description's bytes (image offsets APP_DESC_OFFSET..+APP_DESC_READ_LEN).
        let start = self.pos as usize;
        let (lo, hi) = (
            start.max(APP_DESC_OFFSET),
            (start + data.len()).min(APP_DESC_OFFSET + APP_DESC_READ_LEN),
        );
        if lo < hi {
            self.desc[lo - APP_DESC_OFFSET..hi - APP_DESC_OFFSET]
                .copy_from_slice(&data[lo - start..hi - start]);
        }
        while !data.is_empty() {
            match self.step(data) {
                Ok(used) => data = data.get(used..).unwrap_or_default(),
                Err(e) => {
                    self.error = Some(e);
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// All bytes pushed: the image's summary, or why it would not boot.
    pub fn finish(&self) -> Result<AppImageInfo, AppImageError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.part != Part::Done || self.pos != self.total_len {
            return Err(AppImageError::Truncated { len: self.pos });
        }
        Ok(AppImageInfo {
            chip: self.chip,
            segments: self.segments,
            entry: self.entry,
            len: self.pos,
            hash_appended: self.hash_appended,
            release: app_desc_release(&self.desc),
        })
    }

    /// Consumes a prefix of `data` (at least one byte) in the current part; returns its length.
    fn step(&mut self, data: &[u8]) -> Result<usize, AppImageError> {
        match self.part {
            Part::Header => {
                let used = self.gather(data, HEADER_LEN);
                if self.buf_len == HEADER_LEN {
                    self.header()?;
                }
                Ok(used)
            }
            Part::SegmentHeader => {
                let used = self.gather(data, SEGMENT_HEADER_LEN);
                if self.buf_len == SEGMENT_HEADER_LEN {
                    self.segment_header()?;
                }
                Ok(used)
            }
            Part::SegmentData { left } => {
                let take = data.len().min(left as usize);
                let bytes = data.get(..take).unwrap_or_default();
                self.checksum = bytes.iter().fold(self.checksum, |x, &b| x ^ b);
                self.consume(bytes);
                let left = left - take as u32;
                self.part = Part::SegmentData { left };
                if left == 0 {
                    self.segment_done();
                }
                Ok(take)
            }
            Part::Padding { left } => {
                let take = data.len().min(left as usize);
                self.consume(data.get(..take).unwrap_or_default());
                let left = left - take as u32;
                self.part = if left == 0 {
                    Part::Checksum
                } else {
                    Part::Padding { left }
                };
                Ok(take)
            }
            Part::Checksum => {
                let stored = data.first().copied().unwrap_or_default();
                self.consume(&[stored]);
                if stored != self.checksum {
                    return Err(AppImageError::ChecksumMismatch {
                        stored,
                        computed: self.checksum,
                    });
                }
                self.digest = self.hasher.clone().finalize().into();
                self.part = if self.hash_appended {
                    Part::Digest
                } else {
                    Part::Done
                };
                Ok(1)
            }
            Part::Digest => {
                let used = self.gather(data, DIGEST_LEN);
                if self.buf_len == DIGEST_LEN {
                    if self.buf != self.digest {
                        return Err(AppImageError::DigestMismatch);
                    }
                    self.part = Part::Done;
                }
                Ok(used)
            }
            Part::Done => Err(AppImageError::TrailingBytes {
                image_len: self.pos,
                total_len: self.total_len,
            }),
        }
    }

    /// Copies up to `want - buf_len` bytes into `buf`; returns how many.
    fn gather(&mut self, data: &[u8], want: usize) -> usize {
        let take = data.len().min(want.saturating_sub(self.buf_len));
        let (bytes, start) = (data.get(..take).unwrap_or_default(), self.buf_len);
        if let Some(dst) = self.buf.get_mut(start..start + take) {
            dst.copy_from_slice(bytes);
        }
        self.buf_len += take;
        if self.part == Part::Digest {
            self.pos = self.pos.saturating_add(take as u32);
        } else {
            self.consume(bytes);
        }
        take
    }

    /// Hashes and counts bytes of the image before its digest.
    fn consume(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
        self.pos = self.pos.saturating_add(bytes.len() as u32);
    }

    fn word(&self, at: usize) -> u32 {
        let b = |i: usize| self.buf.get(at + i).copied().unwrap_or_default();
        u32::from_le_bytes([b(0), b(1), b(2), b(3)])
    }

    fn header(&mut self) -> Result<(), AppImageError> {
        let h = self.buf;
        if h[0] != MAGIC {
            return Err(AppImageError::BadMagic { found: h[0] });
        }
        let count = h[1];
        if count == 0 || count > MAX_SEGMENTS {
            return Err(AppImageError::BadSegmentCount { count });
        }
        let chip = u16::from_le_bytes([h[CHIP_ID_OFFSET], h[CHIP_ID_OFFSET + 1]]);
        if chip != self.chip.id() {
            return Err(AppImageError::WrongChip {
                expected: self.chip,
                found: chip,
            });
        }
        self.segments = count;
        self.entry = self.word(4);
        self.hash_appended = h[HASH_APPENDED_OFFSET] != 0;
        self.buf_len = 0;
        self.part = Part::SegmentHeader;
        Ok(())
    }

    fn segment_header(&mut self) -> Result<(), AppImageError> {
        let len = self.word(4);
        let end = u64::from(self.pos) + u64::from(len);
        if !len.is_multiple_of(4) || end > u64::from(self.total_len) {
            return Err(AppImageError::BadSegmentLength {
                index: self.segment,
                len,
            });
        }
        self.buf_len = 0;
        self.part = Part::SegmentData { left: len };
        if len == 0 {
            self.segment_done();
        }
        Ok(())
    }

    /// After a segment's data: the next segment header, or the padding before the checksum.
    fn segment_done(&mut self) {
        self.segment += 1;
        self.part = if self.segment < self.segments {
            Part::SegmentHeader
        } else {
            // The checksum sits on the last byte of a 16-byte block.
            match 15 - self.pos % 16 {
                0 => Part::Checksum,
                left => Part::Padding { left },
            }
        };
    }
}

/// Checks a whole app image for `chip`.
pub fn check_app_image(image: &[u8], chip: Chip) -> Result<AppImageInfo, AppImageError> {
    let Ok(total_len) = u32::try_from(image.len()) else {
        return Err(AppImageError::TrailingBytes {
            image_len: 0,
            total_len: u32::MAX,
        });
    };
    let mut checker = AppImageChecker::new(chip, total_len);
    checker.push(image)?;
    checker.finish()
}

#[cfg(test)]
mod tests;
