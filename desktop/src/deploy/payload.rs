//! What a deployment writes, checked once for both transports the way the band will check it, before
//! anything is sent: a model blob must parse, pass its self-test and fit a model slot; a firmware file must
//! be an ESP32 app image that fits an app slot (a firmware ELF is first made one by [`super::elf`]).

use bandx_board::partitions::{AppSlot, FlashLayout};
use bandx_core::blob::Model;
use bandx_core::update::Slot;
use bandx_core::update::app_image::{
    AppImageError, CHIP_ID_OFFSET, Chip, HEADER_LEN, MAGIC, check_app_image,
};
use bandx_core::update::release::{APP_DESC_OFFSET, app_desc_release};

/// What to write.
#[derive(Debug, Clone, Copy)]
pub enum Payload<'a> {
    /// A model blob (bandx-core's format); its own id and version identify it to the band.
    Model(&'a [u8]),
    /// A firmware image (ESP-IDF app image). `version` is the release its app description declares
    /// ([`firmware_version`]): what the owner signs, the band's no-downgrade rule compares, and the band checks
    /// against the image itself.
    Firmware { image: &'a [u8], version: u32 },
}

impl<'a> Payload<'a> {
    /// A firmware image, with the release it declares ([`firmware_version`]; 0 if none: refused by [`check`]).
    pub fn firmware(image: &'a [u8]) -> Payload<'a> {
        Payload::Firmware {
            image,
            version: firmware_version(image),
        }
    }

    pub fn bytes(&self) -> &'a [u8] {
        match *self {
            Payload::Model(blob) => blob,
            Payload::Firmware { image, .. } => image,
        }
    }

    pub fn is_firmware(&self) -> bool {
        matches!(self, Payload::Firmware { .. })
    }
}

/// The release a firmware image declares in its ESP-IDF app description (`bandx_core::update::release`), 0 if
/// it declares none.
pub fn firmware_version(image: &[u8]) -> u32 {
    image
        .get(APP_DESC_OFFSET..)
        .and_then(app_desc_release)
        .unwrap_or(0)
}

/// Why a payload is refused before anything is sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("This model cannot run on the band: {0}. Nothing was sent or written.")]
    InvalidModel(String),
    #[error("This file is not an ESP32 firmware image: {0}. Nothing was sent or written.")]
    NotFirmware(String),
    #[error(
        "This ELF file cannot be made into a firmware image: {0}. Nothing was sent or written; pick the \
         firmware's ELF as `cargo build --release` left it, or its .bin."
    )]
    InvalidElf(String),
    #[error(
        "This firmware image is damaged: {0}. The band's bootloader would refuse it, so nothing was sent or \
         written; build or download the image again."
    )]
    DamagedFirmware(AppImageError),
    #[error(
        "This firmware image is built for {image}, but the band is {band}. Nothing was sent or written; pick \
         the image built for the band's board."
    )]
    WrongChip { image: String, band: &'static str },
    #[error(
        "This firmware image declares no version (no ESP-IDF app description with `major.minor.patch`), so the \
         band cannot tell whether it is older than what it runs. Nothing was sent or written; build it with an \
         app description (`esp_app_desc!()`)."
    )]
    NoRelease,
    #[error(
        "The {what} is {size} bytes but the band has room for {capacity}. Nothing was sent or written."
    )]
    TooLarge {
        what: &'static str,
        size: usize,
        capacity: usize,
    },
}

/// A model payload, as the band will see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelIdentity {
    pub id: u32,
    pub version: u32,
    pub labels: Vec<String>,
}

impl std::fmt::Display for ModelIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "id {} version {} ({})",
            self.id,
            self.version,
            self.labels.join(", ")
        )
    }
}

/// What a payload turned out to be, once checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    Model(ModelIdentity),
    /// A well-formed app image for this chip.
    Firmware(Chip),
}

impl Checked {
    pub fn model(self) -> Option<ModelIdentity> {
        match self {
            Checked::Model(m) => Some(m),
            Checked::Firmware(_) => None,
        }
    }
}

/// Checks a payload against the band's layout.
pub fn check(payload: Payload<'_>, layout: &FlashLayout) -> Result<Checked, PayloadError> {
    match payload {
        Payload::Model(blob) => {
            let capacity = layout.model_slot(Slot::A).size as usize;
            if blob.len() > capacity {
                return Err(PayloadError::TooLarge {
                    what: "model",
                    size: blob.len(),
                    capacity,
                });
            }
            check_model(blob).map(Checked::Model)
        }
        Payload::Firmware { image, .. } => {
            let capacity = layout.app_slot(AppSlot::Ota0).size as usize;
            if image.len() > capacity {
                return Err(PayloadError::TooLarge {
                    what: "firmware image",
                    size: image.len(),
                    capacity,
                });
            }
            check_firmware_image(image).map(Checked::Firmware)
        }
    }
}

