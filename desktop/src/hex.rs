//! Lower-case hexadecimal text of bytes, and back: digests in reports and exports, keys in the virtual band's
//! bond file.

/// `bytes` as lower-case hex, two digits a byte.
pub fn encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Exactly `N` bytes from their hex text; `None` for anything else.
pub fn decode<const N: usize>(text: &str) -> Option<[u8; N]> {
    let bytes: Vec<u8> = (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect::<Option<_>>()?;
    bytes.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_refuses_what_is_not_n_bytes_of_it() {
        assert_eq!(encode(&[0x00, 0xab, 0x7f]), "00ab7f");
        assert_eq!(decode::<3>("00ab7f"), Some([0x00, 0xab, 0x7f]));
        for bad in ["00ab7", "00ab7f00", "00xb7f", "", "é0ab"] {
            assert_eq!(decode::<3>(bad), None, "{bad:?}");
        }
    }
}
