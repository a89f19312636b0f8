//! The 128x64 SSD1306 OLED: the activity the band recognises and its confidence, or what the band is doing when
//! it is not classifying, and the battery charge; "pair" in the top line while pairing mode is open, and the
//! six-digit passkey over everything while a pairing waits for the desktop (issue 17).

use core::fmt::Write;

use embedded_graphics::mono_font::MonoTextStyle;
use embedded_graphics::mono_font::ascii::{FONT_6X10, FONT_10X20};
use embedded_graphics::pixelcolor::BinaryColor;
use embedded_graphics::prelude::*;
use embedded_graphics::text::{Baseline, Text};
use embedded_hal::i2c::I2c;
use ssd1306::mode::BufferedGraphicsMode;
use ssd1306::prelude::*;
use ssd1306::{I2CDisplayInterface, Ssd1306};

/// What the screen shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screen {
    /// The activity's label, or a status word.
    pub headline: heapless::String<24>,
    /// Confidence of the activity, per mille.
    pub confidence_permille: Option<u16>,
    pub battery_percent: u8,
}

/// What pairing puts on the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pairing {
    #[default]
    Closed,
    /// Pairing mode is open: a marker in the top line.
    Open,
    /// A pairing waits for this code: it replaces the screen.
    Passkey(u32),
}

/// The OLED; drawing errors (no display wired) are ignored: the band works without it.
pub struct Display<I: I2c> {
    oled: Ssd1306<I2CInterface<I>, DisplaySize128x64, BufferedGraphicsMode<DisplaySize128x64>>,
    screen: Screen,
    pairing: Pairing,
    /// What the OLED shows, once a flush succeeded.
    shown: Option<(Screen, Pairing)>,
}

impl<I: I2c> Display<I> {
    pub fn new(i2c: I) -> Self {
        let mut oled = Ssd1306::new(
            I2CDisplayInterface::new(i2c),
            DisplaySize128x64,
            DisplayRotation::Rotate0,
        )
        .into_buffered_graphics_mode();
        if oled.init().is_err() {
            log::warn!("no SSD1306 answers on I2C");
        }
        Display {
            oled,
            screen: Screen {
                headline: heapless::String::new(),
                confidence_permille: None,
                battery_percent: 0,
            },
            pairing: Pairing::Closed,
            shown: None,
        }
    }

    /// Shows `screen` (under the passkey while one is shown).
    pub fn show(&mut self, screen: Screen) {
        self.screen = screen;
        self.draw();
    }

    /// Shows what pairing is doing.
    pub fn set_pairing(&mut self, pairing: Pairing) {
        self.pairing = pairing;
        self.draw();
    }

    /// Draws the screen and the pairing state if they differ from what is shown.
    fn draw(&mut self) {
        if self
            .shown
            .as_ref()
            .is_some_and(|(s, p)| *s == self.screen && *p == self.pairing)
        {
            return;
        }
        let small = MonoTextStyle::new(&FONT_6X10, BinaryColor::On);
        let large = MonoTextStyle::new(&FONT_10X20, BinaryColor::On);
        self.oled.clear_buffer();
        let mut line: heapless::String<24> = heapless::String::new();
        let screen = &self.screen;
        match self.pairing {
            Pairing::Passkey(code) => {
                let _ = Text::with_baseline(
                    "BandX  pairing code",
                    Point::new(0, 0),
                    small,
                    Baseline::Top,
                )
                .draw(&mut self.oled);
                let _ = write!(line, "{:06}", code % 1_000_000);
                // Six 10-px digits, centred.
                let _ = Text::with_baseline(&line, Point::new(34, 20), large, Baseline::Top)
                    .draw(&mut self.oled);
                let _ = Text::with_baseline(
                    "type on your desktop",
                    Point::new(0, 50),
                    small,
                    Baseline::Top,
                )
                .draw(&mut self.oled);
            }
            Pairing::Open | Pairing::Closed => {
                let mark = if self.pairing == Pairing::Open {
                    "pair "
                } else {
                    ""
                };
                let _ = write!(line, "BandX {mark} bat {:>3} %", screen.battery_percent);
                let _ = Text::with_baseline(&line, Point::new(0, 0), small, Baseline::Top)
                    .draw(&mut self.oled);
                let _ =
                    Text::with_baseline(&screen.headline, Point::new(0, 20), large, Baseline::Top)
                        .draw(&mut self.oled);
                if let Some(c) = screen.confidence_permille {
                    line.clear();
                    let _ = write!(line, "confidence {}.{} %", c / 10, c % 10);
                    let _ = Text::with_baseline(&line, Point::new(0, 50), small, Baseline::Top)
                        .draw(&mut self.oled);
                }
            }
        }
        if self.oled.flush().is_ok() {
            self.shown = Some((self.screen.clone(), self.pairing));
        }
    }
}
