//! The int8 inference engine: integer-only layers over a caller-provided arena.
//!
//! Activations live in the arena as `[t][c]` int8 tensors. Each layer reads its input from one end of the
//! arena and writes its output at the other end, so the arena needs `max(in + out)` bytes over the layers
//! (what the blob declares). All layer math is integer (TFLite semantics), so results are bit-identical on
//! every platform; f32 is used only to normalize/quantize the input and for the final softmax.

use core::fmt;

use crate::blob::{Filter, INPUT_LEN, InputSpec, Layer, Layers, MAX_CLASSES, Model, Shape};
use crate::quant::{dequantize_i8, exp_f32, quantize_i8, round_mul_shift};
use crate::{CHANNELS, WINDOW_LEN, Window};

/// What the model says about one window.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// Index of the most likely class (first one on ties).
    pub class: u8,
    /// Softmax probability of `class`, in (0, 1].
    pub confidence: f32,
    /// The int8 logits, one per class.
    pub logits: heapless::Vec<i8, MAX_CLASSES>,
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

/// Normalizes and quantizes a window of SI samples into the model's int8 input.
pub fn quantize_window(spec: &InputSpec, window: &Window, out: &mut [i8; INPUT_LEN]) {
    for (t, sample) in window.iter().enumerate() {
        for (c, &x) in sample.iter().enumerate() {
            let normalized = (x - spec.mean[c]) / spec.std[c];
            out[t * CHANNELS + c] = quantize_i8(normalized, spec.scale, spec.zero_point);
        }
    }
}

/// Runs `model` on a window of SI samples (`[t][c]`: ax, ay, az m/s², gx, gy, gz rad/s).
pub fn run(model: &Model<'_>, window: &Window, arena: &mut [u8]) -> Result<Prediction, InferError> {
    let mut input = [0i8; INPUT_LEN];
    quantize_window(model.input_spec(), window, &mut input);
    run_quantized(model, &input, arena)
}

/// Runs `model` on an already quantized window.
pub fn run_quantized(
    model: &Model<'_>,
    input: &[i8; INPUT_LEN],
    arena: &mut [u8],
) -> Result<Prediction, InferError> {
    let needed = model.required_arena();
    let got = arena.len();
    let arena = arena
        .get_mut(..needed)
        .ok_or(InferError::ArenaTooSmall { needed, got })?;
    let logits = forward(model.layers(), model.input_spec().zero_point, input, arena)?;
    let (scale, zero_point) = match model.layers().iter().last() {
        Some(Layer::Dense(f)) => (f.out_scale, f.out_zero_point),
        _ => return Err(InferError::ShapeMismatch),
    };
    Ok(predict(logits, scale, zero_point))
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

/// Runs `layers` on `input`; returns the final activations (a slice of `arena`).
pub(crate) fn forward<'r>(
    layers: Layers<'_>,
    input_zero_point: i8,
    input: &[i8; INPUT_LEN],
    arena: &'r mut [u8],
) -> Result<&'r [u8], InferError> {
    let n = arena.len();
    if n < INPUT_LEN {
        return Err(InferError::ArenaTooSmall {
            needed: INPUT_LEN,
            got: n,
        });
    }
    for (a, &q) in arena.iter_mut().zip(input.iter()) {
        *a = q as u8;
    }
    let mut shape = Shape {
        len: WINDOW_LEN,
        channels: CHANNELS,
    };
    let mut zero_point = input_zero_point;
    let mut in_front = true;
    for layer in layers.iter() {
        let out = shape.after(&layer).map_err(|_| InferError::ShapeMismatch)?;
        let (ib, ob) = (shape.bytes(), out.bytes());
        if ib + ob > n {
            return Err(InferError::ArenaTooSmall {
                needed: ib + ob,
                got: n,
            });
        }
        let (src, dst): (&[u8], &mut [u8]) = if in_front {
            let (lo, hi) = arena.split_at_mut(n - ob);
            (&lo[..ib], hi)
        } else {
            let (lo, hi) = arena.split_at_mut(ob);
            (&hi[hi.len() - ib..], lo)
        };
        match layer {
            Layer::Conv1d { padding, filter } => {
                conv1d(&filter, padding as usize, shape, zero_point, src, out, dst);
                zero_point = filter.out_zero_point;
            }
            // Dense on a length-1 tensor is a kernel-1 convolution without padding.
            Layer::Dense(filter) => {
                conv1d(&filter, 0, shape, zero_point, src, out, dst);
                zero_point = filter.out_zero_point;
            }
            Layer::MaxPool1d { size } => max_pool1d(size as usize, shape, src, out, dst),
            Layer::GlobalAvgPool => global_avg_pool(shape, src, dst),
        }
        shape = out;
        in_front = !in_front;
    }
    let bytes = shape.bytes();
    Ok(if in_front {
        &arena[..bytes]
    } else {
        &arena[n - bytes..]
    })
}

