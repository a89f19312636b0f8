//! The virtual band through the desktop's `Link` (SimLink) and the typed band client, in real time.

use std::time::Duration;

use bandx_core::blob::Model;
use bandx_core::protocol::ErrorCode;
use bandx_desktop::band::{BandClient, BandError};
use bandx_desktop::link::sim::{SHIPPED_MODEL, SimLink};
use bandx_desktop::link::{DisconnectReason, Link, LinkError, ScanRequest, disconnected};

/// Generous bound on waiting for something the band will certainly do, so that a broken link fails
/// the test instead of hanging it. Not a performance assertion.
const PATIENCE: Duration = Duration::from_secs(30);

async fn client(link: &SimLink) -> BandClient {
    let found = link.scan(ScanRequest::default()).await.unwrap();
    let conn = link.connect(&found[0].id).await.unwrap();
    BandClient::new(conn).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_finds_the_virtual_band_and_connect_checks_the_id() {
    let dir = tempfile::tempdir().unwrap();
    let link = bandx_testkit::paired(SimLink::open(dir.path()).unwrap());
    let found = link.scan(ScanRequest::default()).await.unwrap();
    assert_eq!(found.len(), 1);
    let band = &found[0];
    assert!(band.bandx);
    assert!(
        band.name.as_deref().unwrap().starts_with("BandX"),
        "{band:?}"
    );

    match link.connect("sim:someone else").await {
        Err(LinkError::NotFound(id)) => assert_eq!(id, "sim:someone else"),
        Err(e) => panic!("connect to an unknown id: {e}"),
        Ok(_) => panic!("connected to an unknown id"),
    }
    let conn = link.connect(&band.address).await.unwrap();
    assert_eq!(conn.id(), band.id);
    // One connection at a time, as a real band.
    assert!(matches!(
        link.connect(&band.id).await,
        Err(LinkError::Gatt(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_info_reports_the_shipped_model_and_its_labels() {
    let dir = tempfile::tempdir().unwrap();
    let link = bandx_testkit::paired(SimLink::open(dir.path()).unwrap());
    let band = client(&link).await;
    let info = band.get_info().await.unwrap();

    let shipped = Model::parse(SHIPPED_MODEL).unwrap();
    let expected: Vec<&str> = shipped.labels().iter().collect();
    let model = info.model.expect("a fresh band has the shipped model");
    let labels: Vec<&str> = model.labels.iter().map(|l| l.as_str()).collect();
    assert_eq!(labels, expected);
    assert_eq!((model.id, model.version), (shipped.id(), shipped.version()));
    assert_eq!(info.sample_rate_hz, 20);
    assert_eq!(info.frame_capacity, 19, "MTU 247");
    assert!(!info.imu_streaming);

    // The flash file is in the data dir and the model survives a restart of the virtual band.
    drop(band);
    drop(link);
    assert!(dir.path().join("virtual-band.flash").is_file());
    // Its bond too: the desktop comes back without pairing again.
    let again = SimLink::open(dir.path()).unwrap();
    let info = client(&again).await.get_info().await.unwrap();
    assert_eq!(info.model.unwrap().labels.len(), expected.len());
}

async fn frames_arrive_without_loss(mtu: u16, per_frame: usize, frames: usize) {
    let dir = tempfile::tempdir().unwrap();
    let link = bandx_testkit::paired(SimLink::open(dir.path()).unwrap()).with_mtu(mtu);
    let band = client(&link).await;
    assert_eq!(band.connection().mtu(), mtu);
    let mut stream = band.imu_frames().await.unwrap();
    band.start_imu().await.unwrap();
    assert!(band.get_info().await.unwrap().imu_streaming);

    let mut received = Vec::new();
    tokio::time::timeout(PATIENCE, async {
        while received.len() < frames {
            received.push(stream.next().await.expect("the stream ended"));
        }
    })
    .await
    .expect("IMU frames stopped coming");
    band.stop_imu().await.unwrap();

    assert_eq!(stream.lost(), 0, "MTU {mtu}");
    assert_eq!(stream.malformed(), 0);
    for pair in received.windows(2) {
        let (a, b) = (&pair[0].frame, &pair[1].frame);
        assert_eq!(b.seq, a.seq.wrapping_add(1), "MTU {mtu}");
        assert_eq!(b.timestamp_ms - a.timestamp_ms, per_frame as u32 * 50);
        assert_eq!(pair[1].lost_before, 0);
    }
    for f in &received {
        assert_eq!(f.frame.samples.len(), per_frame, "MTU {mtu}");
        for (_, si) in f.si_samples(20) {
            // A wrist at rest or moving: gravity keeps |a| well away from 0 and below 16 g.
            let a = (si[0] * si[0] + si[1] * si[1] + si[2] * si[2]).sqrt();
            assert!((1.0..160.0).contains(&a), "|a| = {a} m/s²");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imu_frames_arrive_without_loss_at_mtu_247() {
    frames_arrive_without_loss(247, 19, 4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imu_frames_arrive_without_loss_at_mtu_23() {
    frames_arrive_without_loss(23, 1, 40).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_band_is_reported_as_lost() {
    let dir = tempfile::tempdir().unwrap();
    let link = bandx_testkit::paired(SimLink::open(dir.path()).unwrap());
    let band = client(&link).await;
    let mut state = band.connection().state();
    link.band().drop_link();
    let reason = tokio::time::timeout(PATIENCE, disconnected(&mut state))
        .await
        .expect("no disconnection reported");
    assert_eq!(reason, DisconnectReason::Lost);
    match band.get_info().await {
        Err(BandError::Link(LinkError::ConnectionLost)) => {}
        other => panic!("get_info on a lost link: {other:?}"),
    }

    // A requested disconnect is reported as such.
    let band = client(&link).await;
    let mut state = band.connection().state();
    band.connection().disconnect().await.unwrap();
    let reason = tokio::time::timeout(PATIENCE, disconnected(&mut state))
        .await
        .expect("no disconnection reported");
    assert_eq!(reason, DisconnectReason::Requested);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn predictions_arrive_when_started() {
    let dir = tempfile::tempdir().unwrap();
    let link = bandx_testkit::paired(SimLink::open(dir.path()).unwrap());
    let band = client(&link).await;
    let classes = Model::parse(SHIPPED_MODEL).unwrap().labels().len();
    let mut predictions = band.predictions().await.unwrap();
    band.start_predictions().await.unwrap();

    let mut events = Vec::new();
    tokio::time::timeout(PATIENCE, async {
        while events.len() < 2 {
            events.push(predictions.next().await.expect("the stream ended"));
        }
    })
    .await
    .expect("no predictions");
    band.stop_predictions().await.unwrap();

    assert_eq!(predictions.malformed(), 0);
    assert_eq!(events[1].window_seq, events[0].window_seq + 1);
    // One window every 30 samples at 20 Hz.
    assert_eq!(events[1].timestamp_ms - events[0].timestamp_ms, 1500);
    for e in &events {
        assert!(usize::from(e.class) < classes, "{e:?}");
        assert!(e.confidence_permille <= 1000, "{e:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_band_without_a_model_refuses_predictions() {
    let dir = tempfile::tempdir().unwrap();
    let config = bandx_sim::SimConfig::new(dir.path().join("empty.flash"), None);
    let link = bandx_testkit::paired(SimLink::with_config(config).unwrap());
    let band = client(&link).await;
    assert!(band.get_info().await.unwrap().model.is_none());
    match band.start_predictions().await {
        Err(BandError::Refused { code, .. }) => assert_eq!(code, ErrorCode::NoModel),
        other => panic!("start_predictions without a model: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_spanning_several_writes_at_mtu_23_is_answered() {
    use bandx_core::blob::sha256;
    use bandx_core::protocol::{RequestBody, ResponseBody, UpdateTarget};

    let dir = tempfile::tempdir().unwrap();
    let link = bandx_testkit::paired(SimLink::open(dir.path()).unwrap()).with_mtu(23);
    let band = client(&link).await;
    let total_len = SHIPPED_MODEL.len() as u32;
    // Version byte + id + 32-byte digest + lengths: more than one 20-byte ATT payload.
    let begin = RequestBody::BeginUpdate {
        target: UpdateTarget::Model,
        total_len,
        sha256: sha256(SHIPPED_MODEL),
        version: 2,
    };
    assert_eq!(
        band.request(begin).await.unwrap(),
        ResponseBody::UpdateStatus {
            target: UpdateTarget::Model,
            next_offset: 0,
            total_len
        }
    );
    let abort = RequestBody::AbortUpdate {
        target: UpdateTarget::Model,
    };
    assert_eq!(band.request(abort).await.unwrap(), ResponseBody::Ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_packets_become_timeouts() {
    let dir = tempfile::tempdir().unwrap();
    let link = bandx_testkit::paired(SimLink::open(dir.path()).unwrap());
    let wait = Duration::from_millis(500);

    // The request's write is lost: the band never acknowledges it.
    link.band()
        .set_faults(bandx_sim::Faults::none().drop_write(1));
    let band = client(&link).await.with_timeout(wait);
    match band.get_info().await {
        Err(BandError::Link(LinkError::Timeout { .. })) => {}
        other => panic!("get_info with its write lost: {other:?}"),
    }
    band.connection().disconnect().await.unwrap();

    // The response is lost: the client gives up after its timeout, and the next request works.
    link.band()
        .set_faults(bandx_sim::Faults::none().drop_notification(1));
    let band = client(&link).await.with_timeout(wait);
    match band.get_info().await {
        Err(BandError::Link(LinkError::Timeout { operation, after })) => {
            assert_eq!((operation, after), ("GetInfo", wait));
        }
        other => panic!("get_info with its response lost: {other:?}"),
    }
    assert!(band.get_info().await.unwrap().model.is_some());
}

/// Types a fixed code, whatever the band shows.
struct Types(Option<u32>);

#[async_trait::async_trait]
impl bandx_desktop::link::PasskeyEntry for Types {
    async fn passkey(&self) -> Option<u32> {
        self.0
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_desktop_that_typed_the_bands_code_is_answered() {
    use bandx_desktop::link::PairError;
    let dir = tempfile::tempdir().unwrap();
    let link = SimLink::open(dir.path()).unwrap();
    let id = link.band().scan_result().id;
    let refused = |e: BandError| matches!(e, BandError::Link(LinkError::NotAuthenticated));

    // A stranger: connected, but every request is refused.
    let conn = link.connect(&id).await.unwrap();
    match BandClient::new(conn).await {
        Err(e) => assert!(refused(e)),
        Ok(c) => assert!(refused(c.get_info().await.unwrap_err())),
    }

    // A wrong code (one off whatever the band shows), then a cancelled entry: still a stranger.
    struct OffByOne(bandx_sim::SimBand);
    #[async_trait::async_trait]
    impl bandx_desktop::link::PasskeyEntry for OffByOne {
        async fn passkey(&self) -> Option<u32> {
            self.0
                .displayed_passkey()
                .map(|p| (p.value() + 1) % 1_000_000)
        }
    }
    let wrong = link.pair(&id, &OffByOne(link.band().clone())).await;
    assert!(matches!(wrong, Err(PairError::WrongCode)), "{wrong:?}");
    let cancelled = link.pair(&id, &Types(None)).await;
    assert!(
        matches!(cancelled, Err(PairError::Cancelled)),
        "{cancelled:?}"
    );
    assert!(refused(client_error(&link, &id).await));

    // The code on the band's screen pairs; then the band answers, also after reopening the link.
    link.pair(&id, &bandx_testkit::ReadsTheBand(link.band().clone()))
        .await
        .unwrap();
    let info = client(&link).await.get_info().await.unwrap();
    assert!(info.model.is_some());

    // Forgetting the band on this desktop makes it a stranger again.
    link.unpair(&id).await.unwrap();
    assert!(refused(client_error(&link, &id).await));
    drop(link);
    let reopened = SimLink::open(dir.path()).unwrap();
    assert!(refused(client_error(&reopened, &id).await));
}

async fn client_error(link: &SimLink, id: &str) -> BandError {
    let conn = link.connect(id).await.unwrap();
    match BandClient::new(conn).await {
        Err(e) => e,
        Ok(c) => c.get_info().await.unwrap_err(),
    }
}
