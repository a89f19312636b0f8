//! Writing a model (or a whole firmware) to the band over BLE, with bandx-core's update protocol
//! (`firmware/core/PROTOCOL.md`, "Updates").
//!
//! The flow of [`deploy`]: check the payload first ([`super::payload::check`]: a model must parse and
//! pass its self-test, a firmware must look like an ESP32 image; either must fit its slot), then
//! `BeginUpdate { target, total_len, sha256, version }`, bulk chunks sized to the connection's
//! MTU, an `UpdateStatus` every [`DeployOptions::confirm_every`] bytes (the band accepts a chunk
//! only at exactly its next offset, so when it is behind the sender rewinds to its `next_offset`),
//! `CommitUpdate`, and a check that the band runs what was sent: `GetInfo` shows the new model,
//! or, for a firmware, the firmware check below.
//!
//! A new firmware runs on trial: the band's bootloader starts it once, the firmware confirms itself only
//! if its boot check passes (bandx-core's `boot` policy), and an unconfirmed one is rolled back at the
//! next reset. `GetInfo` does not carry that state, so the job checks what it can see: it reads the
//! firmware version before, sends `Reboot`, reconnects, and requires a different version (else
//! [`DeployError::FirmwareUnchanged`]); then it restarts the band once more and requires the same new
//! version again (else [`DeployError::RolledBack`]: the new firmware did not confirm itself and the
//! bootloader went back to the previous one). The virtual band reports `sim-` and the first 8 hex
//! digits of its image's SHA-256 as its version, so every image is told apart; a real band reports the
//! version built into its firmware, so re-sending the version it already runs is reported as unchanged.
//!
//! A dropped link is not the end: the job reconnects through the [`Link`] with backoff, sends the
//! same `BeginUpdate` again (same length, digest and version: the band resumes) and continues from
//! the offset the band reports. Until `CommitUpdate` succeeds the band keeps running its previous
//! model (a model goes to the inactive A/B slot, and the switch is one atomic record write).
//!
//! Cancelling: set the `cancel` flag (`AtomicBool`, checked before every chunk and before the
//! commit). The job then sends `AbortUpdate` if the link is up and returns
//! [`DeployError::Cancelled`]; the band keeps its previous model.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bandx_board::partitions::FlashLayout;
use bandx_core::blob::sha256;
use bandx_core::owner::Grant;
use bandx_core::protocol::{
    BULK_HEADER_LEN, BulkChunk, ErrorCode, Info, RequestBody, ResponseBody, SignatureBytes,
    UpdateTarget,
};
use bandx_core::update::release::Release;
use serde::Serialize;

use super::payload::{self, ModelIdentity, Payload, PayloadError};
use super::progress::{DeployProgress, DeployTarget, Progress, Stage};
use super::record::{Outcome, Recorded, Recording};
use crate::band::{BandClient, BandError};
use crate::link::{Backoff, Characteristic, Link, LinkError, disconnected};
use crate::owner::{OwnerKeyFile, claim_band};
use crate::store::{DeploymentId, StoreError, Transport};

/// The result of a deployment the band confirmed.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeployReport {
    pub target: DeployTarget,
    /// Payload size.
    pub bytes: u64,
    /// Chunk data bytes written, resends included.
    pub bytes_written: u64,
    /// SHA-256 of the payload (hex), as announced in `BeginUpdate`.
    pub sha256: String,
    /// The ATT MTU of the connection the transfer ended on.
    pub mtu: u16,
    /// From the band's answer to the first `BeginUpdate` to its confirmation of every byte.
    pub transfer_secs: f64,
    /// The whole job, connection to confirmation.
    pub total_secs: f64,
    /// `bytes / transfer_secs`.
    pub bytes_per_sec: f64,
    pub reconnects: u32,
    /// The band's offset at each resumption after a dropped link.
    pub resumed_from: Vec<u32>,
    /// What the band reported once done (the new model, or the firmware back up).
    pub info_after: Info,
}

