//! Readers: each turns a data set in its own format into [`Recording`]s (SI units, gap-free,
//! single label). Damaged or unexpected input gives a [`ModelError`] naming the file and line.

pub mod app_export;
pub mod csv;
pub mod pamap2;
pub mod wisdm;

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{ModelError, Result};

/// A file that went into a result, with the sha256 of its bytes as stored on disk.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InputFile {
    pub path: PathBuf,
    pub sha256: String,
}

/// Reads a file, transparently decompressing `.xz`; returns the plain bytes and the hash of the
/// bytes on disk.
pub fn read_file_bytes(path: &Path) -> Result<(Vec<u8>, InputFile)> {
    let raw = std::fs::read(path).map_err(|e| ModelError::io(path, e))?;
    let input = InputFile {
        path: path.to_path_buf(),
        sha256: hex(&Sha256::digest(&raw)),
    };
    let is_xz = path.extension().is_some_and(|e| e == "xz");
    if !is_xz {
        return Ok((raw, input));
    }
    let mut out = Vec::with_capacity(raw.len() * 4);
    lzma_rs::xz_decompress(&mut std::io::BufReader::new(raw.as_slice()), &mut out).map_err(
        |e| ModelError::Xz {
            path: path.to_path_buf(),
            reason: e.to_string(),
        },
    )?;
    Ok((out, input))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
