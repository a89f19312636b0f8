//! The predictions notification (postcard): one per classified window.

use serde::{Deserialize, Serialize};

/// What the band notifies on the predictions characteristic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PredictionEvent {
    /// Sequence number of the window (+1 per window, so receivers see gaps).
    pub window_seq: u32,
    /// Band clock (ms) at the window's last sample.
    pub timestamp_ms: u32,
    /// Class index into the active model's labels.
    pub class: u8,
    /// Softmax confidence in thousandths (0..=1000).
    pub confidence_permille: u16,
}

impl PredictionEvent {
    /// Largest encoding (fits the 20-byte payload of the default MTU).
    pub const MAX_LEN: usize = 14;

    /// Encodes into `out`; returns the length.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, postcard::Error> {
        Ok(postcard::to_slice(self, out)?.len())
    }

    /// Decodes a notification (trailing bytes are an error).
    pub fn decode(bytes: &[u8]) -> Result<Self, postcard::Error> {
        match postcard::take_from_bytes(bytes)? {
            (event, []) => Ok(event),
            _ => Err(postcard::Error::DeserializeBadEncoding),
        }
    }
}
