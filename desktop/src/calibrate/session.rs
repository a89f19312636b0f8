//! The guided session for one class as a state machine, free of I/O: the driver ([`super::record_class`])
//! feeds it frames and link events, stores what it says to store and forwards the events.
//!
//! Phases: `Countdown` -> `Recording` -> `Done`, with `Paused` while the link is down and `Cancelled`
//! at any time. While recording, samples go to the current *segment* (one store recording). Every
//! 30 samples from the 60th on, the last 60 samples form a window (the band's own schedule: 60 x 6,
//! 50 % overlap), judged by [`quality::judge`]. A dropped link ends the segment: after reconnecting
//! the next frame opens a new one, so a window never spans the gap.

use std::collections::VecDeque;

use bandx_core::imu::FullScale;
use bandx_core::{WINDOW_HOP, WINDOW_LEN};

use super::quality::{self, QualityRules, Rejection, WindowSample};
use crate::band::ImuFrame;
use crate::store;

/// Where the session is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Phase {
    /// Waiting for the user to get going; nothing is stored.
    Countdown,
    Recording,
    /// The link dropped; waiting for it to come back.
    Paused,
    /// Enough good windows.
    Done,
    Cancelled,
}

/// One SI sample for the live chart.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChartSample {
    /// Band clock, ms.
    pub t_ms: u32,
    /// ax, ay, az (m/s²), gx, gy, gz (rad/s).
    pub si: [f32; 6],
}

/// A window the session judged.
#[derive(Clone, Debug, PartialEq)]
pub struct JudgedWindow {
    /// 0, 1, 2, ... over the whole session (across segments).
    pub index: u32,
    /// First sample of the window in the segment's recording.
    pub start_index: u64,
    pub verdict: Result<(), Rejection>,
}

/// What the driver must do after a frame, in this order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FrameWork {
    /// Open a new recording with this full scale (a new segment) before storing `samples`.
    pub open_recording: Option<FullScale>,
    /// Samples to append to the current recording.
    pub samples: Vec<store::RawSample>,
    /// Windows the samples completed; store them once the samples are committed.
    pub windows: Vec<JudgedWindow>,
    /// The frame's samples for the chart (also during the countdown).
    pub chart: Vec<ChartSample>,
}

struct Segment {
    full_scale: FullScale,
    /// Samples in the segment so far (the next sample's index in its recording).
    len: u64,
    /// The last [`WINDOW_LEN`] samples.
    recent: VecDeque<WindowSample>,
}

/// The state of one class's session.
pub struct ClassSession {
    needed: u32,
    good: u32,
    rejected: u32,
    judged: u32,
    rules: QualityRules,
    phase: Phase,
    segment: Option<Segment>,
}

