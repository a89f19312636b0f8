//! What a deployment writes, checked once for both transports the way the band will check it, before
//! anything is sent: a model blob must parse, pass its self-test and fit a model slot; a firmware file must
//! be an ESP32 app image that fits an app slot.

use bandx_board::partitions::{AppSlot, FlashLayout};
use bandx_core::blob::{Model, sha256};
use bandx_core::update::Slot;

/// The first byte of every ESP32 application image (`esp_image_header_t.magic`).
pub const ESP_IMAGE_MAGIC: u8 = 0xE9;
/// Bytes of the ESP32 image header (`esp_image_header_t`).
const ESP_IMAGE_HEADER_LEN: usize = 24;
/// An ESP32 image has at most this many segments.
const ESP_IMAGE_MAX_SEGMENTS: u8 = 16;

/// What to write.
#[derive(Debug, Clone, Copy)]
pub enum Payload<'a> {
    /// A model blob (bandx-core's format); its own id and version identify it to the band.
    Model(&'a [u8]),
    /// A firmware image (ESP-IDF app image). `version` identifies this upload to the band over BLE: the
    /// same image with the same version resumes an interrupted upload ([`firmware_version`]).
    Firmware { image: &'a [u8], version: u32 },
}

impl<'a> Payload<'a> {
    /// A firmware image, identified by the one rule both front ends use ([`firmware_version`]).
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

/// How an upload of a firmware image is identified to the band: the first four bytes of its SHA-256, so
/// the same image resumes an interrupted upload and any other image starts afresh.
pub fn firmware_version(image: &[u8]) -> u32 {
    let digest = sha256(image);
    u32::from_le_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// Why a payload is refused before anything is sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("This model cannot run on the band: {0}. Nothing was sent or written.")]
    InvalidModel(String),
    #[error("This file is not an ESP32 firmware image: {0}. Nothing was sent or written.")]
    NotFirmware(String),
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

/// Checks a payload against the band's layout. Returns the model's identity for a model.
pub fn check(
    payload: Payload<'_>,
    layout: &FlashLayout,
) -> Result<Option<ModelIdentity>, PayloadError> {
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
            check_model(blob).map(Some)
        }
        Payload::Firmware { image, .. } => {
            check_firmware_image(image)?;
            let capacity = layout.app_slot(AppSlot::Ota0).size as usize;
            if image.len() > capacity {
                return Err(PayloadError::TooLarge {
                    what: "firmware image",
                    size: image.len(),
                    capacity,
                });
            }
            Ok(None)
        }
    }
}

/// Checks a model blob the way the band does before running it: it parses and passes its self-test.
pub fn check_model(blob: &[u8]) -> Result<ModelIdentity, PayloadError> {
    let model = Model::parse(blob).map_err(|e| PayloadError::InvalidModel(e.to_string()))?;
    let mut arena = vec![0u8; bandx_core::band::ARENA_CAPACITY];
    bandx_core::infer::self_test(&model, &mut arena)
        .map_err(|e| PayloadError::InvalidModel(format!("its self-test fails ({e})")))?;
    Ok(ModelIdentity {
        id: model.id(),
        version: model.version(),
        labels: model.labels().iter().map(str::to_owned).collect(),
    })
}

/// The sanity checks an ESP32 app image passes before it is worth sending: the header's magic byte and a
/// plausible segment count. (The band's bootloader verifies the image itself.)
pub fn check_firmware_image(image: &[u8]) -> Result<(), PayloadError> {
    if image.len() < ESP_IMAGE_HEADER_LEN {
        return Err(PayloadError::NotFirmware(format!(
            "it is {} bytes, shorter than an image header",
            image.len()
        )));
    }
    if image[0] != ESP_IMAGE_MAGIC {
        return Err(PayloadError::NotFirmware(format!(
            "it starts with 0x{:02X}, not the image magic byte 0x{ESP_IMAGE_MAGIC:02X}",
            image[0]
        )));
    }
    let segments = image[1];
    if segments == 0 || segments > ESP_IMAGE_MAX_SEGMENTS {
        return Err(PayloadError::NotFirmware(format!(
            "its header announces {segments} segments"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn firmware_images_are_sanity_checked() {
        let mut image = vec![0u8; 64];
        assert!(matches!(
            check_firmware_image(&image),
            Err(PayloadError::NotFirmware(m)) if m.contains("0x00")
        ));
        image[0] = ESP_IMAGE_MAGIC;
        assert!(check_firmware_image(&image).is_err(), "0 segments");
        image[1] = 3;
        assert!(check_firmware_image(&image).is_ok());
        assert!(check_firmware_image(&image[..10]).is_err());
        let huge = {
            let mut v = vec![0u8; 0x1E0000 + 1];
            v[0] = ESP_IMAGE_MAGIC;
            v[1] = 1;
            v
        };
        let err = check(Payload::firmware(&huge), &FlashLayout::band()).err();
        assert!(
            matches!(err, Some(PayloadError::TooLarge { capacity, .. }) if capacity == 0x1E0000),
            "{err:?}"
        );
    }

    #[test]
    fn the_resume_version_of_a_firmware_follows_its_bytes() {
        let a = vec![ESP_IMAGE_MAGIC, 1, 2, 3];
        let mut b = a.clone();
        assert_eq!(firmware_version(&a), firmware_version(&b));
        b[3] ^= 1;
        assert_ne!(firmware_version(&a), firmware_version(&b));
    }
}
