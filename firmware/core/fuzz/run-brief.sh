#!/usr/bin/env bash
# Runs each bandx-core fuzz target briefly (default 30 s each) from its committed seed corpus.
# Needs the nightly toolchain; installs cargo-fuzz if missing. Usage: run-brief.sh [seconds]
set -euo pipefail
seconds="${1:-30}"
cd "$(dirname "$0")"
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz..."
    cargo install cargo-fuzz --locked
fi
for target in blob_parse message_decode app_image_check; do
    echo "== fuzzing $target for ${seconds}s"
    # Work on a scratch copy so new inputs do not churn the committed seeds.
    work="$(mktemp -d)"
    cp corpus/"$target"/* "$work"/
    cargo +nightly fuzz run "$target" "$work" -- -max_total_time="$seconds" -max_len=16384
    rm -rf "$work"
done
echo "fuzzing done: no crashes"
