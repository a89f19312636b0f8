//! Errors as the window shows them: a plain sentence saying what happened, and the next step.

use serde::Serialize;

use bandx_desktop::band::BandError;
use bandx_desktop::link::sim::SimLinkError;
use bandx_desktop::link::{LinkError, PairError};
use bandx_desktop::settings::{RelocateError, SettingsError};
use bandx_desktop::store::{ArchiveError, StoreError};
use bandx_desktop::train::TrainError;

/// What a command or job reports when it fails.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct UiError {
    /// What happened, one plain sentence.
    pub message: String,
    /// What the user can do about it.
    pub next_step: String,
    /// Stable code the UI can act on (`no_adapter` offers the virtual band, `cancelled` is not an error).
    pub code: &'static str,
}

impl UiError {
    pub fn new(
        code: &'static str,
        message: impl Into<String>,
        next_step: impl Into<String>,
    ) -> Self {
        UiError {
            message: sentence(message.into()),
            next_step: sentence(next_step.into()),
            code,
        }
    }

    pub fn not_connected() -> Self {
        UiError::new(
            "not_connected",
            "No band is connected",
            "Connect your band, or the virtual band, on the Bands screen",
        )
    }

    pub fn busy(what: &str) -> Self {
        UiError::new(
            "busy",
            format!("{what} is already running"),
            "Wait for it to finish or cancel it",
        )
    }

    pub fn cancelled(what: &str) -> Self {
        UiError::new(
            "cancelled",
            format!("{what} was cancelled"),
            "Start it again when you are ready",
        )
    }

    pub fn internal(what: &str, detail: impl std::fmt::Display) -> Self {
        UiError::new(
            "internal",
            format!("{what} failed unexpectedly ({detail})"),
            "Try again; if it keeps failing, restart BandX Studio",
        )
    }
}

impl std::fmt::Display for UiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.message, self.next_step)
    }
}

/// Capitalized, ending with a full stop (or the question/exclamation mark it has).
fn sentence(mut s: String) -> String {
    let s_trim = s.trim_end().len();
    s.truncate(s_trim);
    if let Some(first) = s.chars().next()
        && first.is_lowercase()
    {
        let upper: String = first.to_uppercase().collect();
        s.replace_range(..first.len_utf8(), &upper);
    }
    if !s.is_empty() && !s.ends_with(['.', '?', '!']) {
        s.push('.');
    }
    s
}

impl From<LinkError> for UiError {
    fn from(e: LinkError) -> Self {
        match e {
            LinkError::NoAdapter(detail) => {
                tracing::info!("no Bluetooth adapter: {detail}");
                UiError::new(
                    "no_adapter",
                    "No Bluetooth adapter found",
                    "Use the virtual band instead?",
                )
            }
            LinkError::BluetoothOff => UiError::new(
                "bluetooth_off",
                "Bluetooth is turned off",
                "Turn Bluetooth on in your system settings and scan again, or use the virtual band",
            ),
            LinkError::NotFound(_) => UiError::new(
                "not_found",
                "The band was not found",
                "Make sure it is charged and close by, then scan again",
            ),
            LinkError::ConnectionLost => UiError::new(
                "connection_lost",
                "The connection to the band was lost",
                "Bring the band closer and connect again on the Bands screen",
            ),
            LinkError::Timeout { operation, .. } => UiError::new(
                "timeout",
                format!("The band did not answer in time ({operation})"),
                "Check that it is on and in range, then try again",
            ),
            LinkError::NotAuthenticated => UiError::new(
                "not_paired",
                "The band only answers the desktop it is paired with",
                "Pair with it on the Bands screen: type the six-digit code the band shows. If it was paired \
                 before, the band has forgotten this computer: choose Forget this band, then pair again",
            ),
            LinkError::Gatt(detail) => UiError::new(
                "gatt",
                format!("The band answered in an unexpected way ({detail})"),
                "Restart the band and connect again",
            ),
        }
    }
}

impl From<PairError> for UiError {
    fn from(e: PairError) -> Self {
        let next = "Type the six digits the band shows";
        match e {
            PairError::Link(link) => link.into(),
            PairError::Cancelled => UiError::cancelled("Pairing"),
            PairError::WrongCode => UiError::new(
                "wrong_code",
                "That code does not match the one on the band",
                "Pair again: the band shows a new code",
            ),
            PairError::Timeout(_) => UiError::new(
                "pair_timeout",
                "The code was not entered in time",
                format!("Pair again. {next} within 30 seconds"),
            ),
            PairError::NotInPairingMode => UiError::new(
                "not_in_pairing_mode",
                "The band is not in pairing mode",
                "Restart the band (or press its button), then pair within 2 minutes",
            ),
            PairError::BondedElsewhere => UiError::new(
                "bonded_elsewhere",
                "The band is paired with another desktop and refused this one",
                "Restart the band to put it in pairing mode, then pair again",
            ),
        }
    }
}

