//! `bandx sync`: copies the band's activity log (the minutes it recorded, also while away from the desktop) into
//! the store, resuming after a dropped link; prints what it did as `key: value` lines.

use std::time::Duration;

use bandx_desktop::link::Backoff;
use bandx_desktop::store::{UnixMs, now_ms};
use bandx_desktop::sync::{SyncError, SyncProgress, sync_resuming};
use indicatif::{ProgressBar, ProgressStyle};

use crate::record::{self, SimWearer};
use crate::{Cli, Failure};

#[derive(clap::Args)]
pub struct SyncArgs {
    /// The profile the synced minutes go to (created if missing) [default: the only profile, or "default" in a
    /// new store].
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,
    /// Reconnections allowed after dropped links.
    #[arg(long, default_value_t = 10)]
    max_reconnects: u32,
    #[command(flatten)]
    wearer: SimWearer,
}

fn sync_failure(e: SyncError) -> Failure {
    match e {
        SyncError::Band(e) => e.into(),
        other => other.into(),
    }
}

fn show(bar: &ProgressBar, p: SyncProgress) {
    bar.set_length(p.total);
    bar.set_position(p.stored);
}

/// `2026-11-26T16:40:05Z`
fn timestamp(t_ms: UnixMs) -> String {
    let s = t_ms.div_euclid(1000);
    let day = bandx_desktop::store::Day::of(t_ms, 0);
    let sec = s.rem_euclid(86_400);
    format!(
        "{day}T{:02}:{:02}:{:02}Z",
        sec / 3600,
        sec / 60 % 60,
        sec % 60
    )
}

pub async fn run(cli: &Cli, args: &SyncArgs) -> Result<(), Failure> {
    args.wearer.check(cli)?;
    let dir = bandx_desktop::paths::DataDir::from_option(cli.data_dir.as_deref())?;
    let store = crate::profile::open_store(&dir)?;
    let opened = record::open_band(cli, &args.wearer).await?;
    let profile = record::profile_for_writing(&store, args.profile.as_deref())?;
    let band = record::band_in_store(&store, &opened)?;
    let store = std::sync::Mutex::new(store);
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("{msg:>8} [{bar:30}] {pos}/{len} minutes {per_sec} ETA {eta}")
            .expect("a valid progress template")
            .progress_chars("=> "),
    );
    bar.set_message("syncing");
    let backoff = Backoff::default();
    let result = sync_resuming(
        opened.link.as_ref(),
        &opened.id,
        opened.client,
        &store,
        band,
        profile,
        &backoff,
        args.max_reconnects,
        &mut |p| show(&bar, p),
    )
    .await;
    bar.finish_and_clear();
    let (report, client) = result.map_err(sync_failure)?;
    println!("stored: {}", report.stored);
    println!("duplicates: {}", report.duplicates);
    println!("last_seq: {}", report.last_seq);
    match report.gap {
        Some((first, last)) => {
            println!("gap: {first}-{last}");
            eprintln!(
                "note: the band's log wrapped before {} minute(s) were synced (records {first}-{last}); sync at least weekly",
                last - first + 1
            );
        }
        None => println!("gap: none"),
    }
    println!("time_unknown: {}", report.time_unknown);
    if report.time_unknown > 0 {
        eprintln!(
            "note: {} minute(s) were logged after a restart of the band before its clock was set: their time is unknown and they are not placed on a day",
            report.time_unknown
        );
    }
    println!("requests: {}", report.requests);
    println!("reconnects: {}", report.reconnects);
    println!("mtu: {}", client.connection().mtu());
    println!("seconds: {:.2}", report.elapsed.as_secs_f64());
    println!("last_synced: {}", timestamp(now_ms()));
    let _ = client.connection().disconnect().await;
    tokio::time::sleep(Duration::from_millis(10)).await;
    Ok(())
}
