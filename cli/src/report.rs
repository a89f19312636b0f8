//! `bandx report`: a folder with SVG plots and a `report.md` that links them and states the figures —
//! calibration, models and their accuracy estimates, deployments, activity. Whatever data is missing, the
//! report says so in place of the plot and goes on.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::Context;
use bandx_core::imu::{self, AccelRange, GyroRange};
use bandx_core::{SAMPLE_RATE_HZ, WINDOW_HOP, WINDOW_LEN};
use bandx_desktop::live;
use bandx_desktop::paths::DataDir;
use bandx_desktop::plots::{self, DailyBars, PlotError, PlotOptions, TimelinePoint, WindowSpan};
use bandx_desktop::store::{ActivityClass, Day, Model, Profile, Recording, Store, UnixMs, Verdict};
use bandx_desktop::train::Confusion;
use rusqlite::OptionalExtension;

use crate::profile;

#[derive(clap::Args)]
pub struct ReportArgs {
    /// The profile to report on [default: the only profile].
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,
    /// Folder for report.md and the plots (created if needed; an earlier report's files are replaced).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// The time zone of the daily totals, in minutes east of UTC.
    #[arg(long, default_value_t = 0, allow_hyphen_values = true,
          value_parser = clap::value_parser!(i32).range(-840..=840))]
    utc_offset_minutes: i32,
}

const HOUR_MS: i64 = 3_600_000;
/// The band predicts once per window hop.
const HOP_MS: i64 = (WINDOW_HOP as i64 * 1000) / SAMPLE_RATE_HZ as i64;
/// At most this much of a calibration recording is drawn (the first 30 s).
const PREVIEW_SAMPLES: u64 = 30 * SAMPLE_RATE_HZ as u64;
/// The daily totals show at most this many (most recent) days.
const MAX_DAYS: usize = 14;

/// The report being written: its Markdown and the files it has produced.
struct Report {
    out: PathBuf,
    md: String,
    files: Vec<PathBuf>,
}

impl Report {
    fn line(&mut self, text: impl AsRef<str>) {
        self.md.push_str(text.as_ref());
        self.md.push('\n');
    }

    /// Writes the plot and links it, or notes why there is none.
    fn plot(
        &mut self,
        file: &str,
        title: &str,
        svg: Result<String, PlotError>,
    ) -> anyhow::Result<()> {
        match svg {
            Ok(svg) => {
                let path = self.out.join(file);
                std::fs::write(&path, svg)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                self.files.push(path);
                self.line(format!("![{}]({file})", md(title)));
            }
            Err(e) => self.skip(&format!("{title}: plot skipped ({e})")),
        }
        self.line("");
        Ok(())
    }

    fn skip(&mut self, why: &str) {
        self.line(format!("_{}_", md(why)));
    }
}

pub fn run(dir: &DataDir, args: &ReportArgs) -> anyhow::Result<()> {
    let store = profile::open_existing_store(dir)?;
    let profile = profile::select(&store, args.profile.as_deref())?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let mut report = Report {
        out: args.out.clone(),
        md: String::new(),
        files: Vec::new(),
    };
    let now = bandx_desktop::store::now_ms();
    report.line(format!("# BandX report: {}", md(&profile.name)));
    report.line("");
    report.line(format!(
        "Written {} from `{}`.",
        utc_time(now),
        dir.store_path().display()
    ));
    report.line("");

    let classes = store.classes(profile.id)?;
    let models = store.models(profile.id)?;
    calibration(&store, &classes, &mut report)?;
    model_section(&models, &mut report)?;
    deployments(&store, &profile, &models, &mut report)?;
    let class_names: Vec<String> = match models.last() {
        Some(m) => m.classes.clone(),
        None => classes.iter().map(|c| c.name.clone()).collect(),
    };
    activity(
        &store,
        &profile,
        &class_names,
        now,
        args.utc_offset_minutes,
        &mut report,
    )?;

    let md_path = args.out.join("report.md");
    std::fs::write(&md_path, &report.md)
        .with_context(|| format!("cannot write {}", md_path.display()))?;
    report.files.push(md_path);
    for file in &report.files {
        println!("{}", file.display());
    }
    Ok(())
}

