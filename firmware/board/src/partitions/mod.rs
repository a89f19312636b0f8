//! The band's flash layout, read from the one partition table in `firmware/partitions.csv`.
//!
//! The ESP32 build, the USB flasher and the virtual band all place things by this table, so a
//! model written to `model_a` over USB lands where the firmware (and the simulator) read it.

use std::fmt;

use bandx_core::update::Slot;
use esp_idf_part::{PartitionTable, Type};

/// The band's partition table, as shipped.
pub const PARTITIONS_CSV: &str = include_str!("../../../partitions.csv");

/// Flash size of the band's ESP32 module.
pub const FLASH_SIZE: u32 = 4 * 1024 * 1024;

/// Everything below this offset belongs to the second-stage bootloader and the partition table.
pub const FIRST_PARTITION_OFFSET: u32 = 0x9000;

/// Erase granularity of the SPI flash: every partition starts and ends on a sector boundary.
pub const SECTOR_SIZE: u32 = 0x1000;

/// An app slot must hold the whole firmware.
pub const MIN_APP_SLOT_SIZE: u32 = 0x18_0000;

/// A model slot must hold the largest model blob the band accepts.
pub const MIN_MODEL_SLOT_SIZE: u32 = 0x1_0000;

/// The activity log's partition (bandx-core `log`): optional in a table, 64 KB in the shipped one.
pub const LOG_PARTITION: &str = "log";

/// A log partition must hold the ring's two sectors at least (the shipped 64 KB hold 7 days).
pub const MIN_LOG_SIZE: u32 = 2 * SECTOR_SIZE;

/// The partition holding a model slot (`model_a` / `model_b`).
pub const fn model_partition_name(slot: Slot) -> &'static str {
    match slot {
        Slot::A => "model_a",
        Slot::B => "model_b",
    }
}

/// One of the two firmware (app) slots the bootloader chooses between through `otadata`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AppSlot {
    Ota0,
    Ota1,
}

impl AppSlot {
    /// The partition's name in the table.
    pub const fn partition_name(self) -> &'static str {
        match self {
            AppSlot::Ota0 => "ota_0",
            AppSlot::Ota1 => "ota_1",
        }
    }

    /// The other app slot.
    pub const fn other(self) -> AppSlot {
        match self {
            AppSlot::Ota0 => AppSlot::Ota1,
            AppSlot::Ota1 => AppSlot::Ota0,
        }
    }

    /// Index of the slot among the OTA app partitions (ESP-IDF counts `ota_seq` from it).
    pub const fn index(self) -> u32 {
        match self {
            AppSlot::Ota0 => 0,
            AppSlot::Ota1 => 1,
        }
    }
}

/// A named, contiguous region of flash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    pub name: String,
    /// Partition type byte (0x00 app, 0x01 data, 0x40.. application-defined).
    pub ty: u8,
    pub subtype: u8,
    pub offset: u32,
    pub size: u32,
}

impl Partition {
    /// First byte past the partition.
    pub fn end(&self) -> u32 {
        self.offset + self.size
    }

    /// The partition's bytes as a range of flash addresses.
    pub fn range(&self) -> std::ops::Range<usize> {
        self.offset as usize..self.end() as usize
    }

    fn overlaps(&self, other: &Partition) -> bool {
        self.offset < other.end() && other.offset < self.end()
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at {:#08x}..{:#08x} ({} KB)",
            self.name,
            self.offset,
            self.end(),
            self.size / 1024
        )
    }
}

/// Why a partition table cannot be used for the band.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    #[error("the partition table could not be read: {0}")]
    Parse(String),
    #[error("the partition table has no `{0}` partition")]
    Missing(&'static str),
    #[error("partition `{name}` is {size:#x} bytes; the band needs at least {min:#x}")]
    TooSmall { name: String, size: u32, min: u32 },
    #[error("partition `{name}` ends at {end:#x}, past the end of the {flash:#x}-byte flash")]
    BeyondFlash { name: String, end: u64, flash: u32 },
    #[error("partition `{name}` starts at {offset:#x}, inside the bootloader and partition table")]
    OverBootloader { name: String, offset: u32 },
    #[error("partition `{name}` ({offset:#x}, {size:#x} bytes) is not aligned to 4 KB sectors")]
    Unaligned {
        name: String,
        offset: u32,
        size: u32,
    },
    #[error("partitions `{0}` and `{1}` overlap")]
    Overlap(String, String),
}

/// The partition holding the owner record (sectors 0-1) and the BLE bonds (sectors 2-3).
pub const KEYS_PARTITION: &str = "keys";

/// The band's flash, partition by partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlashLayout {
    partitions: Vec<Partition>,
}

