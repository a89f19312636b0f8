//! The virtual wearer: replays real wrist recordings (WISDM 2019, one held-out subject) by activity,
//! worn in a [`Style`] of their own, and hands the band raw IMU counts. A [`Script`] makes the wearer change
//! activity (or take the band off) over a simulated day.

mod activity;
pub mod excerpt;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use bandx_core::imu::{FullScale, RawSample};

pub use activity::{Activity, UnknownActivity};
pub use excerpt::{Excerpt, ExcerptError, Recording, SiSample};

/// The bundled excerpt (see `data/README.md`): WISDM subject 1650, all 18 activities.
const BUNDLED: &[u8] = include_bytes!("../../data/wisdm-1650.bxw.xz");

/// The bundled excerpt, decompressed once per process.
pub fn bundled_excerpt() -> Arc<Excerpt> {
    static EXCERPT: OnceLock<Arc<Excerpt>> = OnceLock::new();
    EXCERPT
        .get_or_init(|| {
            // Checked by the tests; a broken bundle is a build defect, not a runtime condition.
            Arc::new(Excerpt::from_xz(BUNDLED).expect("the bundled wearer excerpt is valid"))
        })
        .clone()
}

/// How the wearer wears the band and moves: what makes their data differ from the pre-training subjects'.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Style {
    /// Band on the other wrist: the motion is mirrored left/right (accel x negated; the gyroscope, an
    /// axial vector, gets y and z negated).
    pub other_wrist: bool,
    /// Band rotated about the forearm (x) axis, degrees.
    pub roll_deg: f32,
    /// Movement speed relative to the recording (0.8 = 20 % slower): the recording is time-resampled.
    pub tempo: f32,
}

impl Style {
    /// The recording as it was made.
    pub const NATURAL: Style = Style {
        other_wrist: false,
        roll_deg: 0.0,
        tempo: 1.0,
    };

    /// Band on the other wrist, twisted 25° and moving 20 % slower: a generic model struggles.
    pub const DIFFERENT: Style = Style {
        other_wrist: true,
        roll_deg: 25.0,
        tempo: 0.8,
    };

    /// Applies the wearing geometry to one SI sample (tempo is applied by the [`Wearer`]).
    pub fn orient(&self, s: &SiSample) -> SiSample {
        let (mut a, mut g) = ([s[0], s[1], s[2]], [s[3], s[4], s[5]]);
        if self.other_wrist {
            a[0] = -a[0];
            g[1] = -g[1];
            g[2] = -g[2];
        }
        let (sin, cos) = self.roll_deg.to_radians().sin_cos();
        let roll = |v: [f32; 3]| [v[0], cos * v[1] - sin * v[2], sin * v[1] + cos * v[2]];
        let (a, g) = (roll(a), roll(g));
        [a[0], a[1], a[2], g[0], g[1], g[2]]
    }
}

impl Default for Style {
    fn default() -> Self {
        Style::NATURAL
    }
}

/// One step of a wearer's day: an activity (or the band lying off the wrist) for some minutes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScriptStep {
    /// `None`: the band lies still on a table, off the wrist.
    pub activity: Option<Activity>,
    pub minutes: u32,
}

/// The wearer's day: steps in order, repeated.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Script(pub Vec<ScriptStep>);

impl std::str::FromStr for Script {
    type Err = String;

    /// `walking:30,off:10,sitting:60`: activity names (as [`Activity::from_name`]) or `off`, and minutes.
    fn from_str(text: &str) -> Result<Script, String> {
        text.split(',')
            .map(|step| {
                let (name, minutes) = step
                    .trim()
                    .split_once(':')
                    .ok_or_else(|| format!("`{step}` is not activity:minutes"))?;
                let minutes: u32 = minutes
                    .trim()
                    .parse()
                    .ok()
                    .filter(|&m| m > 0)
                    .ok_or_else(|| format!("`{minutes}` is not a number of minutes"))?;
                let activity = match name.trim() {
                    "off" => None,
                    name => Some(
                        Activity::from_name(name)
                            .ok_or_else(|| format!("no activity called `{name}`"))?,
                    ),
                };
                Ok(ScriptStep { activity, minutes })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Script)
    }
}

/// A script being followed: the step and the samples left in it.
#[derive(Debug, Clone, Default)]
struct Following {
    script: Script,
    step: usize,
    samples_left: u64,
}

/// A wearer request that cannot be met.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WearerError {
    #[error("the wearer's recordings have no `{0}` (subject {1})")]
    NoRecording(Activity, u16),
    #[error("tempo {0} is outside 0.25..=4")]
    BadTempo(f32),
}

