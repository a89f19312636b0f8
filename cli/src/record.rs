//! `bandx record`: the guided calibration of one class, with a progress bar; the virtual wearer's
//! activity and style are set with `--sim --activity NAME --style different|natural`
//! (`BANDX_SIM_SPEED=N` runs the virtual band N times faster than real time, as in the app).

use std::sync::Mutex;

use anyhow::anyhow;
use bandx_desktop::band::BandClient;
use bandx_desktop::calibrate::{
    self, CalibrateError, ClassTarget, SessionConfig, SessionEvent, record_class,
};
use bandx_desktop::link::sim::SimLink;
use bandx_desktop::link::sim::{Activity, Style};
use bandx_desktop::link::{Link, LinkError, ScanRequest};
use bandx_desktop::paths::DataDir;
use bandx_desktop::store::{BandId, ProfileId, Store};
use indicatif::{ProgressBar, ProgressStyle};

use crate::{Cli, Failure, profile};

/// Exit code of a command line clap accepts but that does not make sense (as clap's own).
const EXIT_USAGE: u8 = 2;
/// The profile `record` and `live` create when the store has none and no --profile is given.
const DEFAULT_PROFILE: &str = "default";

#[derive(clap::Args)]
pub struct RecordArgs {
    /// The activity class to record (created if missing).
    #[arg(long, value_name = "NAME")]
    class: String,
    /// The profile (created if missing) [default: the only profile, or "default" in a new store].
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,
    /// Good windows (3 s each, 50 % overlap) to record.
    #[arg(long, default_value_t = calibrate::DEFAULT_WINDOWS, value_parser = clap::value_parser!(u32).range(1..))]
    windows: u32,
    /// Seconds of countdown before recording starts.
    #[arg(long, default_value_t = 3)]
    countdown: u32,
    #[command(flatten)]
    wearer: SimWearer,
}

/// What the virtual band's wearer does (with --sim only).
#[derive(clap::Args)]
pub struct SimWearer {
    /// With --sim: what the virtual wearer does (a WISDM activity: walking, jogging, sitting,
    /// standing, typing, teeth, stairs, clapping, ...).
    #[arg(long, value_name = "NAME")]
    activity: Option<String>,
    /// With --sim: how the virtual wearer wears the band.
    #[arg(long, value_enum)]
    style: Option<StyleArg>,
}

impl SimWearer {
    /// Refuses wearer options without --sim, and unknown activities (usage errors, checked before
    /// anything is opened or created).
    pub fn check(&self, cli: &Cli) -> Result<(), Failure> {
        if !cli.sim && (self.activity.is_some() || self.style.is_some()) {
            return Err(usage(
                "--activity and --style set the virtual wearer: use them with --sim".into(),
            ));
        }
        self.activity().map(|_| ())
    }

