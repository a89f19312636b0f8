//! Deployment over BLE (`deploy::ble`) against the virtual band behind `SimLink`: the exact GATT
//! bytes, the band's real update receiver and flash file. The link runs in real time with a fast
//! timing so each test takes well under a second of simulated air time.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bandx_board::partitions::AppSlot;
use bandx_core::blob::Model;
use bandx_core::boot::OtaState;
use bandx_core::protocol::{ErrorCode, RequestBody, ResponseBody, UpdateTarget};
use bandx_desktop::band::BandClient;
use bandx_desktop::deploy::ble::{DeployError, DeployOptions, deploy, deploy_recorded};
use bandx_desktop::deploy::{
    DeployProgress, Payload, PayloadError, Recorded, Stage, firmware_file,
};
use bandx_desktop::link::sim::{SHIPPED_MODEL, SimLink};
use bandx_desktop::link::{
    Backoff, Connection, Link, LinkError, PairError, PasskeyEntry, ScanRequest, ScanResult,
};
use bandx_desktop::store::{DeploymentStatus, Store, Transport};
use bandx_sim::{
    Faults, LinkTiming, SIM_FIRMWARE_VERSION, SimBand, SimConfig, firmware_version_of,
};

/// The model a test band starts with: the demo model, id 9 version 1 (not the shipped one, which
/// is what the tests deploy).
fn previous_model() -> Vec<u8> {
    bandx_testkit::demo_blob(9, 1, 1)
}

/// A virtual band in `dir` with a fast link (1 ms latency, 1 MB/s) at this MTU.
fn band(dir: &std::path::Path, mtu: u16) -> SimLink {
    let mut config = SimConfig::new(dir.join("band.flash"), Some(previous_model()));
    config.timing = LinkTiming {
        latency: Duration::from_millis(1),
        bytes_per_second: 1_000_000,
    };
    bandx_testkit::paired(SimLink::with_config(config).unwrap()).with_mtu(mtu)
}

fn options() -> DeployOptions {
    DeployOptions {
        backoff: Backoff {
            initial: Duration::from_millis(1),
            max: Duration::from_millis(5),
            attempts: 3,
        },
        max_reconnects: 5,
        confirm_every: 2048,
        max_stalled_confirmations: 4,
        reboot_timeout: Duration::from_secs(10),
        allow_downgrade: false,
    }
}

async fn band_id(link: &dyn Link) -> String {
    link.scan(ScanRequest::default()).await.unwrap()[0]
        .id
        .clone()
}

async fn client(link: &SimLink) -> BandClient {
    let conn = link.connect(&band_id(link).await).await.unwrap();
    BandClient::new(conn).await.unwrap()
}

/// (id, version, labels) of the band's active model.
async fn active_model(client: &BandClient) -> (u32, u32, Vec<String>) {
    let model = client.get_info().await.unwrap().model.expect("a model");
    (
        model.id,
        model.version,
        model.labels.iter().map(|l| l.to_string()).collect(),
    )
}

fn model_of(blob: &[u8]) -> (u32, u32, Vec<String>) {
    let m = Model::parse(blob).unwrap();
    (
        m.id(),
        m.version(),
        m.labels().iter().map(str::to_owned).collect(),
    )
}

