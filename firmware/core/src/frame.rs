//! IMU stream frames: a sequence number, the first sample's timestamp and N raw samples, sized to one
//! BLE notification. Capacity follows from the notification payload (ATT MTU - 3), so the stream works
//! from the default MTU 23 (1 sample per frame) up to MTU 247 (19 samples per frame).
//!
//! Wire layout (little-endian): `seq u16 | timestamp_ms u32 | full-scale code u8 | count u8 |
//! count × (ax ay az gx gy gz: i16)`.

use core::fmt;

use crate::imu::{FullScale, RawSample};

/// Bytes before the samples.
pub const FRAME_HEADER_LEN: usize = 8;
/// Bytes per raw sample.
pub const SAMPLE_LEN: usize = 12;
/// Most samples in one frame (fills a 244-byte notification at ATT MTU 247).
pub const MAX_FRAME_SAMPLES: usize = 19;
/// Largest encoded frame.
pub const MAX_FRAME_LEN: usize = FRAME_HEADER_LEN + MAX_FRAME_SAMPLES * SAMPLE_LEN;

/// Samples per frame for a notification payload of `payload` bytes (ATT MTU - 3); 0 if not even one fits.
pub const fn frame_capacity(payload: usize) -> usize {
    if payload < FRAME_HEADER_LEN + SAMPLE_LEN {
        return 0;
    }
    let n = (payload - FRAME_HEADER_LEN) / SAMPLE_LEN;
    if n > MAX_FRAME_SAMPLES {
        MAX_FRAME_SAMPLES
    } else {
        n
    }
}

/// One IMU stream frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Frame sequence number, +1 per frame, wrapping.
    pub seq: u16,
    /// Band clock (ms) of the first sample; later samples follow at the sample rate.
    pub timestamp_ms: u32,
    /// Full scale of the samples (convert with [`FullScale::to_si`]).
    pub full_scale: FullScale,
    pub samples: heapless::Vec<RawSample, MAX_FRAME_SAMPLES>,
}

/// Why a frame could not be decoded or encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// Shorter than its header or its declared samples.
    Truncated,
    /// Bytes after the declared samples.
    TrailingBytes,
    /// Zero samples or more than [`MAX_FRAME_SAMPLES`].
    BadCount(u8),
    /// Unknown full-scale code.
    BadFullScale(u8),
    /// The output buffer is too small.
    BufferTooSmall,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated => write!(f, "frame truncated"),
            Self::TrailingBytes => write!(f, "bytes after the frame's samples"),
            Self::BadCount(n) => write!(f, "bad sample count {n}"),
            Self::BadFullScale(c) => write!(f, "unknown full-scale code {c:#04x}"),
            Self::BufferTooSmall => write!(f, "buffer too small for the frame"),
        }
    }
}

impl core::error::Error for FrameError {}

impl Frame {
    /// Encoded length.
    pub fn encoded_len(&self) -> usize {
        FRAME_HEADER_LEN + self.samples.len() * SAMPLE_LEN
    }

    /// Writes the frame into `out`; returns its length.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, FrameError> {
        let len = self.encoded_len();
        let out = out.get_mut(..len).ok_or(FrameError::BufferTooSmall)?;
        out[0..2].copy_from_slice(&self.seq.to_le_bytes());
        out[2..6].copy_from_slice(&self.timestamp_ms.to_le_bytes());
        out[6] = self.full_scale.code();
        out[7] = self.samples.len() as u8;
        for (s, chunk) in self
            .samples
            .iter()
            .zip(out[FRAME_HEADER_LEN..].chunks_exact_mut(SAMPLE_LEN))
        {
            for (i, v) in s.accel.iter().chain(s.gyro.iter()).enumerate() {
                chunk[2 * i..2 * i + 2].copy_from_slice(&v.to_le_bytes());
            }
        }
        Ok(len)
    }

    /// Decodes a frame, checking every length and code.
    pub fn decode(bytes: &[u8]) -> Result<Frame, FrameError> {
        let header = bytes.get(..FRAME_HEADER_LEN).ok_or(FrameError::Truncated)?;
        let seq = u16::from_le_bytes([header[0], header[1]]);
        let timestamp_ms = u32::from_le_bytes([header[2], header[3], header[4], header[5]]);
        let full_scale =
            FullScale::from_code(header[6]).ok_or(FrameError::BadFullScale(header[6]))?;
        let count = header[7];
        if count == 0 || count as usize > MAX_FRAME_SAMPLES {
            return Err(FrameError::BadCount(count));
        }
        let body = &bytes[FRAME_HEADER_LEN..];
        let need = count as usize * SAMPLE_LEN;
        if body.len() < need {
            return Err(FrameError::Truncated);
        }
        if body.len() > need {
            return Err(FrameError::TrailingBytes);
        }
        let mut samples = heapless::Vec::new();
        for chunk in body.chunks_exact(SAMPLE_LEN) {
            let v = |i: usize| i16::from_le_bytes([chunk[2 * i], chunk[2 * i + 1]]);
            let _ = samples.push(RawSample {
                accel: [v(0), v(1), v(2)],
                gyro: [v(3), v(4), v(5)],
            });
        }
        Ok(Frame {
            seq,
            timestamp_ms,
            full_scale,
            samples,
        })
    }
}

/// Packs samples into frames of a fixed capacity, numbering them.
#[derive(Debug, Clone)]
pub struct FrameBuilder {
    capacity: usize,
    next_seq: u16,
    full_scale: FullScale,
    pending: Option<Frame>,
}

impl FrameBuilder {
    /// A builder for a notification payload of `payload` bytes (ATT MTU - 3); at least one sample per frame.
    pub fn new(payload: usize, full_scale: FullScale) -> Self {
        Self {
            capacity: frame_capacity(payload).max(1),
            next_seq: 0,
            full_scale,
            pending: None,
        }
    }

