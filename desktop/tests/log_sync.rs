//! The band's activity log synced into the store (`sync`), against the virtual band: a simulated day away then
//! a sync equals the band's own log minute for minute; a link dropped mid-sync resumes and stores each record
//! once; a log that wrapped reports the gap; an older firmware gets a sentence; the merged history never counts
//! a minute twice. Also prints the time a full log takes to sync at MTU 23 and 247 (a figure, not asserted).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bandx_core::log::{ActivityLog, LogEntry, Minute, ModelTag, RECORDS_PER_SECTOR};
use bandx_core::protocol::{
    MAX_MESSAGE_LEN, Reassembler, Request, RequestBody, decode_request, encode_request, fragments,
};
use bandx_desktop::band::BandClient;
use bandx_desktop::link::sim::{SHIPPED_MODEL, SimLink};
use bandx_desktop::link::{
    Backoff, Characteristic, Connection, Link, LinkError, Notification, ScanRequest,
};
use bandx_desktop::live::{Source, daily_history, day_timeline};
use bandx_desktop::store::{
    BandId, Day, MinuteState, NewPrediction, ProfileId, Store, SyncedMinute,
};
use bandx_desktop::sync::{SyncError, sync_log, sync_resuming};
use bandx_sim::{Faults, LinkTiming, Script, SimBand, SimConfig, SimFlash};
use futures::stream::BoxStream;

/// When the desktop last set the band's clock, before the day away.
const T0: u64 = 1_764_921_600_000; // 2025-12-05T08:00:00Z

fn config(dir: &std::path::Path, timing: LinkTiming) -> SimConfig {
    let mut config = SimConfig::new(dir.join("band.flash"), Some(SHIPPED_MODEL.to_vec()));
    config.timing = timing;
    config
}

const FAST: LinkTiming = LinkTiming {
    latency: Duration::from_millis(1),
    bytes_per_second: 1_000_000,
};

fn store_for(link_band: &SimBand) -> (Mutex<Store>, ProfileId, BandId) {
    let store = Store::open_in_memory().unwrap();
    let profile = store.create_profile("default", 0).unwrap();
    let ad = link_band.scan_result();
    let band = store.upsert_band(&ad.address, &ad.name, 0).unwrap();
    (Mutex::new(store), profile, band)
}

async fn connect(link: &SimLink) -> (BandClient, String) {
    let id = link.scan(ScanRequest::default()).await.unwrap()[0]
        .id
        .clone();
    let client = BandClient::new(link.connect(&id).await.unwrap())
        .await
        .unwrap();
    (client, id)
}

/// What the band itself holds in its log.
fn band_log(band: &SimBand) -> Vec<LogEntry> {
    band.with_band(|b| {
        let mut out = Vec::new();
        b.log_entries(0, |e| {
            out.push(e);
            true
        })
        .unwrap();
        out
    })
    .unwrap()
}

fn assert_same(stored: &[SyncedMinute], log: &[LogEntry]) {
    assert_eq!(stored.len(), log.len(), "records stored vs on the band");
    for (s, e) in stored.iter().zip(log) {
        let m = e.data;
        assert_eq!(
            (s.seq, s.boot, s.band_minute, s.t_ms, s.model_version),
            (
                e.seq,
                e.boot,
                e.minute,
                e.unix_ms.map(|t| t as i64),
                e.model.version
            ),
            "seq {}",
            e.seq
        );
        let flags = u8::from(m.not_worn) | u8::from(m.no_model) << 1;
        assert_eq!(
            (
                s.class_index,
                s.dominant,
                s.windows,
                s.confidence_pct,
                s.flags
            ),
            (m.class, m.dominant, m.windows, m.confidence_pct, flags),
            "seq {}",
            e.seq
        );
    }
}

/// The band spends `script` away from the desktop on its virtual clock (the desktop set its clock to [`T0`]
/// just before), the wearer following the script (`activity:minutes,...`, `off` = band off the wrist).
fn day_away(dir: &std::path::Path, script: &str) -> SimBand {
    let band = SimBand::new(config(dir, FAST)).unwrap();
    band.with_band(|b| {
        b.handle(Request {
            id: 1,
            body: RequestBody::SetTime { unix_ms: T0 },
        })
    })
    .unwrap();
    let script: Script = script.parse().unwrap();
    let minutes: u32 = script.0.iter().map(|s| s.minutes).sum();
    band.set_script(script).unwrap();
    band.advance(Duration::from_secs(u64::from(minutes) * 60))
        .unwrap();
    band
}

