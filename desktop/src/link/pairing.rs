//! Pairing with a band: what the user types, and how pairing can fail.
//!
//! A band only answers the desktop it is bonded with (LE Secure Connections, passkey entry: the
//! band shows six digits on its screen, the user types them on the desktop). [`Link::pair`]
//! asks a [`PasskeyEntry`] for the code once the band shows it; [`PairError`] names every way
//! it can end, each with the user's next step. [`Link::unpair`] forgets the bond on this desktop.
//!
//! [`Link::pair`]: super::Link::pair
//! [`Link::unpair`]: super::Link::unpair

use std::time::Duration;

use async_trait::async_trait;

use super::LinkError;

/// The largest passkey: six decimal digits.
pub const MAX_PASSKEY: u32 = 999_999;

/// Where the code the band shows comes from: the user, typing it.
#[async_trait]
pub trait PasskeyEntry: Send + Sync {
    /// The six-digit code the band shows, as the user typed it; None = cancelled.
    async fn passkey(&self) -> Option<u32>;
}

/// A code known in advance (`bandx pair --code 123456`, tests).
pub struct KnownPasskey(pub u32);

#[async_trait]
impl PasskeyEntry for KnownPasskey {
    async fn passkey(&self) -> Option<u32> {
        Some(self.0)
    }
}

/// Reads a code as a person types it: six digits, spaces or dashes between groups allowed
/// ("123 456", "123-456"). `None` for anything else (letters, too few or too many digits).
pub fn parse_passkey(typed: &str) -> Option<u32> {
    let digits: String = typed
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .collect();
    if digits.len() != 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// How a pairing can fail, as the Bands screen and `bandx pair` say it.
#[derive(Debug, thiserror::Error)]
pub enum PairError {
    /// The band compared the code and it was not the one on its screen.
    #[error(
        "the code did not match: pair again and type the six digits the band shows on its screen"
    )]
    WrongCode,
    /// Nobody finished in time (the band gives up 30 s after showing its code).
    #[error(
        "pairing timed out after {0:?}: pair again and type the band's code as soon as it appears"
    )]
    Timeout(Duration),
    /// The band refused to start pairing: it only accepts a new desktop when it holds no bond,
    /// for 2 minutes after it is switched on, or after its button is held.
    #[error(
        "the band is not in pairing mode: switch it off and on again (or hold its button), then pair within 2 minutes"
    )]
    NotInPairingMode,
    /// The band refused because it is bonded with another desktop.
    #[error(
        "the band is paired with another desktop: switch it off and on again (or hold its button) to let this desktop pair, then pair within 2 minutes"
    )]
    BondedElsewhere,
    /// The user cancelled (no code typed).
    #[error("pairing cancelled")]
    Cancelled,
    /// The link itself failed (no adapter, band not found, connection lost...).
    #[error(transparent)]
    Link(#[from] LinkError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_codes() {
        assert_eq!(parse_passkey("123456"), Some(123_456));
        assert_eq!(parse_passkey(" 000042\n"), Some(42));
        assert_eq!(parse_passkey("123 456"), Some(123_456));
        assert_eq!(parse_passkey("123-456"), Some(123_456));
        assert_eq!(parse_passkey("12345"), None);
        assert_eq!(parse_passkey("1234567"), None);
        assert_eq!(parse_passkey("12345a"), None);
        assert_eq!(parse_passkey("+12345"), None);
        assert_eq!(parse_passkey(""), None);
        assert_eq!(parse_passkey("١٢٣٤٥٦"), None, "digits outside ASCII");
    }
}
