//! TFLite-style fixed-point quantization: the one definition shared by the band and the exporter.
//!
//! A real multiplier `m` (e.g. `in_scale * w_scale / out_scale`) is stored as a Q31 integer `M` and a
//! power-of-two `shift` so that `m ≈ M * 2^(shift - 31)`. [`round_mul_shift`] applies it to an `i32`
//! accumulator exactly like TFLite's `MultiplyByQuantizedMultiplier`, so results are bit-identical on
//! every platform.

/// Splits a real multiplier into a Q31 multiplier and a shift (TFLite `QuantizeMultiplier`).
///
/// Returns `(multiplier, shift)` with `multiplier` in `[2^30, 2^31)` and
/// `real ≈ multiplier * 2^(shift - 31)`. A positive shift means a left shift.
/// Zero, negative, NaN and subnormal-tiny inputs give `(0, 0)` (a multiplier of zero);
/// values too large to represent saturate to `(i32::MAX, 30)`.
pub fn quantize_multiplier(real: f64) -> (i32, i8) {
    if real.is_nan() || real <= 0.0 {
        return (0, 0);
    }
    if real.is_infinite() {
        return (i32::MAX, 30);
    }
    let bits = real.to_bits();
    let biased_exp = ((bits >> 52) & 0x7ff) as i32;
    if biased_exp == 0 {
        // Subnormal: far below 2^-31, TFLite flushes these to zero too.
        return (0, 0);
    }
    // real = (2^52 + frac) * 2^(biased_exp - 1075) = mantissa * 2^exp, mantissa in [0.5, 1).
    let significand = (bits & ((1u64 << 52) - 1)) | (1u64 << 52);
    let mut exp = biased_exp - 1022;
    // round(mantissa * 2^31) = round(significand / 2^22), exact in integers.
    let mut q = (significand + (1u64 << 21)) >> 22;
    if q == 1u64 << 31 {
        q /= 2;
        exp += 1;
    }
    if exp < -31 {
        return (0, 0);
    }
    if exp > 30 {
        return (i32::MAX, 30);
    }
    (q as i32, exp as i8)
}

/// The real number a `(multiplier, shift)` pair stands for (for reports and tests).
pub fn multiplier_to_real(multiplier: i32, shift: i8) -> f64 {
    let mut value = multiplier as f64 / 2147483648.0;
    let mut s = shift as i32;
    while s > 0 {
        value *= 2.0;
        s -= 1;
    }
    while s < 0 {
        value /= 2.0;
        s += 1;
    }
    value
}

/// `round(a * b / 2^31)` with rounding half away from zero, saturating the one overflow case
/// (gemmlowp `SaturatingRoundingDoublingHighMul`).
pub fn saturating_rounding_doubling_high_mul(a: i32, b: i32) -> i32 {
    if a == i32::MIN && b == i32::MIN {
        return i32::MAX;
    }
    let ab = a as i64 * b as i64;
    let nudge: i64 = if ab >= 0 { 1 << 30 } else { 1 - (1 << 30) };
    ((ab + nudge) / (1i64 << 31)) as i32
}

/// `x / 2^exponent` rounded to nearest, ties away from zero (gemmlowp `RoundingDivideByPOT`).
/// `exponent` is clamped to `0..=31`.
pub fn rounding_divide_by_pot(x: i32, exponent: u32) -> i32 {
    let exponent = exponent.min(31);
    let mask = ((1i64 << exponent) - 1) as i32;
    let remainder = x & mask;
    let threshold = (mask >> 1) + i32::from(x < 0);
    (x >> exponent) + i32::from(remainder > threshold)
}

/// Applies a quantized multiplier to an accumulator: `acc * multiplier * 2^(shift - 31)`, rounded
/// (TFLite `MultiplyByQuantizedMultiplier`). The left-shift part saturates instead of overflowing.
pub fn round_mul_shift(acc: i32, multiplier: i32, shift: i8) -> i32 {
    let left = if shift > 0 { shift as u32 } else { 0 };
    let right = if shift > 0 {
        0
    } else {
        (-(shift as i32)) as u32
    };
    let shifted = (acc as i64) << left.min(31);
    let shifted = shifted.clamp(i32::MIN as i64, i32::MAX as i64) as i32;
    rounding_divide_by_pot(
        saturating_rounding_doubling_high_mul(shifted, multiplier),
        right,
    )
}

