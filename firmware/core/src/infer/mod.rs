//! The int8 inference engine: integer-only layers over a caller-provided arena.
//!
//! Activations live in the arena as `[t][c]` int8 tensors; only the model input is int16 (int8 input
//! steps were the largest rounding in the network), read by the first convolution. Each layer reads its
//! input from one end of the arena and writes its output at the other end, so the arena needs
//! `max(in + out)` bytes over the layers (what the blob declares). All layer math is integer (TFLite
//! semantics), so results are bit-identical on every platform; f32 is used only to normalize/quantize
//! the input and for the final softmax.
//!
//! Modules: `conv` (Conv1d and Dense as contiguous dot products over a 2 KB stack tile, a following
//! max pool fused), `pairs` (the host's kernel: blocks of steps × channels that compile to SSE2's
//! `pmaddwd`; x86-64 only, see [`USE_PAIRS`]), `pool`, `head` (the final Dense on a global average pool),
//! `requant` (per-channel requantization). The kernels before this layout live on, test-only, in
//! `legacy`; a property test checks both kernel sets agree with it bit for bit on random models, inputs
//! and scratch sizes.
//!
//! Cost (`make bench`, README "Speed"): the shipped generic 18-class blob (152 k MACs) takes 794 k
//! instructions per window for the int8 layers and the decision on rv32imc (the ESP32-C3's ISA; 5.0 ms at
//! 160 MHz; before: 2.84 M) and 1.0 M with the soft-float input normalization; stack: the 2 KB tile
//! plus the 720-byte quantized input. On the 2-core x86-64 host: ~17 µs of CPU time per window (before
//! the paired kernel: 20.8 µs), 334 k instructions (before: 370 k).

use core::fmt;

use crate::blob::{INPUT_BYTES, INPUT_LEN, InputSpec, Layer, Layers, MAX_CLASSES, Model, Shape};
use crate::quant::{exp_f32, quantize_i16};
use crate::{CHANNELS, Window};

mod conv;
mod head;
#[cfg(test)]
mod legacy;
mod pairs;
mod pool;
mod requant;
#[cfg(test)]
mod tests;

use conv::Conv;

/// Extra fractional bits the final layer keeps for the decision.
///
/// Rounding the logits to whole int8 steps often ties or swaps the top two classes when the float
/// model's margin is under one step; the class is therefore chosen on the same requantized values
/// with `DECISION_BITS` more bits, unclamped, straight from the final accumulators.
pub const DECISION_BITS: u32 = 8;

/// What the model says about one window.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// Index of the most likely class by the fine logits (first one on exact ties).
    pub class: u8,
    /// Softmax probability of `class`, in (0, 1].
    pub confidence: f32,
    /// The int8 logits, one per class.
    pub logits: heapless::Vec<i8, MAX_CLASSES>,
}

/// The final layer's output: int8 logits and the same logits with [`DECISION_BITS`] more bits
/// (without the zero point), which decide the class.
pub(crate) struct Logits<'r> {
    pub int8: &'r [u8],
    pub fine: [i32; MAX_CLASSES],
    /// The last layer's output scale when it is a Dense (what the softmax dequantizes with).
    pub scale: Option<f32>,
}

/// Why inference could not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InferError {
    /// The caller's arena is shorter than the model needs.
    ArenaTooSmall { needed: usize, got: usize },
    /// The layers do not chain (only possible for unvalidated layer lists).
    ShapeMismatch,
    /// The built-in self-test gave a different output than the blob records.
    SelfTestMismatch { expected_class: u8, got_class: u8 },
}

impl fmt::Display for InferError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ArenaTooSmall { needed, got } => {
                write!(f, "arena too small: {needed} bytes needed, {got} given")
            }
            Self::ShapeMismatch => write!(f, "layer shapes do not chain"),
            Self::SelfTestMismatch {
                expected_class,
                got_class,
            } => write!(
                f,
                "self-test mismatch: expected class {expected_class}, got {got_class} (or different logits)"
            ),
        }
    }
}

impl core::error::Error for InferError {}

/// Normalizes and quantizes a window of SI samples into the model's int16 input.
pub fn quantize_window(spec: &InputSpec, window: &Window, out: &mut [i16; INPUT_LEN]) {
    for (t, sample) in window.iter().enumerate() {
        for (c, &x) in sample.iter().enumerate() {
            let normalized = (x - spec.mean[c]) / spec.std[c];
            out[t * CHANNELS + c] = quantize_i16(normalized, spec.scale, spec.zero_point);
        }
    }
}

