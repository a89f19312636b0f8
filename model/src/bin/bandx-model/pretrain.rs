//! `pretrain` (the generalized model and its replay set) and `replay-set` (the replay set of an
//! existing checkpoint).

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use bandx_model::checkpoint::Checkpoint;
use bandx_model::cnn::activation_ranges;
use bandx_model::preprocess::{Normalization, Window, label_set};
use bandx_model::replay::ReplaySet;
use bandx_model::train::{Examples, accuracy, predict, pretrain_with, validation_subjects};
use clap::Args;

use crate::args::{DataArgs, TrainArgs};

#[derive(Args)]
pub struct PretrainArgs {
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
}

#[derive(Args)]
pub struct ReplaySetArgs {
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
}

/// `bandx-model pretrain`.
pub fn run(args: &PretrainArgs) -> Result<()> {
    let PretrainArgs {
        data,
        train,
        val_fraction,
        replay_per_class,
        out,
    } = args;
    let (val_fraction, replay_per_class) = (*val_fraction, *replay_per_class);
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
    windows: &[&Window],
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

/// `bandx-model replay-set`.
pub fn run_replay_set(args: &ReplaySetArgs) -> Result<()> {
    let ckpt = Checkpoint::load(&args.base)?;
    let (_, w, _) = args.data.load()?;
    let refs: Vec<_> = w.iter().collect();
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| ReplaySet::path_beside(&args.base));
    write_replay_set(&refs, &ckpt.labels, args.per_class, &out)
}
