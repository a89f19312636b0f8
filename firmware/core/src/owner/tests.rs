//! Grants signed with real ed25519 keys: a valid signature passes; unsigned, wrong-key, and every one-byte
//! change to the grant, the signature or the key is refused. The signed bytes are pinned byte by byte.
extern crate std;

use super::*;
use ed25519_dalek::{Signer, SigningKey};
use proptest::prelude::*;

fn signer(seed: [u8; 32]) -> (SigningKey, OwnerKey) {
    let sk = SigningKey::from_bytes(&seed);
    let pk = OwnerKey::from_bytes(&sk.verifying_key().to_bytes()).unwrap();
    (sk, pk)
}

fn sign(sk: &SigningKey, grant: &Grant) -> Signature {
    sk.sign(&grant.message()).to_bytes()
}

fn target(firmware: bool) -> UpdateTarget {
    if firmware {
        UpdateTarget::Firmware
    } else {
        UpdateTarget::Model
    }
}

fn grants() -> impl Strategy<Value = Grant> {
    (
        any::<bool>(),
        any::<u32>(),
        any::<u32>(),
        any::<[u8; 32]>(),
        any::<bool>(),
    )
        .prop_map(|(fw, version, total_len, sha256, downgrade)| Grant {
            target: target(fw),
            version,
            total_len,
            sha256,
            downgrade,
        })
}

/// `grant` with one byte of one field changed (`field` picks the field, `at` the byte, `x` != 0 the change).
fn tampered(grant: &Grant, field: usize, at: usize, x: u8) -> Grant {
    let mut g = *grant;
    match field % 5 {
        0 => g.target = target(g.target == UpdateTarget::Model),
        1 => {
            let mut b = g.version.to_le_bytes();
            b[at % 4] ^= x;
            g.version = u32::from_le_bytes(b);
        }
        2 => {
            let mut b = g.total_len.to_le_bytes();
            b[at % 4] ^= x;
            g.total_len = u32::from_le_bytes(b);
        }
        3 => g.sha256[at % 32] ^= x,
        _ => g.downgrade = !g.downgrade,
    }
    g
}

#[test]
fn the_signed_bytes_are_the_documented_layout() {
    let grant = Grant {
        target: UpdateTarget::Firmware,
        version: 0x0102_0304,
        total_len: 0x0A0B_0C0D,
        sha256: core::array::from_fn(|i| 0x40 + i as u8),
        downgrade: true,
    };
    let m = grant.message();
    assert_eq!(m.len(), 57);
    assert_eq!(&m[..15], b"BandX grant v1\0");
    assert_eq!(m[15], 1);
    assert_eq!(m[16..20], [0x04, 0x03, 0x02, 0x01]);
    assert_eq!(m[20..24], [0x0D, 0x0C, 0x0B, 0x0A]);
    assert_eq!(
        m[24..56],
        core::array::from_fn::<u8, 32, _>(|i| 0x40 + i as u8)
    );
    assert_eq!(m[56], 1);
    let model = Grant {
        target: UpdateTarget::Model,
        downgrade: false,
        ..grant
    };
    assert_eq!((model.message()[15], model.message()[56]), (0, 0));
}

/// RFC 8032 section 7.1, TEST 2: the key parses and the one-byte message's signature is the RFC's, so the
/// scheme is standard ed25519 (what any other implementation, e.g. the desktop's, produces).
#[test]
fn rfc8032_test_vector_2() {
    let seed: [u8; 32] = hex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb");
    let public: [u8; 32] = hex("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c");
    let sig: [u8; 64] = hex(
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da\
         085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    );
    let sk = SigningKey::from_bytes(&seed);
    assert_eq!(sk.verifying_key().to_bytes(), public);
    assert_eq!(sk.sign(&[0x72]).to_bytes(), sig);
    assert!(OwnerKey::from_bytes(&public).is_ok());
}

fn hex<const N: usize>(s: &str) -> [u8; N] {
    let s = s.as_bytes();
    core::array::from_fn(|i| {
        let d = |c: u8| (c as char).to_digit(16).unwrap() as u8;
        d(s[2 * i]) << 4 | d(s[2 * i + 1])
    })
}

