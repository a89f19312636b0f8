//! The band's app logic, board-independent: `Band<P: Platform>`.
//!
//! A board implements [`Platform`] (clock, IMU, flash slots, notifications, battery, reboot, firmware sink, OTA
//! state) and calls [`Band::check_boot`] once BLE is up, [`Band::tick`] at the sample rate,
//! [`Band::on_control_write`] / [`Band::on_bulk_write`] when the desktop writes, [`Band::on_link_secured`] when the
//! link's encryption changes, and [`Band::on_disconnect`] when the link drops.
//!
//! The band answers only over an encrypted link whose keys came from an authenticated pairing (see
//! [`crate::pairing`]): the BLE stack refuses everything else at the ATT layer (the GATT table's
//! [`crate::protocol::gatt::Security`]), and the band itself ignores writes and sends nothing on a link it was not
//! told is authenticated, so a stack misconfiguration cannot open it.
//!
//! Updates are the owner's alone ([`crate::owner`]): the first paired desktop sets the owner key (`SetOwner`), and
//! every `BeginUpdate` after that must carry the owner's signature over its grant and pass
//! [`crate::update::authorize`] (no downgrade, not already installed, rate-limited) before anything is erased.
//!
//! Whether or not a desktop is connected, the band classifies every window and keeps one record per minute in
//! its activity log ([`crate::log`], on the platform's [`LogFlash`]); the desktop sets the wall clock
//! (`SetTime`) and reads the records (`ReadLog`).

mod platform;

pub use platform::Platform;

use crate::SAMPLE_RATE_HZ;
use crate::blob::Model;
use crate::boot::{self, BootDecision, BootHealth};
use crate::frame::{FrameBuilder, MAX_FRAME_LEN, frame_capacity};
use crate::infer;
use crate::log::{ActivityLog, LogEntry, MinuteAccumulator, ModelTag, is_motionless};
use crate::owner::{Grant, OwnerKey, OwnerRecord};
use crate::protocol::{
    BulkChunk, Characteristic, ErrorCode, Info, MAX_MESSAGE_LEN, ModelInfo, PROTOCOL_VERSION,
    PredictionEvent, Reassembler, Request, RequestBody, Response, ResponseBody, decode_request,
    encode_response, fragments,
};
use crate::protocol::{LogChunk, LogRecord, MAX_LOG_RECORDS};
use crate::update::release::release_code;
use crate::update::{self, Committed, Running, Slot, StartLimiter, StorageError, UpdateReceiver};
use crate::window::Windower;

/// Working memory for inference; models declaring more are refused at commit (their self-test cannot run).
pub const ARENA_CAPACITY: usize = 16 * 1024;
/// Largest ATT payload the band uses (ATT MTU 247).
pub const MAX_ATT_PAYLOAD: usize = 244;

/// The band. It holds the 16 KB inference arena, so on a microcontroller put it in a `static` (e.g. a
/// `StaticCell`) rather than on a task stack.
pub struct Band<P: Platform> {
    platform: P,
    firmware_version: &'static str,
    frames: Option<FrameBuilder>,
    windower: Option<Windower>,
    receiver: UpdateReceiver,
    reassembler: Reassembler,
    active: Option<(Slot, usize)>,
    arena: [u8; ARENA_CAPACITY],
    reboot_pending: bool,
    /// The current link is encrypted with keys from an authenticated pairing.
    link_authenticated: bool,
    /// The owner record; `None` if flash could not be read (then no update and no new owner is accepted).
    owner: Option<OwnerRecord>,
    starts: StartLimiter,
    /// The running firmware's release number, if known.
    release: Option<u32>,
    /// The activity log (`None`: the board has no log partition, or it could not be read).
    log: Option<ActivityLog>,
    /// Windows for the log while the desktop does not ask for predictions.
    log_windower: Windower,
    minute: MinuteAccumulator,
    /// Band time since boot, from `now_ms` (which wraps after 49 days).
    uptime_ms: u64,
    last_now_ms: u32,
    log_minute: u32,
    /// Whether the last window came from the live windower (so the log's starts afresh when it stops).
    was_live: bool,
}

