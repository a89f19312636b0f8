//! `bandx sync` on the virtual band (20x real time): the minutes the band logged while `bandx live` ran (and
//! while sync itself runs) are stored once, a second sync stores nothing twice, and `bandx history` counts a
//! minute both sources cover once.

mod support;
use support::{bandx, bandx_sim_fast, field, stdout};

use bandx_desktop::store::Store;

#[test]
fn sync_after_live_stores_each_minute_once_and_history_merges() {
    let dir = tempfile::tempdir().unwrap();
    // 7 s at 20x: 140 s of band time, two whole minutes logged (and predicted live).
    let out = bandx_sim_fast(dir.path(), &["live", "--seconds", "7", "--profile", "ana"]);
    assert!(out.status.success(), "{out:?}");

    let out = bandx_sim_fast(dir.path(), &["sync", "--profile", "ana"]);
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    let stored: u64 = field(&text, "stored").parse().unwrap();
    assert!(stored >= 2, "{text}");
    assert_eq!(field(&text, "gap"), "none");
    // `live` set the band's clock when it connected: its minutes have a time.
    assert_eq!(field(&text, "time_unknown"), "0");
    assert_eq!(field(&text, "duplicates"), "0");

    let store = Store::open(dir.path().join("bandx.sqlite")).unwrap();
    let band = store.bands().unwrap()[0].id;
    let rows = store.synced_minutes(band).unwrap();
    assert_eq!(rows.len() as u64, stored);
    let seqs: Vec<u32> = rows.iter().map(|r| r.seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    // Two boots (one per command): the first one's two minutes are there.
    assert!(rows.iter().filter(|r| r.boot == rows[0].boot).count() >= 2);
    drop(store);

    // Again: nothing twice (a minute the band logged meanwhile may be new).
    let out = bandx_sim_fast(dir.path(), &["sync", "--profile", "ana"]);
    assert!(out.status.success(), "{out:?}");
    let again = stdout(&out);
    assert_eq!(field(&again, "duplicates"), "0");
    assert!(
        field(&again, "stored").parse::<u64>().unwrap() <= 2,
        "{again}"
    );

    // History: the live windows of minutes the log covers are not added on top of them.
    let out = bandx(dir.path(), &["history", "--days", "1", "--profile", "ana"]);
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    let total: f64 = text
        .lines()
        .nth(1)
        .unwrap()
        .split('\t')
        .skip(1)
        .map(|c| c.parse::<f64>().unwrap())
        .sum();
    let store = Store::open(dir.path().join("bandx.sqlite")).unwrap();
    let profile = store.profile_by_name("ana").unwrap().unwrap().id;
    let synced = store
        .synced_minutes(band)
        .unwrap()
        .iter()
        .filter(|r| r.activity().is_some())
        .count() as f64;
    let live_windows = store
        .predictions_between(profile, 0, i64::MAX)
        .unwrap()
        .len() as f64;
    let live = live_windows * 1.5 / 60.0;
    assert!(total >= synced, "{total} < {synced} synced minutes\n{text}");
    assert!(
        total < synced + live - 1.0,
        "{total} minutes: the live ones ({live:.2}) were counted on top of the synced ({synced})\n{text}"
    );
}
