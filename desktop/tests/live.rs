//! Live predictions on the virtual band running its shipped model: stored, checked by shadow
//! inference on the desktop, reconnecting after a drop; and the per-day history built from them.
//! The virtual band runs 25x faster than the wall clock (`SimConfig::realtime_speed`).

use std::sync::Mutex;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use bandx_core::blob::Model;
use bandx_desktop::band::BandClient;
use bandx_desktop::link::sim::{FLASH_FILE_NAME, SHIPPED_MODEL, SimLink};
use bandx_desktop::link::{Backoff, Link, ScanRequest};
use bandx_desktop::live::{
    LiveConfig, LiveError, LiveEvent, LiveSummary, LiveTarget, daily_history, deployed_blob,
    run_live,
};
use bandx_desktop::store::{NewModel, NewPrediction, Store};
use bandx_sim::{Activity, Faults, SimConfig};

const SPEED: f64 = 25.0;

/// The app's virtual band (`SimLink`, fresh flash with the shipped model), SPEED times real time.
fn fast_link(dir: &std::path::Path) -> SimLink {
    let mut config = SimConfig::new(dir.join(FLASH_FILE_NAME), Some(SHIPPED_MODEL.to_vec()));
    config.realtime_speed = SPEED;
    bandx_testkit::paired(SimLink::with_config(config).unwrap())
}
const DAY_MS: i64 = 86_400_000;

struct Bench {
    _dir: tempfile::TempDir,
    link: SimLink,
    store: Mutex<Store>,
    target: LiveTarget,
}

fn bench() -> Bench {
    let dir = tempfile::tempdir().unwrap();
    let link = fast_link(dir.path());
    let store = Store::open(dir.path().join("bandx.sqlite")).unwrap();
    let profile = store.create_profile("ana", 0).unwrap();
    let ad = link.band().scan_result();
    let band = store.upsert_band(&ad.address, &ad.name, 0).unwrap();
    Bench {
        _dir: dir,
        link,
        store: Mutex::new(store),
        target: LiveTarget { profile, band },
    }
}

async fn client(link: &dyn Link) -> BandClient {
    let found = link.scan(ScanRequest::default()).await.unwrap();
    BandClient::new(link.connect(&found[0].id).await.unwrap())
        .await
        .unwrap()
}

fn config(seconds: f32) -> LiveConfig {
    LiveConfig {
        duration: Some(Duration::from_secs_f32(seconds)),
        store_batch: 4,
        backoff: Backoff {
            initial: Duration::from_millis(20),
            max: Duration::from_millis(100),
            attempts: 20,
        },
        stall: Duration::from_secs(10),
    }
}

async fn live(
    b: &Bench,
    client: &mut BandClient,
    shadow: Option<Vec<u8>>,
    config: &LiveConfig,
    mut hook: impl FnMut(&LiveEvent) + Send,
) -> Result<(LiveSummary, Vec<LiveEvent>), LiveError> {
    let mut events = Vec::new();
    let mut on_event = |e: LiveEvent| {
        hook(&e);
        events.push(e);
    };
    let cancel = AtomicBool::new(false);
    let summary = tokio::time::timeout(
        Duration::from_secs(60),
        run_live(
            client,
            &b.link,
            &b.store,
            &b.target,
            shadow,
            config,
            &mut on_event,
            &cancel,
        ),
    )
    .await
    .expect("live hung")?;
    Ok((summary, events))
}

