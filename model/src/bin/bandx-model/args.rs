//! The arguments several commands share: where the data comes from and how it is filtered
//! (`DataArgs`), how pre-training runs (`TrainArgs`), and personalization settings from a file.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use bandx_model::cnn::HarCnnConfig;
use bandx_model::data::DataSource;
use bandx_model::personalize::PersonalizeConfig;
use bandx_model::preprocess::{Window, label_set, windows};
use bandx_model::readers::InputFile;
use bandx_model::readers::csv::CsvOptions;
use bandx_model::recording::{AccelUnit, GyroUnit};
use bandx_model::train::{AugmentConfig, TrainConfig};
use clap::Args;

#[derive(Args, Clone)]
#[group(required = true, multiple = false, id = "source")]
pub struct SourceArgs {
    /// WISDM 2019 folder (wisdm/, wisdm-dataset/ or raw/watch/), .txt or .txt.xz files.
    #[arg(long, value_name = "DIR")]
    wisdm: Option<PathBuf>,
    /// PAMAP2 folder holding Protocol/subject10N.dat (or the Protocol folder itself).
    #[arg(long, value_name = "DIR")]
    pamap2: Option<PathBuf>,
    /// Generic CSV with header subject,session,label,ax,ay,az,gx,gy,gz.
    #[arg(long, value_name = "FILE")]
    csv: Option<PathBuf>,
    /// A profile folder exported by BandX Studio (profile.json, recordings.json, recordings/, ...).
    #[arg(long, value_name = "DIR")]
    app_export: Option<PathBuf>,
}

#[derive(Args, Clone)]
pub struct DataArgs {
    #[command(flatten)]
    source: SourceArgs,
    /// Sampling rate of the CSV in Hz.
    #[arg(long, default_value_t = 20.0, value_name = "HZ")]
    rate: f32,
    /// Accelerometer unit of the CSV: m/s2 or g.
    #[arg(long, default_value = "m/s2", value_parser = parse_accel)]
    accel_unit: AccelUnit,
    /// Gyroscope unit of the CSV: rad/s or deg/s.
    #[arg(long, default_value = "rad/s", value_parser = parse_gyro)]
    gyro_unit: GyroUnit,
    /// Only these subjects (comma separated; WISDM only).
    #[arg(long, value_delimiter = ',')]
    subjects: Option<Vec<String>>,
    /// Leave these subjects out entirely (comma separated).
    #[arg(long, value_delimiter = ',')]
    pub exclude_subjects: Vec<String>,
    /// Only these activity labels (comma separated; e.g. the band's 7 classes).
    #[arg(long, value_delimiter = ',')]
    labels: Option<Vec<String>>,
    /// Only the first N subjects (sorted by name) after the filters above.
    #[arg(long, value_name = "N")]
    max_subjects: Option<usize>,
    /// Only the first S seconds of each activity of each subject (a small data set from a
    /// large one, e.g. 40 for WISDM like a 20-50 s recording per activity).
    #[arg(long, value_name = "S")]
    first_seconds: Option<f32>,
}

fn parse_accel(s: &str) -> Result<AccelUnit, String> {
    s.parse()
}
fn parse_gyro(s: &str) -> Result<GyroUnit, String> {
    s.parse()
}

impl DataArgs {
    fn source(&self) -> DataSource {
        let s = &self.source;
        if let Some(dir) = &s.wisdm {
            DataSource::Wisdm {
                dir: dir.clone(),
                subjects: self.subjects.clone(),
            }
        } else if let Some(dir) = &s.pamap2 {
            DataSource::Pamap2 { dir: dir.clone() }
        } else if let Some(dir) = &s.app_export {
            DataSource::AppExport { dir: dir.clone() }
        } else {
            DataSource::Csv {
                file: s.csv.clone().expect("clap requires one source"),
                options: CsvOptions {
                    rate_hz: self.rate,
                    accel_unit: self.accel_unit,
                    gyro_unit: self.gyro_unit,
                },
            }
        }
    }

