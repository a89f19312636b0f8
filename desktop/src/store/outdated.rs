//! Stored models the band cannot run with this build: their blob is in another format version.
//!
//! The store keeps only a model's int8 blob, not its float weights, so such a model cannot be
//! converted; it stays listed (nothing is deleted or rewritten) with the reason, and it is trained
//! again from the profile's recordings. The version check is `bandx_core`'s own ([`Model::parse`]).

use bandx_core::blob::{BlobError, FORMAT_VERSION, Model};

/// Why the band cannot run `blob` with this build because of its format version, as a short
/// phrase for the user; `None` when the format is this build's (whether or not the blob is
/// otherwise sound: the deploy paths check that in full before sending anything).
pub fn outdated_reason(blob: &[u8]) -> Option<String> {
    match Model::parse(blob) {
        Err(BlobError::UnsupportedVersion { found }) if found < FORMAT_VERSION => Some(format!(
            "made by an older BandX Studio (blob format {found}); train again from your recordings"
        )),
        Err(BlobError::UnsupportedVersion { found }) => Some(format!(
            "made by a newer BandX Studio (blob format {found}); update BandX Studio to use it"
        )),
        _ => None,
    }
}

/// A stored model refused before anything is sent to the band: its blob is in a format this
/// build cannot deploy (see [`outdated_reason`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Model v{version} cannot run on the band: it was {reason}.")]
pub struct OutdatedModel {
    /// The model's version in its profile.
    pub version: u32,
    /// [`outdated_reason`]'s phrase.
    pub reason: String,
}

impl super::Model {
    /// Refuses a model whose blob this build cannot deploy; call it before touching the band.
    pub fn ensure_current(&self) -> Result<(), OutdatedModel> {
        match &self.outdated {
            Some(reason) => Err(OutdatedModel {
                version: self.version,
                reason: reason.clone(),
            }),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shipped blob with its format-version field set to `version` and its digest recomputed.
    fn with_format(version: u16) -> Vec<u8> {
        let mut blob = crate::link::sim::SHIPPED_MODEL.to_vec();
        blob[4..6].copy_from_slice(&version.to_le_bytes());
        let body = blob.len() - bandx_core::blob::DIGEST_LEN;
        let digest = bandx_core::blob::sha256(&blob[..body]);
        blob[body..].copy_from_slice(&digest);
        blob
    }

    #[test]
    fn only_another_format_version_is_outdated() {
        assert_eq!(outdated_reason(&with_format(FORMAT_VERSION)), None);
        assert_eq!(
            outdated_reason(&with_format(1)).as_deref(),
            Some("made by an older BandX Studio (blob format 1); train again from your recordings")
        );
        assert!(
            outdated_reason(&with_format(FORMAT_VERSION + 1))
                .is_some_and(|r| r.contains("newer BandX Studio"))
        );
        // A damaged blob is not "outdated": the deploy paths refuse it with their own reason.
        assert_eq!(outdated_reason(&[0u8; 8]), None);
    }
}
