//! Raw 6-axis IMU samples and their full-scale settings; the one place raw counts become SI units.

use serde::{Deserialize, Serialize};

use crate::CHANNELS;

/// Standard gravity, m/s² per g.
pub const STANDARD_GRAVITY: f32 = 9.806_65;

/// One raw reading: accelerometer then gyroscope counts, x, y, z (signed 16-bit, full scale = ±32768).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RawSample {
    pub accel: [i16; 3],
    pub gyro: [i16; 3],
}

/// Accelerometer full scale (±g).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[repr(u8)]
pub enum AccelRange {
    G2 = 0,
    G4 = 1,
    G8 = 2,
    G16 = 3,
}

/// Gyroscope full scale (±degrees per second).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[repr(u8)]
pub enum GyroRange {
    Dps125 = 0,
    Dps250 = 1,
    Dps500 = 2,
    Dps1000 = 3,
    Dps2000 = 4,
}

/// The full-scale settings raw samples were taken with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FullScale {
    pub accel: AccelRange,
    pub gyro: GyroRange,
}

impl AccelRange {
    /// ± full scale in g.
    pub fn g(self) -> f32 {
        match self {
            Self::G2 => 2.0,
            Self::G4 => 4.0,
            Self::G8 => 8.0,
            Self::G16 => 16.0,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => Self::G2,
            1 => Self::G4,
            2 => Self::G8,
            3 => Self::G16,
            _ => return None,
        })
    }
}

impl GyroRange {
    /// ± full scale in degrees per second.
    pub fn dps(self) -> f32 {
        match self {
            Self::Dps125 => 125.0,
            Self::Dps250 => 250.0,
            Self::Dps500 => 500.0,
            Self::Dps1000 => 1000.0,
            Self::Dps2000 => 2000.0,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => Self::Dps125,
            1 => Self::Dps250,
            2 => Self::Dps500,
            3 => Self::Dps1000,
            4 => Self::Dps2000,
            _ => return None,
        })
    }
}

impl FullScale {
    /// The band's default: ±8 g, ±1000 °/s.
    pub const DEFAULT: FullScale = FullScale {
        accel: AccelRange::G8,
        gyro: GyroRange::Dps1000,
    };

    /// Converts a raw sample to SI: `[ax, ay, az]` in m/s², `[gx, gy, gz]` in rad/s.
    pub fn to_si(&self, raw: &RawSample) -> [f32; CHANNELS] {
        let a = self.accel.g() * STANDARD_GRAVITY / 32768.0;
        let g = self.gyro.dps() * core::f32::consts::PI / 180.0 / 32768.0;
        [
            raw.accel[0] as f32 * a,
            raw.accel[1] as f32 * a,
            raw.accel[2] as f32 * a,
            raw.gyro[0] as f32 * g,
            raw.gyro[1] as f32 * g,
            raw.gyro[2] as f32 * g,
        ]
    }

    /// One-byte wire code: accel code in bits 0-3, gyro code in bits 4-7.
    pub fn code(&self) -> u8 {
        self.accel as u8 | (self.gyro as u8) << 4
    }

    /// Decodes [`Self::code`]; `None` for unknown codes.
    pub fn from_code(code: u8) -> Option<Self> {
        Some(FullScale {
            accel: AccelRange::from_code(code & 0x0f)?,
            gyro: GyroRange::from_code(code >> 4)?,
        })
    }
}

impl Default for FullScale {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_scale_counts_become_si() {
        let fs = FullScale {
            accel: AccelRange::G2,
            gyro: GyroRange::Dps250,
        };
        // 16384 counts = half of ±2 g = 1 g.
        let si = fs.to_si(&RawSample {
            accel: [16384, -16384, 0],
            gyro: [16384, 0, -32768],
        });
        assert!((si[0] - 9.80665).abs() < 1e-5);
        assert!((si[1] + 9.80665).abs() < 1e-5);
        assert_eq!(si[2], 0.0);
        // 16384 counts of ±250 °/s = 125 °/s = 2.1817 rad/s.
        assert!((si[3] - 125.0f32.to_radians()).abs() < 1e-5);
        assert!((si[5] + 250.0f32.to_radians()).abs() < 1e-5);
    }

    #[test]
    fn wire_codes_round_trip_and_reject_unknown() {
        for a in [
            AccelRange::G2,
            AccelRange::G4,
            AccelRange::G8,
            AccelRange::G16,
        ] {
            for g in [
                GyroRange::Dps125,
                GyroRange::Dps250,
                GyroRange::Dps500,
                GyroRange::Dps1000,
                GyroRange::Dps2000,
            ] {
                let fs = FullScale { accel: a, gyro: g };
                assert_eq!(FullScale::from_code(fs.code()), Some(fs));
            }
        }
        assert_eq!(FullScale::from_code(0x04), None);
        assert_eq!(FullScale::from_code(0x50), None);
    }
}
