//! Control requests and responses (postcard), each prefixed by the protocol version byte.

use core::fmt;

use serde::{Deserialize, Serialize};

use super::PROTOCOL_VERSION;
use super::log::LogChunk;
use crate::blob::{MAX_CLASSES, MAX_LABEL_LEN};

/// Bytes of a label string.
pub const LABEL_CAPACITY: usize = MAX_LABEL_LEN;

/// What an update writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[repr(u8)]
pub enum UpdateTarget {
    /// A model blob, to the inactive A/B model slot.
    Model = 0,
    /// A firmware image, to the platform's firmware sink.
    Firmware = 1,
}

/// An ed25519 signature on the wire, `R || S` (serde has no 64-byte arrays; postcard writes the 64 bytes as is).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureBytes {
    pub r: [u8; 32],
    pub s: [u8; 32],
}

impl SignatureBytes {
    /// No signature (every byte zero): never valid.
    pub const NONE: SignatureBytes = SignatureBytes {
        r: [0; 32],
        s: [0; 32],
    };

    pub fn from_bytes(bytes: &[u8; 64]) -> SignatureBytes {
        let mut r = [0; 32];
        let mut s = [0; 32];
        r.copy_from_slice(&bytes[..32]);
        s.copy_from_slice(&bytes[32..]);
        SignatureBytes { r, s }
    }

    pub fn to_bytes(&self) -> [u8; 64] {
        let mut out = [0; 64];
        out[..32].copy_from_slice(&self.r);
        out[32..].copy_from_slice(&self.s);
        out
    }
}

/// A control request with its id (echoed in the response).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub id: u16,
    pub body: RequestBody,
}

/// The requests. New variants are only ever appended (the variant index is on the wire).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RequestBody {
    /// Band and model information.
    GetInfo,
    /// Start notifying IMU frames.
    StartImu,
    /// Stop notifying IMU frames.
    StopImu,
    /// Start classifying windows and notifying predictions.
    StartPredictions,
    /// Stop predictions.
    StopPredictions,
    /// Start (or resume, if identical) an update: image length, its SHA-256 and version, whether the owner
    /// allows a downgrade, and the owner's signature over all of that (`owner::Grant`).
    BeginUpdate {
        target: UpdateTarget,
        total_len: u32,
        sha256: [u8; 32],
        version: u32,
        downgrade: bool,
        signature: SignatureBytes,
    },
    /// Where to continue an update.
    UpdateStatus { target: UpdateTarget },
    /// Verify and activate a fully received update.
    CommitUpdate { target: UpdateTarget },
    /// Drop an update in progress.
    AbortUpdate { target: UpdateTarget },
    /// Restart the band (after the response is sent).
    Reboot,
    /// Make this ed25519 public key the band's owner (only while it has none: right after the first pairing).
    SetOwner { public_key: [u8; 32] },
    /// The wall clock (the desktop sends it on every connect): stamps the activity log.
    SetTime { unix_ms: u64 },
    /// Activity log records with a sequence number above `after_seq`, at most `max`.
    ReadLog { after_seq: u32, max: u8 },
}

/// One of each request this protocol version knows, in wire order (position = postcard variant index).
/// The one list the decoder's bound, the tests and the desktop's request names come from.
pub const ALL_REQUESTS: [RequestBody; 13] = [
    RequestBody::GetInfo,
    RequestBody::StartImu,
    RequestBody::StopImu,
    RequestBody::StartPredictions,
    RequestBody::StopPredictions,
    RequestBody::BeginUpdate {
        target: UpdateTarget::Model,
        total_len: 0,
        sha256: [0; 32],
        version: 0,
        downgrade: false,
        signature: SignatureBytes::NONE,
    },
    RequestBody::UpdateStatus {
        target: UpdateTarget::Model,
    },
    RequestBody::CommitUpdate {
        target: UpdateTarget::Model,
    },
    RequestBody::AbortUpdate {
        target: UpdateTarget::Model,
    },
    RequestBody::Reboot,
    RequestBody::SetOwner {
        public_key: [0; 32],
    },
    RequestBody::SetTime { unix_ms: 0 },
    RequestBody::ReadLog {
        after_seq: 0,
        max: 0,
    },
];

/// Number of [`RequestBody`] variants this version knows.
const REQUEST_VARIANTS: u32 = ALL_REQUESTS.len() as u32;

impl RequestBody {
    /// The request's name, as PROTOCOL.md and error messages call it.
    pub const fn name(&self) -> &'static str {
        match self {
            RequestBody::GetInfo => "GetInfo",
            RequestBody::StartImu => "StartImu",
            RequestBody::StopImu => "StopImu",
            RequestBody::StartPredictions => "StartPredictions",
            RequestBody::StopPredictions => "StopPredictions",
            RequestBody::BeginUpdate { .. } => "BeginUpdate",
            RequestBody::UpdateStatus { .. } => "UpdateStatus",
            RequestBody::CommitUpdate { .. } => "CommitUpdate",
            RequestBody::AbortUpdate { .. } => "AbortUpdate",
            RequestBody::Reboot => "Reboot",
            RequestBody::SetOwner { .. } => "SetOwner",
            RequestBody::SetTime { .. } => "SetTime",
            RequestBody::ReadLog { .. } => "ReadLog",
        }
    }
}

/// A response to the request with the same id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    pub id: u16,
    pub body: ResponseBody,
}

/// Response payloads. (`Info` makes the enum large; without a heap it lives on the stack, once.)
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ResponseBody {
    /// Done.
    Ok,
    /// Answer to [`RequestBody::GetInfo`].
    Info(Info),
    /// Update progress: the next byte offset expected and the total.
    UpdateStatus {
        target: UpdateTarget,
        next_offset: u32,
        total_len: u32,
    },
    /// The request failed.
    Error(ErrorCode),
    /// Answer to [`RequestBody::ReadLog`].
    Log(LogChunk),
}

