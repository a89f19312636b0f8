//! Deployment: getting a personalized model (or a whole firmware) onto the band. One service, two
//! transports:
//! - [`payload`]: what is written, checked once the way the band checks it (both transports);
//! - [`elf`]: a firmware ELF made into an app image with espflash's library (both front ends take `.elf`);
//! - [`progress`]: one progress event and callback trait for both (the CLI draws bars, the app sends events);
//! - [`record`]: the deployment's row in the store, kept the same way for both;
//! - [`ble`]: the band's update protocol over a BLE link (resume, commit, confirmation);
//! - [`usb`]: the ESP32 ROM serial loader, through espflash.

pub mod ble;
pub mod elf;
pub mod payload;
pub mod progress;
pub mod record;
pub mod usb;

pub use elf::{app_image_from_elf, firmware_file, is_elf};
pub use payload::{Checked, Payload, PayloadError, firmware_version};
pub use progress::{DeployProgress, DeployTarget, Progress, Stage};
pub use record::{Outcome, Recorded, Recording, usb_band};
