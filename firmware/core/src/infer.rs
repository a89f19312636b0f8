//! The int8 inference engine: integer-only layers over a caller-provided arena.
//!
//! Activations live in the arena as `[t][c]` int8 tensors; only the model input is int16 (int8 input
//! steps were the largest rounding in the network), read by the first convolution. Each layer reads its input from one end of the
//! arena and writes its output at the other end, so the arena needs `max(in + out)` bytes over the layers
//! (what the blob declares). All layer math is integer (TFLite semantics), so results are bit-identical on
//! every platform; f32 is used only to normalize/quantize the input and for the final softmax.

use core::fmt;

use crate::blob::{
    Filter, INPUT_BYTES, INPUT_LEN, InputSpec, Layer, Layers, MAX_CLASSES, Model, Shape,
};
use crate::quant::{exp_f32, mul_shift_div, quantize_i16, round_mul_shift};
use crate::{CHANNELS, Window};

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
    let scale = match model.layers().iter().last() {
        Some(Layer::Dense(f)) => f.out_scale,
        _ => return Err(InferError::ShapeMismatch),
    };
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

/// Runs `layers` on `input`; returns the final activations (a slice of `arena`) and, when the last
/// layer is `Dense`, its fine logits.
pub(crate) fn forward<'r>(
    layers: Layers<'_>,
    input_zero_point: i8,
    input: &[i16; INPUT_LEN],
    arena: &'r mut [u8],
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
    for (index, layer) in layers.iter().enumerate() {
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
            dense_on_pooled(filter, pool_in, pool_zp, src, &mut logits, &mut fine);
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
                if shape.wide {
                    conv.run::<true>(src, dst, None);
                } else {
                    conv.run::<false>(src, dst, None);
                }
                zero_point = filter.out_zero_point;
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
                conv.run::<false>(src, dst, Some(&mut fine));
                zero_point = filter.out_zero_point;
            }
            Layer::MaxPool1d { size } if shape.wide => {
                max_pool1d_wide(size as usize, shape, src, out, dst)
            }
            Layer::MaxPool1d { size } => max_pool1d(size as usize, shape, src, out, dst),
            Layer::GlobalAvgPool => global_avg_pool(shape, src, dst),
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
    Ok(Logits { int8, fine })
}

/// One Conv1d (or Dense, as a kernel-1 convolution) over a `[t][c]` tensor.
struct Conv<'f, 'a> {
    f: &'f Filter<'a>,
    padding: usize,
    inp: Shape,
    in_zp: i8,
    out: Shape,
}

impl Conv<'_, '_> {
    /// `WIDE`: `src` holds the int16 model input (little-endian) instead of int8 activations.
    /// `fine`, when given, receives each output channel of step 0 with [`DECISION_BITS`] more bits.
    fn run<const WIDE: bool>(
        &self,
        src: &[u8],
        dst: &mut [u8],
        mut fine: Option<&mut [i32; MAX_CLASSES]>,
    ) {
        let Conv {
            f,
            padding,
            inp,
            in_zp,
            out,
        } = *self;
        let ic = inp.channels;
        let (min, max) = if f.wide_out {
            (i16::MIN as i32, i16::MAX as i32)
        } else {
            (-128, 127)
        };
        let lower = if f.relu { f.out_zero_point as i32 } else { min };
        let in_zp = in_zp as i32;
        for t in 0..out.len {
            for oc in 0..out.channels {
                let mut acc = f.bias(oc);
                for k in 0..f.kernel as usize {
                    // Padded taps hold the input zero point and contribute (zp - zp) * w = 0.
                    let Some(s) = (t + k).checked_sub(padding).filter(|&s| s < inp.len) else {
                        continue;
                    };
                    let weights = f.weight_row(oc, k);
                    if WIDE {
                        let x = src.get(2 * s * ic..2 * (s + 1) * ic).unwrap_or(&[]);
                        for (xb, &wb) in x.chunks_exact(2).zip(weights) {
                            let v = i16::from_le_bytes([xb[0], xb[1]]) as i32;
                            acc = acc.wrapping_add((v - in_zp) * wb as i8 as i32);
                        }
                    } else {
                        let x = src.get(s * ic..(s + 1) * ic).unwrap_or(&[]);
                        for (&xb, &wb) in x.iter().zip(weights) {
                            acc = acc.wrapping_add((xb as i8 as i32 - in_zp) * wb as i8 as i32);
                        }
                    }
                }
                if let Some(slot) = fine
                    .as_deref_mut()
                    .filter(|_| t == 0)
                    .and_then(|v| v.get_mut(oc))
                {
                    *slot =
                        mul_shift_div(acc as i64, f.multiplier(oc), f.shift(oc), DECISION_BITS, 1);
                }
                let scaled = round_mul_shift(acc, f.multiplier(oc), f.shift(oc));
                let q = (f.out_zero_point as i32)
                    .saturating_add(scaled)
                    .clamp(lower, max);
                let i = t * out.channels + oc;
                if f.wide_out {
                    if let Some(d) = dst.get_mut(2 * i..2 * i + 2) {
                        d.copy_from_slice(&(q as i16).to_le_bytes());
                    }
                } else if let Some(d) = dst.get_mut(i) {
                    *d = q as i8 as u8;
                }
            }
        }
    }
}

