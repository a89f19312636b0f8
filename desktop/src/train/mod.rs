//! The training job: a profile's calibration windows -> the shipped backbone personalized with
//! bandx-model's default method (`anchored`: starts as the generic model, fine-tunes with other
//! people's windows of the same class names, shipped beside the backbone, in every batch, and
//! moves from the generic model by a share fixed by the windows per class) -> accuracy estimated
//! by cross-validation beside the generic model's (a model estimated worse than the generic one
//! is refused, [`TrainError::WorseThanGeneric`], and the profile keeps its model) -> int8 blob
//! (parity-checked, within the band's budget) -> stored as the profile's next model.
//!
//! The job runs in three steps so the store is only held while reading and writing:
//! [`calibration::load`] (store) -> [`train`] (no store; progress events, cancellable) -> [`save`] (store).
//! [`run`] does all three.

pub mod calibration;
pub mod estimate;

use std::ops::ControlFlow;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use bandx_core::budget::{MAX_ARENA_BYTES, MAX_BLOB_BYTES, MAX_MACS, ModelCheckError, ModelReport};
use bandx_model::checkpoint::Checkpoint;
use bandx_model::export::Parity;
use bandx_model::personalize::{Method, PersonalizeConfig};
use bandx_model::pipeline::{BlobOptions, Personalizer, PipelineError, Stage as PipelineStage};
use bandx_model::replay::ReplaySet;
use bandx_model::train::Examples;
use burn::prelude::Device;
use serde::Serialize;
use sha2::Digest;

pub use calibration::{CalibrationSet, ClassWindows, SiWindow};
pub use estimate::{Confusion, GenericAccuracy, SimilarPair};

use crate::store::{ClassId, ModelId, NewModel, ProfileId, RecordingId, Store, StoreError};

/// bandx-model's default personalization method (`anchored`). It fine-tunes on the user's
/// windows alone when the backbone has no replay set or the set knows none of the user's class
/// names.
pub const METHOD: Method = Method::DEFAULT;

/// Why a model could not be trained or stored.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("a model needs at least 2 activity classes; {found} chosen")]
    TooFewClasses { found: usize },
    #[error(
        "an activity chosen for training (id {id}) is not in this profile any more; choose again"
    )]
    UnknownClass { id: ClassId },
    #[error("the band's model holds at most {max} classes; this profile has {found}")]
    TooManyClasses { found: usize, max: usize },
    #[error("class \"{class}\" has a name longer than the band's {max_bytes} bytes; rename it")]
    ClassNameTooLong { class: String, max_bytes: usize },
    #[error(
        "class \"{class}\" has {good} good calibration windows; at least {required} are needed"
    )]
    TooFewWindows {
        class: String,
        good: usize,
        required: usize,
    },
    #[error(
        "a window of class \"{class}\" starts at sample {start_index} of recording {recording}, which has only {samples} samples"
    )]
    WindowOutOfRange {
        class: String,
        recording: RecordingId,
        start_index: u64,
        samples: u64,
    },
    #[error("recording {recording} cannot be used: {reason}")]
    UnsupportedRecording {
        recording: RecordingId,
        reason: String,
    },
    #[error("the backbone {path} cannot be loaded: {source}")]
    Backbone {
        path: String,
        source: bandx_model::ModelError,
    },
    #[error("invalid training options: {0}")]
    InvalidOptions(String),
    #[error("int8 export failed: {0}")]
    Export(bandx_model::ModelError),
    #[error(
        "the int8 model agrees with the float model on only {:.1} % of the calibration windows (at least {:.1} % needed)",
        agreement * 100.0, required * 100.0
    )]
    Parity { agreement: f64, required: f64 },
    #[error("the exported blob is unusable: {0}")]
    BadBlob(String),
    #[error(
        "the model exceeds the band's budget: blob {bytes} B (max {MAX_BLOB_BYTES}), arena {arena} B (max {MAX_ARENA_BYTES}), {macs} MACs (max {MAX_MACS})"
    )]
    OverBudget {
        bytes: usize,
        arena: usize,
        macs: u32,
    },
    #[error("another model was stored as version {expected} meanwhile (got {got}); train again")]
    VersionTaken { expected: u32, got: u32 },
    #[error("training was cancelled")]
    Cancelled,
    /// The personal model's cross-validated estimate is below the generic model's on the same
    /// windows: nothing is stored, the profile keeps its current model.
    #[error(transparent)]
    WorseThanGeneric(#[from] bandx_model::pipeline::WorseThanGeneric),
}

