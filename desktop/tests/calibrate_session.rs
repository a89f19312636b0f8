//! Guided calibration end to end on the virtual band: the real bandx-sim band (bandx-core's app,
//! the WISDM wearer, exact GATT bytes, injected faults) behind the desktop's `Link`, a real SQLite
//! file, and `record_class` driving it. The virtual band runs 25x faster than the wall clock (`SimConfig::realtime_speed`).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bandx_core::WINDOW_LEN;
use bandx_desktop::band::BandClient;
use bandx_desktop::calibrate::{
    self, ClassOutcome, ClassTarget, SessionConfig, SessionEvent, record_class,
};
use bandx_desktop::link::sim::{FLASH_FILE_NAME, SHIPPED_MODEL, SimLink};
use bandx_desktop::link::{Backoff, Link, ScanRequest};
use bandx_desktop::store::{Store, Verdict};
use bandx_desktop::train;
use bandx_sim::{Activity, Faults, SimConfig};

const SPEED: f64 = 25.0;

/// The app's virtual band (`SimLink`, fresh flash with the shipped model), SPEED times real time.
fn fast_link(dir: &std::path::Path) -> SimLink {
    let mut config = SimConfig::new(dir.join(FLASH_FILE_NAME), Some(SHIPPED_MODEL.to_vec()));
    config.realtime_speed = SPEED;
    bandx_testkit::paired(SimLink::with_config(config).unwrap())
}

struct Bench {
    _dir: tempfile::TempDir,
    link: SimLink,
    store: Mutex<Store>,
}

fn bench() -> Bench {
    let dir = tempfile::tempdir().unwrap();
    let link = fast_link(dir.path());
    let store = Mutex::new(Store::open(dir.path().join("bandx.sqlite")).unwrap());
    Bench {
        _dir: dir,
        link,
        store,
    }
}

fn config() -> SessionConfig {
    SessionConfig {
        countdown: 2,
        countdown_step: Duration::from_millis(20),
        backoff: Backoff {
            initial: Duration::from_millis(20),
            max: Duration::from_millis(100),
            attempts: 20,
        },
        ..SessionConfig::default()
    }
}

async fn client(link: &dyn Link) -> BandClient {
    let found = link.scan(ScanRequest::default()).await.unwrap();
    BandClient::new(link.connect(&found[0].id).await.unwrap())
        .await
        .unwrap()
}

fn target(store: &Mutex<Store>, class: &str) -> ClassTarget {
    let (profile, class) = calibrate::ensure_class(&store.lock().unwrap(), "ana", class).unwrap();
    ClassTarget {
        profile,
        band: None,
        class,
    }
}

/// Runs a session, collecting its events; `hook` sees each event (and may act on the band).
async fn session(
    b: &Bench,
    client: &mut BandClient,
    target: &ClassTarget,
    config: &SessionConfig,
    cancel: &AtomicBool,
    mut hook: impl FnMut(&SessionEvent) + Send,
) -> (ClassOutcome, Vec<SessionEvent>) {
    let mut events = Vec::new();
    let mut on_event = |e: SessionEvent| {
        hook(&e);
        events.push(e);
    };
    let outcome = tokio::time::timeout(
        Duration::from_secs(120),
        record_class(
            client,
            &b.link,
            &b.store,
            target,
            config,
            &mut on_event,
            cancel,
        ),
    )
    .await
    .expect("the session hung")
    .expect("the session failed");
    (outcome, events)
}

fn judged(events: &[SessionEvent]) -> Vec<(bool, Option<String>)> {
    events
        .iter()
        .filter_map(|e| match e {
            SessionEvent::WindowJudged { good, reason, .. } => Some((*good, reason.clone())),
            _ => None,
        })
        .collect()
}