/// A person wearing the band, doing one activity at a time.
#[derive(Debug, Clone)]
pub struct Wearer {
    excerpt: Arc<Excerpt>,
    activity: Activity,
    style: Style,
    /// Position in the current recording, in (fractional) source samples.
    position: f64,
    /// Where each activity was left off.
    left_off: HashMap<Activity, f64>,
    following: Option<Following>,
    off_wrist: bool,
}

impl Wearer {
    /// The bundled subject, walking, in their natural style.
    pub fn bundled() -> Wearer {
        Wearer::new(bundled_excerpt(), Activity::WALKING, Style::NATURAL)
            .expect("the bundled excerpt has walking")
    }

    /// A wearer replaying `excerpt`, starting `activity` from its beginning.
    pub fn new(
        excerpt: Arc<Excerpt>,
        activity: Activity,
        style: Style,
    ) -> Result<Wearer, WearerError> {
        let mut w = Wearer {
            excerpt,
            activity,
            style: Style::NATURAL,
            position: 0.0,
            left_off: HashMap::new(),
            following: None,
            off_wrist: false,
        };
        w.set_activity(activity)?;
        w.set_style(style)?;
        Ok(w)
    }

    /// What the wearer is doing now.
    pub fn activity(&self) -> Activity {
        self.activity
    }

    /// The activities the wearer can do.
    pub fn activities(&self) -> Vec<Activity> {
        self.excerpt.activities().collect()
    }

    /// The recordings replayed.
    pub fn excerpt(&self) -> &Arc<Excerpt> {
        &self.excerpt
    }

    /// Switches to `activity`, continuing its recording where the wearer last left it (from the start the
    /// first time): doing an activity again gives new data, not a replay of what calibration already saw.
    /// Each recording is 120 s and loops after that.
    pub fn set_activity(&mut self, activity: Activity) -> Result<(), WearerError> {
        if self.excerpt.recording(activity).is_none() {
            return Err(WearerError::NoRecording(activity, self.excerpt.subject));
        }
        self.left_off.insert(self.activity, self.position);
        self.activity = activity;
        self.position = self.left_off.get(&activity).copied().unwrap_or(0.0);
        Ok(())
    }

    /// Seconds into the current activity's recording.
    pub fn position_seconds(&self) -> f64 {
        self.position / 20.0
    }

    /// Jumps to `seconds` into the current activity's recording (e.g. past the part used for calibration).
    pub fn seek(&mut self, seconds: f64) {
        self.position = (seconds * 20.0).max(0.0);
    }

    pub fn style(&self) -> Style {
        self.style
    }

    pub fn set_style(&mut self, style: Style) -> Result<(), WearerError> {
        if !(0.25..=4.0).contains(&style.tempo) {
            return Err(WearerError::BadTempo(style.tempo));
        }
        self.style = style;
        Ok(())
    }

    /// Follows `script` from its first step on (every step's activity must have a recording); an empty
    /// script stops following one. Steps change at sample boundaries (20 per second).
    pub fn set_script(&mut self, script: Script) -> Result<(), WearerError> {
        for step in &script.0 {
            if let Some(a) = step.activity
                && self.excerpt.recording(a).is_none()
            {
                return Err(WearerError::NoRecording(a, self.excerpt.subject));
            }
        }
        self.following = None;
        self.off_wrist = false;
        if let Some(first) = script.0.first().copied() {
            self.start_step(first)?;
            self.following = Some(Following {
                samples_left: u64::from(first.minutes) * 60 * 20,
                script,
                step: 0,
            });
        }
        Ok(())
    }

