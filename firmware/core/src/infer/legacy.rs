//! The engine as it was before the fast kernels (test-only): straightforward per-output loops over
//! `[t][c]` tensors, kept verbatim so the tests can check the fast engine against it bit for bit.

use super::{DECISION_BITS, InferError, Logits};
use crate::blob::{Filter, INPUT_BYTES, INPUT_LEN, Layer, Layers, MAX_CLASSES, Shape};
use crate::quant::{mul_shift_div, round_mul_shift};

/// Runs `layers` on `input`; returns the final activations (a slice of `arena`) and, when the last
/// layer is `Dense`, its fine logits.
pub(super) fn forward<'r>(
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
    Ok(Logits {
        int8,
        fine,
        scale: None,
    })
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
