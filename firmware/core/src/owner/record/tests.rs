//! The owner record on a simulated NOR flash whose power fails in the middle of any erase or program: it always
//! reads the last completed value or the interrupted one, never garbage; erased or foreign flash is no owner.
extern crate std;

use super::*;
use ed25519_dalek::SigningKey;
use proptest::prelude::*;

use crate::torn_nor::TornNor as Nor;

/// A flash the size of the record, every byte `fill`.
fn flash_of(fill: u8) -> Nor {
    Nor::new(OWNER_RECORD_LEN, OWNER_RECORD_SECTOR, fill)
}

/// The owner key of seed `i` (distinct keys for distinct seeds); `None` = no owner.
fn key(i: u8) -> OwnerKey {
    let pk = SigningKey::from_bytes(&[i; 32]).verifying_key().to_bytes();
    OwnerKey::from_bytes(&pk).unwrap()
}

/// Value number `i` of a test sequence: mostly owners, every fifth a clear.
fn value(i: u8) -> Option<OwnerKey> {
    if i % 5 == 4 { None } else { Some(key(i % 8)) }
}

fn write(r: &mut OwnerRecord, nor: &mut Nor, v: Option<OwnerKey>) -> Result<(), StorageError> {
    match v {
        Some(k) => r.set(nor, &k),
        None => r.clear(nor),
    }
}

#[test]
fn an_erased_or_foreign_region_has_no_owner_until_the_first_write() {
    for fill in [0xFF, 0x00, 0x5A] {
        let mut nor = flash_of(fill);
        let mut r = OwnerRecord::load(&mut nor).unwrap();
        assert_eq!(r.owner(), None);
        r.set(&mut nor, &key(1)).unwrap();
        assert_eq!(r.owner(), Some(key(1)));
        assert_eq!(OwnerRecord::load(&mut nor).unwrap().owner(), Some(key(1)));
        r.clear(&mut nor).unwrap();
        assert_eq!(OwnerRecord::load(&mut nor).unwrap().owner(), None);
    }
}

#[test]
fn erasing_both_sectors_forgets_the_owner() {
    let mut nor = flash_of(0xFF);
    let mut r = OwnerRecord::load(&mut nor).unwrap();
    for i in 0..(PER_SECTOR as u8 + 3) {
        r.set(&mut nor, &key(i % 3)).unwrap();
    }
    assert!(OwnerRecord::load(&mut nor).unwrap().owner().is_some());
    nor.erase_sector(0).unwrap();
    nor.erase_sector(OWNER_RECORD_SECTOR).unwrap();
    assert_eq!(OwnerRecord::load(&mut nor).unwrap().owner(), None);
}

#[test]
fn the_last_write_wins_across_many_sector_switches() {
    let mut nor = flash_of(0xFF);
    let mut r = OwnerRecord::load(&mut nor).unwrap();
    for i in 0..(5 * PER_SECTOR + 3) {
        let v = value(i as u8);
        write(&mut r, &mut nor, v).unwrap();
        assert_eq!(OwnerRecord::load(&mut nor).unwrap().owner(), v, "write {i}");
    }
}

#[test]
fn an_entry_with_a_changed_byte_is_not_read() {
    // One entry only: any byte changed in it (a bit flip, or a foreign write) leaves "no owner", not a key.
    for at in 0..ENTRY {
        for x in [0x01u8, 0x80, 0xFF] {
            let mut nor = flash_of(0xFF);
            OwnerRecord::load(&mut nor)
                .unwrap()
                .set(&mut nor, &key(3))
                .unwrap();
            nor.bytes[at] ^= x;
            assert_eq!(
                OwnerRecord::load(&mut nor).unwrap().owner(),
                None,
                "byte {at} ^ {x:#x}"
            );
        }
    }
}

#[test]
fn an_exhausted_sequence_number_refuses_writes_instead_of_wrapping() {
    let mut nor = flash_of(0xFF);
    nor.bytes[..ENTRY].copy_from_slice(&entry(u32::MAX, &Some(key(1).to_bytes())));
    let mut r = OwnerRecord::load(&mut nor).unwrap();
    assert_eq!(r.owner(), Some(key(1)));
    assert_eq!(r.set(&mut nor, &key(2)), Err(StorageError));
    assert_eq!(OwnerRecord::load(&mut nor).unwrap().owner(), Some(key(1)));
    nor.erase_sector(0).unwrap();
    let mut r = OwnerRecord::load(&mut nor).unwrap();
    r.set(&mut nor, &key(2)).unwrap();
    assert_eq!(OwnerRecord::load(&mut nor).unwrap().owner(), Some(key(2)));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Writes interrupted by power cuts at any erase or program, torn at any byte: after every reboot the record
    /// reads the value of the last completed write or of the interrupted one, never another value.
    #[test]
    fn a_power_cut_leaves_the_old_or_the_new_owner(
        runs in proptest::collection::vec((proptest::collection::vec(any::<u8>(), 1..250), 0usize..300, 0usize..ENTRY), 1..4),
    ) {
        let mut nor = flash_of(0x00); // foreign data before the first write
        let mut committed: Option<OwnerKey> = None;
        for (writes, cut_after, torn_at) in runs {
            nor.power.left = Some(cut_after);
            nor.torn_at = torn_at;
            let mut r = OwnerRecord::load(&mut nor).unwrap();
            prop_assert_eq!(r.owner(), committed);
            let mut interrupted = None;
            for w in writes {
                let v = value(w);
                if write(&mut r, &mut nor, v).is_ok() {
                    committed = v;
                } else {
                    interrupted = Some(v);
                    break;
                }
            }
            nor.reboot();
            let after = OwnerRecord::load(&mut nor).unwrap().owner();
            prop_assert!(after == committed || Some(after) == interrupted, "{after:?} vs {committed:?} / {interrupted:?}");
            committed = after;
        }
    }
}

/// A power cut torn at every byte of an entry, at the first writes and around both sector switches (the
/// erase of the other sector and the first entry after it); the proptest above cuts at random operations.
#[test]
fn a_power_cut_at_any_byte_around_the_sector_switches_keeps_the_old_or_new_owner() {
    let p = PER_SECTOR as usize;
    let cuts = (0..4).chain(p - 3..p + 4).chain(2 * p - 3..2 * p + 4);
    for cut in cuts {
        for torn_at in 0..ENTRY {
            let mut nor = flash_of(0xFF);
            let mut r = OwnerRecord::load(&mut nor).unwrap();
            r.set(&mut nor, &key(0)).unwrap();
            let mut committed = Some(key(0));
            nor.power.left = Some(cut);
            nor.torn_at = torn_at;
            let mut interrupted = None;
            for i in 1u32.. {
                let v = value(i as u8);
                match write(&mut r, &mut nor, v) {
                    Ok(()) => committed = v,
                    Err(_) => {
                        interrupted = Some(v);
                        break;
                    }
                }
            }
            nor.reboot();
            let after = OwnerRecord::load(&mut nor).unwrap().owner();
            assert!(
                after == committed || Some(after) == interrupted,
                "cut at op {cut}, torn at {torn_at}: {after:?}"
            );
        }
    }
}