    pub fn load(&self) -> Result<(DataSource, Vec<Window>, Vec<InputFile>)> {
        let source = self.source();
        let t = Instant::now();
        let (mut recordings, inputs) = source.load()?;
        recordings.retain(|r| !self.exclude_subjects.contains(&r.subject));
        if let Some(keep) = &self.subjects {
            recordings.retain(|r| keep.contains(&r.subject));
        }
        if let Some(keep) = &self.labels {
            recordings.retain(|r| keep.contains(&r.label));
        }
        if let Some(n) = self.max_subjects {
            let mut subjects = label_set(recordings.iter().map(|r| r.subject.as_str()));
            subjects.sort();
            subjects.truncate(n);
            recordings.retain(|r| subjects.contains(&r.subject));
        }
        if let Some(seconds) = self.first_seconds {
            recordings = bandx_model::recording::first_seconds(recordings, seconds);
        }
        let w = windows(&recordings);
        if w.is_empty() {
            bail!("no 3-second window could be cut from the data (recordings too short?)");
        }
        eprintln!(
            "read {} recordings, {} windows from {} subjects in {:.1} s",
            recordings.len(),
            w.len(),
            label_set(w.iter().map(|w| w.subject.as_str())).len(),
            t.elapsed().as_secs_f64()
        );
        Ok((source, w, inputs))
    }
}

#[derive(Args, Clone)]
pub struct TrainArgs {
    /// Step cap: pre-training ends after this many optimizer steps (batches of 64) at the latest.
    #[arg(long, default_value_t = 60_000)]
    max_steps: usize,
    /// Early stopping never ends pre-training before this many steps.
    #[arg(long, default_value_t = 6_000)]
    min_steps: usize,
    /// Pre-training ends when validation accuracy has not improved for this many steps.
    #[arg(long, default_value_t = 6_000)]
    patience_steps: usize,
    /// The learning rate halves every this many steps; training has converged at 1/32 of it.
    #[arg(long, default_value_t = 10_000)]
    lr_half_life_steps: usize,
    /// Validation accuracy is measured every this many steps.
    #[arg(long, default_value_t = 500)]
    eval_every_steps: usize,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Augment pre-training windows (rotation about the forearm ±30°, other wrist, amplitude
    /// 0.8-1.2, tempo 0.8-1.2, jitter): `--augment true|false`.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set)]
    augment: bool,
    /// Convolution widths conv1,conv2,conv3 (conv3 is the embedding size).
    #[arg(long, value_delimiter = ',', default_value = "16,32,32")]
    widths: Vec<usize>,
}

impl TrainArgs {
    pub fn config(&self) -> TrainConfig {
        TrainConfig::new()
            .with_max_steps(self.max_steps)
            .with_min_steps(self.min_steps)
            .with_patience_steps(self.patience_steps)
            .with_lr_half_life_steps(self.lr_half_life_steps)
            .with_eval_every_steps(self.eval_every_steps)
            .with_seed(self.seed)
            .with_augment(self.augment.then(AugmentConfig::new))
    }

    pub fn net(&self) -> Result<HarCnnConfig> {
        let [c1, c2, c3] = self.widths[..] else {
            bail!(
                "--widths takes three numbers (conv1,conv2,conv3), got {:?}",
                self.widths
            );
        };
        if c1 == 0 || c2 == 0 || c3 == 0 {
            bail!("--widths must be positive, got {:?}", self.widths);
        }
        Ok(HarCnnConfig::new()
            .with_conv1_channels(c1)
            .with_conv2_channels(c2)
            .with_conv3_channels(c3))
    }
}

// Parsed once per run: the size of the largest variant (`evaluate`'s options) does not matter.

/// A `PersonalizeConfig` from a JSON file holding only the fields that differ from the defaults.
pub fn personalize_config_file(path: &Path) -> Result<PersonalizeConfig> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let given: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text)
        .with_context(|| format!("{}: expected a JSON object", path.display()))?;
    let mut merged = serde_json::to_value(PersonalizeConfig::new())?;
    for (k, v) in given {
        let slot = merged
            .get_mut(&k)
            .with_context(|| format!("{}: unknown setting {k:?}", path.display()))?;
        *slot = v;
    }
    serde_json::from_value(merged).with_context(|| format!("{}: bad setting", path.display()))
}
