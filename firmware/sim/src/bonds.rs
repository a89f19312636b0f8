//! The virtual band's bonds: which desktops paired with it, and the long-term key each one holds.
//!
//! A real band's BLE stack keeps them in flash (NimBLE in NVS, the C3 firmware in its own sector); the virtual
//! band keeps them in the third sector of its `nvs` partition, as one record:
//! `"BXBD" | count u8 | count x (address [u8; 6] | ltk [u8; 16]) | crc32 of all before it`. Storing erases the
//! sector and programs the whole record; a power cut in between leaves a record that fails its CRC, which reads
//! as no bonds (every desktop pairs again, as after a factory reset) — never as a bond nobody made.

use bandx_core::pairing::MAX_BONDS;

const MAGIC: &[u8; 4] = b"BXBD";
const ENTRY_LEN: usize = 6 + 16;
const CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// Offset of the bond record inside the `nvs` partition (its third 4 KB sector; the first two hold the
/// active-slot record).
pub const BONDS_SECTOR: u32 = 2;

/// One bonded desktop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bond {
    /// The desktop's (identity) address.
    pub address: [u8; 6],
    /// The long-term key the pairing produced: a reconnect that proves it is encrypted and authenticated at once.
    pub ltk: [u8; 16],
}

/// The bonds, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bonds(Vec<Bond>);

impl Bonds {
    /// The bonds in a record; an erased, torn or foreign record holds none.
    pub fn decode(record: &[u8]) -> Bonds {
        let parse = || -> Option<Vec<Bond>> {
            let count = usize::from(*record.get(4)?);
            if record.get(..4)? != MAGIC || count > MAX_BONDS {
                return None;
            }
            let end = 5 + count * ENTRY_LEN;
            let crc = record.get(end..end + 4)?;
            if CRC.checksum(&record[..end]).to_le_bytes() != crc {
                return None;
            }
            Some(
                record[5..end]
                    .chunks_exact(ENTRY_LEN)
                    .map(|e| Bond {
                        address: e[..6].try_into().expect("6 bytes"),
                        ltk: e[6..].try_into().expect("16 bytes"),
                    })
                    .collect(),
            )
        };
        Bonds(parse().unwrap_or_default())
    }

    /// The record that stores these bonds.
    pub fn encode(&self) -> Vec<u8> {
        let mut r = MAGIC.to_vec();
        r.push(self.0.len() as u8);
        for b in &self.0 {
            r.extend_from_slice(&b.address);
            r.extend_from_slice(&b.ltk);
        }
        let crc = CRC.checksum(&r);
        r.extend_from_slice(&crc.to_le_bytes());
        r
    }

    /// How many desktops are bonded.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no desktop is bonded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `address` holds this long-term key.
    pub fn proves(&self, address: &[u8; 6], ltk: &[u8; 16]) -> bool {
        self.0
            .iter()
            .any(|b| b.address == *address && b.ltk == *ltk)
    }

    /// Adds (or renews) the bond of `bond.address`; with [`MAX_BONDS`] taken, the oldest one goes.
    pub fn insert(&mut self, bond: Bond) {
        self.0.retain(|b| b.address != bond.address);
        if self.0.len() == MAX_BONDS {
            self.0.remove(0);
        }
        self.0.push(bond);
    }

    /// Drops the bond of `address` (the desktop unpaired); whether there was one.
    pub fn remove(&mut self, address: &[u8; 6]) -> bool {
        let before = self.0.len();
        self.0.retain(|b| b.address != *address);
        self.0.len() != before
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bond(n: u8) -> Bond {
        Bond {
            address: [n; 6],
            ltk: [n ^ 0x5A; 16],
        }
    }

    #[test]
    fn bonds_round_trip_and_a_torn_record_holds_none() {
        let mut bonds = Bonds::default();
        bonds.insert(bond(1));
        bonds.insert(bond(2));
        let record = bonds.encode();
        assert_eq!(Bonds::decode(&record), bonds);
        for cut in 0..record.len() {
            let mut torn = vec![0xFF; 4096];
            torn[..cut].copy_from_slice(&record[..cut]);
            assert!(Bonds::decode(&torn).is_empty(), "cut at {cut}");
        }
        assert!(Bonds::decode(&[0xFF; 4096]).is_empty());
    }

    #[test]
    fn the_oldest_bond_makes_room_and_a_renewed_bond_replaces_its_key() {
        let mut bonds = Bonds::default();
        for n in 1..=MAX_BONDS as u8 + 1 {
            bonds.insert(bond(n));
        }
        assert_eq!(bonds.len(), MAX_BONDS);
        assert!(!bonds.proves(&[1; 6], &bond(1).ltk));
        let renewed = Bond {
            address: [2; 6],
            ltk: [9; 16],
        };
        bonds.insert(renewed);
        assert!(bonds.proves(&[2; 6], &[9; 16]) && !bonds.proves(&[2; 6], &bond(2).ltk));
        assert!(bonds.remove(&[2; 6]) && !bonds.remove(&[2; 6]));
    }
}
