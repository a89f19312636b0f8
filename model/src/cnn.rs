//! The activity CNN: three Conv1d + ReLU blocks (max-pooling after the first two), global
//! average pooling into a fixed 32-value embedding, and a Linear head. Every op is one the
//! bandx-core int8 engine runs (Conv1d, MaxPool1d, GlobalAvgPool, Dense).

use burn::module::Param;
use burn::nn::conv::{Conv1d, Conv1dConfig};
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig, PaddingConfig1d};
use burn::prelude::*;
use burn::tensor::TensorData;
use burn::tensor::activation::relu;
use serde::{Deserialize, Serialize};

use crate::preprocess::{WINDOW_LEN, WINDOW_VALUES};
use crate::recording::CHANNELS;

#[derive(Config, Debug)]
pub struct HarCnnConfig {
    #[config(default = 16)]
    pub conv1_channels: usize,
    #[config(default = 32)]
    pub conv2_channels: usize,
    /// Also the embedding size.
    #[config(default = 32)]
    pub conv3_channels: usize,
    #[config(default = 5)]
    pub kernel12: usize,
    #[config(default = 3)]
    pub kernel3: usize,
    #[config(default = 0.2)]
    pub dropout: f64,
}

impl HarCnnConfig {
    pub fn embedding_size(&self) -> usize {
        self.conv3_channels
    }

    pub fn init(&self, classes: usize, device: &Device) -> HarCnn {
        HarCnn {
            backbone: self.init_backbone(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            head: LinearConfig::new(self.embedding_size(), classes).init(device),
        }
    }

    pub fn init_backbone(&self, device: &Device) -> Backbone {
        let conv = |i: usize, o: usize, k: usize| {
            Conv1dConfig::new(i, o, k)
                .with_padding(PaddingConfig1d::Explicit(k / 2, k / 2))
                .init(device)
        };
        Backbone {
            conv1: conv(CHANNELS, self.conv1_channels, self.kernel12),
            conv2: conv(self.conv1_channels, self.conv2_channels, self.kernel12),
            conv3: conv(self.conv2_channels, self.conv3_channels, self.kernel3),
        }
    }
}

/// Everything up to the embedding.
#[derive(Module, Debug)]
pub struct Backbone {
    pub conv1: Conv1d,
    pub conv2: Conv1d,
    pub conv3: Conv1d,
}

impl Backbone {
    /// `[batch, 60, 6]` normalized windows (time-major, as the band stores them) to
    /// `[batch, embedding]`.
    pub fn forward(&self, windows: Tensor<3>) -> Tensor<2> {
        let x = windows.swap_dims(1, 2);
        let x = max_pool2_tensor(relu(self.conv1.forward(x)));
        let x = max_pool2_tensor(relu(self.conv2.forward(x)));
        let x = relu(self.conv3.forward(x));
        let [batch, channels, _] = x.dims();
        x.mean_dim(2).reshape([batch, channels])
    }
}

/// Max pool of size and stride 2 over time (`[batch, channels, len]`, an odd last step dropped, as the band
/// does). burn's MaxPool1d runs a generic pool that also tracks indices (half as costly as the first
/// convolution in training), so the pairs are reshaped side by side; when gradients flow through (training),
/// each pair's larger value is picked by multiplying with 1/0 weights read off the values, because
/// `max_dim`'s backward is a scatter over computed gather indices, 10 % of a personalization, where a
/// product's is elementwise. Both give the same values and the same gradients (the first on ties; a zero
/// gradient may be -0.0 instead of 0.0, which changes no update).
fn max_pool2_tensor(x: Tensor<3>) -> Tensor<3> {
    let [batch, channels, len] = x.dims();
    let half = len / 2;
    let pairs = x.narrow(2, 0, half * 2).reshape([batch, channels, half, 2]);
    if !pairs.is_tracked() {
        return pairs.max_dim(3).reshape([batch, channels, half]);
    }
    let values = pairs.clone().detach().into_data();
    let values = values.as_slice::<f32>().expect("activations are f32");
    let mut pick = vec![0f32; values.len()];
    for (p, v) in pick.chunks_exact_mut(2).zip(values.chunks_exact(2)) {
        p[usize::from(v[0] < v[1])] = 1.0;
    }
    let pick = TensorData::new(pick, [batch, channels, half, 2]);
    let pick = Tensor::from_data(pick, &pairs.device());
    (pairs * pick).sum_dim(3).reshape([batch, channels, half])
}

#[derive(Module, Debug)]
pub struct HarCnn {
    pub backbone: Backbone,
    pub dropout: Dropout,
    pub head: Linear,
}

impl HarCnn {
    pub fn forward(&self, windows: Tensor<3>) -> Tensor<2> {
        self.head
            .forward(self.dropout.forward(self.backbone.forward(windows)))
    }

