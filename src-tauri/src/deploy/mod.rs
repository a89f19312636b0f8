//! Deployment: getting a personalized model (or a whole firmware) onto the band.

pub mod ble;
pub mod usb;
