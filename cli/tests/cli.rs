//! The built `bandx` binary, run as a script would run it.

use std::process::Command;

mod support;
use support::{bandx_bare, stderr, stdout};

use bandx_core::blob::Model;
use bandx_desktop::link::sim::SHIPPED_MODEL;

/// The documented exit code for "no Bluetooth adapter" (see `bandx --help`).
const EXIT_NO_ADAPTER: i32 = 3;

#[test]
fn info_on_the_virtual_band_prints_the_shipped_labels() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap();
    support::ensure_paired(dir.path());
    let out = bandx_bare(&["--sim", "--data-dir", data_dir, "info"]);
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    let labels: Vec<&str> = Model::parse(SHIPPED_MODEL)
        .unwrap()
        .labels()
        .iter()
        .collect();
    let line = format!("labels: {}", labels.join(","));
    assert!(text.lines().any(|l| l == line), "no `{line}` in:\n{text}");
    assert!(text.lines().any(|l| l == "sample_rate_hz: 20"), "{text}");
    assert!(dir.path().join("virtual-band.flash").is_file());
}

#[test]
fn stream_prints_two_seconds_of_si_samples() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap();
    support::ensure_paired(dir.path());
    let out = bandx_bare(&["--sim", "--data-dir", data_dir, "stream", "--seconds", "2"]);
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    let rows: Vec<Vec<f64>> = text
        .lines()
        .map(|l| l.split('\t').map(|v| v.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), 40, "2 s at 20 Hz:\n{text}");
    for pair in rows.windows(2) {
        assert_eq!(pair[0].len(), 7, "time + 6 channels");
        assert_eq!(pair[1][0] - pair[0][0], 50.0, "20 Hz band clock");
    }
    assert!(
        stderr(&out).contains("samples: 40, lost_frames: 0"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_unknown_subcommand_is_a_usage_error() {
    let out = bandx_bare(&["--sim", "frobnicate"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(stderr(&out).contains("frobnicate"), "{}", stderr(&out));
}

#[test]
fn help_documents_the_exit_codes() {
    let out = bandx_bare(&["--help"]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(
        text.contains(&format!("{EXIT_NO_ADAPTER}  no Bluetooth adapter")),
        "{text}"
    );
}

#[test]
fn without_bluetooth_scan_says_so_and_suggests_the_virtual_band() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("no-such-bus");
    let out = Command::new(env!("CARGO_BIN_EXE_bandx"))
        .arg("scan")
        .env(
            "DBUS_SYSTEM_BUS_ADDRESS",
            format!("unix:path={}", socket.display()),
        )
        .output()
        .expect("running bandx");
    assert_eq!(out.status.code(), Some(EXIT_NO_ADAPTER), "{out:?}");
    assert!(stdout(&out).is_empty());
    assert!(stderr(&out).contains("--sim"), "{}", stderr(&out));
}

#[test]
fn an_unknown_band_id_exits_with_the_not_found_code() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap();
    let out = bandx_bare(&[
        "--sim",
        "--data-dir",
        data_dir,
        "--band",
        "sim:nobody",
        "info",
    ]);
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    assert!(stdout(&out).is_empty());
    assert!(stderr(&out).contains("sim:nobody"), "{}", stderr(&out));
}

#[test]
fn verbose_prints_where_the_log_is_and_the_log_records_the_failure() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let out = support::bandx(&data_dir, &["--verbose", "history"]);
    assert_eq!(out.status.code(), Some(6), "no store yet: {out:?}");
    let log = data_dir.join("logs").join("bandx.log");
    let line = format!("log: {}", log.display());
    assert!(
        stderr(&out).lines().any(|l| l == line),
        "no `{line}` in:\n{}",
        stderr(&out)
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("INFO") && text.contains("started"), "{text}");
    assert!(
        text.contains("failed: no BandX Studio data") && text.contains("exit=6"),
        "the failure is logged:\n{text}"
    );

    // Without --verbose the path is not printed, and the same file grows.
    let out = support::bandx(&data_dir, &["history"]);
    assert!(!stderr(&out).contains("log: "), "{}", stderr(&out));
    let again = std::fs::read_to_string(&log).unwrap();
    assert!(
        again.len() > text.len() && again.starts_with(&text),
        "appended"
    );
}
