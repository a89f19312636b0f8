//! The band's budgets for a model blob, and [`check_model`]: what the band does with a blob before it
//! runs it (parse, digest, structure, self-test on the int8 engine), plus the budgets, in one call.
//!
//! This is the one home of the budgets: the exporter (bandx-model), the desktop's training job and
//! deployers, the virtual band and the budget bench all ask this module. A blob that passes
//! [`check_model`] is one the band accepts and has room for; the report says how much it takes.

use core::fmt;

use crate::blob::{BlobError, Model};
use crate::infer::InferError;

/// Largest model blob the band stores and runs, in bytes (one A/B model slot holds more).
pub const MAX_BLOB_BYTES: usize = 10 * 1024;
/// Largest inference arena a model may declare, in bytes (what the band reserves for activations).
pub const MAX_ARENA_BYTES: usize = 16 * 1024;
/// Most multiply-accumulates a model may spend per window (one window every 1.5 s).
pub const MAX_MACS: u32 = 200_000;

/// Whether a model of this size fits every budget.
pub const fn within_budget(bytes: usize, arena: usize, macs: u32) -> bool {
    bytes <= MAX_BLOB_BYTES && arena <= MAX_ARENA_BYTES && macs <= MAX_MACS
}

/// What a blob that passed [`check_model`] takes and says.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelReport {
    /// Blob length in bytes.
    pub bytes: usize,
    /// Arena bytes the blob declares.
    pub arena: usize,
    /// Multiply-accumulates per window.
    pub macs: u32,
    pub model_id: u32,
    pub version: u32,
    /// Number of classes.
    pub classes: usize,
    /// The class the self-test window gives (it matched the blob's record).
    pub self_test_class: u8,
    /// The softmax probability of that class.
    pub self_test_confidence: f32,
}

/// Why the band would refuse a blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelCheckError {
    /// The blob does not parse (damaged, wrong digest, unsupported format or structure).
    Parse(BlobError),
    /// The blob parses but is larger than the band's budgets allow.
    OverBudget {
        bytes: usize,
        arena: usize,
        macs: u32,
    },
    /// The engine does not reproduce the blob's recorded self-test output.
    SelfTest(InferError),
}

impl fmt::Display for ModelCheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Parse(e) => write!(f, "the blob does not parse: {e}"),
            Self::OverBudget { bytes, arena, macs } => write!(
                f,
                "the model exceeds the band's budget: blob {bytes} B (max {MAX_BLOB_BYTES}), \
                 arena {arena} B (max {MAX_ARENA_BYTES}), {macs} MACs (max {MAX_MACS})"
            ),
            Self::SelfTest(e) => write!(f, "the blob fails its self-test: {e}"),
        }
    }
}

impl core::error::Error for ModelCheckError {}