fn calibration(
    store: &Store,
    classes: &[ActivityClass],
    report: &mut Report,
) -> anyhow::Result<()> {
    report.line("## Calibration");
    report.line("");
    if classes.is_empty() {
        report.skip("No activity classes yet: signal previews skipped.");
        report.line("");
        return Ok(());
    }
    report.line("| class | recordings | good windows | rejected windows |");
    report.line("|---|---:|---:|---:|");
    for class in classes {
        let windows = store.windows_of_class(class.id)?;
        let good = windows
            .iter()
            .filter(|w| w.verdict == Verdict::Good)
            .count();
        report.line(format!(
            "| {} | {} | {good} | {} |",
            md(&class.name),
            store.recordings_of_class(class.id)?.len(),
            windows.len() - good
        ));
    }
    report.line("");
    for (i, class) in classes.iter().enumerate() {
        report.line(format!("### Signal: {}", md(&class.name)));
        report.line("");
        let recordings = store.recordings_of_class(class.id)?;
        // The newest recording that has windows, else the newest with samples.
        let mut chosen = None;
        for rec in recordings.iter().rev().filter(|r| r.samples > 0) {
            if !store.windows(rec.id)?.is_empty() {
                chosen = Some(rec);
                break;
            }
            chosen.get_or_insert(rec);
        }
        let Some(rec) = chosen else {
            report.skip(&format!(
                "No calibration recording of \"{}\" yet: signal preview skipped.",
                class.name
            ));
            report.line("");
            continue;
        };
        let shown = rec.samples.min(PREVIEW_SAMPLES);
        report.line(format!(
            "Recording {} started {}: {} samples at {} Hz; the first {:.0} s shown, calibration windows shaded \
             (green good, red rejected).",
            rec.id,
            utc_time(rec.started_at_ms),
            rec.samples,
            rec.sample_rate_hz,
            shown as f32 / rec.sample_rate_hz
        ));
        report.line("");
        let svg = signal(store, rec, shown);
        let file = format!("signal-{}-{}.svg", i + 1, slug(&class.name));
        report.plot(&file, &format!("Signal of {}", class.name), svg)?;
    }
    Ok(())
}

fn signal(store: &Store, rec: &Recording, shown: u64) -> Result<String, PlotError> {
    let full_scale = core_full_scale(rec).ok_or_else(|| {
        PlotError::Invalid(format!(
            "full scale ±{} g / ±{} °/s is not a setting of the band's IMU",
            rec.full_scale.accel_g, rec.full_scale.gyro_dps
        ))
    })?;
    let read = |e: bandx_desktop::store::StoreError| PlotError::Invalid(e.to_string());
    let samples: Vec<[f32; 6]> = store
        .samples_range(rec.id, 0, shown)
        .map_err(read)?
        .iter()
        .map(|s| {
            full_scale.to_si(&imu::RawSample {
                accel: s.accel,
                gyro: s.gyro,
            })
        })
        .collect();
    let windows: Vec<WindowSpan> = store
        .windows(rec.id)
        .map_err(read)?
        .iter()
        .filter(|w| w.start_index < shown)
        .map(|w| WindowSpan {
            start_index: w.start_index as usize,
            len: WINDOW_LEN,
            good: w.verdict == Verdict::Good,
        })
        .collect();
    plots::signal_preview(
        &samples,
        rec.sample_rate_hz,
        &windows,
        &PlotOptions {
            height: 480,
            ..PlotOptions::default()
        },
    )
}

/// The store keeps full scale as numbers; bandx-core has the settings the IMU really offers.
fn core_full_scale(rec: &Recording) -> Option<imu::FullScale> {
    let accel = [
        AccelRange::G2,
        AccelRange::G4,
        AccelRange::G8,
        AccelRange::G16,
    ]
    .into_iter()
    .find(|r| r.g() == f32::from(rec.full_scale.accel_g))?;
    let gyro = [
        GyroRange::Dps125,
        GyroRange::Dps250,
        GyroRange::Dps500,
        GyroRange::Dps1000,
        GyroRange::Dps2000,
    ]
    .into_iter()
    .find(|r| r.dps() == f32::from(rec.full_scale.gyro_dps))?;
    Some(imu::FullScale { accel, gyro })
}

