//! `Band` on a host test platform: RAM flash, a synthetic IMU, recorded notifications.
extern crate std;

use super::*;
use crate::blob::sha256;
use crate::boot::{BootDecision, BootFailure, OtaState};
use crate::demo::{DEMO_BLOB_CAPACITY, write_demo_model};
use crate::frame::{Frame, LossDetector, SeqEvent};
use crate::imu::{FullScale, RawSample};
use crate::protocol::{
    BulkChunk, DecodeError, Reassembler, UpdateTarget, decode_response, encode_request, fragments,
};
use crate::update::{FirmwareSink, ModelStore, StorageError};
use proptest::prelude::*;
use std::vec;
use std::vec::Vec;

struct HostPlatform {
    clock_ms: u32,
    sample_index: u32,
    slots: [Vec<u8>; 2],
    active: Option<Slot>,
    firmware: Vec<u8>,
    firmware_committed: bool,
    notifications: Vec<(Characteristic, Vec<u8>)>,
    payload: usize,
    reboots: usize,
    imu_fails: bool,
    ota_state: Option<OtaState>,
    /// The owner record's two sectors.
    owner_flash: Vec<u8>,
    running_digest: Option<[u8; 32]>,
    /// The activity log's partition (16 sectors, NOR semantics).
    log_flash: Vec<u8>,
}

impl HostPlatform {
    fn new(payload: usize) -> Self {
        HostPlatform {
            clock_ms: 0,
            sample_index: 0,
            slots: [vec![0xFF; 16 * 1024], vec![0xFF; 16 * 1024]],
            active: None,
            firmware: Vec::new(),
            firmware_committed: false,
            notifications: Vec::new(),
            payload,
            reboots: 0,
            imu_fails: false,
            ota_state: None,
            owner_flash: vec![0xFF; crate::owner::OWNER_RECORD_LEN as usize],
            running_digest: None,
            log_flash: vec![0xFF; 16 * 4096],
        }
    }

    /// The synthetic IMU: deterministic, varied counts.
    fn sample(i: u32) -> RawSample {
        let v = |k: u32| (((i * 37 + k * 101) % 2001) as i32 - 1000) as i16 * 3;
        RawSample {
            accel: [v(0), v(1), 4096 + v(2)],
            gyro: [v(3), v(4), v(5)],
        }
    }

    fn take(&mut self, c: Characteristic) -> Vec<Vec<u8>> {
        let (hit, rest) = self.notifications.drain(..).partition(|(ch, _)| *ch == c);
        self.notifications = rest;
        hit.into_iter().map(|(_, b)| b).collect()
    }
}

impl ModelStore for HostPlatform {
    fn slot_capacity(&self) -> usize {
        self.slots[0].len()
    }
    fn slot(&self, slot: Slot) -> &[u8] {
        &self.slots[slot as usize]
    }
    fn erase_slot(&mut self, slot: Slot) -> Result<(), StorageError> {
        self.slots[slot as usize].fill(0xFF);
        Ok(())
    }
    fn write_slot(&mut self, slot: Slot, offset: usize, data: &[u8]) -> Result<(), StorageError> {
        self.slots[slot as usize][offset..offset + data.len()].copy_from_slice(data);
        Ok(())
    }
    fn active_slot(&self) -> Option<Slot> {
        self.active
    }
    fn set_active_slot(&mut self, slot: Slot) -> Result<(), StorageError> {
        self.active = Some(slot);
        Ok(())
    }
}

impl FirmwareSink for HostPlatform {
    fn app_chip(&self) -> crate::update::Chip {
        crate::update::Chip::Esp32C3
    }
    fn firmware_capacity(&self) -> usize {
        1 << 20
    }
    fn firmware_begin(&mut self, _total_len: u32) -> Result<(), StorageError> {
        self.firmware.clear();
        Ok(())
    }
    fn firmware_write(&mut self, _offset: u32, data: &[u8]) -> Result<(), StorageError> {
        self.firmware.extend_from_slice(data);
        Ok(())
    }
    fn firmware_commit(&mut self) -> Result<(), StorageError> {
        self.firmware_committed = true;
        Ok(())
    }
    fn firmware_abort(&mut self) {
        self.firmware.clear();
    }
    fn running_app_digest(&mut self) -> Option<[u8; 32]> {
        self.running_digest
    }
}

