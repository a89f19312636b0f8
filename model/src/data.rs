//! Which data set to read, as the CLI and the app name it.

use std::path::PathBuf;

use crate::error::Result;
use crate::readers::csv::CsvOptions;
use crate::readers::{InputFile, app_export, csv, pamap2, wisdm};
use crate::recording::Recording;

#[derive(Debug, Clone)]
pub enum DataSource {
    Wisdm {
        dir: PathBuf,
        subjects: Option<Vec<String>>,
    },
    Pamap2 {
        dir: PathBuf,
    },
    Csv {
        file: PathBuf,
        options: CsvOptions,
    },
    /// A profile folder exported by BandX Studio.
    AppExport {
        dir: PathBuf,
    },
}

impl DataSource {
    /// Short name used in reports and to pick the paper's figures.
    pub fn name(&self) -> &'static str {
        match self {
            DataSource::Wisdm { .. } => "wisdm",
            DataSource::Pamap2 { .. } => "pamap2",
            DataSource::Csv { .. } => "csv",
            DataSource::AppExport { .. } => "app",
        }
    }

    pub fn load(&self) -> Result<(Vec<Recording>, Vec<InputFile>)> {
        match self {
            DataSource::Wisdm { dir, subjects } => wisdm::read_dir(dir, subjects.as_deref()),
            DataSource::Pamap2 { dir } => pamap2::read_dir(dir),
            DataSource::Csv { file, options } => {
                csv::read_file(file, *options).map(|(r, i)| (r, vec![i]))
            }
            DataSource::AppExport { dir } => app_export::read_dir(dir),
        }
    }
}
