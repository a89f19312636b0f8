//! The training job on a real SQLite file, with calibration recordings made of real wrist data: the virtual
//! wearer (WISDM subject 1650, held out of pre-training, wearing the band in a different style) hands over raw
//! i16 samples exactly as a band sends them; they go through the store's RecordingWriter.

use std::sync::atomic::{AtomicBool, Ordering};

use bandx_desktop::store::{
    ClassId, FullScale, NewRecording, NewWindow, ProfileId, RawSample, Store, Verdict,
};
use bandx_desktop::train::{
    self, Backbone, Control, GenericAccuracy, Progress, Stage, TrainError, TrainOptions,
};
use bandx_sim::wearer::{Activity, Wearer};
use bandx_testkit::Calibration;

const BACKBONE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../model/pretrained/backbone.json"
);

fn file_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("bandx.db")).unwrap();
    (dir, store)
}

use bandx_testkit::wearer;

/// Records `good + rejected` calibration windows (3 s, 50 % overlap) of `activity` into a new class `name`:
/// the first `good` are good, the rest rejected.
fn calibrate(
    store: &Store,
    profile: ProfileId,
    wearer: &mut Wearer,
    name: &str,
    activity: Activity,
    good: usize,
    rejected: usize,
) -> ClassId {
    let calibration = Calibration {
        name,
        activity,
        good,
        rejected,
        started_at_ms: 1_000,
    };
    bandx_testkit::record_class(store, profile, wearer, &calibration)
}

fn backbone() -> Backbone {
    Backbone::load(std::path::Path::new(BACKBONE)).unwrap()
}

/// Runs the job, collecting its progress events.
fn run(
    store: &Store,
    profile: ProfileId,
    opts: &TrainOptions,
    cancel_at: Option<Stage>,
) -> (
    Result<(bandx_desktop::store::ModelId, train::TrainedModel), TrainError>,
    Vec<Progress>,
) {
    let cancel = AtomicBool::new(false);
    let mut events = Vec::new();
    let mut on_progress = |p: Progress| {
        if Some(p.stage) == cancel_at {
            cancel.store(true, Ordering::SeqCst);
        }
        events.push(p);
    };
    let result = train::run(
        store,
        profile,
        &backbone(),
        opts,
        &mut Control {
            on_progress: &mut on_progress,
            cancel: &cancel,
        },
    );
    (result, events)
}

#[test]
fn distinct_classes_train_well_above_chance_and_beat_the_generic_model() {
    let (_dir, store) = file_store();
    let profile = store.create_profile("Ada", 1).unwrap();
    let mut w = wearer();
    calibrate(&store, profile, &mut w, "walking", Activity::WALKING, 15, 2);
    calibrate(&store, profile, &mut w, "jogging", Activity::JOGGING, 15, 0);
    calibrate(&store, profile, &mut w, "sitting", Activity::SITTING, 16, 1);

    let started = std::time::Instant::now();
    let (result, events) = run(&store, profile, &TrainOptions::default(), None);
    let elapsed = started.elapsed().as_secs_f64();
    let (id, trained) = result.unwrap();
    let r = &trained.report;
    eprintln!(
        "job {elapsed:.2} s; personal {:.3} per fold {:?}; generic {:?}; parity {:?}; blob {:?}; seconds {:?}; warnings {:?}",
        r.personal_accuracy,
        r.personal_accuracy_per_fold,
        r.generic,
        r.parity,
        r.blob,
        r.seconds,
        r.warnings
    );

    // Only good windows are used, per class in the profile's order.
    assert_eq!(r.classes, ["walking", "jogging", "sitting"]);
    assert_eq!(r.windows_per_class, [15, 15, 16]);
    assert_eq!(r.folds, 5);
    // Out-of-fold predictions of every window, row = true class.
    assert_eq!(r.confusion.total(), 46);
    let rows: Vec<u32> = r
        .confusion
        .counts
        .iter()
        .map(|row| row.iter().sum())
        .collect();
    assert_eq!(rows, [15, 15, 16]);
    // Chance is 1/3.
    assert!(r.personal_accuracy >= 0.8, "{}", r.personal_accuracy);
    match r.generic {
        GenericAccuracy::Comparable { accuracy, .. } => assert!(
            r.personal_accuracy > accuracy,
            "personal {} vs generic {accuracy}",
            r.personal_accuracy
        ),
        ref other => panic!("walking/jogging/sitting are pre-training labels: {other:?}"),
    }
    assert!(r.similar_classes.is_empty(), "{:?}", r.similar_classes);

    // The stored model: next version, the backbone's id, the classes, the metrics, a blob the band accepts.
    let stored = store.model(id).unwrap();
    assert_eq!(stored.version, 1);
    assert!(
        stored.backbone_id.starts_with("backbone@"),
        "{}",
        stored.backbone_id
    );
    assert_eq!(stored.classes, r.classes);
    assert_eq!(
        stored.metrics["personal_accuracy"].as_f64(),
        Some(r.personal_accuracy)
    );
    // Every class name is a pre-training label, so the shipped replay set takes part.
    assert_eq!(stored.metrics["method"], "anchored");
    let model = bandx_core::blob::Model::parse(&stored.blob).unwrap();
    let mut arena = vec![0u8; model.arena_size()];
    model.self_test(&mut arena).unwrap();
    assert_eq!(model.version(), 1);
    let labels: Vec<&str> = model.labels().iter().collect();
    assert_eq!(labels, ["walking", "jogging", "sitting"]);
    assert!(stored.blob.len() <= 10 * 1024);
    assert!(model.arena_size() <= 16 * 1024);
    assert!(model.macs() <= 200_000);
    assert!(r.parity.agreement >= 0.95, "{:?}", r.parity);

    // Progress: every stage in order, fractions rising to 1.
    let stages: Vec<Stage> = events.iter().map(|p| p.stage).collect();
    assert_eq!(stages.first(), Some(&Stage::Loading));
    assert_eq!(stages.last(), Some(&Stage::Done));
    let folds = stages
        .iter()
        .filter(|s| matches!(s, Stage::CrossValidation { .. }))
        .count();
    assert_eq!(folds, 5);
    assert!(stages.contains(&Stage::Exporting) && stages.contains(&Stage::Storing));
    assert!(events.windows(2).all(|p| p[0].fraction <= p[1].fraction));
    assert_eq!(events.last().unwrap().fraction, 1.0);

    // Training again gives version 2, written into its blob too.
    let (again, _) = run(&store, profile, &TrainOptions::default(), None);
    let (id2, _) = again.unwrap();
    let second = store.model(id2).unwrap();
    assert_eq!(second.version, 2);
    assert_eq!(
        bandx_core::blob::Model::parse(&second.blob)
            .unwrap()
            .version(),
        2
    );
}

