//! [`Model::parse`]: the zero-copy, fully checked view of a blob.

use super::layer::{Layers, Shape, check_layers};
use super::reader::Reader;
use super::{
    BlobError, DIGEST_LEN, FORMAT_VERSION, HEADER_LEN, INPUT_BYTES, INPUT_LEN, InputSpec, MAGIC,
    MAX_CLASSES, MAX_LABEL_LEN, MAX_LAYERS, sha256,
};
use crate::{CHANNELS, SAMPLE_RATE_HZ, WINDOW_LEN};

/// A parsed, validated model borrowing its blob (e.g. straight from a flash slot).
#[derive(Clone, Copy, PartialEq)]
pub struct Model<'a> {
    bytes: &'a [u8],
    id: u32,
    version: u32,
    arena_size: u32,
    required_arena: u32,
    macs: u32,
    labels: Labels<'a>,
    input: InputSpec,
    layers: Layers<'a>,
    self_test: SelfTest<'a>,
}

impl core::fmt::Debug for Model<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Model")
            .field("id", &self.id)
            .field("version", &self.version)
            .field("bytes", &self.bytes.len())
            .field("arena_size", &self.arena_size)
            .field("macs", &self.macs)
            .field("classes", &self.labels.count)
            .field("layers", &self.layers.len())
            .finish()
    }
}

/// The class labels, borrowed from the blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Labels<'a> {
    bytes: &'a [u8],
    count: u8,
}

impl<'a> Labels<'a> {
    /// Number of classes.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Always false for a parsed model.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Label of class `index`.
    pub fn get(&self, index: usize) -> Option<&'a str> {
        self.iter().nth(index)
    }

    /// The labels in class order.
    pub fn iter(&self) -> impl Iterator<Item = &'a str> + 'a {
        let mut r = Reader::new(self.bytes, 0);
        (0..self.count).map_while(move |_| {
            let len = r.u8().ok()?;
            core::str::from_utf8(r.take(len as usize).ok()?).ok()
        })
    }
}

/// The blob's built-in self-test: a quantized window and the exact output it must give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SelfTest<'a> {
    input: &'a [u8],
    /// Expected class.
    pub class: u8,
    logits: &'a [u8],
}

impl<'a> SelfTest<'a> {
    /// The quantized (int16) input window, `[t][c]`.
    pub fn input(&self) -> [i16; INPUT_LEN] {
        let mut out = [0i16; INPUT_LEN];
        for (o, b) in out.iter_mut().zip(self.input.chunks_exact(2)) {
            *o = i16::from_le_bytes([b[0], b[1]]);
        }
        out
    }

    /// Expected int8 logit of class `i`.
    pub fn logit(&self, i: usize) -> Option<i8> {
        self.logits.get(i).map(|&b| b as i8)
    }

    /// Expected int8 logits.
    pub fn logits(&self) -> impl Iterator<Item = i8> + 'a {
        self.logits.iter().map(|&b| b as i8)
    }
}

impl<'a> Model<'a> {
    /// Parses and validates a blob: digest, lengths, every field and index, layer shapes, arena size.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, BlobError> {
        if bytes.len() < 4 {
            return Err(BlobError::Truncated {
                offset: bytes.len(),
            });
        }
        if bytes[..4] != MAGIC {
            return Err(BlobError::BadMagic);
        }
        let mut r = Reader::new(bytes, 4);
        let version = r.u16()?;
        if version != FORMAT_VERSION {
            return Err(BlobError::UnsupportedVersion { found: version });
        }
        r.reserved()?;
        r.reserved()?;
        let id = r.u32()?;
        let model_version = r.u32()?;
        let total = r.u32()?;
        let arena_size = r.u32()?;
        debug_assert_eq!(r.pos(), HEADER_LEN);
        if total as usize != bytes.len() {
            return Err(BlobError::LengthMismatch {
                declared: total,
                actual: bytes.len(),
            });
        }
        if bytes.len() < HEADER_LEN + DIGEST_LEN {
            return Err(BlobError::Truncated {
                offset: bytes.len(),
            });
        }
        let body_end = bytes.len() - DIGEST_LEN;
        if sha256(&bytes[..body_end]) != bytes[body_end..] {
            return Err(BlobError::DigestMismatch);
        }
        let body = &bytes[..body_end];
        let mut r = Reader::new(body, HEADER_LEN);

        let labels = read_labels(&mut r)?;
        let input = read_input_spec(&mut r)?;