/// Runs `model` on a window of SI samples (`[t][c]`: ax, ay, az m/s², gx, gy, gz rad/s).
pub fn run(model: &Model<'_>, window: &Window, arena: &mut [u8]) -> Result<Prediction, InferError> {
    let mut input = [0i16; INPUT_LEN];
    quantize_window(model.input_spec(), window, &mut input);
    run_quantized(model, &input, arena)
}

/// Runs `model` on an already quantized window.
pub fn run_quantized(
    model: &Model<'_>,
    input: &[i16; INPUT_LEN],
    arena: &mut [u8],
) -> Result<Prediction, InferError> {
    let needed = model.required_arena();
    let got = arena.len();
    let arena = arena
        .get_mut(..needed)
        .ok_or(InferError::ArenaTooSmall { needed, got })?;
    let logits = forward(model.layers(), model.input_spec().zero_point, input, arena)?;
    let scale = logits.scale.ok_or(InferError::ShapeMismatch)?;
    Ok(predict(&logits, scale))
}

/// Runs the blob's self-test; `Ok` carries the (reproduced) prediction.
pub fn self_test(model: &Model<'_>, arena: &mut [u8]) -> Result<Prediction, InferError> {
    let vector = model.self_test_vector();
    let prediction = run_quantized(model, &vector.input(), arena)?;
    if prediction.class != vector.class || !prediction.logits.iter().copied().eq(vector.logits()) {
        return Err(InferError::SelfTestMismatch {
            expected_class: vector.class,
            got_class: prediction.class,
        });
    }
    Ok(prediction)
}

/// `i16` values of stack scratch the kernels use (2 KB): a tile of a convolution's input rows, or the
/// head's column sums. A layer whose kernel window does not fit runs the original, slower loop.
pub(crate) const SCRATCH_LEN: usize = 1024;

/// Runs `layers` on `input`; returns the final activations (a slice of `arena`) and, when the last
/// layer is `Dense`, its fine logits.
pub(crate) fn forward<'r>(
    layers: Layers<'_>,
    input_zero_point: i8,
    input: &[i16; INPUT_LEN],
    arena: &'r mut [u8],
) -> Result<Logits<'r>, InferError> {
    forward_with::<USE_PAIRS>(
        layers,
        input_zero_point,
        input,
        arena,
        &mut [0i16; SCRATCH_LEN],
    )
}

/// Whether the convolutions take the paired kernel (`pairs`): on x86-64, where it compiles to SSE2's
/// `pmaddwd`; the band's scalar core keeps the step-blocked kernels of `conv`. Both give the same bits.
const USE_PAIRS: bool = cfg!(target_arch = "x86_64");

