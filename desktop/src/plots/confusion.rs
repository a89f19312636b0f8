//! Confusion matrix: rows are the true classes, columns the predicted ones; each cell shows its count and is
//! shaded by its share of the row (so a rarely recorded class reads as clearly as a frequent one).

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{FONT, PlotError, PlotOptions, palette, render};

/// Draws the matrix `counts[true][predicted]` with `labels` on both axes.
pub fn confusion_matrix(
    labels: &[String],
    counts: &[Vec<u32>],
    options: &PlotOptions,
) -> Result<String, PlotError> {
    let n = labels.len();
    if n == 0 {
        return Err(PlotError::Invalid(
            "a confusion matrix needs at least one class".into(),
        ));
    }
    if counts.len() != n || counts.iter().any(|row| row.len() != n) {
        return Err(PlotError::Invalid(format!(
            "counts must be {n} x {n}, one row and column per label"
        )));
    }
    let fg = options.theme.foreground();
    render(options, |root| {
        let (w, h) = root.dim_in_pixel();
        let (w, h) = (w as i32, h as i32);
        // Room for the row labels on the left, the column labels and title on top.
        let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(1) as i32;
        let left = (longest * 7 + 40).clamp(80, w / 3);
        let top = 60;
        let cell = ((w - left - 16) / n as i32)
            .min((h - top - 16) / n as i32)
            .max(4);
        let label_font = (FONT, 13).into_font().color(&fg);

        root.draw(&Text::new(
            "Predicted →",
            (left + cell * n as i32 / 2, 14),
            label_font.pos(Pos::new(HPos::Center, VPos::Center)),
        ))?;
        root.draw(&Text::new(
            "True ↓",
            (8, top - 14),
            label_font.pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
        for (i, label) in labels.iter().enumerate() {
            let centre = i as i32 * cell + cell / 2;
            root.draw(&Text::new(
                label.as_str(),
                (left - 8, top + centre),
                label_font.pos(Pos::new(HPos::Right, VPos::Center)),
            ))?;
            root.draw(&Text::new(
                label.as_str(),
                (left + centre, top - 14),
                label_font.pos(Pos::new(HPos::Center, VPos::Center)),
            ))?;
        }
        for (r, row) in counts.iter().enumerate() {
            let total: u64 = row.iter().map(|&c| u64::from(c)).sum();
            for (c, &count) in row.iter().enumerate() {
                let fraction = if total == 0 {
                    0.0
                } else {
                    f64::from(count) / total as f64
                };
                let (x, y) = (left + c as i32 * cell, top + r as i32 * cell);
                root.draw(&Rectangle::new(
                    [(x, y), (x + cell - 2, y + cell - 2)],
                    palette::cell_shade(fraction).filled(),
                ))?;
                let text_color = if fraction > 0.5 {
                    WHITE
                } else {
                    RGBColor(0x22, 0x22, 0x22)
                };
                root.draw(&Text::new(
                    count.to_string(),
                    (x + cell / 2 - 1, y + cell / 2 - 1),
                    (FONT, 14)
                        .into_font()
                        .color(&text_color)
                        .pos(Pos::new(HPos::Center, VPos::Center)),
                ))?;
            }
        }
        Ok(())
    })
}
