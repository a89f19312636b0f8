//! Layer records: decoding, validation and the shapes they produce.

use super::reader::{Reader, le_i32};
use super::{BlobError, LayerFault, tag};

/// Quantized weights and requantization of a Conv1d or Dense layer, borrowed from the blob.
///
/// Weights are laid out `[out][kernel][in]` (Dense: kernel 1), zero point 0 (symmetric per output channel).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Filter<'a> {
    /// Input channels (Dense: input features).
    pub in_channels: u16,
    /// Output channels (Dense: output features).
    pub out_channels: u16,
    /// Kernel width (1 for Dense).
    pub kernel: u8,
    /// Fused ReLU: the output's lower clamp is the output zero point.
    pub relu: bool,
    /// The output is int16 (a Conv1d's flag bit 1; a Dense always writes int8).
    pub wide_out: bool,
    /// Output zero point.
    pub out_zero_point: i8,
    /// Output scale (informational except for the final logits, which the softmax dequantizes with it).
    pub out_scale: f32,
    weights: &'a [u8],
    bias: &'a [u8],
    multiplier: &'a [u8],
    shift: &'a [u8],
}

impl<'a> Filter<'a> {
    /// The `in_channels` weights of output channel `oc` at kernel tap `k`, as raw bytes (reinterpret as `i8`).
    pub fn weight_row(&self, oc: usize, k: usize) -> &'a [u8] {
        let n = self.in_channels as usize;
        let start = (oc * self.kernel as usize + k) * n;
        self.weights.get(start..start + n).unwrap_or(&[])
    }

    /// All `kernel × in_channels` weights of output channel `oc` (`[k][i]`, contiguous), as raw bytes.
    pub fn kernel_weights(&self, oc: usize) -> &'a [u8] {
        let n = self.kernel as usize * self.in_channels as usize;
        self.weights.get(oc * n..(oc + 1) * n).unwrap_or(&[])
    }

    /// Weight `[oc][k][ic]`.
    pub fn weight(&self, oc: usize, k: usize, ic: usize) -> i8 {
        self.weight_row(oc, k).get(ic).map_or(0, |&b| b as i8)
    }

    /// Bias of output channel `oc` (scale `in_scale * w_scale[oc]`).
    pub fn bias(&self, oc: usize) -> i32 {
        le_i32(self.bias, oc)
    }

    /// Q31 requantization multiplier of output channel `oc`.
    pub fn multiplier(&self, oc: usize) -> i32 {
        le_i32(self.multiplier, oc)
    }

    /// Requantization shift of output channel `oc` (positive = left).
    pub fn shift(&self, oc: usize) -> i8 {
        self.shift.get(oc).map_or(0, |&b| b as i8)
    }
}

/// One op of the network.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Layer<'a> {
    /// 1-D convolution, stride 1, `padding` zero-point steps on both sides.
    Conv1d { padding: u8, filter: Filter<'a> },
    /// Max pooling with size = stride; odd tails are dropped.
    MaxPool1d { size: u8 },
    /// Mean over time, rounded to nearest; scale and zero point unchanged.
    GlobalAvgPool,
    /// Fully connected layer on a length-1 tensor.
    Dense(Filter<'a>),
}

/// Shape of an activation tensor `[len][channels]` (channel-last), int8 or (`wide`) int16.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub len: usize,
    pub channels: usize,
    pub wide: bool,
}

impl Shape {
    /// The model input: `[60][6]` int16.
    pub const INPUT: Shape = Shape {
        len: crate::WINDOW_LEN,
        channels: crate::CHANNELS,
        wide: true,
    };

    /// An int8 tensor.
    pub fn int8(len: usize, channels: usize) -> Shape {
        Shape {
            len,
            channels,
            wide: false,
        }
    }

    /// Bytes of a tensor of this shape (two per value when `wide`).
    pub fn bytes(&self) -> usize {
        self.len * self.channels * if self.wide { 2 } else { 1 }
    }

