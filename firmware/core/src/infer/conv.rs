//! Conv1d (and Dense, a kernel-1 convolution) as contiguous dot products.
//!
//! Tensors are `[t][c]` and weights `[o][k][i]` (the blob's layout), so output step `t` of channel `o`
//! is ONE dot product of the `K × I` weights of `o` with the `K` consecutive input rows starting at
//! padded row `t`: both operands are contiguous. The kernel
//! 1. copies the input rows a tile of outputs needs into a stack scratch as `i16` (int8 activations
//!    widened, int16 ones decoded once from little-endian bytes), with the padding rows holding the
//!    input zero point: no edge cases in the inner loop;
//! 2. subtracts the zero point once per loaded int8 value, or for an int16 input folds it into the bias once
//!    per channel: `Σ (x − zp)·w = Σ x·w − zp·Σ w`, exact in wrapping `i32` arithmetic, which is what the
//!    original per-tap loop computed;
//! 3. computes 10 or [`BLOCK`] time steps together, so every weight byte loaded serves 10 or 5 outputs (on a
//!    scalar core: one `lb`, then `lh`/`mul`/`add` per output: 3.4-3.8 instructions per MAC on rv32imc);
//!    on x86-64 the layer takes the paired kernel instead ([`super::pairs`]: blocks of steps × channels,
//!    SSE2 `pmaddwd` with all 8 lanes; [`Conv::tile_paired`]), the same sums in another order;
//! 4. specializes the common channel counts, so the row offsets are constants (immediates on RISC-V);
//! 5. fuses a following MaxPool1d ([`Conv::run_pooled`]): only each window's largest accumulator is
//!    requantized, and the pre-pool tensor is never written.
//!
//! A layer whose `K` rows do not fit the scratch takes [`Conv::run_direct`], the original loop.

use super::DECISION_BITS;
use super::pairs::{self, Staged};
use super::requant::{Requant, mul_shift_div};
use crate::blob::{Filter, MAX_CLASSES, Shape};

/// Output steps computed together per weight load: 5 divides the shipped network's lengths (60, 30,
/// 15; also 20), so no step is left for the slower one-at-a-time loop. Runs of 10 steps take
/// [`dot_block10`] (one weight load per 10 MACs; 15 % fewer instructions per MAC on rv32imc).
const BLOCK: usize = 5;

/// Longest pooled output [`Conv::run_pooled`] handles (its per-channel maxima live on the stack).
const MAX_POOLED: usize = 64;

/// The per-channel constants of one block of the paired kernel.
struct ChannelBlock {
    /// Channels of the block that exist (the last block of a layer may be short).
    channels: usize,
    base: [i32; pairs::CHANNELS],
    requant: [Requant; pairs::CHANNELS],
}

/// One Conv1d (or Dense) applied to a `[t][c]` tensor.
pub(super) struct Conv<'f, 'a> {
    pub f: &'f Filter<'a>,
    pub padding: usize,
    pub inp: Shape,
    pub in_zp: i8,
    pub out: Shape,
}

impl Conv<'_, '_> {
    /// Runs the layer from `src` (its input tensor's bytes) into `dst`. `fine`, when given, receives each
    /// output channel of step 0 with [`DECISION_BITS`] more bits (the final Dense's class decision).
    pub fn run<const PAIRED: bool>(
        &self,
        src: &[u8],
        dst: &mut [u8],
        scratch: &mut [i16],
        mut fine: Option<&mut [i32; MAX_CLASSES]>,
    ) {
        let ic = self.inp.channels;
        let k = self.f.kernel as usize;
        let paired = self.paired_patch::<PAIRED>();
        let slack = paired.map_or(0, |len| len - k * ic);
        let rows_cap = scratch.len().saturating_sub(slack) / ic.max(1);
        if ic == 0 || rows_cap < k {
            return self.run_direct(src, dst, fine);
        }
        let per_tile = rows_cap - k + 1;
        let mut t0 = 0;
        while t0 < self.out.len {
            let t1 = (t0 + per_tile).min(self.out.len);
            let rows = (t1 - t0 + k - 1) * ic;
            let xs = &mut scratch[..rows + slack];
            self.load_rows(src, t0, &mut xs[..rows]);
            let fine = fine.as_deref_mut();
            if let Some(len) = paired {
                self.tile_paired(xs, len, t0..t1, dst, fine);
                t0 = t1;
                continue;
            }
            match ic {
                6 => self.tile::<6>(xs, t0..t1, dst, fine),
                8 => self.tile::<8>(xs, t0..t1, dst, fine),
                16 => self.tile::<16>(xs, t0..t1, dst, fine),
                32 => self.tile::<32>(xs, t0..t1, dst, fine),
                64 => self.tile::<64>(xs, t0..t1, dst, fine),
                _ => self.tile::<0>(xs, t0..t1, dst, fine),
            }
            t0 = t1;
        }
    }

