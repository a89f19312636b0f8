//! What the desktop library's tests share: the BlueZ stand-in on a private D-Bus and the emulated ESP32
//! ROM loader. Each test binary uses part of it.
#![allow(dead_code, unused_imports)]

pub mod bluez;
pub mod rom_loader;
