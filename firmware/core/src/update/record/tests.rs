//! The record on a simulated NOR flash whose power fails in the middle of any erase or program.
extern crate std;

use super::*;
use proptest::prelude::*;

use crate::torn_nor::TornNor as Nor;

/// A flash the size of the record, every byte `fill`.
fn flash_of(fill: u8) -> Nor {
    Nor::new(RECORD_LEN, RECORD_SECTOR, fill)
}

fn slot(b: bool) -> Slot {
    if b { Slot::B } else { Slot::A }
}

#[test]
fn an_erased_or_foreign_region_has_no_record_until_the_first_write() {
    for fill in [0xFF, 0x00, 0x5A] {
        let mut nor = flash_of(fill);
        let mut r = SlotRecord::load(&mut nor).unwrap();
        assert_eq!(r.slot(), None);
        r.set(&mut nor, Slot::B).unwrap();
        assert_eq!(SlotRecord::load(&mut nor).unwrap().slot(), Some(Slot::B));
    }
}

#[test]
fn the_last_write_wins_across_many_sector_switches() {
    let mut nor = flash_of(0xFF);
    let mut r = SlotRecord::load(&mut nor).unwrap();
    for i in 0..(5 * PER_SECTOR + 3) {
        let s = slot(i % 3 == 0);
        r.set(&mut nor, s).unwrap();
        assert_eq!(
            SlotRecord::load(&mut nor).unwrap().slot(),
            Some(s),
            "write {i}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Writes interrupted by power cuts at any erase or program, torn anywhere: after every reboot the record reads
    /// the value of the last completed write or of the interrupted one, never nothing and never another value.
    #[test]
    fn a_power_cut_leaves_the_old_or_the_new_value(
        runs in proptest::collection::vec((proptest::collection::vec(any::<bool>(), 1..700), 0usize..800, 0usize..16), 1..4),
    ) {
        let mut nor = flash_of(0x00); // foreign data before the first write
        let mut committed: Option<Slot> = None;
        for (writes, cut_after, torn_at) in runs {
            nor.power.left = Some(cut_after);
            nor.torn_at = torn_at;
            let mut r = SlotRecord::load(&mut nor).unwrap();
            prop_assert_eq!(r.slot(), committed);
            let mut interrupted = None;
            for w in writes {
                let s = slot(w);
                if r.set(&mut nor, s).is_ok() {
                    committed = Some(s);
                } else {
                    interrupted = Some(s);
                    break;
                }
            }
            nor.reboot();
            let after = SlotRecord::load(&mut nor).unwrap().slot();
            prop_assert!(after == committed || (after.is_some() && after == interrupted), "{after:?} vs {committed:?} / {interrupted:?}");
            committed = after;
        }
    }
}

/// A power cut at every single erase or program of the first three sector fills, torn at several points.
#[test]
fn a_power_cut_at_any_operation_keeps_a_value() {
    for torn_at in [0, 4, 9, 15] {
        for cut in 0..(3 * PER_SECTOR as usize + 6) {
            let mut nor = flash_of(0xFF);
            let mut r = SlotRecord::load(&mut nor).unwrap();
            r.set(&mut nor, Slot::A).unwrap();
            let mut committed = Slot::A;
            nor.power.left = Some(cut);
            nor.torn_at = torn_at;
            let mut interrupted = None;
            for i in 0.. {
                let s = slot(i % 2 == 0);
                match r.set(&mut nor, s) {
                    Ok(()) => committed = s,
                    Err(_) => {
                        interrupted = Some(s);
                        break;
                    }
                }
            }
            nor.reboot();
            let after = SlotRecord::load(&mut nor).unwrap().slot();
            assert!(
                after == Some(committed) || after == interrupted,
                "cut at op {cut}, torn at {torn_at}: {after:?}"
            );
        }
    }
}
