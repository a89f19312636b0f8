//! SVG plots for the UI and for `bandx report`, drawn with plotters' SVG backend into a `String`.
//!
//! Text is written as SVG `<text>` elements and laid out with plotters' built-in size estimate (no `ttf` /
//! `ab_glyph` feature), so rendering needs no system fonts: the viewer (the web view, a browser) picks the font.
//!
//! Colors come from [`palette`]: one color per class (same class, same color in every plot) and a shade scale
//! for the confusion matrix.

mod confusion;
mod daily;
pub mod palette;
mod signal;
mod timeline;

pub use confusion::confusion_matrix;
pub use daily::{DailyBars, daily_totals};
pub use signal::{WindowSpan, signal_preview};
pub use timeline::{Segment, TimelinePoint, activity_timeline, day_timeline, timeline_segments};

use plotters::prelude::*;

/// An error while drawing a plot.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error("cannot plot: {0}")]
    Invalid(String),
    #[error("drawing failed: {0}")]
    Drawing(String),
}

impl<E: std::error::Error + Send + Sync> From<DrawingAreaErrorKind<E>> for PlotError {
    fn from(e: DrawingAreaErrorKind<E>) -> Self {
        PlotError::Drawing(e.to_string())
    }
}

/// Light or dark background (the UI has both themes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Theme {
    #[default]
    Light,
    Dark,
}

impl Theme {
    pub(crate) fn background(self) -> RGBColor {
        match self {
            Theme::Light => WHITE,
            Theme::Dark => RGBColor(0x1E, 0x1E, 0x24),
        }
    }

    pub(crate) fn foreground(self) -> RGBColor {
        match self {
            Theme::Light => RGBColor(0x22, 0x22, 0x22),
            Theme::Dark => RGBColor(0xE6, 0xE6, 0xE6),
        }
    }
}

/// Size (pixels; SVG scales anyway) and theme of a plot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlotOptions {
    pub width: u32,
    pub height: u32,
    pub theme: Theme,
}

impl Default for PlotOptions {
    fn default() -> Self {
        Self {
            width: 800,
            height: 400,
            theme: Theme::Light,
        }
    }
}

pub(crate) const FONT: &str = "sans-serif";

/// Runs `draw` on an SVG drawing area of the given size and returns the finished SVG document.
pub(crate) fn render(
    options: &PlotOptions,
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, plotters::coord::Shift>) -> Result<(), PlotError>,
) -> Result<String, PlotError> {
    if options.width < 100 || options.height < 100 {
        return Err(PlotError::Invalid(format!(
            "{}x{} is too small for a plot (at least 100x100)",
            options.width, options.height
        )));
    }
    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (options.width, options.height)).into_drawing_area();
        root.fill(&options.theme.background())?;
        draw(&root)?;
        root.present()?;
    }
    Ok(svg)
}