    /// The padded patch length when this layer takes the paired kernel (`PAIRED` and the patch fits
    /// its staging buffer).
    fn paired_patch<const PAIRED: bool>(&self) -> Option<usize> {
        let len = pairs::padded(self.f.kernel as usize * self.inp.channels);
        (PAIRED && len > 0 && len <= pairs::MAX_PATCH).then_some(len)
    }

    /// This convolution followed by MaxPool1d of `size` (output `pooled`), in one pass: the pool keeps
    /// the largest accumulator of each window and only that one is requantized (requantization is
    /// monotone for a multiplier >= 0, which the parser guarantees; other channels take the max of the
    /// requantized values). Returns false, having done nothing, when the whole input does not fit the
    /// scratch at once or the pooled length exceeds [`MAX_POOLED`]; then run the two layers apart.
    pub fn run_pooled<const PAIRED: bool>(
        &self,
        src: &[u8],
        dst: &mut [u8],
        scratch: &mut [i16],
        size: usize,
        pooled: Shape,
    ) -> bool {
        let ic = self.inp.channels;
        let rows = (self.out.len + self.f.kernel as usize - 1) * ic;
        if ic == 0 || size == 0 || pooled.len > MAX_POOLED || rows > scratch.len() {
            return false;
        }
        let paired = self
            .paired_patch::<PAIRED>()
            .filter(|&len| rows + len - self.f.kernel as usize * ic <= scratch.len());
        if let Some(len) = paired {
            let xs = &mut scratch[..rows + len - self.f.kernel as usize * ic];
            self.load_rows(src, 0, &mut xs[..rows]);
            self.tile_pooled_paired(xs, len, dst, size, pooled);
            return true;
        }
        let xs = &mut scratch[..rows];
        self.load_rows(src, 0, xs);
        match ic {
            6 => self.tile_pooled::<6>(xs, dst, size, pooled),
            8 => self.tile_pooled::<8>(xs, dst, size, pooled),
            16 => self.tile_pooled::<16>(xs, dst, size, pooled),
            32 => self.tile_pooled::<32>(xs, dst, size, pooled),
            64 => self.tile_pooled::<64>(xs, dst, size, pooled),
            _ => self.tile_pooled::<0>(xs, dst, size, pooled),
        }
        true
    }

    /// [`Self::tile`] with the paired kernel: blocks of [`pairs::STEPS`] steps × [`pairs::CHANNELS`]
    /// channels over patches of `len` values (the last of an odd number of steps is computed in both
    /// rows of its block and stored once).
    fn tile_paired(
        &self,
        xs: &[i16],
        len: usize,
        steps: core::ops::Range<usize>,
        dst: &mut [u8],
        mut fine: Option<&mut [i32; MAX_CLASSES]>,
    ) {
        let ic = self.inp.channels;
        let t0 = steps.start;
        let store = Store::new(self.f);
        let mut staged = Staged::new();
        for first in (0..self.out.channels).step_by(pairs::CHANNELS) {
            let block = self.channel_block(&mut staged, first, len);
            let w = staged.pairs();
            let mut t = t0;
            while t < steps.end {
                // Steps past the end repeat the last one (computed, not stored).
                let x = core::array::from_fn(|s| {
                    let step = (t + s).min(steps.end - 1);
                    pairs::patch(xs, (step - t0) * ic, len)
                });
                let acc = pairs::block(&x, &w);
                for (s, row) in acc.iter().enumerate().take(steps.end - t) {
                    for (o, &a) in row.iter().enumerate().take(block.channels) {
                        let acc = block.base[o].wrapping_add(a);
                        let requant = &block.requant[o];
                        if t + s == 0 {
                            store_fine(&mut fine, first + o, acc, requant);
                        }
                        let v = store.value(acc, requant);
                        store.write(dst, (t + s) * self.out.channels + first + o, v);
                    }
                }
                t += pairs::STEPS;
            }
        }
    }

