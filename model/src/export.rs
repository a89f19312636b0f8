//! Post-training int8 quantization into the bandx-core blob, and the parity check against the
//! float model using the bandx-core engine itself.
//!
//! Weights: symmetric per output channel. Activations: asymmetric per tensor, ranges calibrated
//! on training data (`Checkpoint::ranges`); ReLU outputs use `[0, max]` with zero point -128.
//! Bias: `i32` at scale `in_scale * w_scale[oc]`. Requantization multipliers come from
//! `bandx_core::quant::quantize_multiplier` (the one definition the band uses).

use bandx_core::blob::{
    BlobWriter, FilterSpec, INPUT_BYTES, INPUT_LEN, InputSpec, MAX_CLASSES, Model,
};
use bandx_core::budget::{ModelCheckError, check_model};
use bandx_core::quant::{quantize_i16, quantize_multiplier};
use serde::{Deserialize, Serialize};

use crate::checkpoint::Checkpoint;
use crate::cnn::{ConvWeights, DenseWeights};
use crate::error::{ModelError, Result};
use crate::preprocess::WINDOW_VALUES;
use crate::train::argmax;

/// The band's budgets, defined in bandx-core (re-exported for the exporter's callers).
pub use bandx_core::budget::{MAX_ARENA_BYTES, MAX_BLOB_BYTES, MAX_MACS};
/// Normalized inputs beyond this many standard deviations are clipped by the input quantizer.
const INPUT_CLIP: f32 = 8.0;

/// Activation quantization of one tensor.
#[derive(Debug, Clone, Copy, PartialEq)]
struct ActQuant {
    scale: f32,
    zero_point: i8,
}

impl ActQuant {
    /// The int16 model input: symmetric, zero point 0.
    fn input(lo: f32, hi: f32) -> ActQuant {
        let max = lo.abs().max(hi.abs()).max(1e-6);
        ActQuant {
            scale: max / i16::MAX as f32,
            zero_point: 0,
        }
    }

    /// A ReLU output `[0, hi]`: int8 with zero point −128, or int16 with zero point 0.
    fn relu(hi: f32, wide: bool) -> ActQuant {
        if wide {
            ActQuant {
                scale: hi.max(1e-6) / i16::MAX as f32,
                zero_point: 0,
            }
        } else {
            ActQuant::from_range(0.0, hi)
        }
    }

    fn from_range(lo: f32, hi: f32) -> ActQuant {
        let lo = lo.min(0.0);
        let hi = hi.max(0.0).max(lo + 1e-6);
        let scale = (hi - lo) / 255.0;
        let zp = (-128.0 - lo / scale).round().clamp(-128.0, 127.0) as i8;
        ActQuant {
            scale,
            zero_point: zp,
        }
    }
}

struct QuantFilter {
    in_ch: usize,
    out_ch: usize,
    kernel: usize,
    padding: usize,
    relu: bool,
    /// `[o][k][i]`, the blob layout.
    weights: Vec<i8>,
    bias: Vec<i32>,
    multiplier: Vec<i32>,
    shift: Vec<i8>,
    out: ActQuant,
}

impl QuantFilter {
    fn spec(&self) -> FilterSpec<'_> {
        FilterSpec {
            in_channels: self.in_ch as u16,
            out_channels: self.out_ch as u16,
            kernel: self.kernel as u8,
            relu: self.relu,
            weights: &self.weights,
            bias: &self.bias,
            multiplier: &self.multiplier,
            shift: &self.shift,
            out_zero_point: self.out.zero_point,
            out_scale: self.out.scale,
        }
    }
}

/// `w(oc, k, ic)` gives the float weight; quantizes per output channel.
fn quantize_filter(
    (in_ch, out_ch, kernel, padding): (usize, usize, usize, usize),
    w: impl Fn(usize, usize, usize) -> f32,
    bias: &[f32],
    input: ActQuant,
    out: ActQuant,
    relu: bool,
) -> QuantFilter {
    let mut q = QuantFilter {
        in_ch,
        out_ch,
        kernel,
        padding,
        relu,
        weights: Vec::with_capacity(in_ch * out_ch * kernel),
        bias: Vec::new(),
        multiplier: Vec::new(),
        shift: Vec::new(),
        out,
    };
    for (oc, &b) in bias.iter().enumerate().take(out_ch) {
        let max = (0..kernel)
            .flat_map(|k| (0..in_ch).map(move |ic| (k, ic)))
            .map(|(k, ic)| w(oc, k, ic).abs())
            .fold(0f32, f32::max);
        let w_scale = if max > 0.0 { max / 127.0 } else { 1.0 };
        for k in 0..kernel {
            for ic in 0..in_ch {
                q.weights
                    .push((w(oc, k, ic) / w_scale).round().clamp(-127.0, 127.0) as i8);
            }
        }
        let acc_scale = input.scale as f64 * w_scale as f64;
        q.bias.push(
            (b as f64 / acc_scale)
                .round()
                .clamp(i32::MIN as f64, i32::MAX as f64) as i32,
        );
        let (m, s) = quantize_multiplier(acc_scale / out.scale as f64);
        q.multiplier.push(m);
        q.shift.push(s);
    }
    q
}

