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

fn upload(
    band: &mut Band<HostPlatform>,
    target: UpdateTarget,
    image: &[u8],
    version: u32,
) -> Response {
    let begin = RequestBody::BeginUpdate {
        target,
        total_len: image.len() as u32,
        sha256: sha256(image),
        version,
    };
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
        (1, 87, 1)
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
    let mut image = vec![0u8; 4096];
    let len = crate::demo::write_demo_app_image(&mut image, crate::update::Chip::Esp32C3, 3000, 5)
        .unwrap();
    image.truncate(len);
    assert_eq!(
        upload(&mut band, UpdateTarget::Firmware, &image, 2).body,
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
    upload(&mut band, UpdateTarget::Model, &demo_blob(4), 4);
    let platform = core::mem::replace(band.platform_mut(), HostPlatform::new(244));
    let band = Band::new(platform, "0.1.0");
    assert_eq!(band.model().map(|m| m.version()), Some(4));
}

#[test]
fn unknown_version_and_unknown_requests_get_error_responses() {
    let mut band = Band::new(HostPlatform::new(244), "0.1.0");
    band.on_control_write(&[0x80, 2, 0, 0]);
    assert_eq!(
        read_response(&mut band).unwrap(),
        Response {
            id: 0,
            body: ResponseBody::Error(ErrorCode::UnsupportedVersion { supported: 1 })
        }
    );
    band.on_control_write(&[0x80, 1, 42, 99]);
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

mod log_tests;
