//! What the CLI's tests share: running the built `bandx` binary as a script would, and reading its output
//! (`key: value` lines on stdout, sentences on stderr).
#![allow(dead_code)]

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

/// `bandx --data-dir DIR ARGS...`.
pub fn bandx(data_dir: &Path, args: &[&str]) -> Output {
    run(Some(data_dir), args, &[])
}

/// `bandx --data-dir DIR --sim pair`, once per data dir: this desktop pairs with the virtual band
/// as its owner does once (the band answers nobody else).
pub fn pair_sim(data_dir: &Path) {
    static PAIRED: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);
    let mut paired = PAIRED.lock().unwrap_or_else(|e| e.into_inner());
    if !paired
        .get_or_insert_with(HashSet::new)
        .insert(data_dir.to_path_buf())
    {
        return;
    }
    let out = run(Some(data_dir), &["--sim", "pair"], &[]);
    assert!(out.status.success(), "bandx --sim pair: {out:?}");
}

/// `bandx --data-dir DIR --sim ARGS...`: on the virtual band, paired first ([`pair_sim`]).
pub fn bandx_sim(data_dir: &Path, args: &[&str]) -> Output {
    pair_sim(data_dir);
    bandx(data_dir, &[&["--sim"], args].concat())
}

/// [`bandx_sim`] with the virtual band at 20x real time (`BANDX_SIM_SPEED`).
pub fn bandx_sim_fast(data_dir: &Path, args: &[&str]) -> Output {
    pair_sim(data_dir);
    run(
        Some(data_dir),
        &[&["--sim"], args].concat(),
        &[("BANDX_SIM_SPEED", "20")],
    )
}

/// `bandx ARGS...` with no data directory given.
pub fn bandx_bare(args: &[&str]) -> Output {
    run(None, args, &[])
}

fn run(data_dir: Option<&Path>, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_bandx"));
    if let Some(dir) = data_dir {
        command.arg("--data-dir").arg(dir);
    }
    command
        .args(args)
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .output()
        .expect("running bandx")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The value of a `key: value` line, if there is one.
pub fn value<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(": "))
}

/// The value of a `key: value` line that must be there.
pub fn field<'a>(text: &'a str, key: &str) -> &'a str {
    value(text, key).unwrap_or_else(|| panic!("no `{key}:` in\n{text}"))
}
