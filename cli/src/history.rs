//! `bandx history`: minutes per class per day, merged from the stored live predictions and the minutes synced from
//! the band's log (`bandx sync`; a minute both cover counts once), as a tab-separated table; with `--day`, that
//! day's timeline instead: one line per stretch of one activity (or "not worn" / "no model") from one source.

use anyhow::anyhow;
use bandx_desktop::live::{self, Source, WINDOW_SECONDS};
use bandx_desktop::paths::DataDir;
use bandx_desktop::store::{Day, ProfileId, Store, UnixMs};

use crate::profile;

#[derive(clap::Args)]
pub struct HistoryArgs {
    /// Days to show, today included.
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=3660))]
    days: u32,
    /// The profile [default: the only profile].
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,
    /// Print this day's timeline (YYYY-MM-DD, or `today`) instead of the daily table.
    #[arg(long, value_name = "DATE")]
    day: Option<String>,
    /// Local time zone as minutes east of UTC (days start at local midnight).
    #[arg(long, default_value_t = 0, allow_negative_numbers = true, value_parser = clap::value_parser!(i32).range(-14 * 60..=14 * 60))]
    utc_offset_minutes: i32,
}

/// Prints `day<TAB>class...` then one row per day with minutes (one decimal), oldest first.
pub fn run(dir: &DataDir, args: &HistoryArgs) -> anyhow::Result<()> {
    let store = profile::open_existing_store(dir)?;
    let profile = profile::select(&store, args.profile.as_deref())?;
    let now = bandx_desktop::store::now_ms();
    if let Some(day) = &args.day {
        let day = match day.as_str() {
            "today" => Day::of(now, args.utc_offset_minutes),
            text => text.parse::<Day>().map_err(|e| anyhow!("--day: {e}"))?,
        };
        return print_day(&store, profile.id, day, args.utc_offset_minutes);
    }
    let history = live::daily_history(&store, profile.id, args.days, now, args.utc_offset_minutes)?;
    let mut header = vec!["day".to_string()];
    header.extend(history.classes.iter().cloned());
    println!("{}", header.join("\t"));
    for (day, minutes) in history.days.iter().zip(&history.minutes) {
        let cells: Vec<String> = minutes.iter().map(|m| format!("{m:.1}")).collect();
        if cells.is_empty() {
            println!("{day}");
        } else {
            println!("{day}\t{}", cells.join("\t"));
        }
    }
    let windows: u64 = history.windows.iter().flatten().sum();
    let minutes: f64 = history.minutes.iter().flatten().sum();
    eprintln!(
        "profile {:?}: {minutes:.1} minutes in {} day(s) ({windows} live windows of {WINDOW_SECONDS} s in minutes the band's log does not cover)",
        profile.name, args.days
    );
    // A model change on the band shows here (the versions that classified each day's synced minutes).
    for (day, versions) in
        store.synced_models_by_day(profile.id, i64::MIN, i64::MAX, args.utc_offset_minutes)?
    {
        if history.days.contains(&day.to_string()) {
            let names: Vec<String> = versions
                .iter()
                .map(|v| {
                    if *v == 0 {
                        "none".into()
                    } else {
                        format!("v{v}")
                    }
                })
                .collect();
            eprintln!("band model on {day}: {}", names.join(", "));
        }
    }
    let unknown = store.time_unknown_minutes(profile.id)?;
    if unknown > 0 {
        eprintln!(
            "note: {unknown} synced minute(s) have no known time (logged after a restart of the band, before its clock was set) and are not shown"
        );
    }
    Ok(())
}

/// Prints `start<TAB>end<TAB>what<TAB>source` (local `HH:MM:SS`) per stretch of `day`, then the minutes per row.
fn print_day(
    store: &Store,
    profile: ProfileId,
    day: Day,
    utc_offset_minutes: i32,
) -> anyhow::Result<()> {
    let timeline = live::day_timeline(store, profile, day, utc_offset_minutes)?;
    let clock = |t: UnixMs| {
        let s = (t - timeline.start_ms) / 1000;
        format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    };
    println!("start\tend\twhat\tsource");
    for s in &timeline.segments {
        let source = match s.source {
            Source::BandLog => "band log",
            Source::Live => "live",
        };
        println!(
            "{}\t{}\t{}\t{source}",
            clock(s.start_ms),
            clock(s.end_ms),
            live::row_label(&s.state)
        );
    }
    if timeline.is_empty() {
        eprintln!("nothing recorded on {day}");
    }
    for (label, logged, live) in timeline.minutes() {
        eprintln!("{label}: {logged:.1} min from the band's log, {live:.1} min live");
    }
    Ok(())
}
