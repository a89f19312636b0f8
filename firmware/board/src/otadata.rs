//! The ESP-IDF bootloader's boot selection record (`otadata`): the one definition used by the
//! virtual band's flash and by the desktop's USB flasher.
//!
//! `otadata` is two 4 KB sectors, each starting with an `esp_ota_select_entry_t`
//! (`ota_seq: u32, seq_label: [u8; 20], ota_state: u32, crc: u32`). The bootloader takes the
//! valid entry with the highest `ota_seq` and starts OTA app number `(ota_seq - 1) % app_count`.

use crate::partitions::AppSlot;

/// Size of the `otadata` partition ESP-IDF requires.
pub const OTADATA_SIZE: usize = 0x2000;
const SECTOR: usize = 0x1000;
/// Bytes of one `esp_ota_select_entry_t`.
pub const ENTRY_LEN: usize = 32;
/// `esp_ota_img_states_t` values (`esp_ota_ops.h`; bandx-core's `boot::OtaState` has the same numbers).
/// Just written: the bootloader has not started it yet.
pub const OTA_IMG_NEW: u32 = 0x0;
/// Started once on trial: rolled back at the next reset unless the app confirms itself.
pub const OTA_IMG_PENDING_VERIFY: u32 = 0x1;
/// Confirmed by the app.
pub const OTA_IMG_VALID: u32 = 0x2;
/// Refused by the app.
pub const OTA_IMG_INVALID: u32 = 0x3;
/// Never confirmed: rolled back by the bootloader.
pub const OTA_IMG_ABORTED: u32 = 0x4;
/// Erased word: no state (rollback disabled): booted as valid.
pub const OTA_IMG_UNDEFINED: u32 = u32::MAX;
/// The band has two app slots, `ota_0` and `ota_1`.
const APP_SLOTS: u32 = 2;

/// A fresh `otadata` image (both sectors) that makes the bootloader start `slot`.
///
/// The band's firmware is built with app rollback, so the new slot's entry is marked new, as
/// `esp_ota_set_boot_partition` does: once the new firmware confirms itself it stays; if it never
/// does, the bootloader falls back to the older entry, which points at the other slot.
pub fn select(slot: AppSlot) -> Vec<u8> {
    let new_seq = APP_SLOTS + 1 + slot.index();
    let mut image = vec![0xFF; OTADATA_SIZE];
    write_entry(&mut image[..SECTOR], new_seq - 1, OTA_IMG_VALID);
    write_entry(&mut image[SECTOR..], new_seq, OTA_IMG_NEW);
    image
}

fn write_entry(sector: &mut [u8], seq: u32, state: u32) {
    sector[..ENTRY_LEN].copy_from_slice(&entry(seq, state));
}

/// One `esp_ota_select_entry_t`; `seq_label` stays erased (0xFF), as ESP-IDF leaves it.
pub fn entry(seq: u32, state: u32) -> [u8; ENTRY_LEN] {
    let mut e = [0xFF; ENTRY_LEN];
    e[0..4].copy_from_slice(&seq.to_le_bytes());
    e[24..28].copy_from_slice(&state.to_le_bytes());
    e[28..32].copy_from_slice(&entry_crc(seq).to_le_bytes());
    e
}

/// The app slot the bootloader starts with this `otadata`, or `None` when no entry is usable
/// (the bootloader then starts `ota_0`, the first app partition, as the band has no factory app).
pub fn selected(image: &[u8]) -> Option<AppSlot> {
    newest_entry(image).map(|(_, seq)| app_slot_of_seq(seq))
}

/// The usable entry with the highest `ota_seq`, as (sector index, `ota_seq`).
pub fn newest_entry(image: &[u8]) -> Option<(usize, u32)> {
    image
        .chunks(SECTOR)
        .take(2)
        .enumerate()
        .filter_map(|(i, sector)| {
            let word = |i: usize| Some(u32::from_le_bytes(sector.get(i..i + 4)?.try_into().ok()?));
            let (seq, state, crc) = (word(0)?, word(24)?, word(28)?);
            let usable = seq != 0xFFFF_FFFF
                && seq != 0
                && crc == entry_crc(seq)
                && state != OTA_IMG_INVALID
                && state != OTA_IMG_ABORTED;
            usable.then_some((i, seq))
        })
        .max_by_key(|&(_, seq)| seq)
}

