//! `personalize`: a pre-trained backbone personalized to one user's classes from their first
//! windows, the int8 blob parity-checked on their other windows; `--repeat` is the speed benchmark.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use bandx_model::checkpoint::Checkpoint;
use bandx_model::personalize::{Method, PersonalizeConfig};
use bandx_model::pipeline::{BlobOptions, Personalizer};
use bandx_model::preprocess::{Window, label_set};
use bandx_model::replay::ReplaySet;
use bandx_model::train::Examples;
use burn::prelude::Device;
use clap::Args;

use crate::args::{DataArgs, personalize_config_file};
use crate::blob::parity_line;

#[derive(Args)]
pub struct PersonalizeArgs {
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
}

/// `bandx-model personalize`.
pub fn run(args: &PersonalizeArgs) -> Result<()> {
    let cfg = match &args.personalize_config {
        Some(path) => personalize_config_file(path)?,
        None => PersonalizeConfig::new(),
    };
    personalize(
        &args.base,
        &args.data,
        args.windows_per_class,
        (args.method, &cfg),
        args.replay.as_deref(),
        (&args.out, args.blob.as_deref()),
        (args.repeat.max(1), args.timings.as_deref()),
    )
}

fn personalize(
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
        let which = if rest.is_empty() {
            "calibration "
        } else {
            "other "
        };
        eprintln!("{}", parity_line(p, which));
        eprintln!("wrote {}", blob_path.display());
    }
    Ok(())
}

/// The user's first `k` windows of each class (as they recorded them) to personalize with, and
/// their other windows that overlap none of those, for the parity check.
fn user_split<'a>(windows: &[&'a Window], k: usize) -> Result<(Vec<&'a Window>, Vec<&'a Window>)> {
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
