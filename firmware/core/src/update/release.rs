//! Firmware release numbers, comparable: what "older than the running firmware" means for the no-downgrade rule.
//!
//! An ESP-IDF app carries its version string in its app description (`esp_app_desc_t`, the first bytes of its
//! first segment: magic `0xABCD5432`, `secure_version`, two reserved words, `version[32]`, ...); the C3 firmware's
//! is its crate version. [`release_code`] turns `major.minor.patch` (after any prefix such as `v` or `sim-`,
//! before any suffix such as `-rc1`) into one number, `major * 1_000_000 + minor * 1_000 + patch`.

/// Offset of the app description in an app image: after the 24-byte image header and the first segment's header.
pub const APP_DESC_OFFSET: usize = 24 + 8;
/// `ESP_APP_DESC_MAGIC_WORD`.
pub const APP_DESC_MAGIC: u32 = 0xABCD_5432;
/// Bytes of the app description this crate reads: magic, secure_version, 2 reserved words, version[32].
pub const APP_DESC_READ_LEN: usize = 4 + 4 + 8 + 32;
/// Offset of `version[32]` inside the app description.
pub const APP_DESC_VERSION_OFFSET: usize = 16;

/// The release number of a version string, if it holds `major.minor.patch` with each part below 1000.
pub fn release_code(version: &str) -> Option<u32> {
    let start = version.find(|c: char| c.is_ascii_digit())?;
    let mut parts = version[start..].splitn(3, '.');
    let mut next = |last: bool| -> Option<u32> {
        let part = parts.next()?;
        let digits = if last {
            let end = part
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(part.len());
            &part[..end]
        } else {
            part
        };
        let n: u32 = digits.parse().ok()?;
        (n < 1000 && !digits.is_empty()).then_some(n)
    };
    let (major, minor, patch) = (next(false)?, next(false)?, next(true)?);
    Some(major * 1_000_000 + minor * 1_000 + patch)
}

/// A release number as `major.minor.patch` (the inverse of [`release_code`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Release(pub u32);

impl core::fmt::Display for Release {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let code = self.0;
        write!(
            f,
            "{}.{}.{}",
            code / 1_000_000,
            code / 1_000 % 1_000,
            code % 1_000
        )
    }
}

/// The release number an app description declares (the [`APP_DESC_READ_LEN`] bytes at [`APP_DESC_OFFSET`]).
pub fn app_desc_release(desc: &[u8]) -> Option<u32> {
    let magic = u32::from_le_bytes(desc.get(..4)?.try_into().ok()?);
    if magic != APP_DESC_MAGIC {
        return None;
    }
    let field = desc.get(APP_DESC_VERSION_OFFSET..APP_DESC_VERSION_OFFSET + 32)?;
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    release_code(core::str::from_utf8(&field[..end]).ok()?)
}

/// Writes an app description declaring `version` into `out` (at least [`APP_DESC_READ_LEN`] bytes); for building
/// test images.
pub fn write_app_desc(out: &mut [u8], version: &str) -> Option<()> {
    let out = out.get_mut(..APP_DESC_READ_LEN)?;
    out.fill(0);
    out[..4].copy_from_slice(&APP_DESC_MAGIC.to_le_bytes());
    let v = version.as_bytes();
    if v.len() >= 32 {
        return None;
    }
    out[APP_DESC_VERSION_OFFSET..APP_DESC_VERSION_OFFSET + v.len()].copy_from_slice(v);
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_by_major_minor_patch() {
        assert_eq!(release_code("0.1.0"), Some(1_000));
        assert_eq!(release_code("v1.2.3-rc1"), Some(1_002_003));
        assert_eq!(release_code("sim-0.1.0"), Some(1_000));
        assert!(release_code("0.10.0") > release_code("0.9.9"));
        for bad in ["", "sim-abcdef12", "1.2", "1.2.x", "1000.0.0", "1..2"] {
            assert_eq!(release_code(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_release_number_prints_as_the_version_it_came_from() {
        extern crate std;
        use std::string::ToString;
        for v in ["0.1.0", "1.2.3", "999.0.42"] {
            assert_eq!(Release(release_code(v).unwrap()).to_string(), v);
        }
    }

    #[test]
    fn an_app_description_round_trips_and_a_foreign_one_declares_nothing() {
        let mut desc = [0u8; APP_DESC_READ_LEN];
        write_app_desc(&mut desc, "0.3.1").unwrap();
        assert_eq!(app_desc_release(&desc), Some(3_001));
        desc[0] ^= 1;
        assert_eq!(app_desc_release(&desc), None);
        assert_eq!(app_desc_release(&[0; 3]), None);
    }
}
