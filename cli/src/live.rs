//! `bandx live`: the band's own predictions as they come (stored in the store), each checked by
//! shadow inference on the desktop when the store (or the virtual band) has the band's model.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use bandx_core::blob::Model;
use bandx_desktop::link::sim::SHIPPED_MODEL;
use bandx_desktop::live::{self, LiveConfig, LiveError, LiveEvent, LiveTarget, run_live};
use bandx_desktop::paths::DataDir;
use bandx_desktop::store::{Day, UnixMs};

use crate::record::{self, SimWearer};
use crate::{Cli, Failure, profile};

#[derive(clap::Args)]
pub struct LiveArgs {
    /// How long to listen.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    seconds: u64,
    /// The profile the predictions are stored under (created if missing) [default: the only
    /// profile, or "default" in a new store].
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,
    #[command(flatten)]
    wearer: SimWearer,
}

/// A prediction waiting for the shadow's verdict before it is printed.
struct Line {
    window_seq: u32,
    t_ms: UnixMs,
    class: String,
    confidence: f32,
}

fn print(line: &Line, agree: &str) {
    println!(
        "{}\t{}\t{:.3}\t{agree}",
        timestamp(line.t_ms),
        line.class,
        line.confidence
    );
}

/// `2026-11-26T16:40:05.250Z`
fn timestamp(t_ms: UnixMs) -> String {
    let ms = t_ms.rem_euclid(86_400_000);
    format!(
        "{}T{:02}:{:02}:{:02}.{:03}Z",
        Day::of(t_ms, 0),
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

fn live_failure(e: LiveError) -> Failure {
    match e {
        LiveError::Band(e) => e.into(),
        LiveError::Reconnect(e) => e.into(),
        other => other.into(),
    }
}

/// Prints one line per band prediction, tab-separated: time (UTC), class, confidence, and whether
/// the desktop's shadow inference agrees (`agree`, `differ`, or `-` when not checked); then the
/// totals as `key: value` lines.
pub async fn run(cli: &Cli, args: &LiveArgs) -> Result<(), Failure> {
    args.wearer.check(cli)?;
    let dir = DataDir::from_option(cli.data_dir.as_deref())?;
    let store = profile::open_store(&dir)?;
    let mut opened = record::open_band(cli, &args.wearer).await?;
    let profile = record::profile_for_writing(&store, args.profile.as_deref())?;
    let band = record::band_in_store(&store, &opened)?;
    let info = opened.client.get_info().await?;
    let active = info.model.ok_or(LiveError::NoModel).map_err(live_failure)?;
    let shadow = match live::deployed_blob(&store, profile, band, &active)? {
        Some(blob) => Some(blob),
        // A band still on the model it came with.
        None if Model::parse(SHIPPED_MODEL)
            .is_ok_and(|m| (m.id(), m.version()) == (active.id, active.version)) =>
        {
            Some(SHIPPED_MODEL.to_vec())
        }
        None => {
            eprintln!("note: the band's model is not in the store; no shadow inference");
            None
        }
    };

    let shadowing = shadow.is_some();
    let mut waiting: VecDeque<Line> = VecDeque::new();
    let mut on_event = |event: LiveEvent| match event {
        LiveEvent::Started { shadow: false, .. } => {}
        LiveEvent::Prediction {
            window_seq,
            class,
            confidence,
            t_ms,
            ..
        } => {
            let line = Line {
                window_seq,
                t_ms,
                class,
                confidence,
            };
            if shadowing {
                waiting.push_back(line);
            } else {
                print(&line, "-");
            }
        }
        LiveEvent::Shadow {
            window_seq, agree, ..
        } => {
            while let Some(line) = waiting.pop_front() {
                if line.window_seq == window_seq {
                    print(&line, if agree { "agree" } else { "differ" });
                    break;
                }
                print(&line, "-");
            }
        }
        LiveEvent::Paused { reason } => eprintln!("paused: {reason}; reconnecting"),
        LiveEvent::Summary(_) => {
            for line in waiting.drain(..) {
                print(&line, "-");
            }
        }
        _ => {}
    };
    let config = LiveConfig {
        duration: Some(Duration::from_secs(args.seconds)),
        ..LiveConfig::default()
    };
    let cancel = crate::stop_on_ctrl_c();
    let store = Mutex::new(store);
    let summary = run_live(
        &mut opened.client,
        opened.link.as_ref(),
        &store,
        &LiveTarget { profile, band },
        shadow,
        &config,
        &mut on_event,
        cancel,
    )
    .await
    .map_err(live_failure)?;
    println!("predictions: {}", summary.predictions);
    println!("stored: {}", summary.stored);
    match summary.agreement {
        Some(rate) => println!(
            "agreement: {rate:.3} ({} of {} windows)",
            summary.agreed, summary.compared
        ),
        None => println!("agreement: -"),
    }
    println!("unmatched: {}", summary.unmatched);
    println!("reconnects: {}", summary.reconnects);
    let _ = opened.client.connection().disconnect().await;
    Ok(())
}
