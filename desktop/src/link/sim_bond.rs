//! The desktop's half of its bond with the virtual band: the desktop's own address (random
//! static, made once) and the long-term key a pairing gave it, kept in a file beside the band's
//! flash file, as BlueZ keeps bonds under /var/lib/bluetooth.
//!
//! The file is 6 bytes (address only: not bonded) or 22 bytes (address | LTK), readable by the
//! user only. Anything else reads as no file: a new address, no bond (the user pairs again),
//! never a bond nobody made.

use std::io;
use std::path::{Path, PathBuf};

use bandx_sim::Central;

const ADDRESS_LEN: usize = 6;
const LTK_LEN: usize = 16;

/// This desktop as the virtual band sees it, and where that is kept.
pub struct DesktopBond {
    path: PathBuf,
    central: Central,
}

impl DesktopBond {
    /// The bond kept at `path`; a missing or garbled file gives a new address with no bond
    /// (stored at once, so the band sees the same desktop next time).
    pub fn load(path: &Path) -> DesktopBond {
        let central = std::fs::read(path).ok().and_then(|bytes| decode(&bytes));
        let mut bond = DesktopBond {
            path: path.to_path_buf(),
            central: central.unwrap_or(Central {
                address: random_static_address(),
                ltk: None,
            }),
        };
        if central.is_none()
            && let Err(error) = bond.store(None)
        {
            tracing::warn!(%error, path = %path.display(), "cannot keep the desktop's address for the virtual band");
        }
        bond
    }

    /// The desktop's address and its long-term key, if bonded.
    pub fn central(&self) -> Central {
        self.central
    }

    /// Keeps `ltk` (a pairing's key) or forgets it (`None`).
    pub fn store(&mut self, ltk: Option<[u8; LTK_LEN]>) -> io::Result<()> {
        let central = Central {
            address: self.central.address,
            ltk,
        };
        write_private(&self.path, &encode(&central))?;
        self.central = central;
        Ok(())
    }
}

fn encode(central: &Central) -> Vec<u8> {
    let mut bytes = central.address.to_vec();
    if let Some(ltk) = central.ltk {
        bytes.extend_from_slice(&ltk);
    }
    bytes
}

fn decode(bytes: &[u8]) -> Option<Central> {
    let address: [u8; ADDRESS_LEN] = bytes.get(..ADDRESS_LEN)?.try_into().ok()?;
    let ltk = match bytes.len() {
        ADDRESS_LEN => None,
        n if n == ADDRESS_LEN + LTK_LEN => Some(bytes[ADDRESS_LEN..].try_into().ok()?),
        _ => return None,
    };
    Some(Central { address, ltk })
}

/// A BLE random static address: random, its two top bits set.
fn random_static_address() -> [u8; ADDRESS_LEN] {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(0xB0_4D);
    let bits = hasher.finish().to_be_bytes();
    let mut address = [0u8; ADDRESS_LEN];
    address.copy_from_slice(&bits[..ADDRESS_LEN]);
    address[0] |= 0xC0;
    address
}

/// Writes `bytes` to `path` through a temporary file, readable by the user only.
fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let temporary = path.with_extension("bond-new");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    {
        use std::io::Write;
        let mut file = options.open(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    std::fs::rename(&temporary, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bond_survives_a_restart_and_can_be_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("virtual-band.bond");
        let first = DesktopBond::load(&path);
        assert_eq!(first.central().ltk, None);
        assert_eq!(first.central().address[0] & 0xC0, 0xC0, "random static");
        let address = first.central().address;

        let mut again = DesktopBond::load(&path);
        assert_eq!(again.central().address, address, "the same desktop");
        again.store(Some([7; 16])).unwrap();
        assert_eq!(
            DesktopBond::load(&path).central(),
            Central {
                address,
                ltk: Some([7; 16])
            }
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "the key is the user's only: {mode:o}");
        }
        again.store(None).unwrap();
        assert_eq!(DesktopBond::load(&path).central().ltk, None);
    }

    #[test]
    fn a_garbled_file_is_no_bond() {
        let garbled: [&[u8]; 5] = [b"", &[1, 2, 3], &[0; 7], &[0; 23], &[0xFF; 40]];
        for garbage in garbled {
            assert_eq!(decode(garbage), None, "{garbage:?}");
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.bond");
        std::fs::write(&path, [9u8; 21]).unwrap();
        assert_eq!(DesktopBond::load(&path).central().ltk, None);
    }
}