    /// [`Self::tile_pooled`] with the paired kernel (see [`Self::tile_paired`]).
    fn tile_pooled_paired(
        &self,
        xs: &[i16],
        len: usize,
        dst: &mut [u8],
        size: usize,
        pooled: Shape,
    ) {
        let ic = self.inp.channels;
        let store = Store::new(self.f);
        let used = pooled.len * size;
        let mut staged = Staged::new();
        let mut best = [[i32::MIN; MAX_POOLED]; pairs::CHANNELS];
        for first in (0..self.out.channels).step_by(pairs::CHANNELS) {
            let block = self.channel_block(&mut staged, first, len);
            let w = staged.pairs();
            let monotone = block.requant.map(|r| r.multiplier >= 0);
            for b in &mut best {
                b[..pooled.len].fill(i32::MIN);
            }
            let mut window = PoolWindow::new(size);
            let mut t = 0;
            while t < used {
                let x = core::array::from_fn(|s| pairs::patch(xs, (t + s).min(used - 1) * ic, len));
                let acc = pairs::block(&x, &w);
                for row in acc.iter().take(used - t) {
                    let p = window.next();
                    for (o, &a) in row.iter().enumerate().take(block.channels) {
                        let acc = block.base[o].wrapping_add(a);
                        keep_max(&mut best[o], p, monotone[o], acc, &store, &block.requant[o]);
                    }
                }
                t += pairs::STEPS;
            }
            for (o, best) in best.iter().enumerate().take(block.channels) {
                for (p, &b) in best[..pooled.len].iter().enumerate() {
                    let v = match monotone[o] {
                        true => store.value(b, &block.requant[o]),
                        false => b,
                    };
                    store.write(dst, p * pooled.channels + first + o, v);
                }
            }
        }
    }

    /// Stages the weights of channels `first..` for the paired kernel and prepares their biases and
    /// requantizations.
    fn channel_block(&self, staged: &mut Staged, first: usize, len: usize) -> ChannelBlock {
        let f = self.f;
        staged.load(f, first, len);
        let channels = (self.out.channels - first).min(pairs::CHANNELS);
        ChannelBlock {
            channels,
            base: core::array::from_fn(|o| match o < channels {
                true => self.base(first + o, f.kernel_weights(first + o)),
                false => 0,
            }),
            requant: core::array::from_fn(|o| {
                Requant::new(f.multiplier(first + o), f.shift(first + o))
            }),
        }
    }

    #[inline(always)]
    fn tile_pooled<const IC: usize>(&self, xs: &[i16], dst: &mut [u8], size: usize, pooled: Shape) {
        let ic = if IC == 0 { self.inp.channels } else { IC };
        let f = self.f;
        let store = Store::new(f);
        let used = pooled.len * size;
        let mut best = [0i32; MAX_POOLED];
        let best = &mut best[..pooled.len];
        for oc in 0..self.out.channels {
            let w = f.kernel_weights(oc);
            let base = self.base(oc, w);
            let requant = Requant::new(f.multiplier(oc), f.shift(oc));
            let monotone = requant.multiplier >= 0;
            best.fill(i32::MIN);
            let mut t = 0;
            let mut window = PoolWindow::new(size);
            while t + 2 * BLOCK <= used {
                let acc = dot_block10(xs, t * ic, ic, w);
                for &a in &acc {
                    let acc = base.wrapping_add(a);
                    keep_max(best, window.next(), monotone, acc, &store, &requant);
                }
                t += 2 * BLOCK;
            }
            while t + BLOCK <= used {
                let acc = dot_block(xs, t * ic, ic, w);
                for &a in &acc {
                    let acc = base.wrapping_add(a);
                    keep_max(best, window.next(), monotone, acc, &store, &requant);
                }
                t += BLOCK;
            }
            while t < used {
                let acc = base.wrapping_add(dot(xs.get(t * ic..).unwrap_or(&[]), w));
                keep_max(best, window.next(), monotone, acc, &store, &requant);
                t += 1;
            }
            for (p, &b) in best.iter().enumerate() {
                let v = if monotone {
                    store.value(b, &requant)
                } else {
                    b
                };
                store.write(dst, p * pooled.channels + oc, v);
            }
        }
    }

