//! One error type for the library; the CLI wraps it in `anyhow` at the edge.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a valid .xz file: {reason}")]
    Xz { path: PathBuf, reason: String },
    #[error("{path}:{line}: {reason}")]
    Parse {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("{0}")]
    InvalidInput(String),
    #[error("no usable data: {0}")]
    NoData(String),
    #[error("checkpoint {path}: {reason}")]
    Checkpoint { path: PathBuf, reason: String },
    #[error("replay set {path}: {reason}")]
    ReplaySet { path: PathBuf, reason: String },
    #[error("export: {0}")]
    Export(String),
    #[error("{path}: {problem}")]
    ProfileFolder {
        path: PathBuf,
        problem: crate::readers::app_export::FolderProblem,
    },
}

impl ModelError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ModelError::Io {
            path: path.into(),
            source,
        }
    }

    pub fn parse(path: impl Into<PathBuf>, line: usize, reason: impl Into<String>) -> Self {
        ModelError::Parse {
            path: path.into(),
            line,
            reason: reason.into(),
        }
    }
}

pub type Result<T, E = ModelError> = std::result::Result<T, E>;
