//! [`BlobWriter`]: writes a blob section by section into a caller buffer, validating as it goes.

use super::layer::{Layers, Shape, check_layers, read_layer};
use super::reader::Reader;
use super::{
    BlobError, DIGEST_LEN, FORMAT_VERSION, HEADER_LEN, INPUT_LEN, InputSpec, MAGIC, MAX_CLASSES,
    MAX_LABEL_LEN, MAX_LAYERS, Model, Section, sha256, tag,
};
use crate::infer::{self, Prediction};
use crate::{CHANNELS, SAMPLE_RATE_HZ, WINDOW_LEN};

/// Quantized parameters of a Conv1d or Dense layer, as the exporter hands them over.
#[derive(Debug, Clone, Copy)]
pub struct FilterSpec<'b> {
    pub in_channels: u16,
    pub out_channels: u16,
    /// Kernel width; must be 1 for Dense.
    pub kernel: u8,
    /// Fused ReLU.
    pub relu: bool,
    /// `[out][kernel][in]`, symmetric per output channel.
    pub weights: &'b [i8],
    /// One per output channel, scale `in_scale * w_scale[oc]`.
    pub bias: &'b [i32],
    /// One Q31 multiplier per output channel (from [`crate::quant::quantize_multiplier`]).
    pub multiplier: &'b [i32],
    /// One shift per output channel (from [`crate::quant::quantize_multiplier`]).
    pub shift: &'b [i8],
    pub out_zero_point: i8,
    pub out_scale: f32,
}

/// Writes a model blob into a caller buffer, no heap. Call in order: [`new`](Self::new), [`labels`](Self::labels),
/// [`input_spec`](Self::input_spec), layers ([`conv1d`](Self::conv1d), [`max_pool1d`](Self::max_pool1d),
/// [`global_avg_pool`](Self::global_avg_pool), [`dense`](Self::dense)), a self-test, [`finish`](Self::finish).
/// Each step is checked with the parser's own rules, so a finished blob always parses.
pub struct BlobWriter<'b> {
    buf: &'b mut [u8],
    pos: usize,
    next: Section,
    classes: u8,
    shape: Shape,
    layer_count: u8,
    layer_count_at: usize,
    layers_start: usize,
    input_zero_point: i8,
}

impl<'b> BlobWriter<'b> {
    /// Starts a blob for model `model_id` at `version`.
    pub fn new(buf: &'b mut [u8], model_id: u32, version: u32) -> Result<Self, BlobError> {
        let mut w = BlobWriter {
            buf,
            pos: 0,
            next: Section::Labels,
            classes: 0,
            shape: Shape::INPUT,
            layer_count: 0,
            layer_count_at: 0,
            layers_start: 0,
            input_zero_point: 0,
        };
        w.put(&MAGIC)?;
        w.put(&FORMAT_VERSION.to_le_bytes())?;
        w.put(&[0, 0])?;
        w.put(&model_id.to_le_bytes())?;
        w.put(&version.to_le_bytes())?;
        w.put(&[0; 8])?; // total length and arena size, patched by finish()
        debug_assert_eq!(w.pos, HEADER_LEN);
        Ok(w)
    }

    /// The class labels (1..=16, each 1..=24 UTF-8 bytes).
    pub fn labels(&mut self, labels: &[&str]) -> Result<(), BlobError> {
        self.expect(Section::Labels)?;
        if labels.is_empty() || labels.len() > MAX_CLASSES {
            return Err(BlobError::BadClassCount {
                count: labels.len().min(255) as u8,
            });
        }
        for (i, l) in labels.iter().enumerate() {
            if l.is_empty() || l.len() > MAX_LABEL_LEN {
                return Err(BlobError::BadLabel { index: i as u8 });
            }
        }
        self.put(&[labels.len() as u8])?;
        for l in labels {
            self.put(&[l.len() as u8])?;
            self.put(l.as_bytes())?;
        }
        self.classes = labels.len() as u8;
        self.next = Section::InputSpec;
        Ok(())
    }