/// The job's settings; [`TrainOptions::default`] is what the app uses.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// A class needs at least this many good calibration windows.
    pub min_windows_per_class: usize,
    /// Cross-validation blocks per class (reduced to the smallest class's window count).
    pub folds: usize,
    /// Two classes are "too alike" when the cross-validation takes more than this share of one's windows
    /// for the other.
    pub similar_threshold: f64,
    /// The int8 blob is refused when it agrees with the float model on fewer calibration windows than this
    /// (below bandx-model's 99 % bar but above this, a warning).
    pub min_parity_agreement: f64,
    pub personalize: PersonalizeConfig,
    /// The profile's classes the model learns (in the profile's order); `None`: all of them.
    pub classes: Option<Vec<ClassId>>,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            min_windows_per_class: 15,
            folds: 5,
            similar_threshold: 0.25,
            min_parity_agreement: 0.95,
            personalize: PersonalizeConfig::new(),
            classes: None,
        }
    }
}

/// Where the job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(tag = "stage", rename_all = "snake_case")]
#[ts(rename = "TrainStage")]
pub enum Stage {
    Loading,
    GenericBaseline,
    /// `fold` counts from 0.
    CrossValidation {
        fold: usize,
        folds: usize,
    },
    Personalizing,
    Exporting,
    Storing,
    Done,
}

/// A progress event: the stage starting and the share of the whole job done before it (0..=1).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ts_rs::TS)]
#[ts(rename = "TrainProgress")]
pub struct Progress {
    #[serde(flatten)]
    pub stage: Stage,
    pub fraction: f32,
}

/// Receives progress events and tells the job whether to stop (checked between stages and folds).
pub struct Control<'a> {
    pub on_progress: &'a mut dyn FnMut(Progress),
    pub cancel: &'a AtomicBool,
}

impl Control<'_> {
    fn enter(&mut self, stage: Stage, fraction: f32) -> Result<(), TrainError> {
        if self.cancel.load(Ordering::SeqCst) {
            return Err(TrainError::Cancelled);
        }
        (self.on_progress)(Progress { stage, fraction });
        Ok(())
    }
}

/// The pre-trained model the app personalizes, and the id stored with every model made from it.
#[derive(Debug, Clone)]
pub struct Backbone {
    /// `<file stem>@<first 12 hex digits of the file's SHA-256>`, e.g. `backbone@ef7c278444a1`.
    pub id: String,
    pub checkpoint: Checkpoint,
    /// Other people's windows of the backbone's classes, for [`METHOD`] (`<stem>.replay` beside
    /// the checkpoint).
    pub replay: Option<ReplaySet>,
}

/// The backbone the app ships (`model/pretrained/backbone.json`, compiled in) and its replay set.
const SHIPPED_BACKBONE: &str = include_str!("../../../model/pretrained/backbone.json");
const SHIPPED_REPLAY: &[u8] = include_bytes!("../../../model/pretrained/backbone.replay");

impl Backbone {
    /// A checkpoint file, with the replay set beside it if there is one (a damaged one is an error).
    pub fn load(path: &Path) -> Result<Backbone, TrainError> {
        let bytes = std::fs::read(path).map_err(|e| TrainError::Backbone {
            path: path.display().to_string(),
            source: bandx_model::ModelError::io(path, e),
        })?;
        let text = String::from_utf8_lossy(&bytes);
        let stem = path
            .file_stem()
            .map_or("backbone".into(), |s| s.to_string_lossy());
        let mut backbone = Backbone::from_json(&text, &stem, path)?;
        let replay = ReplaySet::path_beside(path);
        if replay.exists() {
            let set = ReplaySet::load(&replay).map_err(|source| TrainError::Backbone {
                path: replay.display().to_string(),
                source,
            })?;
            backbone.replay = Some(set);
        } else {
            tracing::warn!(
                "no replay set at {}: personalizing without other people's windows",
                replay.display()
            );
        }
        Ok(backbone)
    }

    /// The pre-trained backbone shipped inside the app.
    pub fn shipped() -> Result<Backbone, TrainError> {
        let mut backbone = Backbone::from_json(
            SHIPPED_BACKBONE,
            "backbone",
            Path::new("model/pretrained/backbone.json"),
        )?;
        let origin = Path::new("model/pretrained/backbone.replay");
        let set = ReplaySet::from_bytes(SHIPPED_REPLAY, origin).map_err(|source| {
            TrainError::Backbone {
                path: origin.display().to_string(),
                source,
            }
        })?;
        backbone.replay = Some(set);
        Ok(backbone)
    }

    fn from_json(text: &str, stem: &str, origin: &Path) -> Result<Backbone, TrainError> {
        let checkpoint =
            Checkpoint::from_json(text, origin).map_err(|source| TrainError::Backbone {
                path: origin.display().to_string(),
                source,
            })?;
        let digest = sha2::Sha256::digest(text.as_bytes());
        let hex: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
        Ok(Backbone {
            id: format!("{stem}@{hex}"),
            checkpoint,
            replay: None,
        })
    }