/// Parses `blob` as the band does (digest and structure), checks it against the budgets, then runs
/// its self-test on the int8 engine in an arena of [`MAX_ARENA_BYTES`] (on the stack).
pub fn check_model(blob: &[u8]) -> Result<ModelReport, ModelCheckError> {
    let model = Model::parse(blob).map_err(ModelCheckError::Parse)?;
    let (bytes, arena, macs) = (blob.len(), model.arena_size(), model.macs());
    if !within_budget(bytes, arena, macs) {
        return Err(ModelCheckError::OverBudget { bytes, arena, macs });
    }
    let mut scratch = [0u8; MAX_ARENA_BYTES];
    let prediction = model
        .self_test(&mut scratch)
        .map_err(ModelCheckError::SelfTest)?;
    Ok(ModelReport {
        bytes,
        arena,
        macs,
        model_id: model.id(),
        version: model.version(),
        classes: model.labels().len(),
        self_test_class: prediction.class,
        self_test_confidence: prediction.confidence,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blob::{BlobWriter, DIGEST_LEN, FilterSpec, INPUT_LEN, InputSpec, sha256};
    use crate::demo::{DEMO_BLOB_CAPACITY, DEMO_LABELS, write_demo_model};
    use crate::quant::quantize_multiplier;

    fn demo() -> ([u8; DEMO_BLOB_CAPACITY], usize) {
        let mut buf = [0u8; DEMO_BLOB_CAPACITY];
        let len = write_demo_model(&mut buf, 3, 9, 5).unwrap();
        (buf, len)
    }

    /// Recomputes the trailing digest, so a change inside the blob reaches the later checks.
    fn reseal(blob: &mut [u8]) {
        let body = blob.len() - DIGEST_LEN;
        let digest = sha256(&blob[..body]);
        blob[body..].copy_from_slice(&digest);
    }

    #[test]
    fn the_demo_model_passes_and_reports_what_it_takes() {
        let (buf, len) = demo();
        let report = check_model(&buf[..len]).unwrap();
        let model = Model::parse(&buf[..len]).unwrap();
        assert_eq!(report.bytes, len);
        assert_eq!(report.arena, model.arena_size());
        // conv 6->16 k5 over 60 + conv 16->32 k5 over 30 + conv 32->32 k3 over 15 + dense 32->7.
        assert_eq!(
            report.macs,
            60 * 16 * 30 + 30 * 32 * 80 + 15 * 32 * 96 + 32 * 7
        );
        assert_eq!((report.model_id, report.version), (3, 9));
        assert_eq!(report.classes, DEMO_LABELS.len());
        assert_eq!(report.self_test_class, model.self_test_vector().class);
        assert!(report.self_test_confidence > 0.0 && report.self_test_confidence <= 1.0);
    }

    #[test]
    fn a_damaged_blob_does_not_parse() {
        let (mut buf, len) = demo();
        buf[len / 2] ^= 0x10;
        assert_eq!(
            check_model(&buf[..len]),
            Err(ModelCheckError::Parse(BlobError::DigestMismatch))
        );
        assert!(matches!(
            check_model(&buf[..10]),
            Err(ModelCheckError::Parse(_))
        ));
    }

    #[test]
    fn a_wrong_self_test_record_is_refused() {
        let (mut buf, len) = demo();
        // The self-test's logits sit just before the digest: change the last one.
        buf[len - DIGEST_LEN - 1] ^= 0x01;
        reseal(&mut buf[..len]);
        assert!(Model::parse(&buf[..len]).is_ok(), "still parses");
        assert!(matches!(
            check_model(&buf[..len]),
            Err(ModelCheckError::SelfTest(
                InferError::SelfTestMismatch { .. }
            ))
        ));
    }

    #[test]
    fn the_budgets_are_inclusive_limits() {
        assert!(within_budget(MAX_BLOB_BYTES, MAX_ARENA_BYTES, MAX_MACS));
        assert!(!within_budget(MAX_BLOB_BYTES + 1, 0, 0));
        assert!(!within_budget(0, MAX_ARENA_BYTES + 1, 0));
        assert!(!within_budget(0, 0, MAX_MACS + 1));
    }

    /// A valid model twice as wide as the band's: conv 6->32 k5, pool, conv 32->64 k5, global
    /// average pool, dense 64->2. Its second convolution alone takes 30 x 64 x 160 MACs.
    #[test]
    fn a_model_over_the_budget_is_refused_with_its_sizes() {
        let mut buf = [0u8; 24 * 1024];
        let mut w = BlobWriter::new(&mut buf, 1, 1).unwrap();
        w.labels(&["a", "b"]).unwrap();
        w.input_spec(&InputSpec {
            mean: [0.0; 6],
            std: [1.0; 6],
            scale: 1.0 / 127.0,
            zero_point: 0,
        })
        .unwrap();
        let weights = [3i8; 64 * 5 * 32];
        let (m, s) = quantize_multiplier(0.001);
        let (bias, multiplier, shift) = ([0i32; 64], [m; 64], [s; 64]);
        let filter = |inp: u16, out: u16, kernel: u8, relu: bool| FilterSpec {
            in_channels: inp,
            out_channels: out,
            kernel,
            relu,
            weights: &weights[..out as usize * inp as usize * kernel as usize],
            bias: &bias[..out as usize],
            multiplier: &multiplier[..out as usize],
            shift: &shift[..out as usize],
            out_zero_point: if relu { -128 } else { 0 },
            out_scale: 0.05,
        };
        w.conv1d(2, &filter(6, 32, 5, true)).unwrap();
        w.max_pool1d(2).unwrap();
        w.conv1d(2, &filter(32, 64, 5, true)).unwrap();
        w.global_avg_pool().unwrap();
        w.dense(&filter(64, 2, 1, false)).unwrap();
        w.self_test_from_engine(&[1i16; INPUT_LEN], &mut [0u8; 8 * 1024])
            .unwrap();
        let len = w.finish().unwrap();
        let model = Model::parse(&buf[..len]).unwrap();
        let macs = 60 * 32 * 30 + 30 * 64 * 160 + 64 * 2;
        assert_eq!(model.macs(), macs);
        assert_eq!(
            check_model(&buf[..len]),
            Err(ModelCheckError::OverBudget {
                bytes: len,
                arena: model.arena_size(),
                macs,
            })
        );
        assert!(len > MAX_BLOB_BYTES, "{len} bytes");
    }
}