impl crate::owner::OwnerFlash for HostPlatform {
    fn read(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), StorageError> {
        let at = offset as usize;
        buf.copy_from_slice(
            self.owner_flash
                .get(at..at + buf.len())
                .ok_or(StorageError)?,
        );
        Ok(())
    }
    fn program(&mut self, offset: u32, data: &[u8]) -> Result<(), StorageError> {
        let at = offset as usize;
        let cells = self
            .owner_flash
            .get_mut(at..at + data.len())
            .ok_or(StorageError)?;
        for (c, d) in cells.iter_mut().zip(data) {
            *c &= d;
        }
        Ok(())
    }
    fn erase_sector(&mut self, offset: u32) -> Result<(), StorageError> {
        let at = offset as usize;
        let sector = crate::owner::OWNER_RECORD_SECTOR as usize;
        self.owner_flash
            .get_mut(at..at + sector)
            .ok_or(StorageError)?
            .fill(0xFF);
        Ok(())
    }
}

impl Platform for HostPlatform {
    fn now_ms(&self) -> u32 {
        self.clock_ms
    }
    fn read_imu(&mut self) -> Option<RawSample> {
        if self.imu_fails {
            return None;
        }
        let s = Self::sample(self.sample_index);
        self.sample_index += 1;
        self.clock_ms += 1000 / SAMPLE_RATE_HZ;
        Some(s)
    }
    fn full_scale(&self) -> FullScale {
        FullScale::DEFAULT
    }
    fn notify(&mut self, characteristic: Characteristic, bytes: &[u8]) {
        assert!(
            bytes.len() <= self.payload,
            "notification of {} bytes > payload {}",
            bytes.len(),
            self.payload
        );
        self.notifications.push((characteristic, bytes.to_vec()));
    }
    fn att_payload(&self) -> usize {
        self.payload
    }
    fn battery_percent(&mut self) -> u8 {
        87
    }
    fn reboot(&mut self) {
        self.reboots += 1;
    }
    fn running_app_state(&mut self) -> Option<OtaState> {
        self.ota_state
    }
    fn mark_app_valid(&mut self) -> Result<(), StorageError> {
        self.ota_state = Some(OtaState::Valid);
        Ok(())
    }
}

impl crate::log::LogFlash for HostPlatform {
    fn log_len(&self) -> u32 {
        self.log_flash.len() as u32
    }
    fn log_read(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), StorageError> {
        let o = offset as usize;
        buf.copy_from_slice(&self.log_flash[o..o + buf.len()]);
        Ok(())
    }
    fn log_program(&mut self, offset: u32, data: &[u8]) -> Result<(), StorageError> {
        for (i, d) in data.iter().enumerate() {
            self.log_flash[offset as usize + i] &= d;
        }
        Ok(())
    }
    fn log_erase_sector(&mut self, offset: u32) -> Result<(), StorageError> {
        self.log_flash[offset as usize..offset as usize + 4096].fill(0xFF);
        Ok(())
    }
}

/// The desktop side of the control characteristic: fragments a request, collects the response.
fn call(band: &mut Band<HostPlatform>, id: u16, body: RequestBody) -> Response {
    let mut buf = [0u8; MAX_MESSAGE_LEN];
    let n = encode_request(&Request { id, body }, &mut buf).unwrap();
    let payload = band.platform().payload;
    for (header, data) in fragments(&buf[..n], payload) {
        band.on_control_write(&[&[header][..], data].concat());
    }
    read_response(band).unwrap()
}

fn read_response(band: &mut Band<HostPlatform>) -> Result<Response, DecodeError> {
    let mut r = Reassembler::new();
    let mut out = None;
    for packet in band.platform_mut().take(Characteristic::Control) {
        if let Some(m) = r.push(&packet).unwrap() {
            out = Some(decode_response(m));
        }
    }
    out.expect("a complete response")
}