/// Tuning of the job; [`Default`] suits a real band.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeployOptions {
    /// How each reconnection is attempted.
    pub backoff: Backoff,
    /// Link drops tolerated in one deployment; one more ends it with [`DeployError::LinkLost`].
    pub max_reconnects: u32,
    /// Bytes sent between two `UpdateStatus` confirmations: the most the sender runs ahead of
    /// what the band has confirmed.
    pub confirm_every: usize,
    /// Confirmations in a row without progress before giving up ([`DeployError::Stalled`]).
    pub max_stalled_confirmations: u32,
    /// Firmware: how long to wait for the band to drop the link when it restarts.
    pub reboot_timeout: Duration,
    /// Sign a downgrade: allow a firmware older than the running one (or an older version of the running model).
    pub allow_downgrade: bool,
}

impl Default for DeployOptions {
    fn default() -> Self {
        DeployOptions {
            backoff: Backoff::default(),
            max_reconnects: 5,
            confirm_every: 4096,
            max_stalled_confirmations: 4,
            reboot_timeout: Duration::from_secs(10),
            allow_downgrade: false,
        }
    }
}

/// What the band still runs when a deployment does not complete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kept {
    Model,
    Firmware,
}

impl std::fmt::Display for Kept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kept::Model => "The band keeps its previous model",
            Kept::Firmware => "The band keeps running its previous firmware",
        })
    }
}

/// Why a deployment did not happen or did not complete, as plain sentences with the next step.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error(transparent)]
    Payload(#[from] PayloadError),
    #[error("Cannot reach the band: {source}. Nothing was sent. {kept}.")]
    Connect { source: LinkError, kept: Kept },
    #[error(
        "The connection to the band was lost after {sent} of {total} bytes and did not come back \
         ({reconnects} reconnections; last: {source}). {kept}; deploy again to resume where it \
         stopped."
    )]
    LinkLost {
        sent: u64,
        total: u64,
        reconnects: u32,
        source: LinkError,
        kept: Kept,
    },
    #[error("The band refused {request}: {}. {kept}.", describe(*code))]
    Refused {
        request: &'static str,
        code: ErrorCode,
        kept: Kept,
    },
    #[error(
        "The band received different bytes than were sent (SHA-256 mismatch) and dropped them. \
         {kept}; deploy again."
    )]
    DigestMismatch { kept: Kept },
    #[error(
        "The band stopped taking data at byte {offset} of {total}. {kept}; move closer to the band \
         and deploy again."
    )]
    Stalled { offset: u64, total: u64, kept: Kept },
    #[error(
        "The deployment was cancelled after {sent} of {total} bytes{}. {kept}.",
        if *aborted { " and the band dropped the partial update" } else { "" }
    )]
    Cancelled {
        sent: u64,
        total: u64,
        /// Whether `AbortUpdate` reached the band.
        aborted: bool,
        kept: Kept,
    },
    #[error(
        "The band accepted the update but reports {found} instead of the new model {expected}. \
         Deploy again; if it happens again, the band's storage may be failing."
    )]
    NotActive { expected: String, found: String },
    #[error(
        "The band did not come back after restarting into the new firmware ({0}). Its bootloader \
         falls back to the previous firmware if the new one does not start; check the band, then \
         deploy again."
    )]
    NoReboot(LinkError),
    #[error(
        "The band restarted but still reports firmware {version}, the version it ran before: the new \
         firmware did not start (or carries the same version). {}.",
        Kept::Firmware
    )]
    FirmwareUnchanged { version: String },
    #[error(
        "The new firmware {tried} started but did not pass its boot check, so the band rolled back \
         to firmware {running} at its next restart. {}; this firmware does not run on the band: \
         check that it is built for this band before flashing it again.",
        Kept::Firmware
    )]
    RolledBack { tried: String, running: String },
    #[error(
        "This band belongs to another desktop (its owner key is not this desktop's), so it takes updates only \
         from that one. Nothing was sent. To make this desktop its owner, clear the band's owner over USB \
         (`bandx usb forget-owner`), then pair again."
    )]
    NotOwner,
    #[error(
        "The {what} is older than what the band runs ({version} < {running}). Nothing was sent. To install it \
         anyway, allow a downgrade (`--allow-downgrade`, or confirm it in the app)."
    )]
    Downgrade {
        what: &'static str,
        version: String,
        running: String,
    },
    #[error(
        "The band restarted into the new firmware but reports release {running}, not {expected} as the image \
         declares. Check the image, then deploy again."
    )]
    WrongRelease { expected: String, running: String },
    #[error("Talking to the band failed: {source}. {kept}.")]
    Band { source: BandError, kept: Kept },
    #[error("Cannot record the deployment in the local store: {0}")]
    Store(#[from] StoreError),
}

