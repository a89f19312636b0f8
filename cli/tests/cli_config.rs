//! `bandx config`: list, get and set the settings the app shares, with the same checks; `set data_dir`
//! moves the data safely (copy, verify, switch; the old folder kept); a bad settings file is a warning and
//! the defaults, never a crash.

use std::path::Path;
use std::process::{Command, Output};

mod support;
use support::{field, stderr, stdout};

use bandx_desktop::store::Store;

/// `bandx ARGS...` with this settings file and no --data-dir (the settings decide).
fn bandx(settings: &Path, data_home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bandx"))
        .args(args)
        .env("BANDX_CONFIG", settings)
        .env("XDG_DATA_HOME", data_home)
        .env("RUST_LOG", "warn")
        .output()
        .expect("running bandx")
}

#[test]
fn set_get_and_list_with_the_same_checks_as_the_app() {
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join("conf/settings.toml");
    let out = bandx(&settings, dir.path(), &["config", "set", "theme", "dark"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout(&out), "theme: dark\n");
    let out = bandx(
        &settings,
        dir.path(),
        &["config", "set", "serial_port", "/dev/ttyUSB0"],
    );
    assert!(out.status.success(), "{out:?}");
    let out = bandx(&settings, dir.path(), &["config", "get", "theme"]);
    assert_eq!(stdout(&out), "dark\n");

    let out = bandx(&settings, dir.path(), &["config", "list"]);
    let text = stdout(&out);
    assert_eq!(field(&text, "theme"), "dark");
    assert_eq!(field(&text, "serial_port"), "/dev/ttyUSB0");
    assert!(text.lines().any(|l| l == "band: "), "{text}");
    assert_eq!(field(&text, "file"), settings.display().to_string());

    // Bad values are refused with a sentence and change nothing.
    let out = bandx(&settings, dir.path(), &["config", "set", "theme", "purple"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("theme must be system, light or dark"),
        "{}",
        stderr(&out)
    );
    let out = bandx(
        &settings,
        dir.path(),
        &["config", "set", "data_dir", "relative"],
    );
    assert!(
        stderr(&out).contains("must be a full path"),
        "{}",
        stderr(&out)
    );
    let out = bandx(&settings, dir.path(), &["config", "get", "volume"]);
    assert!(
        stderr(&out).contains("no setting called \"volume\""),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        stdout(&bandx(&settings, dir.path(), &["config", "get", "theme"])),
        "dark\n"
    );
}

#[test]
fn a_bad_settings_file_is_a_warning_and_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join("settings.toml");
    std::fs::write(&settings, "theme = \"dark\"\ndata_dir = 12\n").unwrap();
    let out = bandx(&settings, dir.path(), &["config", "list"]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        stderr(&out).contains("line 2, `data_dir = 12`"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("default settings"),
        "{}",
        stderr(&out)
    );
    assert_eq!(field(&stdout(&out), "theme"), "system", "the defaults");
    // Other commands run on with the default data folder and say why.
    let out = bandx(&settings, dir.path(), &["history"]);
    assert!(stderr(&out).contains("warning: "), "{}", stderr(&out));
    assert_eq!(
        out.status.code(),
        Some(6),
        "no store in the default folder: {out:?}"
    );
}

#[test]
fn setting_the_data_dir_moves_the_data_and_the_next_commands_use_it() {
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join("settings.toml");
    let old = dir.path().join("bandx-studio"); // the default: $XDG_DATA_HOME/bandx-studio
    std::fs::create_dir_all(&old).unwrap();
    let store = Store::open(old.join("bandx.sqlite")).unwrap();
    store.create_profile("ana", 0).unwrap();
    drop(store);
    let new = dir.path().join("elsewhere");

    let out = bandx(
        &settings,
        dir.path(),
        &["config", "set", "data_dir", new.to_str().unwrap()],
    );
    assert!(out.status.success(), "{out:?}");
    assert!(
        stderr(&out).contains("copied and verified"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("is kept"), "{}", stderr(&out));
    assert_eq!(
        Store::open(new.join("bandx.sqlite"))
            .unwrap()
            .profiles()
            .unwrap()[0]
            .name,
        "ana"
    );
    assert!(old.join("bandx.sqlite").is_file(), "the old folder is kept");

    // The next command works on the new folder: exporting ana from there.
    let export = dir.path().join("export");
    let out = bandx(
        &settings,
        dir.path(),
        &["export", "--profile", "ana", export.to_str().unwrap()],
    );
    assert!(out.status.success(), "{out:?}");
    assert!(
        new.join("logs/bandx.log").is_file(),
        "the logs follow the data"
    );

    // Moving into a folder that is not empty is refused; the setting stays.
    let out = bandx(
        &settings,
        dir.path(),
        &["config", "set", "data_dir", export.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("is not empty"), "{}", stderr(&out));
    let out = bandx(&settings, dir.path(), &["config", "get", "data_dir"]);
    assert_eq!(stdout(&out).trim(), new.display().to_string());
}
