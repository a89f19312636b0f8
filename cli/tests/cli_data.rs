//! The built `bandx` binary on a real store: `train`, `export`, `import` and `report`, run as a script would run
//! them. Each test builds the store through the library in a temporary data directory, with calibration
//! recordings made of the virtual wearer's real wrist data (raw i16 samples, as the band sends them).

use std::collections::HashMap;
use std::path::Path;

mod support;
use support::{bandx, stderr, stdout};

use bandx_desktop::paths::DataDir;
use bandx_desktop::plots::palette;
use bandx_desktop::store::{
    BandId, Day, DeploymentStatus, DeploymentUpdate, NewDeployment, NewModel, NewPrediction,
    ProfileId, Store, SyncedMinute, Transport, Verdict,
};
use bandx_sim::wearer::{Activity, Wearer};
use bandx_testkit::Calibration;
use quick_xml::events::Event;

/// The documented exit codes (see `bandx --help`).
const EXIT_FAILURE: i32 = 1;
const EXIT_PROFILE: i32 = 6;
const EXIT_NOT_ENOUGH_DATA: i32 = 7;

/// 2026-01-05 10:00 UTC: prediction history safely in the past.
const PAST_MS: i64 = 1_767_607_200_000;

fn open(dir: &Path) -> Store {
    Store::open(DataDir::at(dir).store_path()).unwrap()
}

/// Records `good + rejected` calibration windows (3 s, 50 % overlap) of `activity` into a new class `name`.
fn calibrate(
    store: &Store,
    profile: ProfileId,
    wearer: &mut Wearer,
    name: &str,
    activity: Activity,
    good: usize,
    rejected: usize,
) {
    let calibration = Calibration {
        name,
        activity,
        good,
        rejected,
        started_at_ms: PAST_MS - 86_400_000,
    };
    bandx_testkit::record_class(store, profile, wearer, &calibration);
}

/// A data directory with profile "Ada": walking, jogging, sitting with `good[i]` good windows each.
fn calibrated(good: [usize; 3]) -> (tempfile::TempDir, ProfileId) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let profile = store.create_profile("Ada", 1).unwrap();
    let mut w = bandx_testkit::wearer();
    calibrate(
        &store,
        profile,
        &mut w,
        "walking",
        Activity::WALKING,
        good[0],
        2,
    );
    calibrate(
        &store,
        profile,
        &mut w,
        "jogging",
        Activity::JOGGING,
        good[1],
        0,
    );
    calibrate(
        &store,
        profile,
        &mut w,
        "sitting",
        Activity::SITTING,
        good[2],
        1,
    );
    (dir, profile)
}

/// A deployment of the latest model and 20 minutes of predictions on two days, 1.5 s apart.
fn add_history(store: &Store, profile: ProfileId) -> BandId {
    let band = store
        .upsert_band("sim:band-1", "Virtual BandX", PAST_MS)
        .unwrap();
    let model = store.latest_model(profile).unwrap().map(|m| m.id);
    let d = store
        .start_deployment(
            profile,
            &NewDeployment {
                model,
                band,
                transport: Transport::BleModel,
                started_at_ms: PAST_MS,
                bytes_total: 4000,
            },
        )
        .unwrap();
    store
        .update_deployment(
            d,
            &DeploymentUpdate {
                status: DeploymentStatus::Verified,
                bytes_sent: 4000,
                resumed_count: 1,
                finished_at_ms: Some(PAST_MS + 9_000),
                error: None,
            },
        )
        .unwrap();
    let mut predictions = Vec::new();
    for (day, start) in [(0, PAST_MS - 86_400_000), (1, PAST_MS)] {
        for i in 0..800u32 {
            let class = match (day + i / 200) % 3 {
                0 => "walking",
                1 => "jogging",
                _ => "sitting",
            };
            predictions.push(NewPrediction {
                band,
                t_ms: start + i64::from(i) * 1500,
                class: class.into(),
                confidence: 0.9,
                window_seq: i,
            });
        }
    }
    store.add_predictions(profile, &predictions).unwrap();
    band
}

