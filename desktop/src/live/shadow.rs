//! Shadow inference: the desktop runs the band's own int8 blob on the raw IMU stream, phase-locked on the
//! band's windows, and compares each window's class and confidence with the band's (see the module above).

use std::collections::VecDeque;

use bandx_core::WINDOW_LEN;
use bandx_core::blob::Model;
use bandx_core::protocol::{ModelInfo, PredictionEvent};
use bandx_core::window::Windower;

use super::LiveError;
use crate::band::ImuFrame;
use crate::store::{BandId, ProfileId, Store, StoreError};

/// The shadow's result for one band window.
#[derive(Clone, Debug, PartialEq)]
pub struct ShadowMatch {
    pub band: PredictionEvent,
    pub shadow_class: u8,
    pub shadow_confidence: f32,
}

impl ShadowMatch {
    pub fn agree(&self) -> bool {
        self.band.class == self.shadow_class
    }

    /// Same class and the same confidence to the permille the band reports: what the same engine
    /// on the same window gives. Same class with another confidence means another window.
    pub fn identical(&self) -> bool {
        self.agree()
            && u32::from(self.band.confidence_permille)
                == (self.shadow_confidence * 1000.0 + 0.5) as u32
    }
}

/// Desktop-side inference on the raw stream, aligned with the band's windows (see the module docs).
pub struct Shadow {
    blob: Vec<u8>,
    arena: Vec<u8>,
    period_ms: u32,
    /// The latest contiguous samples (band time, SI).
    run: VecDeque<(u32, [f32; 6])>,
    windower: Option<Windower>,
    /// Shadow windows not matched yet: (end time, class, confidence).
    computed: VecDeque<(u32, u8, f32)>,
    /// Band predictions waiting for their samples.
    pending: VecDeque<PredictionEvent>,
    unmatched: u64,
}

/// Samples kept for locking onto a band window (10 s at 20 Hz).
const RUN_CAPACITY: usize = 200;
/// Unmatched shadow windows kept.
const COMPUTED_CAPACITY: usize = 8;

impl Shadow {
    /// A shadow running `blob` (bandx-core's format) on a stream at `sample_rate_hz`.
    pub fn new(blob: Vec<u8>, sample_rate_hz: u8) -> Result<Shadow, LiveError> {
        let arena = vec![
            0;
            Model::parse(&blob)
                .map_err(LiveError::Blob)?
                .required_arena()
        ];
        Ok(Shadow {
            blob,
            arena,
            period_ms: 1000 / u32::from(sample_rate_hz.max(1)),
            run: VecDeque::with_capacity(RUN_CAPACITY),
            windower: None,
            computed: VecDeque::new(),
            pending: VecDeque::new(),
            unmatched: 0,
        })
    }

    /// Checks that the blob is the band's active model (same id, version and labels).
    /// Band windows never matched, counting those still waiting for their samples (the session ended).
    pub fn unmatched_at_end(&self) -> u64 {
        self.unmatched() + self.pending.len() as u64
    }

    pub fn check_against(&self, active: &ModelInfo) -> Result<(), LiveError> {
        let model = Model::parse(&self.blob).map_err(LiveError::Blob)?;
        let labels: Vec<&str> = model.labels().iter().collect();
        let band: Vec<&str> = active.labels.iter().map(|l| l.as_str()).collect();
        if (model.id(), model.version()) != (active.id, active.version) || labels != band {
            return Err(LiveError::ShadowModel(format!(
                "blob {:#x} v{} {labels:?}, band {:#x} v{} {band:?}",
                model.id(),
                model.version(),
                active.id,
                active.version
            )));
        }
        Ok(())
    }

    /// Band predictions the shadow could not check.
    pub fn unmatched(&self) -> u64 {
        self.unmatched
    }

    /// Forgets the stream (a new connection: the band's windows start over).
    pub fn reset(&mut self) {
        self.run.clear();
        self.windower = None;
        self.computed.clear();
        self.unmatched += self.pending.len() as u64;
        self.pending.clear();
    }

    /// Samples from the band; returns the band windows they let the shadow check.
    pub fn push_frame(&mut self, frame: &ImuFrame) -> Vec<ShadowMatch> {
        let rate = (1000 / self.period_ms.max(1)) as u8;
        for (k, (t, si)) in frame.si_samples(rate).into_iter().enumerate() {
            let contiguous = self
                .run
                .back()
                .is_some_and(|(last, _)| t.wrapping_sub(*last) == self.period_ms);
            if !contiguous || (k == 0 && frame.lost_before > 0) {
                // A gap: no window spans it; relock on the next band window.
                self.run.clear();
                self.windower = None;
            }
            if self.run.len() == RUN_CAPACITY {
                self.run.pop_front();
            }
            self.run.push_back((t, si));
            if let Some(window) = self.windower.as_mut().and_then(|w| w.push(si)) {
                self.infer(t, &window);
            }
        }
        self.settle()
    }