fn demo_blob(version: u32) -> Vec<u8> {
    let mut buf = [0u8; DEMO_BLOB_CAPACITY];
    let len = write_demo_model(&mut buf, 77, version, version).unwrap();
    buf[..len].to_vec()
}

/// The owner's signing key in these tests.
fn owner_key() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[7; 32])
}

/// A `BeginUpdate` signed by `key`.
fn signed_begin(
    key: &ed25519_dalek::SigningKey,
    target: UpdateTarget,
    image: &[u8],
    version: u32,
    downgrade: bool,
) -> RequestBody {
    use ed25519_dalek::Signer;
    let grant = crate::owner::Grant {
        target,
        version,
        total_len: image.len() as u32,
        sha256: sha256(image),
        downgrade,
    };
    RequestBody::BeginUpdate {
        target,
        total_len: grant.total_len,
        sha256: grant.sha256,
        version,
        downgrade,
        signature: crate::protocol::SignatureBytes::from_bytes(
            &key.sign(&grant.message()).to_bytes(),
        ),
    }
}

/// Makes the test owner the band's owner, if it has none.
fn own(band: &mut Band<HostPlatform>) {
    if band.owner().is_none() {
        let public_key = owner_key().verifying_key().to_bytes();
        assert_eq!(
            call(band, 30, RequestBody::SetOwner { public_key }).body,
            ResponseBody::Ok
        );
    }
}

/// Uploads `image` as the owner would: owner set, grant signed, chunks, commit.
fn upload(
    band: &mut Band<HostPlatform>,
    target: UpdateTarget,
    image: &[u8],
    version: u32,
) -> Response {
    own(band);
    let begin = signed_begin(&owner_key(), target, image, version, false);
    assert!(matches!(
        call(band, 1, begin).body,
        ResponseBody::UpdateStatus { next_offset: 0, .. }
    ));
    let chunk_len = band.platform().payload - crate::protocol::BULK_HEADER_LEN;
    let mut packet = vec![0u8; band.platform().payload];
    for (i, data) in image.chunks(chunk_len).enumerate() {
        let n = BulkChunk {
            target,
            offset: (i * chunk_len) as u32,
            data,
        }
        .encode(&mut packet)
        .unwrap();
        band.on_bulk_write(&packet[..n]);
    }
    call(band, 2, RequestBody::CommitUpdate { target })
}

#[test]
fn fresh_band_has_no_model_and_refuses_predictions() {
    let mut band = Band::new(HostPlatform::new(20), "0.1.0");
    band.on_link_secured(true);
    let ResponseBody::Info(info) = call(&mut band, 5, RequestBody::GetInfo).body else {
        panic!("no info")
    };
    assert_eq!(info.model, None);
    assert_eq!(
        (
            info.protocol_version,
            info.battery_percent,
            info.frame_capacity
        ),
        (crate::protocol::PROTOCOL_VERSION, 87, 1)
    );
    assert_eq!(info.firmware_version.as_str(), "0.1.0");
    let r = call(&mut band, 6, RequestBody::StartPredictions);
    assert_eq!(
        r,
        Response {
            id: 6,
            body: ResponseBody::Error(ErrorCode::NoModel)
        }
    );
}