    /// Whether the band lies off the wrist (a script's `off` step).
    pub fn off_wrist(&self) -> bool {
        self.off_wrist
    }

    fn start_step(&mut self, step: ScriptStep) -> Result<(), WearerError> {
        self.off_wrist = step.activity.is_none();
        match step.activity {
            Some(a) => self.set_activity(a),
            None => Ok(()),
        }
    }

    /// Moves the script on by one sample.
    fn follow(&mut self) {
        let Some(f) = self.following.as_mut() else {
            return;
        };
        if f.samples_left > 1 {
            f.samples_left -= 1;
            return;
        }
        f.step = (f.step + 1) % f.script.0.len();
        let step = f.script.0[f.step];
        f.samples_left = u64::from(step.minutes) * 60 * 20;
        // Checked by set_script.
        let _ = self.start_step(step);
    }

    /// The next 20 Hz sample in SI units, as the band on this wearer measures it. The recording loops.
    pub fn next_si(&mut self) -> SiSample {
        let off = self.off_wrist;
        self.follow();
        if off {
            // Lying flat and still: gravity on z, nothing else.
            return [0.0, 0.0, 9.81, 0.0, 0.0, 0.0];
        }
        let samples = &self
            .excerpt
            .recording(self.activity)
            .expect("set_activity checked the recording exists")
            .samples;
        let n = samples.len();
        if n == 0 {
            return [0.0; 6];
        }
        let pos = self.position % n as f64;
        let i = pos.floor() as usize;
        let w = (pos - i as f64) as f32;
        let (s1, s2) = (&samples[i], &samples[(i + 1) % n]);
        let s: SiSample = std::array::from_fn(|c| s1[c] + w * (s2[c] - s1[c]));
        self.position = pos + f64::from(self.style.tempo);
        self.style.orient(&s)
    }

    /// The next reading as the band's IMU reports it at full scale `fs`.
    pub fn next_raw(&mut self, fs: FullScale) -> RawSample {
        si_to_raw(&self.next_si(), fs)
    }
}

