//! Which int8 rounding costs argmax agreement? Fake-quantizes one part of the network at a time
//! (in f32, with the exporter's scales: input, per-channel weights, each convolution's output;
//! the pooled embedding and the logits stay exact, as in blob format 2) and counts the windows
//! whose class changes against the float model.
//!
//! `cargo run -p bandx-model --example quant_probe -- CKPT.json WISDM_DIR SUBJECTS [EVERY]`
//!
//! `PROBE_INPUT_DIV=D` divides the input step by D (D = 256: a 16-bit input);
//! `PROBE_PER_CHANNEL=TAIL` gives every input channel its own range (TAIL-quantiles).
//! Findings are in model/README.md ("Blob format 2").

use bandx_model::checkpoint::Checkpoint;
use bandx_model::cnn::{FloatWeights, conv_relu, max_pool2, reference_forward};
use bandx_model::data::DataSource;
use bandx_model::preprocess::windows;
use bandx_model::train::{Examples, argmax};

const WV: usize = 360;
static PER_CH: std::sync::OnceLock<Vec<Q>> = std::sync::OnceLock::new();

#[derive(Clone, Copy, Default)]
struct Toggles {
    input: bool,
    acts: [bool; 3],
}

struct Q {
    scale: f32,
    zp: f32,
    /// Largest code (127 for int8).
    max: f32,
}

fn q_of(lo: f32, hi: f32) -> Q {
    let lo = lo.min(0.0);
    let hi = hi.max(0.0).max(lo + 1e-6);
    let scale = (hi - lo) / 255.0;
    let zp = (-128.0 - lo / scale).round().clamp(-128.0, 127.0);
    Q {
        scale,
        zp,
        max: 127.0,
    }
}

fn fq(v: f32, q: &Q) -> f32 {
    let k = ((v / q.scale).round() + q.zp).clamp(-q.max - 1.0, q.max);
    (k - q.zp) * q.scale
}

fn quant_weights(w: &FloatWeights) -> FloatWeights {
    let mut w = w.clone();
    for c in &mut w.convs {
        let per = c.in_ch * c.kernel;
        for oc in 0..c.out_ch {
            let row = &mut c.weight[oc * per..(oc + 1) * per];
            let max = row.iter().fold(0f32, |m, v| m.max(v.abs()));
            let s = if max > 0.0 { max / 127.0 } else { 1.0 };
            row.iter_mut().for_each(|v| *v = (*v / s).round() * s);
        }
    }
    let per = w.head.inputs;
    for oc in 0..w.head.outputs {
        let row = &mut w.head.weight[oc * per..(oc + 1) * per];
        let max = row.iter().fold(0f32, |m, v| m.max(v.abs()));
        let s = if max > 0.0 { max / 127.0 } else { 1.0 };
        row.iter_mut().for_each(|v| *v = (*v / s).round() * s);
    }
    w
}

fn forward(w: &FloatWeights, qs: &[Q; 4], x: &[f32], tg: Toggles) -> Vec<f32> {
    let per = PER_CH.get();
    let mut x: Vec<f32> = if tg.input {
        x.iter()
            .enumerate()
            .map(|(i, &v)| match per {
                Some(p) => fq(v, &p[i % 6]),
                None => fq(v, &qs[0]),
            })
            .collect()
    } else {
        x.to_vec()
    };
    let mut len = 60;
    for (i, c) in w.convs.iter().enumerate() {
        x = conv_relu(c, &x, len);
        if tg.acts[i] {
            x.iter_mut().for_each(|v| *v = fq(*v, &qs[i + 1]));
        }
        if i + 1 < w.convs.len() {
            (x, len) = max_pool2(&x, len, c.out_ch);
        }
    }
    let ch = w.convs[2].out_ch;
    let emb: Vec<f32> = (0..ch)
        .map(|c| (0..len).map(|t| x[t * ch + c]).sum::<f32>() / len as f32)
        .collect();
    (0..w.head.outputs)
        .map(|o| {
            w.head.bias[o]
                + (0..w.head.inputs)
                    .map(|i| w.head.weight[o * w.head.inputs + i] * emb[i])
                    .sum::<f32>()
        })
        .collect()
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let ckpt = Checkpoint::load(std::path::Path::new(&args[1]))?;
    let subjects: Vec<String> = args[3].split(',').map(String::from).collect();
    let every: usize = args.get(4).map_or(Ok(1), |s| s.parse())?;
    let source = DataSource::Wisdm {
        dir: args[2].clone().into(),
        subjects: Some(subjects),
    };
    let (recordings, _) = source.load()?;
    let w = windows(&recordings);
    let ex = Examples::new(w.iter().step_by(every), &ckpt.labels, &ckpt.normalization);
    let r = &ckpt.ranges;
    let div: f32 = std::env::var("PROBE_INPUT_DIV").map_or(1.0, |v| v.parse().unwrap());
    let mut q0 = q_of(r[0][0].max(-8.0), r[0][1].min(8.0));
    if div > 1.0 {
        // A finer step over at least the same range: 16 bits, zero point scaled along.
        q0 = Q {
            scale: q0.scale / div,
            zp: q0.zp * div,
            max: 32767.0,
        };
    }
    let qs = [
        q0,
        q_of(0.0, r[1][1]),
        q_of(0.0, r[3][1]),
        q_of(0.0, r[5][1]),
    ];
    let wq = quant_weights(&ckpt.weights);
    if let Ok(mode) = std::env::var("PROBE_PER_CHANNEL") {
        let tail: f64 = mode.parse().unwrap_or(1e-3);
        let mut per = Vec::new();
        for c in 0..6 {
            let mut v: Vec<f32> = ex.x.iter().skip(c).step_by(6).copied().collect();
            v.sort_by(f32::total_cmp);
            let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
            let (lo, hi) = (q(tail), q(1.0 - tail));
            // Scale only (zero stays exact), as a per-channel gain folded into std would give:
            // the common range is [-1, h] with the channel's own asymmetry kept.
            println!("channel {c}: [{lo:.2}, {hi:.2}]");
            per.push(q_of(lo, hi));
        }
        let _ = PER_CH.set(per);
    }
    let n = ex.y.len();
    let float: Vec<usize> =
        ex.x.chunks_exact(WV)
            .map(|x| argmax(reference_forward(&ckpt.weights, x).last().unwrap()))
            .collect();
    let only = |input, acts| Toggles { input, acts };
    let variants = [
        ("none", only(false, [false; 3]), false),
        ("input", only(true, [false; 3]), false),
        ("weights", only(false, [false; 3]), true),
        ("act1", only(false, [true, false, false]), false),
        ("act2", only(false, [false, true, false]), false),
        ("act3", only(false, [false, false, true]), false),
        ("all", only(true, [true; 3]), true),
    ];
    println!(
        "{n} windows; ranges input {:?} a1 {:?} a2 {:?} a3 {:?}",
        r[0], r[1], r[3], r[5]
    );
    for (name, tg, wts) in variants {
        let weights = if wts { &wq } else { &ckpt.weights };
        let dis =
            ex.x.chunks_exact(WV)
                .zip(&float)
                .filter(|(x, f)| argmax(&forward(weights, &qs, x, tg)) != **f)
                .count();
        println!(
            "{name:8} disagreements {dis:5}  agreement {:.4}",
            1.0 - dis as f64 / n as f64
        );
    }
    Ok(())
}