impl DeployError {
    /// The link failure behind this error, if any (the CLI maps it to its exit codes).
    pub fn link_error(&self) -> Option<&LinkError> {
        match self {
            DeployError::Connect { source, .. } | DeployError::LinkLost { source, .. } => {
                Some(source)
            }
            DeployError::NoReboot(source) => Some(source),
            DeployError::Band {
                source: BandError::Link(source),
                ..
            } => Some(source),
            _ => None,
        }
    }
}

/// The band's error codes in words.
fn describe(code: ErrorCode) -> String {
    match code {
        ErrorCode::TooLarge => "the update does not fit the band's storage".into(),
        ErrorCode::Incomplete => "not all bytes had arrived".into(),
        ErrorCode::DigestMismatch => "the received bytes do not match their SHA-256".into(),
        ErrorCode::InvalidModel => "the model does not parse on the band".into(),
        ErrorCode::SelfTestFailed => "the model's self-test failed on the band".into(),
        ErrorCode::Storage => "its flash storage failed".into(),
        ErrorCode::NoUpdate => "no update was in progress (did the band restart?)".into(),
        ErrorCode::InvalidFirmware => {
            "the image is not a valid app image for its chip, or its declared version is not the signed one \
             (it would not boot)"
                .into()
        }
        ErrorCode::NoOwner => "the band has no owner yet (pair with it first)".into(),
        ErrorCode::NotOwner => "the update is not signed by the band's owner".into(),
        ErrorCode::Downgrade { running } => {
            format!("it is older than what the band runs ({running}) and no downgrade was allowed")
        }
        ErrorCode::RateLimited { retry_after_s } => format!(
            "too many updates in a short time (each erases flash); try again in {retry_after_s} s"
        ),
        ErrorCode::OwnedByAnother => "the band belongs to another desktop".into(),
        other => format!("{other:?}"),
    }
}

/// A payload checked and ready to announce.
struct Update<'a> {
    target: UpdateTarget,
    bytes: &'a [u8],
    sha256: [u8; 32],
    version: u32,
    /// The owner's signed permission to go below the running version.
    downgrade: bool,
    /// The owner's signature over the grant (target, version, length, SHA-256, downgrade).
    signature: [u8; 64],
    /// A model: what GetInfo must show afterwards.
    expected: Option<ModelIdentity>,
}

impl<'a> Update<'a> {
    /// Checks the payload the way the band will, before anything is sent.
    fn prepare(
        payload: Payload<'a>,
        owner: &OwnerKeyFile,
        downgrade: bool,
    ) -> Result<Update<'a>, DeployError> {
        let expected = payload::check(payload, &FlashLayout::band())?.model();
        let bytes = payload.bytes();
        let (target, version) = match payload {
            Payload::Model(_) => (
                UpdateTarget::Model,
                expected.as_ref().map_or(0, |m| m.version),
            ),
            Payload::Firmware { version, .. } => (UpdateTarget::Firmware, version),
        };
        let grant = Grant {
            target,
            version,
            total_len: bytes.len() as u32,
            sha256: sha256(bytes),
            downgrade,
        };
        Ok(Update {
            target,
            bytes,
            sha256: grant.sha256,
            version,
            downgrade,
            signature: owner.sign(&grant),
            expected,
        })
    }

    fn kept(&self) -> Kept {
        match self.target {
            UpdateTarget::Model => Kept::Model,
            UpdateTarget::Firmware => Kept::Firmware,
        }
    }

    fn total(&self) -> u64 {
        self.bytes.len() as u64
    }
}

/// Why one attempt over a connection stopped.
enum Stop {
    /// The link went away (or stopped answering): reconnect and resume.
    Lost(LinkError),
    Fatal(DeployError),
}