    pub fn classes(&self) -> usize {
        self.head.weight.dims()[1]
    }
}

/// Builds a `[n, 60, 6]` tensor from normalized windows laid end to end.
pub fn windows_tensor(values: Vec<f32>, device: &Device) -> Tensor<3> {
    let n = values.len() / WINDOW_VALUES;
    Tensor::from_data(TensorData::new(values, [n, WINDOW_LEN, CHANNELS]), device)
}

pub fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("float tensor data")
}

/// Plain weights of one Conv1d layer: `weight[oc][ic][k]`, zero padding `kernel / 2` both sides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConvWeights {
    pub in_ch: usize,
    pub out_ch: usize,
    pub kernel: usize,
    pub padding: usize,
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
}

/// Plain weights of a Dense layer: `weight[out][in]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DenseWeights {
    pub inputs: usize,
    pub outputs: usize,
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
}

/// The network as plain numbers: what checkpoints store and what the quantizer reads.
/// Layout: conv[0], pool, conv[1], pool, conv[2], global average pool, head.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FloatWeights {
    pub convs: Vec<ConvWeights>,
    pub head: DenseWeights,
}

fn conv_weights(conv: &Conv1d) -> ConvWeights {
    let [out_ch, in_ch, kernel] = conv.weight.dims();
    ConvWeights {
        in_ch,
        out_ch,
        kernel,
        padding: kernel / 2,
        weight: to_vec(conv.weight.val()),
        bias: conv
            .bias
            .as_ref()
            .map(|b| to_vec(b.val()))
            .unwrap_or_else(|| vec![0.0; out_ch]),
    }
}

pub fn dense_weights(linear: &Linear) -> DenseWeights {
    let [inputs, outputs] = linear.weight.dims();
    // burn stores [in][out]; transpose to [out][in].
    let w = to_vec(linear.weight.val());
    let mut weight = vec![0.0; inputs * outputs];
    for i in 0..inputs {
        for o in 0..outputs {
            weight[o * inputs + i] = w[i * outputs + o];
        }
    }
    DenseWeights {
        inputs,
        outputs,
        weight,
        bias: linear
            .bias
            .as_ref()
            .map(|b| to_vec(b.val()))
            .unwrap_or_else(|| vec![0.0; outputs]),
    }
}

fn set_conv(conv: &mut Conv1d, w: &ConvWeights, device: &Device) {
    conv.weight = Param::from_tensor(Tensor::from_data(
        TensorData::new(w.weight.clone(), [w.out_ch, w.in_ch, w.kernel]),
        device,
    ));
    conv.bias = Some(Param::from_tensor(Tensor::from_data(
        TensorData::new(w.bias.clone(), [w.out_ch]),
        device,
    )));
}

/// A Linear layer holding the given Dense weights.
pub fn linear_from(d: &DenseWeights, device: &Device) -> Linear {
    let mut weight = vec![0.0; d.inputs * d.outputs];
    for o in 0..d.outputs {
        for i in 0..d.inputs {
            weight[i * d.outputs + o] = d.weight[o * d.inputs + i];
        }
    }
    let mut linear = LinearConfig::new(d.inputs, d.outputs).init(device);
    linear.weight = Param::from_tensor(Tensor::from_data(
        TensorData::new(weight, [d.inputs, d.outputs]),
        device,
    ));
    linear.bias = Some(Param::from_tensor(Tensor::from_data(
        TensorData::new(d.bias.clone(), [d.outputs]),
        device,
    )));
    linear
}

impl HarCnn {
    pub fn weights(&self) -> FloatWeights {
        FloatWeights {
            convs: vec![
                conv_weights(&self.backbone.conv1),
                conv_weights(&self.backbone.conv2),
                conv_weights(&self.backbone.conv3),
            ],
            head: dense_weights(&self.head),
        }
    }