    /// The replay windows of the user's classes (empty without a replay set).
    pub fn replay_examples(&self, classes: &[String]) -> Examples {
        self.replay
            .as_ref()
            .map(|r| r.examples(classes, &self.checkpoint.normalization))
            .unwrap_or_default()
    }
}

/// The blob as bandx-core reads it, against the band's budget.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BlobCheck {
    pub bytes: usize,
    pub arena: usize,
    pub macs: u32,
    pub self_test_class: String,
}

/// Seconds spent per stage.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Timings {
    pub generic_baseline: f64,
    pub cross_validation: f64,
    pub personalize: f64,
    pub export: f64,
}

/// What the job found; stored as the model's metrics JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainReport {
    pub method: &'static str,
    pub backbone_id: String,
    pub classes: Vec<String>,
    pub windows_per_class: Vec<usize>,
    pub folds: usize,
    /// Cross-validated accuracy of the personal model (out-of-fold predictions of every window).
    pub personal_accuracy: f64,
    pub personal_accuracy_per_fold: Vec<f64>,
    pub generic: GenericAccuracy,
    /// Out-of-fold confusion matrix, row = true class.
    pub confusion: Confusion,
    pub similar_classes: Vec<SimilarPair>,
    /// Accuracy of the final model on the windows it was trained on (not an estimate).
    pub training_accuracy: f64,
    pub parity: Parity,
    pub blob: BlobCheck,
    pub warnings: Vec<String>,
    pub seconds: Timings,
}

/// A trained, checked model not stored yet.
#[derive(Debug, Clone)]
pub struct TrainedModel {
    pub profile: ProfileId,
    /// The version written into the blob; [`save`] stores it as that version.
    pub version: u32,
    pub backbone_id: String,
    pub report: TrainReport,
    pub blob: Vec<u8>,
}

/// Personalizes, estimates, exports and checks. Emits stages from `GenericBaseline` to `Exporting`.
pub fn train(
    set: &CalibrationSet,
    backbone: &Backbone,
    opts: &TrainOptions,
    control: &mut Control<'_>,
) -> Result<TrainedModel, TrainError> {
    let smallest = set
        .classes
        .iter()
        .map(|c| c.windows.len())
        .min()
        .unwrap_or(0);
    if set.classes.len() < 2 {
        return Err(TrainError::TooFewClasses {
            found: set.classes.len(),
        });
    }
    if opts.folds < 2 || smallest < 2 {
        return Err(TrainError::InvalidOptions(format!(
            "cross-validation needs at least 2 folds and 2 windows per class (folds {}, smallest class {smallest} windows)",
            opts.folds
        )));
    }
    let folds = opts.folds.min(smallest);
    let ckpt = &backbone.checkpoint;
    let classes = set.class_names();
    let base = ckpt.model(&Device::flex());
    let data = estimate::Dataset::new(set, &ckpt.normalization, folds);
    let replay = backbone.replay_examples(&classes);
    let method = METHOD.effective(&replay, &opts.personalize);
    let personal = Personalizer::new(ckpt, &base, &classes, &replay, method, &opts.personalize);
    let mut seconds = Timings::default();

    control.enter(Stage::GenericBaseline, 0.05)?;
    let t = Instant::now();
    let generic = estimate::generic_accuracy(&base, ckpt, &classes, &data.examples);
    seconds.generic_baseline = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let (confusion, per_fold) = estimate::cross_validate(&data, &personal, folds, &mut |fold| {
        control.enter(
            Stage::CrossValidation { fold, folds },
            0.1 + 0.6 * fold as f32 / folds as f32,
        )
    })?;
    seconds.cross_validation = t.elapsed().as_secs_f64();
    // Never offer a model estimated worse than the generic one on the same windows.
    if let GenericAccuracy::Comparable { accuracy, .. } = &generic {
        bandx_model::pipeline::offer(confusion.accuracy(), Some(*accuracy))?;
    }
    let similar_classes = estimate::similar_pairs(&confusion, opts.similar_threshold);

    // bandx-model's one pipeline: personalize -> int8 -> parity -> the band's check.
    let blob_options = BlobOptions {
        model_id: u32::try_from(set.profile.0).unwrap_or(u32::MAX),
        version: set.next_version,
        min_parity_agreement: opts.min_parity_agreement,
    };
    let mut cancelled = None;
    let made = personal.personal_blob(&data.examples, None, &blob_options, &mut |stage| {
        let entered = match stage {
            PipelineStage::Personalizing => control.enter(Stage::Personalizing, 0.7),
            PipelineStage::Exporting => control.enter(Stage::Exporting, 0.8),
        };
        match entered {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                cancelled = Some(e);
                ControlFlow::Break(())
            }
        }
    });
    let made = match made {
        Ok(made) => made,
        Err(PipelineError::Cancelled) => return Err(cancelled.unwrap_or(TrainError::Cancelled)),
        Err(e) => return Err(TrainError::from_pipeline(e)),
    };
    seconds.personalize = made.seconds.personalize;
    seconds.export = made.seconds.export;
    let training_accuracy = made.training_accuracy;
    let parity = made.parity;
    let blob_check = BlobCheck::of(&made.band, &classes);
    let blob = made.blob;

    let mut warnings: Vec<String> = similar_classes.iter().map(SimilarPair::message).collect();
    if !parity.passes() {
        warnings.push(format!(
            "the int8 model agrees with the float model on {:.1} % of the calibration windows (bar: 99 %)",
            parity.agreement * 100.0
        ));
    }
    let report = TrainReport {
        method: method.name(),
        backbone_id: backbone.id.clone(),
        windows_per_class: set.classes.iter().map(|c| c.windows.len()).collect(),
        classes,
        folds,
        personal_accuracy: confusion.accuracy(),
        personal_accuracy_per_fold: per_fold,
        generic,
        confusion,
        similar_classes,
        training_accuracy,
        parity,
        blob: blob_check,
        warnings,
        seconds,
    };
    Ok(TrainedModel {
        profile: set.profile,
        version: set.next_version,
        backbone_id: backbone.id.clone(),
        report,
        blob,
    })
}

