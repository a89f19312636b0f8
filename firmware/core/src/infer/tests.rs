//! Tests of the engine: exact hand-computed cases, the float reference, the self-test, and the fast
//! kernels against the original ones (`legacy`) on random models, inputs and scratch sizes.

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
    pool::global_avg_pool(Shape::int8(2, 2), &src, &mut dst);
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

/// A random quantized model written straight as a blob, with extreme values allowed everywhere: 1-3
/// convolutions (any of them may write int16 except the last), optional max pools, then a head: GAP +
/// Dense (the pooled head), GAP + hidden Dense + Dense, or a max pool down to one step + Dense. Channel
/// counts include the ones the fast kernel specializes (6, 8, 16, 32, 64) and others.
fn random_blob(rng: &mut Rng, buf: &mut [u8]) -> usize {
    let mut w = BlobWriter::new(buf, 1, 1).unwrap();
    let classes = 1 + rng.below(MAX_CLASSES);
    let labels: Vec<std::string::String> = (0..classes).map(|c| std::format!("c{c}")).collect();
    let label_refs: Vec<&str> = labels.iter().map(|s| s.as_str()).collect();
    w.labels(&label_refs).unwrap();
    w.input_spec(&InputSpec {
        mean: [0.0; 6],
        std: [1.0; 6],
        scale: 0.01,
        zero_point: rng.below(256) as u8 as i8,
    })
    .unwrap();
    let (mut len, mut ch) = (crate::WINDOW_LEN, crate::CHANNELS);
    let convs = 1 + rng.below(3);
    for i in 0..convs {
        let oc = [1, 3, 5, 6, 8, 11, 16, 32, 64][rng.below(9)];
        let k = 1 + rng.below(7).min(len - 1);
        let pad = rng.below(k);
        let filter = random_filter(rng, ch, oc, k);
        let spec = filter.spec(rng.below(2) == 0);
        if i + 1 < convs && rng.below(2) == 0 {
            w.conv1d_wide(pad as u8, &spec).unwrap();
        } else {
            w.conv1d(pad as u8, &spec).unwrap();
        }
        len = len + 2 * pad - k + 1;
        ch = oc;
        if len >= 4 && rng.below(2) == 0 {
            let size = 2 + rng.below(2);
            w.max_pool1d(size as u8).unwrap();
            len /= size;
        }
    }
    match rng.below(3) {
        0 => w.global_avg_pool().unwrap(),
        1 => {
            w.global_avg_pool().unwrap();
            let hidden = 1 + rng.below(40);
            let filter = random_filter(rng, ch, hidden, 1);
            w.dense(&filter.spec(rng.below(2) == 0)).unwrap();
            ch = hidden;
        }
        _ => w.max_pool1d(len.min(255) as u8).unwrap(),
    }
    let head = random_filter(rng, ch, classes, 1);
    w.dense(&head.spec(false)).unwrap();
    w.self_test(&[0; INPUT_LEN], 0, &std::vec![0; classes])
        .unwrap();
    w.finish().unwrap()
}

/// Owned random filter parameters (weights over the whole int8 range, any zero point, multipliers
/// from tiny to saturating).
struct RandomFilter {
    shape: (u16, u16, u8),
    weights: Vec<i8>,
    bias: Vec<i32>,
    multiplier: Vec<i32>,
    shift: Vec<i8>,
    out_zero_point: i8,
}

impl RandomFilter {
    fn spec(&self, relu: bool) -> FilterSpec<'_> {
        FilterSpec {
            in_channels: self.shape.0,
            out_channels: self.shape.1,
            kernel: self.shape.2,
            relu,
            weights: &self.weights,
            bias: &self.bias,
            multiplier: &self.multiplier,
            shift: &self.shift,
            out_zero_point: self.out_zero_point,
            out_scale: 0.1,
        }
    }
}

