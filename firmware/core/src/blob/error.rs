//! Typed errors of the blob writer and parser.

use core::fmt;

/// Why a blob could not be written or parsed. Every malformed input maps to one of these; the parser never panics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobError {
    /// The writer's output buffer cannot hold the next bytes (`needed` bytes in total so far).
    BufferTooSmall { needed: usize },
    /// A writer method was called out of the fixed section order.
    OutOfOrder { expected: Section },
    /// A writer argument is inconsistent (e.g. slice lengths that do not match the declared shape).
    InvalidArgument(&'static str),
    /// The blob ends in the middle of a field starting at `offset`.
    Truncated { offset: usize },
    /// The first four bytes are not `BXMD`.
    BadMagic,
    /// The format version is not one this build understands.
    UnsupportedVersion { found: u16 },
    /// The header's total length disagrees with the slice length.
    LengthMismatch { declared: u32, actual: usize },
    /// The trailing SHA-256 does not match the blob contents.
    DigestMismatch,
    /// A reserved byte or flag bit at `offset` is not zero.
    ReservedNotZero { offset: usize },
    /// The class count is 0 or above [`super::MAX_CLASSES`].
    BadClassCount { count: u8 },
    /// Label `index` is empty, longer than [`super::MAX_LABEL_LEN`] or not UTF-8.
    BadLabel { index: u8 },
    /// The input spec is not the 60 x 6 at 20 Hz window this build runs.
    UnsupportedInput {
        window_len: u8,
        channels: u8,
        sample_rate_hz: u8,
    },
    /// A normalization mean is not finite or a std is not finite and positive.
    BadNormalization { channel: u8 },
    /// The input quantization scale is not finite and positive.
    BadInputScale,
    /// The layer count is 0 or above [`super::MAX_LAYERS`].
    BadLayerCount { count: u8 },
    /// Layer `index` has an unknown op tag.
    UnknownLayer { index: u8, tag: u8 },
    /// Layer `index` is inconsistent.
    BadLayer { index: u8, fault: LayerFault },
    /// The last layer is not a Dense layer with one output per class.
    OutputNotLogits,
    /// The declared arena is smaller than the layers need.
    ArenaTooSmall { declared: u32, required: u32 },
    /// The self-test's class or logit count does not match the class count.
    BadSelfTest,
    /// Unparsed bytes between the self-test and the digest, starting at `offset`.
    TrailingBytes { offset: usize },
}

/// What is wrong with one layer record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerFault {
    /// A size field (channels, kernel, pool size) is zero.
    ZeroSize,
    /// The layer's input channel count differs from the previous layer's output.
    ChannelMismatch { expected: u16, found: u16 },
    /// A Dense layer follows a tensor longer than one step (add a GlobalAvgPool first).
    NotFlat,
    /// The layer would produce an empty output.
    EmptyOutput,
    /// Conv padding must be smaller than the kernel.
    PaddingTooLarge,
    /// A Dense layer's kernel must be 1.
    DenseKernel,
    /// Requantization shift of output channel `channel` is outside -31..=30.
    BadShift { channel: u16 },
    /// Requantization multiplier of output channel `channel` is negative.
    NegativeMultiplier { channel: u16 },
    /// The output scale is not finite and positive.
    BadOutScale,
    /// An int16 tensor (the input, or a Conv1d's wide output) feeds a layer other than Conv1d or
    /// MaxPool1d.
    WideInput,
}

/// The blob's sections, in the order they are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Labels,
    InputSpec,
    Layers,
    SelfTest,
    Finish,
}

impl fmt::Display for BlobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BufferTooSmall { needed } => {
                write!(f, "output buffer too small: {needed} bytes needed")
            }
            Self::OutOfOrder { expected } => write!(
                f,
                "blob sections written out of order: expected {expected:?}"
            ),
            Self::InvalidArgument(what) => write!(f, "invalid argument: {what}"),
            Self::Truncated { offset } => write!(f, "blob truncated at byte {offset}"),
            Self::BadMagic => write!(f, "not a BandX model blob (bad magic)"),
            Self::UnsupportedVersion { found } => {
                write!(
                    f,
                    "blob format version {found}, this build reads version {}: export or train the model again",
                    super::FORMAT_VERSION
                )
            }
            Self::LengthMismatch { declared, actual } => {
                write!(f, "blob length {actual} differs from declared {declared}")
            }
            Self::DigestMismatch => write!(f, "SHA-256 mismatch: blob corrupted"),
            Self::ReservedNotZero { offset } => write!(f, "reserved byte at {offset} is not zero"),
            Self::BadClassCount { count } => write!(f, "bad class count {count}"),
            Self::BadLabel { index } => write!(f, "label {index} is empty, too long or not UTF-8"),
            Self::UnsupportedInput {
                window_len,
                channels,
                sample_rate_hz,
            } => write!(
                f,
                "unsupported input {window_len} x {channels} at {sample_rate_hz} Hz"
            ),
            Self::BadNormalization { channel } => {
                write!(f, "bad normalization for channel {channel}")
            }
            Self::BadInputScale => write!(f, "input scale must be finite and positive"),
            Self::BadLayerCount { count } => write!(f, "bad layer count {count}"),
            Self::UnknownLayer { index, tag } => write!(f, "layer {index}: unknown op tag {tag}"),
            Self::BadLayer { index, fault } => write!(f, "layer {index}: {fault}"),
            Self::OutputNotLogits => {
                write!(f, "last layer must be Dense with one output per class")
            }
            Self::ArenaTooSmall { declared, required } => {
                write!(f, "declared arena {declared} bytes < required {required}")
            }
            Self::BadSelfTest => write!(
                f,
                "self-test class or logit count does not match the classes"
            ),
            Self::TrailingBytes { offset } => {
                write!(f, "unexpected bytes at {offset} before the digest")
            }
        }
    }
}

impl fmt::Display for LayerFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ZeroSize => write!(f, "zero size"),
            Self::ChannelMismatch { expected, found } => {
                write!(
                    f,
                    "expects {found} input channels, previous layer gives {expected}"
                )
            }
            Self::NotFlat => write!(f, "dense input must have length 1"),
            Self::EmptyOutput => write!(f, "output would be empty"),
            Self::PaddingTooLarge => write!(f, "padding must be smaller than the kernel"),
            Self::DenseKernel => write!(f, "dense kernel must be 1"),
            Self::BadShift { channel } => write!(f, "shift of channel {channel} outside -31..=30"),
            Self::NegativeMultiplier { channel } => {
                write!(f, "multiplier of channel {channel} is negative")
            }
            Self::BadOutScale => write!(f, "output scale must be finite and positive"),
            Self::WideInput => write!(f, "an int16 tensor can only feed a Conv1d or MaxPool1d"),
        }
    }
}

impl core::error::Error for BlobError {}