    fn activity(&self) -> Result<Option<Activity>, Failure> {
        self.activity
            .as_deref()
            .map(|name| {
                Activity::from_name(name).ok_or_else(|| {
                    usage(format!(
                        "--activity {name:?} is not an activity of the virtual wearer"
                    ))
                })
            })
            .transpose()
    }
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum StyleArg {
    /// Other wrist, twisted, slower: the generic model struggles.
    Different,
    /// As the recording was made.
    Natural,
}

/// A connected band and what the store knows it as.
pub struct Opened {
    pub link: Box<dyn Link>,
    pub client: BandClient,
    /// The id the band was connected by (to reconnect).
    pub id: String,
    pub address: String,
    pub name: String,
}

fn usage(message: String) -> Failure {
    Failure {
        code: EXIT_USAGE,
        error: anyhow!(message),
    }
}

/// Opens the link (the virtual band with its wearer set up, with --sim) and connects to `--band`
/// or the strongest band found.
pub async fn open_band(cli: &Cli, wearer: &SimWearer) -> Result<Opened, Failure> {
    wearer.check(cli)?;
    let link: Box<dyn Link> = if cli.sim {
        let dir = DataDir::from_option(cli.data_dir.as_deref())?;
        std::fs::create_dir_all(dir.sim_dir())?;
        // The app's virtual band: `BANDX_SIM_SPEED` runs it faster than real time (tests, demos).
        let sim = SimLink::with_config(bandx_desktop::link::sim::sim_config(&dir))?;
        if let Some(activity) = wearer.activity()? {
            sim.band().set_activity(activity)?;
        }
        if let Some(style) = wearer.style {
            sim.band().set_style(match style {
                StyleArg::Different => Style::DIFFERENT,
                StyleArg::Natural => Style::NATURAL,
            })?;
        }
        Box::new(sim)
    } else {
        crate::open_link(cli).await?
    };
    let found = link.scan(ScanRequest::default()).await?;
    let chosen = match &cli.band {
        Some(id) => found
            .into_iter()
            .find(|b| b.id == *id || b.address.eq_ignore_ascii_case(id)),
        None => found.into_iter().next(),
    };
    let (id, address, name) = match (chosen, &cli.band) {
        (Some(b), _) => (b.id, b.address, b.name.unwrap_or_else(|| "BandX".into())),
        // Not heard in the scan: try the id anyway (connect says whether it exists).
        (None, Some(id)) => (id.clone(), id.clone(), "BandX".into()),
        (None, None) => return Err(LinkError::NotFound("(none in range)".into()).into()),
    };
    let conn = link.connect(&id).await?;
    let client = BandClient::new(conn).await?;
    // The band stamps its activity log with this clock.
    bandx_desktop::sync::set_clock(&client).await;
    Ok(Opened {
        client,
        link,
        id,
        address,
        name,
    })
}

/// The profile to work on: `--profile` (created if missing), else the only one, else "default" in
/// a store without profiles.
pub fn profile_for_writing(store: &Store, name: Option<&str>) -> Result<ProfileId, Failure> {
    let now = bandx_desktop::store::now_ms();
    if let Some(name) = name {
        return Ok(match store.profile_by_name(name)? {
            Some(p) => p.id,
            None => store.create_profile(name, now)?,
        });
    }
    if store.profiles()?.is_empty() {
        return Ok(store.create_profile(DEFAULT_PROFILE, now)?);
    }
    Ok(profile::select(store, None)?.id)
}

pub fn band_in_store(store: &Store, opened: &Opened) -> Result<BandId, Failure> {
    Ok(store.upsert_band(
        &opened.address,
        &opened.name,
        bandx_desktop::store::now_ms(),
    )?)
}

/// The exit code a script sees for a session error.
pub fn session_failure(e: CalibrateError) -> Failure {
    match e {
        CalibrateError::Band(e) => e.into(),
        CalibrateError::Reconnect(e) => e.into(),
        CalibrateError::Stalled(after) => LinkError::Timeout {
            operation: "IMU stream",
            after,
        }
        .into(),
        other => other.into(),
    }
}

pub async fn run(cli: &Cli, args: &RecordArgs) -> Result<(), Failure> {
    args.wearer.check(cli)?;
    let dir = DataDir::from_option(cli.data_dir.as_deref())?;
    let store = profile::open_store(&dir)?;
    let mut opened = open_band(cli, &args.wearer).await?;
    let profile = profile_for_writing(&store, args.profile.as_deref())?;
    let profile_name = store.profile(profile)?.name;
    let (_, class) = calibrate::ensure_class(&store, &profile_name, &args.class)?;
    let band = band_in_store(&store, &opened)?;
    let target = ClassTarget {
        profile,
        band: Some(band),
        class,
    };
    let config = SessionConfig {
        windows: args.windows,
        countdown: args.countdown,
        ..SessionConfig::default()
    };

    let bar = ProgressBar::new(u64::from(args.windows));
    bar.set_style(
        ProgressStyle::with_template("{msg:>14} [{bar:30}] {pos}/{len} good windows")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let mut on_event = |event: SessionEvent| match event {
        SessionEvent::Countdown { remaining } if remaining > 0 => {
            bar.set_message(format!("starting in {remaining}"));
        }
        SessionEvent::Countdown { .. } | SessionEvent::Resumed => bar.set_message("recording"),
        SessionEvent::Progress { good, .. } => bar.set_position(u64::from(good)),
        SessionEvent::WindowJudged {
            index,
            good: false,
            reason,
            ..
        } => bar.suspend(|| {
            println!(
                "window {index} rejected: {}",
                reason.as_deref().unwrap_or("?")
            )
        }),
        SessionEvent::Paused { reason } => {
            bar.set_message("reconnecting");
            bar.suspend(|| eprintln!("paused: {reason}; reconnecting"));
        }
        _ => {}
    };
    let cancel = crate::stop_on_ctrl_c();
    let store = Mutex::new(store);
    let outcome = record_class(
        &mut opened.client,
        opened.link.as_ref(),
        &store,
        &target,
        &config,
        &mut on_event,
        cancel,
    )
    .await
    .map_err(session_failure);
    bar.finish_and_clear();
    let outcome = outcome?;
    println!("profile: {profile_name}");
    println!("class: {}", args.class);
    println!("good_windows: {}", outcome.good);
    println!("rejected_windows: {}", outcome.rejected);
    println!("recordings: {}", outcome.recordings.len());
    println!("pauses: {}", outcome.pauses);
    if outcome.good < outcome.needed {
        eprintln!(
            "{} of {} good windows of {:?} are kept; run the same command again to record the rest",
            outcome.good, outcome.needed, args.class
        );
    }
    let _ = opened.client.connection().disconnect().await;
    Ok(())
}