        let count = r.u8()?;
        if count == 0 || count as usize > MAX_LAYERS {
            return Err(BlobError::BadLayerCount { count });
        }
        let layers_start = r.pos();
        let summary = check_layers(body, layers_start, count, Shape::INPUT)?;
        if !summary.last_is_dense || summary.output != Shape::int8(1, labels.len()) {
            return Err(BlobError::OutputNotLogits);
        }
        let layers = Layers::new(&body[layers_start..summary.end], count);
        let required = summary.arena as u32;
        if arena_size < required {
            return Err(BlobError::ArenaTooSmall {
                declared: arena_size,
                required,
            });
        }

        let mut r = Reader::new(body, summary.end);
        let self_test = read_self_test(&mut r, labels.count)?;
        if r.pos() != body.len() {
            return Err(BlobError::TrailingBytes { offset: r.pos() });
        }

        Ok(Model {
            bytes,
            id,
            version: model_version,
            arena_size,
            required_arena: required,
            macs: summary.macs.min(u32::MAX as usize) as u32,
            labels,
            input,
            layers,
            self_test,
        })
    }

    /// Model id (which personalization this is).
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Model version.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Arena bytes the blob declares (what a firmware reserves); inference needs [`Self::required_arena`] of them.
    pub fn arena_size(&self) -> usize {
        self.arena_size as usize
    }

    /// Arena bytes the layers actually need (<= [`Self::arena_size`]).
    pub fn required_arena(&self) -> usize {
        self.required_arena as usize
    }

    /// Multiply-accumulates per window.
    pub fn macs(&self) -> u32 {
        self.macs
    }

    /// The class labels.
    pub fn labels(&self) -> Labels<'a> {
        self.labels
    }

    /// Normalization and input quantization.
    pub fn input_spec(&self) -> &InputSpec {
        &self.input
    }

    /// The layers.
    pub fn layers(&self) -> Layers<'a> {
        self.layers
    }

    /// The built-in self-test vector.
    pub fn self_test_vector(&self) -> SelfTest<'a> {
        self.self_test
    }

    /// The whole blob.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The blob's SHA-256 (its last 32 bytes).
    pub fn digest(&self) -> [u8; 32] {
        let mut d = [0u8; 32];
        d.copy_from_slice(&self.bytes[self.bytes.len() - DIGEST_LEN..]);
        d
    }
}

fn read_labels<'a>(r: &mut Reader<'a>) -> Result<Labels<'a>, BlobError> {
    let count = r.u8()?;
    if count == 0 || count as usize > MAX_CLASSES {
        return Err(BlobError::BadClassCount { count });
    }
    let start = r.pos();
    for index in 0..count {
        let len = r.u8()? as usize;
        let text = r.take(len)?;
        if len == 0 || len > MAX_LABEL_LEN || core::str::from_utf8(text).is_err() {
            return Err(BlobError::BadLabel { index });
        }
    }
    Ok(Labels {
        bytes: r.span(start),
        count,
    })
}

fn read_input_spec(r: &mut Reader<'_>) -> Result<InputSpec, BlobError> {
    let window_len = r.u8()?;
    let channels = r.u8()?;
    let sample_rate_hz = r.u8()?;
    r.reserved()?;
    if window_len as usize != WINDOW_LEN
        || channels as usize != CHANNELS
        || sample_rate_hz as u32 != SAMPLE_RATE_HZ
    {
        return Err(BlobError::UnsupportedInput {
            window_len,
            channels,
            sample_rate_hz,
        });
    }
    let mut mean = [0f32; CHANNELS];
    let mut std = [0f32; CHANNELS];
    for m in &mut mean {
        *m = r.f32()?;
    }
    for s in &mut std {
        *s = r.f32()?;
    }
    let scale = r.f32()?;
    let zero_point = r.i8()?;
    for _ in 0..3 {
        r.reserved()?;
    }
    for c in 0..CHANNELS {
        if !(mean[c].is_finite() && std[c].is_finite() && std[c] > 0.0) {
            return Err(BlobError::BadNormalization { channel: c as u8 });
        }
    }
    if !(scale.is_finite() && scale > 0.0) {
        return Err(BlobError::BadInputScale);
    }
    Ok(InputSpec {
        mean,
        std,
        scale,
        zero_point,
    })
}

fn read_self_test<'a>(r: &mut Reader<'a>, classes: u8) -> Result<SelfTest<'a>, BlobError> {
    let input = r.take(INPUT_BYTES)?;
    let class = r.u8()?;
    let n = r.u8()?;
    let logits = r.take(n as usize)?;
    if class >= classes || n != classes {
        return Err(BlobError::BadSelfTest);
    }
    Ok(SelfTest {
        input,
        class,
        logits,
    })
}
