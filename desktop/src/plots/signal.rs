//! Calibration signal preview: the six IMU axes over time (acceleration above, rotation below), with the
//! calibration windows shaded (good green, rejected red).

use plotters::prelude::*;

use super::{FONT, PlotError, PlotOptions, palette, render};

/// A calibration window to shade over the signal, in sample indices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowSpan {
    pub start_index: usize,
    pub len: usize,
    pub good: bool,
}

const AXES: [&str; 6] = ["ax", "ay", "az", "gx", "gy", "gz"];

/// Plots `samples` (ax, ay, az in m/s^2; gx, gy, gz in rad/s — already converted to SI by bandx-core)
/// recorded at `sample_rate_hz`, with `windows` shaded.
pub fn signal_preview(
    samples: &[[f32; 6]],
    sample_rate_hz: f32,
    windows: &[WindowSpan],
    options: &PlotOptions,
) -> Result<String, PlotError> {
    if !(sample_rate_hz.is_finite() && sample_rate_hz > 0.0) {
        return Err(PlotError::Invalid(format!(
            "sample rate {sample_rate_hz} Hz"
        )));
    }
    if samples.iter().flatten().any(|v| !v.is_finite()) {
        return Err(PlotError::Invalid(
            "the signal has a NaN or infinite value".into(),
        ));
    }
    let dt = 1.0 / f64::from(sample_rate_hz);
    let duration = (samples.len().max(2) - 1) as f64 * dt;
    let fg = options.theme.foreground();

    render(options, |root| {
        let panels = root.split_evenly((2, 1));
        for (panel, (title, axes)) in panels
            .iter()
            .zip([("Acceleration (m/s²)", 0..3), ("Rotation (rad/s)", 3..6)])
        {
            let (lo, hi) = value_range(samples, axes.clone());
            let mut chart = ChartBuilder::on(panel)
                .caption(title, (FONT, 16).into_font().color(&fg))
                .margin(8)
                .x_label_area_size(28)
                .y_label_area_size(48)
                .build_cartesian_2d(0.0..duration.max(dt), lo..hi)?;
            chart
                .configure_mesh()
                .x_desc("time (s)")
                .label_style((FONT, 12).into_font().color(&fg))
                .axis_style(fg)
                .light_line_style(fg.mix(0.08))
                .bold_line_style(fg.mix(0.2))
                .draw()?;
            for w in windows {
                let x0 = w.start_index as f64 * dt;
                let x1 = (w.start_index + w.len.saturating_sub(1)) as f64 * dt;
                let color = if w.good {
                    RGBColor(0x2C, 0xA0, 0x2C)
                } else {
                    RGBColor(0xD6, 0x27, 0x28)
                };
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(x0, lo), (x1, hi)],
                    color.mix(0.12).filled(),
                )))?;
            }
            for axis in axes {
                let color = palette::axis_color(axis);
                chart
                    .draw_series(LineSeries::new(
                        samples
                            .iter()
                            .enumerate()
                            .map(|(i, s)| (i as f64 * dt, f64::from(s[axis]))),
                        color.stroke_width(1),
                    ))?
                    .label(AXES[axis])
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
                    });
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .label_font((FONT, 12).into_font().color(&fg))
                .background_style(options.theme.background().mix(0.8))
                .border_style(fg.mix(0.4))
                .draw()?;
        }
        Ok(())
    })
}

/// A padded value range covering `axes` of all samples (±1 when there is no signal).
fn value_range(samples: &[[f32; 6]], axes: std::ops::Range<usize>) -> (f64, f64) {
    let values = samples
        .iter()
        .flat_map(|s| s[axes.clone()].iter().map(|v| f64::from(*v)));
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !lo.is_finite() || hi - lo < 1e-6 {
        let mid = if lo.is_finite() { (lo + hi) / 2.0 } else { 0.0 };
        return (mid - 1.0, mid + 1.0);
    }
    let pad = (hi - lo) * 0.05;
    (lo - pad, hi + pad)
}