/// SI to raw counts: the inverse of [`FullScale::to_si`] (bandx-core's one conversion), rounded and
/// clipped at full scale like a real IMU.
pub fn si_to_raw(si: &SiSample, fs: FullScale) -> RawSample {
    let per_count = fs.to_si(&RawSample {
        accel: [1; 3],
        gyro: [1; 3],
    });
    let count = |c: usize| {
        (si[c] / per_count[c])
            .round()
            .clamp(i16::MIN as f32, i16::MAX as f32) as i16
    };
    RawSample {
        accel: [count(0), count(1), count(2)],
        gyro: [count(3), count(4), count(5)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Arc<Excerpt> {
        let ramp = (0..10)
            .map(|i| [i as f32, 0.0, 9.8, 0.0, 0.1 * i as f32, 0.0])
            .collect();
        Arc::new(Excerpt {
            subject: 1,
            recordings: vec![Recording {
                activity: Activity::WALKING,
                start_ms: 0,
                samples: ramp,
            }],
        })
    }

    #[test]
    fn tempo_resamples_the_recording_in_time() {
        let slow = Style {
            tempo: 0.5,
            ..Style::NATURAL
        };
        let mut w = Wearer::new(tiny(), Activity::WALKING, slow).unwrap();
        let ax: Vec<f32> = (0..5).map(|_| w.next_si()[0]).collect();
        assert_eq!(ax, [0.0, 0.5, 1.0, 1.5, 2.0]);
        let mut fast = Wearer::new(
            tiny(),
            Activity::WALKING,
            Style {
                tempo: 2.0,
                ..Style::NATURAL
            },
        )
        .unwrap();
        let ax: Vec<f32> = (0..6).map(|_| fast.next_si()[0]).collect();
        assert_eq!(ax, [0.0, 2.0, 4.0, 6.0, 8.0, 0.0], "loops at the end");
    }

    #[test]
    fn other_wrist_mirrors_accel_x_and_gyro_y_z() {
        let s = [1.0, 2.0, 3.0, 0.1, 0.2, 0.3];
        let mirrored = Style {
            other_wrist: true,
            ..Style::NATURAL
        }
        .orient(&s);
        assert_eq!(mirrored, [-1.0, 2.0, 3.0, 0.1, -0.2, -0.3]);
        let rolled = Style {
            roll_deg: 90.0,
            ..Style::NATURAL
        }
        .orient(&s);
        // 90° about x: y -> z, z -> -y.
        let expect = [1.0, -3.0, 2.0, 0.1, -0.3, 0.2];
        for (r, e) in rolled.iter().zip(expect) {
            assert!((r - e).abs() < 1e-5, "{rolled:?}");
        }
    }

    #[test]
    fn coming_back_to_an_activity_continues_its_recording() {
        let mut e = (*tiny()).clone();
        e.recordings.push(Recording {
            activity: Activity::SITTING,
            start_ms: 0,
            samples: vec![[-1.0; 6]; 10],
        });
        let mut w = Wearer::new(Arc::new(e), Activity::WALKING, Style::NATURAL).unwrap();
        assert_eq!(
            [w.next_si()[0], w.next_si()[0], w.next_si()[0]],
            [0.0, 1.0, 2.0]
        );
        w.set_activity(Activity::SITTING).unwrap();
        assert_eq!(w.next_si()[0], -1.0);
        w.set_activity(Activity::WALKING).unwrap();
        assert_eq!(w.next_si()[0], 3.0);
        w.seek(0.0);
        assert_eq!(w.next_si()[0], 0.0);
    }

    #[test]
    fn unknown_activities_and_tempos_are_refused() {
        let mut w = Wearer::new(tiny(), Activity::WALKING, Style::NATURAL).unwrap();
        assert_eq!(
            w.set_activity(Activity::JOGGING),
            Err(WearerError::NoRecording(Activity::JOGGING, 1))
        );
        assert_eq!(w.activity(), Activity::WALKING);
        assert!(
            w.set_style(Style {
                tempo: 0.0,
                ..Style::NATURAL
            })
            .is_err()
        );
    }

    #[test]
    fn raw_counts_invert_the_core_conversion_and_clip() {
        let fs = FullScale::DEFAULT;
        let si = [9.80665, -4.0, 0.0, 1.0, -0.25, 0.0];
        let raw = si_to_raw(&si, fs);
        let back = fs.to_si(&raw);
        let step = fs.to_si(&RawSample {
            accel: [1; 3],
            gyro: [1; 3],
        });
        for c in 0..6 {
            assert!(
                (back[c] - si[c]).abs() <= step[c] / 2.0 + 1e-6,
                "channel {c}"
            );
        }
        // ±8 g: 100 m/s² clips at full scale.
        assert_eq!(
            si_to_raw(&[100.0, -100.0, 0.0, 0.0, 0.0, 0.0], fs).accel[..2],
            [32767, -32768]
        );
    }

    #[test]
    fn bundled_excerpt_has_every_activity_of_subject_1650() {
        let e = bundled_excerpt();
        assert_eq!(e.subject, 1650);
        assert_eq!(e.activities().count(), 18);
        for r in &e.recordings {
            assert!(r.samples.len() >= 90 * 20, "{} too short", r.activity);
            // Real wrist data: gravity is there on average, and the wearer moves.
            let mean_norm: f32 = r
                .samples
                .iter()
                .map(|s| (s[0] * s[0] + s[1] * s[1] + s[2] * s[2]).sqrt())
                .sum::<f32>()
                / r.samples.len() as f32;
            assert!(
                (7.0..25.0).contains(&mean_norm),
                "{}: |a| {mean_norm}",
                r.activity
            );
        }
    }
}
