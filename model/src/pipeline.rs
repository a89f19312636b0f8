//! The one personalization pipeline: a backbone and a user's calibration windows -> personal
//! model -> int8 blob (personal activation ranges, bandx-core format) -> parity of int8 against
//! float on the bandx-core engine -> the band's own check ([`bandx_core::budget::check_model`]).
//!
//! `bandx-model personalize` and BandX Studio's training job both call
//! [`Personalizer::personal_blob`]; the job's cross-validation fits its folds with
//! [`Personalizer::fit`], the same settings as the final model, and [`offer`] decides from that
//! estimate whether the personal model may replace the user's current one: never when it is
//! estimated worse than the generic model on the same windows ([`WorseThanGeneric`]).

use std::ops::ControlFlow;
use std::time::Instant;

use bandx_core::budget::{ModelCheckError, ModelReport, check_model};
use serde::Serialize;

use crate::checkpoint::Checkpoint;
use crate::cnn::HarCnn;
use crate::error::ModelError;
use crate::export::{Parity, export, parity, personal_ranges};
use crate::personalize::{Method, PersonalizeConfig, personalize_replay};
use crate::train::{Examples, accuracy, logits, predict};

/// Where [`Personalizer::personal_blob`] is; the callback may stop it between stages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Fitting the personal model (most of the time).
    Personalizing,
    /// Quantizing to the int8 blob, the parity check and the band's check.
    Exporting,
}

/// What the blob is written as and what it must pass.
#[derive(Debug, Clone, PartialEq)]
pub struct BlobOptions {
    pub model_id: u32,
    pub version: u32,
    /// The blob is refused when int8 agrees with float on fewer parity windows than this
    /// (0: report only; [`Parity::passes`] is the 99 % bar to report against).
    pub min_parity_agreement: f64,
}

impl Default for BlobOptions {
    fn default() -> Self {
        BlobOptions {
            model_id: 1,
            version: 1,
            min_parity_agreement: 0.0,
        }
    }
}

/// Seconds spent per stage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct StageSeconds {
    pub personalize: f64,
    pub export: f64,
}

/// A personal model ready for the band.
#[derive(Debug, Clone)]
pub struct PersonalModel {
    /// The method that ran (`replay` runs as `dense_fine_tune` without replay windows).
    pub method: Method,
    /// The float model.
    pub model: HarCnn,
    /// The float model on disk: the user's classes, the backbone's normalization, personal
    /// activation ranges (its `notes` are the caller's).
    pub checkpoint: Checkpoint,
    /// Accuracy of the float model on the windows it was fitted on (not an estimate).
    pub training_accuracy: f64,
    /// The int8 blob.
    pub blob: Vec<u8>,
    /// int8 (bandx-core engine) against float on the parity windows.
    pub parity: Parity,
    /// What the band's check says about the blob (size, arena, MACs, self-test class).
    pub band: ModelReport,
    pub seconds: StageSeconds,
}

/// Why no blob came out.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("int8 export failed: {0}")]
    Export(#[source] ModelError),
    #[error(
        "the int8 model agrees with the float model on only {:.1} % of the windows checked (at least {:.1} % needed)",
        agreement * 100.0, required * 100.0
    )]
    Parity { agreement: f64, required: f64 },
    #[error("the band would refuse the blob: {0}")]
    Band(#[source] ModelCheckError),
    #[error("personalization was cancelled")]
    Cancelled,
}

/// The personal model's own cross-validated accuracy (on the user's windows) is below the
/// generic model's on the same windows: it is not offered, the current model stays.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error(
    "the personal model would be worse than the generic one: {:.1} % estimated by cross-validation on your windows against {:.1} % for the generic model on the same windows; the current model is kept (record more windows of each activity, or more varied ones, and train again)",
    personal * 100.0, generic * 100.0
)]
pub struct WorseThanGeneric {
    /// Cross-validated accuracy of the personal model (out-of-fold predictions).
    pub personal: f64,
    /// The generic model's accuracy on the same windows.
    pub generic: f64,
}

/// Whether a personal model whose cross-validated accuracy is `personal` may be offered, given
/// the generic model's accuracy on the same windows (`None` when the generic model cannot name
/// every user class, so there is nothing to compare with). Ties are offered.
pub fn offer(personal: f64, generic: Option<f64>) -> Result<(), WorseThanGeneric> {
    match generic {
        Some(generic) if personal < generic => Err(WorseThanGeneric { personal, generic }),
        _ => Ok(()),
    }
}