fn random_filter(rng: &mut Rng, ic: usize, oc: usize, k: usize) -> RandomFilter {
    // Some layers have tiny weights and large multipliers: there one accumulator step is a visible
    // fraction of an output step, so an accumulator that is off by one shows in the output.
    let tiny = rng.below(3) == 0;
    let weights = (0..oc * k * ic)
        .map(|_| match tiny {
            true => rng.below(5) as i8 - 2,
            false => rng.below(256) as u8 as i8,
        })
        .collect();
    let bias = (0..oc)
        .map(|_| match rng.below(4) {
            0 => rng.next_u64() as i32,
            _ => rng.below(200_001) as i32 - 100_000,
        })
        .collect();
    // Mostly multipliers that keep outputs inside the int8 range (where an off-by-one accumulator
    // shows), some from tiny to saturating.
    let fan_in = (ic * k) as f64;
    let (multiplier, shift) = (0..oc)
        .map(|_| {
            let real = match rng.below(4) {
                0 => 10f64.powf(rng.uniform(-7.0, 1.0)),
                _ if tiny => rng.uniform(0.05, 0.5) / fan_in.sqrt(),
                _ => rng.uniform(0.2, 4.0) / (128.0 * fan_in.sqrt()),
            };
            quantize_multiplier(real)
        })
        .unzip();
    RandomFilter {
        shape: (ic as u16, oc as u16, k as u8),
        weights,
        bias,
        multiplier,
        shift,
        out_zero_point: rng.below(256) as u8 as i8,
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 256, ..Default::default() })]

    /// The fast kernels (the step-blocked ones the band runs and the paired one the host runs) give
    /// exactly the original engine's int8 logits and fine logits on random models
    /// and inputs, with the normal scratch and with scratch so small that the convolutions tile their
    /// input (or fall back to the original loop), pooling is not fused and the head sums per channel.
    /// (The arenas differ by design: a fused convolution + pool never writes the pre-pool tensor.)
    #[test]
    fn fast_engine_is_bit_identical_to_the_original(
        seed in proptest::prelude::any::<u64>(),
        scratch_len in proptest::prop_oneof![
            proptest::strategy::Just(SCRATCH_LEN),
            proptest::strategy::Just(1usize),
            7usize..200,
        ],
        extreme_input in proptest::prelude::any::<bool>(),
    ) {
        let mut rng = Rng(seed | 1);
        let mut buf = std::vec![0u8; 96 * 1024];
        let len = random_blob(&mut rng, &mut buf);
        let model = Model::parse(&buf[..len]).unwrap();
        let mut input = [0i16; INPUT_LEN];
        for q in &mut input {
            *q = if extreme_input {
                rng.next_u64() as i16
            } else {
                rng.below(2001) as i16 - 1000
            };
        }
        let zp = model.input_spec().zero_point;
        let mut old_arena = std::vec![0u8; model.required_arena()];
        let mut new_arena = old_arena.clone();
        let old = legacy::forward(model.layers(), zp, &input, &mut old_arena).unwrap();
        let (old_int8, old_fine) = (old.int8.to_vec(), old.fine);
        let classes = model.labels().len();
        let mut scratch = std::vec![0i16; scratch_len];
        let new = forward_with::<false>(model.layers(), zp, &input, &mut new_arena, &mut scratch).unwrap();
        proptest::prop_assert_eq!(&old_int8[..], new.int8, "step-blocked kernels");
        proptest::prop_assert_eq!(&old_fine[..classes], &new.fine[..classes], "step-blocked kernels");
        // Stale scratch contents must not matter (the paired kernel reads padding past each patch).
        scratch.fill(i16::MIN);
        let new = forward_with::<true>(model.layers(), zp, &input, &mut new_arena, &mut scratch).unwrap();
        proptest::prop_assert_eq!(&old_int8[..], new.int8, "paired kernel");
        proptest::prop_assert_eq!(&old_fine[..classes], &new.fine[..classes], "paired kernel");
    }
}

#[test]
fn fast_engine_matches_the_original_on_the_shipped_blobs() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../model/pretrained");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "blob") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let model = Model::parse(&bytes).unwrap();
        let mut rng = Rng(0xb10b);
        for _ in 0..50 {
            let input = quantized(&model, &random_window(&mut rng));
            let zp = model.input_spec().zero_point;
            let mut old_arena = std::vec![0u8; model.required_arena()];
            let mut new_arena = old_arena.clone();
            let old = legacy::forward(model.layers(), zp, &input, &mut old_arena).unwrap();
            let (old_int8, old_fine) = (old.int8.to_vec(), old.fine);
            let new = super::forward(model.layers(), zp, &input, &mut new_arena).unwrap();
            assert_eq!(&old_int8[..], new.int8, "{}", path.display());
            assert_eq!(old_fine, new.fine, "{}", path.display());
            // Both kernels, whichever this target runs.
            for paired in [false, true] {
                let mut scratch = [0i16; SCRATCH_LEN];
                let (layers, arena) = (model.layers(), &mut new_arena);
                let new = match paired {
                    false => forward_with::<false>(layers, zp, &input, arena, &mut scratch),
                    true => forward_with::<true>(layers, zp, &input, arena, &mut scratch),
                }
                .unwrap();
                assert_eq!(
                    &old_int8[..],
                    new.int8,
                    "{} paired {paired}",
                    path.display()
                );
                assert_eq!(old_fine, new.fine, "{} paired {paired}", path.display());
            }
        }
        model
            .self_test(&mut std::vec![0u8; model.arena_size()])
            .unwrap();
        checked += 1;
    }
    assert!(checked >= 1, "no blob in {}", dir.display());
}

fn quantized(model: &Model<'_>, window: &Window) -> [i16; INPUT_LEN] {
    let mut input = [0i16; INPUT_LEN];
    quantize_window(model.input_spec(), window, &mut input);
    input
}

#[test]
fn the_softmax_shortcut_is_exact() {
    // `predict` adds 1.0 for the top class instead of computing exp_f32(0.0).
    assert_eq!(crate::quant::exp_f32(0.0).to_bits(), 1.0f32.to_bits());
}
