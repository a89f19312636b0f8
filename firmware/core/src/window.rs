//! The sliding window: a ring buffer of SI samples yielding a 60 x 6 window every 30 samples
//! (3 s windows with 50 % overlap at 20 Hz).

use crate::{CHANNELS, WINDOW_HOP, WINDOW_LEN, Window};

/// Collects samples and yields overlapping windows, oldest sample first.
#[derive(Debug, Clone)]
pub struct Windower {
    ring: Window,
    /// Index the next sample is written to.
    head: usize,
    /// Samples held (saturates at the window length).
    filled: usize,
    /// Samples since the last window (or since the start).
    since_last: usize,
    /// Windows yielded so far.
    emitted: u32,
}

impl Default for Windower {
    fn default() -> Self {
        Self::new()
    }
}

impl Windower {
    pub const fn new() -> Self {
        Self {
            ring: [[0.0; CHANNELS]; WINDOW_LEN],
            head: 0,
            filled: 0,
            since_last: 0,
            emitted: 0,
        }
    }

    /// Adds one sample; returns the window ending with it when one is due: the first after 60 samples,
    /// then every 30.
    pub fn push(&mut self, sample: [f32; CHANNELS]) -> Option<Window> {
        self.ring[self.head] = sample;
        self.head = (self.head + 1) % WINDOW_LEN;
        self.filled = (self.filled + 1).min(WINDOW_LEN);
        self.since_last += 1;
        if self.filled < WINDOW_LEN || self.since_last < WINDOW_HOP {
            return None;
        }
        self.since_last = 0;
        self.emitted = self.emitted.wrapping_add(1);
        let mut window = [[0.0; CHANNELS]; WINDOW_LEN];
        for (t, w) in window.iter_mut().enumerate() {
            *w = self.ring[(self.head + t) % WINDOW_LEN];
        }
        Some(window)
    }

    /// Windows yielded so far (the sequence number of the last one is this minus 1).
    pub fn emitted(&self) -> u32 {
        self.emitted
    }

    /// Forgets the held samples (e.g. after a gap in the stream); the window count continues.
    pub fn clear(&mut self) {
        *self = Self {
            emitted: self.emitted,
            ..Self::new()
        };
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    fn sample(i: usize) -> [f32; CHANNELS] {
        core::array::from_fn(|c| (i * 10 + c) as f32)
    }

    #[test]
    fn first_window_after_60_then_every_30() {
        let mut w = Windower::new();
        let due: Vec<usize> = (0..150).filter(|&i| w.push(sample(i)).is_some()).collect();
        assert_eq!(due, [59, 89, 119, 149]);
        assert_eq!(w.emitted(), 4);
    }

    #[test]
    fn clear_restarts_the_fill() {
        let mut w = Windower::new();
        for i in 0..70 {
            w.push(sample(i));
        }
        w.clear();
        let due: Vec<usize> = (0..70).filter(|&i| w.push(sample(i)).is_some()).collect();
        assert_eq!(due, [59]);
        assert_eq!(w.emitted(), 2);
    }

    proptest! {
        /// Every window is exactly the last 60 samples in order, and consecutive windows overlap by 30.
        #[test]
        fn windows_are_the_last_60_samples(n in 60usize..400) {
            let mut w = Windower::new();
            let mut last_end = None;
            for i in 0..n {
                if let Some(win) = w.push(sample(i)) {
                    for (t, s) in win.iter().enumerate() {
                        prop_assert_eq!(*s, sample(i + 1 + t - WINDOW_LEN));
                    }
                    if let Some(prev) = last_end {
                        prop_assert_eq!(i - prev, WINDOW_HOP);
                    }
                    last_end = Some(i);
                }
            }
            prop_assert_eq!(w.emitted() as usize, (n - WINDOW_LEN) / WINDOW_HOP + 1);
        }
    }
}