/// The final Dense on a GlobalAvgPool's input `[t][c]`: `acc = len·bias + Σ_t Σ_c (x − zp)·w`, then
/// one rounding of `acc · multiplier / len` (to int8 and, with [`DECISION_BITS`] more bits, to `fine`).
/// Rounding the average to int8 first would add up to half a step to every embedding value, several
/// times the noise left in an average of `len` quantized values.
fn dense_on_pooled(
    f: &Filter<'_>,
    inp: Shape,
    in_zp: i8,
    src: &[u8],
    logits: &mut [i8; MAX_CLASSES],
    fine: &mut [i32; MAX_CLASSES],
) {
    let ic = inp.channels;
    let len = inp.len as i64;
    let in_zp = in_zp as i64;
    let lower = if f.relu {
        f.out_zero_point as i32
    } else {
        -128
    };
    let outputs = logits.iter_mut().zip(fine.iter_mut());
    for (oc, (logit, fine)) in outputs.enumerate().take(f.out_channels as usize) {
        let weights = f.weight_row(oc, 0);
        let mut acc = f.bias(oc) as i64 * len;
        for t in 0..inp.len {
            let x = src.get(t * ic..(t + 1) * ic).unwrap_or(&[]);
            for (&xb, &wb) in x.iter().zip(weights) {
                acc += (xb as i8 as i64 - in_zp) * wb as i8 as i64;
            }
        }
        let (m, shift) = (f.multiplier(oc), f.shift(oc));
        *fine = mul_shift_div(acc, m, shift, DECISION_BITS, len);
        let scaled = mul_shift_div(acc, m, shift, 0, len);
        *logit = (f.out_zero_point as i32)
            .saturating_add(scaled)
            .clamp(lower, 127) as i8;
    }
}

