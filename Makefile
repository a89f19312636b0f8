# BandX Studio. Two commands do everything: `make run` and `make test` (both install what is missing first).
SHELL := /bin/bash
.DEFAULT_GOAL := run
CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: run test bench fuzz setup ui build check lint fmt clippy offline test-rust test-ui test-e2e clean firmware-c3 package

## Install what is missing (Debian packages, Rust components, tauri-driver, npm packages). Idempotent.
setup:
	@bash scripts/setup

## Build the front end that the app embeds.
ui: setup
	npm run build

## Build the app and the CLI (debug, UI embedded). Built through `cargo test --no-run` on purpose: test-only
## dependencies switch on features of shared crates (tokio, bitflags), so a plain `cargo build -p bandx-studio`
## would compile burn and tauri a second time with other features; this way `make run` and `make test` share one build.
build: ui
	$(CARGO) test --workspace --no-run

## Launch BandX Studio (the CLI `target/debug/bandx --sim` reaches the built-in virtual band).
run: build
	@if [ -z "$$DISPLAY" ] && [ -z "$$WAYLAND_DISPLAY" ]; then \
	  echo "No display found: starting the app under xvfb-run (headless)."; \
	  xvfb-run -a ./target/debug/bandx-studio; \
	else ./target/debug/bandx-studio; fi

## Every check and every test of every crate and of the UI, then the GUI end-to-end tests.
test: firmware-c3
	$(MAKE) --no-print-directory check test-ui test-rust test-e2e

check: fmt lint clippy offline

## No user data leaves the machine: no HTTP client may be compiled into anything we build for this platform.
offline:
	@if $(CARGO) tree --workspace -e normal,build --prefix none | grep -E '^(reqwest|ureq|hyper|isahc|curl|attohttpc|tungstenite) '; \
	then echo "offline: an HTTP client crate is in the dependency tree (see above)" >&2; exit 1; \
	else echo "offline: no HTTP client in the dependency tree"; fi

fmt:
	$(CARGO) fmt --all --check

lint:
	npm run check
	npm run lint

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

test-ui:
	npm test

test-rust:
	$(CARGO) test --workspace

# `cargo test --workspace` builds the app binary with the same features as every other test build, so nothing
# is compiled twice; a plain `cargo build -p bandx-studio` would resolve features differently and rebuild.
test-e2e:
	$(CARGO) test --workspace --no-run
	bash scripts/e2e target/debug/bandx-studio

## The ESP32-C3 firmware (firmware/esp32c3, its own workspace and target): release build, rustfmt, the app image
## made by the desktop's own ELF conversion (espflash's library, bandx-desktop's examples/elf2image: what
## `bandx deploy --firmware ELF` and the Flash screen do with an ELF; desktop/tests/firmware_elf.rs compares it with
## tools/app_image.py, esptool's layout) checked by the band's own app image check, and its budgets: the build
## fails if the app image exceeds 640 KiB or the static RAM (.data + .bss) 200 KiB. (Its clippy run, ~70 s more,
## is left to developers: `cd firmware/esp32c3 && cargo clippy --release -- -D warnings`.) The image budget was
## 512 KiB until issue 17: trouble-host's security manager (P-256, AES-CMAC, SMP) adds ~117 KB, measured in
## firmware/esp32c3/README.md, and the owner's ed25519 check ~40 KB; the OTA app slots hold 1,856 KiB. The two
## conversion/check tools are the examples the workspace build (`build`) already made, so nothing is compiled twice.
C3_DIR := firmware/esp32c3
C3_ELF := $(C3_DIR)/target/riscv32imc-unknown-none-elf/release/bandx-firmware-c3
firmware-c3: build
	cd $(C3_DIR) && CARGO_TARGET_DIR=target $(CARGO) build --release --locked
	cd $(C3_DIR) && CARGO_TARGET_DIR=target $(CARGO) fmt --check
	./target/debug/examples/elf2image $(C3_ELF) $(C3_ELF).bin --max-image 655360 --max-static-ram 204800
	./target/debug/examples/check_app_image $(C3_ELF).bin esp32c3

## Benchmarks and budget reports: the ESP32-C3 firmware's app image and static RAM (firmware-c3), the band's budget
## (blob, arena, MACs, time per inference), the virtual band's
## upload throughput, and the paper's protocol on WISDM for the band's 7 classes (a few minutes; report in
## target/bench/bandx-model/report.json: PS(PM), int8 parity, personalization seconds for 7 x 15 windows), and the
## personalization speed with the shipped backbone (7 and 18 classes x 15 windows, median of 5).
## The engine's figures also go to target/bench/engine.json: host us/window beside LiteRT's, and instructions
## per window on the band's ISA (rv32imc, counted in qemu by scripts/rv32-bench, ~1 min; also rv32.json).
## The owner check of an update (ed25519 verify of the signed grant): host us and rv32imc instructions, in
## target/bench/owner.json.
bench: setup firmware-c3
	bash scripts/rv32-bench --json target/bench/rv32.json
	$(CARGO) bench -p bandx-core --bench budget
	$(CARGO) bench -p bandx-core --bench owner
	$(CARGO) run -p bandx-sim --example upload_report
	# bandx-model and bandx-core at opt-level 3 (the workspace's dev profile builds bandx-core at 0), in their own
	# target dir so the test build is not invalidated: the int8 parity then runs at the band engine's host speed.
	$(BANDX_MODEL_O3) evaluate --wisdm ../shared/datasets/wisdm --folds 1 --max-steps 12000 \
	  --user-classes $(BAND_CLASSES) --out target/bench/bandx-model
	# Personalization speed (issue 19): the shipped backbone, WISDM subject 1650, the band's 7 and all 18
	# classes x 15 windows, median of 5 runs, in target/bench/personalize-{7,18}x15.json (with the load average).
	$(BANDX_MODEL_O3) personalize --base model/pretrained/backbone.json --wisdm ../shared/datasets/wisdm \
	  --subjects 1650 --labels $(BAND_CLASSES) --out target/bench/personal-7.json \
	  --repeat 5 --timings target/bench/personalize-7x15.json
	$(BANDX_MODEL_O3) personalize --base model/pretrained/backbone.json --wisdm ../shared/datasets/wisdm \
	  --subjects 1650 --out target/bench/personal-18.json --repeat 5 --timings target/bench/personalize-18x15.json

BAND_CLASSES = walking,jogging,stairs,sitting,standing,typing,writing
BANDX_MODEL_O3 = CARGO_TARGET_DIR=target/bandx-model-private $(CARGO) run -q -p bandx-model --bin bandx-model \
  --config 'profile.dev.package.bandx-model.opt-level=3' --config 'profile.dev.package.bandx-core.opt-level=3' --

## The installable Debian package: UI, app and `bandx` CLI in release, bundled by Tauri (deb only, nothing
## downloaded), then inspected by scripts/check-deb (files, declared dependencies, the embedded UI, `bandx --version`
## from the package). Writes target/release/bundle/deb/*.deb. A clean release build takes 15+ min on 2 cores.
package: setup
	bash scripts/package

## Run each fuzz target briefly (needs the nightly toolchain; installs cargo-fuzz if missing).
fuzz:
	bash firmware/core/fuzz/run-brief.sh 30

clean:
	$(CARGO) clean
	rm -rf ui/dist test-output