    pub fn from_weights(config: &HarCnnConfig, w: &FloatWeights, device: &Device) -> HarCnn {
        let mut model = config.init(w.head.outputs, device);
        set_conv(&mut model.backbone.conv1, &w.convs[0], device);
        set_conv(&mut model.backbone.conv2, &w.convs[1], device);
        set_conv(&mut model.backbone.conv3, &w.convs[2], device);
        model.head = linear_from(&w.head, device);
        model
    }
}

/// Reference float forward pass in plain Rust, op for op what the int8 engine does.
/// Returns every intermediate activation (channel-last `[t][c]`), the last being the logits.
pub fn reference_forward(w: &FloatWeights, normalized: &[f32]) -> Vec<Vec<f32>> {
    let mut acts = Vec::new();
    let mut x = normalized.to_vec();
    let mut len = WINDOW_LEN;
    for (i, conv) in w.convs.iter().enumerate() {
        x = conv_relu(conv, &x, len);
        acts.push(x.clone());
        if i + 1 < w.convs.len() {
            (x, len) = max_pool2(&x, len, conv.out_ch);
            acts.push(x.clone());
        }
    }
    let ch = w.convs.last().map(|c| c.out_ch).unwrap_or(CHANNELS);
    let emb: Vec<f32> = (0..ch)
        .map(|c| (0..len).map(|t| x[t * ch + c]).sum::<f32>() / len as f32)
        .collect();
    acts.push(emb.clone());
    let logits = (0..w.head.outputs)
        .map(|o| {
            w.head.bias[o]
                + (0..w.head.inputs)
                    .map(|i| w.head.weight[o * w.head.inputs + i] * emb[i])
                    .sum::<f32>()
        })
        .collect();
    acts.push(logits);
    acts
}

/// One convolution with its ReLU on a `[t][c]` tensor of `len` steps (zero padding).
pub fn conv_relu(c: &ConvWeights, x: &[f32], len: usize) -> Vec<f32> {
    let mut out = vec![0.0; len * c.out_ch];
    for t in 0..len {
        for oc in 0..c.out_ch {
            let mut acc = c.bias[oc];
            for k in 0..c.kernel {
                let ti = t as isize + k as isize - c.padding as isize;
                if ti < 0 || ti >= len as isize {
                    continue;
                }
                let ti = ti as usize;
                for ic in 0..c.in_ch {
                    acc += c.weight[(oc * c.in_ch + ic) * c.kernel + k] * x[ti * c.in_ch + ic];
                }
            }
            out[t * c.out_ch + oc] = acc.max(0.0);
        }
    }
    out
}

/// Max pool of size 2 over time; returns the pooled tensor and its length.
pub fn max_pool2(x: &[f32], len: usize, ch: usize) -> (Vec<f32>, usize) {
    let out_len = len / 2;
    let mut out = vec![0.0; out_len * ch];
    for t in 0..out_len {
        for c in 0..ch {
            out[t * ch + c] = x[(2 * t) * ch + c].max(x[(2 * t + 1) * ch + c]);
        }
    }
    (out, out_len)
}

/// Multiply-accumulates per window, for the budget.
pub fn macs(w: &FloatWeights) -> usize {
    let mut len = WINDOW_LEN;
    let mut total = 0;
    for (i, c) in w.convs.iter().enumerate() {
        total += len * c.out_ch * c.in_ch * c.kernel;
        if i + 1 < w.convs.len() {
            len /= 2;
        }
    }
    total + w.head.inputs * w.head.outputs
}

/// Calibrated `[lo, hi]` of the input and of every activation of [`reference_forward`] over
/// `windows` (normalized, laid end to end): what int8 calibration needs. The 0.1 % tails are
/// clipped, so a few outliers do not cost every other value its resolution. The logits only
/// matter near the top (the band takes their argmax): their range runs from the 0.1 % quantile
/// of each window's largest logit to the largest logit, so the int8 steps are spent where
/// classes compete (an 18-class head spread over its full range lost 6 % of the argmaxes).
pub fn activation_ranges(w: &FloatWeights, windows: &[f32]) -> Vec<[f32; 2]> {
    activation_ranges_clipped(w, windows, 1e-3)
}