/// Whether `next` may read an int16 input: its worst-case accumulator, 32,768 × 128 per tap,
/// must fit an `i32`.
fn wide_fits(next: &ConvWeights) -> bool {
    next.in_ch * next.kernel * 32_768 * 128 < i32::MAX as usize / 2
}

fn conv_filter(c: &ConvWeights, input: ActQuant, out: ActQuant) -> QuantFilter {
    quantize_filter(
        (c.in_ch, c.out_ch, c.kernel, c.padding),
        |oc, k, ic| c.weight[(oc * c.in_ch + ic) * c.kernel + k],
        &c.bias,
        input,
        out,
        true,
    )
}

fn dense_filter(d: &DenseWeights, input: ActQuant, out: ActQuant) -> QuantFilter {
    quantize_filter(
        (d.inputs, d.outputs, 1, 0),
        |oc, _, ic| d.weight[oc * d.inputs + ic],
        &d.bias,
        input,
        out,
        false,
    )
}

/// What `inspect` and `export` report about a blob.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BlobInfo {
    pub bytes: usize,
    pub model_id: u32,
    pub version: u32,
    pub arena: usize,
    pub macs: u32,
    pub classes: Vec<String>,
    pub self_test: String,
    pub within_budget: bool,
}

/// What the band would say about `blob` ([`check_model`]), as a report that also describes a
/// blob over the budget (its self-test then runs in an arena of the size it declares).
pub fn inspect(blob: &[u8]) -> Result<BlobInfo> {
    let model =
        Model::parse(blob).map_err(|e| ModelError::Export(format!("blob does not parse: {e}")))?;
    let label = |class: u8| model.labels().get(class as usize).unwrap_or("?");
    let pass = |class: u8, confidence: f32| {
        format!(
            "pass (class {class} '{}', confidence {confidence:.3})",
            label(class)
        )
    };
    let (self_test, within_budget) = match check_model(blob) {
        Ok(report) => (
            pass(report.self_test_class, report.self_test_confidence),
            true,
        ),
        Err(ModelCheckError::OverBudget { .. }) => {
            let mut arena = vec![0u8; model.arena_size().max(INPUT_BYTES)];
            let self_test = match model.self_test(&mut arena) {
                Ok(p) => pass(p.class, p.confidence),
                Err(e) => format!("FAIL: {e}"),
            };
            (self_test, false)
        }
        Err(ModelCheckError::SelfTest(e)) => (format!("FAIL: {e}"), true),
        Err(ModelCheckError::Parse(e)) => {
            return Err(ModelError::Export(format!("blob does not parse: {e}")));
        }
    };
    Ok(BlobInfo {
        bytes: blob.len(),
        model_id: model.id(),
        version: model.version(),
        arena: model.arena_size(),
        macs: model.macs(),
        classes: model.labels().iter().map(str::to_string).collect(),
        within_budget,
        self_test,
    })
}

