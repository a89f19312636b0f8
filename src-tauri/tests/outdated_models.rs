//! Models stored by an older BandX Studio (blob format 1, refused by this build's bandx-core), on a
//! real SQLite file: listed with the reason (and only they), refused before anything touches the
//! band by the app's flash command and by `bandx deploy`, and never deleted or rewritten.

use std::path::Path;

#[path = "support/bandx_cli.rs"]
mod bandx_cli;
use bandx_cli::bandx;

use bandx_core::blob::{BlobError, DIGEST_LEN, FORMAT_VERSION, Model, sha256};
use bandx_studio::app::commands::data::overview;
use bandx_studio::app::commands::flash::{FlashRequest, model_to_flash};
use bandx_studio::link::sim::{DEMO_PERSONAL_MODEL, FLASH_FILE_NAME, SHIPPED_MODEL};
use bandx_studio::paths::DataDir;
use bandx_studio::store::{NewModel, ProfileId, Store, Transport};

const REASON: &str =
    "made by an older BandX Studio (blob format 1); train again from your recordings";
const SENTENCE: &str = "Model v1 cannot run on the band: it was made by an older BandX Studio \
                        (blob format 1); train again from your recordings.";

/// `blob` with its format-version field (bytes 4..6, FORMAT.md) set to `version` and its SHA-256
/// digest recomputed, so the version is all that differs.
fn with_version(blob: &[u8], version: u16) -> Vec<u8> {
    let mut out = blob.to_vec();
    out[4..6].copy_from_slice(&version.to_le_bytes());
    let body = out.len() - DIGEST_LEN;
    let digest = sha256(&out[..body]);
    out[body..].copy_from_slice(&digest);
    out
}

/// `blob` as the previous build wrote it.
fn as_format_1(blob: &[u8]) -> Vec<u8> {
    with_version(blob, 1)
}

#[test]
fn the_version_1_copy_differs_only_in_its_version() {
    assert_eq!(
        FORMAT_VERSION, 2,
        "this test builds a blob one version older"
    );
    let old = as_format_1(DEMO_PERSONAL_MODEL);
    assert_eq!(
        Model::parse(&old).err(),
        Some(BlobError::UnsupportedVersion { found: 1 })
    );
    // Set back to 2 (digest recomputed the same way) it is the real, valid blob again.
    let back = with_version(&old, FORMAT_VERSION);
    assert_eq!(back, DEMO_PERSONAL_MODEL);
    assert!(Model::parse(&back).is_ok());
}

fn add(store: &Store, profile: ProfileId, blob: &[u8], classes: &[&str]) -> u32 {
    store
        .add_model(
            profile,
            &NewModel {
                backbone_id: "test".into(),
                classes: classes.iter().map(|s| s.to_string()).collect(),
                metrics: serde_json::json!({ "personal_accuracy": 0.9 }),
                blob: blob.to_vec(),
                created_at_ms: 1,
            },
        )
        .unwrap()
        .1
}

#[test]
fn only_the_old_model_is_listed_as_outdated_and_it_is_kept_as_stored() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bandx.sqlite");
    let old = as_format_1(DEMO_PERSONAL_MODEL);
    let profile = {
        // What the previous build left: model v1 in format 1; then this build trained v2.
        let store = Store::open(&path).unwrap();
        let profile = store.create_profile("ana", 0).unwrap();
        assert_eq!(add(&store, profile, &old, &["walking", "typing"]), 1);
        assert_eq!(
            add(&store, profile, SHIPPED_MODEL, &["walking", "typing"]),
            2
        );
        profile
    };

    let store = Store::open(&path).unwrap();
    let models = store.models(profile).unwrap();
    let marks: Vec<_> = models
        .iter()
        .map(|m| (m.version, m.outdated.as_deref()))
        .collect();
    assert_eq!(marks, [(1, Some(REASON)), (2, None)]);
    assert_eq!(models[0].blob, old, "the old blob is kept byte for byte");

    // What the Data and Flash screens receive.
    let rows = overview(&store, profile).unwrap().models;
    let json = serde_json::to_value(&rows).unwrap();
    assert_eq!(json[0]["version"], 1);
    assert_eq!(json[0]["outdated"], REASON);
    assert_eq!(json[1]["version"], 2);
    assert!(json[1]["outdated"].is_null(), "{json}");
    drop(store);

    // Listing read it only: the row is unchanged on disk.
    let again = Store::open(&path).unwrap().models(profile).unwrap();
    assert_eq!(again, models);
}

