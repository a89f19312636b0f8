//! Test-only float reference: random float CNNs, a post-training quantizer that writes them as blobs
//! (what bandx-model's exporter does), and a plain f64 forward pass to check the int8 engine against.
// Index loops mirror the math of the layers one to one.
#![allow(clippy::needless_range_loop)]
extern crate std;

use std::vec;
use std::vec::Vec;

use crate::blob::{BlobWriter, FilterSpec, INPUT_LEN, InputSpec};
use crate::quant::{quantize_multiplier, round_f32};
use crate::{CHANNELS, WINDOW_LEN, Window};

/// A float layer.
#[derive(Debug, Clone)]
pub enum FloatLayer {
    /// Weights `[oc][k][ic]`.
    Conv {
        ic: usize,
        oc: usize,
        k: usize,
        pad: usize,
        relu: bool,
        w: Vec<f64>,
        b: Vec<f64>,
    },
    Pool(usize),
    Gap,
    /// Weights `[o][i]`.
    Dense {
        i: usize,
        o: usize,
        relu: bool,
        w: Vec<f64>,
        b: Vec<f64>,
    },
}

#[derive(Debug, Clone)]
pub struct FloatModel {
    pub mean: [f32; CHANNELS],
    pub std: [f32; CHANNELS],
    pub layers: Vec<FloatLayer>,
    pub classes: usize,
}

pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// Uniform in [lo, hi).
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// A random CNN within the contract's ops: 1-3 convs (optionally pooled), GAP, optional hidden dense, logits.
pub fn random_model(rng: &mut Rng) -> FloatModel {
    let classes = 2 + rng.below(7);
    let mut layers = Vec::new();
    let mut ch = CHANNELS;
    let mut len = WINDOW_LEN;
    for _ in 0..1 + rng.below(3) {
        let oc = 4 + rng.below(13);
        let k = [1, 3, 5][rng.below(3)];
        let pad = rng.below(k);
        let a = (3.0 / (ch * k) as f64).sqrt();
        let w = (0..oc * k * ch).map(|_| rng.uniform(-a, a)).collect();
        let b = (0..oc).map(|_| rng.uniform(-0.2, 0.2)).collect();
        layers.push(FloatLayer::Conv {
            ic: ch,
            oc,
            k,
            pad,
            relu: rng.below(4) != 0,
            w,
            b,
        });
        len = len + 2 * pad - k + 1;
        ch = oc;
        if rng.below(2) == 0 && len >= 4 {
            let size = 2 + rng.below(2);
            layers.push(FloatLayer::Pool(size));
            len /= size;
        }
    }
    layers.push(FloatLayer::Gap);
    if rng.below(2) == 0 {
        let o = 4 + rng.below(12);
        layers.push(dense(rng, ch, o, true));
        ch = o;
    }
    layers.push(dense(rng, ch, classes, false));
    let mut mean = [0f32; CHANNELS];
    let mut std = [1f32; CHANNELS];
    for c in 0..CHANNELS {
        mean[c] = rng.uniform(-1.0, 1.0) as f32;
        std[c] = rng.uniform(0.5, 3.0) as f32;
    }
    FloatModel {
        mean,
        std,
        layers,
        classes,
    }
}

fn dense(rng: &mut Rng, i: usize, o: usize, relu: bool) -> FloatLayer {
    let a = (6.0 / i as f64).sqrt();
    let w = (0..o * i).map(|_| rng.uniform(-a, a)).collect();
    let b = (0..o).map(|_| rng.uniform(-0.3, 0.3)).collect();
    FloatLayer::Dense { i, o, relu, w, b }
}

/// A smooth random window (sums of sines plus noise), like real IMU data.
pub fn random_window(rng: &mut Rng) -> Window {
    let mut win = [[0f32; CHANNELS]; WINDOW_LEN];
    for c in 0..CHANNELS {
        let (f1, f2) = (rng.uniform(0.2, 3.0), rng.uniform(0.2, 5.0));
        let (a1, a2) = (rng.uniform(0.0, 4.0), rng.uniform(0.0, 2.0));
        let (p1, p2, off) = (
            rng.uniform(0.0, 6.3),
            rng.uniform(0.0, 6.3),
            rng.uniform(-2.0, 2.0),
        );
        for (t, sample) in win.iter_mut().enumerate() {
            let s = t as f64 / 20.0;
            let v = off
                + a1 * (std::f64::consts::TAU * f1 * s + p1).sin()
                + a2 * (std::f64::consts::TAU * f2 * s + p2).sin()
                + rng.uniform(-0.3, 0.3);
            sample[c] = v as f32;
        }
    }
    win
}

/// Normalized input `[t][c]`.
pub fn normalize(model: &FloatModel, win: &Window) -> Vec<f64> {
    let mut x = Vec::with_capacity(INPUT_LEN);
    for s in win {
        for c in 0..CHANNELS {
            x.push(((s[c] - model.mean[c]) / model.std[c]) as f64);
        }
    }
    x
}