/// Quantizes a checkpoint into a blob. `self_test_window` is one normalized window whose
/// engine output the blob records as its self-test.
pub fn export(
    ckpt: &Checkpoint,
    self_test_window: &[f32],
    model_id: u32,
    version: u32,
) -> Result<Vec<u8>> {
    let w = &ckpt.weights;
    if ckpt.labels.len() > MAX_CLASSES {
        return Err(ModelError::Export(format!(
            "{} classes; the band's blob holds at most {MAX_CLASSES}",
            ckpt.labels.len()
        )));
    }
    // ranges: input, then each convolution and the pool after it (none after the last),
    // the embedding, the logits.
    let convs = w.convs.len();
    if convs == 0 || ckpt.ranges.len() != 2 * convs + 2 {
        return Err(ModelError::Export(
            "the checkpoint has no calibrated activation ranges (re-run pretrain/personalize)"
                .into(),
        ));
    }
    if self_test_window.len() != WINDOW_VALUES {
        return Err(ModelError::Export(
            "the self-test window must hold 60 x 6 values".into(),
        ));
    }
    let r = &ckpt.ranges;
    let input = ActQuant::input(r[0][0].max(-INPUT_CLIP), r[0][1].min(INPUT_CLIP));
    // A convolution writes int16 when the next convolution's accumulator cannot overflow.
    let mut filters = Vec::with_capacity(convs);
    let mut act_in = input;
    for (i, conv) in w.convs.iter().enumerate() {
        let wide = w.convs.get(i + 1).is_some_and(wide_fits);
        let out = ActQuant::relu(r[1 + 2 * i][1], wide);
        filters.push((conv_filter(conv, act_in, out), wide));
        act_in = out;
    }
    let logits = ActQuant::from_range(r[2 * convs + 1][0], r[2 * convs + 1][1]);
    let head = dense_filter(&w.head, act_in, logits);

    let export_err = |e: bandx_core::blob::BlobError| ModelError::Export(e.to_string());
    let mut buf = vec![0u8; 64 * 1024];
    let mut bw = BlobWriter::new(&mut buf, model_id, version).map_err(export_err)?;
    let labels: Vec<&str> = ckpt.labels.iter().map(String::as_str).collect();
    bw.labels(&labels).map_err(export_err)?;
    bw.input_spec(&InputSpec {
        mean: ckpt.normalization.mean,
        std: ckpt.normalization.std,
        scale: input.scale,
        zero_point: input.zero_point,
    })
    .map_err(export_err)?;
    let conv = |bw: &mut BlobWriter, f: &QuantFilter, wide: bool| {
        if wide {
            bw.conv1d_wide(f.padding as u8, &f.spec())
        } else {
            bw.conv1d(f.padding as u8, &f.spec())
        }
    };
    for (i, (f, wide)) in filters.iter().enumerate() {
        if i > 0 {
            bw.max_pool1d(2).map_err(export_err)?;
        }
        conv(&mut bw, f, *wide).map_err(export_err)?;
    }
    bw.global_avg_pool().map_err(export_err)?;
    bw.dense(&head.spec()).map_err(export_err)?;
    let q = quantize_input(self_test_window, input.scale, input.zero_point);
    let mut arena = vec![0u8; 64 * 1024];
    bw.self_test_from_engine(&q, &mut arena)
        .map_err(export_err)?;
    let len = bw.finish().map_err(export_err)?;
    buf.truncate(len);
    Ok(buf)
}

fn quantize_input(normalized: &[f32], scale: f32, zero_point: i8) -> [i16; INPUT_LEN] {
    std::array::from_fn(|i| quantize_i16(normalized[i], scale, zero_point))
}

/// Classes the bandx-core engine predicts from the blob for normalized windows.
pub fn int8_predict(blob: &[u8], normalized: &[f32]) -> Result<Vec<usize>> {
    let model =
        Model::parse(blob).map_err(|e| ModelError::Export(format!("blob does not parse: {e}")))?;
    let spec = *model.input_spec();
    let mut arena = vec![0u8; model.arena_size()];
    normalized
        .chunks_exact(WINDOW_VALUES)
        .map(|x| {
            let q = quantize_input(x, spec.scale, spec.zero_point);
            model
                .infer_quantized(&q, &mut arena)
                .map(|p| p.class as usize)
                .map_err(|e| ModelError::Export(format!("engine: {e}")))
        })
        .collect()
}

/// Parity of the blob with the float model on labelled, normalized windows.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Parity {
    pub windows: usize,
    pub agreement: f64,
    pub float_accuracy: f64,
    pub int8_accuracy: f64,
}

impl Parity {
    /// The export bar: >= 99 % agreement, <= 1 point accuracy loss.
    pub fn passes(&self) -> bool {
        self.agreement >= 0.99 && self.float_accuracy - self.int8_accuracy <= 0.01
    }
}

pub fn parity(
    blob: &[u8],
    float_logits: &[Vec<f32>],
    normalized: &[f32],
    y: &[usize],
) -> Result<Parity> {
    let int8 = int8_predict(blob, normalized)?;
    let float: Vec<usize> = float_logits.iter().map(|l| argmax(l)).collect();
    let n = y.len().max(1) as f64;
    let count = |p: &[usize]| p.iter().zip(y).filter(|(a, b)| a == b).count() as f64 / n;
    Ok(Parity {
        windows: y.len(),
        agreement: int8.iter().zip(&float).filter(|(a, b)| a == b).count() as f64 / n,
        float_accuracy: count(&float),
        int8_accuracy: count(&int8),
    })
}

/// Activation ranges of a personalized model: measured on the user's calibration windows, and
/// for the backbone widened to the ranges measured on the large training set (`base`).
pub fn personal_ranges(
    base: &[[f32; 2]],
    weights: &crate::cnn::FloatWeights,
    calibration: &[f32],
) -> Vec<[f32; 2]> {
    let mut ranges = crate::cnn::activation_ranges(weights, calibration);
    let backbone_layers = ranges.len().saturating_sub(1);
    for (r, b) in ranges.iter_mut().zip(base).take(backbone_layers) {
        r[0] = r[0].min(b[0]);
        r[1] = r[1].max(b[1]);
    }
    ranges
}
