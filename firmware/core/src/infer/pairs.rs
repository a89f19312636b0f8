//! The host's convolution kernel: a block of [`STEPS`] output steps × [`CHANNELS`] output channels
//! computed together from `i16` inputs and `i16` weights, products summed in pairs.
//!
//! Written so that LLVM's loop vectorizer turns it into SSE2's `pmaddwd` on baseline x86-64 (8 MACs
//! per instruction, each pair of products added into one `i32` lane): one loop over pairs of taps with
//! one scalar reduction per output of the block. Two conditions, found by reading the generated code:
//! - both operands `i16`: the weights are widened once per block of channels into [`Staged`] (`i8`
//!   operands defeat the vectorizer), zero-padded to a multiple of 8 so the vector loop has no remainder;
//!   the input rows past a patch's end are read and multiplied by those zeros;
//! - each pair sum reaches the vectorizer as one value. Written `acc + (x0·w0 + x1·w1)`, the reassociation
//!   pass turns it into `(acc + x0·w0) + x1·w1` and LLVM falls back to `pmaddwd` with half its lanes
//!   zero. It never splits a value with a second use, so every pair sum is also OR-ed into `seen`, kept by
//!   `black_box` (one `por` per `pmaddwd`). Pass ordering is no way out: a release build with several
//!   codegen units runs the pipeline twice (ThinLTO) and undoes what held after the first.
//!
//! 3 steps × 2 channels keep the 6 accumulators, `seen` and the 5 loaded vectors in SSE2's 16 registers
//! (2 × 4 spills one accumulator); 3 divides the shipped lengths (60, 30, 15).
//!
//! All arithmetic is wrapping `i32`, the same sums as the scalar kernels in another order: results are
//! bit-identical (property-tested against `legacy`). On the band's scalar core (rv32imc) this layout
//! buys nothing and the staging buffer costs 2 KB of stack, so it runs on x86-64 only
//! ([`super::USE_PAIRS`]).

use crate::blob::Filter;

/// Output steps per block.
pub(super) const STEPS: usize = 3;

/// Output channels per block.
pub(super) const CHANNELS: usize = 2;

/// Longest padded patch (`kernel × in_channels`, rounded up to 8) the staging buffer holds; a layer
/// with a longer one takes the scalar kernel.
pub(super) const MAX_PATCH: usize = 512;

/// A patch of `len` values padded for the vector loop.
pub(super) fn padded(len: usize) -> usize {
    len.next_multiple_of(8)
}

/// One block's weights: [`CHANNELS`] rows of `i16`, each a channel's `kernel × in_channels` weights
/// followed by zeros; a row past the layer's last channel is all zeros.
pub(super) struct Staged {
    rows: [[i16; MAX_PATCH]; CHANNELS],
    padded: usize,
}

impl Staged {
    pub fn new() -> Self {
        Staged {
            rows: [[0; MAX_PATCH]; CHANNELS],
            padded: 0,
        }
    }

    /// Widens the weights of channels `first..first + CHANNELS` of `f` (the patch padded to `padded`
    /// values, at most [`MAX_PATCH`]).
    pub fn load(&mut self, f: &Filter<'_>, first: usize, padded: usize) {
        let padded = padded.min(MAX_PATCH);
        self.padded = padded;
        for (o, row) in self.rows.iter_mut().enumerate() {
            let row = &mut row[..padded];
            let oc = first + o;
            let w = if oc < f.out_channels as usize {
                f.kernel_weights(oc)
            } else {
                &[]
            };
            let n = w.len().min(padded);
            for (d, &b) in row.iter_mut().zip(&w[..n]) {
                *d = b as i8 as i16;
            }
            row[n..].fill(0);
        }
    }

    /// The rows as pairs, `padded / 2` each.
    pub fn pairs(&self) -> [&[[i16; 2]]; CHANNELS] {
        core::array::from_fn(|o| self.rows[o][..self.padded].as_chunks::<2>().0)
    }
}

/// The input patch starting at `at` in `xs` as `len / 2` pairs (empty if it does not fit).
#[inline(always)]
pub(super) fn patch(xs: &[i16], at: usize, len: usize) -> &[[i16; 2]] {
    xs.get(at..at + len).unwrap_or(&[]).as_chunks::<2>().0
}

/// `acc[s][o] = Σ_j x_s[j] · w_o[j]` over the pairs of patches `x` and weight rows `w`
/// (wrapping `i32`; the shortest operand sets the length).
#[inline(always)]
pub(super) fn block(
    x: &[&[[i16; 2]]; STEPS],
    w: &[&[[i16; 2]]; CHANNELS],
) -> [[i32; CHANNELS]; STEPS] {
    let mut a = [[0i32; CHANNELS]; STEPS];
    // A second use of every pair sum (see the module comment); one `por` each, kept by `black_box`.
    let mut seen = 0i32;
    let operands = x[0].iter().zip(x[1]).zip(x[2]).zip(w[0]).zip(w[1]);
    for ((((x0, x1), x2), w0), w1) in operands {
        let p = [
            [pair(x0, w0), pair(x0, w1)],
            [pair(x1, w0), pair(x1, w1)],
            [pair(x2, w0), pair(x2, w1)],
        ];
        for (a, p) in a.iter_mut().zip(&p) {
            for (a, &p) in a.iter_mut().zip(p) {
                *a = a.wrapping_add(p);
                seen |= p;
            }
        }
    }
    core::hint::black_box(seen);
    a
}

/// `x[0]·w[0] + x[1]·w[1]`.
#[inline(always)]
fn pair(x: &[i16; 2], w: &[i16; 2]) -> i32 {
    (x[0] as i32 * w[0] as i32).wrapping_add(x[1] as i32 * w[1] as i32)
}