    /// The bias of output channel `oc` with an int16 input's zero point folded in: `bias − zp·Σ w`.
    fn base(&self, oc: usize, w: &[u8]) -> i32 {
        if self.in_zp == 0 || !self.inp.wide {
            return self.f.bias(oc);
        }
        let w_sum = w.iter().fold(0i32, |s, &b| s.wrapping_add(b as i8 as i32));
        self.f
            .bias(oc)
            .wrapping_sub((self.in_zp as i32).wrapping_mul(w_sum))
    }

    /// Fills `xs` with padded input rows `first..` as `i16`: int8 activations minus the zero point (at most
    /// 255 in size), int16 ones as they are (`x − zp` might not fit; [`Self::base`] folds their zero point
    /// into the bias). Padding rows hold the zero point, i.e. 0 once it is subtracted.
    fn load_rows(&self, src: &[u8], first: usize, xs: &mut [i16]) {
        let ic = self.inp.channels;
        for (j, row) in xs.chunks_exact_mut(ic).enumerate() {
            let s = (first + j)
                .checked_sub(self.padding)
                .filter(|&s| s < self.inp.len);
            match s {
                Some(s) if self.inp.wide => {
                    let bytes = src.get(2 * s * ic..2 * (s + 1) * ic).unwrap_or(&[]);
                    for (x, b) in row.iter_mut().zip(bytes.chunks_exact(2)) {
                        *x = i16::from_le_bytes([b[0], b[1]]);
                    }
                }
                Some(s) => {
                    let bytes = src.get(s * ic..(s + 1) * ic).unwrap_or(&[]);
                    let zp = self.in_zp as i16;
                    for (x, &b) in row.iter_mut().zip(bytes) {
                        *x = b as i8 as i16 - zp;
                    }
                }
                None if self.inp.wide => row.fill(self.in_zp as i16),
                None => row.fill(0),
            }
        }
    }

    /// Output steps `steps` of every channel from the rows in `xs` (padded row `steps.start` first).
    /// `IC` is the input channel count when known at compile time, 0 otherwise.
    #[inline(always)]
    fn tile<const IC: usize>(
        &self,
        xs: &[i16],
        steps: core::ops::Range<usize>,
        dst: &mut [u8],
        mut fine: Option<&mut [i32; MAX_CLASSES]>,
    ) {
        let ic = if IC == 0 { self.inp.channels } else { IC };
        let f = self.f;
        let t0 = steps.start;
        let store = Store::new(f);
        for oc in 0..self.out.channels {
            let w = f.kernel_weights(oc);
            let base = self.base(oc, w);
            let requant = Requant::new(f.multiplier(oc), f.shift(oc));
            let mut t = t0;
            while t + 2 * BLOCK <= steps.end {
                let acc = dot_block10(xs, (t - t0) * ic, ic, w);
                for (q, &a) in acc.iter().enumerate() {
                    let v = store.value(base.wrapping_add(a), &requant);
                    store.write(dst, (t + q) * self.out.channels + oc, v);
                }
                t += 2 * BLOCK;
            }
            while t + BLOCK <= steps.end {
                let acc = dot_block(xs, (t - t0) * ic, ic, w);
                for (q, &a) in acc.iter().enumerate() {
                    let v = store.value(base.wrapping_add(a), &requant);
                    store.write(dst, (t + q) * self.out.channels + oc, v);
                }
                t += BLOCK;
            }
            while t < steps.end {
                let acc = base.wrapping_add(dot(xs.get((t - t0) * ic..).unwrap_or(&[]), w));
                if t == 0 {
                    store_fine(&mut fine, oc, acc, &requant);
                }
                let v = store.value(acc, &requant);
                store.write(dst, t * self.out.channels + oc, v);
                t += 1;
            }
        }
    }