    /// A band prediction; returns the band windows the shadow could check now.
    pub fn push_prediction(&mut self, prediction: PredictionEvent) -> Vec<ShadowMatch> {
        self.pending.push_back(prediction);
        self.settle()
    }

    fn infer(&mut self, end_ms: u32, window: &bandx_core::Window) {
        let Ok(model) = Model::parse(&self.blob) else {
            return;
        };
        match model.infer(window, &mut self.arena) {
            Ok(p) => {
                if self.computed.len() == COMPUTED_CAPACITY {
                    self.computed.pop_front();
                }
                self.computed.push_back((end_ms, p.class, p.confidence));
            }
            Err(e) => tracing::warn!("shadow inference failed: {e}"),
        }
    }

    /// Matches pending band predictions with shadow windows, locking the windower when needed.
    fn settle(&mut self) -> Vec<ShadowMatch> {
        let mut matches = Vec::new();
        while let Some(&band) = self.pending.front() {
            let end = band.timestamp_ms;
            if let Some(i) = self.computed.iter().position(|(t, ..)| *t == end) {
                let (_, class, confidence) = self.computed.remove(i).expect("found");
                // Older shadow windows have no band counterpart any more.
                self.computed.drain(..i);
                self.pending.pop_front();
                matches.push(ShadowMatch {
                    band,
                    shadow_class: class,
                    shadow_confidence: confidence,
                });
                continue;
            }
            let Some(&(latest, _)) = self.run.back() else {
                break;
            };
            // Not yet: the samples up to the window's end are still on their way.
            let ahead = end.wrapping_sub(latest);
            if ahead != 0 && ahead < 0x8000_0000 {
                break;
            }
            // The band's windows are not where the shadow's are (or it has none yet): relock.
            if !self.lock_on(end) {
                self.pending.pop_front();
                self.unmatched += 1;
            }
        }
        matches
    }

    /// Restarts the windower so that its windows end where the band's do, feeding it the 60
    /// samples ending at `end` and every one after. Returns whether the samples were there.
    fn lock_on(&mut self, end: u32) -> bool {
        let Some(i) = self.run.iter().position(|(t, _)| *t == end) else {
            return false;
        };
        if i + 1 < WINDOW_LEN {
            return false;
        }
        let mut windower = Windower::new();
        self.computed.clear();
        let samples: Vec<(u32, [f32; 6])> =
            self.run.iter().skip(i + 1 - WINDOW_LEN).copied().collect();
        for (t, si) in samples {
            if let Some(window) = windower.push(si) {
                self.infer(t, &window);
            }
        }
        self.windower = Some(windower);
        self.computed.iter().any(|(t, ..)| *t == end)
    }
}

