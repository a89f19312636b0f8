//! Every bandx-model fuzz target's committed seed corpus (`model/fuzz/corpus/<target>/`), replayed
//! through the target's own check (`model/fuzz/checks.rs`) on stable, with every seed also cut
//! short at a spread of lengths: the readers must never panic. `make fuzz` runs the targets
//! themselves (nightly, cargo-fuzz) for longer.

#[path = "../fuzz/checks.rs"]
mod checks;

use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The seeds of one target, sorted by name.
fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = fuzz_dir().join("corpus").join(target);
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .filter(|(name, _)| !name.starts_with('.'))
        .collect();
    out.sort();
    out
}

/// Runs `check` on `data`, naming the seed and length if it panics.
fn replay(target: &str, seed: &str, check: checks::Check, data: &[u8]) {
    let outcome = std::panic::catch_unwind(|| check(data));
    assert!(
        outcome.is_ok(),
        "{target}: seed {seed} cut to {} bytes panicked",
        data.len()
    );
}

#[test]
fn every_seed_of_every_target_replays_without_a_panic() {
    for (target, check) in checks::TARGETS {
        let seeds = seeds(target);
        assert!(seeds.len() >= 3, "{target}: only {} seeds", seeds.len());
        for (name, data) in &seeds {
            replay(target, name, check, data);
            let step = (data.len() / 64).max(1);
            for len in (0..data.len()).step_by(step) {
                replay(target, name, check, &data[..len]);
            }
        }
    }
}

#[test]
fn every_fuzz_target_has_a_replayed_corpus() {
    let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).unwrap();
    let mut bins: Vec<&str> = manifest
        .lines()
        .filter_map(|l| l.strip_prefix("name = \""))
        .filter_map(|l| l.strip_suffix('"'))
        .filter(|name| *name != "bandx-model-fuzz")
        .collect();
    let mut replayed: Vec<&str> = checks::TARGETS.iter().map(|(name, _)| *name).collect();
    bins.sort();
    replayed.sort();
    assert_eq!(bins, replayed, "fuzz/Cargo.toml targets vs checks::TARGETS");
}

#[test]
fn the_regression_seeds_are_refused_not_read() {
    use bandx_model::readers::app_export;
    let dir = fuzz_dir().join("corpus/app_export_folder");
    for (seed, needle) in [
        ("duplicate-id-regression", "listed twice"),
        (
            "declared-count-regression",
            "recordings.json says 1000000000000",
        ),
    ] {
        let files = app_export::unbundle(&std::fs::read(dir.join(seed)).unwrap());
        let err = app_export::read_files(&files).unwrap_err().to_string();
        assert!(err.contains(needle), "{seed}: {err}");
    }
    // The seed a clean export makes is read.
    let files = app_export::unbundle(&std::fs::read(dir.join("two-classes")).unwrap());
    let recs = app_export::read_files(&files).unwrap();
    assert_eq!(recs.iter().filter(|r| r.label == "sitting").count(), 1);
}