async fn run(
    link: &dyn Link,
    client: Option<BandClient>,
    payload: Payload<'_>,
    opts: &DeployOptions,
    cancel: &AtomicBool,
    mut also: impl FnMut(&DeployProgress) + Send,
) -> (
    Result<(bandx_desktop::deploy::ble::DeployReport, BandClient), DeployError>,
    Vec<DeployProgress>,
) {
    let id = band_id(link).await;
    let mut events = Vec::new();
    let mut on_progress = |p: &DeployProgress| {
        also(p);
        events.push(p.clone());
    };
    let result = deploy(
        link,
        &id,
        client,
        payload,
        bandx_testkit::test_owner(),
        opts,
        &mut on_progress,
        cancel,
    )
    .await;
    (result, events)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_upload_becomes_the_active_model() {
    let dir = tempfile::tempdir().unwrap();
    let link = band(dir.path(), 247);
    let before = client(&link).await;
    assert_eq!(active_model(&before).await, model_of(&previous_model()));

    let never = AtomicBool::new(false);
    let (result, events) = run(
        &link,
        Some(before),
        Payload::Model(SHIPPED_MODEL),
        &options(),
        &never,
        |_| {},
    )
    .await;
    let (report, client) = result.unwrap();

    assert_eq!(active_model(&client).await, model_of(SHIPPED_MODEL));
    let reported = report.info_after.model.as_ref().unwrap();
    assert_eq!(reported.id, Model::parse(SHIPPED_MODEL).unwrap().id());
    assert_eq!(report.bytes, SHIPPED_MODEL.len() as u64);
    assert_eq!(
        report.bytes_written,
        SHIPPED_MODEL.len() as u64,
        "no resends"
    );
    assert_eq!((report.reconnects, report.resumed_from.len()), (0, 0));
    assert_eq!(report.mtu, 247);

    let stages: Vec<Stage> = events.iter().map(|e| e.stage).collect();
    for stage in [
        Stage::Connecting,
        Stage::Sending,
        Stage::Committing,
        Stage::Verifying,
    ] {
        assert!(stages.contains(&stage), "{stage:?} missing from {stages:?}");
    }
    let last = events.last().unwrap();
    assert_eq!(last.stage, Stage::Done);
    assert_eq!(last.bytes_sent, last.bytes_total);
    let sent: Vec<u64> = events.iter().map(|e| e.bytes_sent).collect();
    assert!(sent.windows(2).all(|w| w[0] <= w[1]), "{sent:?}");

    // It survives a restart: the band boots the new model from its flash.
    drop(client);
    link.band().power_cycle().unwrap();
    let after = self::client(&link).await;
    assert_eq!(active_model(&after).await, model_of(SHIPPED_MODEL));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_link_resumes_from_the_bands_offset() {
    let dir = tempfile::tempdir().unwrap();
    let link = band(dir.path(), 247);
    // Every connection drops once 3000 bytes were written on it: the 7.7 KB blob needs three.
    link.band()
        .set_faults(Faults::none().disconnect_after_bytes(3000));

    let never = AtomicBool::new(false);
    let (result, events) = run(
        &link,
        None,
        Payload::Model(SHIPPED_MODEL),
        &options(),
        &never,
        |_| {},
    )
    .await;
    let (report, client) = result.unwrap();

    assert!(report.reconnects >= 2, "{report:?}");
    assert_eq!(report.resumed_from.len() as u32, report.reconnects);
    assert!(
        report.resumed_from[0] > 0,
        "resumed from the start: {report:?}"
    );
    assert!(
        report.resumed_from.windows(2).all(|w| w[0] < w[1]),
        "each resumption starts further on: {:?}",
        report.resumed_from
    );
    assert!(events.iter().any(|e| e.stage == Stage::Resuming));
    // Nothing (or nearly nothing) was sent twice: the transfer continued where the band was.
    assert!(
        report.bytes_written < SHIPPED_MODEL.len() as u64 * 3 / 2,
        "{report:?}"
    );
    link.band().set_faults(Faults::none());
    assert_eq!(active_model(&client).await, model_of(SHIPPED_MODEL));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_chunk_is_sent_again_from_the_bands_offset() {
    let dir = tempfile::tempdir().unwrap();
    let link = band(dir.path(), 247);
    // Write 1 is the BeginUpdate request; writes 2.. are chunks of 242 bytes. Losing the 4th
    // chunk makes the band ignore everything after it until the sender rewinds.
    link.band().set_faults(Faults::none().drop_write(5));
    let never = AtomicBool::new(false);
    let (result, _) = run(
        &link,
        None,
        Payload::Model(SHIPPED_MODEL),
        &options(),
        &never,
        |_| {},
    )
    .await;
    let (report, client) = result.unwrap();
    assert_eq!(report.reconnects, 0);
    assert!(
        report.bytes_written > report.bytes,
        "the chunks after the lost one were sent again: {report:?}"
    );
    assert!(
        report.bytes_written <= report.bytes + 2048 + 242,
        "no more than one confirmation window was resent: {report:?}"
    );
    assert_eq!(active_model(&client).await, model_of(SHIPPED_MODEL));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_drops_exhaust_the_reconnections_and_the_band_keeps_its_model() {
    let dir = tempfile::tempdir().unwrap();
    let link = band(dir.path(), 247);
    link.band()
        .set_faults(Faults::none().disconnect_after_bytes(1000));
    let opts = DeployOptions {
        max_reconnects: 2,
        ..options()
    };

    let never = AtomicBool::new(false);
    let (result, _) = run(
        &link,
        None,
        Payload::Model(SHIPPED_MODEL),
        &opts,
        &never,
        |_| {},
    )
    .await;
    let error = result
        .err()
        .expect("three connections of 1 KB cannot carry 7.7 KB");
    match &error {
        DeployError::LinkLost {
            sent,
            total,
            reconnects,
            ..
        } => {
            assert_eq!(*reconnects, 2);
            assert!(*sent > 0 && sent < total, "{error}");
        }
        other => panic!("expected LinkLost, got {other:?}"),
    }
    assert!(
        error
            .to_string()
            .contains("The band keeps its previous model"),
        "{error}"
    );

    link.band().set_faults(Faults::none());
    let after = client(&link).await;
    assert_eq!(active_model(&after).await, model_of(&previous_model()));
}

/// The release the demo app images declare ("0.2.0").
const DEMO_RELEASE: u32 = 2_000;

/// Counts connections made through it (to show nothing was attempted).
struct Counting<'a> {
    inner: &'a SimLink,
    connects: AtomicU32,
}

#[async_trait]
impl Link for Counting<'_> {
    async fn scan(&self, request: ScanRequest) -> Result<Vec<ScanResult>, LinkError> {
        self.inner.scan(request).await
    }

    async fn connect(&self, id: &str) -> Result<Box<dyn Connection>, LinkError> {
        self.connects.fetch_add(1, Ordering::Relaxed);
        self.inner.connect(id).await
    }

    async fn pair(&self, id: &str, passkey: &dyn PasskeyEntry) -> Result<(), PairError> {
        self.inner.pair(id, passkey).await
    }

    async fn unpair(&self, id: &str) -> Result<(), PairError> {
        self.inner.unpair(id).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_blob_is_refused_before_anything_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let sim = band(dir.path(), 247);
    let link = Counting {
        inner: &sim,
        connects: AtomicU32::new(0),
    };
    let mut blob = SHIPPED_MODEL.to_vec();
    let middle = blob.len() / 2;
    blob[middle] ^= 0x55;

    let never = AtomicBool::new(false);
    let (result, events) = run(
        &link,
        None,
        Payload::Model(&blob),
        &options(),
        &never,
        |_| {},
    )
    .await;
    let error = result.err().expect("a corrupted blob is refused");
    assert!(
        matches!(error, DeployError::Payload(PayloadError::InvalidModel(_))),
        "{error:?}"
    );
    assert!(error.to_string().contains("Nothing was sent"), "{error}");
    assert!(events.is_empty(), "{events:?}");
    assert_eq!(link.connects.load(Ordering::Relaxed), 0);

    // Truncated and empty blobs too.
    for bad in [&SHIPPED_MODEL[..100], &[][..]] {
        let (result, _) = run(&link, None, Payload::Model(bad), &options(), &never, |_| {}).await;
        assert!(matches!(
            result,
            Err(DeployError::Payload(PayloadError::InvalidModel(_)))
        ));
    }
    assert_eq!(link.connects.load(Ordering::Relaxed), 0);

    let band = client(&sim).await;
    let status = band
        .request(RequestBody::UpdateStatus {
            target: UpdateTarget::Model,
        })
        .await
        .unwrap();
    assert_eq!(status, ResponseBody::Error(ErrorCode::NoUpdate));
    assert_eq!(active_model(&band).await, model_of(&previous_model()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_aborts_the_update_and_keeps_the_previous_model() {
    let dir = tempfile::tempdir().unwrap();
    let link = band(dir.path(), 23);
    // At a typical phone link's pace, so that progress events come while chunks are still going.
    link.band().set_timing(LinkTiming::TYPICAL);
    let cancel = AtomicBool::new(false);
    let (result, _) = run(
        &link,
        None,
        Payload::Model(SHIPPED_MODEL),
        &options(),
        &cancel,
        |p| {
            if p.stage == Stage::Sending && p.bytes_sent > 0 {
                cancel.store(true, Ordering::Relaxed);
            }
        },
    )
    .await;
    let error = result.err().expect("cancelled");
    match &error {
        DeployError::Cancelled {
            sent,
            total,
            aborted,
            ..
        } => {
            assert!(*aborted, "AbortUpdate reached the band");
            assert!(*sent > 0 && sent < total, "{error}");
        }
        other => panic!("expected Cancelled, got {other:?}"),
    }
    assert!(
        error
            .to_string()
            .contains("The band keeps its previous model"),
        "{error}"
    );

    let band = client(&link).await;
    let status = band
        .request(RequestBody::UpdateStatus {
            target: UpdateTarget::Model,
        })
        .await
        .unwrap();
    assert_eq!(
        status,
        ResponseBody::Error(ErrorCode::NoUpdate),
        "the band dropped the partial update"
    );
    assert_eq!(active_model(&band).await, model_of(&previous_model()));
}

/// A well-formed ESP32 app image (the virtual band is an ESP32 and checks it as the bootloader would);
/// the virtual band does not execute it but reports its version (`firmware_version_of`) once it boots it.
fn firmware_image() -> Vec<u8> {
    firmware_image_seeded(1)
}

fn firmware_image_seeded(seed: u32) -> Vec<u8> {
    let mut buf = vec![0u8; 8192];
    let n = bandx_core::demo::write_demo_app_image(
        &mut buf,
        bandx_core::update::app_image::Chip::Esp32,
        5952,
        seed,
    )
    .unwrap();
    buf.truncate(n);
    buf
}

fn boot_slot(band: &SimBand) -> AppSlot {
    band.with_band(|b| b.platform_mut().flash_mut().boot_app_slot())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_firmware_upload_is_committed_and_the_band_restarts_into_its_slot() {
    let dir = tempfile::tempdir().unwrap();
    let link = band(dir.path(), 247);
    let sim = link.band().clone();
    assert_eq!(boot_slot(&sim), AppSlot::Ota0);
    assert_eq!(sim.boots(), 1);
    let image = firmware_image();

    let never = AtomicBool::new(false);
    let (result, events) = run(
        &link,
        None,
        Payload::Firmware {
            image: &image,
            version: DEMO_RELEASE,
        },
        &options(),
        &never,
        |_| {},
    )
    .await;
    let (report, client) = result.unwrap();

    assert!(events.iter().any(|e| e.stage == Stage::Rebooting));
    assert_eq!(
        sim.boots(),
        3,
        "the band restarted into the new firmware, then once more to see that it kept it"
    );
    assert_eq!(sim.running_app_state(), Some(OtaState::Valid));
    assert_eq!(
        boot_slot(&sim),
        AppSlot::Ota1,
        "the bootloader now picks the new slot"
    );
    let stored = sim
        .with_band(|b| {
            let flash = b.platform_mut().flash_mut();
            let ota_1 = flash.layout().app_slot(AppSlot::Ota1).offset;
            flash.read(ota_1, image.len()).unwrap()
        })
        .unwrap();
    assert!(stored == image, "the image landed in ota_1 byte for byte");
    assert_eq!(
        report.info_after.firmware_version,
        firmware_version_of(&image).as_str()
    );
    // The band is back, on the new connection the job returned, with its model unchanged.
    assert_eq!(active_model(&client).await, model_of(&previous_model()));
}

/// A firmware ELF for the band's chip (the virtual band is an ESP32) goes over BLE as the app image the desktop
/// makes of it, signed by the owner, and the band boots it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_esp32_elf_is_sent_as_its_app_image_and_booted() {
    let dir = tempfile::tempdir().unwrap();
    let link = band(dir.path(), 247);
    let sim = link.band().clone();
    let image = firmware_file(bandx_testkit::esp32_demo_elf("0.5.0", 4)).expect("it converts");
    let never = AtomicBool::new(false);
    let (result, _) = run(
        &link,
        None,
        Payload::firmware(&image),
        &options(),
        &never,
        |_| {},
    )
    .await;
    let (report, _client) = result.expect("the band takes and keeps it");
    assert_eq!(sim.running_app_state(), Some(OtaState::Valid));
    assert_eq!(boot_slot(&sim), AppSlot::Ota1);
    let stored = sim
        .with_band(|b| {
            let flash = b.platform_mut().flash_mut();
            let ota_1 = flash.layout().app_slot(AppSlot::Ota1).offset;
            flash.read(ota_1, image.len()).unwrap()
        })
        .unwrap();
    assert!(
        stored == image,
        "ota_1 holds the converted image byte for byte"
    );
    assert_eq!(report.info_after.firmware_release, 5_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_firmware_that_fails_its_boot_check_is_reported_as_rolled_back() {
    let dir = tempfile::tempdir().unwrap();
    let link = band(dir.path(), 247);
    let sim = link.band().clone();
    // The new firmware boots without an IMU: its boot check fails and it never confirms itself.
    sim.break_next_firmware();
    let image = firmware_image();
    let never = AtomicBool::new(false);
    let payload = Payload::Firmware {
        image: &image,
        version: DEMO_RELEASE,
    };
    let (result, events) = run(&link, None, payload, &options(), &never, |_| {}).await;
    let error = result.err().expect("a rolled back firmware is no success");
    match &error {
        DeployError::RolledBack { tried, running } => {
            assert_eq!(*tried, firmware_version_of(&image));
            assert_eq!(running, SIM_FIRMWARE_VERSION);
        }
        other => panic!("expected RolledBack, got {other:?}"),
    }
    let message = error.to_string();
    assert!(message.contains("rolled back"), "{message}");
    assert!(message.contains("previous firmware"), "{message}");
    assert!(!events.iter().any(|e| e.stage == Stage::Done));
    // The band runs its previous firmware from ota_0; the new one's otadata entry was aborted.
    assert_eq!(sim.boots(), 3);
    assert_eq!(boot_slot(&sim), AppSlot::Ota0);
    assert_eq!(sim.firmware_version(), Some(SIM_FIRMWARE_VERSION));

    // A firmware that works is then taken, on the same band.
    let fixed = firmware_image_seeded(2);
    let payload = Payload::Firmware {
        image: &fixed,
        version: DEMO_RELEASE,
    };
    let (result, _) = run(&link, None, payload, &options(), &never, |_| {}).await;
    let (report, _client) = result.unwrap();
    assert_eq!(
        report.info_after.firmware_version,
        firmware_version_of(&fixed).as_str()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_firmware_the_band_already_runs_is_not_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let link = band(dir.path(), 247);
    let sim = link.band().clone();
    let image = firmware_image();
    let never = AtomicBool::new(false);
    let mut boots = Vec::new();
    for round in 0..2 {
        let (result, _) = run(
            &link,
            None,
            Payload::firmware(&image),
            &options(),
            &never,
            |_| {},
        )
        .await;
        let (report, _client) = result.unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert_eq!(
            report.info_after.firmware_version.as_str(),
            firmware_version_of(&image)
        );
        assert_eq!(
            report.info_after.firmware_release, DEMO_RELEASE,
            "the band reports the release it runs"
        );
        boots.push((report.bytes_written, sim.boots()));
    }
    // The second time the band answers "already installed": nothing written, erased or restarted.
    assert_eq!(boots[1], (0, boots[0].1), "{boots:?}");
    assert!(boots[0].0 > 0);
}

/// The virtual band is an ESP32: an ESP32-C3 image (bandx-core's demo one, and the real C3 firmware when
/// `make firmware-c3` built it) is refused by the band's app image check at commit, nothing becomes
/// bootable and the band keeps running its firmware.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_esp32c3_image_is_refused_by_the_esp32_band() {
    let demo = bandx_testkit::demo_app_image(bandx_core::update::Chip::Esp32C3, 20_000, 5);
    // The real C3 firmware: its .bin, and the image the desktop makes of its ELF (`deploy::elf`).
    let from_elf = bandx_testkit::esp32c3_firmware_elf()
        .map(|elf| firmware_file(elf).expect("the real C3 ELF converts"));
    let images = std::iter::once(demo)
        .chain(bandx_testkit::esp32c3_firmware_image())
        .chain(from_elf);
    for (i, image) in images.enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let link = band(dir.path(), 247);
        let sim = link.band().clone();
        let never = AtomicBool::new(false);
        let payload = Payload::firmware(&image);
        let (result, events) = run(&link, None, payload, &options(), &never, |_| {}).await;
        let error = result.err().expect("an ESP32-C3 image on an ESP32 band");
        assert!(
            matches!(
                error,
                DeployError::Refused {
                    code: ErrorCode::InvalidFirmware,
                    ..
                }
            ),
            "image {i}: {error:?}"
        );
        assert!(
            error
                .to_string()
                .contains("keeps running its previous firmware"),
            "{error}"
        );
        assert!(!events.iter().any(|e| e.stage == Stage::Done));
        assert_eq!(
            boot_slot(&sim),
            AppSlot::Ota0,
            "image {i}: nothing bootable"
        );
        assert_eq!(sim.boots(), 1, "image {i}: no restart");
        assert_eq!(sim.firmware_version(), Some(SIM_FIRMWARE_VERSION));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn something_that_is_not_a_firmware_image_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let link = band(dir.path(), 247);
    let never = AtomicBool::new(false);
    let (result, events) = run(
        &link,
        None,
        Payload::Firmware {
            image: SHIPPED_MODEL,
            version: 1,
        },
        &options(),
        &never,
        |_| {},
    )
    .await;
    let error = result.err().expect("a model blob is no firmware");
    assert!(
        matches!(error, DeployError::Payload(PayloadError::NotFirmware(_))),
        "{error:?}"
    );
    assert!(events.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployments_are_recorded_in_the_store_even_when_they_fail() {
    let dir = tempfile::tempdir().unwrap();
    let link = band(dir.path(), 247);
    let store = Store::open(dir.path().join("bandx.sqlite")).unwrap();
    let profile = store.create_profile("wearer", 0).unwrap();
    let ad = link.scan(ScanRequest::default()).await.unwrap().remove(0);
    let band_row = store.upsert_band(&ad.address, "BandX Sim", 0).unwrap();
    let store = Mutex::new(store);
    let recorded = Recorded {
        store: &store,
        profile,
        band: band_row,
        model: None,
    };
    let never = AtomicBool::new(false);
    let mut quiet = |_: &DeployProgress| {};

    // A link that drops once, then a good transfer.
    link.band()
        .set_faults(Faults::none().disconnect_after_bytes(4000));
    let (report, _client, ok_id) = deploy_recorded(
        &recorded,
        &link,
        &ad.id,
        None,
        Payload::Model(SHIPPED_MODEL),
        bandx_testkit::test_owner(),
        &options(),
        &mut quiet,
        &never,
    )
    .await
    .unwrap();
    let row = store.lock().unwrap().deployment(ok_id).unwrap();
    assert_eq!(row.status, DeploymentStatus::Verified);
    assert_eq!(row.transport, Transport::BleModel);
    assert_eq!(row.bytes_sent, SHIPPED_MODEL.len() as u64);
    assert_eq!(row.resumed_count, report.resumed_from.len() as u32);
    assert!(row.resumed_count >= 1, "{row:?}");
    assert!(row.finished_at_ms.is_some() && row.error.is_none());

    // A blob refused up front still leaves a row, failed, with the reason.
    let bad = &SHIPPED_MODEL[..200];
    let error = deploy_recorded(
        &recorded,
        &link,
        &ad.id,
        None,
        Payload::Model(bad),
        bandx_testkit::test_owner(),
        &options(),
        &mut quiet,
        &never,
    )
    .await
    .err()
    .unwrap();
    let rows = store.lock().unwrap().deployments(profile).unwrap();
    assert_eq!(rows.len(), 2);
    let failed = &rows[1];
    assert_eq!(failed.status, DeploymentStatus::Failed);
    assert_eq!(failed.error.as_deref(), Some(error.to_string().as_str()));
    assert_eq!(failed.bytes_sent, 0);
}

/// The app runs deployments on Tauri's runtime: the job's future must be `Send`.
#[test]
fn the_deployment_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let dir = tempfile::tempdir().unwrap();
    let link = band(dir.path(), 247);
    let store = Mutex::new(Store::open_in_memory().unwrap());
    let never = AtomicBool::new(false);
    let mut quiet = |_: &DeployProgress| {};
    let opts = options();
    let plain = deploy(
        &link,
        "sim:x",
        None,
        Payload::Model(SHIPPED_MODEL),
        bandx_testkit::test_owner(),
        &opts,
        &mut quiet,
        &never,
    );
    assert_send(&plain);
    drop(plain);
    let recorded = Recorded {
        store: &store,
        profile: bandx_desktop::store::ProfileId(1),
        band: bandx_desktop::store::BandId(1),
        model: None,
    };
    let mut quiet = |_: &DeployProgress| {};
    let with_store = deploy_recorded(
        &recorded,
        &link,
        "sim:x",
        None,
        Payload::Model(SHIPPED_MODEL),
        bandx_testkit::test_owner(),
        &opts,
        &mut quiet,
        &never,
    );
    assert_send(&with_store);
}