/// Runs live predictions until `config.duration` has passed or `cancel` is set, storing every
/// prediction for `target` and, with `shadow_blob` (which must be the band's active model, see
/// [`deployed_blob`]), checking each band window on the desktop. `client` is replaced by a new client when the link drops and
/// comes back. Returns (and emits last) the summary.
// The app and the CLI pass each of these separately (the UI's commands hold them in different places).
/// The blob to shadow the band with: the profile's stored model that is the band's active one
/// (same blob id and version), preferring the one last deployed to `band`. `None` if the store
/// has no such model (e.g. the band still runs a model the app did not make).
pub fn deployed_blob(
    store: &Store,
    profile: ProfileId,
    band: BandId,
    active: &ModelInfo,
) -> Result<Option<Vec<u8>>, StoreError> {
    let is_active = |blob: &[u8]| {
        Model::parse(blob).is_ok_and(|m| (m.id(), m.version()) == (active.id, active.version))
    };
    let mut deployments = store.deployments(profile)?;
    deployments.sort_by_key(|d| std::cmp::Reverse(d.started_at_ms));
    for d in deployments.iter().filter(|d| d.band == band) {
        if let Some(model) = d.model {
            let model = store.model(model)?;
            if is_active(&model.blob) {
                return Ok(Some(model.blob));
            }
        }
    }
    Ok(store
        .models(profile)?
        .into_iter()
        .rev()
        .find(|m| is_active(&m.blob))
        .map(|m| m.blob))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::sim::SHIPPED_MODEL;
    use bandx_core::frame::FrameBuilder;
    use bandx_core::imu::{FullScale, RawSample};

    /// A wrist moving in a way that changes over time, so windows differ.
    fn raw(i: u32) -> RawSample {
        let t = i as f32 * 0.05;
        let swing = (t * (1.0 + (t * 0.1).sin())).sin();
        RawSample {
            accel: [
                (1500.0 * swing) as i16,
                (600.0 * (t * 2.3).cos()) as i16,
                4000 + (900.0 * (t * 0.7).sin() * swing) as i16,
            ],
            gyro: [
                (2000.0 * swing) as i16,
                (800.0 * (t * 1.3).sin()) as i16,
                100,
            ],
        }
    }

    /// What the band does: windows from sample `start` on (its StartPredictions), classified by the
    /// engine, each prediction stamped with its last sample's time.
    fn band_predictions(samples: u32, start: u32) -> Vec<(u32, PredictionEvent)> {
        let model = Model::parse(SHIPPED_MODEL).unwrap();
        let mut arena = vec![0; model.required_arena()];
        let mut windower = Windower::new();
        let mut out = Vec::new();
        for i in start..samples {
            let si = FullScale::DEFAULT.to_si(&raw(i));
            if let Some(w) = windower.push(si) {
                let p = model.infer(&w, &mut arena).unwrap();
                out.push((
                    i,
                    PredictionEvent {
                        window_seq: windower.emitted() - 1,
                        timestamp_ms: 1000 + i * 50,
                        class: p.class,
                        confidence_permille: (p.confidence * 1000.0 + 0.5) as u16,
                    },
                ));
            }
        }
        out
    }

    /// Delivers samples in 19-sample frames (MTU 247), each band prediction as soon as its window
    /// ends (before the frame carrying that sample), skipping the frames in `lost`.
    fn run(shadow: &mut Shadow, samples: u32, start: u32, lost: &[u16]) -> Vec<ShadowMatch> {
        let predictions = band_predictions(samples, start);
        let mut builder = FrameBuilder::new(8 + 19 * 12, FullScale::DEFAULT);
        let mut matches = Vec::new();
        let mut lost_before = 0;
        for i in 0..samples {
            for (_, p) in predictions.iter().filter(|(at, _)| *at == i) {
                matches.extend(shadow.push_prediction(*p));
            }
            if let Some(frame) = builder.push(raw(i), 1000 + i * 50) {
                if lost.contains(&frame.seq) {
                    lost_before += 1;
                    continue;
                }
                let frame = ImuFrame { frame, lost_before };
                lost_before = 0;
                matches.extend(shadow.push_frame(&frame));
            }
        }
        matches
    }

    #[test]
    fn the_shadow_locks_onto_the_bands_windows_whatever_their_phase() {
        for start in [0, 17, 29] {
            let mut shadow = Shadow::new(SHIPPED_MODEL.to_vec(), 20).unwrap();
            let matches = run(&mut shadow, 1200, start, &[]);
            let band = band_predictions(1200, start);
            // Every band window checked but the last (its frame is not full yet), identically.
            assert!(
                matches.len() + 1 >= band.len(),
                "start {start}: {} of {}",
                matches.len(),
                band.len()
            );
            assert!(matches.iter().all(ShadowMatch::identical), "start {start}");
            assert_eq!(shadow.unmatched(), 0);
            // The windows do not all look alike: a misaligned shadow would show.
            let classes: std::collections::HashSet<u8> =
                matches.iter().map(|m| m.band.class).collect();
            let confidences: std::collections::HashSet<u16> =
                matches.iter().map(|m| m.band.confidence_permille).collect();
            assert!(
                classes.len() > 1 || confidences.len() > 5,
                "{classes:?} {confidences:?}"
            );
        }
    }

    #[test]
    fn windows_over_lost_frames_are_unmatched_then_the_shadow_relocks() {
        let mut shadow = Shadow::new(SHIPPED_MODEL.to_vec(), 20).unwrap();
        let matches = run(&mut shadow, 1200, 5, &[20]);
        let band = band_predictions(1200, 5);
        assert!(
            shadow.unmatched() >= 2,
            "the windows over the gap and until 60 samples after it"
        );
        assert!(shadow.unmatched() <= 4, "{}", shadow.unmatched());
        assert!(matches.len() as u64 + shadow.unmatched() + 1 >= band.len() as u64);
        assert!(matches.iter().all(ShadowMatch::identical));
        // Matching goes on after the gap (frame 20 holds samples 380..399).
        assert!(
            matches
                .iter()
                .any(|m| m.band.timestamp_ms > 1000 + 500 * 50)
        );
    }

    #[test]
    fn a_shadow_a_sample_off_would_not_be_identical() {
        // The check the live test relies on: the same model one sample later gives another confidence.
        let band = band_predictions(600, 0);
        let shifted = band_predictions(601, 1);
        let differ = band
            .iter()
            .zip(&shifted)
            .filter(|((_, a), (_, b))| {
                a.confidence_permille != b.confidence_permille || a.class != b.class
            })
            .count();
        assert!(differ * 2 > band.len(), "{differ} of {}", band.len());
    }
}
