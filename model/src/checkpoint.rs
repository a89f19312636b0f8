//! A float model on disk: network shape, class labels, normalization and weights, as JSON.

use std::path::Path;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::cnn::{FloatWeights, HarCnn, HarCnnConfig};
use crate::error::{ModelError, Result};
use crate::preprocess::Normalization;

pub const FORMAT: &str = "bandx-model/checkpoint/1";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Checkpoint {
    pub format: String,
    pub network: HarCnnConfig,
    pub labels: Vec<String>,
    pub normalization: Normalization,
    pub weights: FloatWeights,
    /// Calibrated [min, max] of the input and of every activation (see
    /// `cnn::activation_ranges`), measured on training data; used by the int8 export.
    #[serde(default)]
    pub ranges: Vec<[f32; 2]>,
    /// Free-form provenance: command, data, metrics.
    #[serde(default)]
    pub notes: serde_json::Value,
}

impl Checkpoint {
    pub fn new(
        network: HarCnnConfig,
        labels: Vec<String>,
        normalization: Normalization,
        model: &HarCnn,
    ) -> Checkpoint {
        Checkpoint {
            format: FORMAT.into(),
            network,
            labels,
            normalization,
            weights: model.weights(),
            ranges: Vec::new(),
            notes: serde_json::Value::Null,
        }
    }

    pub fn model(&self, device: &Device) -> HarCnn {
        HarCnn::from_weights(&self.network, &self.weights, device)
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string(self).map_err(|e| ModelError::Checkpoint {
            path: path.into(),
            reason: e.to_string(),
        })?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| ModelError::io(dir, e))?;
        }
        std::fs::write(path, text).map_err(|e| ModelError::io(path, e))
    }

    pub fn load(path: &Path) -> Result<Checkpoint> {
        let text = std::fs::read_to_string(path).map_err(|e| ModelError::io(path, e))?;
        Checkpoint::from_json(&text, path)
    }

    /// Parses a checkpoint's JSON text; `origin` names it in errors.
    pub fn from_json(text: &str, origin: &Path) -> Result<Checkpoint> {
        let path = origin;
        let c: Checkpoint = serde_json::from_str(text).map_err(|e| ModelError::Checkpoint {
            path: path.into(),
            reason: e.to_string(),
        })?;
        c.validate().map_err(|reason| ModelError::Checkpoint {
            path: path.into(),
            reason,
        })?;
        Ok(c)
    }

    fn validate(&self) -> std::result::Result<(), String> {
        if self.format != FORMAT {
            return Err(format!("format '{}' is not '{FORMAT}'", self.format));
        }
        let n = &self.network;
        let expect = [
            (6, n.conv1_channels, n.kernel12),
            (n.conv1_channels, n.conv2_channels, n.kernel12),
            (n.conv2_channels, n.conv3_channels, n.kernel3),
        ];
        if self.weights.convs.len() != 3 {
            return Err("expected 3 conv layers".into());
        }
        for (c, (i, o, k)) in self.weights.convs.iter().zip(expect) {
            if (c.in_ch, c.out_ch, c.kernel) != (i, o, k)
                || c.weight.len() != i * o * k
                || c.bias.len() != o
            {
                return Err("conv layer shapes do not match the network".into());
            }
        }
        let h = &self.weights.head;
        if h.inputs != n.conv3_channels
            || h.outputs != self.labels.len()
            || h.weight.len() != h.inputs * h.outputs
            || h.bias.len() != h.outputs
        {
            return Err("head shape does not match the labels".into());
        }
        if self
            .normalization
            .std
            .iter()
            .any(|s| !(s.is_finite() && *s > 0.0))
        {
            return Err("normalization std must be positive".into());
        }
        Ok(())
    }
}
