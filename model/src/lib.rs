//! bandx-model: wrist IMU recordings in, the int8 blob the band runs out.
//!
//! readers -> [`recording::Recording`] -> [`preprocess`] (20 Hz, 60 x 6 windows) ->
//! [`train::pretrain`] -> [`personalize::personalize`] (with a [`replay`] set) -> [`export`] (int8 bandx-core blob);
//! [`evaluate`] runs the paper's protocol on any reader.

pub mod checkpoint;
pub mod cnn;
pub mod data;
pub mod error;
pub mod evaluate;
pub mod export;
pub mod personalize;
pub mod pipeline;
pub mod plots;
pub mod preprocess;
pub mod profile_format;
pub mod readers;
pub mod recording;
pub mod replay;
pub mod train;

pub use error::{ModelError, Result};