/// Typed failure reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorCode {
    /// The message could not be decoded.
    Malformed,
    /// A request this band does not know (newer desktop).
    UnknownRequest,
    /// The message's protocol version is not spoken here; `supported` is ours.
    UnsupportedVersion { supported: u8 },
    /// No update of that target is in progress.
    NoUpdate,
    /// The image does not fit (model slot or firmware partition).
    TooLarge,
    /// Commit before all bytes arrived.
    Incomplete,
    /// The received image's SHA-256 differs from the one announced.
    DigestMismatch,
    /// The model blob does not parse (blob error kind index).
    InvalidModel,
    /// The model's built-in self-test did not reproduce.
    SelfTestFailed,
    /// Flash or firmware sink failure.
    Storage,
    /// No active model (predictions impossible).
    NoModel,
    /// The firmware image would not boot on this band: not an ESP app image, built for another chip, or
    /// damaged (segment table, checksum or appended SHA-256), or its app description's version is not the one
    /// signed; see `update::app_image`. Nothing became bootable.
    InvalidFirmware,
    /// The band has no owner yet: updates need one (`SetOwner` after pairing).
    NoOwner,
    /// The update is not signed by the band's owner (wrong key, tampered fields, or no signature).
    NotOwner,
    /// The image is older than what runs (`running`: the running firmware release, or the active model's
    /// version) and the owner did not sign a downgrade.
    Downgrade { running: u32 },
    /// This exact image is already installed: nothing was erased or rewritten.
    AlreadyInstalled,
    /// Too many new updates in a short time (each erases flash): try again in `retry_after_s` seconds.
    RateLimited { retry_after_s: u16 },
    /// The band already has another owner; a new owner needs the USB path that clears it.
    OwnedByAnother,
    /// `SetOwner` got bytes that are not an ed25519 public key.
    InvalidOwnerKey,
    /// This band keeps no activity log (no `log` partition).
    NoLog,
}

/// Band information.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Info {
    pub firmware_version: heapless::String<16>,
    pub protocol_version: u8,
    pub model: Option<ModelInfo>,
    pub battery_percent: u8,
    pub sample_rate_hz: u8,
    /// IMU samples per frame at the current MTU.
    pub frame_capacity: u8,
    pub imu_streaming: bool,
    pub predicting: bool,
    /// The running firmware's release number (`update::release`), 0 if unknown.
    pub firmware_release: u32,
    /// The first 8 bytes of the SHA-256 of the owner's public key; `None` while the band has no owner.
    pub owner: Option<[u8; 8]>,
}

/// The active model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub id: u32,
    pub version: u32,
    pub labels: heapless::Vec<heapless::String<LABEL_CAPACITY>, MAX_CLASSES>,
}

/// A control message that could not be decoded, with the id to answer (0 if not even that was readable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeError {
    pub id: u16,
    pub code: ErrorCode,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "request {}: {:?}", self.id, self.code)
    }
}

impl core::error::Error for DecodeError {}

fn encode<T: Serialize>(value: &T, out: &mut [u8]) -> Result<usize, postcard::Error> {
    let (first, rest) = out
        .split_first_mut()
        .ok_or(postcard::Error::SerializeBufferFull)?;
    *first = PROTOCOL_VERSION;
    Ok(1 + postcard::to_slice(value, rest)?.len())
}

/// Encodes a request: version byte, then postcard.
pub fn encode_request(request: &Request, out: &mut [u8]) -> Result<usize, postcard::Error> {
    encode(request, out)
}

/// Encodes a response: version byte, then postcard.
pub fn encode_response(response: &Response, out: &mut [u8]) -> Result<usize, postcard::Error> {
    encode(response, out)
}

/// Decodes a request; the error says how to answer (unknown version, unknown request or malformed).
pub fn decode_request(bytes: &[u8]) -> Result<Request, DecodeError> {
    let malformed = |id| DecodeError {
        id,
        code: ErrorCode::Malformed,
    };
    let (&version, body) = bytes.split_first().ok_or(malformed(0))?;
    if version != PROTOCOL_VERSION {
        return Err(DecodeError {
            id: 0,
            code: ErrorCode::UnsupportedVersion {
                supported: PROTOCOL_VERSION,
            },
        });
    }
    let (id, rest) = postcard::take_from_bytes::<u16>(body).map_err(|_| malformed(0))?;
    let (variant, _) = postcard::take_from_bytes::<u32>(rest).map_err(|_| malformed(id))?;
    if variant >= REQUEST_VARIANTS {
        return Err(DecodeError {
            id,
            code: ErrorCode::UnknownRequest,
        });
    }
    match postcard::take_from_bytes::<Request>(body) {
        Ok((request, [])) => Ok(request),
        _ => Err(malformed(id)),
    }
}

/// Decodes a response (desktop side). A response in another protocol version is
/// `UnsupportedVersion { supported }` with the version the band speaks.
pub fn decode_response(bytes: &[u8]) -> Result<Response, DecodeError> {
    let malformed = DecodeError {
        id: 0,
        code: ErrorCode::Malformed,
    };
    let (&version, body) = bytes.split_first().ok_or(malformed)?;
    if version != PROTOCOL_VERSION {
        // The band speaks `version`: older means its firmware needs an update, newer means this desktop does.
        return Err(DecodeError {
            id: 0,
            code: ErrorCode::UnsupportedVersion { supported: version },
        });
    }
    match postcard::take_from_bytes::<Response>(body) {
        Ok((response, [])) => Ok(response),
        _ => Err(malformed),
    }
}
