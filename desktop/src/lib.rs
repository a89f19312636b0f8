//! bandx-desktop: everything BandX Studio does on the desktop, with no window attached. The Tauri app
//! (`src-tauri`) and the `bandx` CLI (`cli/`) are two front ends on this one library.
//!
//! - [`link`]: the radio (btleplug, or the virtual band) behind one `Link` trait;
//! - [`band`]: a typed client of the band's protocol over a link;
//! - [`store`]: the SQLite store (profiles, recordings, models, deployments, predictions), export/import;
//! - [`calibrate`]: guided recording with per-window quality checks;
//! - [`train`]: the personalization job and its cross-validated estimate;
//! - [`deploy`]: writing a model or a firmware to the band, over BLE or USB;
//! - [`live`]: the band's predictions, checked by shadow inference and stored;
//! - [`owner`]: this desktop's ed25519 owner key, which signs every update's grant;
//! - [`files`]: reading user-supplied files (models, firmware, imports) with a size cap; [`hex`]: hex text;
//! - [`sync`]: the band's activity log copied into the store (resumable, idempotent);
//! - [`plots`]: SVG charts; [`paths`]: where the data lives; [`logs`]: the rotating log file and the panic hook;
//!   [`settings`]: the settings file, and moving the data directory safely.

pub mod band;
pub mod calibrate;
pub mod deploy;
pub mod files;
pub mod hex;
pub mod link;
pub mod live;
pub mod logs;
pub mod owner;
pub mod paths;
pub mod plots;
pub mod settings;
pub mod store;
pub mod sync;
pub mod train;
