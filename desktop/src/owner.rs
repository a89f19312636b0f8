//! The owner key (issue 17 item 3): the ed25519 key that makes this desktop the owner of its bands. Made on
//! first use as `owner.key` in the data directory, readable by the user only, part of no export (exports are
//! built from the SQLite store, never by copying the data directory). The band stores the public key once
//! (`SetOwner`) and from then on accepts an update only with this key's signature over the update's
//! [`Grant`] (the signed bytes are `bandx_core::owner::Grant::message`, one definition for band and desktop).
//!
//! File format (72 bytes): `b"BXOWNER1"`, the 32-byte secret seed, the 32-byte public key. The public key is
//! derived from the seed on load and must match, so a damaged file is an error, never a different key. An
//! existing file is never replaced: a corrupt or too-open file is an error naming the file and what to do.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use bandx_core::owner::{Grant, OWNER_KEY_LEN, Signature};
use ed25519_dalek::{Signer, SigningKey};
use rand::TryRngCore;

use crate::paths::DataDir;

/// File name of the owner key inside the data directory.
pub const OWNER_KEY_FILE_NAME: &str = "owner.key";

const MAGIC: &[u8; 8] = b"BXOWNER1";
const FILE_LEN: usize = MAGIC.len() + 32 + OWNER_KEY_LEN;

/// Why the owner key could not be loaded or made.
#[derive(Debug, thiserror::Error)]
pub enum OwnerKeyError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} is readable by other users (mode {mode:o}): the owner key must be private; run `chmod 600 {path}`"
    )]
    TooOpen { path: PathBuf, mode: u32 },
    #[error(
        "{path} is not a valid BandX owner key ({reason}); it was left untouched: restore it from a backup, or move it \
         away to make a new key (your bands then need `bandx usb forget-owner` before they accept this desktop)"
    )]
    Corrupt { path: PathBuf, reason: &'static str },
    #[error("the operating system's random number source failed: {0}")]
    Random(String),
}

/// This desktop's owner key, loaded from (or just made in) the data directory.
pub struct OwnerKeyFile {
    path: PathBuf,
    key: SigningKey,
}

impl std::fmt::Debug for OwnerKeyFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        f.debug_struct("OwnerKeyFile")
            .field("path", &self.path)
            .field("public_key", &self.public_key())
            .finish()
    }
}

impl OwnerKeyFile {
    /// Loads `owner.key` from the data directory, or makes it there if there is none (creating the directory).
    pub fn load_or_create(data: &DataDir) -> Result<OwnerKeyFile, OwnerKeyError> {
        let path = data.owner_key_path();
        match read(&path) {
            Ok(key) => Ok(OwnerKeyFile { path, key }),
            Err(OwnerKeyError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                create(data.root(), &path)
            }
            Err(e) => Err(e),
        }
    }

    /// Where the key lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The public key the band stores (`SetOwner`).
    pub fn public_key(&self) -> [u8; OWNER_KEY_LEN] {
        self.key.verifying_key().to_bytes()
    }

    /// The owner's signature over `grant` (what `BeginUpdate` carries).
    pub fn sign(&self, grant: &Grant) -> Signature {
        self.key.sign(&grant.message()).to_bytes()
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> OwnerKeyError + '_ {
    move |source| OwnerKeyError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Reads and checks an existing key file.
fn read(path: &Path) -> Result<SigningKey, OwnerKeyError> {
    let meta = fs::metadata(path).map_err(io(path))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(OwnerKeyError::TooOpen {
                path: path.to_path_buf(),
                mode,
            });
        }
    }
    let corrupt = |reason| OwnerKeyError::Corrupt {
        path: path.to_path_buf(),
        reason,
    };
    if !meta.is_file() || meta.len() != FILE_LEN as u64 {
        return Err(corrupt("wrong size"));
    }
    let bytes = fs::read(path).map_err(io(path))?;
    if bytes.len() != FILE_LEN {
        return Err(corrupt("wrong size"));
    }
    if &bytes[..MAGIC.len()] != MAGIC {
        return Err(corrupt("not an owner key file"));
    }
    let seed: [u8; 32] = bytes[MAGIC.len()..MAGIC.len() + 32]
        .try_into()
        .expect("32 bytes");
    let key = SigningKey::from_bytes(&seed);
    if key.verifying_key().to_bytes()[..] != bytes[MAGIC.len() + 32..] {
        return Err(corrupt(
            "the public key does not match the secret key: the file is damaged",
        ));
    }
    Ok(key)
}

/// Makes a new key: written to a temporary file created with mode 0600, synced, then linked into place (a link,
/// unlike a rename, never replaces a key another process made meanwhile: that key is loaded instead).
fn create(root: &Path, path: &Path) -> Result<OwnerKeyFile, OwnerKeyError> {
    fs::create_dir_all(root).map_err(io(root))?;
    let mut seed = [0u8; 32];
    rand::rngs::OsRng
        .try_fill_bytes(&mut seed)
        .map_err(|e| OwnerKeyError::Random(e.to_string()))?;
    let key = SigningKey::from_bytes(&seed);
    seed.fill(0);
    let mut bytes = Vec::with_capacity(FILE_LEN);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(key.as_bytes());
    bytes.extend_from_slice(&key.verifying_key().to_bytes());

    let tmp = root.join(format!(
        ".{OWNER_KEY_FILE_NAME}.partial-{}",
        std::process::id()
    ));
    let written = write_private(&tmp, &bytes);
    bytes.fill(0);
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(io(&tmp)(e));
    }
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            sync_dir(root);
            tracing::info!("made a new owner key in {}", path.display());
            Ok(OwnerKeyFile {
                path: path.to_path_buf(),
                key,
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(OwnerKeyFile {
            key: read(path)?,
            path: path.to_path_buf(),
        }),
        Err(e) => Err(io(path)(e)),
    }
}

/// Creates `path` (which must not exist) readable and writable by the user only, writes `bytes`, syncs.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let _ = fs::remove_file(path); // a leftover of a crashed run of this process id
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}
