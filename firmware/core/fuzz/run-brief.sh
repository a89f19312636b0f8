#!/usr/bin/env bash
# Runs each fuzz target briefly (default 30 s each) from its committed seed corpus: bandx-core's
# (firmware/core/fuzz: blob parser, wire decoders, app image check, owner key/signature/record) and bandx-model's (model/fuzz: profile folder,
# WISDM and CSV readers; its first build compiles burn under the fuzzer, ~10+ minutes).
# Needs the nightly toolchain; installs cargo-fuzz if missing. Usage: run-brief.sh [seconds]
# The same seeds are replayed on stable by `cargo test` (firmware/core/tests/fuzz_corpus.rs,
# model/tests/fuzz_corpus.rs).
set -euo pipefail
seconds="${1:-30}"
root="$(cd "$(dirname "$0")/../../.." && pwd)"
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz..."
    cargo install cargo-fuzz --locked
fi
fuzz() { # crate dir, target
    echo "== fuzzing $1 $2 for ${seconds}s"
    # Work on a scratch copy so new inputs do not churn the committed seeds.
    work="$(mktemp -d)"
    cp "$root/$1/corpus/$2"/* "$work"/
    (cd "$root/$1" && cargo +nightly fuzz run "$2" "$work" -- -max_total_time="$seconds" -max_len=16384)
    rm -rf "$work"
}
for target in blob_parse message_decode app_image_check owner_check; do fuzz firmware/core/fuzz "$target"; done
for target in app_export_folder wisdm_subject csv_file; do fuzz model/fuzz "$target"; done
echo "fuzzing done: no crashes"