    /// Samples per frame.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Adds a sample taken at `timestamp_ms`; returns a frame when one is full.
    pub fn push(&mut self, sample: RawSample, timestamp_ms: u32) -> Option<Frame> {
        let frame = self.pending.get_or_insert_with(|| Frame {
            seq: 0,
            timestamp_ms,
            full_scale: self.full_scale,
            samples: heapless::Vec::new(),
        });
        let _ = frame.samples.push(sample);
        if frame.samples.len() >= self.capacity {
            self.flush()
        } else {
            None
        }
    }

    /// Returns the partly filled frame, if any (e.g. when streaming stops).
    pub fn flush(&mut self) -> Option<Frame> {
        let mut frame = self.pending.take()?;
        frame.seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        Some(frame)
    }
}

/// What a received sequence number says about the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqEvent {
    /// The expected next frame (or the first one).
    InOrder,
    /// `lost` frames were skipped before this one.
    Gap { lost: u16 },
    /// An old or repeated frame (drop it).
    Stale,
}

/// Detects lost frames from sequence numbers (wrapping, half the space ahead counts as new).
#[derive(Debug, Clone, Default)]
pub struct LossDetector {
    expected: Option<u16>,
    /// Frames counted as lost so far.
    pub lost: u64,
}

impl LossDetector {
    /// Classifies a received sequence number and updates the expectation.
    pub fn accept(&mut self, seq: u16) -> SeqEvent {
        let Some(expected) = self.expected else {
            self.expected = Some(seq.wrapping_add(1));
            return SeqEvent::InOrder;
        };
        let ahead = seq.wrapping_sub(expected);
        if ahead >= 0x8000 {
            return SeqEvent::Stale;
        }
        self.expected = Some(seq.wrapping_add(1));
        if ahead == 0 {
            SeqEvent::InOrder
        } else {
            self.lost += ahead as u64;
            SeqEvent::Gap { lost: ahead }
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn capacity_follows_the_mtu() {
        assert_eq!(frame_capacity(244), 19); // ATT MTU 247
        assert_eq!(frame_capacity(20), 1); // default ATT MTU 23
        assert_eq!(frame_capacity(19), 0);
        assert_eq!(frame_capacity(1000), MAX_FRAME_SAMPLES);
        const { assert!(MAX_FRAME_LEN <= 244) };
    }

    #[test]
    fn builder_fills_frames_and_numbers_them() {
        let mut b = FrameBuilder::new(20, FullScale::DEFAULT);
        let f0 = b.push(RawSample::default(), 0).unwrap();
        let f1 = b.push(RawSample::default(), 50).unwrap();
        assert_eq!((f0.seq, f1.seq, f1.timestamp_ms), (0, 1, 50));
        let mut buf = [0u8; 20];
        assert_eq!(f1.encode(&mut buf), Ok(20));

        let mut b = FrameBuilder::new(244, FullScale::DEFAULT);
        for i in 0..18 {
            assert!(b.push(RawSample::default(), i * 50).is_none());
        }
        let f = b.push(RawSample::default(), 900).unwrap();
        assert_eq!(
            (f.samples.len(), f.timestamp_ms, f.encoded_len()),
            (19, 0, 236)
        );
    }

    #[test]
    fn loss_detector_counts_gaps_across_wraparound() {
        let mut d = LossDetector::default();
        assert_eq!(d.accept(65534), SeqEvent::InOrder);
        assert_eq!(d.accept(65535), SeqEvent::InOrder);
        assert_eq!(d.accept(2), SeqEvent::Gap { lost: 2 });
        assert_eq!(d.accept(1), SeqEvent::Stale);
        assert_eq!(d.accept(2), SeqEvent::Stale);
        assert_eq!(d.accept(3), SeqEvent::InOrder);
        assert_eq!(d.lost, 2);
    }

    #[test]
    fn malformed_frames_are_typed_errors() {
        assert_eq!(Frame::decode(&[0; 7]), Err(FrameError::Truncated));
        assert_eq!(
            Frame::decode(&[0, 0, 0, 0, 0, 0, 0x22, 1]),
            Err(FrameError::Truncated)
        );
        assert_eq!(
            Frame::decode(&[0, 0, 0, 0, 0, 0, 0x22, 0]),
            Err(FrameError::BadCount(0))
        );
        assert_eq!(
            Frame::decode(&[0, 0, 0, 0, 0, 0, 0x22, 20]),
            Err(FrameError::BadCount(20))
        );
        assert_eq!(
            Frame::decode(&[0, 0, 0, 0, 0, 0, 0x0f, 1]),
            Err(FrameError::BadFullScale(0x0f))
        );
        let mut long = [0u8; 21];
        long[6] = 0x22;
        long[7] = 1;
        assert_eq!(Frame::decode(&long), Err(FrameError::TrailingBytes));
    }

    fn sample() -> impl Strategy<Value = RawSample> {
        (any::<[i16; 3]>(), any::<[i16; 3]>()).prop_map(|(accel, gyro)| RawSample { accel, gyro })
    }

    proptest! {
        #[test]
        fn frames_round_trip(seq in any::<u16>(), ts in any::<u32>(), samples in proptest::collection::vec(sample(), 1..=19)) {
            let frame = Frame { seq, timestamp_ms: ts, full_scale: FullScale::DEFAULT, samples: samples.iter().copied().collect() };
            let mut buf = [0u8; MAX_FRAME_LEN];
            let n = frame.encode(&mut buf).unwrap();
            prop_assert_eq!(Frame::decode(&buf[..n]), Ok(frame));
        }

        #[test]
        fn random_bytes_never_panic_the_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = Frame::decode(&bytes);
        }
    }
}