#[test]
fn a_class_with_too_few_good_windows_is_refused_by_name() {
    let (_dir, store) = file_store();
    let profile = store.create_profile("Ada", 1).unwrap();
    let mut w = wearer();
    calibrate(&store, profile, &mut w, "walking", Activity::WALKING, 15, 0);
    // 16 windows recorded, but only 10 passed the quality checks.
    calibrate(&store, profile, &mut w, "sitting", Activity::SITTING, 10, 6);
    let (result, _) = run(&store, profile, &TrainOptions::default(), None);
    match result {
        Err(e @ TrainError::TooFewWindows { .. }) => {
            let TrainError::TooFewWindows {
                ref class,
                good,
                required,
            } = e
            else {
                unreachable!()
            };
            assert_eq!((class.as_str(), good, required), ("sitting", 10, 15));
            assert!(e.to_string().contains("\"sitting\" has 10 good"), "{e}");
        }
        other => panic!("expected TooFewWindows, got {other:?}"),
    }
    assert!(store.models(profile).unwrap().is_empty());

    // The minimum is configurable.
    let opts = TrainOptions {
        min_windows_per_class: 10,
        ..TrainOptions::default()
    };
    let (result, _) = run(&store, profile, &opts, None);
    assert_eq!(result.unwrap().1.report.windows_per_class, [15, 10]);
}

#[test]
fn only_the_chosen_classes_are_learned_and_a_foreign_class_is_refused() {
    let (_dir, store) = file_store();
    let profile = store.create_profile("Ada", 1).unwrap();
    let mut w = wearer();
    let walking = calibrate(&store, profile, &mut w, "walking", Activity::WALKING, 15, 0);
    // Too short to train, but left out.
    let sitting = calibrate(&store, profile, &mut w, "sitting", Activity::SITTING, 4, 0);
    let jogging = calibrate(&store, profile, &mut w, "jogging", Activity::JOGGING, 15, 0);

    let chosen = |classes: Vec<ClassId>| TrainOptions {
        classes: Some(classes),
        ..TrainOptions::default()
    };
    let (result, _) = run(&store, profile, &chosen(vec![jogging, walking]), None);
    let (id, trained) = result.unwrap();
    // The profile's order, whatever order they were chosen in.
    assert_eq!(trained.report.classes, ["walking", "jogging"]);
    assert_eq!(trained.report.windows_per_class, [15, 15]);
    assert_eq!(store.model(id).unwrap().classes, ["walking", "jogging"]);

    // Choosing the short class still names it.
    let (result, _) = run(&store, profile, &chosen(vec![walking, sitting]), None);
    assert!(
        matches!(&result, Err(TrainError::TooFewWindows { class, good: 4, .. }) if class == "sitting"),
        "{result:?}"
    );
    // One class is not a model.
    let (result, _) = run(&store, profile, &chosen(vec![walking]), None);
    assert!(
        matches!(result, Err(TrainError::TooFewClasses { found: 1 })),
        "{result:?}"
    );
    // Another profile's class (or one deleted since) is refused by id.
    let other = store.create_profile("Bo", 1).unwrap();
    let foreign = store.add_class(other, "walking", 1).unwrap();
    let (result, _) = run(&store, profile, &chosen(vec![walking, foreign]), None);
    match result {
        Err(e @ TrainError::UnknownClass { .. }) => {
            assert!(matches!(e, TrainError::UnknownClass { id } if id == foreign));
        }
        other => panic!("expected UnknownClass, got {other:?}"),
    }
    assert_eq!(
        store.models(profile).unwrap().len(),
        1,
        "only the first model"
    );
}