    /// The output shape of `layer` applied to this shape, or why it does not fit.
    pub fn after(self, layer: &Layer<'_>) -> Result<Shape, LayerFault> {
        let check_in = |f: &Filter<'_>| {
            if f.in_channels as usize == self.channels {
                Ok(())
            } else {
                Err(LayerFault::ChannelMismatch {
                    expected: self.channels.min(u16::MAX as usize) as u16,
                    found: f.in_channels,
                })
            }
        };
        match layer {
            Layer::Conv1d { padding, filter } => {
                check_in(filter)?;
                if padding >= &filter.kernel {
                    return Err(LayerFault::PaddingTooLarge);
                }
                let padded = self.len + 2 * *padding as usize;
                let k = filter.kernel as usize;
                if padded < k {
                    return Err(LayerFault::EmptyOutput);
                }
                Ok(Shape {
                    len: padded - k + 1,
                    channels: filter.out_channels as usize,
                    wide: filter.wide_out,
                })
            }
            Layer::MaxPool1d { size } => {
                let len = self.len / (*size).max(1) as usize;
                if len == 0 {
                    return Err(LayerFault::EmptyOutput);
                }
                Ok(Shape { len, ..self })
            }
            Layer::GlobalAvgPool if self.wide => Err(LayerFault::WideInput),
            Layer::GlobalAvgPool => Ok(Shape::int8(1, self.channels)),
            Layer::Dense(filter) => {
                if self.len != 1 {
                    return Err(LayerFault::NotFlat);
                }
                if self.wide {
                    return Err(LayerFault::WideInput);
                }
                check_in(filter)?;
                Ok(Shape::int8(1, filter.out_channels as usize))
            }
        }
    }
}

impl Layer<'_> {
    /// Multiply-accumulates this layer performs on an input of shape `input` (padding taps included).
    pub fn macs(&self, input: Shape) -> usize {
        match self {
            Layer::Conv1d { filter, .. } => match input.after(self) {
                Ok(out) => {
                    out.len * out.channels * filter.kernel as usize * filter.in_channels as usize
                }
                Err(_) => 0,
            },
            Layer::Dense(f) => f.in_channels as usize * f.out_channels as usize,
            Layer::MaxPool1d { .. } | Layer::GlobalAvgPool => 0,
        }
    }
}

/// Reads one layer record, checking its fields (not yet its fit with the previous layer).
pub(crate) fn read_layer<'a>(r: &mut Reader<'a>, index: u8) -> Result<Layer<'a>, BlobError> {
    let bad = |fault| BlobError::BadLayer { index, fault };
    match r.u8()? {
        tag::CONV1D => {
            let inp = r.u16()?;
            let out = r.u16()?;
            let kernel = r.u8()?;
            let padding = r.u8()?;
            let filter = read_filter(r, index, inp, out, kernel, true)?;
            Ok(Layer::Conv1d { padding, filter })
        }
        tag::MAX_POOL1D => match r.u8()? {
            0 => Err(bad(LayerFault::ZeroSize)),
            size => Ok(Layer::MaxPool1d { size }),
        },
        tag::GLOBAL_AVG_POOL => Ok(Layer::GlobalAvgPool),
        tag::DENSE => {
            let inp = r.u16()?;
            let out = r.u16()?;
            Ok(Layer::Dense(read_filter(r, index, inp, out, 1, false)?))
        }
        other => Err(BlobError::UnknownLayer { index, tag: other }),
    }
}

