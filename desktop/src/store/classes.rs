//! A profile's own activity classes ("walk", "brush teeth", ...): add, rename, delete.

use rusqlite::{OptionalExtension, params};

use super::profiles::check_name;
use super::{ClassId, ProfileId, Store, StoreError, UnixMs};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ActivityClass {
    pub id: ClassId,
    pub profile: ProfileId,
    pub name: String,
    pub created_at_ms: UnixMs,
}

impl Store {
    /// Adds a class; names are unique per profile, ignoring case.
    pub fn add_class(
        &self,
        profile: ProfileId,
        name: &str,
        created_at_ms: UnixMs,
    ) -> Result<ClassId, StoreError> {
        check_name("class name", name)?;
        self.profile(profile)?;
        if self.class_by_name(profile, name)?.is_some() {
            return Err(StoreError::ClassExists(name.to_owned()));
        }
        self.conn.execute(
            "INSERT INTO activity_classes (profile_id, name, created_at_ms) VALUES (?1, ?2, ?3)",
            params![profile, name, created_at_ms],
        )?;
        Ok(ClassId(self.conn.last_insert_rowid()))
    }

    pub fn rename_class(&self, id: ClassId, name: &str) -> Result<(), StoreError> {
        check_name("class name", name)?;
        let class = self.class(id)?;
        if let Some(other) = self.class_by_name(class.profile, name)?
            && other.id != id
        {
            return Err(StoreError::ClassExists(name.to_owned()));
        }
        self.conn.execute(
            "UPDATE activity_classes SET name = ?2 WHERE id = ?1",
            params![id, name],
        )?;
        Ok(())
    }

    /// Deletes a class together with its recordings and their windows (the UI asks first).
    pub fn delete_class(&self, id: ClassId) -> Result<(), StoreError> {
        match self
            .conn
            .execute("DELETE FROM activity_classes WHERE id = ?1", [id])?
        {
            0 => Err(StoreError::NotFound {
                what: "class",
                id: id.0,
            }),
            _ => Ok(()),
        }
    }

    pub fn class(&self, id: ClassId) -> Result<ActivityClass, StoreError> {
        self.conn
            .query_row(
                "SELECT id, profile_id, name, created_at_ms FROM activity_classes WHERE id = ?1",
                [id],
                row_to_class,
            )
            .optional()?
            .ok_or(StoreError::NotFound {
                what: "class",
                id: id.0,
            })
    }

    pub fn class_by_name(
        &self,
        profile: ProfileId,
        name: &str,
    ) -> Result<Option<ActivityClass>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, profile_id, name, created_at_ms FROM activity_classes
                 WHERE profile_id = ?1 AND name = ?2",
                params![profile, name],
                row_to_class,
            )
            .optional()?)
    }

    /// The profile's classes, in the order they were added.
    pub fn classes(&self, profile: ProfileId) -> Result<Vec<ActivityClass>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, profile_id, name, created_at_ms FROM activity_classes WHERE profile_id = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([profile], row_to_class)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

fn row_to_class(row: &rusqlite::Row<'_>) -> rusqlite::Result<ActivityClass> {
    Ok(ActivityClass {
        id: row.get(0)?,
        profile: row.get(1)?,
        name: row.get(2)?,
        created_at_ms: row.get(3)?,
    })
}
