//! Pairing with the virtual band through the desktop's `Link`: the bond kept across restarts, the
//! band's pairing window (after it a bonded band takes no new desktop until its button is
//! pressed), and a stranger's desktop on a paired band.

use std::time::Duration;

use async_trait::async_trait;
use bandx_desktop::band::{BandClient, BandError};
use bandx_desktop::link::sim::{SHIPPED_MODEL, SimLink};
use bandx_desktop::link::{Characteristic, Link, LinkError, PairError, PasskeyEntry};
use bandx_sim::{SimBand, SimConfig};
use bandx_testkit::ReadsTheBand;

/// The virtual band runs this many times faster than real time (its 2-minute pairing window
/// passes in 6 s).
const SPEED: f64 = 20.0;

fn open(dir: &std::path::Path) -> SimLink {
    let mut config = SimConfig::new(dir.join("band.flash"), Some(SHIPPED_MODEL.to_vec()));
    config.realtime_speed = SPEED;
    SimLink::with_config(config).unwrap()
}

fn id(link: &SimLink) -> String {
    link.band().scan_result().id
}

/// A user who types the band's code one digit off.
struct Mistypes(SimBand);

#[async_trait]
impl PasskeyEntry for Mistypes {
    async fn passkey(&self) -> Option<u32> {
        let shown = self
            .0
            .displayed_passkey()
            .expect("a code on the screen")
            .value();
        Some((shown + 1) % 1_000_000)
    }
}

/// A user who closes the dialog.
struct Cancels;

#[async_trait]
impl PasskeyEntry for Cancels {
    async fn passkey(&self) -> Option<u32> {
        None
    }
}

/// Connecting works; every request is refused as "not paired".
async fn refused(link: &SimLink) {
    let conn = link.connect(&id(link)).await.expect("connect");
    let write = conn.write(Characteristic::Control, &[2, 0, 0]).await;
    assert!(
        matches!(write, Err(LinkError::NotAuthenticated)),
        "{write:?}"
    );
    let client = BandClient::new(conn).await.err();
    assert!(
        matches!(client, Some(BandError::Link(LinkError::NotAuthenticated))),
        "{client:?}"
    );
}

async fn answers(link: &SimLink) {
    let conn = link.connect(&id(link)).await.expect("connect");
    let client = BandClient::new(conn).await.expect("subscribed");
    let info = client.get_info().await.expect("the band answers");
    assert!(info.model.is_some());
    client.connection().disconnect().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pairing_with_the_virtual_band() {
    let dir = tempfile::tempdir().unwrap();
    let link = open(dir.path());
    refused(&link).await;

    let wrong = link.pair(&id(&link), &Mistypes(link.band().clone())).await;
    assert!(matches!(wrong, Err(PairError::WrongCode)), "{wrong:?}");
    assert_eq!(link.band().displayed_passkey(), None, "the screen cleared");
    refused(&link).await;

    let cancelled = link.pair(&id(&link), &Cancels).await;
    assert!(
        matches!(cancelled, Err(PairError::Cancelled)),
        "{cancelled:?}"
    );
    refused(&link).await;

    let unknown = link.pair("sim:someone else", &Cancels).await;
    assert!(
        matches!(unknown, Err(PairError::Link(LinkError::NotFound(_)))),
        "{unknown:?}"
    );

    link.pair(&id(&link), &ReadsTheBand(link.band().clone()))
        .await
        .expect("the code on the screen pairs");
    assert_eq!(link.band().bonds().unwrap(), 1);
    answers(&link).await;

    // The bond outlives the app (and the band's restart).
    drop(link);
    let link = open(dir.path());
    answers(&link).await;

    // Unpair: this desktop forgets its key; the band refuses it again.
    link.unpair(&id(&link)).await.expect("unpaired");
    refused(&link).await;

    // The band holds a bond: after its 2-minute window it takes no new pairing...
    tokio::time::sleep(Duration::from_secs_f64(121.0 / SPEED)).await;
    let late = link
        .pair(&id(&link), &ReadsTheBand(link.band().clone()))
        .await;
    assert!(matches!(late, Err(PairError::NotInPairingMode)), "{late:?}");
    refused(&link).await;
    // ...until its button is pressed.
    link.band().press_button();
    link.pair(&id(&link), &ReadsTheBand(link.band().clone()))
        .await
        .expect("paired after the button");
    answers(&link).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_cannot_use_a_paired_band() {
    let dir = tempfile::tempdir().unwrap();
    let owner = open(dir.path());
    owner
        .pair(&id(&owner), &ReadsTheBand(owner.band().clone()))
        .await
        .expect("the owner pairs");
    answers(&owner).await;

    // Another desktop (its own bond file) on the same band, outside the pairing window.
    let stranger_dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        dir.path().join("band.flash"),
        stranger_dir.path().join("band.flash"),
    )
    .unwrap();
    drop(owner);
    let stranger = open(stranger_dir.path());
    tokio::time::sleep(Duration::from_secs_f64(121.0 / SPEED)).await;
    refused(&stranger).await;
    let attempt = stranger
        .pair(&id(&stranger), &ReadsTheBand(stranger.band().clone()))
        .await;
    assert!(
        matches!(attempt, Err(PairError::NotInPairingMode)),
        "{attempt:?}"
    );
    refused(&stranger).await;
}