    /// Normalization and input quantization.
    pub fn input_spec(&mut self, spec: &InputSpec) -> Result<(), BlobError> {
        self.expect(Section::InputSpec)?;
        for c in 0..CHANNELS {
            if !(spec.mean[c].is_finite() && spec.std[c].is_finite() && spec.std[c] > 0.0) {
                return Err(BlobError::BadNormalization { channel: c as u8 });
            }
        }
        if !(spec.scale.is_finite() && spec.scale > 0.0) {
            return Err(BlobError::BadInputScale);
        }
        self.put(&[WINDOW_LEN as u8, CHANNELS as u8, SAMPLE_RATE_HZ as u8, 0])?;
        for m in spec.mean {
            self.put(&m.to_le_bytes())?;
        }
        for s in spec.std {
            self.put(&s.to_le_bytes())?;
        }
        self.put(&spec.scale.to_le_bytes())?;
        self.put(&[spec.zero_point as u8, 0, 0, 0])?;
        self.input_zero_point = spec.zero_point;
        self.layer_count_at = self.pos;
        self.put(&[0])?; // layer count, patched per layer
        self.layers_start = self.pos;
        self.next = Section::Layers;
        Ok(())
    }

    /// A Conv1d layer (stride 1, `padding` steps of the input zero point on both sides).
    pub fn conv1d(&mut self, padding: u8, f: &FilterSpec<'_>) -> Result<(), BlobError> {
        self.conv1d_with(padding, f, false)
    }

    /// A Conv1d layer whose output is int16 (`f.out_zero_point` and the clamp then span the int16
    /// range); the next layer must be a Conv1d or MaxPool1d.
    pub fn conv1d_wide(&mut self, padding: u8, f: &FilterSpec<'_>) -> Result<(), BlobError> {
        self.conv1d_with(padding, f, true)
    }

    fn conv1d_with(
        &mut self,
        padding: u8,
        f: &FilterSpec<'_>,
        wide: bool,
    ) -> Result<(), BlobError> {
        self.layer(|w| {
            w.put(&[tag::CONV1D])?;
            w.put(&f.in_channels.to_le_bytes())?;
            w.put(&f.out_channels.to_le_bytes())?;
            w.put(&[f.kernel, padding])?;
            w.put_filter(f, wide)
        })
    }

    /// A MaxPool1d layer with size = stride.
    pub fn max_pool1d(&mut self, size: u8) -> Result<(), BlobError> {
        self.layer(|w| w.put(&[tag::MAX_POOL1D, size]))
    }

    /// A global average pool over time.
    pub fn global_avg_pool(&mut self) -> Result<(), BlobError> {
        self.layer(|w| w.put(&[tag::GLOBAL_AVG_POOL]))
    }

    /// A Dense layer (`f.kernel` must be 1); the last one gives the logits.
    pub fn dense(&mut self, f: &FilterSpec<'_>) -> Result<(), BlobError> {
        if f.kernel != 1 {
            return Err(BlobError::InvalidArgument("dense kernel must be 1"));
        }
        self.layer(|w| {
            w.put(&[tag::DENSE])?;
            w.put(&f.in_channels.to_le_bytes())?;
            w.put(&f.out_channels.to_le_bytes())?;
            w.put_filter(f, false)
        })
    }

    /// The self-test: a quantized window and the exact class and int8 logits the engine must reproduce.
    pub fn self_test(
        &mut self,
        input: &[i16; INPUT_LEN],
        expected_class: u8,
        expected_logits: &[i8],
    ) -> Result<(), BlobError> {
        self.expect(Section::Layers)?;
        self.check_logits_output()?;
        if expected_class >= self.classes || expected_logits.len() != self.classes as usize {
            return Err(BlobError::BadSelfTest);
        }
        for &q in input.iter() {
            self.put(&q.to_le_bytes())?;
        }
        self.put(&[expected_class, self.classes])?;
        for &q in expected_logits {
            self.put(&[q as u8])?;
        }
        self.next = Section::Finish;
        Ok(())
    }

    /// Runs the layers written so far on `input` with this crate's engine and stores the result as the
    /// self-test. `arena` must hold [`Self::required_arena`] bytes. Returns the stored prediction.
    pub fn self_test_from_engine(
        &mut self,
        input: &[i16; INPUT_LEN],
        arena: &mut [u8],
    ) -> Result<Prediction, BlobError> {
        self.expect(Section::Layers)?;
        self.check_logits_output()?;
        let required = self.required_arena()?;
        let layers = Layers::new(&self.buf[self.layers_start..self.pos], self.layer_count);
        let last_scale = layers.iter().last().and_then(|l| match l {
            super::Layer::Dense(f) => Some(f.out_scale),
            _ => None,
        });
        let scale = last_scale.ok_or(BlobError::OutputNotLogits)?;
        let got = arena.len() as u32;
        let arena = arena.get_mut(..required).ok_or(BlobError::ArenaTooSmall {
            declared: got,
            required: required as u32,
        })?;
        let logits = infer::forward(layers, self.input_zero_point, input, arena).map_err(|_| {
            BlobError::ArenaTooSmall {
                declared: 0,
                required: required as u32,
            }
        })?;
        let prediction = infer::predict(&logits, scale);
        self.self_test(input, prediction.class, &prediction.logits)?;
        Ok(prediction)
    }

