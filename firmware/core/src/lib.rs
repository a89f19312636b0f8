//! bandx-core: everything the BandX band does and everything that crosses the air between band and desktop.
//!
//! `no_std`, no heap, no `unsafe`. Modules:
//! - [`quant`]: TFLite-style fixed-point requantization (the one definition the exporter also uses);
//! - [`blob`]: the model blob format (`FORMAT.md`), its writer and zero-copy parser;
//! - [`infer`]: the int8 engine;
//! - [`budget`]: the band's blob/arena/MAC budgets and `check_model` (parse, self-test, budgets in one call);
//! - [`imu`]: raw samples, full scale, conversion to SI;
//! - [`frame`]: IMU stream frames sized to a BLE notification, loss detection;
//! - [`window`]: the 60 x 6 sliding window, every 30 samples;
//! - [`protocol`]: the BLE wire protocol (`PROTOCOL.md`);
//! - [`update`]: the model (A/B slots) and firmware update receiver, the ESP-IDF app image check;
//! - [`log`]: the band's activity log, one record per minute in a flash ring, synced by the desktop;
//! - [`band`]: the app logic, `Band<P: Platform>`;
//! - [`boot`]: confirm-after-boot, the policy that keeps or rolls back a new firmware;
//! - [`pairing`]: who may pair with the band (pairing mode, bonds) and the passkey it shows;
//! - [`owner`]: the owner's ed25519 key, the signed update grant and its check, the owner record on flash;
//! - [`demo`]: a representative 7-class model (random weights) for tests, benches and the simulator.
#![no_std]
#![forbid(unsafe_code)]

pub mod band;
pub mod blob;
pub mod boot;
pub mod budget;
pub mod frame;
pub mod imu;
pub mod infer;
pub mod log;
pub mod owner;
pub mod pairing;
pub mod protocol;
pub mod quant;
pub mod update;
pub mod window;

pub mod demo;
#[cfg(test)]
mod reference;
#[cfg(test)]
mod torn_nor;

/// Samples per model window (3 s at 20 Hz).
pub const WINDOW_LEN: usize = 60;
/// Channels per sample: ax, ay, az (m/s²), gx, gy, gz (rad/s).
pub const CHANNELS: usize = 6;
/// IMU sample rate.
pub const SAMPLE_RATE_HZ: u32 = 20;
/// New samples between consecutive windows (50 % overlap).
pub const WINDOW_HOP: usize = 30;

/// One window of SI samples, `[t][c]`.
pub type Window = [[f32; CHANNELS]; WINDOW_LEN];