/// Float forward pass; returns the outputs of every layer (the last one is the logits).
pub fn forward(model: &FloatModel, input: &[f64]) -> Vec<Vec<f64>> {
    let mut x = input.to_vec();
    let (mut len, mut ch) = (WINDOW_LEN, CHANNELS);
    let mut outs = Vec::new();
    for layer in &model.layers {
        let y = match layer {
            FloatLayer::Conv {
                ic,
                oc,
                k,
                pad,
                relu,
                w,
                b,
            } => {
                let out_len = len + 2 * pad - k + 1;
                let mut y = vec![0.0; out_len * oc];
                for t in 0..out_len {
                    for o in 0..*oc {
                        let mut acc = b[o];
                        for kk in 0..*k {
                            let Some(s) = (t + kk).checked_sub(*pad).filter(|&s| s < len) else {
                                continue;
                            };
                            for i in 0..*ic {
                                acc += x[s * ic + i] * w[(o * k + kk) * ic + i];
                            }
                        }
                        y[t * oc + o] = if *relu { acc.max(0.0) } else { acc };
                    }
                }
                len = out_len;
                ch = *oc;
                y
            }
            FloatLayer::Pool(size) => {
                let out_len = len / size;
                let mut y = vec![f64::MIN; out_len * ch];
                for t in 0..out_len {
                    for c in 0..ch {
                        for j in 0..*size {
                            y[t * ch + c] = y[t * ch + c].max(x[(t * size + j) * ch + c]);
                        }
                    }
                }
                len = out_len;
                y
            }
            FloatLayer::Gap => {
                let mut y = vec![0.0; ch];
                for t in 0..len {
                    for c in 0..ch {
                        y[c] += x[t * ch + c] / len as f64;
                    }
                }
                len = 1;
                y
            }
            FloatLayer::Dense { i, o, relu, w, b } => {
                let y = (0..*o)
                    .map(|oo| {
                        let acc = b[oo] + (0..*i).map(|ii| x[ii] * w[oo * i + ii]).sum::<f64>();
                        if *relu { acc.max(0.0) } else { acc }
                    })
                    .collect();
                ch = *o;
                y
            }
        };
        outs.push(y.clone());
        x = y;
    }
    outs
}

/// Asymmetric int8 parameters covering `[min, max]` (and 0).
fn qparams(min: f64, max: f64) -> (f64, i8) {
    let (min, max) = (min.min(0.0), max.max(0.0));
    let scale = ((max - min) / 255.0).max(1e-6);
    let zp = (-128.0 - min / scale).round().clamp(-128.0, 127.0) as i8;
    (scale, zp)
}

/// Post-training quantization calibrated on `calib`; writes the blob into `buf`, returns its length and the
/// logits' (scale, zero point).
pub fn quantize(model: &FloatModel, calib: &[Window], buf: &mut [u8]) -> (usize, f64, i8) {
    let inputs: Vec<Vec<f64>> = calib.iter().map(|w| normalize(model, w)).collect();
    let outs: Vec<Vec<Vec<f64>>> = inputs.iter().map(|x| forward(model, x)).collect();
    let range = |vals: &mut dyn Iterator<Item = f64>| {
        vals.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)))
    };
    let (lo, hi) = range(&mut inputs.iter().flatten().copied());
    // The input is int16, symmetric.
    let (mut scale, mut zp) = (lo.abs().max(hi.abs()).max(1e-9) / 32767.0, 0i8);
    let input_params = (scale, zp);

    let mut w = BlobWriter::new(buf, 42, 3).unwrap();
    let labels: Vec<std::string::String> = (0..model.classes)
        .map(|c| std::format!("class-{c}"))
        .collect();
    let label_refs: Vec<&str> = labels.iter().map(|s| s.as_str()).collect();
    w.labels(&label_refs).unwrap();
    w.input_spec(&InputSpec {
        mean: model.mean,
        std: model.std,
        scale: scale as f32,
        zero_point: zp,
    })
    .unwrap();
    for (li, layer) in model.layers.iter().enumerate() {
        let (ic, oc, k, relu, wf, bf) = match layer {
            FloatLayer::Pool(size) => {
                w.max_pool1d(*size as u8).unwrap();
                continue;
            }
            FloatLayer::Gap => {
                w.global_avg_pool().unwrap();
                continue;
            }
            FloatLayer::Conv {
                ic,
                oc,
                k,
                relu,
                w,
                b,
                ..
            } => (*ic, *oc, *k, *relu, w, b),
            FloatLayer::Dense { i, o, relu, w, b } => (*i, *o, 1, *relu, w, b),
        };
        let (lo, hi) = range(&mut outs.iter().flat_map(|o| o[li].iter().copied()));
        let (out_scale, out_zp) = qparams(lo, hi);
        let mut wq = vec![0i8; oc * k * ic];
        let mut bias = vec![0i32; oc];
        let mut mult = vec![0i32; oc];
        let mut shift = vec![0i8; oc];
        for o in 0..oc {
            let row = &wf[o * k * ic..(o + 1) * k * ic];
            let w_scale = (row.iter().fold(0f64, |m, v| m.max(v.abs())) / 127.0).max(1e-9);
            for (q, v) in wq[o * k * ic..(o + 1) * k * ic].iter_mut().zip(row) {
                *q = (v / w_scale).round().clamp(-127.0, 127.0) as i8;
            }
            bias[o] = (bf[o] / (scale * w_scale)).round() as i32;
            (mult[o], shift[o]) = quantize_multiplier(scale * w_scale / out_scale);
        }
        let spec = FilterSpec {
            in_channels: ic as u16,
            out_channels: oc as u16,
            kernel: k as u8,
            relu,
            weights: &wq,
            bias: &bias,
            multiplier: &mult,
            shift: &shift,
            out_zero_point: out_zp,
            out_scale: out_scale as f32,
        };
        match layer {
            FloatLayer::Conv { pad, .. } => w.conv1d(*pad as u8, &spec).unwrap(),
            _ => w.dense(&spec).unwrap(),
        }
        (scale, zp) = (out_scale, out_zp);
    }
    let mut input = [0i16; INPUT_LEN];
    let (s_in, zp_in) = input_params;
    for (q, x) in input.iter_mut().zip(&inputs[0]) {
        *q = (round_f32((*x / s_in) as f32) + zp_in as i32).clamp(-32768, 32767) as i16;
    }
    w.self_test_from_engine(&input, &mut [0u8; 16 * 1024])
        .unwrap();
    (w.finish().unwrap(), scale, zp)
}
