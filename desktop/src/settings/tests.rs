use super::*;
use crate::paths::DataDir;
use crate::store::Store;

fn file(dir: &tempfile::TempDir, text: &str) -> PathBuf {
    let path = dir.path().join("settings.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn no_file_means_the_defaults_and_no_complaint() {
    let dir = tempfile::tempdir().unwrap();
    let loaded = load(&dir.path().join("settings.toml"));
    assert_eq!(
        loaded,
        Loaded {
            settings: Settings::default(),
            problem: None
        }
    );
}

#[test]
fn a_saved_file_reads_back_and_is_plain_toml() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("conf/settings.toml");
    let mut s = Settings::default();
    s.set("data_dir", "/srv/bandx").unwrap();
    s.set("serial_port", "/dev/ttyUSB0").unwrap();
    s.set("theme", "dark").unwrap();
    s.set("band", "sim:0").unwrap();
    save(&path, &s).unwrap();
    assert_eq!(
        load(&path),
        Loaded {
            settings: s.clone(),
            problem: None
        }
    );
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("theme = \"dark\"") && text.contains("data_dir = \"/srv/bandx\""),
        "{text}"
    );
    assert_eq!(s.get("theme").unwrap(), "dark");
    assert_eq!(s.get("last_folder").unwrap(), "", "unset is empty");
}

#[test]
fn bad_files_give_the_defaults_and_a_sentence_saying_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    for (text, expected) in [
        (
            "theme = \"purple\"",
            "line 1, `theme = \"purple\"`: unknown variant `purple`",
        ),
        ("data_dir = \"relative/dir\"", "must be a full path"),
        ("colour = 3", "colour"),
        ("this is not toml", "not a valid settings file"),
        ("serial_port = \"\"", "serial_port must not be empty"),
        ("data_dir = 42", "data_dir"),
    ] {
        let loaded = load(&file(&dir, text));
        assert_eq!(loaded.settings, Settings::default(), "{text}");
        let problem = loaded
            .problem
            .unwrap_or_else(|| panic!("{text} was accepted"));
        assert!(problem.contains(expected), "{text}: {problem}");
        assert!(problem.contains("default settings"), "{problem}");
    }
    // Bytes that are not UTF-8 at all.
    std::fs::write(dir.path().join("settings.toml"), [0xff, 0xfe, 0x00]).unwrap();
    assert!(load(&dir.path().join("settings.toml")).problem.is_some());
}

#[test]
fn saving_over_a_bad_file_keeps_it_beside_the_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = file(&dir, "theme = [oops");
    let mut s = load(&path).settings;
    s.set("theme", "light").unwrap();
    save(&path, &s).unwrap();
    assert_eq!(load(&path).settings.theme, Theme::Light);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("settings.toml.bad")).unwrap(),
        "theme = [oops"
    );
}

#[test]
fn set_checks_the_value_and_changes_nothing_when_it_is_bad() {
    let mut s = Settings::default();
    s.set("serial_port", "/dev/ttyACM0").unwrap();
    let before = s.clone();
    assert!(matches!(
        s.set("theme", "blue"),
        Err(SettingsError::BadTheme(_))
    ));
    assert!(matches!(
        s.set("data_dir", "~/x"),
        Err(SettingsError::NotAbsolute { .. })
    ));
    assert!(matches!(
        s.set("serial_port", "a\nb"),
        Err(SettingsError::BadText { .. })
    ));
    assert!(matches!(
        s.set("volume", "11"),
        Err(SettingsError::UnknownKey(_))
    ));
    assert_eq!(s, before);
    s.set("serial_port", "").unwrap();
    assert_eq!(s.serial_port, None, "empty clears");
    let dir = tempfile::tempdir().unwrap();
    let not_a_dir = file(&dir, "");
    assert!(matches!(
        save(&not_a_dir.join("settings.toml"), &s),
        Err(SettingsError::Io { .. })
    ));
}