#[test]
fn a_single_class_is_refused() {
    let (_dir, store) = file_store();
    let profile = store.create_profile("Ada", 1).unwrap();
    calibrate(
        &store,
        profile,
        &mut wearer(),
        "walking",
        Activity::WALKING,
        15,
        0,
    );
    let (result, _) = run(&store, profile, &TrainOptions::default(), None);
    assert!(
        matches!(result, Err(TrainError::TooFewClasses { found: 1 })),
        "{result:?}"
    );
}

#[test]
fn two_labels_on_the_same_activity_are_flagged_as_too_alike() {
    let (_dir, store) = file_store();
    let profile = store.create_profile("Ada", 1).unwrap();
    let mut w = wearer();
    calibrate(&store, profile, &mut w, "walking", Activity::WALKING, 15, 0);
    // More of the same walk (the wearer continues where it left off), under another name.
    calibrate(
        &store,
        profile,
        &mut w,
        "strolling",
        Activity::WALKING,
        15,
        0,
    );
    calibrate(&store, profile, &mut w, "sitting", Activity::SITTING, 15, 0);
    let (result, _) = run(&store, profile, &TrainOptions::default(), None);
    let (_, trained) = result.unwrap();
    let r = &trained.report;
    eprintln!(
        "similar {:?}; confusion {:?}",
        r.similar_classes, r.confusion.counts
    );
    assert_eq!(r.similar_classes.len(), 1, "{:?}", r.similar_classes);
    let pair = &r.similar_classes[0];
    assert_eq!((pair.a.as_str(), pair.b.as_str()), ("walking", "strolling"));
    assert!(pair.a_as_b > 0.25 || pair.b_as_a > 0.25);
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("\"walking\" and \"strolling\" are too alike")),
        "{:?}",
        r.warnings
    );
    // "strolling" is not a pre-training label: no generic figure to compare with.
    assert_eq!(
        r.generic,
        GenericAccuracy::NotComparable {
            unknown_classes: vec!["strolling".into()]
        }
    );
}

#[test]
fn cancelling_stops_the_job_and_stores_nothing() {
    let (_dir, store) = file_store();
    let profile = store.create_profile("Ada", 1).unwrap();
    let mut w = wearer();
    calibrate(&store, profile, &mut w, "walking", Activity::WALKING, 15, 0);
    calibrate(&store, profile, &mut w, "sitting", Activity::SITTING, 15, 0);
    let (result, events) = run(
        &store,
        profile,
        &TrainOptions::default(),
        Some(Stage::CrossValidation { fold: 1, folds: 5 }),
    );
    assert!(matches!(result, Err(TrainError::Cancelled)), "{result:?}");
    // Stopped before the next fold started.
    assert_eq!(
        events.last().map(|p| p.stage),
        Some(Stage::CrossValidation { fold: 1, folds: 5 })
    );
    assert!(store.models(profile).unwrap().is_empty());
}