/// The running job: what was sent, how often the link dropped.
struct Job<'a, 'p> {
    link: &'a dyn Link,
    band_id: &'a str,
    update: Update<'a>,
    opts: &'a DeployOptions,
    on_progress: &'a mut (dyn Progress + 'p),
    cancel: &'a AtomicBool,
    started: Instant,
    transfer_started: Option<Instant>,
    transfer_secs: f64,
    /// The position in the image: the next offset to send.
    position: u32,
    bytes_written: u64,
    reconnects: u32,
    resumed_from: Vec<u32>,
    stage: Stage,
    last_event: Option<Instant>,
    /// The band already runs exactly this image: nothing was written.
    already_installed: bool,
}

/// Progress events at most this often while sending (stage changes always go out).
const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

/// Writes `payload` to the band `band_id` over `link` and confirms the band runs it.
///
/// - `client`: an already connected client to that band (the app has one); `None` connects.
/// - `on_progress`: called at every stage change and about every 100 ms while sending.
/// - `cancel`: set it (from another task or thread) to stop; see the module docs.
///
/// Returns the report and the live client: the one passed in, or a new one if the link dropped on
/// the way (or the band restarted into a new firmware). On error the connection is dropped.
#[allow(clippy::too_many_arguments)]
pub async fn deploy(
    link: &dyn Link,
    band_id: &str,
    client: Option<BandClient>,
    payload: Payload<'_>,
    owner: &OwnerKeyFile,
    opts: &DeployOptions,
    on_progress: &mut dyn Progress,
    cancel: &AtomicBool,
) -> Result<(DeployReport, BandClient), DeployError> {
    let update = Update::prepare(payload, owner, opts.allow_downgrade)?;
    let mut job = Job {
        link,
        band_id,
        update,
        opts,
        on_progress,
        cancel,
        started: Instant::now(),
        transfer_started: None,
        transfer_secs: 0.0,
        position: 0,
        bytes_written: 0,
        reconnects: 0,
        resumed_from: Vec::new(),
        stage: Stage::Connecting,
        last_event: None,
        already_installed: false,
    };
    job.emit(Stage::Connecting);
    let mut client = match client {
        Some(client) => client,
        None => job.connect().await.map_err(|source| DeployError::Connect {
            source,
            kept: job.update.kept(),
        })?,
    };

    // This desktop must be the band's owner (a band without one takes this desktop's key now), and the
    // update must not go below what runs unless a downgrade was allowed.
    job.check_owner_and_versions(owner, &client).await?;

    // Send and commit, over as many connections as it takes.
    loop {
        let attempt = async {
            job.transfer(&client).await?;
            if job.already_installed {
                return Ok(());
            }
            job.commit(&client).await
        }
        .await;
        match attempt {
            Ok(()) => break,
            Err(Stop::Fatal(e)) => {
                if matches!(e, DeployError::Cancelled { .. }) {
                    return Err(job.cancelled(Some(&client)).await);
                }
                return Err(e);
            }
            Err(Stop::Lost(e)) => {
                client = job.reconnect(client, e).await?;
                // A commit whose answer was lost may have happened: a model shows in GetInfo.
                if job.stage == Stage::Committing && job.model_is_active(&client).await {
                    break;
                }
            }
        }
    }

    let info_after = match job.update.target {
        UpdateTarget::Model => {
            job.emit(Stage::Verifying);
            let info = loop {
                match client.get_info().await {
                    Ok(info) => break info,
                    Err(BandError::Link(e)) if e.is_transient() => {
                        client = job.reconnect(client, e).await?;
                    }
                    Err(source) => return Err(job.band_error(source)),
                }
            };
            job.check_active(&info)?;
            info
        }
        UpdateTarget::Firmware if job.already_installed => client
            .get_info()
            .await
            .map_err(|source| job.band_error(source))?,
        UpdateTarget::Firmware => {
            let (info, new_client) = job.reboot(client).await?;
            client = new_client;
            info
        }
    };
    job.emit(Stage::Done);
    let total = job.update.total();
    Ok((
        DeployReport {
            target: job.target(),
            bytes: total,
            bytes_written: job.bytes_written,
            sha256: crate::hex::encode(&job.update.sha256),
            mtu: client.connection().mtu(),
            transfer_secs: job.transfer_secs,
            total_secs: job.started.elapsed().as_secs_f64(),
            bytes_per_sec: total as f64 / job.transfer_secs.max(1e-9),
            reconnects: job.reconnects,
            resumed_from: job.resumed_from,
            info_after,
        },
        client,
    ))
}

