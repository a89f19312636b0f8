//! `bandx export` and `bandx import`: a profile as plain files (CSV + JSON + model blobs) and back.

use std::path::{Path, PathBuf};

use anyhow::Context;
use bandx_desktop::paths::DataDir;
use bandx_desktop::store::{ProfileArchive, StoreError, export_profile};

use crate::profile;

#[derive(clap::Args)]
pub struct ExportArgs {
    /// The profile to export [default: the only profile].
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,
    /// A new folder to write (an existing empty folder is fine too).
    #[arg(value_name = "DIR")]
    dir: PathBuf,
}

#[derive(clap::Args)]
pub struct ImportArgs {
    /// A folder written by `bandx export`.
    #[arg(value_name = "DIR")]
    dir: PathBuf,
    /// Import under this name instead of the exported one (e.g. when that name is taken here).
    #[arg(long = "as", value_name = "NAME")]
    rename: Option<String>,
}

/// The export destination holds something already; nothing was written.
#[derive(Debug, thiserror::Error)]
#[error("{} already exists and is not empty: export into a new folder", .0.display())]
pub struct DestinationNotEmpty(PathBuf);

/// The imported profile's name is taken in this store; nothing was imported.
#[derive(Debug, thiserror::Error)]
#[error(
    "this store already has a profile named {0:?}; nothing was imported. Import it under another name with \
     `bandx import --as NEW_NAME DIR`"
)]
pub struct NameTaken(String);

pub fn export(dir: &DataDir, args: &ExportArgs) -> anyhow::Result<()> {
    let store = profile::open_existing_store(dir)?;
    let profile = profile::select(&store, args.profile.as_deref())?;
    make_room(&args.dir)?;
    export_profile(&store, profile.id, &args.dir)
        .with_context(|| format!("exporting profile {:?}", profile.name))?;
    println!("{}", args.dir.display());
    eprintln!(
        "exported profile {:?} to {}",
        profile.name,
        args.dir.display()
    );
    Ok(())
}

/// The export writes a new folder; an existing empty one is removed first so `mkdir out && bandx export out`
/// works. Anything else already there is refused, untouched.
fn make_room(dest: &Path) -> anyhow::Result<()> {
    if !dest.exists() {
        return Ok(());
    }
    let empty = dest.is_dir()
        && std::fs::read_dir(dest)
            .with_context(|| format!("cannot read {}", dest.display()))?
            .next()
            .is_none();
    if !empty {
        return Err(DestinationNotEmpty(dest.to_path_buf()).into());
    }
    // remove_dir only removes an empty folder: a file appearing meanwhile is never lost.
    std::fs::remove_dir(dest).with_context(|| format!("cannot replace {}", dest.display()))
}

pub fn import(dir: &DataDir, args: &ImportArgs) -> anyhow::Result<()> {
    // Read and check every file before the store is even opened: a damaged folder changes nothing.
    let mut archive = ProfileArchive::read_dir(&args.dir)
        .with_context(|| format!("cannot import {}", args.dir.display()))?;
    if let Some(name) = &args.rename {
        archive.name = name.clone();
    }
    let store = profile::open_store(dir)?;
    let id = match store.insert_archive(&archive) {
        Ok(id) => id,
        Err(StoreError::ProfileExists(name)) => return Err(NameTaken(name).into()),
        Err(e) => {
            return Err(
                anyhow::Error::new(e).context(format!("the store refused {}", args.dir.display()))
            );
        }
    };
    let imported = store.profile(id)?;
    println!("{}", imported.name);
    eprintln!(
        "imported profile {:?}: {} classes, {} recordings, {} models, {} deployments, {} predictions",
        imported.name,
        archive.classes.len(),
        archive.recordings.len(),
        archive.models.len(),
        archive.deployments.len(),
        archive.predictions.len()
    );
    Ok(())
}