    /// The original per-output, per-tap loop straight from `src` (no scratch needed).
    fn run_direct(&self, src: &[u8], dst: &mut [u8], mut fine: Option<&mut [i32; MAX_CLASSES]>) {
        let (f, inp) = (self.f, self.inp);
        let ic = inp.channels;
        let in_zp = self.in_zp as i32;
        let store = Store::new(f);
        for t in 0..self.out.len {
            for oc in 0..self.out.channels {
                let mut acc = f.bias(oc);
                for k in 0..f.kernel as usize {
                    // Padded taps hold the input zero point and contribute (zp - zp) * w = 0.
                    let Some(s) = (t + k).checked_sub(self.padding).filter(|&s| s < inp.len) else {
                        continue;
                    };
                    let weights = f.weight_row(oc, k);
                    if inp.wide {
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
                let requant = Requant::new(f.multiplier(oc), f.shift(oc));
                if t == 0 {
                    store_fine(&mut fine, oc, acc, &requant);
                }
                let v = store.value(acc, &requant);
                store.write(dst, t * self.out.channels + oc, v);
            }
        }
    }
}

/// `Σ_j x[at + q·ic + j] · w[j]` for the [`BLOCK`] steps `q` (wrapping `i32`).
#[inline(always)]
fn dot_block(xs: &[i16], at: usize, ic: usize, w: &[u8]) -> [i32; BLOCK] {
    let n = w.len();
    let row = |q: usize| xs.get(at + q * ic..at + q * ic + n);
    let (Some(x0), Some(x1), Some(x2), Some(x3), Some(x4)) =
        (row(0), row(1), row(2), row(3), row(4))
    else {
        return [0; BLOCK];
    };
    let mut a = [0i32; BLOCK];
    let rows = w.iter().zip(x0).zip(x1).zip(x2).zip(x3).zip(x4);
    for (((((&wb, &v0), &v1), &v2), &v3), &v4) in rows {
        let wv = wb as i8 as i32;
        a[0] = a[0].wrapping_add(v0 as i32 * wv);
        a[1] = a[1].wrapping_add(v1 as i32 * wv);
        a[2] = a[2].wrapping_add(v2 as i32 * wv);
        a[3] = a[3].wrapping_add(v3 as i32 * wv);
        a[4] = a[4].wrapping_add(v4 as i32 * wv);
    }
    a
}

/// [`dot_block`] for 10 steps (two blocks sharing each weight load), for lengths that are a multiple of 10.
#[inline(always)]
fn dot_block10(xs: &[i16], at: usize, ic: usize, w: &[u8]) -> [i32; 2 * BLOCK] {
    let n = w.len();
    let row = |q: usize| xs.get(at + q * ic..at + q * ic + n);
    let (Some(x0), Some(x1), Some(x2), Some(x3), Some(x4)) =
        (row(0), row(1), row(2), row(3), row(4))
    else {
        return [0; 2 * BLOCK];
    };
    let (Some(x5), Some(x6), Some(x7), Some(x8), Some(x9)) =
        (row(5), row(6), row(7), row(8), row(9))
    else {
        return [0; 2 * BLOCK];
    };
    let mut a = [0i32; 2 * BLOCK];
    let rows = w.iter().zip(x0).zip(x1).zip(x2).zip(x3).zip(x4);
    let rows = rows.zip(x5).zip(x6).zip(x7).zip(x8).zip(x9);
    for ((((((((((&wb, &v0), &v1), &v2), &v3), &v4), &v5), &v6), &v7), &v8), &v9) in rows {
        let wv = wb as i8 as i32;
        a[0] = a[0].wrapping_add(v0 as i32 * wv);
        a[1] = a[1].wrapping_add(v1 as i32 * wv);
        a[2] = a[2].wrapping_add(v2 as i32 * wv);
        a[3] = a[3].wrapping_add(v3 as i32 * wv);
        a[4] = a[4].wrapping_add(v4 as i32 * wv);
        a[5] = a[5].wrapping_add(v5 as i32 * wv);
        a[6] = a[6].wrapping_add(v6 as i32 * wv);
        a[7] = a[7].wrapping_add(v7 as i32 * wv);
        a[8] = a[8].wrapping_add(v8 as i32 * wv);
        a[9] = a[9].wrapping_add(v9 as i32 * wv);
    }
    a
}

/// `Σ_j x[j] · w[j]` (wrapping `i32`).
#[inline(always)]
fn dot(x: &[i16], w: &[u8]) -> i32 {
    x.iter().zip(w).fold(0i32, |a, (&v, &wb)| {
        a.wrapping_add(v as i32 * wb as i8 as i32)
    })
}

/// Requantizes accumulators and writes them (int8 or little-endian int16) into the `[t][c]` output.
struct Store {
    out_zp: i32,
    lower: i32,
    upper: i32,
    wide: bool,
}

impl Store {
    fn new(f: &Filter<'_>) -> Self {
        let (min, max) = if f.wide_out {
            (i16::MIN as i32, i16::MAX as i32)
        } else {
            (-128, 127)
        };
        Store {
            out_zp: f.out_zero_point as i32,
            lower: if f.relu { f.out_zero_point as i32 } else { min },
            upper: max,
            wide: f.wide_out,
        }
    }

    /// The output value of accumulator `acc`: requantized, shifted by the zero point, clamped.
    #[inline(always)]
    fn value(&self, acc: i32, requant: &Requant) -> i32 {
        self.out_zp
            .saturating_add(requant.apply(acc))
            .clamp(self.lower, self.upper)
    }

    /// Writes value `q` at flat index `i` of the output tensor.
    #[inline(always)]
    fn write(&self, dst: &mut [u8], i: usize, q: i32) {
        if self.wide {
            if let Some(d) = dst.get_mut(2 * i..2 * i + 2) {
                d.copy_from_slice(&(q as i16).to_le_bytes());
            }
        } else if let Some(d) = dst.get_mut(i) {
            *d = q as i8 as u8;
        }
    }
}

/// The pool window of consecutive steps, without a division per step.
struct PoolWindow {
    size: usize,
    index: usize,
    filled: usize,
}

impl PoolWindow {
    fn new(size: usize) -> Self {
        PoolWindow {
            size,
            index: 0,
            filled: 0,
        }
    }

    /// The window of the next step.
    #[inline(always)]
    fn next(&mut self) -> usize {
        let index = self.index;
        self.filled += 1;
        if self.filled == self.size {
            self.index += 1;
            self.filled = 0;
        }
        index
    }
}

/// Folds step accumulator `acc` into its pool window's maximum `best[p]` (by accumulator when
/// requantization is monotone, else by output value).
#[inline(always)]
fn keep_max(
    best: &mut [i32],
    p: usize,
    monotone: bool,
    acc: i32,
    store: &Store,
    requant: &Requant,
) {
    let key = if monotone {
        acc
    } else {
        store.value(acc, requant)
    };
    if let Some(b) = best.get_mut(p) {
        *b = (*b).max(key);
    }
}

/// Records output channel `oc` of step 0 with [`DECISION_BITS`] more bits, when the caller wants them.
fn store_fine(fine: &mut Option<&mut [i32; MAX_CLASSES]>, oc: usize, acc: i32, requant: &Requant) {
    if let Some(slot) = fine.as_deref_mut().and_then(|v| v.get_mut(oc)) {
        let (m, shift) = (requant.multiplier, requant.shift);
        *slot = mul_shift_div(acc as i64, m, shift, DECISION_BITS, 1);
    }
}
