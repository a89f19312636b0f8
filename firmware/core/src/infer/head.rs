//! The final Dense when it follows a GlobalAvgPool: it reads the pool's input and rounds once.
//!
//! `acc = len·bias + Σ_t Σ_c (x[t][c] − zp)·w[c]`, then `acc · multiplier / len` rounded to int8 and, with
//! [`DECISION_BITS`] more bits, to `fine` (see `FORMAT.md`). Rounding the average to int8 first would
//! add up to half a step to every embedding value, several times the noise left in an average of `len`
//! quantized values. The sums over time do not depend on the output channel, so they are taken once:
//! `acc = len·bias + Σ_c w[c]·S[c] − len·zp·Σ_c w[c]` with `S[c] = Σ_t x[t][c]`, the same integer.

use super::DECISION_BITS;
use super::requant::mul_shift_div;
use crate::blob::{Filter, MAX_CLASSES, Shape};

/// Longest pool input whose column sums fit `i16`: `|Σ_t x| <= 128 · 256 = 32768` (and the most
/// negative sum, `-128 · 256`, is `i16::MIN`).
const MAX_SUMMED_LEN: usize = 256;

/// Computes the int8 logits and the fine logits from the pool input `src` (`[inp.len][inp.channels]`
/// int8 with zero point `in_zp`). `scratch` holds the column sums when they fit.
pub(super) fn dense_on_pooled(
    f: &Filter<'_>,
    inp: Shape,
    in_zp: i8,
    src: &[u8],
    scratch: &mut [i16],
    logits: &mut [i8; MAX_CLASSES],
    fine: &mut [i32; MAX_CLASSES],
) {
    let ic = inp.channels;
    let len = inp.len as i64;
    let sums = scratch.get_mut(..ic).filter(|_| inp.len <= MAX_SUMMED_LEN);
    let lower = if f.relu {
        f.out_zero_point as i32
    } else {
        -128
    };
    let sums = match sums {
        Some(sums) => {
            sums.fill(0);
            for row in src.chunks_exact(ic.max(1)).take(inp.len) {
                for (s, &b) in sums.iter_mut().zip(row) {
                    *s += b as i8 as i16;
                }
            }
            Some(&*sums)
        }
        None => None,
    };
    let outputs = logits.iter_mut().zip(fine.iter_mut());
    for (oc, (logit, fine)) in outputs.enumerate().take(f.out_channels as usize) {
        let weights = f.weight_row(oc, 0);
        let mut acc = f.bias(oc) as i64 * len;
        match sums {
            Some(sums) => {
                let mut w_sum = 0i64;
                for (&s, &wb) in sums.iter().zip(weights) {
                    acc += s as i64 * wb as i8 as i64;
                    w_sum += wb as i8 as i64;
                }
                acc -= len * in_zp as i64 * w_sum;
            }
            None => {
                for t in 0..inp.len {
                    let x = src.get(t * ic..(t + 1) * ic).unwrap_or(&[]);
                    for (&xb, &wb) in x.iter().zip(weights) {
                        acc += (xb as i8 as i64 - in_zp as i64) * wb as i8 as i64;
                    }
                }
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