/// [`max_pool1d`] on an int16 tensor.
fn max_pool1d_wide(size: usize, inp: Shape, src: &[u8], out: Shape, dst: &mut [u8]) {
    let c_n = inp.channels;
    let at = |i: usize| {
        src.get(2 * i..2 * i + 2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
    };
    for t in 0..out.len {
        for c in 0..c_n {
            let window = (0..size).filter_map(|j| at((t * size + j) * c_n + c));
            let max = window.max().unwrap_or(i16::MIN);
            let i = t * c_n + c;
            if let Some(d) = dst.get_mut(2 * i..2 * i + 2) {
                d.copy_from_slice(&max.to_le_bytes());
            }
        }
    }
}

fn max_pool1d(size: usize, inp: Shape, src: &[u8], out: Shape, dst: &mut [u8]) {
    let c_n = inp.channels;
    for t in 0..out.len {
        for c in 0..c_n {
            let window = (0..size).filter_map(|j| src.get((t * size + j) * c_n + c));
            let max = window.map(|&b| b as i8).max().unwrap_or(i8::MIN);
            if let Some(d) = dst.get_mut(t * c_n + c) {
                *d = max as u8;
            }
        }
    }
}

fn global_avg_pool(inp: Shape, src: &[u8], dst: &mut [u8]) {
    let n = inp.len as i32;
    for c in 0..inp.channels {
        let sum: i32 = (0..inp.len)
            .filter_map(|t| src.get(t * inp.channels + c))
            .map(|&b| b as i8 as i32)
            .sum();
        // Round half away from zero.
        let avg = if sum >= 0 {
            (sum + n / 2) / n
        } else {
            (sum - n / 2) / n
        };
        if let Some(d) = dst.get_mut(c) {
            *d = avg.clamp(-128, 127) as i8 as u8;
        }
    }
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
    let sum: f32 = fine
        .iter()
        .map(|&v| exp_f32((v as i64 - fine[class] as i64) as f32 * step))
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

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::WINDOW_LEN;
    use crate::blob::{BlobWriter, FilterSpec, sha256};
    use crate::quant::quantize_multiplier;
    use crate::reference::{Rng, forward, normalize, quantize, random_model, random_window};
    use std::vec::Vec;

    #[test]
    fn int8_engine_agrees_with_the_float_reference_on_random_models() {
        let mut rng = Rng(0x5eed_1234_abcd_0001);
        let (mut agree, mut total, mut worst) = (0usize, 0usize, 0f64);
        let mut errors = Vec::new();
        for _ in 0..25 {
            let model_f = random_model(&mut rng);
            let calib: Vec<Window> = (0..40).map(|_| random_window(&mut rng)).collect();
            let mut buf = std::vec![0u8; 64 * 1024];
            let (len, out_scale, out_zp) = quantize(&model_f, &calib, &mut buf);
            let model = Model::parse(&buf[..len]).unwrap();
            let mut arena = std::vec![0u8; model.arena_size()];
            for _ in 0..20 {
                let win = random_window(&mut rng);
                let want = forward(&model_f, &normalize(&model_f, &win)).pop().unwrap();
                let got = model.infer(&win, &mut arena).unwrap();
                let span = want
                    .iter()
                    .fold(0f64, |m, v| m.max(v.abs()))
                    .max(out_scale * 10.0);
                for (q, w) in got.logits.iter().zip(&want) {
                    let deq = (*q as i32 - out_zp as i32) as f64 * out_scale;
                    worst = worst.max((deq - w).abs() / span);
                    errors.push((deq - w).abs() / span);
                }
                let float_class = want
                    .iter()
                    .enumerate()
                    .fold(0, |b, (i, v)| if *v > want[b] { i } else { b });
                agree += usize::from(float_class == got.class as usize);
                total += 1;
                assert!(got.confidence > 0.0 && got.confidence <= 1.0);
            }
        }
        errors.sort_by(f64::total_cmp);
        let p95 = errors[errors.len() * 95 / 100];
        let median = errors[errors.len() / 2];
        std::println!(
            "argmax agreement {agree}/{total}, logit error / span: median {median:.4} p95 {p95:.4} worst {worst:.3}"
        );
        // Up to five int8 layers deep, errors stay a small fraction of the logit range (the rare large ones
        // are test windows outside the calibration range, clipped as int8 must)...
        assert!(
            median < 0.02 && p95 < 0.08,
            "logit error / span: median {median}, p95 {p95}"
        );
        // ...and the decision is the float model's on nearly every window.
        assert!(
            agree * 100 >= total * 95,
            "argmax agreement {agree}/{total}"
        );
    }

    /// A 1-channel-out conv over a hand-checked input, then pool, GAP and an identity dense.
    fn tiny_model(buf: &mut [u8], relu: bool, in_zp: i8) -> usize {
        tiny_model_with_head(buf, relu, in_zp, [1, -1], 1.0)
    }

    /// [`tiny_model`] with the given 1-in, 2-out dense head.
    fn tiny_model_with_head(
        buf: &mut [u8],
        relu: bool,
        in_zp: i8,
        head: [i8; 2],
        head_multiplier: f64,
    ) -> usize {
        let mut w = BlobWriter::new(buf, 1, 1).unwrap();
        w.labels(&["a", "b"]).unwrap();
        w.input_spec(&InputSpec {
            mean: [0.0; 6],
            std: [1.0; 6],
            scale: 1.0,
            zero_point: in_zp,
        })
        .unwrap();
        // Sum over all 6 channels of taps t-1, t, t+1 (weights 1), bias 0, multiplier 0.5.
        let (m, s) = quantize_multiplier(0.5);
        w.conv1d(
            1,
            &FilterSpec {
                in_channels: 6,
                out_channels: 1,
                kernel: 3,
                relu,
                weights: &[1; 18],
                bias: &[0],
                multiplier: &[m],
                shift: &[s],
                out_zero_point: 0,
                out_scale: 1.0,
            },
        )
        .unwrap();
        w.max_pool1d(7).unwrap(); // 60 / 7 = 8 steps, the last 4 dropped
        w.global_avg_pool().unwrap();
        let (m1, s1) = quantize_multiplier(head_multiplier);
        w.dense(&FilterSpec {
            in_channels: 1,
            out_channels: 2,
            kernel: 1,
            relu: false,
            weights: &head,
            bias: &[0, 0],
            multiplier: &[m1, m1],
            shift: &[s1, s1],
            out_zero_point: 0,
            out_scale: 1.0,
        })
        .unwrap();
        w.self_test(&[0; INPUT_LEN], 0, &[0, 0]).unwrap();
        w.finish().unwrap()
    }

    #[test]
    fn hand_computed_tiny_model_gives_the_exact_values() {
        let mut buf = [0u8; 2048];
        let len = tiny_model(&mut buf, false, 3);
        let model = Model::parse(&buf[..len]).unwrap();
        let mut arena = [0u8; 2048];
        // Every input value is zp + t % 5 - 2, identical across the 6 channels.
        let mut input = [0i16; INPUT_LEN];
        let v = |t: usize| (t % 5) as i32 - 2;
        for t in 0..WINDOW_LEN {
            for c in 0..CHANNELS {
                input[t * CHANNELS + c] = (3 + v(t)) as i16;
            }
        }
        // Expected conv output: round(0.5 * 6 * (v(t-1) + v(t) + v(t+1))), padding contributes 0.
        let conv: Vec<i32> = (0..WINDOW_LEN)
            .map(|t| {
                let mut s = v(t);
                if t > 0 {
                    s += v(t - 1);
                }
                if t + 1 < WINDOW_LEN {
                    s += v(t + 1);
                }
                let x = 3 * s; // 0.5 * 6 * s, exact
                x.clamp(-128, 127)
            })
            .collect();
        let pooled: Vec<i32> = (0..8)
            .map(|p| *conv[p * 7..p * 7 + 7].iter().max().unwrap())
            .collect();
        let sum: i32 = pooled.iter().sum();
        let avg = (sum as f64 / 8.0).round() as i32; // ties away from zero, like f64::round
        let got = model.infer_quantized(&input, &mut arena).unwrap();
        assert_eq!(got.logits.as_slice(), &[avg as i8, (-avg) as i8]);
        assert_eq!(got.class, if avg >= 0 { 0 } else { 1 });
    }

    #[test]
    fn fused_relu_clamps_at_the_output_zero_point() {
        let mut buf = [0u8; 2048];
        let len = tiny_model(&mut buf, true, 0);
        let model = Model::parse(&buf[..len]).unwrap();
        let mut arena = [0u8; 2048];
        // All inputs negative: the conv is negative everywhere, ReLU makes it 0, logits 0 and 0.
        let got = model
            .infer_quantized(&[-10; INPUT_LEN], &mut arena)
            .unwrap();
        assert_eq!(got.logits.as_slice(), &[0, 0]);
        assert_eq!(got.class, 0);
        assert!((got.confidence - 0.5).abs() < 1e-6);
        // Without ReLU the same input gives a negative sum.
        let len = tiny_model(&mut buf, false, 0);
        let got = Model::parse(&buf[..len])
            .unwrap()
            .infer_quantized(&[-10; INPUT_LEN], &mut arena)
            .unwrap();
        // Interior steps sum 3 taps: 0.5 * 18 * -10 = -90; the two edge steps see one padded tap: -60.
        // Pools of 7 keep the -60 in the first pool: (-60 - 7 * 90) / 8 = -86.25 -> -86.
        assert_eq!(got.logits.as_slice(), &[-86, 86]);
        assert_eq!(got.class, 1);
    }

    #[test]
    fn the_head_after_global_pooling_reads_the_unrounded_average() {
        // Input -10 pools to a sum of -690 over 8 steps (see above): the average -86.25 rounds to -86,
        // and a head multiplier of 1.4 on the rounded average would give -120.4 -> -120. The band
        // rounds once: -690 * 1.4 / 8 = -120.75 -> -121.
        let mut buf = [0u8; 2048];
        let len = tiny_model_with_head(&mut buf, false, 0, [1, -1], 1.4);
        let got = Model::parse(&buf[..len])
            .unwrap()
            .infer_quantized(&[-10; INPUT_LEN], &mut [0u8; 2048])
            .unwrap();
        assert_eq!(got.logits.as_slice(), &[-121, 121]);
        assert_eq!(got.class, 1);
    }

    /// A filter with the given weights and one real multiplier for every output channel.
    fn plain_filter<'b>(
        (inp, out, kernel): (u16, u16, u8),
        weights: &'b [i8],
        (multiplier, shift, bias): (&'b [i32], &'b [i8], &'b [i32]),
        relu: bool,
    ) -> FilterSpec<'b> {
        FilterSpec {
            in_channels: inp,
            out_channels: out,
            kernel,
            relu,
            weights,
            bias,
            multiplier,
            shift,
            out_zero_point: 0,
            out_scale: 1.0,
        }
    }

    #[test]
    fn an_int16_convolution_output_keeps_values_int8_would_clamp() {
        // conv1 (int16 out) sums 3 taps x 6 channels of 100 at 0.5: 900 inside, 600 at the edges;
        // pool 7 keeps 900; a 1x1 conv at 1/8 gives 112.5 -> 113 (int8); GAP and an identity head.
        // Through an int8 conv1 the 900 would clamp at 127 and give 16.
        let mut buf = [0u8; 2048];
        let mut w = BlobWriter::new(&mut buf, 1, 1).unwrap();
        w.labels(&["a", "b"]).unwrap();
        w.input_spec(&InputSpec {
            mean: [0.0; 6],
            std: [1.0; 6],
            scale: 1.0,
            zero_point: 0,
        })
        .unwrap();
        let (half, eighth, one) = (
            quantize_multiplier(0.5),
            quantize_multiplier(0.125),
            quantize_multiplier(1.0),
        );
        let (half_m, half_s, eighth_m, eighth_s) = ([half.0], [half.1], [eighth.0], [eighth.1]);
        let conv1 = plain_filter((6, 1, 3), &[1; 18], (&half_m, &half_s, &[0]), true);
        w.conv1d_wide(1, &conv1).unwrap();
        w.max_pool1d(7).unwrap();
        let conv2 = plain_filter((1, 1, 1), &[1], (&eighth_m, &eighth_s, &[0]), true);
        w.conv1d(0, &conv2).unwrap();
        w.global_avg_pool().unwrap();
        let requant = ([one.0; 2], [one.1; 2]);
        let head = plain_filter(
            (1, 2, 1),
            &[1, -1],
            (&requant.0, &requant.1, &[0, 0]),
            false,
        );
        w.dense(&head).unwrap();
        w.self_test_from_engine(&[0; INPUT_LEN], &mut [0u8; 4096])
            .unwrap();
        let len = w.finish().unwrap();
        let model = Model::parse(&buf[..len]).unwrap();
        let got = model
            .infer_quantized(&[100; INPUT_LEN], &mut [0u8; 4096])
            .unwrap();
        assert_eq!(got.logits.as_slice(), &[113, -113]);
        // The int16 tensors take two bytes per value: the input (720) and conv1's 60 x 1 output (120).
        assert_eq!(model.required_arena(), 2 * INPUT_LEN + 120);
    }

    #[test]
    fn the_class_is_decided_below_one_int8_step() {
        // The pooled value is -86 (see above); a head of [3, 2] scaled by 1/1000 gives the real
        // logits -0.258 and -0.172: both round to 0, yet class 1 is the larger one.
        let mut buf = [0u8; 2048];
        let len = tiny_model_with_head(&mut buf, false, 0, [3, 2], 0.001);
        let got = Model::parse(&buf[..len])
            .unwrap()
            .infer_quantized(&[-10; INPUT_LEN], &mut [0u8; 2048])
            .unwrap();
        assert_eq!(got.logits.as_slice(), &[0, 0]);
        assert_eq!(got.class, 1);
        let want = 1.0 / (1.0 + (-0.086f32).exp());
        assert!(
            (got.confidence - want).abs() < 2e-3,
            "confidence {} want {want}",
            got.confidence
        );
    }

    #[test]
    fn global_avg_pool_rounds_half_away_from_zero() {
        let mut dst = [0u8; 2];
        // Channel 0: 1 + 2 = 3 over 2 -> 1.5 -> 2; channel 1: -1 + -2 -> -1.5 -> -2.
        let src = [1u8, (-1i8) as u8, 2, (-2i8) as u8];
        global_avg_pool(Shape::int8(2, 2), &src, &mut dst);
        assert_eq!(dst, [2, (-2i8) as u8]);
    }

    #[test]
    fn self_test_reproduces_and_detects_a_wrong_expectation() {
        let mut buf = [0u8; crate::demo::DEMO_BLOB_CAPACITY];
        let len = crate::demo::write_demo_model(&mut buf, 9, 2, 11).unwrap();
        let mut arena = [0u8; 4096];
        let model = Model::parse(&buf[..len]).unwrap();
        let p = model.self_test(&mut arena).unwrap();
        assert_eq!(p.class, model.self_test_vector().class);

        // Change one expected logit (the last byte before the digest) and re-seal the blob.
        let body = len - 32;
        buf[body - 1] = buf[body - 1].wrapping_add(1);
        let digest = sha256(&buf[..body]);
        buf[body..len].copy_from_slice(&digest);
        let model = Model::parse(&buf[..len]).unwrap();
        assert!(matches!(
            model.self_test(&mut arena),
            Err(InferError::SelfTestMismatch { .. })
        ));
    }

    #[test]
    fn too_small_arena_is_an_error_not_a_panic() {
        let mut buf = [0u8; crate::demo::DEMO_BLOB_CAPACITY];
        let len = crate::demo::write_demo_model(&mut buf, 1, 1, 1).unwrap();
        let model = Model::parse(&buf[..len]).unwrap();
        let mut arena = [0u8; 100];
        assert_eq!(
            model.infer_quantized(&[0; INPUT_LEN], &mut arena),
            Err(InferError::ArenaTooSmall {
                needed: model.arena_size(),
                got: 100
            })
        );
    }

    #[test]
    fn inference_is_deterministic_and_arena_contents_do_not_matter() {
        let mut buf = [0u8; crate::demo::DEMO_BLOB_CAPACITY];
        let len = crate::demo::write_demo_model(&mut buf, 1, 1, 5).unwrap();
        let model = Model::parse(&buf[..len]).unwrap();
        let mut rng = Rng(77);
        let win = random_window(&mut rng);
        let a = model.infer(&win, &mut [0u8; 4096]).unwrap();
        let b = model.infer(&win, &mut [0xA5u8; 4096]).unwrap();
        assert_eq!(a, b);
    }
}