/// A store whose newest model is the old one, and a snapshot of everything a deploy would touch.
fn store_with_old_newest(path: &Path) -> (ProfileId, String) {
    let store = Store::open(path).unwrap();
    let profile = store.create_profile("ana", 0).unwrap();
    add(
        &store,
        profile,
        &as_format_1(DEMO_PERSONAL_MODEL),
        &["walking", "typing"],
    );
    (profile, snapshot(&store, profile))
}

fn snapshot(store: &Store, profile: ProfileId) -> String {
    format!(
        "{:?}\n{:?}\n{:?}",
        store.models(profile).unwrap(),
        store.deployments(profile).unwrap(),
        store.bands().unwrap()
    )
}

#[test]
fn the_app_refuses_to_flash_an_old_model_before_anything_is_recorded_or_sent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bandx.sqlite");
    let (profile, before) = store_with_old_newest(&path);
    let store = Store::open(&path).unwrap();

    for transport in [Transport::BleModel, Transport::Usb] {
        let request = FlashRequest {
            profile,
            transport,
            file: None,
            port: Some("/dev/bandx-test-no-such-port".into()),
        };
        let e = model_to_flash(&store, &request).expect_err("an outdated model is refused");
        assert_eq!(e.code, "outdated", "{transport:?}: {e:?}");
        assert_eq!(e.message, SENTENCE, "{transport:?}");
        assert!(e.next_step.contains("Train again"), "{e:?}");
    }
    // A firmware image does not send the model: nothing to refuse.
    for (transport, file) in [
        (Transport::BleFirmware, "/tmp/fw.bin"),
        (Transport::Usb, "/tmp/fw.bin"),
    ] {
        let request = FlashRequest {
            profile,
            transport,
            file: Some(file.into()),
            port: None,
        };
        assert!(model_to_flash(&store, &request).is_ok(), "{transport:?}");
    }
    assert_eq!(
        snapshot(&store, profile),
        before,
        "no deployment row, nothing rewritten"
    );
    assert!(store.deployments(profile).unwrap().is_empty());
}

#[test]
fn bandx_deploy_refuses_an_old_model_before_opening_the_band() {
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::at(dir.path());
    let (profile, before) = store_with_old_newest(&data.store_path());

    for args in [
        &["--sim", "deploy", "--model-version", "1"][..],
        &[
            "deploy",
            "--usb",
            "--port",
            "/dev/bandx-test-no-such-port",
            "--model-version",
            "1",
        ][..],
    ] {
        let out = bandx(dir.path(), args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(SENTENCE), "{args:?}: {err}");
        // Not the port's error: the serial port was never opened.
        assert!(!err.contains("no-such-port"), "{args:?}: {err}");
    }
    // The virtual band was never started (it creates its flash file when opened).
    assert!(
        !data.sim_dir().join(FLASH_FILE_NAME).exists(),
        "the virtual band was opened"
    );

    // The listing marks it.
    let out = bandx(dir.path(), &["--sim", "deploy", "--model-version", "9"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("(its versions: 1 (outdated))"), "{err}");

    // So does the report.
    let out_dir = dir.path().join("report");
    let out = bandx(dir.path(), &["report", "--out", out_dir.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let md = std::fs::read_to_string(out_dir.join("report.md")).unwrap();
    assert!(
        md.contains("- Version 1 is outdated: made by an older BandX Studio"),
        "{md}"
    );

    let store = Store::open(data.store_path()).unwrap();
    assert_eq!(
        snapshot(&store, profile),
        before,
        "no deployment row, nothing rewritten"
    );
}