/// How a personal model is made from a backbone: the same for every cross-validation fold and
/// for the final model.
pub struct Personalizer<'a> {
    /// The pre-trained backbone (labels, network, normalization, activation ranges).
    pub backbone: &'a Checkpoint,
    /// The backbone as a model (`backbone.model(..)`, built once by the caller).
    pub base: &'a HarCnn,
    /// The user's class names; calibration labels index them.
    pub classes: &'a [String],
    /// Other people's windows of the user's classes, normalized like the backbone (may be empty).
    pub replay: &'a Examples,
    /// The method that runs ([`Method::effective`] of the one asked for).
    pub method: Method,
    pub config: &'a PersonalizeConfig,
}

impl<'a> Personalizer<'a> {
    /// `method` is what the caller asks for; without replay windows `replay` runs as
    /// `dense_fine_tune` (see [`Personalizer::method`]).
    pub fn new(
        backbone: &'a Checkpoint,
        base: &'a HarCnn,
        classes: &'a [String],
        replay: &'a Examples,
        method: Method,
        config: &'a PersonalizeConfig,
    ) -> Personalizer<'a> {
        Personalizer {
            backbone,
            base,
            classes,
            replay,
            method: method.effective(replay, config),
            config,
        }
    }

    /// The float personal model fitted on `windows` (normalized like the backbone).
    pub fn fit(&self, windows: &Examples) -> HarCnn {
        personalize_replay(
            self.base,
            &self.backbone.labels,
            &self.backbone.network,
            self.method,
            windows,
            self.classes,
            self.replay,
            self.config,
        )
    }

    /// Personalize on `calibration`, quantize, check parity on `parity_windows` (the
    /// calibration windows when `None` or empty) and check the blob as the band does.
    /// `on_stage` hears each stage start and may stop the pipeline there ([`ControlFlow::Break`]
    /// gives [`PipelineError::Cancelled`]).
    pub fn personal_blob(
        &self,
        calibration: &Examples,
        parity_windows: Option<&Examples>,
        opts: &BlobOptions,
        on_stage: &mut dyn FnMut(Stage) -> ControlFlow<()>,
    ) -> Result<PersonalModel, PipelineError> {
        let mut enter = |stage| match on_stage(stage) {
            ControlFlow::Continue(()) => Ok(()),
            ControlFlow::Break(()) => Err(PipelineError::Cancelled),
        };
        if calibration.is_empty() {
            return Err(PipelineError::Export(ModelError::NoData(
                "no calibration windows to personalize with".into(),
            )));
        }
        let mut seconds = StageSeconds::default();

        enter(Stage::Personalizing)?;
        let t = Instant::now();
        let model = self.fit(calibration);
        seconds.personalize = t.elapsed().as_secs_f64();
        let training_accuracy =
            f64::from(accuracy(&predict(&model, &calibration.x), &calibration.y));

        enter(Stage::Exporting)?;
        let t = Instant::now();
        let mut checkpoint = Checkpoint::new(
            self.backbone.network.clone(),
            self.classes.to_vec(),
            self.backbone.normalization,
            &model,
        );
        checkpoint.ranges =
            personal_ranges(&self.backbone.ranges, &checkpoint.weights, &calibration.x);
        let blob = export(
            &checkpoint,
            calibration.window(0),
            opts.model_id,
            opts.version,
        )
        .map_err(PipelineError::Export)?;
        let check = parity_windows
            .filter(|w| !w.is_empty())
            .unwrap_or(calibration);
        let parity = parity(&blob, &logits(&model, &check.x), &check.x, &check.y)
            .map_err(PipelineError::Export)?;
        if parity.agreement < opts.min_parity_agreement {
            return Err(PipelineError::Parity {
                agreement: parity.agreement,
                required: opts.min_parity_agreement,
            });
        }
        let band = check_model(&blob).map_err(PipelineError::Band)?;
        seconds.export = t.elapsed().as_secs_f64();
        Ok(PersonalModel {
            method: self.method,
            model,
            checkpoint,
            training_accuracy,
            blob,
            parity,
            band,
            seconds,
        })
    }
}
