//! Models stored by an older BandX Studio (blob format 1, refused by this build's bandx-core), on a
//! real SQLite file: listed with the reason (and only they), refused by the app's flash command before
//! anything touches the band, and never deleted or rewritten. (`bandx deploy`: `cli/tests/outdated_models.rs`.)

use bandx_core::blob::{BlobError, FORMAT_VERSION, Model};
use bandx_desktop::link::sim::{DEMO_PERSONAL_MODEL, SHIPPED_MODEL};
use bandx_desktop::store::{Store, Transport};
use bandx_studio::commands::data::overview;
use bandx_studio::commands::flash::{FlashRequest, model_to_flash};
use bandx_testkit::{add_model, store_snapshot, store_with_an_outdated_model};

const REASON: &str =
    "made by an older BandX Studio (blob format 1); train again from your recordings";
const SENTENCE: &str = "Model v1 cannot run on the band: it was made by an older BandX Studio \
                        (blob format 1); train again from your recordings.";

/// `blob` as the previous build wrote it.
fn as_format_1(blob: &[u8]) -> Vec<u8> {
    bandx_testkit::with_format_version(blob, 1)
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
    let back = bandx_testkit::with_format_version(&old, FORMAT_VERSION);
    assert_eq!(back, DEMO_PERSONAL_MODEL);
    assert!(Model::parse(&back).is_ok());
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
        assert_eq!(add_model(&store, profile, &old, &["walking", "typing"]), 1);
        assert_eq!(
            add_model(&store, profile, SHIPPED_MODEL, &["walking", "typing"]),
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

#[test]
fn the_app_refuses_to_flash_an_old_model_before_anything_is_recorded_or_sent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bandx.sqlite");
    let (profile, before) = store_with_an_outdated_model(&path);
    let store = Store::open(&path).unwrap();

    for transport in [Transport::BleModel, Transport::Usb] {
        let request = FlashRequest {
            profile,
            transport,
            file: None,
            port: Some("/dev/bandx-test-no-such-port".into()),
            allow_downgrade: false,
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
            allow_downgrade: false,
        };
        assert!(model_to_flash(&store, &request).is_ok(), "{transport:?}");
    }
    assert_eq!(
        store_snapshot(&store, profile),
        before,
        "no deployment row, nothing rewritten"
    );
    assert!(store.deployments(profile).unwrap().is_empty());
}
