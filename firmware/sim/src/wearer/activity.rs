//! The 18 WISDM 2019 activities, by their one-letter code and name (`activity_key.txt`).

use std::fmt;
use std::str::FromStr;

/// One WISDM activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Activity(u8);

/// Code and name of every activity, in dataset order (there is no code N).
const ACTIVITIES: [(u8, &str); 18] = [
    (b'A', "walking"),
    (b'B', "jogging"),
    (b'C', "stairs"),
    (b'D', "sitting"),
    (b'E', "standing"),
    (b'F', "typing"),
    (b'G', "teeth"),
    (b'H', "soup"),
    (b'I', "chips"),
    (b'J', "pasta"),
    (b'K', "drinking"),
    (b'L', "sandwich"),
    (b'M', "kicking"),
    (b'O', "catch"),
    (b'P', "dribbling"),
    (b'Q', "writing"),
    (b'R', "clapping"),
    (b'S', "folding"),
];

impl Activity {
    pub const WALKING: Activity = Activity(b'A');
    pub const JOGGING: Activity = Activity(b'B');
    pub const STAIRS: Activity = Activity(b'C');
    pub const SITTING: Activity = Activity(b'D');
    pub const STANDING: Activity = Activity(b'E');
    pub const TYPING: Activity = Activity(b'F');
    pub const TEETH: Activity = Activity(b'G');
    pub const CLAPPING: Activity = Activity(b'R');

    /// All 18 activities in dataset order.
    pub fn all() -> impl Iterator<Item = Activity> {
        ACTIVITIES.iter().map(|&(c, _)| Activity(c))
    }

    /// The activity with this WISDM code (`'A'..='S'`, no `'N'`).
    pub fn from_code(code: char) -> Option<Activity> {
        let code = code.to_ascii_uppercase();
        ACTIVITIES
            .iter()
            .find(|&&(c, _)| char::from(c) == code)
            .map(|&(c, _)| Activity(c))
    }

    /// The activity with this name (as in [`Activity::name`], case-insensitive; the long WISDM names
    /// "brushing teeth", "eating soup", "playing catch", "drinking from a cup", "folding clothes" too).
    pub fn from_name(name: &str) -> Option<Activity> {
        let name = name.trim().to_ascii_lowercase();
        let short = match name.as_str() {
            "brushing teeth" => "teeth",
            "eating soup" => "soup",
            "eating chips" => "chips",
            "eating pasta" => "pasta",
            "drinking from a cup" => "drinking",
            "eating sandwich" => "sandwich",
            "kicking (soccer ball)" | "kicking soccer ball" => "kicking",
            "playing catch" | "playing catch (tennis ball)" => "catch",
            "dribbling (basketball)" => "dribbling",
            "folding clothes" => "folding",
            other => other,
        };
        ACTIVITIES
            .iter()
            .find(|&&(_, n)| n == short)
            .map(|&(c, _)| Activity(c))
    }

    /// The one-letter WISDM code.
    pub fn code(self) -> char {
        char::from(self.0)
    }

    /// Short lowercase name.
    pub fn name(self) -> &'static str {
        ACTIVITIES
            .iter()
            .find(|&&(c, _)| c == self.0)
            .map_or("?", |&(_, n)| n)
    }
}

impl fmt::Display for Activity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Text that names no WISDM activity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a WISDM activity (use a code A-S without N, or a name like `walking`)")]
pub struct UnknownActivity(pub String);

impl FromStr for Activity {
    type Err = UnknownActivity;

    /// A one-letter code or a name.
    fn from_str(s: &str) -> Result<Activity, UnknownActivity> {
        let mut chars = s.trim().chars();
        let single = match (chars.next(), chars.next()) {
            (Some(c), None) => Activity::from_code(c),
            _ => None,
        };
        single
            .or_else(|| Activity::from_name(s))
            .ok_or_else(|| UnknownActivity(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_round_trip() {
        assert_eq!(Activity::all().count(), 18);
        for a in Activity::all() {
            assert_eq!(Activity::from_code(a.code()), Some(a));
            assert_eq!(Activity::from_name(a.name()), Some(a));
            assert_eq!(a.name().parse::<Activity>(), Ok(a));
        }
        assert_eq!("b".parse(), Ok(Activity::JOGGING));
        assert_eq!("Brushing Teeth".parse(), Ok(Activity::TEETH));
        assert!(Activity::from_code('N').is_none());
        assert!("swimming".parse::<Activity>().is_err());
        assert!("".parse::<Activity>().is_err());
    }
}