/// The `ota_state` word of the entry in `sector` (0 or 1), if that sector holds a usable entry.
pub fn entry_state(image: &[u8], sector: usize) -> Option<u32> {
    let s = image.get(sector * SECTOR..)?.get(..ENTRY_LEN)?;
    let word = |i: usize| u32::from_le_bytes([s[i], s[i + 1], s[i + 2], s[i + 3]]);
    let seq = word(0);
    (seq != 0xFFFF_FFFF && seq != 0 && word(28) == entry_crc(seq)).then(|| word(24))
}

/// An entry the bootloader rewrites: it erases `sector` and programs `entry` at its start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryWrite {
    pub sector: usize,
    pub entry: [u8; ENTRY_LEN],
}

/// What the ESP-IDF bootloader (built with `CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE`, as the band's
/// is) does with `otadata` at a reset (`bootloader_utility_get_selected_boot_partition`):
/// - the newest usable entry still [`OTA_IMG_PENDING_VERIFY`] was started once and never confirmed:
///   it becomes [`OTA_IMG_ABORTED`] and the next newest usable entry is chosen (the rollback);
/// - the chosen entry, if [`OTA_IMG_NEW`], becomes [`OTA_IMG_PENDING_VERIFY`]: its app runs on trial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootPass {
    /// The entry started, as (sector index, `ota_seq`); `None`: no usable entry (`ota_0` starts).
    pub running: Option<(usize, u32)>,
    /// The entries rewritten, in order.
    pub writes: Vec<EntryWrite>,
}

impl BootPass {
    /// The app slot started.
    pub fn slot(&self) -> AppSlot {
        self.running
            .map_or(AppSlot::Ota0, |(_, seq)| app_slot_of_seq(seq))
    }
}

/// The bootloader's pass over `image` (the whole `otadata` partition); see [`BootPass`].
pub fn boot(image: &[u8]) -> BootPass {
    let mut after = image.to_vec();
    let mut writes = Vec::new();
    let mut rewrite = |after: &mut Vec<u8>, sector: usize, seq: u32, state: u32| {
        let e = entry(seq, state);
        if let Some(at) = after
            .get_mut(sector * SECTOR..)
            .and_then(|s| s.get_mut(..ENTRY_LEN))
        {
            at.copy_from_slice(&e);
        }
        writes.push(EntryWrite { sector, entry: e });
    };
    if let Some((sector, seq)) = newest_entry(&after)
        && entry_state(&after, sector) == Some(OTA_IMG_PENDING_VERIFY)
    {
        rewrite(&mut after, sector, seq, OTA_IMG_ABORTED);
    }
    let running = newest_entry(&after);
    if let Some((sector, seq)) = running
        && entry_state(&after, sector) == Some(OTA_IMG_NEW)
    {
        rewrite(&mut after, sector, seq, OTA_IMG_PENDING_VERIFY);
    }
    BootPass { running, writes }
}

/// The app slot an entry with this `ota_seq` (≥ 1) starts.
pub fn app_slot_of_seq(seq: u32) -> AppSlot {
    match (seq - 1) % APP_SLOTS {
        0 => AppSlot::Ota0,
        _ => AppSlot::Ota1,
    }
}

