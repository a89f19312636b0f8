//! Battery charge from the cell voltage: ADC1 on GPIO3 behind a 1:2 divider (100 kΩ / 100 kΩ), 11 dB attenuation.
//! A single-cell LiPo is read as 0 % at 3.30 V and 100 % at 4.20 V, linear in between: a rough gauge, not a fuel
//! gauge.

use esp_hal::Blocking;
use esp_hal::analog::adc::{Adc, AdcConfig, AdcPin, Attenuation};
use esp_hal::peripherals::{ADC1, GPIO3};

const EMPTY_MV: u32 = 3300;
const FULL_MV: u32 = 4200;
/// Full-scale input of the C3's ADC at 11 dB attenuation, in mV, for the 12-bit raw value 4095.
const ADC_FULL_SCALE_MV: u32 = 2500;

pub struct Battery {
    adc: Adc<'static, ADC1<'static>, Blocking>,
    pin: AdcPin<GPIO3<'static>, ADC1<'static>>,
}

impl Battery {
    pub fn new(adc: ADC1<'static>, pin: GPIO3<'static>) -> Self {
        let mut config = AdcConfig::new();
        let pin = config.enable_pin(pin, Attenuation::_11dB);
        Battery {
            adc: Adc::new(adc, config),
            pin,
        }
    }

    /// The cell voltage in mV, if the ADC answered.
    pub fn millivolts(&mut self) -> Option<u32> {
        let raw = nb::block!(self.adc.read_oneshot(&mut self.pin)).ok()?;
        Some(u32::from(raw) * ADC_FULL_SCALE_MV / 4095 * 2)
    }

    /// Charge, 0..=100 %.
    pub fn percent(&mut self) -> u8 {
        percent_of(self.millivolts().unwrap_or(0))
    }
}

/// 0 % at [`EMPTY_MV`], 100 % at [`FULL_MV`], linear between.
fn percent_of(mv: u32) -> u8 {
    ((mv.clamp(EMPTY_MV, FULL_MV) - EMPTY_MV) * 100 / (FULL_MV - EMPTY_MV)) as u8
}
