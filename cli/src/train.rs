//! `bandx train`: personalizes the shipped backbone on a profile's calibration windows and stores the model.

use bandx_desktop::paths::DataDir;
use bandx_desktop::store::{ClassId, Store, Verdict};
use bandx_desktop::train::{
    self as job, Backbone, Control, GenericAccuracy, Progress, Stage, TrainError, TrainOptions,
    TrainedModel,
};
use indicatif::{ProgressBar, ProgressStyle};

use crate::profile;

#[derive(clap::Args)]
pub struct TrainArgs {
    /// The profile to train [default: the only profile].
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,
    /// Good calibration windows each class needs.
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u32).range(2..))]
    min_windows: u32,
    /// Train only these of the profile's classes (comma-separated names) [default: all].
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    classes: Option<Vec<String>>,
}

/// A class without enough good calibration windows (exit code `EXIT_NOT_ENOUGH_DATA`).
#[derive(Debug)]
pub struct Shortfall {
    pub class: String,
    pub good: usize,
    pub required: usize,
}

/// The calibration data cannot make a model yet (exit code `EXIT_NOT_ENOUGH_DATA`).
#[derive(Debug, thiserror::Error)]
pub enum NotEnoughData {
    #[error(
        "a model needs at least 2 activity classes; {} {found}",
        if *.chosen { "--classes names".to_string() } else { format!("profile {profile:?} has") }
    )]
    Classes {
        profile: String,
        found: usize,
        /// Whether `--classes` chose them (else: all of the profile's).
        chosen: bool,
    },
    #[error("not enough calibration windows: {}", describe(.0))]
    Windows(Vec<Shortfall>),
    /// The windows do not make a personal model better than the generic one (its estimate is below).
    #[error("{0}")]
    WorseThanGeneric(TrainError),
}

