use super::*;
use proptest::prelude::*;

extern crate std;
use std::format;

#[test]
fn a_band_without_bonds_always_pairs() {
    let context = PairingContext {
        bonds: 0,
        uptime_ms: u32::MAX,
        since_button_ms: None,
    };
    assert_eq!(pairing_mode(&context), Ok(()));
}

#[test]
fn a_bonded_band_pairs_only_in_its_window_after_boot_or_the_button() {
    let at = |uptime_ms, since_button_ms| {
        pairing_mode(&PairingContext {
            bonds: 1,
            uptime_ms,
            since_button_ms,
        })
    };
    assert_eq!(at(0, None), Ok(()));
    assert_eq!(at(PAIRING_WINDOW_MS - 1, None), Ok(()));
    assert_eq!(
        at(PAIRING_WINDOW_MS, None),
        Err(PairingRefused::NotInPairingMode)
    );
    assert_eq!(at(10 * PAIRING_WINDOW_MS, Some(5_000)), Ok(()));
    assert_eq!(
        at(10 * PAIRING_WINDOW_MS, Some(PAIRING_WINDOW_MS)),
        Err(PairingRefused::NotInPairingMode)
    );
}

#[test]
fn passkeys_show_six_digits_and_hide_in_debug_output() {
    let key = Passkey::new(42).unwrap();
    assert_eq!(format!("{key}"), "000042");
    assert!(!format!("{key:?}").contains("42"));
    assert_eq!(Passkey::new(1_000_000), None);
}

#[test]
fn draws_past_the_last_whole_million_are_redrawn() {
    let mut draws = [u32::MAX, 4_294_000_000, 1_234_567].into_iter();
    let key = Passkey::random(|| draws.next().unwrap());
    assert_eq!(key.value(), 234_567);
    assert_eq!(draws.next(), None);
}

proptest! {
    #[test]
    fn every_random_passkey_is_six_digits(words in proptest::collection::vec(any::<u32>(), 1..8)) {
        let mut it = words.iter().copied().chain(core::iter::repeat(7));
        let key = Passkey::random(|| it.next().unwrap());
        prop_assert!(key.value() <= Passkey::MAX);
        prop_assert_eq!(format!("{key}").len(), 6);
    }
}