fn shipped_labels() -> Vec<String> {
    Model::parse(SHIPPED_MODEL)
        .unwrap()
        .labels()
        .iter()
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn predictions_are_stored_and_the_shadow_agrees_with_the_band() {
    let b = bench();
    b.link.band().set_activity(Activity::WALKING).unwrap();
    let mut client = client(&b.link).await;
    let (summary, events) = live(
        &b,
        &mut client,
        Some(SHIPPED_MODEL.to_vec()),
        &config(2.5),
        |_| {},
    )
    .await
    .unwrap();

    assert!(
        matches!(&events[0], LiveEvent::Started { shadow: true, labels, .. } if *labels == shipped_labels())
    );
    assert!(matches!(events.last(), Some(LiveEvent::Summary(s)) if *s == summary));
    // ~60 s of band time: ~40 windows.
    assert!(summary.predictions >= 20, "{summary:?}");
    assert_eq!(summary.stored, summary.predictions);
    assert!(summary.compared + 2 >= summary.predictions, "{summary:?}");
    let agreement = summary.agreement.unwrap();
    assert!(agreement >= 0.95, "{summary:?}");
    // Not just the same class: the same confidence, i.e. the very same window on both sides.
    assert_eq!(summary.identical, summary.compared, "{summary:?}");

    // What was stored is what was shown, classes by name from the band's labels.
    let shown: Vec<(u32, String)> = events
        .iter()
        .filter_map(|e| match e {
            LiveEvent::Prediction {
                window_seq, class, ..
            } => Some((*window_seq, class.clone())),
            _ => None,
        })
        .collect();
    let store = b.store.lock().unwrap();
    let stored = store
        .predictions_between(b.target.profile, i64::MIN, i64::MAX)
        .unwrap();
    let stored: Vec<(u32, String)> = stored
        .into_iter()
        .map(|p| (p.window_seq, p.class))
        .collect();
    assert_eq!(stored, shown);
    assert!(shown.iter().all(|(_, c)| shipped_labels().contains(c)));
    // Consecutive windows, 1.5 s apart on the band's clock.
    let seqs: Vec<u32> = shown.iter().map(|(s, _)| *s).collect();
    assert!(seqs.windows(2).all(|p| p[1] == p[0] + 1), "{seqs:?}");
    // The shipped model is the wearer's own: walking is recognised most of the time.
    let walking = summary
        .per_class
        .iter()
        .find(|c| c.class.to_lowercase().contains("walk"))
        .unwrap();
    assert!(walking.windows * 2 > summary.predictions, "{summary:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_link_reconnects_and_the_shadow_relocks() {
    let b = bench();
    let mut client = client(&b.link).await;
    let band = b.link.band().clone();
    let mut seen = 0;
    let (summary, events) = live(
        &b,
        &mut client,
        Some(SHIPPED_MODEL.to_vec()),
        &config(3.0),
        |e| {
            if matches!(e, LiveEvent::Prediction { .. }) {
                seen += 1;
                if seen == 10 {
                    band.drop_link();
                }
            }
        },
    )
    .await
    .unwrap();
    assert_eq!(summary.reconnects, 1, "{summary:?}");
    let paused = events
        .iter()
        .position(|e| matches!(e, LiveEvent::Paused { .. }))
        .unwrap();
    let resumed = events
        .iter()
        .position(|e| matches!(e, LiveEvent::Resumed))
        .unwrap();
    assert!(paused < resumed);
    let after = events[resumed..]
        .iter()
        .filter(|e| matches!(e, LiveEvent::Shadow { .. }))
        .count();
    assert!(
        after >= 5,
        "the shadow checks windows after the reconnect too: {summary:?}"
    );
    assert!(summary.agreement.unwrap() >= 0.95, "{summary:?}");
    assert_eq!(summary.identical, summary.compared, "{summary:?}");
    assert_eq!(summary.stored, summary.predictions);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_band_gone_silent_is_reconnected_and_its_predictions_come_back() {
    let b = bench();
    let mut client = client(&b.link).await;
    let band = b.link.band().clone();
    // From the 6th notification of this connection on, nothing the band sends arrives (it keeps
    // predicting, and the link stays up): the desktop hears nothing.
    let mut mute = Faults::none();
    mute.drop_notifications = (6..100_000).collect();
    band.set_faults(mute);
    let mut config = config(4.0);
    config.stall = Duration::from_millis(600);
    let (summary, events) = live(&b, &mut client, None, &config, |e| {
        if matches!(e, LiveEvent::Paused { .. }) {
            band.set_faults(Faults::none());
        }
    })
    .await
    .unwrap();
    let paused = events
        .iter()
        .position(|e| matches!(e, LiveEvent::Paused { .. }))
        .expect("the silence is noticed");
    let LiveEvent::Paused { reason } = &events[paused] else {
        unreachable!()
    };
    assert!(reason.contains("no prediction"), "{reason}");
    let resumed = events
        .iter()
        .position(|e| matches!(e, LiveEvent::Resumed))
        .expect("the session resumes");
    assert!(paused < resumed);
    let before = events[..paused]
        .iter()
        .filter(|e| matches!(e, LiveEvent::Prediction { .. }))
        .count();
    let after = events[resumed..]
        .iter()
        .filter(|e| matches!(e, LiveEvent::Prediction { .. }))
        .count();
    assert!(
        before <= 5,
        "{before} predictions got through the muted link"
    );
    assert!(after >= 10, "only {after} predictions after the reconnect");
    assert_eq!(summary.reconnects, 1, "{summary:?}");
    assert_eq!(summary.stored, summary.predictions);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shadow_blob_that_is_not_the_bands_model_is_refused() {
    let b = bench();
    let mut client = client(&b.link).await;
    let buf = bandx_testkit::demo_blob(77, 1, 5);
    let err = live(&b, &mut client, Some(buf), &config(0.5), |_| {})
        .await
        .unwrap_err();
    assert!(matches!(err, LiveError::ShadowModel(_)), "{err}");
    let err = live(&b, &mut client, Some(vec![1, 2, 3]), &config(0.5), |_| {})
        .await
        .unwrap_err();
    assert!(matches!(err, LiveError::Blob(_)), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deployed_blob_is_found_by_the_bands_model_identity() {
    let b = bench();
    let client = client(&b.link).await;
    let active = client.get_info().await.unwrap().model.unwrap();
    let store = b.store.lock().unwrap();
    assert_eq!(
        deployed_blob(&store, b.target.profile, b.target.band, &active).unwrap(),
        None
    );
    let new = |blob: &[u8]| NewModel {
        backbone_id: "test".into(),
        classes: shipped_labels(),
        metrics: serde_json::json!({}),
        blob: blob.to_vec(),
        created_at_ms: 0,
    };
    let other = bandx_testkit::demo_blob(77, 1, 5);
    store.add_model(b.target.profile, &new(&other)).unwrap();
    assert_eq!(
        deployed_blob(&store, b.target.profile, b.target.band, &active).unwrap(),
        None
    );
    store
        .add_model(b.target.profile, &new(SHIPPED_MODEL))
        .unwrap();
    assert_eq!(
        deployed_blob(&store, b.target.profile, b.target.band, &active)
            .unwrap()
            .as_deref(),
        Some(SHIPPED_MODEL)
    );
}

#[test]
fn daily_history_is_a_table_of_every_day_in_range() {
    let store = Store::open_in_memory().unwrap();
    let profile = store.create_profile("ana", 0).unwrap();
    let band = store
        .upsert_band("5A:1B:00:00:00:01", "BandX Sim", 0)
        .unwrap();
    // 2026-11-26 12:00 UTC.
    let now = 20_783 * DAY_MS + DAY_MS / 2;
    let p = |t_ms, class: &str| NewPrediction {
        band,
        t_ms,
        class: class.into(),
        confidence: 0.9,
        window_seq: 0,
    };
    let mut batch = vec![
        p(now - 1000, "walking"),
        p(now - 2000, "walking"),
        p(now - 3000, "sitting"),
    ];
    batch.push(p(now - 2 * DAY_MS, "sitting"));
    // Outside the 3-day range, and on another profile: not counted.
    batch.push(p(now - 5 * DAY_MS, "typing"));
    store.add_predictions(profile, &batch).unwrap();
    let other = store.create_profile("ben", 0).unwrap();
    store.add_predictions(other, &[p(now, "jogging")]).unwrap();

    let h = daily_history(&store, profile, 3, now, 0).unwrap();
    assert_eq!(h.days, ["2026-11-24", "2026-11-25", "2026-11-26"]);
    assert_eq!(h.classes, ["sitting", "walking"]);
    assert_eq!(h.windows, [vec![1, 0], vec![0, 0], vec![1, 2]]);
    assert!((h.minutes[2][1] - 2.0 * 1.5 / 60.0).abs() < 1e-9);

    // At UTC-13 h, 12:00 UTC minus 1-3 s is still the previous local day.
    let h = daily_history(&store, profile, 1, now, -13 * 60).unwrap();
    assert_eq!(h.days, ["2026-11-25"]);
    assert_eq!(h.windows, [vec![1, 2]]);
}

/// The app runs live sessions on spawned tasks: the future must be `Send` (checked at compile time).
fn _run_live_is_send(
    client: &mut BandClient,
    link: &SimLink,
    store: &Mutex<Store>,
    target: &LiveTarget,
    config: &LiveConfig,
    on_event: &mut (dyn FnMut(LiveEvent) + Send),
    cancel: &AtomicBool,
) {
    fn send<T: Send>(_: T) {}
    send(run_live(
        client, link, store, target, None, config, on_event, cancel,
    ));
}