#[test]
fn model_upload_at_mtu_23_then_predictions_match_the_engine() {
    let mut band = Band::new(HostPlatform::new(20), "0.1.0");
    band.on_link_secured(true);
    let blob = demo_blob(3);
    assert_eq!(
        upload(&mut band, UpdateTarget::Model, &blob, 3).body,
        ResponseBody::Ok
    );
    let ResponseBody::Info(info) = call(&mut band, 3, RequestBody::GetInfo).body else {
        panic!("no info")
    };
    let model = info.model.unwrap();
    assert_eq!((model.id, model.version, model.labels.len()), (77, 3, 7));
    assert_eq!(model.labels[0].as_str(), "walk");

    assert_eq!(
        call(&mut band, 4, RequestBody::StartPredictions).body,
        ResponseBody::Ok
    );
    for _ in 0..120 {
        band.tick();
    }
    let events: Vec<PredictionEvent> = band
        .platform_mut()
        .take(Characteristic::Predictions)
        .iter()
        .map(|b| PredictionEvent::decode(b).unwrap())
        .collect();
    assert_eq!(
        events.iter().map(|e| e.window_seq).collect::<Vec<_>>(),
        [0, 1, 2]
    );

    // Recompute the second window (samples 30..90) independently and compare.
    let parsed = Model::parse(&blob).unwrap();
    let mut window = [[0f32; 6]; 60];
    for (t, w) in window.iter_mut().enumerate() {
        *w = FullScale::DEFAULT.to_si(&HostPlatform::sample(30 + t as u32));
    }
    let want = parsed.infer(&window, &mut [0u8; 4096]).unwrap();
    assert_eq!(events[1].class, want.class);
    assert_eq!(
        events[1].confidence_permille,
        (want.confidence * 1000.0 + 0.5) as u16
    );
    assert_eq!(events[1].timestamp_ms, 89 * 50);
}

#[test]
fn imu_frames_carry_every_sample_in_order_at_any_mtu() {
    for (payload, per_frame) in [(20usize, 1usize), (244, 19), (100, 7)] {
        let mut band = Band::new(HostPlatform::new(payload), "0.1.0");
        band.on_link_secured(true);
        assert_eq!(
            call(&mut band, 1, RequestBody::StartImu).body,
            ResponseBody::Ok
        );
        for _ in 0..(per_frame * 5) {
            band.tick();
        }
        let frames = band.platform_mut().take(Characteristic::Imu);
        assert_eq!(frames.len(), 5);
        let mut loss = LossDetector::default();
        let mut i = 0;
        for bytes in frames {
            let f = Frame::decode(&bytes).unwrap();
            assert_eq!(loss.accept(f.seq), SeqEvent::InOrder);
            assert_eq!(f.timestamp_ms, i * 50);
            for s in &f.samples {
                assert_eq!(*s, HostPlatform::sample(i));
                i += 1;
            }
        }
        assert_eq!(
            call(&mut band, 2, RequestBody::StopImu).body,
            ResponseBody::Ok
        );
        band.tick();
        assert!(band.platform_mut().take(Characteristic::Imu).is_empty());
    }
}

#[test]
fn firmware_upload_commits_to_the_sink_and_reboot_restarts() {
    let mut band = Band::new(HostPlatform::new(244), "0.1.0");
    band.on_link_secured(true);
    let mut image = vec![0u8; 4096];
    let len = crate::demo::write_demo_app_image(&mut image, crate::update::Chip::Esp32C3, 3000, 5)
        .unwrap();
    image.truncate(len);
    assert_eq!(
        upload(&mut band, UpdateTarget::Firmware, &image, 2_000).body,
        ResponseBody::Ok
    );
    assert!(band.platform().firmware_committed);
    assert_eq!(band.platform().firmware, image);
    assert_eq!(
        call(&mut band, 9, RequestBody::Reboot).body,
        ResponseBody::Ok
    );
    assert_eq!(band.platform().reboots, 1);
}

#[test]
fn a_rebooted_band_finds_its_model_again() {
    let mut band = Band::new(HostPlatform::new(244), "0.1.0");
    band.on_link_secured(true);
    upload(&mut band, UpdateTarget::Model, &demo_blob(4), 4);
    let platform = core::mem::replace(band.platform_mut(), HostPlatform::new(244));
    let band = Band::new(platform, "0.1.0");
    assert_eq!(band.model().map(|m| m.version()), Some(4));
}

