//! Per-channel requantization prepared once: [`crate::quant::round_mul_shift`] with the shift's branches
//! and masks worked out per output channel instead of per output value.
//!
//! `round_mul_shift(acc, m, shift)` is TFLite's two roundings: a saturating rounding doubling high
//! multiply by `m`, then a rounding right shift (or, for a positive shift, a saturating left shift
//! first). [`Requant::apply`] computes exactly the same `i32` for every `acc` (checked against the
//! definition in the tests); it is the engine's per-output cost after the multiply-accumulates.

use crate::quant::{self, round_mul_shift};

/// One output channel's multiplier and shift, ready to apply.
#[derive(Debug, Clone, Copy)]
pub(super) struct Requant {
    pub multiplier: i32,
    pub shift: i8,
    /// Left shift before the multiply (positive shifts).
    left: u32,
    /// Bits the rounding right shift drops (negative shifts), 0..=31.
    right: u32,
    /// `2^right - 1`.
    mask: i32,
    /// `i32::MIN` as multiplier: the one saturating case; every value goes through the definition.
    reference_only: bool,
}

impl Requant {
    pub fn new(multiplier: i32, shift: i8) -> Self {
        let left = shift.max(0) as u32;
        let right = ((-(shift as i32)).max(0) as u32).min(31);
        Requant {
            multiplier,
            shift,
            left,
            right,
            mask: ((1i64 << right) - 1) as i32,
            reference_only: multiplier == i32::MIN,
        }
    }

    /// `round_mul_shift(acc, multiplier, shift)`.
    #[inline(always)]
    pub fn apply(&self, acc: i32) -> i32 {
        if self.reference_only {
            return round_mul_shift(acc, self.multiplier, self.shift);
        }
        let x = if self.left == 0 {
            acc
        } else {
            ((acc as i64) << self.left.min(31)).clamp(i32::MIN as i64, i32::MAX as i64) as i32
        };
        // Saturating rounding doubling high multiply: round(x·m / 2^31), ties away from zero. With
        // m != i32::MIN the product fits and never saturates.
        let ab = x as i64 * self.multiplier as i64;
        let high = if ab >= 0 {
            (ab + (1 << 30)) >> 31
        } else {
            -((-ab + ((1 << 30) - 1)) >> 31)
        } as i32;
        // Rounding divide by 2^right, ties away from zero.
        let remainder = high & self.mask;
        let threshold = (self.mask >> 1) + i32::from(high < 0);
        (high >> self.right) + i32::from(remainder > threshold)
    }
}

/// [`quant::mul_shift_div`] (one rounding of `acc · multiplier · 2^(shift − 31 + extra_bits) / divisor`),
/// in 64-bit integers when they are exact (the head's sums and divisors always are): a 128-bit division
/// is a long software routine on a 32-bit core.
pub(super) fn mul_shift_div(
    acc: i64,
    multiplier: i32,
    shift: i8,
    extra_bits: u32,
    divisor: i64,
) -> i32 {
    let right = 31 - shift as i32 - extra_bits.min(31) as i32;
    let divisor = divisor.max(1);
    // |numerator| < 2^31 · 2^31 and denominator < 2^20 · 2^40: no overflow, not even adding half.
    if !((0..=40).contains(&right) && divisor < 1 << 20 && acc.unsigned_abs() < 1 << 31) {
        return quant::mul_shift_div(acc, multiplier, shift, extra_bits, divisor);
    }
    let numerator = acc * multiplier as i64;
    let denominator = divisor << right;
    let half = denominator / 2;
    let q = if numerator >= 0 {
        (numerator + half) / denominator
    } else {
        -((-numerator + half) / denominator)
    };
    q.clamp(i32::MIN as i64, i32::MAX as i64) as i32
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

        #[test]
        fn apply_is_round_mul_shift(
            acc in prop_oneof![any::<i32>(), -70_000i32..70_000, Just(i32::MIN), Just(i32::MAX)],
            multiplier in prop_oneof![any::<i32>(), 1_073_741_824i32..=i32::MAX, Just(i32::MIN), Just(0)],
            shift in -40i8..40,
        ) {
            let r = Requant::new(multiplier, shift);
            prop_assert_eq!(r.apply(acc), round_mul_shift(acc, multiplier, shift));
        }

        #[test]
        fn mul_shift_div_is_the_definition(
            acc in prop_oneof![any::<i64>(), -(1i64 << 32)..(1i64 << 32), -100_000i64..100_000],
            multiplier in prop_oneof![any::<i32>(), 0i32..=i32::MAX, Just(i32::MIN), Just(0)],
            shift in -40i8..40,
            extra_bits in 0u32..40,
            divisor in prop_oneof![any::<i64>(), -2i64..400, Just(1i64 << 20), Just((1i64 << 20) - 1)],
        ) {
            prop_assert_eq!(
                mul_shift_div(acc, multiplier, shift, extra_bits, divisor),
                quant::mul_shift_div(acc, multiplier, shift, extra_bits, divisor)
            );
        }
    }
}
