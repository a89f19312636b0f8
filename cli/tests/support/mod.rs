//! What the CLI's tests share: running the built `bandx` binary as a script would, and reading its output
//! (`key: value` lines on stdout, sentences on stderr).
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// `bandx --data-dir DIR ARGS...`.
pub fn bandx(data_dir: &Path, args: &[&str]) -> Output {
    run(Some(data_dir), args, &[])
}

/// `bandx --data-dir DIR --sim ARGS...`: on the virtual band, paired with it first (`bandx --sim pair`, once
/// per data directory, as a user does before anything else).
pub fn bandx_sim(data_dir: &Path, args: &[&str]) -> Output {
    ensure_paired(data_dir);
    bandx(data_dir, &[&["--sim"], args].concat())
}

/// [`bandx_sim`] with the virtual band at 20x real time (`BANDX_SIM_SPEED`).
pub fn bandx_sim_fast(data_dir: &Path, args: &[&str]) -> Output {
    ensure_paired(data_dir);
    run(
        Some(data_dir),
        &[&["--sim"], args].concat(),
        &[("BANDX_SIM_SPEED", "20")],
    )
}

/// Pairs the desktop of `data_dir` with its virtual band unless it holds a bond already.
pub fn ensure_paired(data_dir: &Path) {
    let bond = std::fs::read_to_string(data_dir.join("virtual-band.bond.json")).unwrap_or_default();
    if !bond.contains("\"ltk\": \"") {
        let (out, _) = pair_sim(data_dir, |shown| shown.to_string());
        assert!(out.status.success(), "bandx --sim pair: {}", stderr(&out));
    }
}

/// `bandx --sim pair` as a user runs it: reads the code the virtual band shows (`band_screen:`) and types
/// `typed(code)` at the prompt. Returns the output and the code shown.
pub fn pair_sim(data_dir: &Path, typed: impl FnOnce(&str) -> String) -> (Output, String) {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_bandx"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--sim", "pair"])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running bandx pair");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut shown = String::new();
    let mut seen = String::new();
    let mut line = String::new();
    while stdout.read_line(&mut line).unwrap_or(0) > 0 {
        seen.push_str(&line);
        if let Some(code) = line.trim().strip_prefix("band_screen: ") {
            shown = code.to_string();
            break;
        }
        line.clear();
    }
    if !shown.is_empty() {
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "{}", typed(&shown)).unwrap();
    }
    stdout.read_to_string(&mut seen).unwrap();
    let mut out = child.wait_with_output().expect("bandx pair ends");
    out.stdout = seen.into_bytes();
    (out, shown)
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
