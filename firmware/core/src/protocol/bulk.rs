//! Bulk update chunks (write without response): `target u8 | offset u32 LE | data`.

use core::fmt;

use super::UpdateTarget;

/// Bytes before a chunk's data.
pub const BULK_HEADER_LEN: usize = 5;

/// One chunk of an update image at an explicit offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkChunk<'a> {
    pub target: UpdateTarget,
    pub offset: u32,
    pub data: &'a [u8],
}

/// A malformed bulk write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkError {
    /// Shorter than the header or without data.
    Truncated,
    /// Unknown target byte.
    BadTarget(u8),
    /// The output buffer is too small.
    BufferTooSmall,
}

impl fmt::Display for BulkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated => write!(f, "bulk chunk truncated"),
            Self::BadTarget(t) => write!(f, "unknown update target {t}"),
            Self::BufferTooSmall => write!(f, "buffer too small for the chunk"),
        }
    }
}

impl core::error::Error for BulkError {}

impl<'a> BulkChunk<'a> {
    /// Decodes a bulk write.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, BulkError> {
        if bytes.len() <= BULK_HEADER_LEN {
            return Err(BulkError::Truncated);
        }
        let target = match bytes[0] {
            0 => UpdateTarget::Model,
            1 => UpdateTarget::Firmware,
            t => return Err(BulkError::BadTarget(t)),
        };
        let offset = u32::from_le_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]);
        Ok(BulkChunk {
            target,
            offset,
            data: &bytes[BULK_HEADER_LEN..],
        })
    }

    /// Encodes into `out`; returns the length.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, BulkError> {
        let len = BULK_HEADER_LEN + self.data.len();
        let out = out.get_mut(..len).ok_or(BulkError::BufferTooSmall)?;
        out[0] = self.target as u8;
        out[1..5].copy_from_slice(&self.offset.to_le_bytes());
        out[BULK_HEADER_LEN..].copy_from_slice(self.data);
        Ok(len)
    }
}