/// Every stored window of the class lies inside its recording's stored samples.
fn assert_windows_inside_recordings(store: &Store, target: &ClassTarget) {
    for w in store.windows_of_class(target.class).unwrap() {
        let rec = store.recording(w.recording).unwrap();
        assert!(
            w.start_index + WINDOW_LEN as u64 <= rec.samples,
            "window {w:?} past the {} samples of recording {}",
            rec.samples,
            rec.id
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_class_session_stores_15_good_windows_that_training_reads() {
    let b = bench();
    let mut client = client(&b.link).await;
    let cancel = AtomicBool::new(false);
    let mut targets = Vec::new();
    for (class, activity) in [
        ("walking", Activity::WALKING),
        ("sitting", Activity::SITTING),
    ] {
        b.link.band().set_activity(activity).unwrap();
        let target = target(&b.store, class);
        let (outcome, events) = session(&b, &mut client, &target, &config(), &cancel, |_| {}).await;
        assert_eq!((outcome.good, outcome.needed), (15, 15), "{class}");
        assert!(!outcome.cancelled);
        assert_eq!(outcome.recordings.len(), 1);

        // The UI's story: progress, countdown 2-1-0, recording, windows, done.
        let countdown: Vec<u32> = events
            .iter()
            .filter_map(|e| match e {
                SessionEvent::Countdown { remaining } => Some(*remaining),
                _ => None,
            })
            .collect();
        assert_eq!(countdown, [2, 1, 0]);
        assert_eq!(
            events[0],
            SessionEvent::Progress {
                good: 0,
                needed: 15
            }
        );
        assert!(matches!(
            events.last(),
            Some(SessionEvent::ClassDone { good: 15, .. })
        ));
        let windows = judged(&events);
        assert_eq!(windows.iter().filter(|(good, _)| *good).count(), 15);
        assert!(
            events
                .iter()
                .any(|e| matches!(e, SessionEvent::Samples { samples } if !samples.is_empty())),
            "chart samples"
        );

        let store = b.store.lock().unwrap();
        let stored = store.windows_of_class(target.class).unwrap();
        assert_eq!(stored.len(), windows.len());
        let starts: Vec<u64> = stored.iter().map(|w| w.start_index).collect();
        let expected: Vec<u64> = (0..windows.len() as u64).map(|i| i * 30).collect();
        assert_eq!(starts, expected, "every 30 samples, 50 % overlap");
        assert_windows_inside_recordings(&store, &target);
        targets.push(target);
    }

    // What was recorded is what training reads: 2 classes x 15 windows of 60 x 6 SI samples.
    let store = b.store.lock().unwrap();
    let set = train::calibration::load(&store, targets[0].profile, None, 15).unwrap();
    assert_eq!(set.class_names(), ["walking", "sitting"]);
    assert!(set.classes.iter().all(|c| c.windows.len() == 15));
    assert!(
        set.classes[0]
            .windows
            .iter()
            .all(|w| w.data.len() == WINDOW_LEN * 6)
    );
    // Walking moves the wrist far more than sitting (the data is the wearer's, not zeros).
    let spread = |c: usize| {
        let d = &set.classes[c].windows[3].data;
        let ax: Vec<f32> = d.iter().step_by(6).copied().collect();
        ax.iter().cloned().fold(f32::MIN, f32::max) - ax.iter().cloned().fold(f32::MAX, f32::min)
    };
    assert!(
        spread(0) > 2.0 * spread(1),
        "walking {} vs sitting {}",
        spread(0),
        spread(1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_frame_rejects_the_windows_over_it_with_the_reason() {
    let b = bench();
    // Notifications 1-2 answer GetInfo and StartImu; the 10th is an IMU frame mid-session.
    b.link
        .band()
        .set_faults(Faults::none().drop_notification(10));
    let mut client = client(&b.link).await;
    let target = target(&b.store, "walking");
    let cancel = AtomicBool::new(false);
    let (outcome, events) = session(&b, &mut client, &target, &config(), &cancel, |_| {}).await;

    let rejected: Vec<String> = judged(&events)
        .into_iter()
        .filter(|(good, _)| !good)
        .map(|(_, reason)| reason.unwrap())
        .collect();
    assert!(!rejected.is_empty(), "no window was rejected");
    assert!(
        rejected
            .iter()
            .all(|r| r.starts_with("lost frames: 1 frame(s)")),
        "{rejected:?}"
    );
    assert_eq!(outcome.good, 15, "rejected windows do not count");
    assert_eq!(outcome.rejected as usize, rejected.len());

    let store = b.store.lock().unwrap();
    let stored_rejected: Vec<_> = store
        .windows_of_class(target.class)
        .unwrap()
        .into_iter()
        .filter(|w| w.verdict == Verdict::Rejected)
        .collect();
    assert_eq!(stored_rejected.len(), rejected.len());
    assert_eq!(
        stored_rejected[0].reason.as_deref(),
        Some(rejected[0].as_str())
    );
    assert_windows_inside_recordings(&store, &target);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_link_pauses_and_resumes_in_a_new_recording() {
    let b = bench();
    let mut client = client(&b.link).await;
    let target = target(&b.store, "walking");
    let cancel = AtomicBool::new(false);
    let band = b.link.band().clone();
    let mut dropped = false;
    let (outcome, events) = session(&b, &mut client, &target, &config(), &cancel, |e| {
        if let SessionEvent::Progress { good: 5, .. } = e
            && !dropped
        {
            dropped = true;
            band.drop_link();
        }
    })
    .await;

    assert_eq!(outcome.pauses, 1);
    assert_eq!(outcome.good, 15);
    assert_eq!(outcome.recordings.len(), 2, "one recording per connection");
    let paused = events
        .iter()
        .position(|e| matches!(e, SessionEvent::Paused { .. }))
        .unwrap();
    let resumed = events
        .iter()
        .position(|e| matches!(e, SessionEvent::Resumed))
        .unwrap();
    assert!(paused < resumed);
    // Nothing is judged while the link is down, and counting goes on from 5 after it.
    assert!(
        events[paused..resumed]
            .iter()
            .all(|e| !matches!(e, SessionEvent::WindowJudged { .. }))
    );
    let progress_after: Vec<u32> = events[resumed..]
        .iter()
        .filter_map(|e| match e {
            SessionEvent::Progress { good, .. } => Some(*good),
            _ => None,
        })
        .collect();
    assert_eq!(progress_after.first(), Some(&6));
    assert_eq!(progress_after.last(), Some(&15));

    let store = b.store.lock().unwrap();
    let windows = store.windows_of_class(target.class).unwrap();
    let good = |rec| {
        windows
            .iter()
            .filter(|w| w.recording == rec && w.verdict == Verdict::Good)
            .count()
    };
    assert_eq!(
        good(outcome.recordings[0]),
        5,
        "the windows before the drop stay"
    );
    assert_eq!(good(outcome.recordings[1]), 10);
    // No window spans the gap: each lies inside its own recording.
    assert_windows_inside_recordings(&store, &target);
    // The samples before the drop are kept, contiguous in band time, including those after the
    // last window (flushed on the drop).
    let before = store.samples(outcome.recordings[0]).unwrap();
    let last_window_end = windows
        .iter()
        .filter(|w| w.recording == outcome.recordings[0])
        .map(|w| w.start_index + WINDOW_LEN as u64)
        .max()
        .unwrap();
    assert!(before.len() as u64 >= last_window_end);
    assert!(before.windows(2).all(|p| p[1].t_ms - p[0].t_ms == 50));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn re_record_one_window_or_a_whole_class() {
    let b = bench();
    let mut client = client(&b.link).await;
    let target = target(&b.store, "walking");
    let cancel = AtomicBool::new(false);
    let small = SessionConfig {
        windows: 4,
        countdown: 0,
        ..config()
    };
    let (first, events) = session(&b, &mut client, &target, &small, &cancel, |_| {}).await;
    assert_eq!(first.good, 4);

    // The user discards the second window: it stays, marked, and the next session records one more.
    let second = events
        .iter()
        .find_map(|e| match e {
            SessionEvent::WindowJudged {
                index: 1, window, ..
            } => Some(*window),
            _ => None,
        })
        .unwrap();
    calibrate::reject_window(&b.store.lock().unwrap(), second).unwrap();
    assert_eq!(
        calibrate::good_windows(&b.store.lock().unwrap(), target.class).unwrap(),
        3
    );
    let (again, events) = session(&b, &mut client, &target, &small, &cancel, |_| {}).await;
    assert_eq!(again.good, 4);
    assert_eq!(events[0], SessionEvent::Progress { good: 3, needed: 4 });
    assert_eq!(judged(&events).iter().filter(|(g, _)| *g).count(), 1);
    {
        let store = b.store.lock().unwrap();
        let by_user: Vec<_> = store
            .windows_of_class(target.class)
            .unwrap()
            .into_iter()
            .filter(|w| w.reason.as_deref() == Some("rejected by the user"))
            .collect();
        assert_eq!(by_user.len(), 1);
        assert_eq!(by_user[0].verdict, Verdict::Rejected);
    }

    // The whole class: its recordings go, the next session starts from 0.
    let deleted = calibrate::reset_class(&b.store.lock().unwrap(), target.class).unwrap();
    assert_eq!(deleted, 2);
    {
        let store = b.store.lock().unwrap();
        assert!(store.windows_of_class(target.class).unwrap().is_empty());
        assert!(store.recordings_of_class(target.class).unwrap().is_empty());
    }
    let (fresh, events) = session(&b, &mut client, &target, &small, &cancel, |_| {}).await;
    assert_eq!(events[0], SessionEvent::Progress { good: 0, needed: 4 });
    assert_eq!(fresh.good, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clipping_is_rejected_and_cancel_keeps_what_was_recorded() {
    let b = bench();
    // Jogging at ±2 g: the wrist's swings exceed the range.
    b.link.band().set_activity(Activity::JOGGING).unwrap();
    b.link
        .band()
        .with_band(|band| {
            band.platform_mut()
                .set_full_scale(bandx_core::imu::FullScale {
                    accel: bandx_core::imu::AccelRange::G2,
                    gyro: bandx_core::imu::GyroRange::Dps1000,
                })
        })
        .unwrap();
    let mut client = client(&b.link).await;
    let target = target(&b.store, "jogging");
    let cancel = AtomicBool::new(false);
    let mut seen = 0;
    let (outcome, events) = session(&b, &mut client, &target, &config(), &cancel, |e| {
        if matches!(e, SessionEvent::WindowJudged { .. }) {
            seen += 1;
            if seen == 4 {
                cancel.store(true, Ordering::Relaxed);
            }
        }
    })
    .await;
    assert!(outcome.cancelled);
    assert!(matches!(
        events.last(),
        Some(SessionEvent::Cancelled { .. })
    ));
    let windows = judged(&events);
    assert_eq!(windows.len(), 4);
    assert!(
        windows
            .iter()
            .any(|(good, r)| !good && r.as_deref().is_some_and(|r| r.starts_with("clipping"))),
        "{windows:?}"
    );
    let store = b.store.lock().unwrap();
    assert_eq!(
        store.windows_of_class(target.class).unwrap().len(),
        4,
        "kept"
    );
    let rec = store.recording(outcome.recordings[0]).unwrap();
    assert_eq!(
        rec.full_scale.accel_g, 2,
        "the recording knows its full scale"
    );
    assert!(rec.samples >= 60 + 3 * 30);
}
