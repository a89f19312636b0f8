//! The model blob: a versioned, self-checking byte format for the band's int8 CNN (see `FORMAT.md`).
//!
//! [`BlobWriter`] writes one into a caller buffer without allocating; [`Model::parse`] checks every byte
//! of one and gives a zero-copy view (weights stay in flash).
//!
//! ```
//! use bandx_core::blob::{BlobWriter, FilterSpec, InputSpec, Model, INPUT_LEN};
//! use bandx_core::quant::quantize_multiplier;
//!
//! let mut buf = [0u8; 2048];
//! let mut w = BlobWriter::new(&mut buf, 7, 1)?;
//! w.labels(&["still", "moving"])?;
//! w.input_spec(&InputSpec { mean: [0.0; 6], std: [1.0; 6], scale: 0.05, zero_point: 0 })?;
//! let (m, s) = quantize_multiplier(0.05 * 0.01 / 0.1); // in_scale * w_scale / out_scale
//! let conv = FilterSpec {
//!     in_channels: 6, out_channels: 4, kernel: 3, relu: true,
//!     weights: &[1; 4 * 3 * 6], bias: &[0; 4], multiplier: &[m; 4], shift: &[s; 4],
//!     out_zero_point: -128, out_scale: 0.1,
//! };
//! w.conv1d(1, &conv)?;
//! w.max_pool1d(2)?;
//! w.global_avg_pool()?;
//! let logits = FilterSpec {
//!     in_channels: 4, out_channels: 2, kernel: 1, relu: false,
//!     weights: &[1, 1, 1, 1, -1, -1, -1, -1], bias: &[0; 2], multiplier: &[m; 2], shift: &[s; 2],
//!     out_zero_point: 0, out_scale: 0.1,
//! };
//! w.dense(&logits)?;
//! // Record what this crate's engine computes for a test window as the blob's self-test.
//! w.self_test_from_engine(&[5; INPUT_LEN], &mut [0u8; 2048])?;
//! let len = w.finish()?;
//!
//! let model = Model::parse(&buf[..len])?;
//! let mut arena = [0u8; 1024];
//! model.self_test(&mut arena).expect("reproduces");
//! let p = model.infer(&[[0.3; 6]; 60], &mut arena).expect("arena large enough");
//! assert_eq!(model.labels().get(p.class as usize), Some("still"));
//! # Ok::<(), bandx_core::blob::BlobError>(())
//! ```

mod error;
mod layer;
mod model;
mod reader;
mod writer;

pub use error::{BlobError, LayerFault, Section};
pub use layer::{Filter, Layer, Layers, Shape};
pub use model::{Labels, Model, SelfTest};
pub use writer::{BlobWriter, FilterSpec};

use crate::{CHANNELS, WINDOW_LEN};

/// First four bytes of every blob.
pub const MAGIC: [u8; 4] = *b"BXMD";
/// The format version this build writes and reads.
///
/// 2: the input is int16, the final Dense after GlobalAvgPool reads the unrounded average and the
/// class is decided on finer logits (see `infer`); version-1 blobs (int8 input) are refused.
pub const FORMAT_VERSION: u16 = 2;
/// Bytes of the fixed header.
pub const HEADER_LEN: usize = 24;
/// Bytes of the trailing SHA-256.
pub const DIGEST_LEN: usize = 32;
/// Most classes a model may have (18-class WISDM fits; [`crate::protocol::Info`] carries as many labels).
pub const MAX_CLASSES: usize = 24;
/// Longest label, in UTF-8 bytes.
pub const MAX_LABEL_LEN: usize = 24;
/// Most layers a model may have.
pub const MAX_LAYERS: usize = 32;
/// Values in one quantized input window (60 x 6).
pub const INPUT_LEN: usize = WINDOW_LEN * CHANNELS;
/// Bytes of one quantized input window: the input is int16 (little-endian), every other tensor int8.
pub const INPUT_BYTES: usize = 2 * INPUT_LEN;

/// Layer op tags (byte 0 of every layer record).
pub(crate) mod tag {
    pub const CONV1D: u8 = 1;
    pub const MAX_POOL1D: u8 = 2;
    pub const GLOBAL_AVG_POOL: u8 = 3;
    pub const DENSE: u8 = 4;
}

/// How raw SI samples become the int16 input: per-channel normalization, then input quantization.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InputSpec {
    /// Per-channel mean subtracted first (ax, ay, az in m/s², gx, gy, gz in rad/s).
    pub mean: [f32; CHANNELS],
    /// Per-channel standard deviation divided by next.
    pub std: [f32; CHANNELS],
    /// Input quantization scale (of the int16 input codes).
    pub scale: f32,
    /// Input quantization zero point (of the int16 input codes).
    pub zero_point: i8,
}

/// SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

#[cfg(test)]
mod tests;
