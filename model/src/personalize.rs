//! Personalization: a user's own classes (any names, any count) from a few windows each, on top
//! of the pre-trained backbone.
//!
//! - [`Method::Head`], the paper's: backbone frozen, a fresh Linear head trained (Adam) on the
//!   embeddings of the user's windows.
//! - [`Method::FineTune`]: the head as above, then every layer fine-tuned at a small learning rate.
//! - [`Method::Ncm`]: closed-form nearest-class-mean on the embeddings, written as a Linear head
//!   (`logit_c = 2 mu_c . e - |mu_c|^2`, i.e. minus the squared distance up to a constant), so it
//!   exports to the same int8 Dense layer.

use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::TensorData;
use serde::{Deserialize, Serialize};

use crate::cnn::{DenseWeights, HarCnn, HarCnnConfig, linear_from, windows_tensor};
use crate::train::{Examples, balanced_cross_entropy, class_weights, embeddings};

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// The paper: frozen backbone, fresh head.
    Head,
    /// Fresh head, then full fine-tuning at a small learning rate.
    FineTune,
    /// Nearest class mean on the embeddings (closed form).
    Ncm,
}

impl Method {
    pub const ALL: [Method; 3] = [Method::Head, Method::FineTune, Method::Ncm];

    pub fn name(self) -> &'static str {
        match self {
            Method::Head => "head",
            Method::FineTune => "fine_tune",
            Method::Ncm => "ncm",
        }
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Config, Debug)]
pub struct PersonalizeConfig {
    #[config(default = 300)]
    pub head_steps: usize,
    #[config(default = 1e-2)]
    pub head_learning_rate: f64,
    #[config(default = 15)]
    pub fine_tune_epochs: usize,
    #[config(default = 3e-4)]
    pub fine_tune_learning_rate: f64,
    #[config(default = 16)]
    pub fine_tune_batch: usize,
    #[config(default = 7)]
    pub seed: u64,
}

/// Returns a model whose head has one output per user class (`classes`), from calibration
/// examples whose `y` index those classes.
pub fn personalize(
    base: &HarCnn,
    net: &HarCnnConfig,
    method: Method,
    calibration: &Examples,
    classes: usize,
    cfg: &PersonalizeConfig,
) -> HarCnn {
    let emb = embeddings(base, &calibration.x);
    let dim = net.embedding_size();
    let head = match method {
        Method::Ncm => ncm_head(&emb, &calibration.y, dim, classes),
        Method::Head | Method::FineTune => train_head(&emb, &calibration.y, dim, classes, cfg),
    };
    let device = Device::flex();
    let mut model = base.valid();
    model.head = linear_from(&head, &device);
    if method == Method::FineTune {
        model = fine_tune(&model, net, calibration, classes, cfg);
    }
    model
}

/// Closed-form nearest-class-mean head. A class without examples gets a very low logit.
pub fn ncm_head(emb: &[f32], y: &[usize], dim: usize, classes: usize) -> DenseWeights {
    let mut mean = vec![0f32; classes * dim];
    let mut count = vec![0usize; classes];
    for (e, &c) in emb.chunks(dim).zip(y) {
        count[c] += 1;
        for k in 0..dim {
            mean[c * dim + k] += e[k];
        }
    }
    let mut weight = vec![0f32; classes * dim];
    let mut bias = vec![-1e4f32; classes];
    for c in 0..classes {
        if count[c] == 0 {
            continue;
        }
        let mu: Vec<f32> = (0..dim)
            .map(|k| mean[c * dim + k] / count[c] as f32)
            .collect();
        for k in 0..dim {
            weight[c * dim + k] = 2.0 * mu[k];
        }
        bias[c] = -mu.iter().map(|v| v * v).sum::<f32>();
    }
    DenseWeights {
        inputs: dim,
        outputs: classes,
        weight,
        bias,
    }
}

fn train_head(
    emb: &[f32],
    y: &[usize],
    dim: usize,
    classes: usize,
    cfg: &PersonalizeConfig,
) -> DenseWeights {
    let device = Device::flex().autodiff();
    device.seed(cfg.seed);
    let n = y.len();
    let x = Tensor::<2>::from_data(TensorData::new(emb.to_vec(), [n, dim]), &device);
    let weights = class_weights(y, classes);
    let mut head = burn::nn::LinearConfig::new(dim, classes).init(&device);
    let mut optim = AdamConfig::new().init();
    for _ in 0..cfg.head_steps {
        let loss = balanced_cross_entropy(head.forward(x.clone()), y, &weights, &device);
        let grads = GradientsParams::from_grads(loss.backward(), &head);
        head = optim.step(cfg.head_learning_rate, head, grads);
    }
    crate::cnn::dense_weights(&head.valid())
}

fn fine_tune(
    model: &HarCnn,
    net: &HarCnnConfig,
    calibration: &Examples,
    classes: usize,
    cfg: &PersonalizeConfig,
) -> HarCnn {
    use rand::SeedableRng;
    use rand::seq::SliceRandom;
    let device = Device::flex().autodiff();
    device.seed(cfg.seed);
    let mut rng = rand::rngs::StdRng::seed_from_u64(cfg.seed);
    let mut m = HarCnn::from_weights(net, &model.weights(), &device);
    let weights = class_weights(&calibration.y, classes);
    let mut optim = AdamConfig::new().init();
    let mut order: Vec<usize> = (0..calibration.len()).collect();
    for _ in 0..cfg.fine_tune_epochs {
        order.shuffle(&mut rng);
        for idx in order.chunks(cfg.fine_tune_batch) {
            let mut x = Vec::new();
            let mut y = Vec::new();
            for &i in idx {
                x.extend_from_slice(calibration.window(i));
                y.push(calibration.y[i]);
            }
            let out = m.forward(windows_tensor(x, &device));
            let loss = balanced_cross_entropy(out, &y, &weights, &device);
            let grads = GradientsParams::from_grads(loss.backward(), &m);
            m = optim.step(cfg.fine_tune_learning_rate, m, grads);
        }
    }
    m.valid()
}