impl ClassSession {
    /// A session that needs `needed` good windows and already has `good` (from earlier sessions).
    /// It starts in the countdown.
    pub fn new(needed: u32, good: u32, rules: QualityRules) -> ClassSession {
        ClassSession {
            needed,
            good,
            rejected: 0,
            judged: 0,
            rules,
            phase: if good >= needed {
                Phase::Done
            } else {
                Phase::Countdown
            },
            segment: None,
        }
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Good windows so far, and how many are needed.
    pub fn progress(&self) -> (u32, u32) {
        (self.good, self.needed)
    }

    /// Windows rejected in this session.
    pub fn rejected(&self) -> u32 {
        self.rejected
    }

    pub fn is_over(&self) -> bool {
        matches!(self.phase, Phase::Done | Phase::Cancelled)
    }

    /// The countdown is over: store from the next frame on.
    pub fn start_recording(&mut self) {
        if self.phase == Phase::Countdown {
            self.phase = Phase::Recording;
        }
    }

    /// One frame from the band. Outside `Recording` only the chart gets its samples.
    pub fn on_frame(&mut self, frame: &ImuFrame, sample_rate_hz: u8) -> FrameWork {
        let timed = frame.si_samples(sample_rate_hz);
        let mut work = FrameWork {
            chart: timed
                .iter()
                .map(|&(t_ms, si)| ChartSample { t_ms, si })
                .collect(),
            ..FrameWork::default()
        };
        if self.phase != Phase::Recording {
            return work;
        }
        let full_scale = frame.frame.full_scale;
        if self
            .segment
            .as_ref()
            .is_none_or(|s| s.full_scale != full_scale)
        {
            // A new connection, or the band's full scale changed: a recording holds one setting.
            work.open_recording = Some(full_scale);
            self.segment = Some(Segment {
                full_scale,
                len: 0,
                recent: VecDeque::with_capacity(WINDOW_LEN),
            });
        }
        for (k, (raw, (t_ms, _))) in frame.frame.samples.iter().zip(&timed).enumerate() {
            let sample = WindowSample {
                t_ms: *t_ms,
                raw: *raw,
                lost_before: if k == 0 { frame.lost_before } else { 0 },
            };
            work.samples.push(store::RawSample {
                frame_seq: u32::from(frame.frame.seq),
                t_ms: i64::from(*t_ms),
                accel: raw.accel,
                gyro: raw.gyro,
            });
            if let Some(window) = self.push(sample) {
                work.windows.push(window);
                if self.phase == Phase::Done {
                    // The rest of the frame is not needed.
                    break;
                }
            }
        }
        work
    }

    /// Adds a sample to the segment; judges the window it completes, if any.
    fn push(&mut self, sample: WindowSample) -> Option<JudgedWindow> {
        let segment = self.segment.as_mut()?;
        if segment.recent.len() == WINDOW_LEN {
            segment.recent.pop_front();
        }
        segment.recent.push_back(sample);
        segment.len += 1;
        let due = segment.len >= WINDOW_LEN as u64
            && (segment.len - WINDOW_LEN as u64).is_multiple_of(WINDOW_HOP as u64);
        if !due {
            return None;
        }
        let samples: Vec<WindowSample> = segment.recent.iter().copied().collect();
        let verdict = quality::judge(&samples, segment.full_scale, &self.rules);
        let window = JudgedWindow {
            index: self.judged,
            start_index: segment.len - WINDOW_LEN as u64,
            verdict,
        };
        self.judged += 1;
        match window.verdict {
            Ok(()) => self.good += 1,
            Err(_) => self.rejected += 1,
        }
        if self.good >= self.needed {
            self.phase = Phase::Done;
        }
        Some(window)
    }

    /// The store's count of good windows changed under the session (the user discarded one): the
    /// session records on until it has enough again.
    pub fn set_good(&mut self, good: u32) {
        self.good = good;
        if self.phase == Phase::Done && good < self.needed {
            self.phase = Phase::Recording;
        } else if matches!(self.phase, Phase::Recording | Phase::Countdown) && good >= self.needed {
            self.phase = Phase::Done;
        }
    }

    /// The link dropped: the segment ends (its samples are kept; a partial window is not judged).
    pub fn pause(&mut self) {
        self.segment = None;
        if !self.is_over() {
            self.phase = match self.phase {
                // A drop during the countdown restarts it after reconnecting.
                Phase::Countdown => Phase::Countdown,
                _ => Phase::Paused,
            };
        }
    }

    /// The link is back: the next frame opens a new segment.
    pub fn resume(&mut self) {
        if self.phase == Phase::Paused {
            self.phase = Phase::Recording;
        }
    }

    pub fn cancel(&mut self) {
        if self.phase != Phase::Done {
            self.phase = Phase::Cancelled;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bandx_core::frame::{FRAME_HEADER_LEN, FrameBuilder, SAMPLE_LEN};
    use bandx_core::imu::RawSample;

    /// A frame of `n` samples starting at band time `t0` with a small sway (never flat).
    fn frame(seq: u16, t0: u32, n: usize, lost_before: u16) -> ImuFrame {
        let payload = FRAME_HEADER_LEN + n * SAMPLE_LEN;
        let mut builder = FrameBuilder::new(payload, FullScale::DEFAULT);
        let mut frame = None;
        for k in 0..n {
            let v = ((u32::from(seq) * 7 + k as u32) % 13) as i16 * 40;
            frame = builder.push(
                RawSample {
                    accel: [v, -v, 4096 + v],
                    gyro: [v, 0, -v],
                },
                t0,
            );
        }
        let mut frame = frame.expect("a full frame");
        frame.seq = seq;
        ImuFrame { frame, lost_before }
    }

    /// Feeds `count` 10-sample frames from frame number `from`; returns the work.
    fn feed(s: &mut ClassSession, from: u16, count: u16) -> Vec<FrameWork> {
        (from..from + count)
            .map(|seq| s.on_frame(&frame(seq, u32::from(seq) * 500, 10, 0), 20))
            .collect()
    }

    #[test]
    fn countdown_stores_nothing_then_windows_every_30_samples() {
        let mut s = ClassSession::new(3, 0, QualityRules::default());
        let work = feed(&mut s, 0, 2);
        assert!(
            work.iter()
                .all(|w| w.samples.is_empty() && w.windows.is_empty())
        );
        assert_eq!(
            work[0].chart.len(),
            10,
            "the chart runs during the countdown"
        );

        s.start_recording();
        let work = feed(&mut s, 2, 12);
        assert_eq!(work[0].open_recording, Some(FullScale::DEFAULT));
        assert!(work[1..].iter().all(|w| w.open_recording.is_none()));
        let windows: Vec<&JudgedWindow> = work.iter().flat_map(|w| &w.windows).collect();
        let starts: Vec<u64> = windows.iter().map(|w| w.start_index).collect();
        assert_eq!(starts, [0, 30, 60]);
        assert!(windows.iter().all(|w| w.verdict.is_ok()));
        assert_eq!(s.phase(), Phase::Done);
        assert_eq!(s.progress(), (3, 3));
        // It stopped storing at the 120th sample.
        let stored: usize = work.iter().map(|w| w.samples.len()).sum();
        assert_eq!(stored, 120);
    }

    #[test]
    fn a_lost_frame_rejects_the_windows_around_it_and_recording_goes_on() {
        let mut s = ClassSession::new(2, 0, QualityRules::default());
        s.start_recording();
        let mut windows = Vec::new();
        for seq in 0..13u16 {
            if seq == 4 {
                continue; // lost on the air
            }
            let lost = if seq == 5 { 1 } else { 0 };
            let w = s.on_frame(&frame(seq, u32::from(seq) * 500, 10, lost), 20);
            windows.extend(w.windows);
        }
        // Samples 0..40 then (after the gap) 40..: windows [0,60) and [30,90) contain the gap.
        let verdicts: Vec<_> = windows
            .iter()
            .map(|w| (w.start_index, w.verdict.clone()))
            .collect();
        assert_eq!(verdicts[0], (0, Err(Rejection::LostFrames { frames: 1 })));
        assert_eq!(verdicts[1], (30, Err(Rejection::LostFrames { frames: 1 })));
        assert_eq!(verdicts[2], (60, Ok(())));
        assert_eq!(s.progress(), (1, 2));
        assert_eq!(s.rejected(), 2);
    }

    #[test]
    fn a_drop_pauses_and_the_next_segment_starts_afresh() {
        let mut s = ClassSession::new(4, 0, QualityRules::default());
        s.start_recording();
        let before = feed(&mut s, 0, 8); // 80 samples: windows at 0 (and 30 needs 90)
        assert_eq!(before.iter().map(|w| w.windows.len()).sum::<usize>(), 1);
        s.pause();
        assert_eq!(s.phase(), Phase::Paused);
        assert!(
            feed(&mut s, 8, 1)[0].samples.is_empty(),
            "nothing stored while paused"
        );
        s.resume();
        let after = feed(&mut s, 100, 9);
        assert_eq!(after[0].open_recording, Some(FullScale::DEFAULT));
        let windows: Vec<&JudgedWindow> = after.iter().flat_map(|w| &w.windows).collect();
        // Index counts on; start indices restart in the new recording.
        assert_eq!(
            windows
                .iter()
                .map(|w| (w.index, w.start_index))
                .collect::<Vec<_>>(),
            [(1, 0), (2, 30)]
        );
        assert_eq!(s.progress(), (3, 4));
    }

    #[test]
    fn a_discarded_window_reopens_a_done_session_and_earlier_windows_count() {
        let mut s = ClassSession::new(2, 2, QualityRules::default());
        assert_eq!(s.phase(), Phase::Done);
        s.set_good(1);
        assert_eq!(s.phase(), Phase::Recording);
        let mut s = ClassSession::new(2, 1, QualityRules::default());
        s.start_recording();
        feed(&mut s, 0, 6);
        assert_eq!(s.phase(), Phase::Done);
        s.cancel();
        assert_eq!(s.phase(), Phase::Done, "done stays done");
    }
}
