//! `evaluate` (the paper's protocol: report.json, report.md and the SVGs) and `selection` (the
//! settings `evaluate --select` chose, pooled over several reports).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use bandx_model::checkpoint::Checkpoint;
use bandx_model::evaluate::{
    EvalOptions, GivenBase, Report, Schedule, SelectOptions, evaluate, markdown, selection_summary,
};
use bandx_model::personalize::Method;
use bandx_model::replay::ReplaySet;
use clap::Args;

use crate::args::{DataArgs, TrainArgs, personalize_config_file};

#[derive(Args)]
pub struct EvaluateArgs {
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
    #[arg(long, default_value_t = 0, value_name = "N", conflicts_with = "base")]
    novel_classes: usize,
    /// Skip pre-training: personalize this checkpoint (and the replay set beside it, if
    /// any) for every subject of the data set.
    #[arg(long, value_name = "CKPT")]
    base: Option<PathBuf>,
    /// Choose the fine-tuning schedule and the anchor rule per fold on its validation
    /// subjects (never the personal ones), then evaluate the personal subjects with it.
    #[arg(long, conflicts_with = "base")]
    select: bool,
    /// Schedules `--select` tries (EPOCHSxCOPIES: fine-tuning epochs x augmented copies).
    #[arg(long, value_delimiter = ',', default_values_t = SelectOptions::default().schedules)]
    select_schedules: Vec<Schedule>,
    /// Anchor constants c (`K / (K + c)` of the way from the generic model) `--select` tries.
    #[arg(long, value_delimiter = ',', default_values_t = SelectOptions::default().anchors)]
    select_anchors: Vec<f64>,
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args)]
pub struct SelectionArgs {
    /// `report.json` files of `evaluate --select` runs.
    #[arg(required = true)]
    reports: Vec<PathBuf>,
}

/// `bandx-model evaluate`.
pub fn run(args: EvaluateArgs) -> Result<()> {
    let EvaluateArgs {
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
    } = args;
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
    opts.select = select.then(|| SelectOptions {
        schedules: select_schedules,
        anchors: select_anchors,
        ..SelectOptions::default()
    });
    let report = evaluate(&w, &opts)?;
    write_report(&report, &out)
}

/// `bandx-model selection`.
pub fn selection(args: &SelectionArgs) -> Result<()> {
    let mut folds = Vec::new();
    for path in &args.reports {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let report: Report = serde_json::from_str(&text)
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

fn write_report(report: &Report, out: &Path) -> Result<()> {
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