/// Minutes synced from the band's log on the later day, after the live predictions: 10 of sitting, then 5
/// off the wrist.
fn add_synced_minutes(store: &Store, profile: ProfileId, band: BandId) {
    let minutes: Vec<SyncedMinute> = (0..15u32)
        .map(|m| SyncedMinute {
            band,
            seq: m + 1,
            boot: 1,
            band_minute: m,
            t_ms: Some(PAST_MS + 30 * 60_000 + i64::from(m) * 60_000),
            model_version: 1,
            class_index: 2,
            class: Some("sitting".into()),
            dominant: 30,
            windows: 40,
            confidence_pct: 90,
            flags: u8::from(m >= 10),
        })
        .collect();
    store
        .add_synced_minutes(profile, &minutes, PAST_MS + 3_600_000)
        .unwrap();
}

#[test]
fn train_stores_a_model_and_prints_its_estimates() {
    let (dir, profile) = calibrated([15, 15, 16]);
    let out = bandx(dir.path(), &["train"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);

    let store = open(dir.path());
    let model = store
        .latest_model(profile)
        .unwrap()
        .expect("a stored model");
    assert_eq!(model.version, 1);
    assert_eq!(model.classes, ["walking", "jogging", "sitting"]);
    let lines: HashMap<&str, &str> = text.lines().filter_map(|l| l.split_once(": ")).collect();
    assert_eq!(lines.get("model_version"), Some(&"1"), "{text}");
    // The default method, which starts from the generic model (walking, jogging and sitting are pre-training labels).
    assert_eq!(lines.get("method"), Some(&"anchored"), "{text}");
    // What it prints is what it stored.
    let personal = model.metrics["personal_accuracy"].as_f64().unwrap();
    assert!(
        lines["personal_accuracy"].starts_with(&format!("{:.1} %", personal * 100.0)),
        "{text}"
    );
    let generic = model.metrics["generic"]["accuracy"].as_f64().unwrap();
    assert!(
        lines["generic_accuracy"].starts_with(&format!("{:.1} %", generic * 100.0)),
        "{text}"
    );
    assert!(personal > generic, "{text}");
    for class in ["walking", "jogging", "sitting"] {
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("  {class}: ")) && l.contains("windows)")),
            "no recall line for {class}:\n{text}"
        );
    }
    assert!(
        lines["blob"].starts_with(&format!("{} B of 10240 max", model.blob.len())),
        "{text}"
    );

    // A second run stores the next version.
    let out = bandx(dir.path(), &["train", "--profile", "ada"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).lines().any(|l| l == "model_version: 2"));
    assert_eq!(store.models(profile).unwrap().len(), 2);
}

