//! SVG plots of an evaluation: the learning curve and confusion matrices (plotters).

use std::path::Path;

use plotters::prelude::*;

use crate::error::{ModelError, Result};
use crate::evaluate::{Confusion, Report};

fn plot_err(path: &Path, e: impl std::fmt::Display) -> ModelError {
    ModelError::InvalidInput(format!("cannot draw {}: {e}", path.display()))
}

const PALETTE: [RGBColor; 4] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
];

pub fn learning_curve_svg(report: &Report, path: &Path) -> Result<()> {
    let root = SVGBackend::new(path, (720, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| plot_err(path, e))?;
    let k_max = report
        .methods
        .values()
        .flat_map(|m| m.learning_curve.iter().map(|c| c.windows_per_class))
        .max()
        .unwrap_or(1) as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("PS(PM) learning curve, {}", report.dataset),
            ("sans-serif", 22),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..k_max + 1.0, 0f64..1f64)
        .map_err(|e| plot_err(path, e))?;
    chart
        .configure_mesh()
        .x_desc("calibration windows per class")
        .y_desc("accuracy")
        .draw()
        .map_err(|e| plot_err(path, e))?;
    for (i, (name, m)) in report.methods.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let points: Vec<(f64, f64)> = m
            .learning_curve
            .iter()
            .map(|c| (c.windows_per_class as f64, c.accuracy.mean))
            .collect();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
            .map_err(|e| plot_err(path, e))?
            .label(name.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart
            .draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))
            .map_err(|e| plot_err(path, e))?;
    }
    if let Some(p) = &report.paper {
        let paper = [(0.0, p.ps_pm), (k_max + 1.0, p.ps_pm)];
        chart
            .draw_series(LineSeries::new(paper, BLACK.stroke_width(1)))
            .map_err(|e| plot_err(path, e))?
            .label("paper PS(PM), K=15")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| plot_err(path, e))?;
    root.present().map_err(|e| plot_err(path, e))
}

/// Row-normalized confusion matrix (rows: true class, columns: predicted).
pub fn confusion_svg(conf: &Confusion, title: &str, path: &Path) -> Result<()> {
    let n = conf.labels.len().max(1);
    let cell = 28i32;
    let left = 110i32;
    let top = 50i32;
    let size = (
        left as u32 + cell as u32 * n as u32 + 20,
        top as u32 + cell as u32 * n as u32 + 110,
    );
    let root = SVGBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE).map_err(|e| plot_err(path, e))?;
    root.draw(&Text::new(title.to_string(), (10, 10), ("sans-serif", 18)))
        .map_err(|e| plot_err(path, e))?;
    for (t, row) in conf.counts.iter().enumerate() {
        let total: u64 = row.iter().sum::<u64>().max(1);
        for (p, &c) in row.iter().enumerate() {
            let v = c as f64 / total as f64;
            let shade = (255.0 * (1.0 - v)) as u8;
            let x = left + p as i32 * cell;
            let y = top + t as i32 * cell;
            root.draw(&Rectangle::new(
                [(x, y), (x + cell, y + cell)],
                RGBColor(shade, shade, 255).filled(),
            ))
            .map_err(|e| plot_err(path, e))?;
            if c > 0 {
                let color = if v > 0.5 { WHITE } else { BLACK };
                root.draw(&Text::new(
                    format!("{:.0}", v * 100.0),
                    (x + 4, y + 8),
                    ("sans-serif", 11).into_font().color(&color),
                ))
                .map_err(|e| plot_err(path, e))?;
            }
        }
        root.draw(&Text::new(
            conf.labels[t].clone(),
            (4, top + t as i32 * cell + 8),
            ("sans-serif", 12),
        ))
        .map_err(|e| plot_err(path, e))?;
    }
    for (p, l) in conf.labels.iter().enumerate() {
        let x = left + p as i32 * cell + 8;
        let y = top + n as i32 * cell + 6;
        root.draw(&Text::new(
            l.clone(),
            (x, y),
            ("sans-serif", 12)
                .into_font()
                .transform(FontTransform::Rotate90),
        ))
        .map_err(|e| plot_err(path, e))?;
    }
    root.present().map_err(|e| plot_err(path, e))
}