/// `esp_rom_crc32_le(UINT32_MAX, &ota_seq, 4)`, as the bootloader checks it.
fn entry_crc(seq: u32) -> u32 {
    // The ROM's crc32_le inverts its seed on entry and its result on exit.
    let mut crc = !0xFFFF_FFFFu32;
    for byte in seq.to_le_bytes() {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_esp_idf_reference_values() {
        // From esptool's otatool formula, binascii.crc32(pack("<I", seq), 0xFFFFFFFF).
        assert_eq!(entry_crc(1), 0x4743_989a);
        assert_eq!(entry_crc(2), 0x55f6_3774);
        assert_eq!(entry_crc(3), 0xed4a_5011);
    }

    #[test]
    fn select_round_trips_through_the_bootloader_rule() {
        assert_eq!(selected(&select(AppSlot::Ota0)), Some(AppSlot::Ota0));
        assert_eq!(selected(&select(AppSlot::Ota1)), Some(AppSlot::Ota1));
        assert_eq!(select(AppSlot::Ota1).len(), OTADATA_SIZE);
    }

    #[test]
    fn a_new_firmware_that_never_confirms_rolls_back_to_the_other_slot() {
        for slot in [AppSlot::Ota0, AppSlot::Ota1] {
            let mut image = select(slot);
            // What the bootloader does to a pending image that never confirmed itself.
            image[SECTOR + 24..SECTOR + 28].copy_from_slice(&OTA_IMG_ABORTED.to_le_bytes());
            assert_eq!(selected(&image), Some(slot.other()));
        }
    }

    /// Applies a pass's writes as the bootloader does (erase the sector, program the entry).
    fn apply(image: &mut [u8], pass: &BootPass) {
        for w in &pass.writes {
            let sector = &mut image[w.sector * SECTOR..][..SECTOR];
            sector.fill(0xFF);
            sector[..ENTRY_LEN].copy_from_slice(&w.entry);
        }
    }

    fn state_word(image: &[u8], sector: usize) -> u32 {
        u32::from_le_bytes(image[sector * SECTOR + 24..][..4].try_into().unwrap())
    }

    #[test]
    fn an_unconfirmed_app_runs_once_on_trial_then_is_rolled_back() {
        let mut image = select(AppSlot::Ota1);
        // First reset: the new entry (sector 1) starts on trial.
        let first = boot(&image);
        assert_eq!(first.slot(), AppSlot::Ota1);
        apply(&mut image, &first);
        assert_eq!(state_word(&image, 1), 1, "PENDING_VERIFY");
        // Second reset without confirmation: aborted, the older entry starts.
        let second = boot(&image);
        assert_eq!(second.slot(), AppSlot::Ota0);
        apply(&mut image, &second);
        assert_eq!(state_word(&image, 1), 4, "ABORTED");
        assert_eq!(state_word(&image, 0), 2, "the old entry stays VALID");
        // Later resets change nothing.
        assert_eq!(boot(&image).writes, vec![]);
        assert_eq!(boot(&image).slot(), AppSlot::Ota0);
    }

    #[test]
    fn a_confirmed_app_keeps_starting() {
        let mut image = select(AppSlot::Ota1);
        let first = boot(&image);
        apply(&mut image, &first);
        // The app confirms itself (esp_ota_mark_app_valid_cancel_rollback).
        let (sector, seq) = newest_entry(&image).unwrap();
        image[sector * SECTOR..][..ENTRY_LEN].copy_from_slice(&entry(seq, OTA_IMG_VALID));
        for _ in 0..2 {
            let pass = boot(&image);
            assert_eq!(pass.slot(), AppSlot::Ota1);
            assert!(pass.writes.is_empty());
        }
        assert_eq!(boot(&vec![0xFF; OTADATA_SIZE]).slot(), AppSlot::Ota0);
        assert_eq!(entry_state(&[0u8; 7], 1), None);
    }

    #[test]
    fn blank_or_corrupt_otadata_selects_nothing() {
        assert_eq!(selected(&vec![0xFF; OTADATA_SIZE]), None);
        let mut image = select(AppSlot::Ota1);
        image[28] ^= 1;
        image[SECTOR + 28] ^= 1;
        assert_eq!(selected(&image), None);
        assert_eq!(selected(&[0u8; 3]), None);
    }
}
