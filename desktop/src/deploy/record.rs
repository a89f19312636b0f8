//! The deployment's row in the store, kept the same way for both transports: created `pending` before
//! anything is sent, following the stages (`transferring`, `committed`), and ended `verified`, `failed`
//! (with the error's sentence) or `cancelled`, with the bytes sent and the number of resumptions.

use std::sync::Mutex;

use crate::store::{
    BandId, DeploymentId, DeploymentStatus, DeploymentUpdate, ModelId, NewDeployment, ProfileId,
    Store, StoreError, Transport, now_ms,
};

use super::progress::{DeployProgress, Stage};

/// Who, what, where: the deployment to record.
pub struct Recorded<'s> {
    /// The store, behind a std mutex: it is locked only briefly, never across an await.
    pub store: &'s Mutex<Store>,
    pub profile: ProfileId,
    pub band: BandId,
    /// The stored model being deployed, if it is one.
    pub model: Option<ModelId>,
}

/// The store's row for a band reached over USB (its serial port stands in for an address).
pub fn usb_band(store: &Store, port: Option<&str>) -> Result<BandId, StoreError> {
    store.upsert_band(
        &format!("usb:{}", port.unwrap_or("auto")),
        "BandX (USB)",
        now_ms(),
    )
}

/// How a recorded deployment ended.
pub enum Outcome<'e> {
    Verified { bytes_sent: u64, resumed_count: u32 },
    Cancelled,
    Failed(&'e dyn std::fmt::Display),
}

/// A deployment row being kept up to date.
pub struct Recording<'r, 's> {
    recorded: &'r Recorded<'s>,
    id: DeploymentId,
    last: DeploymentUpdate,
}

impl<'r, 's> Recording<'r, 's> {
    /// Creates the row (`pending`) before anything is sent.
    pub fn start(
        recorded: &'r Recorded<'s>,
        transport: Transport,
        bytes_total: u64,
    ) -> Result<Self, StoreError> {
        let id = lock(recorded.store).start_deployment(
            recorded.profile,
            &NewDeployment {
                model: recorded.model,
                band: recorded.band,
                transport,
                started_at_ms: now_ms(),
                bytes_total,
            },
        )?;
        Ok(Recording {
            recorded,
            id,
            last: DeploymentUpdate {
                status: DeploymentStatus::Pending,
                bytes_sent: 0,
                resumed_count: 0,
                finished_at_ms: None,
                error: None,
            },
        })
    }

    pub fn id(&self) -> DeploymentId {
        self.id
    }

    /// Follows a progress event; the row is written when the status or the resumptions change.
    pub fn progress(&mut self, p: &DeployProgress) {
        let status = match p.stage {
            Stage::Connecting => DeploymentStatus::Pending,
            Stage::Sending | Stage::Resuming | Stage::Committing => DeploymentStatus::Transferring,
            Stage::Verifying | Stage::Rebooting | Stage::Done => DeploymentStatus::Committed,
        };
        let changed = status != self.last.status || p.reconnects != self.last.resumed_count;
        self.last.status = status;
        self.last.bytes_sent = p.bytes_sent;
        self.last.resumed_count = p.reconnects;
        if changed && let Err(e) = lock(self.recorded.store).update_deployment(self.id, &self.last)
        {
            tracing::warn!("cannot record the deployment's progress: {e}");
        }
    }

    /// Ends the row.
    pub fn finish(mut self, outcome: Outcome<'_>) -> Result<DeploymentId, StoreError> {
        self.last.finished_at_ms = Some(now_ms());
        match outcome {
            Outcome::Verified {
                bytes_sent,
                resumed_count,
            } => {
                self.last.status = DeploymentStatus::Verified;
                self.last.bytes_sent = bytes_sent;
                self.last.resumed_count = resumed_count;
            }
            Outcome::Cancelled => self.last.status = DeploymentStatus::Cancelled,
            Outcome::Failed(error) => {
                self.last.status = DeploymentStatus::Failed;
                self.last.error = Some(error.to_string());
            }
        }
        lock(self.recorded.store).update_deployment(self.id, &self.last)?;
        Ok(self.id)
    }
}

fn lock(store: &Mutex<Store>) -> std::sync::MutexGuard<'_, Store> {
    store.lock().unwrap_or_else(|e| e.into_inner())
}
