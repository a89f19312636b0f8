//! The desktop's owner key file: made private (0600) on first use, the same key on every later load, its
//! signatures accepted by the band's check (`bandx_core::owner::verify`), a damaged or too-open file refused
//! (and left untouched), and the secret in no profile export. Unix: file modes are part of what is checked.
#![cfg(unix)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use bandx_core::owner::{Grant, OwnerError, OwnerKey, verify};
use bandx_core::protocol::UpdateTarget;
use bandx_desktop::owner::{OwnerKeyError, OwnerKeyFile};
use bandx_desktop::paths::DataDir;
use bandx_desktop::store::{Store, export_profile};

fn grant(version: u32) -> Grant {
    Grant {
        target: UpdateTarget::Firmware,
        version,
        total_len: 333_968,
        sha256: [0x3C; 32],
        downgrade: false,
    }
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn the_key_is_made_private_once_and_reloaded_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let data = DataDir::at(tmp.path().join("not-yet-made"));
    let made = OwnerKeyFile::load_or_create(&data).unwrap();
    let path = data.owner_key_path();
    assert_eq!(made.path(), path);
    assert_eq!(mode(&path), 0o600);
    let bytes = fs::read(&path).unwrap();
    assert_eq!(bytes.len(), 72);
    // No temporary file is left beside it.
    let names: Vec<_> = fs::read_dir(data.root())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["owner.key"]);

    let again = OwnerKeyFile::load_or_create(&data).unwrap();
    assert_eq!(again.public_key(), made.public_key());
    assert_eq!(
        again.sign(&grant(7)),
        made.sign(&grant(7)),
        "ed25519 is deterministic: same secret"
    );
    assert_eq!(
        fs::read(&path).unwrap(),
        bytes,
        "loading never rewrites the file"
    );

    let other = OwnerKeyFile::load_or_create(&DataDir::at(tmp.path().join("elsewhere"))).unwrap();
    assert_ne!(
        other.public_key(),
        made.public_key(),
        "each data directory gets its own random key"
    );
}

#[test]
fn its_signatures_pass_the_bands_check_and_only_for_the_signed_grant() {
    let tmp = tempfile::tempdir().unwrap();
    let owner = OwnerKeyFile::load_or_create(&DataDir::at(tmp.path())).unwrap();
    let stranger = OwnerKeyFile::load_or_create(&DataDir::at(tmp.path().join("stranger"))).unwrap();
    let key = OwnerKey::from_bytes(&owner.public_key()).unwrap();
    let signature = owner.sign(&grant(3));
    assert_eq!(verify(&key, &grant(3), &signature), Ok(()));
    assert_eq!(
        verify(&key, &grant(2), &signature),
        Err(OwnerError::BadSignature)
    );
    let downgrade = Grant {
        downgrade: true,
        ..grant(3)
    };
    assert_eq!(
        verify(&key, &downgrade, &signature),
        Err(OwnerError::BadSignature)
    );
    assert_eq!(
        verify(&key, &grant(3), &stranger.sign(&grant(3))),
        Err(OwnerError::BadSignature)
    );
}

#[test]
fn a_damaged_file_is_an_error_and_is_never_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    let data = DataDir::at(tmp.path());
    OwnerKeyFile::load_or_create(&data).unwrap();
    let path = data.owner_key_path();
    let good = fs::read(&path).unwrap();

    let mut damaged: Vec<Vec<u8>> = Vec::new();
    for at in [0, 8, 20, 39, 40, 71] {
        let mut b = good.clone();
        b[at] ^= 0x01;
        damaged.push(b);
    }
    damaged.push(good[..71].to_vec());
    damaged.push([good.as_slice(), b"\n"].concat());
    damaged.push(Vec::new());
    for bytes in damaged {
        fs::write(&path, &bytes).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        let err = OwnerKeyFile::load_or_create(&data).unwrap_err();
        assert!(matches!(err, OwnerKeyError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("owner.key"), "{err}");
        assert_eq!(
            fs::read(&path).unwrap(),
            bytes,
            "the damaged file is left as it was"
        );
    }
}

#[test]
fn a_key_file_readable_by_others_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let data = DataDir::at(tmp.path());
    let made = OwnerKeyFile::load_or_create(&data).unwrap();
    let path = data.owner_key_path();
    for open in [0o640, 0o604, 0o644, 0o666] {
        fs::set_permissions(&path, fs::Permissions::from_mode(open)).unwrap();
        let err = OwnerKeyFile::load_or_create(&data).unwrap_err();
        assert!(
            matches!(err, OwnerKeyError::TooOpen { mode, .. } if mode == open),
            "{err}"
        );
        assert!(err.to_string().contains("chmod 600"), "{err}");
        assert_eq!(mode(&path), open, "left as it was");
    }
    fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).unwrap();
    assert_eq!(
        OwnerKeyFile::load_or_create(&data).unwrap().public_key(),
        made.public_key()
    );
}

/// Every byte of every file under `dir`.
fn files(dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push((path.display().to_string(), fs::read(&path).unwrap()));
        }
    }
}

#[test]
fn no_profile_export_contains_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let data = DataDir::at(tmp.path().join("data"));
    let owner = OwnerKeyFile::load_or_create(&data).unwrap();
    let key_file = fs::read(data.owner_key_path()).unwrap();
    let secret = &key_file[8..40];
    let store = Store::open(data.store_path()).unwrap();
    let profile = store.create_profile("Ada", 1_764_000_000_000).unwrap();
    for class in ["walking", "sitting"] {
        store.add_class(profile, class, 1_764_000_000_001).unwrap();
    }

    // Into a folder inside the data directory and one outside it.
    let inside = data.root().join("exports/ada");
    fs::create_dir_all(inside.parent().unwrap()).unwrap();
    export_profile(&store, profile, &inside).unwrap();
    let outside = tmp.path().join("ada-export");
    export_profile(&store, profile, &outside).unwrap();

    for dest in [&inside, &outside] {
        let mut all = Vec::new();
        files(dest, &mut all);
        assert!(
            all.iter().any(|(name, _)| name.ends_with("profile.json")),
            "{all:?}"
        );
        for (name, bytes) in &all {
            assert!(!name.contains("owner"), "{name}");
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret),
                "{name} holds the secret key"
            );
            let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
            assert!(
                !String::from_utf8_lossy(bytes).contains(&hex),
                "{name} holds the secret key in hex"
            );
        }
    }
    drop(owner);
}