/// `acc · multiplier · 2^(shift − 31 + extra_bits) / divisor`, rounded half away from zero and
/// saturated to `i32` (one rounding, exact in 128 bits): with `divisor` 1 and `extra_bits` 0 the
/// real product [`round_mul_shift`] approximates with two roundings. A `divisor` below 1 counts as 1.
pub fn mul_shift_div(acc: i64, multiplier: i32, shift: i8, extra_bits: u32, divisor: i64) -> i32 {
    let numerator = acc as i128 * multiplier as i128; // |n| < 2^94
    let denominator = divisor.max(1) as i128; // < 2^63
    if numerator == 0 {
        return 0;
    }
    let right = 31 - shift as i32 - extra_bits.min(31) as i32;
    // Shifting either side into 2^126 or beyond would overflow; it also settles the answer: a
    // numerator of 2^126 or more over a denominator below 2^63 saturates, and a denominator of
    // 2^126 or more over a numerator below 2^94 is less than a half, which rounds to 0.
    let (numerator, denominator) = if right >= 0 {
        if right as u32 > denominator.leading_zeros() - 2 {
            return 0;
        }
        (numerator, denominator << right)
    } else {
        if (-right) as u32 > numerator.unsigned_abs().leading_zeros() - 2 {
            return if numerator < 0 { i32::MIN } else { i32::MAX };
        }
        (numerator << -right, denominator)
    };
    let half = denominator / 2;
    let q = if numerator >= 0 {
        (numerator + half) / denominator
    } else {
        -((-numerator + half) / denominator)
    };
    q.clamp(i32::MIN as i128, i32::MAX as i128) as i32
}

/// Rounds to the nearest integer, ties away from zero, saturating to the `i32` range; NaN gives 0.
/// Written without `libm` so it is available in `no_std` and identical everywhere.
pub fn round_f32(x: f32) -> i32 {
    // From 2^23 on, f32 values have no fraction bits; `as` also maps NaN to 0 and saturates.
    if x.is_nan() || x.abs() >= 8_388_608.0 {
        return x as i32;
    }
    let t = x as i32; // exact truncation toward zero in this range
    let frac = x - t as f32; // exact
    if frac >= 0.5 {
        t + 1
    } else if frac <= -0.5 {
        t - 1
    } else {
        t
    }
}

/// Quantizes a real value: `clamp(round(x / scale) + zero_point, -128, 127)`.
pub fn quantize_i8(x: f32, scale: f32, zero_point: i8) -> i8 {
    let q = round_f32(x / scale).saturating_add(zero_point as i32);
    q.clamp(-128, 127) as i8
}

/// Quantizes a real value to int16: `clamp(round(x / scale) + zero_point, -32768, 32767)`.
pub fn quantize_i16(x: f32, scale: f32, zero_point: i8) -> i16 {
    let q = round_f32(x / scale).saturating_add(zero_point as i32);
    q.clamp(i16::MIN as i32, i16::MAX as i32) as i16
}

/// Dequantizes an int8 value: `(q - zero_point) * scale`.
pub fn dequantize_i8(q: i8, scale: f32, zero_point: i8) -> f32 {
    (q as i32 - zero_point as i32) as f32 * scale
}

