//! Runs the built `bandx` binary on a data directory, as a script would.

use std::path::Path;
use std::process::{Command, Output};

pub fn bandx(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bandx"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("running bandx")
}
