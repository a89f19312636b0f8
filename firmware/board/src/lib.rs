//! bandx-board: the BandX band's board layout, as the host sees it.
//!
//! One definition, used by the virtual band (bandx-sim lays its flash file out by it), the desktop's USB
//! deployer (where to write a model or a firmware) and its BLE deployer (what fits a slot):
//! - [`partitions`]: the partition table of `firmware/partitions.csv`, checked at load;
//! - [`otadata`]: the ESP-IDF bootloader's boot selection record.
//!
//! The model slots are bandx-core's [`bandx_core::update::Slot`]: the band and its layout name them alike.
pub mod otadata;
pub mod partitions;

pub use partitions::{AppSlot, FlashLayout, LayoutError, Partition, SECTOR_SIZE};
