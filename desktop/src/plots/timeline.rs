//! Activity timelines, one row per class: what the band reported over the last hour, and one day of the
//! merged history.

use plotters::prelude::*;

use super::{FONT, PlotError, PlotOptions, palette, render};

/// One prediction on the timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelinePoint {
    pub t_ms: i64,
    pub class: String,
}

/// A stretch of time with one class: consecutive predictions of that class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub class: String,
    pub start_ms: i64,
    pub end_ms: i64,
}

const HOUR_MS: i64 = 3_600_000;

/// Merges time-sorted predictions into segments. Each prediction covers `hop_ms` from its timestamp; a
/// segment ends when the class changes or when no prediction came for more than two hops (link lost).
pub fn timeline_segments(points: &[TimelinePoint], hop_ms: i64) -> Vec<Segment> {
    let mut segments: Vec<Segment> = Vec::new();
    for p in points {
        match segments.last_mut() {
            Some(s)
                if s.class == p.class
                    && p.t_ms >= s.end_ms - hop_ms
                    && p.t_ms - (s.end_ms - hop_ms) <= 2 * hop_ms =>
            {
                s.end_ms = s.end_ms.max(p.t_ms + hop_ms);
            }
            _ => segments.push(Segment {
                class: p.class.clone(),
                start_ms: p.t_ms,
                end_ms: p.t_ms + hop_ms,
            }),
        }
    }
    segments
}

/// Draws the hour before `now_ms` under `title` (e.g. "Last hour"): a row per class in `classes` (classes seen in `points` but not listed get
/// rows after them), a bar for each [`Segment`]. `points` must be sorted by time; older ones are left out.
pub fn activity_timeline(
    points: &[TimelinePoint],
    classes: &[String],
    now_ms: i64,
    hop_ms: i64,
    title: &str,
    options: &PlotOptions,
) -> Result<String, PlotError> {
    if hop_ms <= 0 {
        return Err(PlotError::Invalid(format!("window hop {hop_ms} ms")));
    }
    if points.windows(2).any(|w| w[0].t_ms > w[1].t_ms) {
        return Err(PlotError::Invalid(
            "timeline points must be sorted by time".into(),
        ));
    }
    let start_ms = now_ms - HOUR_MS;
    let recent: Vec<TimelinePoint> = points
        .iter()
        .filter(|p| p.t_ms >= start_ms && p.t_ms <= now_ms)
        .cloned()
        .collect();
    let mut rows: Vec<String> = classes.to_vec();
    for p in &recent {
        if !rows.contains(&p.class) {
            rows.push(p.class.clone());
        }
    }
    let segments = timeline_segments(&recent, hop_ms);
    let axis = Axis {
        range: (-60.0, 0.0),
        desc: "minutes ago",
        labels: 7,
        label: &|m: &f64| {
            if *m > -0.5 {
                "now".into()
            } else {
                format!("{:.0}", -m)
            }
        },
        at: &|t: i64| (t - now_ms) as f64 / 60_000.0,
    };
    draw_rows(&segments, &rows, &[], &axis, title, options)
}

/// Draws one local day under `title`: hours 0-24 from `day_start_ms` (local midnight), a row per class in
/// `classes` (classes seen in `segments` but not listed follow), then the rows in `muted` that occur (states that
/// are not an activity, e.g. "not worn"), drawn grey.
pub fn day_timeline(
    segments: &[Segment],
    classes: &[String],
    muted: &[&str],
    day_start_ms: i64,
    title: &str,
    options: &PlotOptions,
) -> Result<String, PlotError> {
    if segments.iter().any(|s| s.end_ms < s.start_ms) {
        return Err(PlotError::Invalid(
            "a timeline segment ends before it starts".into(),
        ));
    }
    let mut rows: Vec<String> = classes.to_vec();
    for s in segments {
        if !rows.contains(&s.class) && !muted.contains(&s.class.as_str()) {
            rows.push(s.class.clone());
        }
    }
    for m in muted {
        if segments.iter().any(|s| s.class == *m) {
            rows.push((*m).to_string());
        }
    }
    let axis = Axis {
        range: (0.0, 24.0),
        desc: "hour of the day",
        labels: 9,
        label: &|h: &f64| format!("{:02}:00", h.round() as i64),
        at: &|t: i64| (t - day_start_ms) as f64 / 3_600_000.0,
    };
    draw_rows(segments, &rows, muted, &axis, title, options)
}

/// The time axis of a row chart: its range, description, label count and format, and where a time falls on it.
struct Axis<'a> {
    range: (f64, f64),
    desc: &'a str,
    labels: usize,
    label: &'a dyn Fn(&f64) -> String,
    at: &'a dyn Fn(i64) -> f64,
}

/// A bar per segment in its row (rows top to bottom in `rows` order); rows named in `muted` are grey.
fn draw_rows(
    segments: &[Segment],
    rows: &[String],
    muted: &[&str],
    axis: &Axis<'_>,
    title: &str,
    options: &PlotOptions,
) -> Result<String, PlotError> {
    let fg = options.theme.foreground();
    let row_count = rows.len().max(1);
    let (lo, hi) = axis.range;

    render(options, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 16).into_font().color(&fg))
            .margin(10)
            .x_label_area_size(28)
            .y_label_area_size(110)
            .build_cartesian_2d(lo..hi, 0.0..row_count as f64)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .x_desc(axis.desc)
            .x_labels(axis.labels)
            .x_label_formatter(axis.label)
            .y_labels(row_count * 2 + 1)
            .y_label_formatter(&|y| {
                // Label only the row centres (k + 0.5).
                let k = y.floor();
                if (y - k - 0.5).abs() < 1e-6 && (k as usize) < rows.len() {
                    rows[row_count - 1 - k as usize].clone()
                } else {
                    String::new()
                }
            })
            .label_style((FONT, 12).into_font().color(&fg))
            .axis_style(fg)
            .light_line_style(fg.mix(0.06))
            .bold_line_style(fg.mix(0.15))
            .draw()?;
        let x = |t: i64| (axis.at)(t).clamp(lo, hi);
        // A stretch shorter than a pixel or two (a minute on a day's axis) still shows.
        let min_width = (hi - lo) / 400.0;
        for seg in segments {
            let row = rows.iter().position(|c| *c == seg.class).unwrap_or(0);
            let y = (row_count - 1 - row) as f64;
            let color = if muted.contains(&seg.class.as_str()) {
                palette::MUTED
            } else {
                palette::class_color(row)
            };
            let end = x(seg.end_ms).max(x(seg.start_ms) + min_width).min(hi);
            let start = x(seg.start_ms).min(end - min_width);
            chart.draw_series(std::iter::once(Rectangle::new(
                [(start, y + 0.15), (end, y + 0.85)],
                color.filled(),
            )))?;
        }
        Ok(())
    })
}