impl<P: Platform> Band<P> {
    /// Boots: finds the active model (checked: parse + self-test) in the platform's slots.
    pub fn new(mut platform: P, firmware_version: &'static str) -> Self {
        let owner = OwnerRecord::load(&mut platform).ok();
        let mut band = Band {
            platform,
            firmware_version,
            frames: None,
            windower: None,
            receiver: UpdateReceiver::new(),
            reassembler: Reassembler::new(),
            active: None,
            arena: [0; ARENA_CAPACITY],
            reboot_pending: false,
            link_authenticated: false,
            owner,
            starts: StartLimiter::default(),
            release: release_code(firmware_version),
            log: None,
            log_windower: Windower::new(),
            minute: MinuteAccumulator::new(),
            uptime_ms: 0,
            last_now_ms: 0,
            log_minute: 0,
            was_live: false,
        };
        band.active = update::active_model(&band.platform, &mut band.arena);
        band.last_now_ms = band.platform.now_ms();
        band.log = ActivityLog::load(&mut band.platform)
            .ok()
            .filter(ActivityLog::available);
        band
    }

    /// The platform.
    pub fn platform(&self) -> &P {
        &self.platform
    }

    /// The platform, mutably (e.g. for a simulator's controls).
    pub fn platform_mut(&mut self) -> &mut P {
        &mut self.platform
    }

