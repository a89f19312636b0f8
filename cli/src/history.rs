//! `bandx history`: minutes per class per day, merged from the stored live predictions and the minutes synced from
//! the band's log (`bandx sync`; a minute both cover counts once), as a tab-separated table.

use bandx_desktop::live::{self, WINDOW_SECONDS};
use bandx_desktop::paths::DataDir;

use crate::profile;

#[derive(clap::Args)]
pub struct HistoryArgs {
    /// Days to show, today included.
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=3660))]
    days: u32,
    /// The profile [default: the only profile].
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,
    /// Local time zone as minutes east of UTC (days start at local midnight).
    #[arg(long, default_value_t = 0, allow_negative_numbers = true, value_parser = clap::value_parser!(i32).range(-14 * 60..=14 * 60))]
    utc_offset_minutes: i32,
}

/// Prints `day<TAB>class...` then one row per day with minutes (one decimal), oldest first.
pub fn run(dir: &DataDir, args: &HistoryArgs) -> anyhow::Result<()> {
    let store = profile::open_existing_store(dir)?;
    let profile = profile::select(&store, args.profile.as_deref())?;
    let now = bandx_desktop::store::now_ms();
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
