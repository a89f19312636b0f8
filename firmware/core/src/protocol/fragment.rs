//! Fragmentation of control messages over ATT packets of any size (MTU 23 upward).
//!
//! Each packet is `header u8 | data`: bits 0-6 of the header are the fragment index (0, 1, 2, ...), bit 7
//! marks the last fragment. A message is at most [`MAX_MESSAGE_LEN`] bytes.

use core::fmt;

/// Largest control message. The largest one is an `Info` response naming [`crate::blob::MAX_CLASSES`]
/// labels of [`crate::blob::MAX_LABEL_LEN`] bytes (about 650 bytes); 768 leaves room and still splits
/// into at most 41 fragments at MTU 23 (the 7-bit index allows 128).
pub const MAX_MESSAGE_LEN: usize = 768;
const LAST: u8 = 0x80;

/// Splits `message` into packets of at most `payload` bytes (including the 1-byte header).
pub fn fragments(message: &[u8], payload: usize) -> Fragments<'_> {
    Fragments {
        message,
        chunk: payload.saturating_sub(1).max(1),
        index: 0,
        done: false,
    }
}

/// Iterator of packets; each item is (header byte, data slice).
#[derive(Debug, Clone)]
pub struct Fragments<'a> {
    message: &'a [u8],
    chunk: usize,
    index: u8,
    done: bool,
}

impl<'a> Iterator for Fragments<'a> {
    type Item = (u8, &'a [u8]);
    fn next(&mut self) -> Option<(u8, &'a [u8])> {
        if self.done {
            return None;
        }
        let start = self.index as usize * self.chunk;
        let end = (start + self.chunk).min(self.message.len());
        let last = end == self.message.len();
        let header = (self.index & 0x7f) | if last { LAST } else { 0 };
        self.done = last;
        self.index = self.index.wrapping_add(1);
        Some((header, self.message.get(start..end).unwrap_or(&[])))
    }
}

/// A fragment that does not continue the message being reassembled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FragmentError {
    /// Empty packet.
    Empty,
    /// Index out of sequence (the partial message is dropped).
    OutOfSequence { expected: u8, got: u8 },
    /// The message grew beyond [`MAX_MESSAGE_LEN`].
    TooLong,
}

impl fmt::Display for FragmentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => write!(f, "empty fragment"),
            Self::OutOfSequence { expected, got } => {
                write!(f, "fragment {got} where {expected} was expected")
            }
            Self::TooLong => write!(f, "message longer than {MAX_MESSAGE_LEN} bytes"),
        }
    }
}

impl core::error::Error for FragmentError {}

/// Reassembles fragments into messages.
#[derive(Debug, Clone, Default)]
pub struct Reassembler {
    buf: heapless::Vec<u8, MAX_MESSAGE_LEN>,
    next: u8,
}

impl Reassembler {
    pub const fn new() -> Self {
        Self {
            buf: heapless::Vec::new(),
            next: 0,
        }
    }

    /// Feeds one packet; returns the whole message when its last fragment arrives. A fragment with index 0
    /// always starts a new message (so a lost last fragment costs one message, not the link).
    pub fn push(&mut self, packet: &[u8]) -> Result<Option<&[u8]>, FragmentError> {
        let (&header, data) = packet.split_first().ok_or(FragmentError::Empty)?;
        let index = header & 0x7f;
        if index == 0 {
            self.buf.clear();
            self.next = 0;
        }
        if index != self.next {
            let expected = self.next;
            self.buf.clear();
            self.next = 0;
            return Err(FragmentError::OutOfSequence {
                expected,
                got: index,
            });
        }
        if self.buf.extend_from_slice(data).is_err() {
            self.buf.clear();
            self.next = 0;
            return Err(FragmentError::TooLong);
        }
        self.next = (self.next + 1) & 0x7f;
        if header & LAST != 0 {
            self.next = 0;
            Ok(Some(&self.buf))
        } else {
            Ok(None)
        }
    }
}