/// [`forward`] with the caller's scratch (tests pass small ones to exercise tiling and the fallbacks)
/// and the kernel choice (`PAIRED`: the paired kernel where it applies, see [`USE_PAIRS`]; tests run both).
pub(crate) fn forward_with<'r, const PAIRED: bool>(
    layers: Layers<'_>,
    input_zero_point: i8,
    input: &[i16; INPUT_LEN],
    arena: &'r mut [u8],
    scratch: &mut [i16],
) -> Result<Logits<'r>, InferError> {
    let n = arena.len();
    if n < INPUT_BYTES {
        return Err(InferError::ArenaTooSmall {
            needed: INPUT_BYTES,
            got: n,
        });
    }
    for (a, &q) in arena.chunks_exact_mut(2).zip(input.iter()) {
        a.copy_from_slice(&q.to_le_bytes());
    }
    let mut shape = Shape::INPUT;
    let mut zero_point = input_zero_point;
    let mut in_front = true;
    let mut fine = [0i32; MAX_CLASSES];
    // Where the last GlobalAvgPool's input still lies: (shape, zero point, at the front).
    let mut pooled: Option<(Shape, i8, bool)> = None;
    let last = layers.len().saturating_sub(1);
    let mut scale = None;
    let mut iter = layers.iter().enumerate().peekable();
    while let Some((index, layer)) = iter.next() {
        scale = match layer {
            Layer::Dense(f) => Some(f.out_scale),
            _ => None,
        };
        let out = shape.after(&layer).map_err(|_| InferError::ShapeMismatch)?;
        let (ib, ob) = (shape.bytes(), out.bytes());
        if ib + ob > n {
            return Err(InferError::ArenaTooSmall {
                needed: ib + ob,
                got: n,
            });
        }
        // The final Dense after a GlobalAvgPool reads the pooled sums, not their rounded averages.
        if let (Layer::Dense(filter), Some((pool_in, pool_zp, pool_front)), true) =
            (&layer, pooled, index == last)
        {
            let bytes = pool_in.bytes();
            let src = if pool_front {
                &arena[..bytes]
            } else {
                &arena[n - bytes..]
            };
            let mut logits = [0i8; MAX_CLASSES];
            head::dense_on_pooled(
                filter,
                pool_in,
                pool_zp,
                src,
                scratch,
                &mut logits,
                &mut fine,
            );
            let dst = if in_front {
                &mut arena[n - ob..]
            } else {
                &mut arena[..ob]
            };
            for (d, &q) in dst.iter_mut().zip(&logits) {
                *d = q as u8;
            }
            shape = out;
            in_front = !in_front;
            continue;
        }
        pooled = match layer {
            Layer::GlobalAvgPool => Some((shape, zero_point, in_front)),
            _ => None,
        };
        let (src, dst): (&[u8], &mut [u8]) = if in_front {
            let (lo, hi) = arena.split_at_mut(n - ob);
            (&lo[..ib], hi)
        } else {
            let (lo, hi) = arena.split_at_mut(ob);
            (&hi[hi.len() - ib..], lo)
        };
        match layer {
            Layer::Conv1d { padding, filter } => {
                let conv = Conv {
                    f: &filter,
                    padding: padding as usize,
                    inp: shape,
                    in_zp: zero_point,
                    out,
                };
                zero_point = filter.out_zero_point;
                // A MaxPool1d right after runs fused: its output goes where it would have gone.
                if let Some(&(_, pool @ Layer::MaxPool1d { size })) = iter.peek() {
                    let pooled = out.after(&pool).map_err(|_| InferError::ShapeMismatch)?;
                    let pb = pooled.bytes();
                    let at = if in_front { ob - pb } else { 0 };
                    let pooled_dst = &mut dst[at..at + pb];
                    if conv.run_pooled::<PAIRED>(src, pooled_dst, scratch, size as usize, pooled) {
                        iter.next();
                        shape = pooled;
                        in_front = !in_front;
                        continue;
                    }
                }
                conv.run::<PAIRED>(src, dst, scratch, None);
            }
            // Dense on a length-1 tensor is a kernel-1 convolution without padding.
            Layer::Dense(filter) => {
                let conv = Conv {
                    f: &filter,
                    padding: 0,
                    inp: shape,
                    in_zp: zero_point,
                    out,
                };
                conv.run::<PAIRED>(src, dst, scratch, Some(&mut fine));
                zero_point = filter.out_zero_point;
            }
            Layer::MaxPool1d { size } => pool::max_pool1d(size as usize, shape, src, out, dst),
            Layer::GlobalAvgPool => pool::global_avg_pool(shape, src, dst),
        }
        shape = out;
        in_front = !in_front;
    }
    let bytes = shape.bytes();
    let int8 = if in_front {
        &arena[..bytes]
    } else {
        &arena[n - bytes..]
    };
    Ok(Logits { int8, fine, scale })
}

/// Argmax and softmax confidence of the final layer's output with the given output scale.
pub(crate) fn predict(logits: &Logits<'_>, scale: f32) -> Prediction {
    let mut out = heapless::Vec::new();
    for &b in logits.int8.iter().take(MAX_CLASSES) {
        let _ = out.push(b as i8);
    }
    let fine = &logits.fine[..out.len()];
    let mut class = 0usize;
    for (i, &v) in fine.iter().enumerate() {
        if v > fine[class] {
            class = i;
        }
    }
    // Softmax over the fine logits: only differences matter, so the zero point drops out.
    let step = scale / (1u32 << DECISION_BITS) as f32;
    // exp(0) is exactly 1 (`exp_f32(0.0) == 1.0`, checked in the tests): the top class and its ties
    // skip a soft-float exponential on the band.
    let sum: f32 = fine
        .iter()
        .map(|&v| match v == fine[class] {
            true => 1.0,
            false => exp_f32((v as i64 - fine[class] as i64) as f32 * step),
        })
        .sum();
    let confidence = if sum > 0.0 { 1.0 / sum } else { 0.0 };
    Prediction {
        class: class as u8,
        confidence,
        logits: out,
    }
}

impl<'a> Model<'a> {
    /// See [`run`].
    pub fn infer(&self, window: &Window, arena: &mut [u8]) -> Result<Prediction, InferError> {
        run(self, window, arena)
    }

    /// See [`run_quantized`].
    pub fn infer_quantized(
        &self,
        input: &[i16; INPUT_LEN],
        arena: &mut [u8],
    ) -> Result<Prediction, InferError> {
        run_quantized(self, input, arena)
    }

    /// See [`self_test`].
    pub fn self_test(&self, arena: &mut [u8]) -> Result<Prediction, InferError> {
        self_test(self, arena)
    }
}
