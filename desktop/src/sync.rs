//! The sync job: copies the band's activity log (bandx-core `log`, `ReadLog`) into the store.
//!
//! It sets the band's clock first (`SetTime`), then asks for the records after the last sequence number the store
//! holds for that band, chunk after chunk, storing each chunk in one transaction keyed by `(band, seq)`. So a
//! dropped link loses at most the chunk in flight ([`sync_resuming`] reconnects and goes on from the store), and
//! syncing twice stores nothing twice. A log that wrapped before it was synced is reported as a gap; a band
//! whose firmware predates the log gets [`SyncError::Unsupported`], a sentence, not an error dump.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bandx_core::protocol::{ErrorCode, Info, LogRecord};

use crate::band::{BandClient, BandError, reconnect_client};
use crate::link::{Backoff, Link, LinkError};
use crate::store::{BandId, ProfileId, Store, StoreError, SyncedMinute, UnixMs, now_ms};

/// Records asked per request (the band sends what fits one message, up to 40).
const MAX_PER_REQUEST: u8 = 255;

/// Why a sync stopped.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The band's firmware has no activity log (it predates it, or has no log partition).
    #[error(
        "this band keeps no activity log ({0}): update its firmware (`bandx deploy --firmware ...`) to sync the minutes it records while away"
    )]
    Unsupported(&'static str),
    #[error(transparent)]
    Band(#[from] BandError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SyncError {
    /// Whether reconnecting and syncing again can help (the link dropped or the band stopped answering).
    pub fn is_link(&self) -> bool {
        matches!(
            self,
            SyncError::Band(BandError::Link(
                LinkError::ConnectionLost | LinkError::Timeout { .. }
            ))
        )
    }
}

/// Where a sync is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct SyncProgress {
    /// Records stored so far in this sync.
    pub stored: u64,
    /// Records the band had to send when this sync started (an estimate: the band keeps logging).
    pub total: u64,
}

/// What a sync did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct SyncReport {
    /// New records stored.
    pub stored: u64,
    /// Records received that the store already had (a repeated chunk).
    pub duplicates: u64,
    /// The highest sequence number stored for the band afterwards.
    pub last_seq: u32,
    /// Records the band overwrote before they were synced: the sequence numbers `first..=last`.
    pub gap: Option<(u32, u32)>,
    /// Stored records whose time is unknown (the band's clock was never set in their boot).
    pub time_unknown: u64,
    /// `ReadLog` requests made.
    pub requests: u32,
    /// Reconnections after a dropped link ([`sync_resuming`]).
    pub reconnects: u32,
    pub elapsed: Duration,
}

/// Sets the band's clock to now, as the desktop does on every connect so the band's log is stamped; a band
/// that predates the log (or any failure) is only logged: connecting goes on.
pub async fn set_clock(client: &BandClient) {
    match client.set_time(now_ms().max(0) as u64).await {
        Ok(()) => {}
        Err(BandError::Refused {
            code: ErrorCode::UnknownRequest,
            ..
        }) => tracing::debug!("the band's firmware has no clock to set (it predates the log)"),
        Err(e) => tracing::warn!("could not set the band's clock: {e}"),
    }
}

/// Syncs the band's log once over `client` into `profile`'s history. `progress` is called after every chunk.
pub async fn sync_log(
    client: &BandClient,
    store: &Mutex<Store>,
    band: BandId,
    profile: ProfileId,
    progress: &mut dyn FnMut(SyncProgress),
) -> Result<SyncReport, SyncError> {
    let started = Instant::now();
    let mut report = SyncReport::default();
    sync_into(client, store, band, profile, &mut report, progress).await?;
    report.elapsed = started.elapsed();
    Ok(report)
}

/// [`sync_log`] that survives dropped links: it reconnects to `band_address` through `link` with `backoff`
/// (up to `max_reconnects` times) and goes on after what the store holds. Returns the report and the client
/// it ended with.
#[allow(clippy::too_many_arguments)]
pub async fn sync_resuming(
    link: &dyn Link,
    band_address: &str,
    client: BandClient,
    store: &Mutex<Store>,
    band: BandId,
    profile: ProfileId,
    backoff: &Backoff,
    max_reconnects: u32,
    progress: &mut dyn FnMut(SyncProgress),
) -> Result<(SyncReport, BandClient), SyncError> {
    let started = Instant::now();
    let mut client = client;
    let mut report = SyncReport::default();
    loop {
        match sync_into(&client, store, band, profile, &mut report, progress).await {
            Ok(()) => {
                report.elapsed = started.elapsed();
                return Ok((report, client));
            }
            Err(e) if e.is_link() && report.reconnects < max_reconnects => {
                report.reconnects += 1;
                tracing::info!(
                    reconnects = report.reconnects,
                    "link lost during the sync: reconnecting"
                );
                // What was stored stays stored: the next attempt starts after it.
                client = reconnect_client(link, band_address, backoff).await?;
            }
            Err(e) => return Err(e),
        }
    }
}