/// A data directory with a store holding a profile, the virtual band's flash and a log.
fn data_dir(root: &Path) -> DataDir {
    let data = DataDir::at(root);
    std::fs::create_dir_all(data.logs_dir()).unwrap();
    let store = Store::open(data.store_path()).unwrap();
    let p = store.create_profile("ana", 0).unwrap();
    store.add_class(p, "walking", 0).unwrap();
    std::fs::write(root.join("virtual-band.flash"), vec![0xa5u8; 70_000]).unwrap();
    std::fs::write(data.logs_dir().join("bandx.log"), "started\n").unwrap();
    data
}

#[test]
fn relocating_copies_everything_verifies_it_and_keeps_the_old_folder() {
    let dir = tempfile::tempdir().unwrap();
    let old = data_dir(&dir.path().join("old"));
    let new = dir.path().join("new");
    let moved = relocate_data(&old, &new).unwrap();
    assert_eq!(moved.new.root(), new);
    assert_eq!(moved.files, 3, "store, flash, log");
    assert!(moved.rows >= 2, "{} rows", moved.rows);
    let store = Store::open(moved.new.store_path()).unwrap();
    let profiles = store.profiles().unwrap();
    assert_eq!(profiles.len(), 1);
    assert_eq!(profiles[0].name, "ana");
    assert_eq!(
        std::fs::read(new.join("virtual-band.flash")).unwrap(),
        vec![0xa5u8; 70_000]
    );
    assert_eq!(
        std::fs::read_to_string(new.join("logs/bandx.log")).unwrap(),
        "started\n"
    );
    // The old folder is still whole.
    assert_eq!(
        Store::open(old.store_path())
            .unwrap()
            .profiles()
            .unwrap()
            .len(),
        1
    );
    assert!(old.root().join("virtual-band.flash").is_file());
}

#[test]
fn relocating_refuses_a_folder_in_use_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let old = data_dir(&dir.path().join("old"));
    let busy = dir.path().join("busy");
    std::fs::create_dir_all(&busy).unwrap();
    std::fs::write(busy.join("notes.txt"), "mine").unwrap();
    assert!(matches!(
        relocate_data(&old, &busy),
        Err(RelocateError::NotEmpty(_))
    ));
    assert_eq!(
        std::fs::read_to_string(busy.join("notes.txt")).unwrap(),
        "mine"
    );
    assert!(matches!(
        relocate_data(&old, old.root()),
        Err(RelocateError::Same(_))
    ));
    assert!(matches!(
        relocate_data(&old, &old.root().join("sub")),
        Err(RelocateError::Nested { .. })
    ));
    assert!(matches!(
        relocate_data(&old, dir.path()),
        Err(RelocateError::Nested { .. })
    ));
    assert!(matches!(
        relocate_data(&old, Path::new("rel")),
        Err(RelocateError::NotAbsolute(_))
    ));
}

#[test]
fn a_failed_copy_removes_what_it_made_and_leaves_the_old_folder() {
    let dir = tempfile::tempdir().unwrap();
    let old = data_dir(&dir.path().join("old"));
    // The new folder can be made, but a file named like the log folder blocks the logs' copy.
    let new = dir.path().join("new");
    let blocker = dir.path().join("blocker");
    std::fs::write(&blocker, "x").unwrap();
    std::fs::create_dir_all(&new).unwrap();
    std::os::unix::fs::symlink(&blocker, new.join("logs")).unwrap();
    // Not empty: refused before anything is copied.
    assert!(matches!(
        relocate_data(&old, &new),
        Err(RelocateError::NotEmpty(_))
    ));
    std::fs::remove_file(new.join("logs")).unwrap();
    std::fs::remove_dir(&new).unwrap();
    // Read-only parent: the folder cannot be created; the error names the old folder as where data stays.
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    let mut perms = std::fs::metadata(&locked).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o500);
    std::fs::set_permissions(&locked, perms).unwrap();
    let target = locked.join("data");
    match relocate_data(&old, &target) {
        // root ignores permissions: then the copy succeeds, which is fine too.
        Ok(_) => assert!(target.join(crate::paths::STORE_FILE_NAME).is_file()),
        Err(e) => {
            assert!(matches!(e, RelocateError::Copy { .. }), "{e}");
            assert!(e.to_string().contains("stays in"), "{e}");
            assert!(!target.exists());
        }
    }
    assert_eq!(
        Store::open(old.store_path())
            .unwrap()
            .profiles()
            .unwrap()
            .len(),
        1
    );
}