#[test]
fn keys_that_are_not_points_or_of_small_order_are_refused() {
    // The identity (y = 1) and the order-2 point (y = -1) are small-order points.
    let identity: [u8; 32] = core::array::from_fn(|i| if i == 0 { 1 } else { 0 });
    let mut minus_one = [0xFFu8; 32];
    minus_one[0] = 0xEC;
    minus_one[31] = 0x7F;
    for key in [identity, minus_one, [0u8; 32]] {
        assert_eq!(
            OwnerKey::from_bytes(&key),
            Err(OwnerError::InvalidKey),
            "{key:02x?}"
        );
    }
    // y = 2 is not on the curve.
    let mut two = [0u8; 32];
    two[0] = 2;
    assert_eq!(OwnerKey::from_bytes(&two), Err(OwnerError::InvalidKey));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn the_owners_signature_passes(seed in any::<[u8; 32]>(), grant in grants()) {
        let (sk, pk) = signer(seed);
        prop_assert_eq!(verify(&pk, &grant, &sign(&sk, &grant)), Ok(()));
        prop_assert_eq!(OwnerKey::from_bytes(&pk.to_bytes()), Ok(pk));
    }

    #[test]
    fn an_unsigned_grant_is_refused(seed in any::<[u8; 32]>(), grant in grants()) {
        let (_, pk) = signer(seed);
        prop_assert_eq!(verify(&pk, &grant, &[0u8; 64]), Err(OwnerError::BadSignature));
        prop_assert_eq!(verify(&pk, &grant, &[0xFFu8; 64]), Err(OwnerError::BadSignature));
    }

    #[test]
    fn another_keys_signature_is_refused(seed in any::<[u8; 32]>(), other in any::<[u8; 32]>(), grant in grants()) {
        prop_assume!(seed != other);
        let (_, pk) = signer(seed);
        let (stranger, _) = signer(other);
        prop_assert_eq!(verify(&pk, &grant, &sign(&stranger, &grant)), Err(OwnerError::BadSignature));
    }

    #[test]
    fn a_changed_grant_field_is_refused(
        seed in any::<[u8; 32]>(), grant in grants(), field in 0usize..5, at in 0usize..32, x in 1u8..,
    ) {
        let (sk, pk) = signer(seed);
        let sig = sign(&sk, &grant);
        let changed = tampered(&grant, field, at, x);
        prop_assert_ne!(changed, grant);
        prop_assert_eq!(verify(&pk, &changed, &sig), Err(OwnerError::BadSignature));
    }

    #[test]
    fn a_flipped_signature_byte_is_refused(seed in any::<[u8; 32]>(), grant in grants(), at in 0usize..64, x in 1u8..) {
        let (sk, pk) = signer(seed);
        let mut sig = sign(&sk, &grant);
        sig[at] ^= x;
        prop_assert_eq!(verify(&pk, &grant, &sig), Err(OwnerError::BadSignature));
    }

    #[test]
    fn a_flipped_key_byte_is_refused(seed in any::<[u8; 32]>(), grant in grants(), at in 0usize..32, x in 1u8..) {
        let (sk, pk) = signer(seed);
        let sig = sign(&sk, &grant);
        let mut key = pk.to_bytes();
        key[at] ^= x;
        match OwnerKey::from_bytes(&key) {
            Ok(other) => prop_assert_eq!(verify(&other, &grant, &sig), Err(OwnerError::BadSignature)),
            Err(e) => prop_assert_eq!(e, OwnerError::InvalidKey),
        }
    }

    /// Arbitrary bytes as key, grant and signature: never a panic, and (with overwhelming probability) refused.
    #[test]
    fn arbitrary_bytes_never_pass(key in any::<[u8; 32]>(), grant in grants(), sig in proptest::collection::vec(any::<u8>(), 64)) {
        let sig: Signature = sig.try_into().unwrap();
        if let Ok(k) = OwnerKey::from_bytes(&key) {
            prop_assert_eq!(verify(&k, &grant, &sig), Err(OwnerError::BadSignature));
        }
    }
}