fn model_section(models: &[Model], report: &mut Report) -> anyhow::Result<()> {
    report.line("## Models");
    report.line("");
    let Some(latest) = models.last() else {
        report.skip("No model trained yet (`bandx train`): confusion matrix skipped.");
        report.line("");
        return Ok(());
    };
    report.line(
        "| version | trained | backbone | classes | personal accuracy (estimated) | generic model, same windows |",
    );
    report.line("|---:|---|---|---|---:|---:|");
    for m in models {
        report.line(format!(
            "| {} | {} | {} | {} | {} | {} |",
            m.version,
            utc_time(m.created_at_ms),
            md(&m.backbone_id),
            md(&m.classes.join(", ")),
            m.metrics["personal_accuracy"]
                .as_f64()
                .map_or("n/a".into(), percent),
            generic_accuracy(&m.metrics)
        ));
    }
    report.line("");
    let outdated: Vec<&Model> = models.iter().filter(|m| m.outdated.is_some()).collect();
    for m in &outdated {
        let reason = m.outdated.as_deref().unwrap_or_default();
        report.line(format!(
            "- Version {} is outdated: {}.",
            m.version,
            md(reason)
        ));
    }
    if !outdated.is_empty() {
        report.line("");
    }

    let metrics = &latest.metrics;
    report.line(format!("### Latest model: version {}", latest.version));
    report.line("");
    if let Some(folds) = metrics["folds"].as_u64() {
        report.line(format!(
            "Accuracy estimated by {folds}-fold cross-validation across calibration blocks; \
             the generic model is the shipped pre-trained one, scored on the same windows."
        ));
        report.line("");
    }
    if let Some(parity) = metrics["parity"]["agreement"].as_f64() {
        report.line(format!(
            "- int8 model agrees with the float model on {} of the calibration windows",
            percent(parity)
        ));
    }
    let blob = &metrics["blob"];
    if let (Some(bytes), Some(arena), Some(macs)) = (
        blob["bytes"].as_u64(),
        blob["arena"].as_u64(),
        blob["macs"].as_u64(),
    ) {
        report.line(format!(
            "- blob {bytes} B (budget {}), arena {arena} B (budget {}), {macs} MACs (budget {})",
            bandx_model::export::MAX_BLOB_BYTES,
            bandx_model::export::MAX_ARENA_BYTES,
            bandx_model::export::MAX_MACS
        ));
    }
    report.line(format!("- blob size stored: {} B", latest.blob.len()));
    if let Some(warnings) = metrics["warnings"].as_array() {
        for w in warnings.iter().filter_map(|w| w.as_str()) {
            report.line(format!("- warning: {}", md(w)));
        }
    }
    report.line("");

    match serde_json::from_value::<Confusion>(metrics["confusion"].clone()) {
        Ok(confusion) => {
            report.line("| class | recall (cross-validated) |");
            report.line("|---|---:|");
            for (i, class) in confusion.classes.iter().enumerate() {
                let row: u32 = confusion.counts.get(i).map_or(0, |r| r.iter().sum());
                let hits = confusion
                    .counts
                    .get(i)
                    .and_then(|r| r.get(i))
                    .copied()
                    .unwrap_or(0);
                report.line(format!(
                    "| {} | {} ({hits}/{row}) |",
                    md(class),
                    percent(f64::from(hits) / f64::from(row.max(1)))
                ));
            }
            report.line("");
            let svg = plots::confusion_matrix(
                &confusion.classes,
                &confusion.counts,
                &PlotOptions {
                    width: 600,
                    height: 600,
                    ..PlotOptions::default()
                },
            );
            report.plot(
                "confusion.svg",
                &format!("Confusion matrix of model version {}", latest.version),
                svg,
            )?;
        }
        Err(_) => {
            report.skip(&format!(
                "Model version {} has no confusion matrix in its metrics: plot skipped.",
                latest.version
            ));
            report.line("");
        }
    }
    Ok(())
}

fn generic_accuracy(metrics: &serde_json::Value) -> String {
    let generic = &metrics["generic"];
    match generic["status"].as_str() {
        Some("comparable") => generic["accuracy"].as_f64().map_or("n/a".into(), percent),
        Some("not_comparable") => "n/a (unknown classes)".into(),
        _ => "n/a".into(),
    }
}

