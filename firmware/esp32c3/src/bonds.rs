//! The band's bonds (issue 17): up to [`MAX_BONDS`] centrals that paired with LE Secure Connections and MITM
//! protection (passkey entry), kept in sectors 2-3 of the `keys` partition (sectors 0-1 hold the owner record,
//! [`bandx_core::owner`]) and handed back to trouble-host at boot, so a bonded desktop reconnects encrypted
//! without pairing again. Only authenticated bonds are ever stored or restored.
//!
//! Power-cut safe: each of the two sectors holds a whole table: magic `BXbd`, a sequence number (u32 LE), the
//! count, [`MAX_BONDS`] entries, and the SHA-256 of all that. A new table goes to the sector that does not hold
//! the newest one (erased first), so a write torn by a power cut fails its digest and the previous table is read.
//! Entry (44 bytes): address kind, address (6, as trouble-host holds it), IRK present (0/1), IRK (16, LE),
//! LTK (16, LE), security level (2 = encrypted + authenticated), three zero bytes.

use bandx_core::blob::sha256;
use bandx_core::update::StorageError;
use esp_storage::FlashStorage;
use trouble_host::prelude::*;

/// Bonds the band keeps (bandx-core's pairing policy); the oldest goes when one more central pairs.
pub const MAX_BONDS: usize = bandx_core::pairing::MAX_BONDS;
/// Bytes of flash the bonds occupy: two sectors.
pub const BONDS_LEN: u32 = 2 * SECTOR;

const SECTOR: u32 = FlashStorage::SECTOR_SIZE;
const MAGIC: [u8; 4] = *b"BXbd";
const HEADER: usize = 12;
const ENTRY: usize = 44;
const DIGEST_AT: usize = HEADER + MAX_BONDS * ENTRY;
/// A whole table: header, entries, digest (a multiple of the flash's 4-byte write unit).
const TABLE: usize = DIGEST_AT + 32;
const AUTHENTICATED: u8 = 2;

/// The stored bonds, oldest first, and where the newest table is.
pub struct Bonds {
    list: heapless::Vec<BondInformation, MAX_BONDS>,
    seq: u32,
    /// The sector (0 or 1) holding the newest valid table, if any.
    newest: Option<u32>,
}

impl Bonds {
    /// Reads the newest valid table from the two sectors at `base`; none valid means no bonds.
    pub fn load(flash: &mut FlashStorage<'_>, base: u32) -> Bonds {
        let mut best: Option<(u32, u32, heapless::Vec<BondInformation, MAX_BONDS>)> = None;
        for sector in 0..2 {
            let mut table = [0u8; TABLE];
            if flash.read(base + sector * SECTOR, &mut table).is_err() {
                continue;
            }
            if let Some((seq, list)) = decode(&table)
                && best.as_ref().is_none_or(|(s, _, _)| seq > *s)
            {
                best = Some((seq, sector, list));
            }
        }
        match best {
            Some((seq, sector, list)) => Bonds {
                list,
                seq,
                newest: Some(sector),
            },
            None => Bonds {
                list: heapless::Vec::new(),
                seq: 0,
                newest: None,
            },
        }
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// The stored bonds, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &BondInformation> {
        self.list.iter()
    }

    /// Adds `bond` as the newest (replacing an older bond of the same central). When [`MAX_BONDS`] are held, the
    /// oldest is dropped and returned, for the caller to remove from the BLE stack too.
    pub fn insert(&mut self, bond: BondInformation) -> Option<BondInformation> {
        if let Some(i) = self
            .list
            .iter()
            .position(|b| b.identity.match_identity(&bond.identity))
        {
            self.list.remove(i);
        }
        let evicted = if self.list.is_full() {
            Some(self.list.remove(0))
        } else {
            None
        };
        // Cannot fail: one place was freed above if the list was full.
        let _ = self.list.push(bond);
        evicted
    }

    /// Writes the table to the sector that does not hold the newest one; from then on it is the newest.
    pub fn store(&mut self, flash: &mut FlashStorage<'_>, base: u32) -> Result<(), StorageError> {
        let sector = match self.newest {
            Some(0) => 1,
            _ => 0,
        };
        let seq = self.seq.wrapping_add(1);
        let table = encode(seq, &self.list);
        let at = base + sector * SECTOR;
        flash.erase(at, at + SECTOR).map_err(|_| StorageError)?;
        flash.write_nor(at, &table).map_err(|_| StorageError)?;
        self.seq = seq;
        self.newest = Some(sector);
        Ok(())
    }
}

fn encode(seq: u32, list: &[BondInformation]) -> [u8; TABLE] {
    let mut t = [0u8; TABLE];
    t[..4].copy_from_slice(&MAGIC);
    t[4..8].copy_from_slice(&seq.to_le_bytes());
    t[8] = list.len() as u8;
    for (i, bond) in list.iter().enumerate() {
        let e = &mut t[HEADER + i * ENTRY..HEADER + (i + 1) * ENTRY];
        let address = bond.identity.addr;
        e[0] = address.kind.as_raw();
        e[1..7].copy_from_slice(address.addr.raw());
        if let Some(irk) = bond.identity.irk {
            e[7] = 1;
            e[8..24].copy_from_slice(&irk.to_le_bytes());
        }
        e[24..40].copy_from_slice(&bond.ltk.to_le_bytes());
        e[40] = AUTHENTICATED;
    }
    let digest = sha256(&t[..DIGEST_AT]);
    t[DIGEST_AT..].copy_from_slice(&digest);
    t
}

/// The sequence number and bonds of a valid table; `None` for an erased, torn or foreign sector.
fn decode(t: &[u8; TABLE]) -> Option<(u32, heapless::Vec<BondInformation, MAX_BONDS>)> {
    if t[..4] != MAGIC || sha256(&t[..DIGEST_AT])[..] != t[DIGEST_AT..] {
        return None;
    }
    let seq = u32::from_le_bytes([t[4], t[5], t[6], t[7]]);
    let count = usize::from(t[8]);
    if count > MAX_BONDS {
        return None;
    }
    let mut list = heapless::Vec::new();
    for e in t[HEADER..].chunks_exact(ENTRY).take(count) {
        if e[40] != AUTHENTICATED || e[7] > 1 {
            return None;
        }
        let mut addr = [0u8; 6];
        addr.copy_from_slice(&e[1..7]);
        let mut key = [0u8; 16];
        key.copy_from_slice(&e[8..24]);
        let irk = if e[7] == 1 {
            Some(IdentityResolvingKey::from_le_bytes(key)?)
        } else {
            None
        };
        key.copy_from_slice(&e[24..40]);
        let identity = Identity {
            addr: Address::new(AddrKind::new(e[0]), BdAddr::new(addr)),
            irk,
        };
        let bond = BondInformation::new(
            identity,
            LongTermKey::from_le_bytes(key),
            SecurityLevel::EncryptedAuthenticated,
            true,
        );
        list.push(bond).ok()?;
    }
    Some((seq, list))
}
