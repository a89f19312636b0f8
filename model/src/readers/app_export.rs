//! The desktop app's own recordings.
//!
//! TODO(app-export): BandX Studio has no export format yet (src-tauri stores recordings in
//! SQLite and has not defined a file export). When it does, parse it here into `Recording`s.
//! Until then this hook refuses clearly; export recordings to the generic CSV
//! (`subject,session,label,ax,ay,az,gx,gy,gz`) and use `--csv`.

use std::path::Path;

use crate::error::{ModelError, Result};
use crate::recording::Recording;

pub fn read(path: &Path) -> Result<Vec<Recording>> {
    Err(ModelError::AppExportNotDefined(path.to_path_buf()))
}
