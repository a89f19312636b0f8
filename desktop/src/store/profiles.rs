//! Profiles: the people using this copy of BandX Studio.

use rusqlite::{OptionalExtension, params};

use super::{ProfileId, Store, StoreError, UnixMs};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, ts_rs::TS)]
pub struct Profile {
    pub id: ProfileId,
    pub name: String,
    pub created_at_ms: UnixMs,
}

/// A name shown to the user (profile, class, band): not blank, no control characters, at most 64 characters.
pub(crate) fn check_name(what: &'static str, name: &str) -> Result<(), StoreError> {
    let reason = if name.trim().is_empty() {
        "must not be blank"
    } else if name.chars().count() > 64 {
        "must be at most 64 characters"
    } else if name.chars().any(char::is_control) {
        "must not contain control characters"
    } else {
        return Ok(());
    };
    Err(StoreError::Invalid {
        what,
        reason: format!("{name:?} {reason}"),
    })
}

impl Store {
    pub fn create_profile(
        &self,
        name: &str,
        created_at_ms: UnixMs,
    ) -> Result<ProfileId, StoreError> {
        check_name("profile name", name)?;
        if self.profile_by_name(name)?.is_some() {
            return Err(StoreError::ProfileExists(name.to_owned()));
        }
        self.conn.execute(
            "INSERT INTO profiles (name, created_at_ms) VALUES (?1, ?2)",
            params![name, created_at_ms],
        )?;
        Ok(ProfileId(self.conn.last_insert_rowid()))
    }

    pub fn profile(&self, id: ProfileId) -> Result<Profile, StoreError> {
        self.conn
            .query_row(
                "SELECT id, name, created_at_ms FROM profiles WHERE id = ?1",
                [id],
                row_to_profile,
            )
            .optional()?
            .ok_or(StoreError::NotFound {
                what: "profile",
                id: id.0,
            })
    }

    /// Looks a profile up by name (case-insensitive).
    pub fn profile_by_name(&self, name: &str) -> Result<Option<Profile>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, name, created_at_ms FROM profiles WHERE name = ?1",
                [name],
                row_to_profile,
            )
            .optional()?)
    }

    pub fn profiles(&self) -> Result<Vec<Profile>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, name, created_at_ms FROM profiles ORDER BY id")?;
        let rows = stmt.query_map([], row_to_profile)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Deletes a profile and everything it owns (classes, recordings, windows, models, deployments, predictions).
    pub fn delete_profile(&self, id: ProfileId) -> Result<(), StoreError> {
        match self
            .conn
            .execute("DELETE FROM profiles WHERE id = ?1", [id])?
        {
            0 => Err(StoreError::NotFound {
                what: "profile",
                id: id.0,
            }),
            _ => Ok(()),
        }
    }
}

fn row_to_profile(row: &rusqlite::Row<'_>) -> rusqlite::Result<Profile> {
    Ok(Profile {
        id: row.get(0)?,
        name: row.get(1)?,
        created_at_ms: row.get(2)?,
    })
}
