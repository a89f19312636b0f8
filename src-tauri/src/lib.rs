//! bandx-studio: the desktop core of BandX Studio (links, store, calibration, training, deployment, plots),
//! the Tauri app that puts a face on it, and the `bandx` CLI on the same library.

pub mod app;
pub mod band;
pub mod calibrate;
pub mod deploy;
pub mod link;
pub mod live;
pub mod paths;
pub mod plots;
pub mod store;
pub mod train;