impl<'a> Job<'a, '_> {
    /// Claims a band without an owner, refuses a band owned by another desktop, and refuses a downgrade
    /// that was not allowed (the band would refuse it too, after the upload for a model).
    async fn check_owner_and_versions(
        &mut self,
        owner: &OwnerKeyFile,
        client: &BandClient,
    ) -> Result<(), DeployError> {
        let owned = claim_band(client, owner)
            .await
            .map_err(|source| self.band_error(source))?;
        if !owned {
            return Err(DeployError::NotOwner);
        }
        if self.update.downgrade {
            return Ok(());
        }
        let info = client
            .get_info()
            .await
            .map_err(|source| self.band_error(source))?;
        match (self.update.target, &self.update.expected, &info.model) {
            (UpdateTarget::Model, Some(new), Some(running))
                if new.id == running.id && new.version < running.version =>
            {
                Err(DeployError::Downgrade {
                    what: "model",
                    version: format!("version {}", new.version),
                    running: format!("version {}", running.version),
                })
            }
            (UpdateTarget::Firmware, _, _)
                if info.firmware_release != 0 && self.update.version < info.firmware_release =>
            {
                Err(DeployError::Downgrade {
                    what: "firmware",
                    version: Release(self.update.version).to_string(),
                    running: Release(info.firmware_release).to_string(),
                })
            }
            _ => Ok(()),
        }
    }

    fn target(&self) -> DeployTarget {
        match self.update.target {
            UpdateTarget::Model => DeployTarget::Model,
            UpdateTarget::Firmware => DeployTarget::Firmware,
        }
    }

    fn rate(&self) -> f64 {
        let secs = self
            .transfer_started
            .map_or(0.0, |t| t.elapsed().as_secs_f64());
        if secs > 0.0 {
            f64::from(self.position) / secs
        } else {
            0.0
        }
    }

    fn emit(&mut self, stage: Stage) {
        let now = Instant::now();
        let changed = stage != self.stage;
        let due = self
            .last_event
            .is_none_or(|t| now.duration_since(t) >= PROGRESS_INTERVAL);
        let complete = u64::from(self.position) == self.update.total();
        if !(changed || due || complete || self.last_event.is_none()) {
            return;
        }
        self.stage = stage;
        self.last_event = Some(now);
        let rate = self.rate();
        let left = self.update.total() - u64::from(self.position);
        let event = DeployProgress {
            stage,
            target: self.target(),
            partition: None,
            bytes_sent: u64::from(self.position),
            bytes_total: self.update.total(),
            bytes_per_sec: rate,
            eta_secs: (rate > 0.0).then(|| left as f64 / rate),
            reconnects: self.reconnects,
        };
        self.on_progress.update(&event);
    }

    /// A connection to the band, through the link with backoff. (Takes copies of the job's
    /// `Sync` parts only: the job itself is not `Sync`, and the future must stay `Send`.)
    fn connect(&self) -> impl Future<Output = Result<BandClient, LinkError>> + Send + 'a {
        connect(self.link, self.band_id, self.opts.backoff)
    }

    /// Drops `old` and connects again, within the job's budget of reconnections.
    async fn reconnect(
        &mut self,
        old: BandClient,
        cause: LinkError,
    ) -> Result<BandClient, DeployError> {
        // A link that stopped answering may still be up: close it so the band takes a new one.
        if let Err(e) = old.connection().disconnect().await {
            tracing::debug!("closing the dropped connection: {e}");
        }
        drop(old);
        let lost = |source, reconnects| DeployError::LinkLost {
            sent: u64::from(self.position),
            total: self.update.total(),
            reconnects,
            source,
            kept: self.update.kept(),
        };
        if self.reconnects >= self.opts.max_reconnects {
            return Err(lost(cause, self.reconnects));
        }
        self.reconnects += 1;
        tracing::info!(reconnects = self.reconnects, %cause, "link lost during deployment, reconnecting");
        match self.connect().await {
            Ok(client) => Ok(client),
            Err(e) => Err(lost(e, self.reconnects)),
        }
    }

    fn band_error(&self, source: BandError) -> DeployError {
        DeployError::Band {
            source,
            kept: self.update.kept(),
        }
    }

    /// Turns a request's failure into a reason to stop.
    fn stop(&self, e: BandError) -> Stop {
        match e {
            BandError::Link(e) if e.is_transient() => Stop::Lost(e),
            other => Stop::Fatal(self.band_error(other)),
        }
    }

    fn refused(&self, request: &'static str, code: ErrorCode) -> Stop {
        Stop::Fatal(match code {
            ErrorCode::DigestMismatch => DeployError::DigestMismatch {
                kept: self.update.kept(),
            },
            code => DeployError::Refused {
                request,
                code,
                kept: self.update.kept(),
            },
        })
    }

    /// An `UpdateStatus` answer's next offset.
    fn next_offset(&self, request: &'static str, body: ResponseBody) -> Result<u32, Stop> {
        match body {
            ResponseBody::UpdateStatus {
                next_offset,
                total_len,
                ..
            } if u64::from(total_len) == self.update.total() && next_offset <= total_len => {
                Ok(next_offset)
            }
            ResponseBody::Error(code) => Err(self.refused(request, code)),
            other => Err(self.stop(BandError::Unexpected {
                request,
                response: format!("{other:?}"),
            })),
        }
    }

    async fn update_status(&mut self, client: &BandClient) -> Result<u32, Stop> {
        let body = client
            .request(RequestBody::UpdateStatus {
                target: self.update.target,
            })
            .await
            .map_err(|e| self.stop(e))?;
        self.next_offset("UpdateStatus", body)
    }

    /// Announces (or resumes) the update and sends every byte, until the band confirms them all.
    async fn transfer(&mut self, client: &BandClient) -> Result<(), Stop> {
        let total = self.update.bytes.len() as u32;
        let begin = RequestBody::BeginUpdate {
            target: self.update.target,
            total_len: total,
            sha256: self.update.sha256,
            version: self.update.version,
            downgrade: self.update.downgrade,
            signature: SignatureBytes::from_bytes(&self.update.signature),
        };
        let body = client.request(begin).await.map_err(|e| self.stop(e))?;
        if body == ResponseBody::Error(ErrorCode::AlreadyInstalled) {
            tracing::info!("the band already runs this image: nothing to write");
            self.already_installed = true;
            return Ok(());
        }
        self.position = self.next_offset("BeginUpdate", body)?;
        self.transfer_started.get_or_insert_with(Instant::now);
        if self.reconnects > 0 {
            self.resumed_from.push(self.position);
            self.emit(Stage::Resuming);
        }
        self.emit(Stage::Sending);

        let max_write = client.connection().max_write_len();
        let chunk_len = max_write.saturating_sub(BULK_HEADER_LEN).max(1);
        let mut packet = vec![0u8; BULK_HEADER_LEN + chunk_len];
        let mut confirmed = self.position;
        let mut stalled = 0;
        loop {
            let sent_ahead = (self.position - confirmed) as usize;
            if self.position == total || sent_ahead >= self.opts.confirm_every {
                let next = self.update_status(client).await?;
                if next == total {
                    break;
                }
                if next <= confirmed {
                    stalled += 1;
                    if stalled > self.opts.max_stalled_confirmations {
                        return Err(Stop::Fatal(DeployError::Stalled {
                            offset: u64::from(next),
                            total: u64::from(total),
                            kept: self.update.kept(),
                        }));
                    }
                } else {
                    stalled = 0;
                }
                if next < self.position {
                    tracing::debug!(
                        from = next,
                        was = self.position,
                        "the band is behind, resending"
                    );
                }
                confirmed = next;
                self.position = next;
            }
            if self.cancel.load(Ordering::Relaxed) {
                return Err(Stop::Fatal(self.cancelled_error(false)));
            }
            let start = self.position as usize;
            let end = (start + chunk_len).min(total as usize);
            let len = BulkChunk {
                target: self.update.target,
                offset: self.position,
                data: &self.update.bytes[start..end],
            }
            .encode(&mut packet)
            .map_err(|e| {
                Stop::Fatal(self.band_error(BandError::Encode {
                    request: "bulk chunk",
                    reason: e.to_string(),
                }))
            })?;
            client
                .connection()
                .write_without_response(Characteristic::Bulk, &packet[..len])
                .await
                .map_err(|e| self.stop(e.into()))?;
            self.bytes_written += (end - start) as u64;
            self.position = end as u32;
            self.emit(Stage::Sending);
        }
        self.position = total;
        if let Some(t) = self.transfer_started {
            self.transfer_secs = t.elapsed().as_secs_f64();
        }
        self.emit(Stage::Sending);
        Ok(())
    }

    async fn commit(&mut self, client: &BandClient) -> Result<(), Stop> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(Stop::Fatal(self.cancelled_error(false)));
        }
        self.emit(Stage::Committing);
        let body = client
            .request(RequestBody::CommitUpdate {
                target: self.update.target,
            })
            .await
            .map_err(|e| self.stop(e))?;
        match body {
            ResponseBody::Ok => Ok(()),
            ResponseBody::Error(code) => Err(self.refused("CommitUpdate", code)),
            other => Err(self.stop(BandError::Unexpected {
                request: "CommitUpdate",
                response: format!("{other:?}"),
            })),
        }
    }

    fn cancelled_error(&self, aborted: bool) -> DeployError {
        DeployError::Cancelled {
            sent: u64::from(self.position),
            total: self.update.total(),
            aborted,
            kept: self.update.kept(),
        }
    }

    /// Asks the band to drop the partial update (best effort) and says how it went.
    async fn cancelled(&mut self, client: Option<&BandClient>) -> DeployError {
        let aborted = match client {
            Some(client) => match client
                .request(RequestBody::AbortUpdate {
                    target: self.update.target,
                })
                .await
            {
                Ok(ResponseBody::Ok) => true,
                Ok(other) => {
                    tracing::warn!("the band answered AbortUpdate with {other:?}");
                    false
                }
                Err(e) => {
                    tracing::warn!("cannot send AbortUpdate: {e}");
                    false
                }
            },
            None => false,
        };
        self.cancelled_error(aborted)
    }

    fn found_model(info: &Info) -> Option<ModelIdentity> {
        info.model.as_ref().map(|m| ModelIdentity {
            id: m.id,
            version: m.version,
            labels: m.labels.iter().map(|l| l.to_string()).collect(),
        })
    }

    /// Whether the band already runs the model being deployed (false for a firmware).
    async fn model_is_active(&mut self, client: &BandClient) -> bool {
        let Some(expected) = &self.update.expected else {
            return false;
        };
        match client.get_info().await {
            Ok(info) => Self::found_model(&info).as_ref() == Some(expected),
            Err(_) => false,
        }
    }

    fn check_active(&self, info: &Info) -> Result<(), DeployError> {
        let Some(expected) = &self.update.expected else {
            return Ok(());
        };
        match Self::found_model(info) {
            Some(found) if found == *expected => Ok(()),
            found => Err(DeployError::NotActive {
                expected: expected.to_string(),
                found: found.map_or("no model".into(), |m| format!("model {m}")),
            }),
        }
    }

    /// Restarts the band into its committed firmware and checks, over a second restart, that the band
    /// kept it (see the module documentation).
    async fn reboot(&mut self, client: BandClient) -> Result<(Info, BandClient), DeployError> {
        self.emit(Stage::Rebooting);
        let before = client
            .get_info()
            .await
            .map_err(|e| self.band_error(e))?
            .firmware_version
            .to_string();
        let (started, client) = self.restart(client).await?;
        let tried = started.firmware_version.to_string();
        if tried == before {
            return Err(DeployError::FirmwareUnchanged { version: before });
        }
        // An unconfirmed firmware is rolled back by the bootloader at this restart.
        self.emit(Stage::Rebooting);
        let (after, client) = self.restart(client).await?;
        let running = after.firmware_version.to_string();
        if running != tried {
            return Err(DeployError::RolledBack { tried, running });
        }
        // The band reports the release it runs: it must be the one signed and sent.
        if after.firmware_release != self.update.version {
            return Err(DeployError::WrongRelease {
                expected: Release(self.update.version).to_string(),
                running: Release(after.firmware_release).to_string(),
            });
        }
        Ok((after, client))
    }

    /// Sends `Reboot`, waits for the link to drop, reconnects and reads `GetInfo`.
    async fn restart(&mut self, client: BandClient) -> Result<(Info, BandClient), DeployError> {
        let mut state = client.connection().state();
        match client.request(RequestBody::Reboot).await {
            Ok(ResponseBody::Ok) => {}
            // The band may go down before its answer arrives.
            Err(BandError::Link(e)) if e.is_transient() => {
                tracing::debug!("no answer to Reboot: {e}")
            }
            Ok(other) => {
                return Err(self.band_error(BandError::Unexpected {
                    request: "Reboot",
                    response: format!("{other:?}"),
                }));
            }
            Err(source) => return Err(self.band_error(source)),
        }
        let went_down = tokio::time::timeout(self.opts.reboot_timeout, disconnected(&mut state));
        if went_down.await.is_err() {
            return Err(DeployError::NoReboot(LinkError::Timeout {
                operation: "the band's restart",
                after: self.opts.reboot_timeout,
            }));
        }
        drop(client);
        let client = self.connect().await.map_err(DeployError::NoReboot)?;
        self.emit(Stage::Verifying);
        let info = client.get_info().await.map_err(|e| match e {
            BandError::Link(e) => DeployError::NoReboot(e),
            other => self.band_error(other),
        })?;
        Ok((info, client))
    }
}