#[test]
fn recordings_the_model_cannot_read_are_refused_naming_them() {
    let (_dir, store) = file_store();
    let profile = store.create_profile("Ada", 1).unwrap();
    let mut w = wearer();
    calibrate(&store, profile, &mut w, "walking", Activity::WALKING, 15, 0);
    let sitting = calibrate(&store, profile, &mut w, "sitting", Activity::SITTING, 15, 0);
    // A good window pointing past the end of its recording (e.g. samples lost in a crash).
    let recording = store.recordings_of_class(sitting).unwrap()[0].clone();
    store
        .add_window(
            recording.id,
            &NewWindow {
                start_index: recording.samples - 10,
                verdict: Verdict::Good,
                reason: None,
            },
        )
        .unwrap();
    let (result, _) = run(&store, profile, &TrainOptions::default(), None);
    match result {
        Err(TrainError::WindowOutOfRange {
            class,
            recording: r,
            samples,
            ..
        }) => {
            assert_eq!(
                (class.as_str(), r, samples),
                ("sitting", recording.id, recording.samples)
            )
        }
        other => panic!("expected WindowOutOfRange, got {other:?}"),
    }

    // A full scale the band's IMU does not have: bandx-core has no conversion for it.
    let odd = store.add_class(profile, "typing", 1).unwrap();
    let rec = store
        .create_recording(
            profile,
            &NewRecording {
                class: Some(odd),
                band: None,
                started_at_ms: 1,
                sample_rate_hz: 20.0,
                full_scale: FullScale {
                    accel_g: 3,
                    gyro_dps: 1000,
                },
            },
        )
        .unwrap();
    let samples: Vec<RawSample> = (0..480)
        .map(|i| RawSample {
            frame_seq: i,
            t_ms: i64::from(i) * 50,
            accel: [0, 0, 1000],
            gyro: [0; 3],
        })
        .collect();
    store.append_samples(rec, &samples).unwrap();
    for k in 0..15 {
        store
            .add_window(
                rec,
                &NewWindow {
                    start_index: 30 * k,
                    verdict: Verdict::Good,
                    reason: None,
                },
            )
            .unwrap();
    }
    store.delete_class(sitting).unwrap();
    let (result, _) = run(&store, profile, &TrainOptions::default(), None);
    match result {
        Err(e @ TrainError::UnsupportedRecording { .. }) => {
            assert!(e.to_string().contains(&format!("recording {rec}")), "{e}");
            assert!(e.to_string().contains("±3 g"), "{e}");
        }
        other => panic!("expected UnsupportedRecording, got {other:?}"),
    }
    assert!(store.models(profile).unwrap().is_empty());
}

#[test]
fn the_shipped_backbone_is_the_committed_file() {
    let shipped = Backbone::shipped().unwrap();
    let from_file = backbone();
    assert_eq!(shipped.id, from_file.id);
    assert_eq!(shipped.checkpoint.labels, from_file.checkpoint.labels);
    // Its replay set: the same file, 100 windows of each of the backbone's classes.
    let replay = shipped
        .replay
        .as_ref()
        .expect("the shipped backbone has a replay set");
    assert_eq!(Some(replay), from_file.replay.as_ref());
    assert_eq!(replay.labels(), shipped.checkpoint.labels);
    assert_eq!(replay.counts(), vec![100; shipped.checkpoint.labels.len()]);
}

#[test]
fn a_class_the_replay_set_does_not_know_is_still_learned() {
    let (_dir, store) = file_store();
    let profile = store.create_profile("Ada", 1).unwrap();
    let mut w = wearer();
    // "boxing" is no pre-training label: only the user's windows teach it, while walking and
    // sitting also get other people's windows.
    calibrate(&store, profile, &mut w, "walking", Activity::WALKING, 15, 0);
    calibrate(&store, profile, &mut w, "boxing", Activity::JOGGING, 15, 0);
    calibrate(&store, profile, &mut w, "Sitting", Activity::SITTING, 15, 0);
    let (result, _) = run(&store, profile, &TrainOptions::default(), None);
    let (_, trained) = result.unwrap();
    let r = &trained.report;
    assert_eq!(r.method, "anchored");
    let boxing = &r.confusion.counts[1];
    let recall = f64::from(boxing[1]) / f64::from(boxing.iter().sum::<u32>());
    assert!(recall >= 0.8, "boxing recall {recall}: {:?}", r.confusion);
    assert!(r.personal_accuracy >= 0.8, "{}", r.personal_accuracy);
}

#[test]
fn without_known_class_names_the_job_fine_tunes_on_the_users_windows_alone() {
    let (_dir, store) = file_store();
    let profile = store.create_profile("Ada", 1).unwrap();
    let mut w = wearer();
    calibrate(&store, profile, &mut w, "stroll", Activity::WALKING, 15, 0);
    calibrate(&store, profile, &mut w, "run", Activity::JOGGING, 15, 0);
    let (result, _) = run(&store, profile, &TrainOptions::default(), None);
    let (_, trained) = result.unwrap();
    assert_eq!(trained.report.method, "anchored");
    assert!(trained.report.personal_accuracy >= 0.8);
}

#[test]
fn a_damaged_replay_set_beside_a_backbone_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("mine.json");
    std::fs::copy(BACKBONE, &json).unwrap();
    // No replay set: the backbone loads, without one.
    assert!(Backbone::load(&json).unwrap().replay.is_none());
    let shipped = std::fs::read(BACKBONE.replace(".json", ".replay")).unwrap();
    std::fs::write(
        dir.path().join("mine.replay"),
        &shipped[..shipped.len() / 2],
    )
    .unwrap();
    match Backbone::load(&json) {
        Err(e @ TrainError::Backbone { .. }) => {
            let text = e.to_string();
            assert!(text.contains("mine.replay"), "{text}");
            assert!(text.contains("truncated"), "{text}");
        }
        other => panic!("expected a backbone error, got {other:?}"),
    }
}
