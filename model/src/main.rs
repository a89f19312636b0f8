//! `bandx-model`: pretrain, evaluate, personalize, export, inspect.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use bandx_model::checkpoint::Checkpoint;
use bandx_model::cnn::{HarCnnConfig, activation_ranges, activation_ranges_clipped};
use bandx_model::data::DataSource;
use bandx_model::evaluate::{
    EvalOptions, GivenBase, Schedule, SelectOptions, evaluate, markdown, selection_summary,
};
use bandx_model::personalize::{Method, PersonalizeConfig};
use bandx_model::pipeline::{BlobOptions, Personalizer};
use bandx_model::preprocess::{Normalization, label_set, windows};
use bandx_model::readers::csv::CsvOptions;
use bandx_model::recording::{AccelUnit, GyroUnit};
use bandx_model::replay::ReplaySet;
use bandx_model::train::{
    AugmentConfig, Examples, TrainConfig, accuracy, predict, pretrain_with, validation_subjects,
};
use burn::prelude::Device;
use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "bandx-model",
    version,
    about = "BandX activity model: pre-train, evaluate, personalize, export"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
#[group(required = true, multiple = false, id = "source")]
struct SourceArgs {
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
struct DataArgs {
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
    exclude_subjects: Vec<String>,
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

    fn load(
        &self,
    ) -> Result<(
        DataSource,
        Vec<bandx_model::preprocess::Window>,
        Vec<bandx_model::readers::InputFile>,
    )> {
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
struct TrainArgs {
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
    seed: u64,
    /// Augment pre-training windows (rotation about the forearm ±30°, other wrist, amplitude
    /// 0.8-1.2, tempo 0.8-1.2, jitter): `--augment true|false`.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set)]
    augment: bool,
    /// Convolution widths conv1,conv2,conv3 (conv3 is the embedding size).
    #[arg(long, value_delimiter = ',', default_value = "16,32,32")]
    widths: Vec<usize>,
}

impl TrainArgs {
    fn config(&self) -> TrainConfig {
        TrainConfig::new()
            .with_max_steps(self.max_steps)
            .with_min_steps(self.min_steps)
            .with_patience_steps(self.patience_steps)
            .with_lr_half_life_steps(self.lr_half_life_steps)
            .with_eval_every_steps(self.eval_every_steps)
            .with_seed(self.seed)
            .with_augment(self.augment.then(AugmentConfig::new))
    }

    fn net(&self) -> Result<HarCnnConfig> {
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
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Pre-train the generalized model (validation on held-out subjects, early stopping).
    Pretrain {
        #[command(flatten)]
        data: DataArgs,
        #[command(flatten)]
        train: TrainArgs,
        /// Share of subjects held out for validation.
        #[arg(long, default_value_t = 0.1)]
        val_fraction: f32,
        /// Replay windows per class written beside the checkpoint (`<out>.replay`), from the
        /// training subjects; 0 writes none.
        #[arg(long, default_value_t = 100)]
        replay_per_class: usize,
        /// Output checkpoint (JSON).
        #[arg(long)]
        out: PathBuf,
    },
    /// Write the replay set of a pre-trained checkpoint: other people's windows of its classes,
    /// which `--method replay` mixes into a user's fine-tuning (default: beside the checkpoint).
    ReplaySet {
        /// The pre-trained checkpoint the set belongs to (its labels are kept).
        #[arg(long)]
        base: PathBuf,
        /// The checkpoint's training data (same --exclude-subjects as its pretrain).
        #[command(flatten)]
        data: DataArgs,
        #[arg(long, default_value_t = 100)]
        per_class: usize,
        /// Output file (default: the checkpoint's path with the extension .replay).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// The paper's protocol: GS, PS(GM), PS(PM), learning curve, every method; report.json + report.md + SVGs.
    Evaluate {
        #[command(flatten)]
        data: DataArgs,
        #[command(flatten)]
        train: TrainArgs,
        /// Calibration windows per class (the first K consecutive ones).
        #[arg(long, default_value_t = 15)]
        windows_per_class: usize,
        /// Run only N folds (from --first-fold).
        #[arg(long)]
        folds: Option<usize>,
        /// First fold to run (0-based), e.g. to split the folds over two processes.
        #[arg(long, default_value_t = 0)]
        first_fold: usize,
        /// Personal subjects per fold.
        #[arg(long, default_value_t = 4)]
        personal: usize,
        /// Learning-curve points (windows per class).
        #[arg(long, value_delimiter = ',', default_value = "1,3,5,10,15,25")]
        curve: Vec<usize>,
        /// Skip the int8 blob accuracy.
        #[arg(long)]
        no_int8: bool,
        /// Personalize to these classes only (comma separated labels; default all).
        #[arg(long, value_delimiter = ',')]
        user_classes: Vec<String>,
        /// Personalization methods to compare (comma separated; default all).
        #[arg(long, value_enum, value_delimiter = ',')]
        methods: Vec<Method>,
        /// Methods the learning curve is drawn for (default: every method compared).
        #[arg(long, value_enum, value_delimiter = ',')]
        curve_methods: Vec<Method>,
        /// Save each fold's pre-trained backbone here and reuse it when the fold and the
        /// training settings match (later runs only re-run personalization).
        #[arg(long, value_name = "DIR")]
        backbone_cache: Option<PathBuf>,
        /// Personalization settings (JSON of `PersonalizeConfig`; missing fields take defaults).
        #[arg(long, value_name = "FILE")]
        personalize_config: Option<PathBuf>,
        /// Leave N classes out of each fold's pre-training (rotated over folds); the personal
        /// subjects keep them, and PS(PM) is reported on known and novel classes separately.
        #[arg(long, default_value_t = 0, value_name = "N")]
        novel_classes: usize,
        /// Skip pre-training: personalize this checkpoint (and the replay set beside it, if
        /// any) for every subject of the data set.
        #[arg(long, value_name = "CKPT")]
        base: Option<PathBuf>,
        /// Choose the fine-tuning schedule and the anchor rule per fold on its validation
        /// subjects (never the personal ones), then evaluate the personal subjects with it.
        #[arg(long)]
        select: bool,
        /// Schedules `--select` tries (EPOCHSxCOPIES: fine-tuning epochs x augmented copies).
        #[arg(long, value_delimiter = ',', default_values_t = SelectOptions::default().schedules)]
        select_schedules: Vec<Schedule>,
        /// Anchor constants c (`K / (K + c)` of the way from the generic model) `--select` tries.
        #[arg(long, value_delimiter = ',', default_values_t = SelectOptions::default().anchors)]
        select_anchors: Vec<f64>,
        #[arg(long)]
        out: PathBuf,
    },
    /// Personalize a pre-trained backbone to a user's own classes from their windows.
    Personalize {
        /// Pre-trained checkpoint (e.g. model/pretrained/backbone.json).
        #[arg(long)]
        base: PathBuf,
        #[command(flatten)]
        data: DataArgs,
        /// Calibration windows per class (the first K consecutive ones).
        #[arg(long, default_value_t = 15)]
        windows_per_class: usize,
        /// Personalization method (default: the configured one, what the app runs).
        #[arg(long, value_enum, default_value_t = Method::DEFAULT)]
        method: Method,
        /// Replay set for --method replay (default: the one beside --base, `<base>.replay`).
        #[arg(long, value_name = "FILE")]
        replay: Option<PathBuf>,
        /// Personalization settings (JSON of `PersonalizeConfig`; missing fields take defaults).
        #[arg(long, value_name = "FILE")]
        personalize_config: Option<PathBuf>,
        /// Output checkpoint (JSON).
        #[arg(long)]
        out: PathBuf,
        /// Also export the int8 blob here, parity-checked on the user's other windows.
        #[arg(long)]
        blob: Option<PathBuf>,
        /// Personalize this many times (the same work each time) and report the median
        /// seconds: the speed benchmark of `make bench`.
        #[arg(long, default_value_t = 1, value_name = "N")]
        repeat: usize,
        /// Write the timings (every run, median, load average) here as JSON.
        #[arg(long, value_name = "FILE")]
        timings: Option<PathBuf>,
    },
    /// Quantize a checkpoint to the band's int8 blob (bandx-core format).
    Export {
        /// Checkpoint (JSON) from pretrain or personalize.
        #[arg(long)]
        model: PathBuf,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 1)]
        model_id: u32,
        #[arg(long, default_value_t = 1)]
        version: u32,
        /// Parity check on these WISDM subjects' windows (needs --check-wisdm).
        #[arg(long, value_delimiter = ',')]
        check_subjects: Vec<String>,
        /// WISDM folder for the parity check.
        #[arg(long)]
        check_wisdm: Option<PathBuf>,
    },
    /// Re-measure a checkpoint's activation ranges (int8 calibration) on the given data.
    Calibrate {
        #[arg(long)]
        model: PathBuf,
        #[command(flatten)]
        data: DataArgs,
        /// Share of each activation's tails clipped (outliers saturate, the rest gains resolution).
        #[arg(long, default_value_t = 1e-3)]
        tail: f64,
    },
    /// Print a blob's size, MACs, arena, classes and self-test result.
    Inspect { blob: PathBuf },
    /// Print the settings chosen on the validation subjects (`evaluate --select`) over the folds
    /// of several reports (a 12-fold evaluation split over processes), and what the same rule
    /// picks on every candidate's mean over them.
    Selection {
        /// `report.json` files of `evaluate --select` runs.
        #[arg(required = true)]
        reports: Vec<PathBuf>,
    },
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Pretrain {
            data,
            train,
            val_fraction,
            replay_per_class,
            out,
        } => cmd_pretrain(&data, &train, val_fraction, replay_per_class, &out),
        Command::Evaluate {
            data,
            train,
            windows_per_class,
            folds,
            first_fold,
            personal,
            curve,
            no_int8,
            user_classes,
            methods,
            curve_methods,
            backbone_cache,
            personalize_config,
            novel_classes,
            base,
            select,
            select_schedules,
            select_anchors,
            out,
        } => {
            let given = base.as_deref().map(given_base).transpose()?;
            let (source, w, _) = data.load()?;
            let mut opts = EvalOptions::new(source.name());
            opts.windows_per_class = windows_per_class;
            opts.folds = folds;
            opts.first_fold = first_fold;
            opts.personal_per_fold = personal;
            opts.learning_curve = curve;
            opts.train = train.config();
            opts.net = train.net()?;
            opts.show_progress = true;
            opts.int8 = !no_int8;
            opts.user_classes = user_classes;
            if !methods.is_empty() {
                opts.methods = methods;
            }
            opts.backbone_cache = backbone_cache;
            opts.curve_methods = curve_methods;
            if let Some(path) = personalize_config {
                opts.personalize = personalize_config_file(&path)?;
            }
            opts.novel_classes = novel_classes;
            opts.base = given;
            if opts.base.is_some() && opts.novel_classes > 0 {
                bail!("--novel-classes needs pre-training; it cannot be used with --base");
            }
            if select {
                if opts.base.is_some() {
                    bail!(
                        "--select chooses on the general subjects' validation split; it cannot be used with --base"
                    );
                }
                opts.select = Some(SelectOptions {
                    schedules: select_schedules,
                    anchors: select_anchors,
                    ..SelectOptions::default()
                });
            }
            let report = evaluate(&w, &opts)?;
            write_report(&report, &out)
        }
        Command::Personalize {
            base,
            data,
            windows_per_class,
            method,
            replay,
            personalize_config,
            out,
            blob,
            repeat,
            timings,
        } => {
            let cfg = match personalize_config {
                Some(path) => personalize_config_file(&path)?,
                None => PersonalizeConfig::new(),
            };
            cmd_personalize(
                &base,
                &data,
                windows_per_class,
                (method, &cfg),
                replay.as_deref(),
                (&out, blob.as_deref()),
                (repeat.max(1), timings.as_deref()),
            )
        }
        Command::ReplaySet {
            base,
            data,
            per_class,
            out,
        } => {
            let ckpt = Checkpoint::load(&base)?;
            let (_, w, _) = data.load()?;
            let refs: Vec<_> = w.iter().collect();
            let out = out.unwrap_or_else(|| ReplaySet::path_beside(&base));
            write_replay_set(&refs, &ckpt.labels, per_class, &out)
        }
        Command::Export {
            model,
            out,
            model_id,
            version,
            check_subjects,
            check_wisdm,
        } => cmd_export(
            &model,
            &out,
            model_id,
            version,
            check_wisdm.as_deref(),
            &check_subjects,
        ),
        Command::Calibrate { model, data, tail } => {
            let mut ckpt = Checkpoint::load(&model)?;
            let (_, w, _) = data.load()?;
            let ex = Examples::new(
                w.iter().step_by((w.len() / 4000).max(1)),
                &ckpt.labels,
                &ckpt.normalization,
            );
            ckpt.ranges = activation_ranges_clipped(&ckpt.weights, &ex.x, tail);
            ckpt.save(&model)?;
            eprintln!(
                "re-calibrated {} on {} windows: {:?}",
                model.display(),
                ex.len(),
                ckpt.ranges
            );
            Ok(())
        }
        Command::Selection { reports } => {
            let mut folds = Vec::new();
            for path in &reports {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                let report: bandx_model::evaluate::Report = serde_json::from_str(&text)
                    .with_context(|| format!("{} is not an evaluate report", path.display()))?;
                folds.extend(report.folds);
            }
            folds.sort_by_key(|f| f.fold);
            let summary = selection_summary(&folds);
            if summary.is_empty() {
                bail!("no fold in these reports chose settings (run evaluate with --select)");
            }
            print!("{summary}");
            Ok(())
        }
        Command::Inspect { blob } => {
            let bytes =
                std::fs::read(&blob).with_context(|| format!("reading {}", blob.display()))?;
            let info = bandx_model::export::inspect(&bytes)?;
            println!("{}", serde_json::to_string_pretty(&info)?);
            if !info.self_test.starts_with("pass") {
                bail!("self-test failed");
            }
            Ok(())
        }
    }
}

/// A `PersonalizeConfig` from a JSON file holding only the fields that differ from the defaults.
fn personalize_config_file(path: &Path) -> Result<PersonalizeConfig> {
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

fn write_report(report: &bandx_model::evaluate::Report, out: &Path) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    std::fs::write(
        out.join("report.json"),
        serde_json::to_string_pretty(report)?,
    )?;
    let md = markdown(report);
    std::fs::write(out.join("report.md"), &md)?;
    bandx_model::plots::learning_curve_svg(report, &out.join("learning_curve.svg"))?;
    bandx_model::plots::confusion_svg(
        &report.confusion_gm,
        "PS(GM): generalized model on personal subjects",
        &out.join("confusion_gm.svg"),
    )?;
    bandx_model::plots::confusion_svg(
        &report.confusion_pm,
        &format!(
            "PS(PM): personalized ({}) on personal subjects",
            report.confusion_pm_method
        ),
        &out.join("confusion_pm.svg"),
    )?;
    println!("{md}");
    eprintln!(
        "wrote {}/report.json, report.md, learning_curve.svg, confusion_gm.svg, confusion_pm.svg",
        out.display()
    );
    Ok(())
}

fn cmd_pretrain(
    data: &DataArgs,
    train: &TrainArgs,
    val_fraction: f32,
    replay_per_class: usize,
    out: &Path,
) -> Result<()> {
    let (source, w, inputs) = data.load()?;
    let subjects = label_set(w.iter().map(|w| w.subject.as_str()));
    let val_subjects = if subjects.len() > 1 {
        validation_subjects(&subjects, val_fraction, train.seed)
    } else {
        Vec::new()
    };
    let (val_w, train_w): (Vec<_>, Vec<_>) =
        w.iter().partition(|w| val_subjects.contains(&w.subject));
    let labels = label_set(train_w.iter().map(|w| w.label.as_str()));
    let norm = Normalization::fit(train_w.iter().copied());
    let train_ex = Examples::new(train_w.iter().copied(), &labels, &norm);
    let val_ex = Examples::new(val_w.iter().copied(), &labels, &norm);
    let net = train.net()?;
    let (model, report) = pretrain_with(
        &net,
        &train_ex,
        &val_ex,
        labels.len(),
        &train.config(),
        &norm,
        true,
    );
    let val_acc = accuracy(&predict(&model, &val_ex.x), &val_ex.y);
    eprintln!(
        "pre-trained on {} windows in {:.1} s ({:.0} windows/s, {} steps = {} epochs, best step {}, stopped: {}); validation accuracy {:.4} on subjects {:?}",
        report.train_windows,
        report.seconds,
        report.windows_per_second,
        report.steps,
        report.epochs_run,
        report.best_step,
        report
            .stop_reason
            .map_or_else(|| "?".to_string(), |r| r.to_string()),
        val_acc,
        val_subjects
    );
    let mut ckpt = Checkpoint::new(net, labels, norm, &model);
    let sample: Vec<f32> = train_ex
        .x
        .chunks(360)
        .step_by((train_ex.len() / 4000).max(1))
        .flatten()
        .copied()
        .collect();
    ckpt.ranges = activation_ranges(&ckpt.weights, &sample);
    ckpt.notes = serde_json::json!({
        "command": std::env::args().collect::<Vec<_>>().join(" "),
        "dataset": source.name(),
        "subjects_train": label_set(train_w.iter().map(|w| w.subject.as_str())),
        "subjects_validation": val_subjects,
        "excluded_subjects": data.exclude_subjects,
        "validation_accuracy": val_acc,
        "pretrain": report,
        "inputs": inputs,
    });
    ckpt.save(out)?;
    eprintln!("wrote {}", out.display());
    if replay_per_class > 0 {
        let replay = ReplaySet::path_beside(out);
        write_replay_set(&train_w, &ckpt.labels, replay_per_class, &replay)?;
    }
    Ok(())
}

fn write_replay_set(
    windows: &[&bandx_model::preprocess::Window],
    labels: &[String],
    per_class: usize,
    out: &Path,
) -> Result<()> {
    let set = ReplaySet::pick(windows, labels, per_class)?;
    if set.is_empty() {
        bail!("none of the data's windows has one of the checkpoint's labels {labels:?}");
    }
    set.save(out)?;
    let subjects = label_set(windows.iter().map(|w| w.subject.as_str())).len();
    eprintln!(
        "wrote {} ({} windows of {} classes from {subjects} subjects, per class {:?})",
        out.display(),
        set.len(),
        labels.len(),
        set.counts()
    );
    Ok(())
}

/// The user's first `k` windows of each class (as they recorded them) to personalize with, and
/// their other windows that overlap none of those, for the parity check.
fn user_split<'a>(
    windows: &[&'a bandx_model::preprocess::Window],
    k: usize,
) -> Result<(
    Vec<&'a bandx_model::preprocess::Window>,
    Vec<&'a bandx_model::preprocess::Window>,
)> {
    let (cal, rest, short) = bandx_model::evaluate::user_split(windows, k);
    if !short.is_empty() || cal.is_empty() {
        let short: Vec<String> = short.iter().map(|(l, n)| format!("{l} ({n})")).collect();
        bail!(
            "every class needs at least {k} windows (3 s each, 50 % overlap) for personalization; \
             too few: {}",
            if short.is_empty() {
                "no labelled windows".to_string()
            } else {
                short.join(", ")
            }
        );
    }
    Ok((cal, rest))
}

/// The checkpoint `evaluate --base` personalizes, with the replay set beside it if there is one.
fn given_base(path: &Path) -> Result<GivenBase> {
    let checkpoint = Checkpoint::load(path)?;
    let beside = ReplaySet::path_beside(path);
    let replay = if beside.exists() {
        Some(ReplaySet::load(&beside)?)
    } else {
        eprintln!(
            "no replay set at {}: personalizing without other people's windows",
            beside.display()
        );
        None
    };
    Ok(GivenBase {
        path: path.display().to_string(),
        checkpoint,
        replay,
    })
}

/// The median of `runs` (seconds per personalization) on stderr and, with `out`, as JSON beside
/// every run and the 1-minute load average (this machine may be shared; read the figure with it).
fn write_timings(
    runs: &[f64],
    (classes, k, method): (usize, usize, Method),
    out: Option<&Path>,
) -> Result<()> {
    let mut sorted = runs.to_vec();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".into());
    eprintln!(
        "median of {}: {median:.3} s for {classes} classes x {k} windows ({method}; load average {load})",
        runs.len()
    );
    if let Some(path) = out {
        let json = serde_json::json!({
            "method": method.name(),
            "classes": classes,
            "windows_per_class": k,
            "runs_seconds": runs,
            "median_seconds": median,
            "load_average": load,
        });
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(path, serde_json::to_string_pretty(&json)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

fn cmd_personalize(
    base: &Path,
    data: &DataArgs,
    k: usize,
    (method, cfg): (Method, &PersonalizeConfig),
    replay: Option<&Path>,
    (out, blob): (&Path, Option<&Path>),
    (repeat, timings): (usize, Option<&Path>),
) -> Result<()> {
    let ckpt = Checkpoint::load(base)?;
    let replay_set = if method.uses_replay() {
        let path = replay.map_or_else(|| ReplaySet::path_beside(base), Path::to_path_buf);
        if !path.exists() {
            bail!(
                "--method {method} needs the backbone's replay set, and {} does not \
                 exist. Write it with `bandx-model replay-set --base {} ...`, give one with \
                 --replay FILE, or use --method dense-fine-tune.",
                path.display(),
                base.display()
            );
        }
        Some(ReplaySet::load(&path)?)
    } else {
        None
    };
    let (_, w, _) = data.load()?;
    let refs: Vec<_> = w.iter().collect();
    let (cal_w, rest_w) = user_split(&refs, k)?;
    // Classes in the order the data first shows them.
    let labels = label_set(refs.iter().map(|w| w.label.as_str()));
    let cal = Examples::new(cal_w.iter().copied(), &labels, &ckpt.normalization);
    let base_model = ckpt.model(&Device::flex());
    let replay = replay_set
        .map(|set| set.examples(&labels, &ckpt.normalization))
        .unwrap_or_default();
    let personalizer = Personalizer::new(&ckpt, &base_model, &labels, &replay, method, cfg);
    let rest = Examples::new(rest_w.iter().copied(), &labels, &ckpt.normalization);
    let mut runs = Vec::new();
    let made = loop {
        let made = personalizer
            .personal_blob(&cal, Some(&rest), &BlobOptions::default(), &mut |_| {
                ControlFlow::Continue(())
            })
            .context("personalizing")?;
        eprintln!(
            "personalized ({}) {} classes x {k} windows in {:.3} s; training accuracy {:.4}",
            made.method,
            labels.len(),
            made.seconds.personalize,
            made.training_accuracy
        );
        runs.push(made.seconds.personalize);
        if runs.len() == repeat {
            break made;
        }
    };
    if repeat > 1 || timings.is_some() {
        write_timings(&runs, (labels.len(), k, made.method), timings)?;
    }
    let mut personal = made.checkpoint;
    personal.notes =
        serde_json::json!({ "base": base, "method": made.method.name(), "windows_per_class": k });
    personal.save(out)?;
    eprintln!("wrote {}", out.display());
    if let Some(blob_path) = blob {
        std::fs::write(blob_path, &made.blob)
            .with_context(|| format!("writing {}", blob_path.display()))?;
        let b = &made.band;
        eprintln!(
            "blob: {} bytes, arena {} bytes, {} MACs, {} classes, self-test pass (class {} '{}')",
            b.bytes,
            b.arena,
            b.macs,
            b.classes,
            b.self_test_class,
            labels
                .get(usize::from(b.self_test_class))
                .map_or("?", String::as_str)
        );
        let p = &made.parity;
        eprintln!(
            "parity on {} {} windows: agreement {:.4}, float accuracy {:.4}, int8 accuracy {:.4} -> {}",
            p.windows,
            if rest.is_empty() {
                "calibration"
            } else {
                "other"
            },
            p.agreement,
            p.float_accuracy,
            p.int8_accuracy,
            if p.passes() {
                "PASS"
            } else {
                "FAIL (needs >= 99 % agreement, <= 1 point loss)"
            }
        );
        eprintln!("wrote {}", blob_path.display());
    }
    Ok(())
}

fn report_blob(bytes: &[u8], model: &bandx_model::cnn::HarCnn, check: &Examples) -> Result<()> {
    let info = bandx_model::export::inspect(bytes)?;
    eprintln!(
        "blob: {} bytes, arena {} bytes, {} MACs, {} classes, self-test {}",
        info.bytes,
        info.arena,
        info.macs,
        info.classes.len(),
        info.self_test
    );
    if !info.within_budget {
        use bandx_core::budget::{MAX_ARENA_BYTES, MAX_BLOB_BYTES, MAX_MACS};
        eprintln!(
            "warning: the blob exceeds the band's budget ({MAX_BLOB_BYTES} B blob, \
             {MAX_ARENA_BYTES} B arena, {MAX_MACS} MACs)"
        );
    }
    if !check.is_empty() {
        let logits = bandx_model::train::logits(model, &check.x);
        let p = bandx_model::export::parity(bytes, &logits, &check.x, &check.y)?;
        eprintln!(
            "parity on {} windows: agreement {:.4}, float accuracy {:.4}, int8 accuracy {:.4} -> {}",
            p.windows,
            p.agreement,
            p.float_accuracy,
            p.int8_accuracy,
            if p.passes() {
                "PASS"
            } else {
                "FAIL (needs >= 99 % agreement, <= 1 point loss)"
            }
        );
    }
    Ok(())
}

/// A deterministic, non-constant normalized window for the blob's self-test.
fn self_test_window() -> Vec<f32> {
    (0..360).map(|i| ((i as f32) * 0.37).sin() * 1.5).collect()
}

fn cmd_export(
    model: &Path,
    out: &Path,
    id: u32,
    version: u32,
    wisdm: Option<&Path>,
    subjects: &[String],
) -> Result<()> {
    let ckpt = Checkpoint::load(model)?;
    let bytes = bandx_model::export::export(&ckpt, &self_test_window(), id, version)?;
    std::fs::write(out, &bytes).with_context(|| format!("writing {}", out.display()))?;
    let float = ckpt.model(&Device::flex());
    let check = match wisdm {
        Some(dir) => {
            let (recs, _) = bandx_model::readers::wisdm::read_dir(
                dir,
                (!subjects.is_empty()).then_some(subjects),
            )?;
            let w = bandx_model::preprocess::windows_with_hop(
                &recs,
                bandx_model::preprocess::WINDOW_LEN,
            );
            Examples::new(w.iter(), &ckpt.labels, &ckpt.normalization)
        }
        None => Examples::default(),
    };
    report_blob(&bytes, &float, &check)?;
    eprintln!("wrote {}", out.display());
    Ok(())
}
