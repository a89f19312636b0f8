//! Where BandX Studio keeps the user's data on this machine: one directory holding the SQLite store,
//! the owner key (`owner.key`, private, in no export), the virtual band's flash file and the logs (`logs/`). Nothing
//! is ever written anywhere else.

use std::path::{Path, PathBuf};

/// File name of the SQLite store inside the data directory.
pub const STORE_FILE_NAME: &str = "bandx.sqlite";

/// The data directory and what lives in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDir {
    root: PathBuf,
}

/// Neither `XDG_DATA_HOME` nor `HOME` says where the user's data goes.
#[derive(Debug, thiserror::Error)]
#[error("neither XDG_DATA_HOME nor HOME is set: pass a data directory (--data-dir)")]
pub struct NoHome;

impl DataDir {
    /// Uses `root` as the data directory.
    pub fn at(root: impl Into<PathBuf>) -> DataDir {
        DataDir { root: root.into() }
    }

    /// `$XDG_DATA_HOME/bandx-studio`, else `~/.local/share/bandx-studio`.
    pub fn default_location() -> Result<DataDir, NoHome> {
        let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
        if let Some(xdg) = var("XDG_DATA_HOME") {
            return Ok(DataDir::at(PathBuf::from(xdg).join("bandx-studio")));
        }
        let home = var("HOME").ok_or(NoHome)?;
        Ok(DataDir::at(
            PathBuf::from(home).join(".local/share/bandx-studio"),
        ))
    }

    /// `root` if given, else [`DataDir::default_location`].
    pub fn from_option(root: Option<&Path>) -> Result<DataDir, NoHome> {
        match root {
            Some(root) => Ok(DataDir::at(root)),
            None => DataDir::default_location(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The SQLite store.
    pub fn store_path(&self) -> PathBuf {
        self.root.join(STORE_FILE_NAME)
    }

    /// The owner key ([`crate::owner::OwnerKeyFile`]).
    pub fn owner_key_path(&self) -> PathBuf {
        self.root.join(crate::owner::OWNER_KEY_FILE_NAME)
    }

    /// The log files (see [`crate::logs`]).
    pub fn logs_dir(&self) -> PathBuf {
        self.root.join("logs")
    }

    /// Where the virtual band keeps its flash (pass to [`crate::link::sim::SimLink::open`]).
    pub fn sim_dir(&self) -> &Path {
        &self.root
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_lives_in_the_data_dir() {
        let dir = DataDir::at("/tmp/x");
        assert_eq!(dir.store_path(), PathBuf::from("/tmp/x/bandx.sqlite"));
        assert_eq!(dir.sim_dir(), Path::new("/tmp/x"));
    }
}
