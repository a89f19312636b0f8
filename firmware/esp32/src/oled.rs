//! The ESP32 band's OLED (SSD1306 128x64 at 0x3C, on the IMU's I2C bus), used to show the pairing code: the
//! same layout as the ESP32-C3 firmware's pairing screen (`../esp32c3/src/display.rs`), with the same crates
//! (ssd1306 0.10, embedded-graphics 0.8). Drawing errors (no display wired) are logged and ignored.
//! Not compiled here (see `pairing.rs`): `&mut I2cDriver` is an embedded-hal 1.0 `I2c` (esp-idf-hal implements
//! it for `I2cDriver`, embedded-hal for `&mut T`), which is all ssd1306's `I2CDisplayInterface` needs.

use embedded_graphics::mono_font::ascii::{FONT_10X20, FONT_6X10};
use embedded_graphics::mono_font::MonoTextStyle;
use embedded_graphics::pixelcolor::BinaryColor;
use embedded_graphics::prelude::*;
use embedded_graphics::text::{Baseline, Text};
use esp_idf_svc::hal::i2c::I2cDriver;
use ssd1306::prelude::*;
use ssd1306::{I2CDisplayInterface, Ssd1306};

/// Shows `code` as six digits, or clears the screen (`None`).
pub fn show_passkey(i2c: &mut I2cDriver<'static>, code: Option<u32>) {
    let mut oled = Ssd1306::new(I2CDisplayInterface::new(i2c), DisplaySize128x64, DisplayRotation::Rotate0)
        .into_buffered_graphics_mode();
    if oled.init().is_err() {
        log::warn!("no SSD1306 answers on I2C: the pairing code cannot be shown");
        return;
    }
    oled.clear_buffer();
    if let Some(code) = code {
        let small = MonoTextStyle::new(&FONT_6X10, BinaryColor::On);
        let large = MonoTextStyle::new(&FONT_10X20, BinaryColor::On);
        let digits = format!("{:06}", code % 1_000_000);
        let _ = Text::with_baseline("BandX  pairing code", Point::new(0, 0), small, Baseline::Top).draw(&mut oled);
        let _ = Text::with_baseline(&digits, Point::new(34, 20), large, Baseline::Top).draw(&mut oled);
        let _ = Text::with_baseline("type on your desktop", Point::new(0, 50), small, Baseline::Top).draw(&mut oled);
    }
    let _ = oled.flush();
}