#[test]
fn unknown_version_and_unknown_requests_get_error_responses() {
    let mut band = Band::new(HostPlatform::new(244), "0.1.0");
    band.on_link_secured(true);
    // A version-1 desktop's message: the band answers in its own version, saying which one it speaks.
    band.on_control_write(&[0x80, 1, 0, 0]);
    assert_eq!(
        read_response(&mut band).unwrap(),
        Response {
            id: 0,
            body: ResponseBody::Error(ErrorCode::UnsupportedVersion {
                supported: crate::protocol::PROTOCOL_VERSION
            })
        }
    );
    band.on_control_write(&[0x80, crate::protocol::PROTOCOL_VERSION, 42, 99]);
    assert_eq!(
        read_response(&mut band).unwrap(),
        Response {
            id: 42,
            body: ResponseBody::Error(ErrorCode::UnknownRequest)
        }
    );
    band.on_control_write(&[0x05, 1]);
    assert_eq!(
        read_response(&mut band).unwrap().body,
        ResponseBody::Error(ErrorCode::Malformed)
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Whatever arrives on control or bulk, the band answers or ignores, never panics, keeps ticking.
    #[test]
    fn random_writes_never_crash_the_band(packets in proptest::collection::vec((any::<bool>(), proptest::collection::vec(any::<u8>(), 0..40)), 0..40)) {
        let mut band = Band::new(HostPlatform::new(20), "0.1.0");
        band.on_link_secured(true);
        for (control, p) in packets {
            if control {
                band.on_control_write(&p);
            } else {
                band.on_bulk_write(&p);
            }
            band.tick();
        }
        let r = call(&mut band, 1, RequestBody::GetInfo);
        prop_assert!(matches!(r.body, ResponseBody::Info(_)));
    }
}

/// A band booted on `platform` with a model installed (or not), then the boot check with BLE up or not.
fn boot_check(
    mut platform: HostPlatform,
    model: bool,
    ble_up: bool,
) -> (BootDecision, HostPlatform) {
    if model {
        let blob = demo_blob(3);
        platform.slots[0][..blob.len()].copy_from_slice(&blob);
        platform.active = Some(Slot::A);
    }
    let mut band = Band::new(platform, "0.2.0");
    band.on_link_secured(true);
    let decision = band.check_boot(ble_up).unwrap();
    let Band { platform, .. } = band;
    (decision, platform)
}

#[test]
fn a_new_app_on_trial_is_confirmed_only_when_imu_model_and_ble_all_work() {
    let on_trial = || {
        let mut p = HostPlatform::new(20);
        p.ota_state = Some(OtaState::PendingVerify);
        p
    };
    let (decision, p) = boot_check(on_trial(), true, true);
    assert_eq!(decision, BootDecision::Confirm);
    assert_eq!(p.ota_state, Some(OtaState::Valid));

    let mut no_imu = on_trial();
    no_imu.imu_fails = true;
    let (decision, p) = boot_check(no_imu, true, true);
    assert_eq!(decision, BootDecision::LeavePending(BootFailure::Imu));
    assert_eq!(
        p.ota_state,
        Some(OtaState::PendingVerify),
        "left for rollback"
    );

    let (decision, p) = boot_check(on_trial(), true, false);
    assert_eq!(decision, BootDecision::LeavePending(BootFailure::Ble));
    assert_eq!(p.ota_state, Some(OtaState::PendingVerify));

    // A slot holds a model this app cannot load (a byte of its body changed): not confirmed.
    let mut broken_model = on_trial();
    let mut blob = demo_blob(4);
    blob[200] ^= 0x01;
    broken_model.slots[1][..blob.len()].copy_from_slice(&blob);
    broken_model.active = Some(Slot::B);
    let (decision, p) = boot_check(broken_model, false, true);
    assert_eq!(decision, BootDecision::LeavePending(BootFailure::Model));
    assert_eq!(p.ota_state, Some(OtaState::PendingVerify));

    // A band that never had a model can confirm a new app.
    let (decision, _) = boot_check(on_trial(), false, true);
    assert_eq!(decision, BootDecision::Confirm);
}

#[test]
fn an_app_not_on_trial_is_left_as_it_is() {
    for state in [
        None,
        Some(OtaState::Valid),
        Some(OtaState::Undefined),
        Some(OtaState::Aborted),
    ] {
        let mut p = HostPlatform::new(20);
        p.ota_state = state;
        p.imu_fails = true;
        let (decision, p) = boot_check(p, true, true);
        assert_eq!(decision, BootDecision::NothingToConfirm, "{state:?}");
        assert_eq!(p.ota_state, state);
    }
}

#[test]
fn an_unauthenticated_link_gets_no_answer_no_stream_and_no_update() {
    use crate::protocol::ALL_REQUESTS;
    let mut band = Band::new(HostPlatform::new(244), "0.1.0");
    let blob = demo_blob(3);
    // Nothing the unpaired client writes is answered or acted on.
    let mut buf = [0u8; MAX_MESSAGE_LEN];
    for (id, body) in ALL_REQUESTS.iter().cloned().enumerate() {
        let n = encode_request(
            &Request {
                id: id as u16,
                body,
            },
            &mut buf,
        )
        .unwrap();
        for (header, data) in fragments(&buf[..n], 244) {
            band.on_control_write(&[&[header][..], data].concat());
        }
    }
    let mut packet = [0u8; 64];
    let n = BulkChunk {
        target: UpdateTarget::Model,
        offset: 0,
        data: &blob[..32],
    }
    .encode(&mut packet)
    .unwrap();
    band.on_bulk_write(&packet[..n]);
    for _ in 0..100 {
        band.tick();
    }
    assert!(band.platform().notifications.is_empty());
    assert!(!band.imu_streaming() && !band.predicting());
    assert_eq!(band.platform().reboots, 0);
    assert!(
        band.platform()
            .slots
            .iter()
            .all(|s| s.iter().all(|&b| b == 0xFF))
    );

    // The same band answers once the stack says the link is authenticated, and stops when it is lost.
    band.on_link_secured(true);
    assert_eq!(
        call(&mut band, 1, RequestBody::StartImu).body,
        ResponseBody::Ok
    );
    band.on_disconnect();
    assert!(!band.link_authenticated() && !band.imu_streaming());
}

/// A band with a model (v4) and the test owner, over an authenticated link.
fn owned_band_with_model() -> Band<HostPlatform> {
    let mut band = Band::new(HostPlatform::new(244), "0.3.0");
    band.on_link_secured(true);
    assert_eq!(
        upload(&mut band, UpdateTarget::Model, &demo_blob(4), 4).body,
        ResponseBody::Ok
    );
    band
}

fn demo_app(version: &str, seed: u32) -> Vec<u8> {
    let mut image = vec![0u8; 4096];
    let len = crate::demo::write_demo_app_image_release(
        &mut image,
        crate::update::Chip::Esp32C3,
        3000,
        seed,
        version,
    )
    .unwrap();
    image.truncate(len);
    image
}

/// What an update could have changed: the model slots, the record, the firmware sink.
fn bootable_state(band: &Band<HostPlatform>) -> (Vec<Vec<u8>>, Option<Slot>, Vec<u8>, bool) {
    let p = band.platform();
    (
        p.slots.to_vec(),
        p.active,
        p.firmware.clone(),
        p.firmware_committed,
    )
}

#[test]
fn updates_need_an_owner_and_only_the_first_key_becomes_it() {
    let mut band = Band::new(HostPlatform::new(244), "0.1.0");
    band.on_link_secured(true);
    let blob = demo_blob(5);
    let begin = signed_begin(&owner_key(), UpdateTarget::Model, &blob, 5, false);
    assert_eq!(
        call(&mut band, 1, begin.clone()).body,
        ResponseBody::Error(ErrorCode::NoOwner)
    );
    let owner = owner_key().verifying_key().to_bytes();
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    assert_eq!(
        call(
            &mut band,
            2,
            RequestBody::SetOwner {
                public_key: [0; 32]
            }
        )
        .body,
        ResponseBody::Error(ErrorCode::InvalidOwnerKey)
    );
    assert_eq!(
        call(&mut band, 3, RequestBody::SetOwner { public_key: owner }).body,
        ResponseBody::Ok
    );
    let ResponseBody::Info(info) = call(&mut band, 4, RequestBody::GetInfo).body else {
        panic!("no info")
    };
    assert_eq!(info.owner, Some(owner_fingerprint(&owner)));
    assert_eq!(
        call(
            &mut band,
            5,
            RequestBody::SetOwner {
                public_key: stranger.verifying_key().to_bytes()
            }
        )
        .body,
        ResponseBody::Error(ErrorCode::OwnedByAnother)
    );
    assert_eq!(
        call(&mut band, 6, RequestBody::SetOwner { public_key: owner }).body,
        ResponseBody::Ok,
        "the owner again is fine"
    );
    // The owner survives a restart.
    let platform = core::mem::replace(band.platform_mut(), HostPlatform::new(244));
    let band = Band::new(platform, "0.1.0");
    assert_eq!(band.owner().map(|k| k.to_bytes()), Some(owner));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Unsigned, signed by another key, for another target, or with any one bit of the grant or the signature
    /// flipped: refused before anything is erased, and nothing becomes bootable.
    #[test]
    fn a_forged_or_tampered_update_is_refused_and_nothing_changes(
        which in 0usize..5,
        byte in 0usize..64,
        bit in 0u8..8,
        firmware in any::<bool>(),
    ) {
        let mut band = owned_band_with_model();
        let (target, image, version) = if firmware {
            (UpdateTarget::Firmware, demo_app("0.4.0", 3), 4_000)
        } else {
            (UpdateTarget::Model, demo_blob(6), 6)
        };
        let before = bootable_state(&band);
        let RequestBody::BeginUpdate { total_len, sha256, signature, .. } =
            signed_begin(&owner_key(), target, &image, version, false)
        else {
            unreachable!()
        };
        let stranger = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
        let mut sig = signature.to_bytes();
        let (mut t, mut len, mut digest, mut ver, mut down) = (target, total_len, sha256, version, false);
        match which {
            0 => sig = [0; 64],
            1 => {
                let RequestBody::BeginUpdate { signature, .. } =
                    signed_begin(&stranger, target, &image, version, false)
                else {
                    unreachable!()
                };
                sig = signature.to_bytes();
            }
            2 => sig[byte] ^= 1 << bit,
            3 => match byte % 5 {
                0 => t = if firmware { UpdateTarget::Model } else { UpdateTarget::Firmware },
                1 => len ^= 1 << (bit % 32),
                2 => digest[byte % 32] ^= 1 << bit,
                3 => ver ^= 1 << (bit % 32),
                _ => down = !down,
            },
            _ => digest[byte % 32] ^= 1 << bit,
        }
        let body = RequestBody::BeginUpdate {
            target: t,
            total_len: len,
            sha256: digest,
            version: ver,
            downgrade: down,
            signature: crate::protocol::SignatureBytes::from_bytes(&sig),
        };
        prop_assert_eq!(call(&mut band, 1, body).body, ResponseBody::Error(ErrorCode::NotOwner));
        prop_assert_eq!(
            call(&mut band, 2, RequestBody::CommitUpdate { target: t }).body,
            ResponseBody::Error(ErrorCode::NoUpdate)
        );
        prop_assert_eq!(bootable_state(&band), before);
    }
}

#[test]
fn an_older_firmware_needs_a_signed_downgrade_and_must_declare_the_signed_release() {
    let mut band = owned_band_with_model();
    let older = demo_app("0.2.0", 1);
    let before = bootable_state(&band);
    let begin = signed_begin(&owner_key(), UpdateTarget::Firmware, &older, 2_000, false);
    assert_eq!(
        call(&mut band, 1, begin).body,
        ResponseBody::Error(ErrorCode::Downgrade { running: 3_000 })
    );
    assert_eq!(bootable_state(&band), before);
    // Signed as "0.5.0" but the image says 0.2.0: refused at commit, nothing bootable.
    let lie = signed_begin(&owner_key(), UpdateTarget::Firmware, &older, 5_000, false);
    assert!(matches!(
        call(&mut band, 2, lie).body,
        ResponseBody::UpdateStatus { .. }
    ));
    send_chunks(&mut band, UpdateTarget::Firmware, &older);
    assert_eq!(
        call(
            &mut band,
            3,
            RequestBody::CommitUpdate {
                target: UpdateTarget::Firmware
            }
        )
        .body,
        ResponseBody::Error(ErrorCode::InvalidFirmware)
    );
    assert!(!band.platform().firmware_committed);
    // The owner's explicit downgrade goes through.
    let allowed = signed_begin(&owner_key(), UpdateTarget::Firmware, &older, 2_000, true);
    assert!(matches!(
        call(&mut band, 4, allowed).body,
        ResponseBody::UpdateStatus { .. }
    ));
    send_chunks(&mut band, UpdateTarget::Firmware, &older);
    assert_eq!(
        call(
            &mut band,
            5,
            RequestBody::CommitUpdate {
                target: UpdateTarget::Firmware
            }
        )
        .body,
        ResponseBody::Ok
    );
    assert!(band.platform().firmware_committed);
}

#[test]
fn a_replayed_older_model_is_refused_at_commit_and_the_running_one_stays() {
    let mut band = owned_band_with_model();
    let older = demo_blob(3);
    assert_eq!(
        upload(&mut band, UpdateTarget::Model, &older, 3).body,
        ResponseBody::Error(ErrorCode::Downgrade { running: 4 })
    );
    assert_eq!(band.model().map(|m| m.version()), Some(4));
    let allowed = signed_begin(&owner_key(), UpdateTarget::Model, &older, 3, true);
    assert!(matches!(
        call(&mut band, 1, allowed).body,
        ResponseBody::UpdateStatus { .. }
    ));
    send_chunks(&mut band, UpdateTarget::Model, &older);
    assert_eq!(
        call(
            &mut band,
            2,
            RequestBody::CommitUpdate {
                target: UpdateTarget::Model
            }
        )
        .body,
        ResponseBody::Ok
    );
    assert_eq!(band.model().map(|m| m.version()), Some(3));
}

#[test]
fn the_installed_image_is_not_rewritten_and_new_updates_are_rate_limited() {
    let mut band = owned_band_with_model();
    let before = bootable_state(&band);
    let again = signed_begin(&owner_key(), UpdateTarget::Model, &demo_blob(4), 4, false);
    assert_eq!(
        call(&mut band, 1, again).body,
        ResponseBody::Error(ErrorCode::AlreadyInstalled)
    );
    assert_eq!(bootable_state(&band), before);

    // The band spent one start on its model; five more new updates now, then it asks to wait.
    for v in 10..15 {
        let begin = signed_begin(&owner_key(), UpdateTarget::Model, &demo_blob(v), v, false);
        assert!(
            matches!(
                call(&mut band, 2, begin).body,
                ResponseBody::UpdateStatus { .. }
            ),
            "v{v}"
        );
    }
    let blob = demo_blob(20);
    let begin = signed_begin(&owner_key(), UpdateTarget::Model, &blob, 20, false);
    let ResponseBody::Error(ErrorCode::RateLimited { retry_after_s }) =
        call(&mut band, 3, begin.clone()).body
    else {
        panic!("a seventh new update in a burst was not limited")
    };
    assert!((1..=60).contains(&retry_after_s), "{retry_after_s}");
    // Resuming the update in progress is not a new one.
    let resume = signed_begin(&owner_key(), UpdateTarget::Model, &demo_blob(14), 14, false);
    assert!(matches!(
        call(&mut band, 4, resume).body,
        ResponseBody::UpdateStatus { .. }
    ));
    band.platform_mut().clock_ms += u32::from(retry_after_s) * 1000;
    assert!(matches!(
        call(&mut band, 5, begin).body,
        ResponseBody::UpdateStatus { .. }
    ));
}

fn send_chunks(band: &mut Band<HostPlatform>, target: UpdateTarget, image: &[u8]) {
    let chunk_len = band.platform().payload - crate::protocol::BULK_HEADER_LEN;
    let mut packet = vec![0u8; band.platform().payload];
    for (i, data) in image.chunks(chunk_len).enumerate() {
        let n = BulkChunk {
            target,
            offset: (i * chunk_len) as u32,
            data,
        }
        .encode(&mut packet)
        .unwrap();
        band.on_bulk_write(&packet[..n]);
    }
}
mod log_tests;