impl FlashLayout {
    /// The layout of the band as shipped (`firmware/partitions.csv`).
    pub fn band() -> FlashLayout {
        // The shipped table is checked by this module's tests.
        FlashLayout::parse(PARTITIONS_CSV).expect("firmware/partitions.csv is a valid band layout")
    }

    /// Reads an ESP-IDF CSV partition table and checks it fits the band.
    pub fn parse(csv: &str) -> Result<FlashLayout, LayoutError> {
        // esp-idf-part 0.6 panics on some inputs (e.g. an unknown numeric `data` subtype):
        // turn that into an error, a parser must not bring the app down.
        let owned = csv.to_owned();
        let table = std::panic::catch_unwind(move || PartitionTable::try_from_str(owned))
            .map_err(|_| {
                LayoutError::Parse("unsupported type, subtype or flags in a partition row".into())
            })?
            .map_err(|e| LayoutError::Parse(e.to_string()))?;

        let partitions = table
            .partitions()
            .iter()
            .map(|p| Partition {
                name: p.name(),
                ty: match p.ty() {
                    Type::App => 0x00,
                    Type::Data => 0x01,
                    Type::Custom(t) => t,
                },
                subtype: p.subtype().into(),
                offset: p.offset(),
                size: p.size(),
            })
            .collect();
        let layout = FlashLayout { partitions };
        layout.validate()?;
        Ok(layout)
    }

    /// Checks the rules the band relies on: everything fits in 4 MB after the bootloader,
    /// sector aligned, nothing overlaps, the A/B slots exist and are big enough, and a log partition, if
    /// any, holds the ring's two sectors.
    pub fn validate(&self) -> Result<(), LayoutError> {
        for p in &self.partitions {
            if p.offset < FIRST_PARTITION_OFFSET {
                return Err(LayoutError::OverBootloader {
                    name: p.name.clone(),
                    offset: p.offset,
                });
            }
            if p.offset % SECTOR_SIZE != 0 || p.size % SECTOR_SIZE != 0 || p.size == 0 {
                return Err(LayoutError::Unaligned {
                    name: p.name.clone(),
                    offset: p.offset,
                    size: p.size,
                });
            }
            let end = u64::from(p.offset) + u64::from(p.size);
            if end > u64::from(FLASH_SIZE) {
                return Err(LayoutError::BeyondFlash {
                    name: p.name.clone(),
                    end,
                    flash: FLASH_SIZE,
                });
            }
        }
        for (i, a) in self.partitions.iter().enumerate() {
            for b in &self.partitions[i + 1..] {
                if a.overlaps(b) {
                    return Err(LayoutError::Overlap(a.name.clone(), b.name.clone()));
                }
            }
        }
        let required = [
            ("nvs", 0x3000),
            ("otadata", 0x2000),
            ("phy_init", 0x1000),
            (KEYS_PARTITION, 0x4000),
            (AppSlot::Ota0.partition_name(), MIN_APP_SLOT_SIZE),
            (AppSlot::Ota1.partition_name(), MIN_APP_SLOT_SIZE),
            (model_partition_name(Slot::A), MIN_MODEL_SLOT_SIZE),
            (model_partition_name(Slot::B), MIN_MODEL_SLOT_SIZE),
        ];
        for (name, min) in required {
            let p = self.get(name).ok_or(LayoutError::Missing(name))?;
            if p.size < min {
                return Err(LayoutError::TooSmall {
                    name: p.name.clone(),
                    size: p.size,
                    min,
                });
            }
        }
        if let Some(p) = self.get(LOG_PARTITION)
            && p.size < MIN_LOG_SIZE
        {
            return Err(LayoutError::TooSmall {
                name: p.name.clone(),
                size: p.size,
                min: MIN_LOG_SIZE,
            });
        }
        Ok(())
    }

    /// All partitions, in table order.
    pub fn partitions(&self) -> &[Partition] {
        &self.partitions
    }

    /// The partition with this name.
    pub fn get(&self, name: &str) -> Option<&Partition> {
        self.partitions.iter().find(|p| p.name == name)
    }

    /// A model slot (present in every validated layout).
    pub fn model_slot(&self, slot: Slot) -> &Partition {
        self.required(model_partition_name(slot))
    }

    /// A firmware slot (present in every validated layout).
    pub fn app_slot(&self, slot: AppSlot) -> &Partition {
        self.required(slot.partition_name())
    }

    /// The boot selection record of the bootloader.
    pub fn otadata(&self) -> &Partition {
        self.required("otadata")
    }

    /// The activity log's partition, if the table has one.
    pub fn log(&self) -> Option<&Partition> {
        self.get(LOG_PARTITION)
    }

    /// Total flash size the layout is made for.
    pub fn flash_size(&self) -> u32 {
        FLASH_SIZE
    }

    fn required(&self, name: &str) -> &Partition {
        self.get(name)
            .expect("validate() guarantees the band's required partitions")
    }
}

#[cfg(test)]
mod tests;
