//! Ctrl-C in the long `bandx` commands: the first SIGINT stops them cleanly, they keep what is
//! done and exit with 130; running the same `record` again carries on where it stopped.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

mod support;
use support::field;

use bandx_desktop::store::{Store, Verdict};

fn spawn(data_dir: &Path, speed: &str, args: &[&str]) -> Child {
    support::ensure_paired(data_dir);
    Command::new(env!("CARGO_BIN_EXE_bandx"))
        .args(["--sim", "--data-dir", data_dir.to_str().unwrap()])
        .args(args)
        .env("RUST_LOG", "warn")
        .env("BANDX_SIM_SPEED", speed)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running bandx")
}

fn interrupt(child: &Child) {
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("running kill");
    assert!(status.success());
}

/// Waits for the exit (a hung process fails the test instead of hanging it).
fn wait(child: &mut Child, limit: Duration) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("bandx did not stop within {limit:?} of Ctrl-C");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn rest(mut pipe: impl Read) -> String {
    let mut text = String::new();
    pipe.read_to_string(&mut text).unwrap();
    text
}

fn good_windows(data_dir: &Path, profile: &str, class: &str) -> usize {
    let Ok(store) = Store::open(data_dir.join("bandx.sqlite")) else {
        return 0;
    };
    let Some(profile) = store.profile_by_name(profile).unwrap() else {
        return 0;
    };
    let Some(class) = store.class_by_name(profile.id, class).unwrap() else {
        return 0;
    };
    store
        .windows_of_class(class.id)
        .unwrap()
        .iter()
        .filter(|w| w.verdict == Verdict::Good)
        .count()
}

#[test]
fn ctrl_c_stops_record_keeping_its_windows_and_record_carries_on() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "record",
        "--class",
        "walking",
        "--profile",
        "ana",
        "--windows",
        "15",
        "--countdown",
        "0",
        "--activity",
        "walking",
        "--style",
        "natural",
    ];
    // Real time, so there is time to interrupt mid-class: the first good window ends 3 s in, then
    // one every 1.5 s. The store is not opened meanwhile: a second connection during its creation
    // could race the child's migrations.
    let mut child = spawn(dir.path(), "1", &args);
    std::thread::sleep(Duration::from_secs(7));
    if let Some(status) = child.try_wait().unwrap() {
        let err = rest(child.stderr.take().unwrap());
        panic!("record ended early ({status}): {err}");
    }
    interrupt(&child);
    let status = wait(&mut child, Duration::from_secs(20));
    let out = rest(child.stdout.take().unwrap());
    let err = rest(child.stderr.take().unwrap());
    assert_eq!(status.code(), Some(130), "{out}\n{err}");
    let kept: usize = field(&out, "good_windows").parse().unwrap();
    assert!((1..15).contains(&kept), "{out}");
    assert_eq!(good_windows(dir.path(), "ana", "walking"), kept);
    assert!(err.contains("run the same command again"), "{err}");

    // Again, fast: only the missing windows are recorded.
    let mut child = spawn(dir.path(), "20", &args);
    let status = wait(&mut child, Duration::from_secs(60));
    let out = rest(child.stdout.take().unwrap());
    assert!(status.success(), "{out}");
    assert_eq!(field(&out, "good_windows"), "15");
    assert_eq!(good_windows(dir.path(), "ana", "walking"), 15);
}

#[test]
fn ctrl_c_ends_live_with_its_summary_and_the_predictions_stored() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn(dir.path(), "1", &["live", "--seconds", "120"]);
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    // The first prediction (a tab-separated row) arrives after one 3 s window.
    while !first.contains('\t') {
        first.clear();
        assert!(
            stdout.read_line(&mut first).unwrap() > 0,
            "live ended before predicting"
        );
    }
    interrupt(&child);
    let status = wait(&mut child, Duration::from_secs(20));
    let out = first + &rest(stdout);
    assert_eq!(status.code(), Some(130), "{out}");
    let predictions: usize = field(&out, "predictions").parse().unwrap();
    assert!(predictions >= 1, "{out}");
    assert_eq!(field(&out, "stored"), predictions.to_string());
}
