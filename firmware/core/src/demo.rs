//! A representative 7-class model with random weights, sized like the real one: for budgets, benches,
//! tests and a band that has no personalized model yet.
//!
//! Architecture: conv 6->16 k5 pad 2 + ReLU, maxpool 2, conv 16->32 k5 pad 2 + ReLU, maxpool 2,
//! conv 32->32 k3 pad 1 + ReLU, global average pool, dense 32->7.

use crate::blob::{BlobError, BlobWriter, FilterSpec, INPUT_LEN, InputSpec};
use crate::quant::quantize_multiplier;

/// Labels of the demo model.
pub const DEMO_LABELS: [&str; 7] = ["walk", "run", "sit", "stand", "stairs", "cycle", "other"];

/// Buffer size that always holds the demo blob.
pub const DEMO_BLOB_CAPACITY: usize = 8 * 1024;

/// Arena bytes the demo model's self-test computation needs while writing.
const ARENA: usize = 4 * 1024;

/// Writes the demo model into `buf`; the same `seed` always gives the same blob. Returns its length.
pub fn write_demo_model(
    buf: &mut [u8],
    model_id: u32,
    version: u32,
    seed: u32,
) -> Result<usize, BlobError> {
    let mut rng = XorShift(seed.max(1));
    let mut w = BlobWriter::new(buf, model_id, version)?;
    w.labels(&DEMO_LABELS)?;
    w.input_spec(&InputSpec {
        mean: [0.0, 0.0, 9.81, 0.0, 0.0, 0.0],
        std: [4.0, 4.0, 4.0, 1.5, 1.5, 1.5],
        scale: 4.0 / 127.0,
        zero_point: 0,
    })?;
    let mut weights = [0i8; 32 * 5 * 32];
    let layers: [(u16, u16, u8, u8, Option<u8>); 5] = [
        (6, 16, 5, 2, Some(2)),
        (16, 32, 5, 2, Some(2)),
        (32, 32, 3, 1, None),
        (0, 0, 0, 0, None), // global average pool
        (32, 7, 1, 0, None),
    ];
    for (i, &(inp, out, kernel, padding, pool)) in layers.iter().enumerate() {
        if kernel == 0 {
            w.global_avg_pool()?;
            continue;
        }
        let taps = inp as usize * kernel as usize;
        let n = out as usize * taps;
        for q in &mut weights[..n] {
            *q = (rng.next() % 255) as i8;
        }
        let mut bias = [0i32; 32];
        for b in &mut bias[..out as usize] {
            *b = (rng.next() % 2001) as i32 - 1000;
        }
        // Inputs are ~±40 steps around the zero point and weights ~±73: keep outputs ~±40 steps.
        let (m, s) = quantize_multiplier(40.0 / (40.0 * 73.0 * sqrt(taps as f64)));
        let spec = FilterSpec {
            in_channels: inp,
            out_channels: out,
            kernel,
            relu: i < 4,
            weights: &weights[..n],
            bias: &bias[..out as usize],
            multiplier: &[m; 32][..out as usize],
            shift: &[s; 32][..out as usize],
            out_zero_point: if i < 4 { -128 } else { 0 },
            out_scale: 0.05,
        };
        if i < 4 {
            w.conv1d(padding, &spec)?;
        } else {
            w.dense(&spec)?;
        }
        if let Some(size) = pool {
            w.max_pool1d(size)?;
        }
    }
    let mut input = [0i16; INPUT_LEN];
    for q in &mut input {
        *q = (rng.next() % 81) as i16 - 40;
    }
    w.self_test_from_engine(&input, &mut [0u8; ARENA])?;
    w.finish()
}

/// Newton's square root (no `libm` in `no_std`); exact enough for picking scales.
fn sqrt(x: f64) -> f64 {
    let mut r = if x > 1.0 { x } else { 1.0 };
    for _ in 0..40 {
        r = 0.5 * (r + x / r);
    }
    r
}

struct XorShift(u32);

impl XorShift {
    fn next(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }
}

/// Writes a well-formed ESP-IDF app image for `chip` into `out`: the header, two segments holding `data_len`
/// pseudo-random bytes in all (rounded up to a multiple of 8), padding, checksum and appended SHA-256; the same
/// `seed` always gives the same image. For tests and the virtual band, which store images but do not run them.
/// Returns the image length, or `None` if `out` is too small.
pub fn write_demo_app_image(
    out: &mut [u8],
    chip: crate::update::Chip,
    data_len: usize,
    seed: u32,
) -> Option<usize> {
    write_demo_app_image_release(out, chip, data_len, seed, DEMO_APP_VERSION)
}

