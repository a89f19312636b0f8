//! Daily totals: minutes per class per day, as grouped bars (one group per day, one bar per class).

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{FONT, PlotError, PlotOptions, palette, render};
use crate::store::DailyTotal;

/// What the daily-totals plot shows: `minutes[day][class]`.
#[derive(Debug, Clone, PartialEq)]
pub struct DailyBars {
    pub days: Vec<String>,
    pub classes: Vec<String>,
    pub minutes: Vec<Vec<f64>>,
}

impl DailyBars {
    /// Builds the grid from the store's per-day counts; each window stands for `seconds_per_window` seconds
    /// (the window hop). Classes in `classes` come first, in that order; others follow as they appear.
    pub fn from_totals(totals: &[DailyTotal], classes: &[String], seconds_per_window: f64) -> Self {
        let mut days: Vec<_> = totals.iter().map(|t| t.day).collect();
        days.dedup();
        let mut names = classes.to_vec();
        for t in totals {
            if !names.contains(&t.class) {
                names.push(t.class.clone());
            }
        }
        let mut minutes = vec![vec![0.0; names.len()]; days.len()];
        for t in totals {
            let d = days.iter().position(|&d| d == t.day).unwrap_or(0);
            let c = names.iter().position(|n| *n == t.class).unwrap_or(0);
            minutes[d][c] += t.windows as f64 * seconds_per_window / 60.0;
        }
        DailyBars {
            days: days.iter().map(|d| d.to_string()).collect(),
            classes: names,
            minutes,
        }
    }
}

/// Draws a bar for every class with a nonzero total on a day, with a legend of the classes.
pub fn daily_totals(bars: &DailyBars, options: &PlotOptions) -> Result<String, PlotError> {
    let (days, classes) = (bars.days.len(), bars.classes.len());
    if classes == 0 {
        return Err(PlotError::Invalid("no classes to plot".into()));
    }
    if bars.minutes.len() != days || bars.minutes.iter().any(|row| row.len() != classes) {
        return Err(PlotError::Invalid(format!(
            "minutes must be {days} days x {classes} classes"
        )));
    }
    if bars
        .minutes
        .iter()
        .flatten()
        .any(|m| !m.is_finite() || *m < 0.0)
    {
        return Err(PlotError::Invalid(
            "minutes must be finite and not negative".into(),
        ));
    }
    let top = bars.minutes.iter().flatten().fold(0.0f64, |a, &b| a.max(b));
    let y_max = if top > 0.0 { top * 1.15 } else { 1.0 };
    let fg = options.theme.foreground();
    let day_labels = bars.days.clone();

    render(options, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption("Minutes per day", (FONT, 16).into_font().color(&fg))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(48)
            .build_cartesian_2d(0.0..days.max(1) as f64, 0.0..y_max)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(days.max(1) * 2 + 1)
            .x_label_formatter(&|x| {
                let k = x.floor();
                if (x - k - 0.5).abs() < 1e-6 && (k as usize) < day_labels.len() {
                    day_labels[k as usize].clone()
                } else {
                    String::new()
                }
            })
            .y_desc("minutes")
            .label_style((FONT, 12).into_font().color(&fg))
            .axis_style(fg)
            .light_line_style(fg.mix(0.06))
            .bold_line_style(fg.mix(0.15))
            .draw()?;
        let width = 0.8 / classes as f64;
        for (d, row) in bars.minutes.iter().enumerate() {
            for (c, &m) in row.iter().enumerate() {
                if m <= 0.0 {
                    continue;
                }
                let x0 = d as f64 + 0.1 + c as f64 * width;
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(x0, 0.0), (x0 + width * 0.9, m)],
                    palette::class_color(c).filled(),
                )))?;
            }
        }
        // Legend: a round swatch (not a rectangle, so only bars are rectangles) and the name, top right.
        let (w, _) = root.dim_in_pixel();
        let font = (FONT, 12).into_font().color(&fg);
        for (c, name) in bars.classes.iter().enumerate() {
            let y = 40 + c as i32 * 18;
            let x = w as i32 - 150;
            root.draw(&Circle::new((x, y), 5, palette::class_color(c).filled()))?;
            root.draw(&Text::new(
                name.as_str(),
                (x + 10, y),
                font.pos(Pos::new(HPos::Left, VPos::Center)),
            ))?;
        }
        Ok(())
    })
}
