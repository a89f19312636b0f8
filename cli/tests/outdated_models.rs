//! Models stored by an older BandX Studio (blob format 1), on a real SQLite file: `bandx deploy` refuses
//! them before it opens the band (virtual or USB), lists them as outdated, and `bandx report` marks them.

mod support;
use support::bandx;

use bandx_desktop::link::sim::FLASH_FILE_NAME;
use bandx_desktop::paths::DataDir;
use bandx_desktop::store::Store;
use bandx_testkit::{store_snapshot, store_with_an_outdated_model};

const SENTENCE: &str = "Model v1 cannot run on the band: it was made by an older BandX Studio \
                        (blob format 1); train again from your recordings.";

#[test]
fn bandx_deploy_refuses_an_old_model_before_opening_the_band() {
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::at(dir.path());
    let (profile, before) = store_with_an_outdated_model(&data.store_path());

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
        store_snapshot(&store, profile),
        before,
        "no deployment row, nothing rewritten"
    );
}
