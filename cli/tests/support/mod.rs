//! What the CLI's tests share: running the built `bandx` binary as a script would, and reading its output
//! (`key: value` lines on stdout, sentences on stderr).
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// `bandx --data-dir DIR ARGS...`.
pub fn bandx(data_dir: &Path, args: &[&str]) -> Output {
    run(Some(data_dir), args, &[])
}

/// `bandx --data-dir DIR --sim ARGS...`: on the virtual band.
pub fn bandx_sim(data_dir: &Path, args: &[&str]) -> Output {
    bandx(data_dir, &[&["--sim"], args].concat())
}

/// [`bandx_sim`] with the virtual band at 20x real time (`BANDX_SIM_SPEED`).
pub fn bandx_sim_fast(data_dir: &Path, args: &[&str]) -> Output {
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
    // Never the user's own settings file: one beside the test's data directory (or none at all).
    let settings = match data_dir {
        Some(dir) => dir.with_extension("settings.toml"),
        None => std::env::temp_dir().join("bandx-cli-tests-without-settings/settings.toml"),
    };
    command.env("BANDX_CONFIG", settings);
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