/// One attempt: sets the clock, then reads chunks after the store's last sequence number until the band
/// has nothing newer, adding to `report`.
async fn sync_into(
    client: &BandClient,
    store: &Mutex<Store>,
    band: BandId,
    profile: ProfileId,
    report: &mut SyncReport,
    progress: &mut dyn FnMut(SyncProgress),
) -> Result<(), SyncError> {
    let unsupported = |e: BandError| match e {
        BandError::Refused {
            code: ErrorCode::UnknownRequest,
            ..
        } => SyncError::Unsupported("its firmware predates the log"),
        BandError::Refused {
            code: ErrorCode::NoLog,
            ..
        } => SyncError::Unsupported("it has no log partition"),
        other => SyncError::Band(other),
    };
    client
        .set_time(now_ms().max(0) as u64)
        .await
        .map_err(unsupported)?;
    let info = client.get_info().await?;
    // The store is locked briefly, never across a request to the band.
    let labels = model_labels(&lock(store), profile, &info)?;
    let mut after = lock(store).last_synced_seq(band)?;
    report.last_seq = after;
    let stored_before = report.stored;
    let mut total = None;
    loop {
        let chunk = client
            .read_log(after, MAX_PER_REQUEST)
            .await
            .map_err(unsupported)?;
        report.requests += 1;
        if chunk.oldest_seq > after + 1 && report.gap.is_none() {
            report.gap = Some((after + 1, chunk.oldest_seq - 1));
            tracing::warn!(
                first = after + 1,
                last = chunk.oldest_seq - 1,
                "the band's log wrapped before these minutes were synced"
            );
        }
        let total = *total.get_or_insert(
            stored_before
                + u64::from(
                    chunk
                        .next_seq
                        .saturating_sub(after.max(chunk.oldest_seq.saturating_sub(1)) + 1),
                ),
        );
        let Some(last) = chunk.records.last().map(|r| r.seq) else {
            return Ok(());
        };
        let minutes: Vec<SyncedMinute> = chunk
            .records
            .iter()
            .map(|r| synced_minute(&labels, band, r))
            .collect();
        let added = lock(store).add_synced_minutes(profile, &minutes, now_ms())? as u64;
        report.stored += added;
        report.duplicates += minutes.len() as u64 - added;
        report.time_unknown += minutes.iter().filter(|m| m.t_ms.is_none()).count() as u64;
        after = last;
        report.last_seq = after;
        progress(SyncProgress {
            stored: report.stored,
            total: total.max(report.stored),
        });
        if after + 1 >= chunk.next_seq {
            return Ok(());
        }
    }
}

fn lock(store: &Mutex<Store>) -> MutexGuard<'_, Store> {
    store.lock().unwrap_or_else(|e| e.into_inner())
}

/// Labels by model version: the profile's stored models, and the band's current model (which wins).
fn model_labels(
    store: &Store,
    profile: ProfileId,
    info: &Info,
) -> Result<HashMap<u32, Vec<String>>, StoreError> {
    let mut labels: HashMap<u32, Vec<String>> = store
        .models(profile)?
        .into_iter()
        .map(|m| (m.version, m.classes))
        .collect();
    if let Some(m) = &info.model {
        labels.insert(m.version, m.labels.iter().map(|l| l.to_string()).collect());
    }
    Ok(labels)
}

/// A band record as stored, its class named by the model that classified it (if known).
fn synced_minute(labels: &HashMap<u32, Vec<String>>, band: BandId, r: &LogRecord) -> SyncedMinute {
    let class = labels
        .get(&r.model_version)
        .filter(|_| r.model_version != 0)
        .and_then(|l| l.get(usize::from(r.class)).cloned());
    SyncedMinute {
        band,
        seq: r.seq,
        boot: r.boot,
        band_minute: r.minute,
        t_ms: r.unix_ms.map(|t| t as UnixMs),
        model_version: r.model_version,
        class_index: r.class,
        class,
        dominant: r.dominant,
        windows: r.windows,
        confidence_pct: r.confidence_pct,
        flags: r.flags,
    }
}