    /// Arena bytes the layers written so far need.
    pub fn required_arena(&self) -> Result<usize, BlobError> {
        let input = Shape::INPUT;
        Ok(check_layers(
            &self.buf[..self.pos],
            self.layers_start,
            self.layer_count,
            input,
        )?
        .arena)
    }

    /// Patches the header, appends the SHA-256 and returns the blob length (`buf[..len]` is the blob).
    pub fn finish(mut self) -> Result<usize, BlobError> {
        self.expect(Section::Finish)?;
        let arena = self.required_arena()? as u32;
        let total = (self.pos + DIGEST_LEN) as u32;
        if self.buf.len() < total as usize {
            return Err(BlobError::BufferTooSmall {
                needed: total as usize,
            });
        }
        self.buf[16..20].copy_from_slice(&total.to_le_bytes());
        self.buf[20..24].copy_from_slice(&arena.to_le_bytes());
        let digest = sha256(&self.buf[..self.pos]);
        self.put(&digest)?;
        Model::parse(&self.buf[..self.pos])?;
        Ok(self.pos)
    }

    fn expect(&self, section: Section) -> Result<(), BlobError> {
        if self.next == section {
            Ok(())
        } else {
            Err(BlobError::OutOfOrder {
                expected: self.next,
            })
        }
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), BlobError> {
        let end = self.pos + bytes.len();
        let dst = self
            .buf
            .get_mut(self.pos..end)
            .ok_or(BlobError::BufferTooSmall { needed: end })?;
        dst.copy_from_slice(bytes);
        self.pos = end;
        Ok(())
    }

    fn put_filter(&mut self, f: &FilterSpec<'_>, wide_out: bool) -> Result<(), BlobError> {
        let (o, k, i) = (
            f.out_channels as usize,
            f.kernel as usize,
            f.in_channels as usize,
        );
        if f.weights.len() != o * k * i {
            return Err(BlobError::InvalidArgument(
                "weights length != out * kernel * in",
            ));
        }
        if f.bias.len() != o || f.multiplier.len() != o || f.shift.len() != o {
            return Err(BlobError::InvalidArgument(
                "bias, multiplier and shift need one entry per output",
            ));
        }
        self.put(&[
            u8::from(f.relu) | (u8::from(wide_out) << 1),
            f.out_zero_point as u8,
        ])?;
        self.put(&f.out_scale.to_le_bytes())?;
        for &w in f.weights {
            self.put(&[w as u8])?;
        }
        for &b in f.bias {
            self.put(&b.to_le_bytes())?;
        }
        for &m in f.multiplier {
            self.put(&m.to_le_bytes())?;
        }
        for &s in f.shift {
            self.put(&[s as u8])?;
        }
        Ok(())
    }

    /// Writes one layer record with `write`, then checks it with the parser's rules; rolls back on error.
    fn layer(
        &mut self,
        write: impl FnOnce(&mut Self) -> Result<(), BlobError>,
    ) -> Result<(), BlobError> {
        self.expect(Section::Layers)?;
        if self.layer_count as usize >= MAX_LAYERS {
            return Err(BlobError::BadLayerCount {
                count: self.layer_count.saturating_add(1),
            });
        }
        let start = self.pos;
        let result = write(self).and_then(|()| {
            let index = self.layer_count;
            let layer = read_layer(&mut Reader::new(&self.buf[..self.pos], start), index)?;
            self.shape
                .after(&layer)
                .map_err(|fault| BlobError::BadLayer { index, fault })
        });
        match result {
            Ok(shape) => {
                self.shape = shape;
                self.layer_count += 1;
                self.buf[self.layer_count_at] = self.layer_count;
                Ok(())
            }
            Err(e) => {
                self.pos = start;
                Err(e)
            }
        }
    }

    fn check_logits_output(&self) -> Result<(), BlobError> {
        let layers = Layers::new(&self.buf[self.layers_start..self.pos], self.layer_count);
        let last_dense = matches!(layers.iter().last(), Some(super::Layer::Dense(_)));
        if !last_dense || self.shape != Shape::int8(1, self.classes as usize) {
            return Err(BlobError::OutputNotLogits);
        }
        Ok(())
    }
}
