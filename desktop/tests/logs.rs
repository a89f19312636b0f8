//! The log file as a program sets it up with `logs::init`: it appears in the data directory's `logs/`, holds
//! the library's records, and a panic writes what happened there (one process: the subscriber and the panic
//! hook are process-wide, so this file holds a single test).

use bandx_desktop::logs::{self, LogSetup};
use bandx_desktop::paths::DataDir;

#[test]
fn the_log_file_appears_and_a_panic_is_recorded_in_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::at(dir.path().join("data"));
    let logging = logs::init(
        Some(&data),
        &LogSetup {
            program: "bandx-test",
            stderr_default: None,
        },
    );
    let path = logging.file.expect("the log file opens");
    assert_eq!(path, data.root().join("logs/bandx-test.log"));

    tracing::info!(target: "bandx_desktop::link", "connected");
    tracing::debug!("below the default level: not in the file");
    let crashed = std::thread::Builder::new()
        .name("worker".into())
        .spawn(|| {
            let v: Vec<u8> = Vec::new();
            panic!("index {} out of range", v.len() + 7)
        })
        .unwrap()
        .join();
    assert!(crashed.is_err());

    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("started") && text.contains("program=\"bandx-test\""),
        "{text}"
    );
    assert!(text.contains("connected"), "{text}");
    assert!(!text.contains("below the default level"), "{text}");
    let panic = text
        .lines()
        .find(|l| l.contains("ERROR panic"))
        .unwrap_or_else(|| panic!("no panic record in\n{text}"));
    assert!(panic.contains("index 7 out of range"), "{panic}");
    assert!(
        panic.contains("in thread 'worker' at desktop/tests/logs.rs:"),
        "{panic}"
    );
    let after = &text[text.find("index 7 out of range").unwrap()..];
    assert!(
        after.contains("the_log_file_appears"),
        "a backtrace follows: {after}"
    );
}