#[tokio::test(flavor = "multi_thread")]
async fn a_day_away_then_a_sync_equals_what_the_band_classified_minute_for_minute() {
    let dir = tempfile::tempdir().unwrap();
    let script = [
        ("walking", 20),
        ("sitting", 20),
        ("off", 10),
        ("jogging", 20),
    ];
    let text: Vec<String> = script.iter().map(|(a, m)| format!("{a}:{m}")).collect();
    let started = Instant::now();
    let band = day_away(dir.path(), &text.join(","));
    eprintln!("simulated 70 min away in {:?}", started.elapsed());
    let uptime_at_set = band_log(&band)[0].unix_ms.unwrap() - T0;
    assert!(uptime_at_set < 60_000, "the clock was set in minute 0");
    let truth = band_log(&band);
    assert!(truth.len() >= 69, "{} minutes logged", truth.len());
    let (store, profile, band_id) = store_for(&band);
    let link = bandx_testkit::paired(SimLink::from_band(band.clone()));
    let (client, _) = connect(&link).await;
    let report = sync_log(&client, &store, band_id, profile, &mut |_| {})
        .await
        .unwrap();
    assert_eq!(report.gap, None);
    assert_eq!(report.time_unknown, 0);
    let stored = store.lock().unwrap().synced_minutes(band_id).unwrap();
    // The band may have logged a minute more in real time since: compare what both hold.
    assert_same(&stored[..truth.len()], &truth);
    assert_eq!(report.stored as usize, stored.len());
    // Every minute sits on the wall clock the desktop set, one minute apart.
    for s in &stored {
        assert_eq!(
            s.t_ms,
            Some((T0 - uptime_at_set + u64::from(s.band_minute) * 60_000) as i64)
        );
    }
    // The wearer's script shows through the generic model (a figure, and a loose check).
    let (mut agree, mut worn, mut minute) = (0, 0, 0);
    for (activity, minutes) in script {
        for i in 0..minutes {
            let s = &stored[minute];
            if activity == "off" {
                // Off the wrist: every minute wholly inside the step says "not worn".
                if i > 0 {
                    assert_eq!(s.flags & 1, 1, "minute {minute} off the wrist: {s:?}");
                }
            } else {
                worn += 1;
                if s.activity()
                    .is_some_and(|c| c.eq_ignore_ascii_case(activity))
                {
                    agree += 1;
                }
                if i > 0 {
                    assert_eq!(s.flags, 0, "minute {minute} on the wrist: {s:?}");
                }
            }
            minute += 1;
        }
    }
    let minute = worn;
    eprintln!(
        "minutes whose dominant class is the scripted activity: {agree}/{minute}; sync: {} records in {} requests",
        report.stored, report.requests
    );
    assert!(agree * 2 > minute, "{agree}/{minute}");
    // Syncing again stores nothing twice.
    let again = sync_log(&client, &store, band_id, profile, &mut |_| {})
        .await
        .unwrap();
    assert_eq!(again.duplicates, 0);
    assert!(again.stored <= 1, "{again:?}");
    // The merged history shows the synced minutes.
    let day = daily_history(&store.lock().unwrap(), profile, 1, T0 as i64 + 3_600_000, 0).unwrap();
    let total: f64 = day.minutes.iter().flatten().sum();
    let activity = stored.iter().filter(|s| s.activity().is_some()).count();
    assert_eq!(total, activity as f64);
    // The day's timeline holds every synced minute once, in order, and the wearer's 10 minutes off the wrist
    // as one "not worn" stretch where the script put them.
    let timeline = day_timeline(&store.lock().unwrap(), profile, Day::of(T0 as i64, 0), 0).unwrap();
    let drawn: f64 = timeline.segments.iter().map(|s| s.minutes()).sum();
    assert!(
        (drawn - stored.len() as f64).abs() < 1e-9,
        "{drawn} vs {}",
        stored.len()
    );
    assert!(
        timeline
            .segments
            .windows(2)
            .all(|w| w[0].end_ms <= w[1].start_ms)
    );
    assert!(
        timeline
            .segments
            .iter()
            .all(|s| s.source == Source::BandLog)
    );
    let off: Vec<_> = timeline
        .segments
        .iter()
        .filter(|s| s.state == MinuteState::NotWorn)
        .collect();
    assert_eq!(off.len(), 1, "{:?}", timeline.segments);
    let off_start = (T0 - uptime_at_set) as i64 + 40 * 60_000;
    assert!(
        off[0].start_ms >= off_start && off[0].start_ms <= off_start + 60_000,
        "{off:?}"
    );
    assert!(off[0].minutes() >= 9.0, "{off:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_link_dropped_mid_sync_resumes_and_stores_each_record_once() {
    let dir = tempfile::tempdir().unwrap();
    // Two thousand minutes: the sync takes some fifty requests.
    prefilled(dir.path(), 2000);
    let band = SimBand::new(config(dir.path(), FAST)).unwrap();
    let truth_before = band_log(&band).len();
    assert_eq!(truth_before, 2000);
    let (store, profile, band_id) = store_for(&band);
    let link = bandx_testkit::paired(SimLink::from_band(band.clone())).with_mtu(23);
    let (client, id) = connect(&link).await;
    // Each connection drops once the desktop has written 60 bytes: a few requests each.
    band.set_faults(Faults {
        disconnect_after_bytes: Some(60),
        ..Faults::none()
    });
    let backoff = Backoff {
        initial: Duration::from_millis(1),
        max: Duration::from_millis(5),
        attempts: 5,
    };
    let mut progress = Vec::new();
    let (report, _client) = sync_resuming(
        &link,
        &id,
        client,
        &store,
        band_id,
        profile,
        &backoff,
        100,
        &mut |p| progress.push(p),
    )
    .await
    .unwrap();
    band.set_faults(Faults::none());
    assert!(report.reconnects >= 5, "{report:?}");
    assert_eq!(report.duplicates, 0, "{report:?}");
    let stored = store.lock().unwrap().synced_minutes(band_id).unwrap();
    let truth = band_log(&band);
    assert_same(&stored, &truth[..stored.len()]);
    assert!(stored.len() >= truth_before);
    assert_eq!(report.stored as usize, stored.len());
    assert!(progress.windows(2).all(|p| p[0].stored <= p[1].stored));
}

/// A flash file whose log holds `records` minutes (no model, time never set), written through bandx-core's log
/// on the sim's flash, as a band that ran that long would have.
fn prefilled(dir: &std::path::Path, records: u32) {
    let mut flash = SimFlash::open(&dir.join("band.flash"), Some(SHIPPED_MODEL)).unwrap();
    let mut log = ActivityLog::load(&mut flash).unwrap();
    let minute = Minute {
        class: 3,
        dominant: 30,
        windows: 40,
        confidence_pct: 88,
        not_worn: false,
        no_model: false,
    };
    let model = ModelTag { id: 1, version: 1 };
    for m in 0..records {
        log.append(&mut flash, m, model, &minute).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_band_whose_log_wrapped_reports_the_gap_and_unknown_times() {
    let dir = tempfile::tempdir().unwrap();
    let total = 16 * RECORDS_PER_SECTOR + 300;
    prefilled(dir.path(), total);
    let band = SimBand::new(config(dir.path(), FAST)).unwrap();
    let truth = band_log(&band);
    let oldest = truth[0].seq;
    assert!(oldest > 1);
    assert!(truth.len() >= 7 * 24 * 60, "{} minutes held", truth.len());
    let (store, profile, band_id) = store_for(&band);
    let link = bandx_testkit::paired(SimLink::from_band(band.clone()));
    let (client, _) = connect(&link).await;
    let report = sync_log(&client, &store, band_id, profile, &mut |_| {})
        .await
        .unwrap();
    assert_eq!(report.gap, Some((1, oldest - 1)));
    let stored = store.lock().unwrap().synced_minutes(band_id).unwrap();
    assert_same(&stored[..truth.len()], &truth);
    // Written in a boot whose clock was never set: time unknown, never guessed.
    assert!(stored[..truth.len()].iter().all(|s| s.t_ms.is_none()));
    assert_eq!(report.time_unknown as usize, truth.len());
    assert_eq!(
        store.lock().unwrap().time_unknown_minutes(profile).unwrap() as usize,
        truth.len()
    );
}

/// A connection to the real virtual band that acts like a firmware from before the log: the log's requests
/// reach the band as a request variant it does not know.
struct OlderFirmware {
    inner: Box<dyn Connection>,
    partial: Mutex<Reassembler>,
}

#[async_trait]
impl Connection for OlderFirmware {
    fn id(&self) -> &str {
        self.inner.id()
    }
    fn mtu(&self) -> u16 {
        self.inner.mtu()
    }
    async fn subscribe(&self, c: Characteristic) -> Result<(), LinkError> {
        self.inner.subscribe(c).await
    }
    async fn notifications(&self) -> Result<BoxStream<'static, Notification>, LinkError> {
        self.inner.notifications().await
    }
    async fn write(&self, c: Characteristic, value: &[u8]) -> Result<(), LinkError> {
        let message = self
            .partial
            .lock()
            .unwrap()
            .push(value)
            .ok()
            .flatten()
            .map(<[u8]>::to_vec);
        let Some(message) = message else {
            return Ok(());
        };
        let mut bytes = message.clone();
        if let Ok(Request {
            id,
            body: RequestBody::SetTime { .. } | RequestBody::ReadLog { .. },
        }) = decode_request(&message)
        {
            // Same id, a variant number past the old firmware's list.
            let mut buf = [0u8; MAX_MESSAGE_LEN];
            let n = encode_request(
                &Request {
                    id,
                    body: RequestBody::GetInfo,
                },
                &mut buf,
            )
            .unwrap();
            bytes = buf[..n].to_vec();
            *bytes.last_mut().unwrap() = 100;
        }
        for (header, data) in fragments(&bytes, self.inner.max_write_len()) {
            let mut packet = vec![header];
            packet.extend_from_slice(data);
            self.inner.write(c, &packet).await?;
        }
        Ok(())
    }
    async fn write_without_response(
        &self,
        c: Characteristic,
        value: &[u8],
    ) -> Result<(), LinkError> {
        self.inner.write_without_response(c, value).await
    }
    async fn disconnect(&self) -> Result<(), LinkError> {
        self.inner.disconnect().await
    }
    fn state(&self) -> tokio::sync::watch::Receiver<bandx_desktop::link::ConnectionState> {
        self.inner.state()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_older_firmware_without_the_log_gets_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let band = SimBand::new(config(dir.path(), FAST)).unwrap();
    let (store, profile, band_id) = store_for(&band);
    let link = bandx_testkit::paired(SimLink::from_band(band));
    let id = link.scan(ScanRequest::default()).await.unwrap()[0]
        .id
        .clone();
    let conn = OlderFirmware {
        inner: link.connect(&id).await.unwrap(),
        partial: Mutex::new(Reassembler::new()),
    };
    let client = BandClient::new(Box::new(conn)).await.unwrap();
    // The band still answers what it knows.
    assert!(client.get_info().await.is_ok());
    let err = sync_log(&client, &store, band_id, profile, &mut |_| {})
        .await
        .unwrap_err();
    assert!(matches!(err, SyncError::Unsupported(_)), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("update its firmware"), "{text}");
    assert_eq!(store.lock().unwrap().last_synced_seq(band_id).unwrap(), 0);
}

#[test]
fn the_merged_history_counts_a_minute_the_log_covers_once() {
    let store = Store::open_in_memory().unwrap();
    let profile = store.create_profile("default", 0).unwrap();
    let band = store.upsert_band("AA:BB", "BandX", 0).unwrap();
    let t = T0 as i64;
    // Live: 40 windows of walking in minute 0 (covered by the log) and 40 in minute 5 (not covered).
    let live: Vec<NewPrediction> = (0..40)
        .map(|i| (t + i * 1500, i as u32))
        .chain((0..40).map(|i| (t + 300_000 + i * 1500, 100 + i as u32)))
        .map(|(t_ms, window_seq)| NewPrediction {
            band,
            t_ms,
            class: "walking".into(),
            confidence: 0.9,
            window_seq,
        })
        .collect();
    store.add_predictions(profile, &live).unwrap();
    // Synced: minute 0 (walking, 20 s into the wall minute: band minutes are not aligned) and minute 1
    // (sitting), and one not worn.
    let synced = |seq: u32, minute: u32, class: &str, flags: u8| SyncedMinute {
        band,
        seq,
        boot: 0,
        band_minute: minute,
        t_ms: Some(t + 20_000 + i64::from(minute) * 60_000),
        model_version: 1,
        class_index: 0,
        class: Some(class.into()),
        dominant: 30,
        windows: 40,
        confidence_pct: 90,
        flags,
    };
    let rows = [
        synced(1, 0, "walking", 0),
        synced(2, 1, "sitting", 0),
        synced(3, 2, "sitting", 1),
    ];
    assert_eq!(store.add_synced_minutes(profile, &rows, t).unwrap(), 3);
    assert_eq!(store.add_synced_minutes(profile, &rows, t).unwrap(), 0);
    let merged = store
        .merged_daily_minutes(profile, t - 86_400_000, t + 86_400_000, 0)
        .unwrap();
    let get = |class: &str| merged.iter().find(|m| m.class == class).unwrap();
    // Walking: one synced minute + the live windows no synced minute covers: the 40 of minute 5, and the 14 of
    // the first wall minute before the band's minute 0 began (20 s in); the 26 inside it are dropped.
    assert_eq!((get("walking").synced, get("walking").live), (1.0, 1.35));
    assert_eq!((get("sitting").synced, get("sitting").live), (1.0, 0.0));
    let h = daily_history(&store, profile, 1, t, 0).unwrap();
    let total: f64 = h.minutes.iter().flatten().sum();
    assert!((total - 3.35).abs() < 1e-9, "{total}");
    // A model change on the band shows per day.
    let mut v2 = synced(4, 3, "walking", 0);
    v2.model_version = 2;
    store.add_synced_minutes(profile, &[v2], t).unwrap();
    let models = store
        .synced_models_by_day(profile, t - 86_400_000, t + 86_400_000, 0)
        .unwrap();
    assert_eq!(models.len(), 1);
    assert_eq!(models[0].1, vec![1, 2]);
    // The day's timeline: live walking until the band's minute 0 began, the band's four minutes, the live
    // minute 5; no time twice.
    let timeline = day_timeline(&store, profile, Day::of(t, 0), 0).unwrap();
    let spans: Vec<(i64, i64, MinuteState, Source)> = timeline
        .segments
        .iter()
        .map(|s| {
            (
                (s.start_ms - t) / 1000,
                (s.end_ms - t) / 1000,
                s.state.clone(),
                s.source,
            )
        })
        .collect();
    let walking = || MinuteState::Activity("walking".into());
    let sitting = || MinuteState::Activity("sitting".into());
    assert_eq!(
        spans,
        vec![
            (0, 20, walking(), Source::Live),
            (20, 80, walking(), Source::BandLog),
            (80, 140, sitting(), Source::BandLog),
            (140, 200, MinuteState::NotWorn, Source::BandLog),
            (200, 260, walking(), Source::BandLog),
            (300, 360, walking(), Source::Live),
        ]
    );
}

/// The figure for the README: how long a full log (16 sectors' worth, past a wrap) takes to sync on the
/// virtual band at the typical link timing (15 ms one way, 20 kB/s), in simulated time. Printed, not asserted.
#[tokio::test(flavor = "multi_thread")]
async fn full_log_sync_time_at_mtu_23_and_247() {
    for mtu in [23u16, 247] {
        let dir = tempfile::tempdir().unwrap();
        prefilled(dir.path(), 16 * RECORDS_PER_SECTOR + 10);
        let mut config = config(dir.path(), LinkTiming::TYPICAL);
        config.realtime_speed = 4.0;
        let band = SimBand::new(config).unwrap();
        let held = band_log(&band).len();
        let (store, profile, band_id) = store_for(&band);
        let link = bandx_testkit::paired(SimLink::from_band(band.clone())).with_mtu(mtu);
        let (client, _) = connect(&link).await;
        let (sim0, wall0) = (band.now(), Instant::now());
        let report = sync_log(&client, &store, band_id, profile, &mut |_| {})
            .await
            .unwrap();
        let sim = band.now() - sim0;
        assert!(report.stored as usize >= held);
        println!(
            "full log sync: MTU {mtu}: {} records in {} requests, {:.1} s simulated ({:.1} s wall at 4x)",
            report.stored,
            report.requests,
            sim.as_secs_f64(),
            wall0.elapsed().as_secs_f64()
        );
    }
}