/// The band's own check of a blob (bandx-core's one `check_model`: parse, budgets, self-test).
pub fn check_blob(blob: &[u8]) -> Result<BlobCheck, TrainError> {
    let report = bandx_core::budget::check_model(blob).map_err(TrainError::from_band_check)?;
    let labels: Vec<String> = bandx_core::blob::Model::parse(blob)
        .map(|m| m.labels().iter().map(str::to_owned).collect())
        .unwrap_or_default();
    Ok(BlobCheck::of(&report, &labels))
}

impl BlobCheck {
    fn of(report: &ModelReport, labels: &[String]) -> BlobCheck {
        BlobCheck {
            bytes: report.bytes,
            arena: report.arena,
            macs: report.macs,
            self_test_class: labels
                .get(usize::from(report.self_test_class))
                .map_or("?", String::as_str)
                .to_string(),
        }
    }
}

impl TrainError {
    fn from_band_check(e: ModelCheckError) -> TrainError {
        match e {
            ModelCheckError::OverBudget { bytes, arena, macs } => {
                TrainError::OverBudget { bytes, arena, macs }
            }
            other => TrainError::BadBlob(other.to_string()),
        }
    }

    fn from_pipeline(e: PipelineError) -> TrainError {
        match e {
            PipelineError::Export(e) => TrainError::Export(e),
            PipelineError::Parity {
                agreement,
                required,
            } => TrainError::Parity {
                agreement,
                required,
            },
            PipelineError::Band(e) => TrainError::from_band_check(e),
            PipelineError::Cancelled => TrainError::Cancelled,
        }
    }
}

/// Stores a trained model as its profile's next version.
pub fn save(
    store: &Store,
    trained: &TrainedModel,
    created_at_ms: i64,
) -> Result<ModelId, TrainError> {
    let metrics = serde_json::to_value(&trained.report).map_err(|source| {
        TrainError::Store(StoreError::Json {
            what: "model metrics",
            source,
        })
    })?;
    let (id, version) = store.add_model(
        trained.profile,
        &NewModel {
            backbone_id: trained.backbone_id.clone(),
            classes: trained.report.classes.clone(),
            metrics,
            blob: trained.blob.clone(),
            created_at_ms,
        },
    )?;
    if version != trained.version {
        store.delete_model(id)?;
        return Err(TrainError::VersionTaken {
            expected: trained.version,
            got: version,
        });
    }
    Ok(id)
}

/// The whole job: load, train, store. Returns the stored model's id with what was trained.
pub fn run(
    store: &Store,
    profile: ProfileId,
    backbone: &Backbone,
    opts: &TrainOptions,
    control: &mut Control<'_>,
) -> Result<(ModelId, TrainedModel), TrainError> {
    control.enter(Stage::Loading, 0.0)?;
    let set = calibration::load(
        store,
        profile,
        opts.classes.as_deref(),
        opts.min_windows_per_class,
    )?;
    let trained = train(&set, backbone, opts, control)?;
    control.enter(Stage::Storing, 0.95)?;
    let id = save(store, &trained, crate::store::now_ms())?;
    (control.on_progress)(Progress {
        stage: Stage::Done,
        fraction: 1.0,
    });
    Ok((id, trained))
}
