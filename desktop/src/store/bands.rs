//! Bands the app has connected to, known by their stable address (BLE address, or `sim:...` for the virtual band).

use rusqlite::{OptionalExtension, params};

use super::profiles::check_name;
use super::{BandId, Store, StoreError, UnixMs};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Band {
    pub id: BandId,
    pub address: String,
    pub name: String,
    pub first_seen_ms: UnixMs,
}

impl Store {
    /// Returns the band with this address, adding it if it is new (an existing band keeps its name).
    pub fn upsert_band(
        &self,
        address: &str,
        name: &str,
        seen_at_ms: UnixMs,
    ) -> Result<BandId, StoreError> {
        if address.is_empty() || address.chars().any(char::is_control) {
            return Err(StoreError::Invalid {
                what: "band address",
                reason: format!("{address:?} is empty or has control characters"),
            });
        }
        check_name("band name", name)?;
        if let Some(band) = self.band_by_address(address)? {
            return Ok(band.id);
        }
        self.conn.execute(
            "INSERT INTO bands (address, name, first_seen_ms) VALUES (?1, ?2, ?3)",
            params![address, name, seen_at_ms],
        )?;
        Ok(BandId(self.conn.last_insert_rowid()))
    }

    pub fn band(&self, id: BandId) -> Result<Band, StoreError> {
        self.conn
            .query_row(
                "SELECT id, address, name, first_seen_ms FROM bands WHERE id = ?1",
                [id],
                row_to_band,
            )
            .optional()?
            .ok_or(StoreError::NotFound {
                what: "band",
                id: id.0,
            })
    }

    pub fn band_by_address(&self, address: &str) -> Result<Option<Band>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, address, name, first_seen_ms FROM bands WHERE address = ?1",
                [address],
                row_to_band,
            )
            .optional()?)
    }

    pub fn bands(&self) -> Result<Vec<Band>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, address, name, first_seen_ms FROM bands ORDER BY id")?;
        let rows = stmt.query_map([], row_to_band)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn rename_band(&self, id: BandId, name: &str) -> Result<(), StoreError> {
        check_name("band name", name)?;
        match self.conn.execute(
            "UPDATE bands SET name = ?2 WHERE id = ?1",
            params![id, name],
        )? {
            0 => Err(StoreError::NotFound {
                what: "band",
                id: id.0,
            }),
            _ => Ok(()),
        }
    }
}

fn row_to_band(row: &rusqlite::Row<'_>) -> rusqlite::Result<Band> {
    Ok(Band {
        id: row.get(0)?,
        address: row.get(1)?,
        name: row.get(2)?,
        first_seen_ms: row.get(3)?,
    })
}