/// `exp(x)` for the softmax, accurate to a few ulp, in plain arithmetic (no `libm` in `no_std`).
/// Inputs below -87 give 0, above 88 give `f32::MAX`.
pub fn exp_f32(x: f32) -> f32 {
    if x.is_nan() {
        return 0.0;
    }
    if x < -87.0 {
        return 0.0;
    }
    if x > 88.0 {
        return f32::MAX;
    }
    // x = k ln2 + r, |r| <= ln2 / 2; exp(r) by a degree-7 Taylor polynomial (error < 1e-8).
    // Cody-Waite: ln 2 split so that k * LN2_HI is exact.
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    let k = round_f32(x / core::f32::consts::LN_2);
    let r = (x - k as f32 * LN2_HI) - k as f32 * LN2_LO;
    let mut p = 1.0 + r / 7.0;
    p = 1.0 + r / 6.0 * p;
    p = 1.0 + r / 5.0 * p;
    p = 1.0 + r / 4.0 * p;
    p = 1.0 + r / 3.0 * p;
    p = 1.0 + r / 2.0 * p;
    p = 1.0 + r * p;
    // Scale by 2^k in two steps so neither factor overflows or underflows.
    let half = k / 2;
    p * pow2(half) * pow2(k - half)
}

fn pow2(k: i32) -> f32 {
    // Normal-range exponents only; callers keep |k| <= 64.
    f32::from_bits(((k + 127).clamp(1, 254) as u32) << 23)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn quantize_multiplier_matches_known_tflite_values() {
        // 0.5 = 2^30 * 2^(0-31)
        assert_eq!(quantize_multiplier(0.5), (1 << 30, 0));
        // 0.25 -> mantissa 0.5, exponent -1
        assert_eq!(quantize_multiplier(0.25), (1 << 30, -1));
        // 1.0 -> mantissa 0.5, exponent 1
        assert_eq!(quantize_multiplier(1.0), (1 << 30, 1));
        // 0.75 -> round(0.75 * 2^31)
        assert_eq!(quantize_multiplier(0.75), (1_610_612_736, 0));
        assert_eq!(quantize_multiplier(0.0), (0, 0));
        assert_eq!(quantize_multiplier(-1.0), (0, 0));
        assert_eq!(quantize_multiplier(f64::NAN), (0, 0));
        assert_eq!(quantize_multiplier(1e-12), (0, 0));
        assert_eq!(quantize_multiplier(f64::INFINITY), (i32::MAX, 30));
    }

    #[test]
    fn mantissa_rounding_up_to_one_bumps_the_exponent() {
        // Just below 1.0: the mantissa rounds to 2^31 and must renormalize.
        let (m, s) = quantize_multiplier(1.0 - 1e-12);
        assert_eq!((m, s), (1 << 30, 1));
    }

    #[test]
    fn rounding_divide_rounds_half_away_from_zero() {
        assert_eq!(rounding_divide_by_pot(5, 1), 3);
        assert_eq!(rounding_divide_by_pot(-5, 1), -3);
        assert_eq!(rounding_divide_by_pot(4, 1), 2);
        assert_eq!(rounding_divide_by_pot(7, 2), 2);
        assert_eq!(rounding_divide_by_pot(-7, 2), -2);
        assert_eq!(rounding_divide_by_pot(i32::MIN, 31), -1);
    }

    #[test]
    fn doubling_high_mul_saturates_the_single_overflow() {
        assert_eq!(
            saturating_rounding_doubling_high_mul(i32::MIN, i32::MIN),
            i32::MAX
        );
        assert_eq!(
            saturating_rounding_doubling_high_mul(1 << 30, 1 << 30),
            1 << 29
        );
    }

    #[test]
    fn round_f32_ties_away_and_handles_edges() {
        assert_eq!(round_f32(0.5), 1);
        assert_eq!(round_f32(-0.5), -1);
        assert_eq!(round_f32(0.49999997), 0);
        assert_eq!(round_f32(2.5), 3);
        assert_eq!(round_f32(-2.4), -2);
        assert_eq!(round_f32(f32::NAN), 0);
        assert_eq!(round_f32(1e20), i32::MAX);
        assert_eq!(round_f32(-1e20), i32::MIN);
        assert_eq!(round_f32(16_777_216.0), 16_777_216);
    }

    #[test]
    fn quantize_and_dequantize_round_trip_within_half_a_step() {
        let (scale, zp) = (0.05f32, -3i8);
        for i in -100..100 {
            let x = i as f32 * 0.037;
            let q = quantize_i8(x, scale, zp);
            assert!((dequantize_i8(q, scale, zp) - x).abs() <= scale / 2.0 + 1e-6);
        }
        assert_eq!(quantize_i8(1e9, scale, zp), 127);
        assert_eq!(quantize_i8(-1e9, scale, zp), -128);
    }

    #[test]
    fn mul_shift_div_rounds_once_and_saturates() {
        assert_eq!(mul_shift_div(-3, 1 << 30, 0, 0, 1), -2); // -1.5 rounds away from zero
        assert_eq!(mul_shift_div(3, 1 << 30, 0, 0, 1), 2);
        assert_eq!(mul_shift_div(3, 1 << 30, 0, 8, 1), 384);
        assert_eq!(mul_shift_div(-690, 1 << 30, 1, 0, 8), -86); // -86.25
        assert_eq!(mul_shift_div(i64::MAX, i32::MAX, 30, 31, 1), i32::MAX);
        assert_eq!(mul_shift_div(i64::MIN, i32::MAX, 127, 31, 1), i32::MIN);
        // Extreme shifts are exact too: 2^30 · 2^127 / 2^40 saturates; 2^94 / 2^159 is 0.
        assert_eq!(mul_shift_div(1, 1 << 30, 127, 31, 1 << 40), i32::MAX);
        assert_eq!(mul_shift_div(-1, 1 << 30, 127, 31, 1 << 40), i32::MIN);
        assert_eq!(mul_shift_div(i64::MAX, i32::MAX, -128, 0, 1), 0);
        assert_eq!(mul_shift_div(0, i32::MAX, 127, 31, 1), 0);
    }

    #[test]
    fn exp_matches_std() {
        for i in -870..=880 {
            let x = i as f32 / 10.0;
            let want = (x as f64).exp();
            let got = exp_f32(x) as f64;
            assert!(
                ((got - want) / want).abs() < 1e-6,
                "exp({x}) = {got}, want {want}"
            );
        }
    }

    proptest! {
        #[test]
        fn quantized_multiplier_represents_the_real(real in 1e-9f64..1e4) {
            let (m, s) = quantize_multiplier(real);
            prop_assert!(m >= 1 << 30);
            let back = multiplier_to_real(m, s);
            prop_assert!(((back - real) / real).abs() < 1e-9);
        }

        #[test]
        fn round_mul_shift_is_the_rounded_real_product(acc in -1_000_000i32..1_000_000, real in 1e-6f64..0.999) {
            let (m, s) = quantize_multiplier(real);
            let exact = acc as f64 * multiplier_to_real(m, s);
            let got = round_mul_shift(acc, m, s) as f64;
            // Two roundings (high mul, then the shift) can each cost half a step.
            prop_assert!((got - exact).abs() <= 1.0, "acc {acc} real {real}: got {got}, exact {exact}");
        }

        #[test]
        fn mul_shift_div_is_the_rounded_real_quotient(
            acc in -100_000_000i64..100_000_000, real in 1e-6f64..0.999, bits in 0u32..12, divisor in 1i64..64,
        ) {
            let (m, s) = quantize_multiplier(real);
            let exact = (acc as f64 * multiplier_to_real(m, s) * (1u64 << bits) as f64 / divisor as f64)
                .clamp(i32::MIN as f64, i32::MAX as f64);
            let got = mul_shift_div(acc, m, s, bits, divisor) as f64;
            prop_assert!((got - exact).abs() <= 0.5 + 1e-6, "got {got}, exact {exact}");
            // Without extra bits or a divisor it is the engine's requantization, up to that one's
            // double rounding.
            if divisor == 1 && bits == 0 && acc.abs() < 1 << 30 {
                prop_assert!((got as i32 - round_mul_shift(acc as i32, m, s)).abs() <= 1);
            }
        }

        #[test]
        fn round_f32_agrees_with_std_round(x in -1e7f32..1e7) {
            prop_assert_eq!(round_f32(x), x.round() as i32);
        }
    }
}