#[test]
fn too_few_windows_names_each_short_class_and_stores_nothing() {
    let (dir, profile) = calibrated([15, 10, 3]);
    let out = bandx(dir.path(), &["train"]);
    assert_eq!(out.status.code(), Some(EXIT_NOT_ENOUGH_DATA), "{out:?}");
    let err = stderr(&out);
    assert!(
        err.contains("record 5 more windows of \"jogging\""),
        "{err}"
    );
    assert!(
        err.contains("record 12 more windows of \"sitting\""),
        "{err}"
    );
    assert!(!err.contains("\"walking\""), "{err}");
    assert!(stdout(&out).is_empty());
    assert!(open(dir.path()).models(profile).unwrap().is_empty());

    // With a lower bar the same data trains.
    let out = bandx(dir.path(), &["train", "--min-windows", "3"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn classes_trains_only_the_chosen_ones_and_a_short_class_left_out_does_not_stop_it() {
    let (dir, profile) = calibrated([15, 15, 3]);
    // sitting (3 good windows) stops a training of every class ...
    let all = bandx(dir.path(), &["train"]);
    assert_eq!(all.status.code(), Some(EXIT_NOT_ENOUGH_DATA), "{all:?}");

    // ... but not one that leaves it out.
    let out = bandx(dir.path(), &["train", "--classes", "jogging, walking"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let store = open(dir.path());
    let model = store
        .latest_model(profile)
        .unwrap()
        .expect("a stored model");
    // The profile's order, not the order they were named in.
    assert_eq!(model.classes, ["walking", "jogging"]);
    let blob = bandx_core::blob::Model::parse(&model.blob).unwrap();
    assert_eq!(
        blob.labels().iter().collect::<Vec<_>>(),
        ["walking", "jogging"]
    );
    let text = stdout(&out);
    assert!(!text.contains("sitting"), "{text}");

    let unknown = bandx(dir.path(), &["train", "--classes", "walking,swimming"]);
    assert_eq!(unknown.status.code(), Some(1), "{unknown:?}");
    assert!(
        stderr(&unknown).contains(
            "profile \"Ada\" has no class \"swimming\" (its classes: walking, jogging, sitting)"
        ),
        "{}",
        stderr(&unknown)
    );
    let one = bandx(dir.path(), &["train", "--classes", "walking"]);
    assert_eq!(one.status.code(), Some(EXIT_NOT_ENOUGH_DATA), "{one:?}");
    assert!(
        stderr(&one).contains("at least 2 activity classes; --classes names 1"),
        "{}",
        stderr(&one)
    );
    assert_eq!(
        store.models(profile).unwrap().len(),
        1,
        "only the one model"
    );
}

#[test]
fn a_single_class_is_not_enough_data() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let profile = store.create_profile("Ada", 1).unwrap();
    let mut w = bandx_testkit::wearer();
    calibrate(&store, profile, &mut w, "walking", Activity::WALKING, 15, 0);
    let out = bandx(dir.path(), &["train"]);
    assert_eq!(out.status.code(), Some(EXIT_NOT_ENOUGH_DATA), "{out:?}");
    assert!(
        stderr(&out).contains("at least 2 activity classes; profile \"Ada\" has 1"),
        "{}",
        stderr(&out)
    );
}

/// Everything the profile holds, counted through the store API.
fn counts(store: &Store, profile: ProfileId) -> Vec<(String, usize)> {
    let classes = store.classes(profile).unwrap();
    let mut out = vec![("classes".to_string(), classes.len())];
    for c in &classes {
        let windows = store.windows_of_class(c.id).unwrap();
        let good = windows
            .iter()
            .filter(|w| w.verdict == Verdict::Good)
            .count();
        out.push((format!("{} good", c.name), good));
        out.push((format!("{} windows", c.name), windows.len()));
    }
    let recordings = store.recordings(profile).unwrap();
    out.push(("recordings".into(), recordings.len()));
    out.push((
        "samples".into(),
        recordings.iter().map(|r| r.samples as usize).sum(),
    ));
    out.push(("models".into(), store.models(profile).unwrap().len()));
    out.push((
        "deployments".into(),
        store.deployments(profile).unwrap().len(),
    ));
    out.push((
        "predictions".into(),
        store
            .predictions_between(profile, i64::MIN, i64::MAX)
            .unwrap()
            .len(),
    ));
    out
}

/// A model made without training (export/import only move bytes).
fn add_model(store: &Store, profile: ProfileId) {
    store
        .add_model(
            profile,
            &NewModel {
                backbone_id: "backbone@000000000000".into(),
                classes: vec!["walking".into(), "jogging".into(), "sitting".into()],
                metrics: serde_json::json!({ "personal_accuracy": 0.9 }),
                blob: (0..=255u8).cycle().take(3000).collect(),
                created_at_ms: PAST_MS,
            },
        )
        .unwrap();
}

#[test]
fn export_then_import_round_trips_the_profile() {
    let (dir, profile) = calibrated([15, 15, 15]);
    let store = open(dir.path());
    add_model(&store, profile);
    add_history(&store, profile);
    let original = counts(&store, profile);
    let blob = store.latest_model(profile).unwrap().unwrap().blob;

    let export = dir.path().join("ada-export");
    let out = bandx(
        dir.path(),
        &["export", "--profile", "Ada", export.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(export.join("profile.json").is_file());

    // Into another data directory: the same profile, under its own name.
    let other = tempfile::tempdir().unwrap();
    let out = bandx(other.path(), &["import", export.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "Ada\n");
    let imported_store = open(other.path());
    let imported = imported_store.profile_by_name("Ada").unwrap().unwrap();
    assert_eq!(counts(&imported_store, imported.id), original);
    let imported_blob = imported_store
        .latest_model(imported.id)
        .unwrap()
        .unwrap()
        .blob;
    assert_eq!(imported_blob, blob);

    // Into the same store: the name is taken, so nothing is imported until another name is given.
    let out = bandx(dir.path(), &["import", export.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(EXIT_FAILURE), "{out:?}");
    assert!(stderr(&out).contains("--as"), "{}", stderr(&out));
    assert_eq!(store.profiles().unwrap().len(), 1);
    let out = bandx(
        dir.path(),
        &["import", "--as", "Ada (copy)", export.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "Ada (copy)\n");
    let copy = store.profile_by_name("Ada (copy)").unwrap().unwrap();
    assert_eq!(counts(&store, copy.id), original);

    // An existing empty folder is a fine destination.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = bandx(
        dir.path(),
        &["export", "--profile", "Ada", empty.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(empty.join("models.json").is_file());
}

#[test]
fn export_refuses_a_folder_with_something_in_it() {
    let (dir, _) = calibrated([15, 15, 15]);
    let dest = dir.path().join("busy");
    std::fs::create_dir(&dest).unwrap();
    std::fs::write(dest.join("notes.txt"), "mine").unwrap();
    let out = bandx(dir.path(), &["export", dest.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(EXIT_FAILURE), "{out:?}");
    assert!(stderr(&out).contains("not empty"), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(dest.join("notes.txt")).unwrap(),
        "mine"
    );
    assert_eq!(std::fs::read_dir(&dest).unwrap().count(), 1);
}

#[test]
fn a_damaged_export_is_refused_naming_the_file_and_imports_nothing() {
    let (dir, profile) = calibrated([15, 15, 15]);
    let store = open(dir.path());
    add_model(&store, profile);
    let export = dir.path().join("export");
    assert!(
        bandx(dir.path(), &["export", export.to_str().unwrap()])
            .status
            .success()
    );
    let blob = export.join("models").join("v1.bin");
    let mut bytes = std::fs::read(&blob).unwrap();
    bytes[100] ^= 0x55;
    std::fs::write(&blob, bytes).unwrap();

    let other = tempfile::tempdir().unwrap();
    let out = bandx(other.path(), &["import", export.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(EXIT_FAILURE), "{out:?}");
    let err = stderr(&out);
    assert!(err.contains("v1.bin") && err.contains("checksum"), "{err}");
    assert!(stdout(&out).is_empty());

    // A missing file is named too.
    std::fs::remove_file(export.join("windows.csv")).unwrap();
    let out = bandx(other.path(), &["import", export.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(EXIT_FAILURE), "{out:?}");
    assert!(stderr(&out).contains("windows.csv"), "{}", stderr(&out));
    // Nothing was imported (and an import that fails before reading the store leaves none behind).
    let path = DataDir::at(other.path()).store_path();
    if path.exists() {
        assert!(Store::open(&path).unwrap().profiles().unwrap().is_empty());
    }
}

#[test]
fn profile_choice_errors_list_the_profiles() {
    let (dir, _) = calibrated([15, 15, 15]);
    let out = bandx(dir.path(), &["report", "--profile", "Bob", "--out", "x"]);
    assert_eq!(out.status.code(), Some(EXIT_PROFILE), "{out:?}");
    assert!(stderr(&out).contains("\"Bob\""), "{}", stderr(&out));
    assert!(stderr(&out).contains("\"Ada\""), "{}", stderr(&out));

    open(dir.path()).create_profile("Cleo", 2).unwrap();
    let out = bandx(dir.path(), &["train"]);
    assert_eq!(out.status.code(), Some(EXIT_PROFILE), "{out:?}");
    let err = stderr(&out);
    assert!(
        err.contains("--profile") && err.contains("\"Ada\", \"Cleo\""),
        "{err}"
    );

    // No store at all: said so, and none is created by a command that only reads.
    let empty = tempfile::tempdir().unwrap();
    let out = bandx(
        empty.path(),
        &["export", empty.path().join("e").to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(EXIT_PROFILE), "{out:?}");
    assert!(
        stderr(&out).contains("no BandX Studio data"),
        "{}",
        stderr(&out)
    );
    assert!(!DataDir::at(empty.path()).store_path().exists());
}

/// Parses an SVG strictly (well-formed XML, one `<svg>` root); returns each element's name and fill color.
fn svg_elements(path: &Path) -> Vec<(String, Option<String>)> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut reader = quick_xml::Reader::from_str(&text);
    let (mut depth, mut roots, mut elements) = (0usize, 0usize, Vec::new());
    loop {
        let event = reader
            .read_event()
            .unwrap_or_else(|e| panic!("{} is not well-formed XML: {e}", path.display()));
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let name = e.name().as_ref().to_owned();
                if depth == 0 {
                    roots += 1;
                    assert_eq!(name, "svg", "{}", path.display());
                }
                let fill = e
                    .try_get_attribute("fill")
                    .unwrap()
                    .map(|a| a.value.into_owned());
                elements.push((name, fill));
                if matches!(event, Event::Start(_)) {
                    depth += 1;
                }
            }
            Event::End(_) => depth -= 1,
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!((roots, depth), (1, 0), "{}", path.display());
    elements
}

/// Rectangles filled with class `index`'s color.
fn class_bars(elements: &[(String, Option<String>)], index: usize) -> usize {
    let color = palette::hex(palette::class_color(index));
    elements
        .iter()
        .filter(|(name, fill)| name == "rect" && fill.as_deref() == Some(color.as_str()))
        .count()
}

#[test]
fn report_writes_every_plot_and_links_it() {
    let (dir, profile) = calibrated([15, 15, 15]);
    let out = bandx(dir.path(), &["train"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let store = open(dir.path());
    let band = add_history(&store, profile);
    add_synced_minutes(&store, profile, band);

    let report = dir.path().join("report");
    let out = bandx(dir.path(), &["report", "--out", report.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let listed_text = stdout(&out);
    let listed: Vec<&str> = listed_text.lines().collect();
    let md = std::fs::read_to_string(report.join("report.md")).unwrap();

    let plots = [
        "signal-1-walking.svg",
        "signal-2-jogging.svg",
        "signal-3-sitting.svg",
        "confusion.svg",
        "timeline.svg",
        "daily.svg",
        "day.svg",
    ];
    for plot in plots {
        let path = report.join(plot);
        assert!(svg_elements(&path).len() > 10, "{plot} is nearly empty");
        assert!(
            md.contains(&format!("]({plot})")),
            "report.md does not link {plot}:\n{md}"
        );
        assert!(listed.contains(&path.to_str().unwrap()), "{listed:?}");
    }
    assert_eq!(listed.len(), plots.len() + 1, "{listed:?}");
    // The figures stated are the stored ones.
    let model = store.latest_model(profile).unwrap().unwrap();
    let personal = model.metrics["personal_accuracy"].as_f64().unwrap();
    assert!(md.contains(&format!("{:.1} %", personal * 100.0)), "{md}");
    assert!(md.contains("| verified |"), "{md}");
    assert!(md.contains("Virtual BandX"), "{md}");
    // The history is in the past: the report shows the last recorded hour, 1.5 s per window.
    assert!(md.contains("last recorded hour"), "{md}");
    assert!(md.contains("| 2026-01-05 | "), "{md}");
    assert!(!md.contains("skipped"), "{md}");
    // The plots show the stored history: in the last recorded hour jogging, sitting, walking, jogging
    // (5 minutes each: one bar per stretch); on each of the two days a bar per class.
    let timeline = svg_elements(&report.join("timeline.svg"));
    let timeline_text = std::fs::read_to_string(report.join("timeline.svg")).unwrap();
    assert!(
        timeline_text.contains("last recorded hour") && !timeline_text.contains("Last hour"),
        "the plot's own title says which hour it shows"
    );
    let daily = svg_elements(&report.join("daily.svg"));
    for (class, stretches) in [(0, 1), (1, 2), (2, 1)] {
        assert_eq!(class_bars(&timeline, class), stretches, "class {class}");
        assert_eq!(class_bars(&daily, class), 2, "class {class}");
    }
    // The latest day's timeline merges both sources: the 20 live minutes (jogging, sitting, walking, jogging:
    // 5 minutes each) and the band's 10 minutes of sitting and 5 off the wrist, 10 minutes later.
    let day = Day::of(PAST_MS, 0);
    assert!(md.contains(&format!("### Day timeline: {day}")), "{md}");
    for row in [
        "| jogging | 0.0 | 10.0 |",
        "| walking | 0.0 | 5.0 |",
        "| sitting | 10.0 | 5.0 |",
        "| not worn | 5.0 | 0.0 |",
    ] {
        assert!(md.contains(row), "{row} missing:\n{md}");
    }
    let day_plot = svg_elements(&report.join("day.svg"));
    let muted = palette::hex(palette::MUTED);
    let grey = day_plot
        .iter()
        .filter(|(name, fill)| name == "rect" && fill.as_deref() == Some(muted.as_str()))
        .count();
    assert_eq!(grey, 1, "one stretch off the wrist");
}

#[test]
fn history_day_prints_the_merged_timeline_of_that_day() {
    let (dir, profile) = calibrated([15, 15, 15]);
    let store = open(dir.path());
    let band = add_history(&store, profile);
    add_synced_minutes(&store, profile, band);
    let day = Day::of(PAST_MS, 0).to_string();
    let out = bandx(dir.path(), &["history", "--day", &day]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Live from 10:00 UTC, 5 minutes per class; the band's log from 10:30.
    assert_eq!(
        stdout(&out),
        "start\tend\twhat\tsource\n\
         10:00:00\t10:05:00\tjogging\tlive\n\
         10:05:00\t10:10:00\tsitting\tlive\n\
         10:10:00\t10:15:00\twalking\tlive\n\
         10:15:00\t10:20:00\tjogging\tlive\n\
         10:30:00\t10:40:00\tsitting\tband log\n\
         10:40:00\t10:45:00\tnot worn\tband log\n"
    );
    assert!(
        stderr(&out).contains("sitting: 10.0 min from the band's log, 5.0 min live"),
        "{}",
        stderr(&out)
    );
    // Local time: an hour east of UTC the same stretches start at 11:00.
    let out = bandx(
        dir.path(),
        &["history", "--day", &day, "--utc-offset-minutes", "60"],
    );
    assert!(
        stdout(&out)
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("11:00:00\t11:05:00\tjogging"),
        "{}",
        stdout(&out)
    );
    let out = bandx(dir.path(), &["history", "--day", "2026-02-30"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("is not a date like"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn report_with_only_calibration_data_skips_what_is_missing() {
    let (dir, _) = calibrated([15, 15, 15]);
    let report = dir.path().join("report");
    let out = bandx(dir.path(), &["report", "--out", report.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let md = std::fs::read_to_string(report.join("report.md")).unwrap();
    for plot in [
        "signal-1-walking.svg",
        "signal-2-jogging.svg",
        "signal-3-sitting.svg",
    ] {
        svg_elements(&report.join(plot));
        assert!(md.contains(&format!("]({plot})")), "{md}");
    }
    for missing in ["confusion.svg", "timeline.svg", "daily.svg"] {
        assert!(!report.join(missing).exists(), "{missing}");
        assert!(!md.contains(missing), "{md}");
    }
    assert!(md.contains("No model trained yet"), "{md}");
    assert!(md.contains("No predictions stored yet"), "{md}");
    assert!(md.contains("No model written to a band yet"), "{md}");
}

#[test]
fn help_documents_the_store_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let out = bandx(dir.path(), &["--help"]);
    assert!(out.status.success());
    let text = stdout(&out);
    for line in [
        format!("{EXIT_PROFILE}  no such profile"),
        format!("{EXIT_NOT_ENOUGH_DATA}  not enough calibration data"),
    ] {
        assert!(text.contains(&line), "no `{line}` in:\n{text}");
    }
}