/// [`activation_ranges`] with the share of each tail clipped given (0.001 by default).
pub fn activation_ranges_clipped(w: &FloatWeights, windows: &[f32], tail: f64) -> Vec<[f32; 2]> {
    const MAX_KEPT: usize = 400_000;
    let n = windows.len() / WINDOW_VALUES;
    let mut values: Vec<Vec<f32>> = Vec::new();
    let mut top_logits: Vec<f32> = Vec::new();
    for (k, x) in windows.chunks_exact(WINDOW_VALUES).enumerate() {
        let mut acts = vec![x.to_vec()];
        acts.extend(reference_forward(w, x));
        if values.is_empty() {
            values = vec![Vec::new(); acts.len()];
        }
        if let Some(logits) = acts.last() {
            top_logits.push(logits.iter().copied().fold(f32::NEG_INFINITY, f32::max));
        }
        for (v, a) in values.iter_mut().zip(&acts) {
            // Keep at most MAX_KEPT values per activation, evenly strided. The offset turns
            // with the window: a fixed one would sample the same channels of every window
            // (activations are [t][c], so a stride of 4 over 6 inputs would see only 3 of them).
            let stride = (a.len() * n).div_ceil(MAX_KEPT).max(1);
            v.extend(a.iter().skip(k % stride).step_by(stride));
        }
    }
    let quantile = |v: &mut Vec<f32>, q: f64| {
        v.sort_by(f32::total_cmp);
        v[((v.len() - 1) as f64 * q).round() as usize]
    };
    let last = values.len().saturating_sub(1);
    values
        .into_iter()
        .enumerate()
        .map(|(i, mut v)| {
            if i == last && !top_logits.is_empty() {
                let hi = quantile(&mut v, 1.0);
                [quantile(&mut top_logits, tail).min(hi - 1e-3), hi]
            } else {
                [quantile(&mut v, tail), quantile(&mut v, 1.0 - tail)]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pool as it was (`max_dim` over the pairs, also when tracked): the reference.
    fn max_dim_pool(x: Tensor<3>) -> Tensor<3> {
        let [batch, channels, len] = x.dims();
        let half = len / 2;
        x.narrow(2, 0, half * 2)
            .reshape([batch, channels, half, 2])
            .max_dim(3)
            .reshape([batch, channels, half])
    }

    /// Values, then the gradient of a weighted sum of the pooled values with respect to the input.
    fn pooled_and_grad(pool: fn(Tensor<3>) -> Tensor<3>, input: &[f32]) -> (Vec<f32>, Vec<f32>) {
        let device = Device::flex().autodiff();
        let x = Tensor::<3>::from_data(TensorData::new(input.to_vec(), [2, 3, 9]), &device)
            .require_grad();
        let pooled = pool(x.clone());
        assert!(pooled.is_tracked());
        let weights: Vec<f32> = (0..2 * 3 * 4).map(|i| (i as f32 * 0.7).cos()).collect();
        let weights = Tensor::<3>::from_data(TensorData::new(weights, [2, 3, 4]), &device);
        let grads = (pooled.clone() * weights).sum().backward();
        let grad = x.grad(&grads).expect("the input's gradient");
        let values = |t: Tensor<3>| t.into_data().try_to_vec::<f32>().unwrap();
        (values(pooled.detach()), values(grad))
    }

    #[test]
    fn the_tracked_pool_matches_max_dim_in_values_and_gradients_ties_included() {
        // Odd length (the last step dropped), zeros as after ReLU, equal positive pairs, and
        // pairs whose larger value comes first or second.
        let input: Vec<f32> = (0..2 * 3 * 9)
            .map(|i| match i % 7 {
                0 | 1 => 0.0,
                2 | 3 => 1.25,
                _ => ((i * 37 % 11) as f32 - 5.0) * 0.3,
            })
            .collect();
        let (values, grad) = pooled_and_grad(max_pool2_tensor, &input);
        let (want_values, want_grad) = pooled_and_grad(max_dim_pool, &input);
        assert_eq!(values, want_values);
        assert_eq!(grad, want_grad);
        // Untracked (inference), the pool is max_dim itself.
        let x = Tensor::<3>::from_data(TensorData::new(input, [2, 3, 9]), &Device::flex());
        assert!(!x.is_tracked());
        assert_eq!(
            max_pool2_tensor(x.clone())
                .into_data()
                .try_to_vec::<f32>()
                .unwrap(),
            want_values
        );
    }
}
