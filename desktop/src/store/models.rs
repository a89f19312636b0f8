//! Trained models: the int8 blob the band runs, with what it was made from and how well it did.

use rusqlite::{OptionalExtension, params};

use super::outdated::outdated_reason;
use super::{ModelId, ProfileId, Store, StoreError, UnixMs};

#[derive(Debug, Clone, PartialEq)]
pub struct NewModel {
    /// Which pre-trained backbone was personalized.
    pub backbone_id: String,
    /// Class labels in the model's output order.
    pub classes: Vec<String>,
    /// Evaluation results (accuracies, confusion matrix, ...), free-form JSON.
    pub metrics: serde_json::Value,
    /// The model blob in bandx-core's format.
    pub blob: Vec<u8>,
    pub created_at_ms: UnixMs,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Model {
    pub id: ModelId,
    pub profile: ProfileId,
    /// 1, 2, 3, ... per profile.
    pub version: u32,
    pub backbone_id: String,
    pub classes: Vec<String>,
    pub metrics: serde_json::Value,
    #[serde(skip)]
    pub blob: Vec<u8>,
    pub created_at_ms: UnixMs,
    /// Why the band cannot run this blob with this build (another blob format version), as a
    /// short phrase; `None` when it can. Computed from the blob when read, never stored: the row
    /// stays as it was, so the model can still be listed, exported, and trained again.
    pub outdated: Option<String>,
}

impl Store {
    /// Stores a model as the profile's next version; returns its id and version.
    pub fn add_model(
        &self,
        profile: ProfileId,
        new: &NewModel,
    ) -> Result<(ModelId, u32), StoreError> {
        self.profile(profile)?;
        let version: u32 = self.conn.query_row(
            "SELECT COALESCE(MAX(version), 0) + 1 FROM models WHERE profile_id = ?1",
            [profile],
            |row| row.get(0),
        )?;
        let id = self.insert_model(profile, version, new)?;
        Ok((id, version))
    }

    pub(crate) fn insert_model(
        &self,
        profile: ProfileId,
        version: u32,
        new: &NewModel,
    ) -> Result<ModelId, StoreError> {
        self.conn.execute(
            "INSERT INTO models (profile_id, version, backbone_id, classes_json, metrics_json, blob, created_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                profile,
                version,
                new.backbone_id,
                serde_json::to_string(&new.classes).map_err(|source| StoreError::Json { what: "model classes", source })?,
                new.metrics.to_string(),
                new.blob,
                new.created_at_ms
            ],
        )?;
        Ok(ModelId(self.conn.last_insert_rowid()))
    }

    pub fn model(&self, id: ModelId) -> Result<Model, StoreError> {
        let raw = self
            .conn
            .query_row(&format!("{MODEL_SELECT} WHERE id = ?1"), [id], row_to_raw)
            .optional()?
            .ok_or(StoreError::NotFound {
                what: "model",
                id: id.0,
            })?;
        raw.decode()
    }

    /// The profile's models, oldest version first.
    pub fn models(&self, profile: ProfileId) -> Result<Vec<Model>, StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "{MODEL_SELECT} WHERE profile_id = ?1 ORDER BY version"
        ))?;
        let rows = stmt.query_map([profile], row_to_raw)?;
        rows.map(|raw| raw?.decode()).collect()
    }

    /// The profile's newest model, if any.
    pub fn latest_model(&self, profile: ProfileId) -> Result<Option<Model>, StoreError> {
        Ok(self.models(profile)?.pop())
    }

    /// Deletes a model; its deployments stay in the history without it.
    pub fn delete_model(&self, id: ModelId) -> Result<(), StoreError> {
        match self
            .conn
            .execute("DELETE FROM models WHERE id = ?1", [id])?
        {
            0 => Err(StoreError::NotFound {
                what: "model",
                id: id.0,
            }),
            _ => Ok(()),
        }
    }
}

const MODEL_SELECT: &str = "SELECT id, profile_id, version, backbone_id, classes_json, metrics_json, blob, created_at_ms FROM models";

struct RawModel {
    model: Model,
    classes_json: String,
    metrics_json: String,
}

impl RawModel {
    fn decode(mut self) -> Result<Model, StoreError> {
        self.model.classes =
            serde_json::from_str(&self.classes_json).map_err(|source| StoreError::Json {
                what: "model classes",
                source,
            })?;
        self.model.metrics =
            serde_json::from_str(&self.metrics_json).map_err(|source| StoreError::Json {
                what: "model metrics",
                source,
            })?;
        self.model.outdated = outdated_reason(&self.model.blob);
        Ok(self.model)
    }
}

fn row_to_raw(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawModel> {
    Ok(RawModel {
        model: Model {
            id: row.get(0)?,
            profile: row.get(1)?,
            version: row.get(2)?,
            backbone_id: row.get(3)?,
            classes: Vec::new(),
            metrics: serde_json::Value::Null,
            blob: row.get(6)?,
            created_at_ms: row.get(7)?,
            outdated: None,
        },
        classes_json: row.get(4)?,
        metrics_json: row.get(5)?,
    })
}