async fn connect(
    link: &dyn Link,
    band_id: &str,
    backoff: Backoff,
) -> Result<BandClient, LinkError> {
    crate::band::reconnect_client(link, band_id, &backoff)
        .await
        .map_err(|e| match e {
            BandError::Link(e) => e,
            other => LinkError::Gatt(other.to_string()),
        })
}

/// [`deploy`], recorded in the store ([`Recording`]): a payload refused before anything is sent is
/// recorded as failed too.
#[allow(clippy::too_many_arguments)]
pub async fn deploy_recorded(
    recorded: &Recorded<'_>,
    link: &dyn Link,
    band_id: &str,
    client: Option<BandClient>,
    payload: Payload<'_>,
    owner: &OwnerKeyFile,
    opts: &DeployOptions,
    on_progress: &mut dyn Progress,
    cancel: &AtomicBool,
) -> Result<(DeployReport, BandClient, DeploymentId), DeployError> {
    let transport = match payload {
        Payload::Model(_) => Transport::BleModel,
        Payload::Firmware { .. } => Transport::BleFirmware,
    };
    let mut recording = Recording::start(recorded, transport, payload.bytes().len() as u64)?;
    let mut forward = |p: &DeployProgress| {
        recording.progress(p);
        on_progress.update(p);
    };
    let result = deploy(
        link,
        band_id,
        client,
        payload,
        owner,
        opts,
        &mut forward,
        cancel,
    )
    .await;
    let outcome = match &result {
        Ok((report, _)) => Outcome::Verified {
            bytes_sent: report.bytes,
            resumed_count: report.resumed_from.len() as u32,
        },
        Err(DeployError::Cancelled { .. }) => Outcome::Cancelled,
        Err(e) => Outcome::Failed(e),
    };
    let id = recording.finish(outcome)?;
    result.map(|(report, client)| (report, client, id))
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_say_what_the_band_keeps() {
        let e = DeployError::Refused {
            request: "CommitUpdate",
            code: ErrorCode::SelfTestFailed,
            kept: Kept::Model,
        };
        assert_eq!(
            e.to_string(),
            "The band refused CommitUpdate: the model's self-test failed on the band. The band \
             keeps its previous model."
        );
    }
}