fn deployments(
    store: &Store,
    profile: &Profile,
    models: &[Model],
    report: &mut Report,
) -> anyhow::Result<()> {
    report.line("## Deployments");
    report.line("");
    let all = store.deployments(profile.id)?;
    if all.is_empty() {
        report.skip("No model written to a band yet (`bandx deploy`).");
    } else {
        let versions: HashMap<_, _> = models.iter().map(|m| (m.id, m.version)).collect();
        report
            .line("| started | band | model | transport | status | bytes sent | resumed | error |");
        report.line("|---|---|---|---|---|---:|---:|---|");
        for d in &all {
            let band = store
                .band(d.band)
                .map_or_else(|_| d.band.to_string(), |b| b.name);
            let model = match d.model {
                Some(id) => versions
                    .get(&id)
                    .map_or("deleted".into(), |v| format!("v{v}")),
                None => "firmware".into(),
            };
            report.line(format!(
                "| {} | {} | {model} | {} | {} | {}/{} | {} | {} |",
                utc_time(d.started_at_ms),
                md(&band),
                d.transport.as_str(),
                d.status.as_str(),
                d.bytes_sent,
                d.bytes_total,
                d.resumed_count,
                md(d.error.as_deref().unwrap_or(""))
            ));
        }
    }
    report.line("");
    report.line(
        "Agreement between the band's predictions and shadow inference on the desktop: not stored \
         (`bandx live` shows it while running).",
    );
    report.line("");
    Ok(())
}

fn activity(
    store: &Store,
    profile: &Profile,
    classes: &[String],
    now: UnixMs,
    utc_offset_minutes: i32,
    report: &mut Report,
) -> anyhow::Result<()> {
    report.line("## Activity");
    report.line("");
    let latest: Option<UnixMs> = store
        .connection()
        .query_row(
            "SELECT MAX(t_ms) FROM predictions WHERE profile_id = ?1",
            [profile.id],
            |row| row.get(0),
        )
        .optional()?
        .flatten();
    let synced = store.merged_daily_minutes(profile.id, i64::MIN, i64::MAX, utc_offset_minutes)?;
    let Some(latest) = latest else {
        if synced.is_empty() {
            report.skip(
                "No predictions stored yet (`bandx live` records them, `bandx sync` copies the band's log): timeline and daily totals skipped.",
            );
            report.line("");
            return Ok(());
        }
        report.skip("No live predictions stored (`bandx live` records them): timeline skipped.");
        report.line("");
        return daily_section(store, profile, synced, classes, utc_offset_minutes, report);
    };

    // The last hour if the band was heard from in it, else the last hour that has predictions.
    let (end, title) = if latest >= now - HOUR_MS {
        (now, "last hour".to_string())
    } else {
        let end = latest + HOP_MS;
        (end, format!("last recorded hour, up to {}", utc_time(end)))
    };
    report.line(format!("### Timeline: {title}"));
    report.line("");
    let points = store.predictions_between(profile.id, end - HOUR_MS, end + 1)?;
    let mut per_class: Vec<(String, usize)> = Vec::new();
    for p in &points {
        match per_class.iter_mut().find(|(c, _)| *c == p.class) {
            Some((_, n)) => *n += 1,
            None => per_class.push((p.class.clone(), 1)),
        }
    }
    let summary: Vec<String> = per_class
        .iter()
        .map(|(c, n)| {
            format!(
                "{} {n} windows ({:.1} min)",
                md(c),
                *n as f64 * HOP_MS as f64 / 60_000.0
            )
        })
        .collect();
    report.line(format!(
        "{} predictions: {}.",
        points.len(),
        summary.join(", ")
    ));
    report.line("");
    let timeline: Vec<TimelinePoint> = points
        .iter()
        .map(|p| TimelinePoint {
            t_ms: p.t_ms,
            class: p.class.clone(),
        })
        .collect();
    let caption = format!("Activity, {title}");
    let svg = plots::activity_timeline(
        &timeline,
        classes,
        end,
        HOP_MS,
        &caption,
        &PlotOptions::default(),
    );
    report.plot("timeline.svg", &caption, svg)?;

    daily_section(store, profile, synced, classes, utc_offset_minutes, report)
}

