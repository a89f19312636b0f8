//! The virtual band is as closed as the hardware: nothing but a paired desktop may use its service, pairing needs
//! the code on its screen, and a bond lets its desktop back in after a restart.

mod support;

use std::time::Duration;

use bandx_core::pairing::PAIRING_WINDOW_MS;
use bandx_core::protocol::{ALL_REQUESTS, BULK_UUID, CONTROL_UUID, IMU_UUID, PREDICTIONS_UUID};
use bandx_sim::{Central, SimError, SimPairError};
use support::{Desktop, fresh_band};

#[test]
fn a_desktop_that_never_paired_is_refused_everything() {
    let dir = tempfile::tempdir().unwrap();
    let band = fresh_band(dir.path());
    let conn = band.connect(247).unwrap();
    for uuid in [CONTROL_UUID, IMU_UUID, PREDICTIONS_UUID] {
        assert!(matches!(
            conn.subscribe(uuid),
            Err(SimError::InsufficientAuthentication(_))
        ));
    }
    let rx = conn.notifications().unwrap();
    // Every request, as the first fragment of a control message.
    for (id, body) in ALL_REQUESTS.iter().cloned().enumerate() {
        let mut buf = [0u8; 768];
        let request = bandx_core::protocol::Request {
            id: id as u16,
            body,
        };
        let n = bandx_core::protocol::encode_request(&request, &mut buf).unwrap();
        let mut packet = vec![0x80];
        packet.extend_from_slice(&buf[..n.min(200)]);
        assert!(matches!(
            conn.write(CONTROL_UUID, &packet, true),
            Err(SimError::InsufficientAuthentication(_))
        ));
    }
    // A write command is dropped without an answer, as the ATT layer does.
    conn.write(BULK_UUID, &[0, 0, 0, 0, 0, 1, 2, 3], false)
        .unwrap();
    band.advance(Duration::from_secs(5)).unwrap();
    assert!(
        rx.try_recv().is_err(),
        "the band sent something to a stranger"
    );
    assert!(!conn.is_authenticated());
    assert_eq!(band.bonds().unwrap(), 0);
    assert_eq!(band.boots(), 1);
}

#[test]
fn only_the_code_on_the_band_pairs_and_the_bond_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let band = fresh_band(dir.path());
    let conn = band.connect(247).unwrap();
    assert_eq!(band.displayed_passkey(), None);
    assert_eq!(conn.finish_pairing(0), Err(SimPairError::NotStarted));

    conn.start_pairing().unwrap();
    let shown = band.displayed_passkey().expect("the band shows a code");
    let wrong = (shown.value() + 1) % 1_000_000;
    assert_eq!(conn.finish_pairing(wrong), Err(SimPairError::WrongPasskey));
    assert_eq!(
        band.displayed_passkey(),
        None,
        "a failed pairing clears the screen"
    );
    assert!(!conn.is_authenticated());
    assert!(conn.subscribe(CONTROL_UUID).is_err());

    conn.start_pairing().unwrap();
    let shown = band.displayed_passkey().unwrap();
    let ltk = conn.finish_pairing(shown.value()).unwrap();
    assert!(conn.is_authenticated());
    conn.subscribe(CONTROL_UUID).unwrap();
    let address = [0xC2, 0, 0, 0, 0, 1];
    drop(conn);

    band.power_cycle().unwrap();
    band.advance(Duration::from_millis(u64::from(PAIRING_WINDOW_MS) + 1_000))
        .unwrap();
    let back = band
        .connect_as(
            247,
            Central {
                address,
                ltk: Some(ltk),
            },
        )
        .unwrap();
    assert!(back.is_authenticated(), "the bond lets its desktop back in");
    drop(back);
    let forged = band
        .connect_as(
            247,
            Central {
                address,
                ltk: Some([0; 16]),
            },
        )
        .unwrap();
    assert!(!forged.is_authenticated(), "a guessed key does not");
    assert!(forged.subscribe(CONTROL_UUID).is_err());
}

#[test]
fn a_bonded_band_takes_new_pairings_only_after_a_restart_or_its_button() {
    let dir = tempfile::tempdir().unwrap();
    let band = fresh_band(dir.path());
    drop(Desktop::connect(&band, 247));
    band.advance(Duration::from_millis(u64::from(PAIRING_WINDOW_MS)))
        .unwrap();
    let stranger = band.connect(247).unwrap();
    assert!(matches!(
        stranger.start_pairing(),
        Err(SimPairError::Refused(_))
    ));
    assert_eq!(band.displayed_passkey(), None);

    band.press_button();
    stranger.start_pairing().unwrap();
    drop(stranger);
    assert_eq!(
        band.displayed_passkey(),
        None,
        "the code goes with the link"
    );

    band.advance(Duration::from_millis(u64::from(PAIRING_WINDOW_MS)))
        .unwrap();
    band.power_cycle().unwrap();
    let after_restart = band.connect(247).unwrap();
    after_restart.start_pairing().unwrap();
}

#[test]
fn a_code_typed_after_thirty_seconds_is_too_late() {
    let dir = tempfile::tempdir().unwrap();
    let band = fresh_band(dir.path());
    let conn = band.connect(247).unwrap();
    conn.start_pairing().unwrap();
    let shown = band.displayed_passkey().unwrap();
    band.advance(Duration::from_secs(31)).unwrap();
    assert_eq!(
        conn.finish_pairing(shown.value()),
        Err(SimPairError::Timeout)
    );
    assert!(!conn.is_authenticated());
}
