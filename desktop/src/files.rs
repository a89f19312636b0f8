//! Reading the files a user hands the app (models, firmware images, exported profiles) with a size cap: a file
//! far larger than anything it could be (or a device such as `/dev/zero`) is refused with a clear message after
//! reading at most the cap, never loaded whole into memory.

use std::io::Read;
use std::path::{Path, PathBuf};

/// Largest model blob file taken (the band's model slots are 64 KiB).
pub const MODEL_FILE_CAP: u64 = 1 << 20;
/// Largest firmware file taken (the band's flash is 4 MiB).
pub const FIRMWARE_FILE_CAP: u64 = 4 << 20;
/// Largest file of an exported profile taken on import (CSV recordings, JSON, blobs).
pub const IMPORT_FILE_CAP: u64 = 64 << 20;

/// Why a file was not read.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} is larger than any {what} ({size} bytes or more; at most {cap} bytes are accepted), so it was not \
         read: pick the right file"
    )]
    TooLarge {
        path: PathBuf,
        what: &'static str,
        size: u64,
        cap: u64,
    },
}

/// The bytes of `path`, if it holds at most `cap` bytes; `what` names the kind of file in the error.
pub fn read_capped(path: &Path, cap: u64, what: &'static str) -> Result<Vec<u8>, FileError> {
    let io = |source| FileError::Io {
        path: path.to_path_buf(),
        source,
    };
    let too_large = |size| FileError::TooLarge {
        path: path.to_path_buf(),
        what,
        size,
        cap,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let declared = file.metadata().map_err(io)?.len();
    if declared > cap {
        return Err(too_large(declared));
    }
    // The length a file declares is not a promise (devices, pipes, a file growing): read at most one byte more.
    let mut bytes = Vec::with_capacity(declared as usize);
    file.take(cap + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > cap {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_within_its_cap_is_read_whole_and_a_larger_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.blob");
        std::fs::write(&path, vec![7u8; 1000]).unwrap();
        assert_eq!(read_capped(&path, 1000, "model").unwrap(), vec![7u8; 1000]);
        let err = read_capped(&path, 999, "model").unwrap_err();
        assert!(
            matches!(
                err,
                FileError::TooLarge {
                    size: 1000,
                    cap: 999,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("larger than any model"), "{err}");
    }

    #[test]
    fn an_endless_device_is_cut_at_the_cap() {
        let err = read_capped(Path::new("/dev/zero"), 4096, "firmware image").unwrap_err();
        assert!(
            matches!(err, FileError::TooLarge { size: 4097, .. }),
            "{err:?}"
        );
        assert!(matches!(
            read_capped(Path::new("/no/such/file"), 1, "model"),
            Err(FileError::Io { .. })
        ));
    }
}