/// Minutes per class per day, merged from live predictions and the band's synced log (a minute counted once).
fn daily_section(
    store: &Store,
    profile: &Profile,
    merged: Vec<bandx_desktop::store::DailyMinutes>,
    classes: &[String],
    utc_offset_minutes: i32,
    report: &mut Report,
) -> anyhow::Result<()> {
    // In windows of HOP_MS, the unit DailyBars counts in (a minute is 40 of them).
    let mut totals: Vec<bandx_desktop::store::DailyTotal> = merged
        .iter()
        .map(|m| bandx_desktop::store::DailyTotal {
            day: m.day,
            class: m.class.clone(),
            windows: ((m.synced + m.live) * 60_000.0 / HOP_MS as f64).round() as u64,
        })
        .collect();
    let mut days: Vec<Day> = totals.iter().map(|t| t.day).collect();
    days.dedup();
    if let Some(first_kept) = days.iter().rev().nth(MAX_DAYS - 1) {
        let first_kept = *first_kept;
        totals.retain(|t| t.day >= first_kept);
    }
    let bars = DailyBars::from_totals(&totals, classes, HOP_MS as f64 / 1000.0);
    report.line(format!(
        "### Daily totals (minutes, live and synced from the band's log, UTC{:+})",
        f64::from(utc_offset_minutes) / 60.0
    ));
    report.line("");
    let header: Vec<String> = bars.classes.iter().map(|c| md(c)).collect();
    report.line(format!("| day | {} |", header.join(" | ")));
    report.line(format!("|---|{}", "---:|".repeat(bars.classes.len())));
    for (day, row) in bars.days.iter().zip(&bars.minutes) {
        let cells: Vec<String> = row.iter().map(|m| format!("{m:.1}")).collect();
        report.line(format!("| {day} | {} |", cells.join(" | ")));
    }
    report.line("");
    let svg = plots::daily_totals(&bars, &PlotOptions::default());
    report.plot("daily.svg", "Minutes per class per day", svg)?;
    match days.last() {
        Some(&day) => day_section(store, profile, day, classes, utc_offset_minutes, report),
        None => Ok(()),
    }
}

/// The timeline of `day` from both sources, with its minutes per row and source.
fn day_section(
    store: &Store,
    profile: &Profile,
    day: Day,
    classes: &[String],
    utc_offset_minutes: i32,
    report: &mut Report,
) -> anyhow::Result<()> {
    let timeline = live::day_timeline(store, profile.id, day, utc_offset_minutes)?;
    report.line(format!(
        "### Day timeline: {day} (the latest day with activity, UTC{:+})",
        f64::from(utc_offset_minutes) / 60.0
    ));
    report.line("");
    report.line("| | from the band's log (min) | live (min) |");
    report.line("|---|---:|---:|");
    for (label, logged, live) in timeline.minutes() {
        report.line(format!("| {} | {logged:.1} | {live:.1} |", md(&label)));
    }
    report.line("");
    let caption = format!("Activity on {day}");
    let svg = plots::day_timeline(
        &timeline.plot_segments(),
        classes,
        &live::MUTED_ROWS,
        timeline.start_ms,
        &caption,
        &PlotOptions::default(),
    );
    report.plot("day.svg", &caption, svg)?;
    Ok(())
}

/// `2026-11-26 16:40 UTC`
fn utc_time(t_ms: UnixMs) -> String {
    let minute = t_ms.rem_euclid(86_400_000) / 60_000;
    format!(
        "{} {:02}:{:02} UTC",
        Day::of(t_ms, 0),
        minute / 60,
        minute % 60
    )
}

fn percent(x: f64) -> String {
    format!("{:.1} %", x * 100.0)
}

/// A name safe in a file name: lowercase ASCII letters and digits, other runs as one `-`.
fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out: String = out.trim_matches('-').chars().take(32).collect();
    if out.is_empty() { "class".into() } else { out }
}

/// Text a user chose (class names, ...) as literal Markdown.
fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '#' | '|' | '<' | '>' | '!'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