/// The version the demo app images declare in their app description (newer than the virtual band's own build).
pub const DEMO_APP_VERSION: &str = "0.2.0";

/// [`write_demo_app_image`] declaring `version` in its app description (for the no-downgrade rule).
pub fn write_demo_app_image_release(
    out: &mut [u8],
    chip: crate::update::Chip,
    data_len: usize,
    seed: u32,
    version: &str,
) -> Option<usize> {
    use crate::update::app_image::{CHECKSUM_SEED, HEADER_LEN, MAGIC, SEGMENT_HEADER_LEN};
    use crate::update::release::{APP_DESC_OFFSET, APP_DESC_READ_LEN, write_app_desc};
    let half = data_len.div_ceil(8) * 4;
    if half < APP_DESC_READ_LEN {
        return None;
    }
    let body = HEADER_LEN + 2 * (SEGMENT_HEADER_LEN + half);
    let len = (body / 16 + 1) * 16 + 32;
    let image = out.get_mut(..len)?;
    image.fill(0);
    image[0] = MAGIC;
    image[1] = 2; // segments
    image[2] = 2; // SPI mode DIO
    image[3] = 0x20; // 4 MB, 40 MHz
    image[4..8].copy_from_slice(&0x4200_0080u32.to_le_bytes()); // entry
    image[8] = 0xEE; // no WP pin
    image[12..14].copy_from_slice(&chip.id().to_le_bytes());
    image[23] = 1; // hash appended
    let mut rng = XorShift(seed.max(1));
    let mut at = HEADER_LEN;
    for load_addr in [0x3C00_0020u32, 0x4200_0020] {
        image[at..at + 4].copy_from_slice(&load_addr.to_le_bytes());
        image[at + 4..at + 8].copy_from_slice(&(half as u32).to_le_bytes());
        at += SEGMENT_HEADER_LEN;
        for b in &mut image[at..at + half] {
            *b = rng.next() as u8;
        }
        at += half;
    }
    write_app_desc(&mut image[APP_DESC_OFFSET..], version)?;
    let data_bytes = |i: usize| {
        let first = HEADER_LEN + SEGMENT_HEADER_LEN;
        (first..first + half).contains(&i)
            || (first + half + SEGMENT_HEADER_LEN..first + 2 * half + SEGMENT_HEADER_LEN)
                .contains(&i)
    };
    let checksum = (0..body)
        .filter(|&i| data_bytes(i))
        .fold(CHECKSUM_SEED, |x, i| x ^ image[i]);
    let checksum_at = len - 32 - 1;
    image[checksum_at] = checksum;
    let digest = crate::blob::sha256(&image[..len - 32]);
    image[len - 32..].copy_from_slice(&digest);
    Some(len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blob::Model;

    #[test]
    fn demo_model_parses_passes_its_self_test_and_fits_the_budget() {
        let mut buf = [0u8; DEMO_BLOB_CAPACITY];
        let len = write_demo_model(&mut buf, 1, 1, 7).unwrap();
        let model = Model::parse(&buf[..len]).unwrap();
        assert_eq!(model.labels().len(), 7);
        assert!(len <= 10 * 1024, "blob {len} bytes");
        assert!(model.arena_size() <= 16 * 1024);
        assert!(model.macs() <= 200_000);
        let mut arena = [0u8; ARENA];
        model.self_test(&mut arena).unwrap();
    }

    #[test]
    fn demo_model_activations_are_not_saturated() {
        let mut buf = [0u8; DEMO_BLOB_CAPACITY];
        let len = write_demo_model(&mut buf, 1, 1, 3).unwrap();
        let model = Model::parse(&buf[..len]).unwrap();
        let logits: heapless::Vec<i8, { crate::blob::MAX_CLASSES }> =
            model.self_test_vector().logits().collect();
        // Random weights should still give distinct, unsaturated logits.
        assert!(logits.iter().any(|&l| l != logits[0]));
        assert!(logits.iter().all(|&l| l > -128 && l < 127), "{logits:?}");
    }
}