fn conv1d(
    f: &Filter<'_>,
    padding: usize,
    inp: Shape,
    in_zp: i8,
    src: &[u8],
    out: Shape,
    dst: &mut [u8],
) {
    let ic = inp.channels;
    let lower = if f.relu {
        f.out_zero_point as i32
    } else {
        -128
    };
    let in_zp = in_zp as i32;
    for t in 0..out.len {
        for oc in 0..out.channels {
            let mut acc = f.bias(oc);
            for k in 0..f.kernel as usize {
                // Padded taps hold the input zero point and contribute (zp - zp) * w = 0.
                let Some(s) = (t + k).checked_sub(padding).filter(|&s| s < inp.len) else {
                    continue;
                };
                let x = src.get(s * ic..(s + 1) * ic).unwrap_or(&[]);
                for (&xb, &wb) in x.iter().zip(f.weight_row(oc, k)) {
                    acc = acc.wrapping_add((xb as i8 as i32 - in_zp) * wb as i8 as i32);
                }
            }
            let scaled = round_mul_shift(acc, f.multiplier(oc), f.shift(oc));
            let q = (f.out_zero_point as i32)
                .saturating_add(scaled)
                .clamp(lower, 127);
            if let Some(d) = dst.get_mut(t * out.channels + oc) {
                *d = q as i8 as u8;
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

/// Argmax and softmax confidence of int8 logits with the given output quantization.
pub(crate) fn predict(logits: &[u8], scale: f32, zero_point: i8) -> Prediction {
    let mut out = heapless::Vec::new();
    for &b in logits.iter().take(MAX_CLASSES) {
        let _ = out.push(b as i8);
    }
    let mut class = 0usize;
    for (i, &q) in out.iter().enumerate() {
        if q > out[class] {
            class = i;
        }
    }
    let best = out
        .get(class)
        .map_or(0.0, |&q| dequantize_i8(q, scale, zero_point));
    let sum: f32 = out
        .iter()
        .map(|&q| exp_f32(dequantize_i8(q, scale, zero_point) - best))
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
        input: &[i8; INPUT_LEN],
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
        let (m1, s1) = quantize_multiplier(1.0);
        w.dense(&FilterSpec {
            in_channels: 1,
            out_channels: 2,
            kernel: 1,
            relu: false,
            weights: &[1, -1],
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
        let mut input = [0i8; INPUT_LEN];
        let v = |t: usize| (t % 5) as i32 - 2;
        for t in 0..WINDOW_LEN {
            for c in 0..CHANNELS {
                input[t * CHANNELS + c] = (3 + v(t)) as i8;
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
    fn global_avg_pool_rounds_half_away_from_zero() {
        let mut dst = [0u8; 2];
        // Channel 0: 1 + 2 = 3 over 2 -> 1.5 -> 2; channel 1: -1 + -2 -> -1.5 -> -2.
        let src = [1u8, (-1i8) as u8, 2, (-2i8) as u8];
        global_avg_pool(
            Shape {
                len: 2,
                channels: 2,
            },
            &src,
            &mut dst,
        );
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