    /// The firmware version the band reports in `Info`.
    pub fn firmware_version(&self) -> &'static str {
        self.firmware_version
    }

    /// Sets the running firmware's release number when the version string does not carry it (the virtual band
    /// reads it from the image it stands for).
    pub fn set_firmware_release(&mut self, release: Option<u32>) {
        self.release = release;
    }

    /// The band's owner, if it has one.
    pub fn owner(&self) -> Option<OwnerKey> {
        self.owner.as_ref().and_then(OwnerRecord::owner)
    }

    /// The active model, if any.
    pub fn model(&self) -> Option<Model<'_>> {
        let (slot, len) = self.active?;
        Model::parse(self.platform.slot(slot).get(..len)?).ok()
    }

    /// The model slot the band runs from, if a model loaded.
    pub fn running_slot(&self) -> Option<Slot> {
        self.active.map(|(slot, _)| slot)
    }

    /// Confirm-after-boot ([`crate::boot`]): if the running app is on trial, checks that the IMU answers, that a
    /// model loaded (when a slot holds one) and that BLE is up (`ble_up`, the board's word), and marks the
    /// app valid only if all three hold; otherwise it stays pending and the bootloader rolls it back at the next
    /// reset. Call once after boot, when BLE is advertising. Returns what was decided.
    pub fn check_boot(&mut self, ble_up: bool) -> Result<BootDecision, StorageError> {
        let state = self.platform.running_app_state();
        let health = BootHealth {
            imu_answers: self.platform.read_imu().is_some(),
            // A model runs, or none was ever installed (no slot starts like a blob).
            model_loads: self.active.is_some()
                || [Slot::A, Slot::B]
                    .iter()
                    .all(|&s| update::blob_len(self.platform.slot(s)).is_none()),
            ble_up,
        };
        let decision = boot::decide(state, &health);
        if decision == BootDecision::Confirm {
            self.platform.mark_app_valid()?;
        }
        Ok(decision)
    }

    /// Whether IMU frames are being streamed.
    pub fn imu_streaming(&self) -> bool {
        self.frames.is_some()
    }

    /// Whether windows are being classified.
    pub fn predicting(&self) -> bool {
        self.windower.is_some()
    }

    /// The BLE stack's word on the current link: `true` once it is encrypted with keys from an authenticated
    /// (MITM-protected, LE Secure Connections) pairing or a bond made by one; `false` otherwise.
    pub fn on_link_secured(&mut self, authenticated: bool) {
        self.link_authenticated = authenticated;
        if !authenticated {
            self.frames = None;
            self.windower = None;
            self.reassembler = Reassembler::new();
        }
    }

    /// Whether the current link may use the BandX service.
    pub fn link_authenticated(&self) -> bool {
        self.link_authenticated
    }

    /// One sample period: reads the IMU, streams frames and classifies windows as enabled.
    pub fn tick(&mut self) {
        let now = self.platform.now_ms();
        self.log_clock(now);
        if self.frames.is_none() && self.windower.is_none() && self.log.is_none() {
            return;
        }
        let Some(raw) = self.platform.read_imu() else {
            // A missing sample breaks the window's timing: start the window over.
            if let Some(w) = self.windower.as_mut() {
                w.clear();
            }
            self.log_windower.clear();
            return;
        };
        if let Some(frame) = self.frames.as_mut().and_then(|f| f.push(raw, now)) {
            let mut buf = [0u8; MAX_FRAME_LEN];
            if let Ok(n) = frame.encode(&mut buf) {
                self.platform.notify(Characteristic::Imu, &buf[..n]);
            }
        }
        let si = self.platform.full_scale().to_si(&raw);
        let live = self.windower.is_some();
        if live != core::mem::replace(&mut self.was_live, live) {
            // No window mixes samples from before and after the live windower took over or stopped.
            self.log_windower.clear();
        }
        let window = match self.windower.as_mut() {
            Some(w) => w.push(si),
            None if self.log.is_some() => self.log_windower.push(si),
            None => None,
        };
        let Some(window) = window else {
            return;
        };
        let motionless = is_motionless(&window);
        let window_seq = self
            .windower
            .as_ref()
            .map_or(0, |w| w.emitted().wrapping_sub(1));
        let Some((slot, len)) = self.active else {
            self.minute.add(motionless, None);
            return;
        };
        let Some(bytes) = self.platform.slot(slot).get(..len) else {
            self.minute.add(motionless, None);
            return;
        };
        let prediction = Model::parse(bytes)
            .ok()
            .and_then(|m| infer::run(&m, &window, &mut self.arena).ok());
        self.minute.add(
            motionless,
            prediction
                .as_ref()
                .map(|p| (p.class, (p.confidence * 1000.0 + 0.5) as u16)),
        );
        if let Some(p) = prediction.filter(|_| live) {
            let event = PredictionEvent {
                window_seq,
                timestamp_ms: now,
                class: p.class,
                confidence_permille: (p.confidence * 1000.0 + 0.5) as u16,
            };
            let mut buf = [0u8; PredictionEvent::MAX_LEN];
            if let Ok(n) = event.encode(&mut buf) {
                self.platform.notify(Characteristic::Predictions, &buf[..n]);
            }
        }
    }

    /// A write to the control characteristic (one fragment). Complete requests are answered with notified
    /// response fragments; undecodable ones with an error response.
    pub fn on_control_write(&mut self, packet: &[u8]) {
        if !self.link_authenticated {
            return;
        }
        let mut message = [0u8; MAX_MESSAGE_LEN];
        let len = match self.reassembler.push(packet) {
            Ok(Some(m)) => {
                message[..m.len()].copy_from_slice(m);
                m.len()
            }
            Ok(None) => return,
            Err(_) => {
                self.respond(&Response {
                    id: 0,
                    body: ResponseBody::Error(ErrorCode::Malformed),
                });
                return;
            }
        };
        let response = match decode_request(&message[..len]) {
            Ok(request) => self.handle(request),
            Err(e) => Response {
                id: e.id,
                body: ResponseBody::Error(e.code),
            },
        };
        self.respond(&response);
        if self.reboot_pending {
            self.reboot_pending = false;
            self.platform.reboot();
        }
    }

    /// A write to the bulk characteristic: an update chunk. Malformed or unexpected chunks are ignored (the
    /// desktop learns the position from `UpdateStatus`).
    pub fn on_bulk_write(&mut self, packet: &[u8]) {
        if !self.link_authenticated {
            return;
        }
        if let Ok(chunk) = BulkChunk::decode(packet) {
            self.receiver.chunk(&mut self.platform, &chunk);
        }
    }

    /// The link dropped: streams stop; an update in progress stays resumable.
    pub fn on_disconnect(&mut self) {
        self.link_authenticated = false;
        self.frames = None;
        self.windower = None;
        self.reassembler = Reassembler::new();
    }

    /// Handles one decoded request.
    pub fn handle(&mut self, request: Request) -> Response {
        let body = match request.body {
            RequestBody::GetInfo => ResponseBody::Info(self.info()),
            RequestBody::StartImu => {
                let payload = self.platform.att_payload().min(MAX_ATT_PAYLOAD);
                self.frames = Some(FrameBuilder::new(payload, self.platform.full_scale()));
                ResponseBody::Ok
            }
            RequestBody::StopImu => {
                self.frames = None;
                ResponseBody::Ok
            }
            RequestBody::StartPredictions => {
                if self.active.is_some() {
                    self.windower = Some(Windower::new());
                    ResponseBody::Ok
                } else {
                    ResponseBody::Error(ErrorCode::NoModel)
                }
            }
            RequestBody::StopPredictions => {
                self.windower = None;
                ResponseBody::Ok
            }
            RequestBody::BeginUpdate {
                target,
                total_len,
                sha256,
                version,
                downgrade,
                signature,
            } => {
                let grant = Grant {
                    target,
                    version,
                    total_len,
                    sha256,
                    downgrade,
                };
                match self.begin_update(&grant, &signature.to_bytes()) {
                    Ok(p) => status(p),
                    Err(e) => ResponseBody::Error(e),
                }
            }
            RequestBody::UpdateStatus { target } => match self.receiver.status(target) {
                Ok(p) => status(p),
                Err(e) => ResponseBody::Error(e),
            },
            RequestBody::CommitUpdate { target } => {
                let running = self.model().map(|m| (m.id(), m.version()));
                match self
                    .receiver
                    .commit(&mut self.platform, target, &mut self.arena, running)
                {
                    Ok(Committed::Model { slot, len, .. }) => {
                        self.active = Some((slot, len));
                        if let Some(w) = self.windower.as_mut() {
                            w.clear();
                        }
                        ResponseBody::Ok
                    }
                    Ok(Committed::Firmware { .. }) => ResponseBody::Ok,
                    Err(e) => ResponseBody::Error(e),
                }
            }
            RequestBody::AbortUpdate { target } => {
                self.receiver.abort(&mut self.platform, target);
                ResponseBody::Ok
            }
            RequestBody::Reboot => {
                self.reboot_pending = true;
                ResponseBody::Ok
            }
            RequestBody::SetOwner { public_key } => match self.set_owner(&public_key) {
                Ok(()) => ResponseBody::Ok,
                Err(e) => ResponseBody::Error(e),
            },
            RequestBody::SetTime { unix_ms } => self.set_time(unix_ms),
            RequestBody::ReadLog { after_seq, max } => self.read_log(after_seq, max),
        };
        Response {
            id: request.id,
            body,
        }
    }

    /// `BeginUpdate`: the owner's signature and the update rules first, then the rate limit for a new transfer
    /// (a resumed one erases nothing), then the receiver.
    fn begin_update(
        &mut self,
        grant: &Grant,
        signature: &crate::owner::Signature,
    ) -> Result<update::Progress, ErrorCode> {
        let running = Running {
            firmware_release: self.release,
            firmware_digest: self.platform.running_app_digest(),
            model_digest: self
                .active
                .and_then(|(slot, len)| self.platform.slot(slot).get(..len))
                .map(crate::blob::sha256),
        };
        let record = self.owner.as_ref().ok_or(ErrorCode::Storage)?;
        update::authorize(record.owner().as_ref(), grant, signature, &running)?;
        if !self.receiver.resumes(grant) {
            self.starts.take(self.platform.now_ms())?;
        }
        let running_slot = self.running_slot();
        self.receiver.begin(&mut self.platform, running_slot, grant)
    }

    /// `SetOwner`: only while the band has no owner (the same key again is fine).
    fn set_owner(&mut self, public_key: &[u8; 32]) -> Result<(), ErrorCode> {
        let key = OwnerKey::from_bytes(public_key).map_err(|_| ErrorCode::InvalidOwnerKey)?;
        let record = self.owner.as_mut().ok_or(ErrorCode::Storage)?;
        match record.owner() {
            Some(owner) if owner == key => Ok(()),
            Some(_) => Err(ErrorCode::OwnedByAnother),
            None => record
                .set(&mut self.platform, &key)
                .map_err(|_| ErrorCode::Storage),
        }
    }

    /// The activity log, if the board has one.
    pub fn log(&self) -> Option<&ActivityLog> {
        self.log.as_ref()
    }

    /// Calls `visit` with each record of the activity log after `after_seq`, oldest first, until it returns
    /// `false` (what `ReadLog` reads, without the message's limits; for tests and tools).
    pub fn log_entries(
        &mut self,
        after_seq: u32,
        visit: impl FnMut(LogEntry) -> bool,
    ) -> Result<(), StorageError> {
        match self.log.as_ref() {
            Some(log) => log.read_after(&mut self.platform, after_seq, visit),
            None => Ok(()),
        }
    }

    /// Band time since boot, ms.
    pub fn uptime_ms(&self) -> u64 {
        self.uptime_ms
    }

    /// Follows the band clock; when a minute ends, its record goes to the log.
    fn log_clock(&mut self, now: u32) {
        self.uptime_ms += u64::from(now.wrapping_sub(self.last_now_ms));
        self.last_now_ms = now;
        let minute = (self.uptime_ms / 60_000) as u32;
        if minute == self.log_minute {
            return;
        }
        let data = self.minute.finish();
        let ended = core::mem::replace(&mut self.log_minute, minute);
        let model = self
            .model()
            .filter(|_| !data.no_model)
            .map(|m| ModelTag {
                id: m.id(),
                version: m.version(),
            })
            .unwrap_or_default();
        if let Some(log) = self.log.as_mut() {
            // A failed write (a power cut) loses this record only; the log goes on at the next minute.
            let _ = log.append(&mut self.platform, ended, model, &data);
        }
    }

    fn set_time(&mut self, unix_ms: u64) -> ResponseBody {
        let Some(log) = self.log.as_mut() else {
            return ResponseBody::Ok;
        };
        match log.set_time(&mut self.platform, unix_ms.saturating_sub(self.uptime_ms)) {
            Ok(()) => ResponseBody::Ok,
            Err(_) => ResponseBody::Error(ErrorCode::Storage),
        }
    }

    /// Records after `after_seq`: at most `max`, and no more than one control message holds.
    fn read_log(&mut self, after_seq: u32, max: u8) -> ResponseBody {
        let Some(log) = self.log.as_ref() else {
            return ResponseBody::Error(ErrorCode::NoLog);
        };
        let mut chunk = LogChunk {
            oldest_seq: log.oldest_seq(),
            next_seq: log.next_seq(),
            records: heapless::Vec::new(),
        };
        // Version, id, variant, the two sequence numbers and the vector's length, at their longest.
        let mut budget = MAX_MESSAGE_LEN - 1 - 3 - 5 - 5 - 5 - 1;
        let limit = usize::from(max).min(MAX_LOG_RECORDS);
        let read = log.read_after(&mut self.platform, after_seq, |e: LogEntry| {
            let record = LogRecord::from(&e);
            let len = record.encoded_len();
            if chunk.records.len() >= limit || len > budget {
                return false;
            }
            budget -= len;
            chunk.records.push(record).is_ok()
        });
        match read {
            Ok(()) => ResponseBody::Log(chunk),
            Err(_) => ResponseBody::Error(ErrorCode::Storage),
        }
    }

    fn info(&mut self) -> Info {
        let model = self.model().map(|m| ModelInfo {
            id: m.id(),
            version: m.version(),
            labels: m
                .labels()
                .iter()
                .filter_map(|l| heapless::String::try_from(l).ok())
                .collect(),
        });
        let payload = self.platform.att_payload().min(MAX_ATT_PAYLOAD);
        Info {
            firmware_version: truncated(self.firmware_version),
            protocol_version: PROTOCOL_VERSION,
            model,
            battery_percent: self.platform.battery_percent(),
            sample_rate_hz: SAMPLE_RATE_HZ as u8,
            frame_capacity: frame_capacity(payload) as u8,
            imu_streaming: self.imu_streaming(),
            predicting: self.predicting(),
            firmware_release: self.release.unwrap_or(0),
            owner: self.owner().map(|k| owner_fingerprint(&k.to_bytes())),
        }
    }

    fn respond(&mut self, response: &Response) {
        let mut message = [0u8; MAX_MESSAGE_LEN];
        let Ok(len) = encode_response(response, &mut message) else {
            return;
        };
        let payload = self.platform.att_payload().clamp(2, MAX_ATT_PAYLOAD);
        let mut packet = [0u8; MAX_ATT_PAYLOAD];
        for (header, data) in fragments(&message[..len], payload) {
            packet[0] = header;
            packet[1..1 + data.len()].copy_from_slice(data);
            self.platform
                .notify(Characteristic::Control, &packet[..1 + data.len()]);
        }
    }
}

/// The first 8 bytes of the SHA-256 of an owner key, as `Info` reports it.
pub fn owner_fingerprint(public_key: &[u8; 32]) -> [u8; 8] {
    let digest = crate::blob::sha256(public_key);
    let mut out = [0; 8];
    out.copy_from_slice(&digest[..8]);
    out
}

fn status(p: update::Progress) -> ResponseBody {
    ResponseBody::UpdateStatus {
        target: p.target,
        next_offset: p.next_offset,
        total_len: p.total_len,
    }
}

/// The longest prefix of `s` that fits 16 bytes on a char boundary.
fn truncated(s: &str) -> heapless::String<16> {
    let mut end = s.len().min(16);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    heapless::String::try_from(&s[..end]).unwrap_or_default()
}

#[cfg(test)]
mod tests;