fn describe(shortfalls: &[Shortfall]) -> String {
    shortfalls
        .iter()
        .map(|s| {
            format!(
                "record {} more windows of {:?} (it has {} good of {} needed)",
                s.required - s.good,
                s.class,
                s.good,
                s.required
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

pub fn run(dir: &DataDir, args: &TrainArgs) -> anyhow::Result<()> {
    let store = profile::open_existing_store(dir)?;
    let profile = profile::select(&store, args.profile.as_deref())?;
    let opts = TrainOptions {
        min_windows_per_class: args.min_windows as usize,
        classes: args
            .classes
            .as_deref()
            .map(|names| class_ids(&store, &profile, names))
            .transpose()?,
        ..TrainOptions::default()
    };
    check_enough_data(&store, &profile, &opts)?;

    let backbone = Backbone::shipped()?;
    let bar = ProgressBar::new(100).with_style(
        ProgressStyle::with_template("{spinner} [{bar:30}] {percent:>3}% {msg}")
            .expect("a valid progress template")
            .progress_chars("=> "),
    );
    let cancel = crate::stop_on_ctrl_c();
    let mut on_progress = |p: Progress| {
        bar.set_position((p.fraction * 100.0).round() as u64);
        bar.set_message(stage_text(p.stage));
    };
    let result = job::run(
        &store,
        profile.id,
        &backbone,
        &opts,
        &mut Control {
            on_progress: &mut on_progress,
            cancel,
        },
    );
    bar.finish_and_clear();
    let (model_id, trained) = match result {
        Ok(done) => done,
        Err(TrainError::TooFewWindows {
            class,
            good,
            required,
        }) => {
            return Err(NotEnoughData::Windows(vec![Shortfall {
                class,
                good,
                required,
            }])
            .into());
        }
        Err(TrainError::TooFewClasses { found }) => {
            return Err(NotEnoughData::Classes {
                profile: profile.name,
                found,
                chosen: args.classes.is_some(),
            }
            .into());
        }
        Err(e @ TrainError::WorseThanGeneric { .. }) => {
            return Err(NotEnoughData::WorseThanGeneric(e).into());
        }
        Err(e) => return Err(e.into()),
    };
    let stored = store.model(model_id)?;
    print_report(&profile.name, stored.version, model_id.0, &trained);
    Ok(())
}

/// Names every class that is short of windows, not just the first one the job would stop at.
/// The ids of the named classes of `profile`; an unknown name is refused with the profile's names.
fn class_ids(
    store: &Store,
    profile: &bandx_desktop::store::Profile,
    names: &[String],
) -> anyhow::Result<Vec<ClassId>> {
    let classes = store.classes(profile.id)?;
    names
        .iter()
        .map(|name| {
            classes
                .iter()
                .find(|c| c.name == name.trim())
                .map(|c| c.id)
                .ok_or_else(|| {
                    let known: Vec<&str> = classes.iter().map(|c| c.name.as_str()).collect();
                    anyhow::anyhow!(
                        "profile {:?} has no class {name:?} (its classes: {})",
                        profile.name,
                        known.join(", ")
                    )
                })
        })
        .collect()
}

fn check_enough_data(
    store: &Store,
    profile: &bandx_desktop::store::Profile,
    opts: &TrainOptions,
) -> anyhow::Result<()> {
    let required = opts.min_windows_per_class;
    let classes = job::calibration::chosen_classes(store, profile.id, opts.classes.as_deref())?;
    if classes.len() < 2 {
        return Err(NotEnoughData::Classes {
            profile: profile.name.clone(),
            found: classes.len(),
            chosen: opts.classes.is_some(),
        }
        .into());
    }
    let mut short = Vec::new();
    for class in classes {
        let good = store
            .windows_of_class(class.id)?
            .iter()
            .filter(|w| w.verdict == Verdict::Good)
            .count();
        if good < required {
            short.push(Shortfall {
                class: class.name,
                good,
                required,
            });
        }
    }
    if short.is_empty() {
        Ok(())
    } else {
        Err(NotEnoughData::Windows(short).into())
    }
}

fn stage_text(stage: Stage) -> String {
    match stage {
        Stage::Loading => "loading the calibration windows".into(),
        Stage::GenericBaseline => "scoring the generic model".into(),
        Stage::CrossValidation { fold, folds } => {
            format!("estimating accuracy: fold {}/{folds}", fold + 1)
        }
        Stage::Personalizing => "personalizing the backbone".into(),
        Stage::Exporting => "int8 export and checks".into(),
        Stage::Storing => "storing the model".into(),
        Stage::Done => "done".into(),
    }
}

fn percent(x: f64) -> String {
    format!("{:.1} %", x * 100.0)
}

/// `key: value` lines a script can read, with a few indented detail lines.
fn print_report(profile: &str, version: u32, id: i64, trained: &TrainedModel) {
    let r = &trained.report;
    let windows: usize = r.windows_per_class.iter().sum();
    println!("profile: {profile}");
    println!("model_version: {version}");
    println!("model_id: {id}");
    println!("backbone: {}", r.backbone_id);
    println!("method: {}", r.method);
    println!("classes: {}", r.classes.join(","));
    println!(
        "personal_accuracy: {}  (estimated: {}-fold cross-validation over {windows} calibration windows)",
        percent(r.personal_accuracy),
        r.folds
    );
    match &r.generic {
        GenericAccuracy::Comparable {
            accuracy,
            among_user_classes,
        } => println!(
            "generic_accuracy: {}  (the shipped generic model on the same windows; {} when told only these classes)",
            percent(*accuracy),
            percent(*among_user_classes)
        ),
        GenericAccuracy::NotComparable { unknown_classes } => println!(
            "generic_accuracy: n/a  (the generic model does not know {})",
            unknown_classes
                .iter()
                .map(|c| format!("{c:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
    println!("recall:");
    for (i, class) in r.classes.iter().enumerate() {
        let row: u32 = r.confusion.counts[i].iter().sum();
        println!(
            "  {class}: {}  ({}/{row} windows)",
            percent(r.confusion.rate(i, i)),
            r.confusion.counts[i][i]
        );
    }
    println!(
        "int8_parity: {}  (int8 vs float agreement on {} windows)",
        percent(r.parity.agreement),
        r.parity.windows
    );
    println!(
        "blob: {} B of {} max, arena {} B of {} max, {} MACs of {} max (self-test: {})",
        r.blob.bytes,
        bandx_model::export::MAX_BLOB_BYTES,
        r.blob.arena,
        bandx_model::export::MAX_ARENA_BYTES,
        r.blob.macs,
        bandx_model::export::MAX_MACS,
        r.blob.self_test_class
    );
    if r.similar_classes.is_empty() {
        println!("similar_classes: none");
    }
    for warning in &r.warnings {
        println!("warning: {warning}");
    }
}
