//! The local store and the profile a command works on: `--profile NAME`, or the only profile there is.
//! Shared by every command that reads or writes the store.

use std::path::PathBuf;

use anyhow::Context;
use bandx_desktop::paths::DataDir;
use bandx_desktop::store::{Profile, Store};

/// No profile could be chosen (exit code `EXIT_PROFILE`).
#[derive(Debug, thiserror::Error)]
pub enum ProfileChoiceError {
    #[error("no BandX Studio data at {store} (record something first, or pass --data-dir)")]
    NoStore { store: PathBuf },
    #[error("there are no profiles in {store} yet")]
    NoProfiles { store: PathBuf },
    #[error("no profile named {name:?}; the profiles are: {}", list(.available))]
    Unknown {
        name: String,
        available: Vec<String>,
    },
    #[error("there are {} profiles: choose one with --profile NAME ({})", .available.len(), list(.available))]
    Ambiguous { available: Vec<String> },
}

fn list(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Opens the store in `dir`, creating the directory and the store if needed.
pub fn open_store(dir: &DataDir) -> anyhow::Result<Store> {
    std::fs::create_dir_all(dir.root())
        .with_context(|| format!("cannot create the data directory {}", dir.root().display()))?;
    let path = dir.store_path();
    Store::open(&path).with_context(|| format!("cannot open the store {}", path.display()))
}

/// Opens the store in `dir`, which must exist already (a command that only reads never creates one).
pub fn open_existing_store(dir: &DataDir) -> anyhow::Result<Store> {
    let path = dir.store_path();
    if !path.is_file() {
        return Err(ProfileChoiceError::NoStore { store: path }.into());
    }
    Store::open(&path).with_context(|| format!("cannot open the store {}", path.display()))
}

/// The profile named `name` (case-insensitive), or the only profile when no name is given.
pub fn select(store: &Store, name: Option<&str>) -> anyhow::Result<Profile> {
    let profiles = store.profiles()?;
    let available = || profiles.iter().map(|p| p.name.clone()).collect::<Vec<_>>();
    let store_path = || store.path().map(PathBuf::from).unwrap_or_default();
    if let Some(name) = name {
        return match store.profile_by_name(name)? {
            Some(profile) => Ok(profile),
            None if profiles.is_empty() => Err(ProfileChoiceError::NoProfiles {
                store: store_path(),
            }
            .into()),
            None => Err(ProfileChoiceError::Unknown {
                name: name.to_string(),
                available: available(),
            }
            .into()),
        };
    }
    match profiles.as_slice() {
        [] => Err(ProfileChoiceError::NoProfiles {
            store: store_path(),
        }
        .into()),
        [only] => Ok(only.clone()),
        _ => Err(ProfileChoiceError::Ambiguous {
            available: available(),
        }
        .into()),
    }
}