impl From<BandError> for UiError {
    fn from(e: BandError) -> Self {
        match e {
            BandError::Link(link) => link.into(),
            BandError::Refused { request, code } => UiError::new(
                "refused",
                format!("The band refused {request} ({code:?})"),
                "Check the band's state on the Bands screen and try again",
            ),
            other => UiError::new(
                "band",
                format!("The band's answer could not be used ({other})"),
                "Disconnect and connect again; if it persists, update the band's firmware",
            ),
        }
    }
}

impl From<SimLinkError> for UiError {
    fn from(e: SimLinkError) -> Self {
        UiError::new(
            "virtual_band",
            format!("The virtual band could not start ({e})"),
            "Close other BandX Studio windows or `bandx --sim` commands using it, then try again",
        )
    }
}

impl From<StoreError> for UiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::ProfileExists(name) => UiError::new(
                "exists",
                format!("A profile named \"{name}\" already exists"),
                "Pick another name, or select that profile",
            ),
            StoreError::ClassExists(name) => UiError::new(
                "exists",
                format!("This profile already has a class named \"{name}\""),
                "Pick another name",
            ),
            StoreError::Invalid { what, reason } => UiError::new(
                "invalid",
                format!("The {what} is not valid: {reason}"),
                "Change it and try again",
            ),
            StoreError::NotFound { what, .. } => UiError::new(
                "not_found",
                format!("That {what} no longer exists"),
                "Refresh the list",
            ),
            other => UiError::new(
                "store",
                format!("The local database reported an error ({other})"),
                "Restart BandX Studio; if it persists, export your profile from the Data screen",
            ),
        }
    }
}

impl From<TrainError> for UiError {
    fn from(e: TrainError) -> Self {
        let e = match e {
            TrainError::Store(store) => return store.into(),
            TrainError::Cancelled => return UiError::cancelled("Training"),
            other => other,
        };
        let next = match &e {
            TrainError::TooFewClasses { .. } => {
                "Choose at least 2 activities, or add another on the Calibrate screen"
            }
            TrainError::UnknownClass { .. } => "Choose the activities again",
            TrainError::TooManyClasses { .. } => "Delete a class on the Calibrate screen",
            TrainError::ClassNameTooLong { .. } => "Rename it on the Calibrate screen",
            TrainError::TooFewWindows { .. } => "Record more of it on the Calibrate screen",
            TrainError::WorseThanGeneric { .. } => {
                "Record more windows of each activity on the Calibrate screen, the way you usually do it, then train again"
            }
            TrainError::WindowOutOfRange { .. } | TrainError::UnsupportedRecording { .. } => {
                "Delete that recording on the Data screen and record the class again"
            }
            _ => "Try again; if it keeps failing, re-record the classes",
        };
        UiError::new("train", e.to_string(), next)
    }
}

impl From<ArchiveError> for UiError {
    fn from(e: ArchiveError) -> Self {
        let next = match &e {
            ArchiveError::DestinationExists { .. } => {
                "Choose a folder name that does not exist yet; it will be created"
            }
            ArchiveError::Io { .. } => "Check the folder's path and permissions",
            _ => "Check that the folder is a BandX Studio export and try again",
        };
        UiError::new("archive", e.to_string(), next)
    }
}

impl From<SettingsError> for UiError {
    fn from(e: SettingsError) -> Self {
        UiError::new("settings", e.to_string(), "Check the value and try again")
    }
}

impl From<RelocateError> for UiError {
    fn from(e: RelocateError) -> Self {
        // Its messages say where the data stays.
        UiError::new(
            "move_data",
            e.to_string(),
            "Choose a new or empty folder on a disk with room for your data",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_adapter_offers_the_virtual_band() {
        let e = UiError::from(LinkError::NoAdapter("no D-Bus".into()));
        assert_eq!(e.code, "no_adapter");
        assert_eq!(e.message, "No Bluetooth adapter found.");
        assert_eq!(e.next_step, "Use the virtual band instead?");
    }

    #[test]
    fn messages_are_sentences() {
        let e = UiError::from(StoreError::Invalid {
            what: "class name",
            reason: "\"\" must not be blank".into(),
        });
        assert_eq!(
            e.message,
            "The class name is not valid: \"\" must not be blank."
        );
        assert!(e.next_step.ends_with('.'));
        assert_eq!(sentence("already ends?".into()), "Already ends?");
    }

    #[test]
    fn a_lost_band_during_a_request_reads_as_lost() {
        let e = UiError::from(BandError::Link(LinkError::ConnectionLost));
        assert_eq!(e.code, "connection_lost");
    }
}
