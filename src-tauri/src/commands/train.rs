//! Train screen: one click trains the profile's personal model on a spawned blocking task, with
//! progress events and a cancel; the result carries the report and the confusion matrix as SVG.

use serde::Serialize;
use tauri::{AppHandle, State};

use crate::events::{self, JobEnd};
use crate::state::{AppState, JobKind, now_ms};
use crate::{UiError, plot_options};
use bandx_desktop::plots;
use bandx_desktop::store::{ClassId, Model, ModelId, ProfileId};
use bandx_desktop::train::{self, Backbone, Control, TrainOptions};

/// A trained (stored) model as the Train screen shows it.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct TrainResult {
    pub model: ModelId,
    pub version: u32,
    pub classes: Vec<String>,
    /// How the model was personalized, as a sentence for the user.
    pub method: String,
    /// Cross-validated estimate for the personal model, 0..=1.
    pub personal_accuracy: f64,
    /// The generic model on the same windows (choosing among all its classes), when it knows every class.
    pub generic_accuracy: Option<f64>,
    /// The generic model told which classes are possible (argmax over the user's classes only).
    pub generic_among_user_classes: Option<f64>,
    /// Class names the generic model cannot name (then there is no generic accuracy).
    pub generic_unknown: Vec<String>,
    /// Sentences for the user: similar classes, int8 parity.
    pub warnings: Vec<String>,
    pub confusion_svg: String,
    pub blob_bytes: usize,
    pub created_at_ms: i64,
    /// Why the band cannot run this stored model with this build (made by an older version), if
    /// so; the screen then offers to train again instead of flashing it.
    pub outdated: Option<String>,
}

/// Starts training `profile`'s model on its `classes` (all when `None`); progress and the
/// result come as events.
#[tauri::command]
pub async fn start_training(
    app: AppHandle,
    state: State<'_, AppState>,
    profile: ProfileId,
    dark: bool,
    classes: Option<Vec<ClassId>>,
) -> Result<(), UiError> {
    let job = state.start_job(JobKind::Train)?;
    let state = state.inner().clone();
    tauri::async_runtime::spawn_blocking(move || {
        let opts = TrainOptions {
            classes,
            ..TrainOptions::default()
        };
        let result = run(&app, &state, profile, &opts, dark, &job.cancel);
        if let Err(e) = &result {
            tracing::warn!("training failed: {e}");
        }
        events::emit(&app, events::TRAIN_DONE, JobEnd::of(result));
        drop(job);
    });
    Ok(())
}

fn run(
    app: &AppHandle,
    state: &AppState,
    profile: ProfileId,
    opts: &TrainOptions,
    dark: bool,
    cancel: &std::sync::atomic::AtomicBool,
) -> Result<TrainResult, UiError> {
    let backbone = Backbone::shipped()?;
    let mut on_progress = |p: train::Progress| events::emit(app, events::TRAIN_PROGRESS, p);
    let mut control = Control {
        on_progress: &mut on_progress,
        cancel,
    };
    // The store is held only to read the windows and to save the model, not while training.
    let set = {
        let store = state.store();
        train::calibration::load(
            &store,
            profile,
            opts.classes.as_deref(),
            opts.min_windows_per_class,
        )?
    };
    (control.on_progress)(train::Progress {
        stage: train::Stage::Loading,
        fraction: 0.0,
    });
    let trained = train::train(&set, &backbone, opts, &mut control)?;
    if cancel.load(std::sync::atomic::Ordering::SeqCst) {
        return Err(UiError::cancelled("Training"));
    }
    (control.on_progress)(train::Progress {
        stage: train::Stage::Storing,
        fraction: 0.95,
    });
    let created = now_ms();
    let id = {
        let store = state.store();
        train::save(&store, &trained, created)?
    };
    (control.on_progress)(train::Progress {
        stage: train::Stage::Done,
        fraction: 1.0,
    });
    let metrics = serde_json::to_value(&trained.report)
        .map_err(|e| UiError::internal("Reading the training report", e))?;
    result_view(
        id,
        trained.version,
        &metrics,
        trained.blob.len(),
        created,
        dark,
    )
}

/// A stored model's training result (for the Train screen after a restart).
#[tauri::command]
pub async fn model_result(
    state: State<'_, AppState>,
    model: ModelId,
    dark: bool,
) -> Result<TrainResult, UiError> {
    stored_view(&state.store().model(model)?, dark)
}

/// The profile's newest model's result, if it has one.
#[tauri::command]
pub async fn latest_model_result(
    state: State<'_, AppState>,
    profile: ProfileId,
    dark: bool,
) -> Result<Option<TrainResult>, UiError> {
    let model = state.store().latest_model(profile)?;
    model.map(|m| stored_view(&m, dark)).transpose()
}

/// A stored model's result view, with whether this build can still deploy it.
fn stored_view(m: &Model, dark: bool) -> Result<TrainResult, UiError> {
    let mut view = result_view(
        m.id,
        m.version,
        &m.metrics,
        m.blob.len(),
        m.created_at_ms,
        dark,
    )?;
    view.outdated = m.outdated.clone();
    Ok(view)
}

fn result_view(
    model: ModelId,
    version: u32,
    metrics: &serde_json::Value,
    blob_bytes: usize,
    created_at_ms: i64,
    dark: bool,
) -> Result<TrainResult, UiError> {
    let report: StoredReport = serde_json::from_value(metrics.clone()).map_err(|e| {
        UiError::new(
            "store",
            format!("Model {model}'s training report cannot be read ({e})"),
            "Train the model again",
        )
    })?;
    let mut options = plot_options(dark);
    options.width = 520;
    options.height = 440;
    let confusion_svg = plots::confusion_matrix(
        &report.confusion.classes,
        &report.confusion.counts,
        &options,
    )
    .map_err(|e| UiError::internal("Drawing the confusion matrix", e))?;
    let (generic_accuracy, generic_among_user_classes, generic_unknown) = match report.generic {
        train::GenericAccuracy::Comparable {
            accuracy,
            among_user_classes,
        } => (Some(accuracy), Some(among_user_classes), Vec::new()),
        train::GenericAccuracy::NotComparable { unknown_classes } => (None, None, unknown_classes),
    };
    Ok(TrainResult {
        model,
        version,
        classes: report.classes,
        method: describe_method(report.method.as_deref()),
        personal_accuracy: report.personal_accuracy,
        generic_accuracy,
        generic_among_user_classes,
        generic_unknown,
        warnings: report.warnings,
        confusion_svg,
        blob_bytes,
        created_at_ms,
        outdated: None,
    })
}

/// The user's sentence for a report's `method` (reports before it was recorded have none).
fn describe_method(method: Option<&str>) -> String {
    match method {
        Some("anchored") => "Started from the generic model and fine-tuned on your windows (with other \
                             people's recordings of the activities it knows mixed in), moving further from \
                             the generic model the more windows you record"
            .into(),
        Some("replay") => "Fine-tuned on your windows, with other people's recordings of the same \
                           activities mixed in so it keeps what they have in common"
            .into(),
        Some("dense_fine_tune") => "Fine-tuned on your windows only (no other recordings share \
                                    your activity names)"
            .into(),
        Some(other) => format!("Personalized with the {other} method"),
        None => "Personalized on your windows".into(),
    }
}

/// The parts of a stored `TrainReport` the screen reads back.
#[derive(serde::Deserialize)]
struct StoredReport {
    classes: Vec<String>,
    #[serde(default)]
    method: Option<String>,
    personal_accuracy: f64,
    generic: train::GenericAccuracy,
    confusion: train::Confusion,
    #[serde(default)]
    warnings: Vec<String>,
}
