//! The plots' colors, public so the UI can match them (and tests can find the shapes they fill).

use plotters::style::RGBColor;

/// Colors for classes, in class order (Okabe-Ito, readable with color-vision deficiencies), then repeated.
const CLASS_COLORS: [RGBColor; 8] = [
    RGBColor(0x00, 0x72, 0xB2),
    RGBColor(0xE6, 0x9F, 0x00),
    RGBColor(0x00, 0x9E, 0x73),
    RGBColor(0xCC, 0x79, 0xA7),
    RGBColor(0x56, 0xB4, 0xE9),
    RGBColor(0xD5, 0x5E, 0x00),
    RGBColor(0xF0, 0xE4, 0x42),
    RGBColor(0x59, 0x59, 0x59),
];

/// Rows that are not an activity ("not worn", "no model").
pub const MUTED: RGBColor = RGBColor(0xB0, 0xB0, 0xB0);

/// The color of the `index`-th class.
pub fn class_color(index: usize) -> RGBColor {
    CLASS_COLORS[index % CLASS_COLORS.len()]
}

/// The six IMU axes: ax, ay, az, gx, gy, gz.
pub fn axis_color(axis: usize) -> RGBColor {
    [
        RGBColor(0xD6, 0x27, 0x28),
        RGBColor(0x2C, 0xA0, 0x2C),
        RGBColor(0x1F, 0x77, 0xB4),
        RGBColor(0xD6, 0x27, 0x28),
        RGBColor(0x2C, 0xA0, 0x2C),
        RGBColor(0x1F, 0x77, 0xB4),
    ][axis % 6]
}

const SHADE_LOW: (f64, f64, f64) = (0xEE as f64, 0xF2 as f64, 0xF8 as f64);
const SHADE_HIGH: (f64, f64, f64) = (0x1F as f64, 0x4E as f64, 0x99 as f64);

/// Confusion-matrix cell shade for a row-normalized `fraction` in [0, 1] (clamped): pale to deep blue.
pub fn cell_shade(fraction: f64) -> RGBColor {
    let f = if fraction.is_finite() {
        fraction.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let mix = |lo: f64, hi: f64| (lo + (hi - lo) * f).round() as u8;
    RGBColor(
        mix(SHADE_LOW.0, SHADE_HIGH.0),
        mix(SHADE_LOW.1, SHADE_HIGH.1),
        mix(SHADE_LOW.2, SHADE_HIGH.2),
    )
}

/// The `#RRGGBB` form plotters writes into the SVG `fill` attribute.
pub fn hex(color: RGBColor) -> String {
    format!("#{:02X}{:02X}{:02X}", color.0, color.1, color.2)
}
