//! The band's owner (issue 17 item 3): the owner's ed25519 public key ([`OwnerKey`]), the grant an owner signs
//! for every update ([`Grant`], whose [`Grant::message`] is the one definition of the signed bytes), the check
//! ([`verify`]) and the power-cut-safe flash record that stores the key ([`record::OwnerRecord`]).
//!
//! Verification is ed25519 as in RFC 8032 with ed25519-dalek's strict rules (`verify_strict`): non-canonical and
//! small-order keys and `R` points are refused, so there is one valid signature encoding per grant and key, and
//! an all-zero signature never passes. No heap, no `unsafe`; [`verify`] never panics on any input.

pub mod record;

use core::fmt;

use ed25519_dalek::VerifyingKey;

use crate::protocol::UpdateTarget;

pub use record::{OWNER_RECORD_LEN, OWNER_RECORD_SECTOR, OwnerFlash, OwnerRecord};

/// Bytes of an owner public key.
pub const OWNER_KEY_LEN: usize = 32;
/// Bytes of a signature.
pub const SIGNATURE_LEN: usize = 64;
/// The domain separator every signed grant starts with: a signature over a grant can never be taken for a
/// signature over anything else the owner's key signs.
pub const GRANT_DOMAIN: &[u8; 15] = b"BandX grant v1\0";
/// Bytes of [`Grant::message`]: domain, target u8, version u32 LE, total_len u32 LE, sha256, downgrade u8.
pub const GRANT_MESSAGE_LEN: usize = GRANT_DOMAIN.len() + 1 + 4 + 4 + 32 + 1;

/// An ed25519 signature (`R || S`, RFC 8032), as carried by `BeginUpdate`.
pub type Signature = [u8; SIGNATURE_LEN];

/// Why an owner key or a signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerError {
    /// The 32 bytes are not a usable ed25519 public key (not a curve point, or one of small order).
    InvalidKey,
    /// The signature is not the owner's over this grant.
    BadSignature,
}

impl fmt::Display for OwnerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OwnerError::InvalidKey => write!(f, "not a valid ed25519 owner key"),
            OwnerError::BadSignature => write!(f, "the update is not signed by the band's owner"),
        }
    }
}

impl core::error::Error for OwnerError {}

/// The owner's public key: a checked ed25519 point (never of small order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnerKey(VerifyingKey);

impl OwnerKey {
    /// Parses a compressed ed25519 public key; refuses bytes that are not a point and small-order points (a
    /// small-order key would accept forged signatures).
    pub fn from_bytes(bytes: &[u8; OWNER_KEY_LEN]) -> Result<OwnerKey, OwnerError> {
        let key = VerifyingKey::from_bytes(bytes).map_err(|_| OwnerError::InvalidKey)?;
        if key.is_weak() {
            return Err(OwnerError::InvalidKey);
        }
        Ok(OwnerKey(key))
    }

    /// The compressed key, as stored and sent.
    pub fn to_bytes(&self) -> [u8; OWNER_KEY_LEN] {
        self.0.to_bytes()
    }
}

/// What the owner allows: one update, of one target, at one version, of exactly these bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    pub target: UpdateTarget,
    /// The version the image or model carries (compared with the running one: no downgrade unless `downgrade`).
    pub version: u32,
    /// Bytes of the image or blob.
    pub total_len: u32,
    /// SHA-256 of the image or blob.
    pub sha256: [u8; 32],
    /// The owner explicitly allows installing a version lower than the running one.
    pub downgrade: bool,
}

impl Grant {
    /// The exact bytes that are signed: [`GRANT_DOMAIN`], target (u8: 0 model, 1 firmware), version (u32 LE),
    /// total_len (u32 LE), sha256 (32 bytes), downgrade (u8: 0 or 1).
    pub fn message(&self) -> [u8; GRANT_MESSAGE_LEN] {
        let mut m = [0u8; GRANT_MESSAGE_LEN];
        let d = GRANT_DOMAIN.len();
        m[..d].copy_from_slice(GRANT_DOMAIN);
        m[d] = self.target as u8;
        m[d + 1..d + 5].copy_from_slice(&self.version.to_le_bytes());
        m[d + 5..d + 9].copy_from_slice(&self.total_len.to_le_bytes());
        m[d + 9..d + 41].copy_from_slice(&self.sha256);
        m[d + 41] = u8::from(self.downgrade);
        m
    }
}

/// Checks that `signature` is `key`'s ed25519 signature over `grant`'s [`Grant::message`].
pub fn verify(key: &OwnerKey, grant: &Grant, signature: &Signature) -> Result<(), OwnerError> {
    let signature = ed25519_dalek::Signature::from_bytes(signature);
    key.0
        .verify_strict(&grant.message(), &signature)
        .map_err(|_| OwnerError::BadSignature)
}

#[cfg(test)]
mod tests;
