//! `bandx deploy` on the virtual band, run as a script would run the built binary.

use bandx_core::blob::Model;
use bandx_desktop::link::sim::SHIPPED_MODEL;
use bandx_desktop::store::{DeploymentStatus, NewModel, Store, Transport};

mod support;
use support::{bandx_sim as bandx, stderr, stdout, value};

#[test]
fn deploy_a_blob_file_and_the_band_runs_it() {
    let dir = tempfile::tempdir().unwrap();
    let blob = bandx_testkit::demo_blob(4242, 3, 3);
    let file = dir.path().join("model.blob");
    std::fs::write(&file, &blob).unwrap();

    let out = bandx(
        dir.path(),
        &["deploy", "--blob", file.to_str().unwrap(), "--mtu", "23"],
    );
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    assert_eq!(value(&text, "model_id"), Some("4242"), "{text}");
    assert_eq!(value(&text, "model_version"), Some("3"), "{text}");
    assert_eq!(value(&text, "mtu"), Some("23"), "{text}");
    assert_eq!(value(&text, "bytes"), Some(blob.len().to_string().as_str()));
    assert!(stderr(&out).contains("deployed model"), "{}", stderr(&out));

    // A later run sees it: it is on the virtual band's flash.
    let info = bandx(dir.path(), &["info"]);
    assert!(info.status.success(), "{info:?}");
    assert_eq!(value(&stdout(&info), "model_id"), Some("4242"));
}

#[test]
fn a_malformed_blob_is_refused_and_the_band_keeps_its_model() {
    let dir = tempfile::tempdir().unwrap();
    let mut blob = SHIPPED_MODEL.to_vec();
    blob.truncate(blob.len() - 10);
    let file = dir.path().join("broken.blob");
    std::fs::write(&file, &blob).unwrap();

    let out = bandx(dir.path(), &["deploy", "--blob", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        stderr(&out).contains("This model cannot run on the band")
            && stderr(&out).contains("Nothing was sent"),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).is_empty());

    let info = bandx(dir.path(), &["info"]);
    let shipped = Model::parse(SHIPPED_MODEL).unwrap();
    assert_eq!(
        value(&stdout(&info), "model_id"),
        Some(shipped.id().to_string().as_str())
    );
}

#[test]
fn deploy_a_stored_model_version_and_record_it() {
    let dir = tempfile::tempdir().unwrap();
    let blob = bandx_testkit::demo_blob(77, 1, 3);
    let (profile, model) = {
        let store = Store::open(dir.path().join("bandx.sqlite")).unwrap();
        let profile = store.create_profile("ana", 0).unwrap();
        let (model, version) = store
            .add_model(
                profile,
                &NewModel {
                    backbone_id: "test".into(),
                    classes: bandx_core::demo::DEMO_LABELS
                        .iter()
                        .map(|s| s.to_string())
                        .collect(),
                    metrics: serde_json::json!({}),
                    blob: blob.clone(),
                    created_at_ms: 0,
                },
            )
            .unwrap();
        assert_eq!(version, 1);
        (profile, model)
    };

    let missing = bandx(dir.path(), &["deploy", "--model-version", "5"]);
    assert_eq!(missing.status.code(), Some(1), "{missing:?}");
    assert!(
        stderr(&missing).contains("no model version 5 (its versions: 1)"),
        "{}",
        stderr(&missing)
    );

    let out = bandx(
        dir.path(),
        &["deploy", "--model-version", "1", "--profile", "ana"],
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(value(&stdout(&out), "model_id"), Some("77"));

    let store = Store::open(dir.path().join("bandx.sqlite")).unwrap();
    let rows = store.deployments(profile).unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0];
    assert_eq!(row.model, Some(model));
    assert_eq!(row.transport, Transport::BleModel);
    assert_eq!(row.status, DeploymentStatus::Verified);
    assert_eq!(row.bytes_sent, blob.len() as u64);
    assert!(
        store.band(row.band).unwrap().address.starts_with("5A:1B:"),
        "the virtual band's address"
    );
}

#[test]
fn deploy_needs_exactly_one_payload() {
    let dir = tempfile::tempdir().unwrap();
    let none = bandx(dir.path(), &["deploy"]);
    assert_eq!(none.status.code(), Some(2), "{none:?}");
    let two = bandx(dir.path(), &["deploy", "--blob", "a", "--firmware", "b"]);
    assert_eq!(two.status.code(), Some(2), "{two:?}");
}

/// `--firmware` takes an ELF too: the band receives the app image the desktop makes of it (espflash's library),
/// and a garbled ELF is refused before anything is sent.
#[test]
fn deploy_a_firmware_elf_sends_the_app_image_made_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let elf = bandx_testkit::esp32_demo_elf("0.5.0", 6);
    let image = bandx_desktop::deploy::firmware_file(elf.clone()).expect("it converts");
    let file = dir.path().join("bandx-firmware");
    std::fs::write(&file, &elf).unwrap();

    let out = bandx(
        dir.path(),
        &["deploy", "--firmware", file.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(value(&text, "target"), Some("firmware"), "{text}");
    assert_eq!(
        value(&text, "bytes"),
        Some(image.len().to_string().as_str()),
        "the image's bytes went, not the ELF's ({})",
        elf.len()
    );

    let garbled = dir.path().join("garbled.elf");
    std::fs::write(&garbled, &elf[..elf.len() / 2]).unwrap();
    let out = bandx(
        dir.path(),
        &["deploy", "--firmware", garbled.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let message = stderr(&out);
    assert!(
        message.contains("cannot be made into a firmware image"),
        "{message}"
    );
    assert!(message.contains("Nothing was sent or written"), "{message}");
}