fn read_filter<'a>(
    r: &mut Reader<'a>,
    index: u8,
    inp: u16,
    out: u16,
    kernel: u8,
    may_be_wide: bool,
) -> Result<Filter<'a>, BlobError> {
    let bad = |fault| BlobError::BadLayer { index, fault };
    let flags_at = r.pos();
    let flags = r.u8()?;
    let known = if may_be_wide { 0b11 } else { 0b01 };
    if flags & !known != 0 {
        return Err(BlobError::ReservedNotZero { offset: flags_at });
    }
    let out_zero_point = r.i8()?;
    let out_scale = r.f32()?;
    if inp == 0 || out == 0 || kernel == 0 {
        return Err(bad(LayerFault::ZeroSize));
    }
    if !(out_scale.is_finite() && out_scale > 0.0) {
        return Err(bad(LayerFault::BadOutScale));
    }
    let (o, k, i) = (out as usize, kernel as usize, inp as usize);
    let weights = r.take(o * k * i)?;
    let bias = r.take(o * 4)?;
    let multiplier = r.take(o * 4)?;
    let shift = r.take(o)?;
    for (ch, &s) in shift.iter().enumerate() {
        if le_i32(multiplier, ch) < 0 {
            return Err(bad(LayerFault::NegativeMultiplier { channel: ch as u16 }));
        }
        if !(-31..=30).contains(&(s as i8)) {
            return Err(bad(LayerFault::BadShift { channel: ch as u16 }));
        }
    }
    Ok(Filter {
        in_channels: inp,
        out_channels: out,
        kernel,
        relu: flags & 1 == 1,
        wide_out: flags & 2 == 2,
        out_zero_point,
        out_scale,
        weights,
        bias,
        multiplier,
        shift,
    })
}

/// The layer section of a blob: iterates the layers without copying (already validated by the parser).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Layers<'a> {
    bytes: &'a [u8],
    count: u8,
}

impl<'a> Layers<'a> {
    pub(crate) fn new(bytes: &'a [u8], count: u8) -> Self {
        Self { bytes, count }
    }

    /// Number of layers.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Always false for a parsed model (at least one layer).
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The layers in order.
    pub fn iter(&self) -> LayerIter<'a> {
        LayerIter {
            reader: Reader::new(self.bytes, 0),
            index: 0,
            count: self.count,
        }
    }
}

impl<'a> IntoIterator for Layers<'a> {
    type Item = Layer<'a>;
    type IntoIter = LayerIter<'a>;
    fn into_iter(self) -> LayerIter<'a> {
        self.iter()
    }
}

/// Iterator over [`Layers`].
pub struct LayerIter<'a> {
    reader: Reader<'a>,
    index: u8,
    count: u8,
}

impl<'a> Iterator for LayerIter<'a> {
    type Item = Layer<'a>;
    fn next(&mut self) -> Option<Layer<'a>> {
        if self.index >= self.count {
            return None;
        }
        let layer = read_layer(&mut self.reader, self.index).ok();
        self.index += 1;
        if layer.is_none() {
            self.index = self.count;
        }
        layer
    }
}

/// Walks a layer section from `input`, checking each layer fits; returns (output shape, end offset,
/// required arena bytes, MACs).
pub(crate) fn check_layers(
    bytes: &[u8],
    start: usize,
    count: u8,
    input: Shape,
) -> Result<LayersSummary, BlobError> {
    let mut r = Reader::new(bytes, start);
    let mut shape = input;
    let mut arena = input.bytes();
    let mut macs = 0usize;
    let mut last = None;
    for index in 0..count {
        let layer = read_layer(&mut r, index)?;
        let out = shape
            .after(&layer)
            .map_err(|fault| BlobError::BadLayer { index, fault })?;
        arena = arena.max(shape.bytes() + out.bytes());
        macs = macs.saturating_add(layer.macs(shape));
        shape = out;
        last = Some(layer);
    }
    Ok(LayersSummary {
        output: shape,
        end: r.pos(),
        arena,
        macs,
        last_is_dense: matches!(last, Some(Layer::Dense(_))),
    })
}

pub(crate) struct LayersSummary {
    pub output: Shape,
    pub end: usize,
    pub arena: usize,
    pub macs: usize,
    pub last_is_dense: bool,
}
