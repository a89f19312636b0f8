//! A bounds-checked little-endian cursor over untrusted bytes.

use super::BlobError;

pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8], pos: usize) -> Self {
        Self { bytes, pos }
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    /// The bytes from `start` up to the current position.
    pub fn span(&self, start: usize) -> &'a [u8] {
        self.bytes.get(start..self.pos).unwrap_or(&[])
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8], BlobError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        match end {
            Some(end) => {
                let s = &self.bytes[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(BlobError::Truncated { offset: self.pos }),
        }
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], BlobError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub fn u8(&mut self) -> Result<u8, BlobError> {
        Ok(self.array::<1>()?[0])
    }

    pub fn i8(&mut self) -> Result<i8, BlobError> {
        Ok(self.u8()? as i8)
    }

    pub fn u16(&mut self) -> Result<u16, BlobError> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    pub fn u32(&mut self) -> Result<u32, BlobError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub fn f32(&mut self) -> Result<f32, BlobError> {
        Ok(f32::from_le_bytes(self.array()?))
    }

    /// A byte that must be zero (reserved for later versions).
    pub fn reserved(&mut self) -> Result<(), BlobError> {
        let offset = self.pos;
        match self.u8()? {
            0 => Ok(()),
            _ => Err(BlobError::ReservedNotZero { offset }),
        }
    }
}

/// Element `i` of a little-endian `i32` array stored as bytes (0 if out of range; callers validate lengths).
pub(crate) fn le_i32(bytes: &[u8], i: usize) -> i32 {
    match bytes.get(i * 4..i * 4 + 4) {
        Some(&[a, b, c, d]) => i32::from_le_bytes([a, b, c, d]),
        _ => 0,
    }
}