/// Checks a model blob the way the band does before running it (bandx-core's one [`check_model`]: it
/// parses, fits the band's budgets and passes its self-test).
pub fn check_model(blob: &[u8]) -> Result<ModelIdentity, PayloadError> {
    let report = bandx_core::budget::check_model(blob)
        .map_err(|e| PayloadError::InvalidModel(e.to_string()))?;
    let labels = Model::parse(blob)
        .map(|m| m.labels().iter().map(str::to_owned).collect())
        .unwrap_or_default();
    Ok(ModelIdentity {
        id: report.model_id,
        version: report.version,
        labels,
    })
}

/// Checks a firmware file the way the band's bootloader checks an app image (bandx-core's
/// [`check_app_image`]: magic, segments, checksum, appended SHA-256) for the chip its header names, which must be
/// one a BandX band is built on. Returns that chip; a band of another chip refuses the image itself.
pub fn check_firmware_image(image: &[u8]) -> Result<Chip, PayloadError> {
    if image.len() < HEADER_LEN {
        return Err(PayloadError::NotFirmware(format!(
            "it is {} bytes, shorter than an image header",
            image.len()
        )));
    }
    if image[0] != MAGIC {
        return Err(PayloadError::NotFirmware(format!(
            "it starts with 0x{:02X}, not the image magic byte 0x{MAGIC:02X}",
            image[0]
        )));
    }
    let id = u16::from_le_bytes([image[CHIP_ID_OFFSET], image[CHIP_ID_OFFSET + 1]]);
    let chip = [Chip::Esp32, Chip::Esp32C3]
        .into_iter()
        .find(|c| c.id() == id)
        .ok_or_else(|| PayloadError::WrongChip {
            image: format!("chip id {id}"),
            band: "an ESP32 or ESP32-C3",
        })?;
    let info = check_app_image(image, chip).map_err(PayloadError::DamagedFirmware)?;
    if info.release.is_none() {
        return Err(PayloadError::NoRelease);
    }
    Ok(chip)
}

/// Refuses an image built for another chip than the band's (known once connected, e.g. over USB).
pub fn ensure_chip(image_chip: Chip, band: Chip) -> Result<(), PayloadError> {
    if image_chip == band {
        Ok(())
    } else {
        Err(PayloadError::WrongChip {
            image: image_chip.name().to_string(),
            band: band.name(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(chip: Chip, seed: u32) -> Vec<u8> {
        let mut buf = vec![0u8; 8192];
        let n = bandx_core::demo::write_demo_app_image(&mut buf, chip, 6000, seed).unwrap();
        buf.truncate(n);
        buf
    }

    #[test]
    fn firmware_images_are_checked_as_the_bootloader_does() {
        assert_eq!(
            check_firmware_image(&image(Chip::Esp32, 1)),
            Ok(Chip::Esp32)
        );
        assert_eq!(
            check_firmware_image(&image(Chip::Esp32C3, 1)),
            Ok(Chip::Esp32C3)
        );
        assert!(matches!(
            check_firmware_image(&[0u8; 64]),
            Err(PayloadError::NotFirmware(m)) if m.contains("0x00")
        ));
        assert!(check_firmware_image(&image(Chip::Esp32, 1)[..10]).is_err());
        // One flipped byte in a segment breaks the checksum or the digest.
        let mut damaged = image(Chip::Esp32, 2);
        damaged[100] ^= 0x01;
        assert!(matches!(
            check_firmware_image(&damaged),
            Err(PayloadError::DamagedFirmware(_))
        ));
        assert!(matches!(
            ensure_chip(Chip::Esp32C3, Chip::Esp32),
            Err(PayloadError::WrongChip { .. })
        ));
        let huge = {
            let mut v = image(Chip::Esp32, 3);
            v.resize(0x1D0000 + 1, 0);
            v
        };
        let err = check(Payload::firmware(&huge), &FlashLayout::band()).err();
        assert!(
            matches!(err, Some(PayloadError::TooLarge { capacity, .. }) if capacity == 0x1D0000),
            "{err:?}"
        );
    }

    #[test]
    fn a_firmware_version_is_the_release_its_app_description_declares() {
        let mut buf = vec![0u8; 4096];
        let n =
            bandx_core::demo::write_demo_app_image_release(&mut buf, Chip::Esp32, 1000, 4, "2.5.1")
                .unwrap();
        assert_eq!(firmware_version(&buf[..n]), 2_005_001);
        assert_eq!(Payload::firmware(&buf[..n]).bytes().len(), n);
        // An image without an app description declares nothing, and is refused.
        let mut bare = buf[..n].to_vec();
        bare[APP_DESC_OFFSET] ^= 0xFF;
        assert_eq!(firmware_version(&bare), 0);
        assert_eq!(firmware_version(&[MAGIC, 1, 2]), 0);
    }
}
