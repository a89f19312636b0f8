//! Deployments: each attempt to write a model (or a whole firmware) to a band, with how far it got.

use rusqlite::{OptionalExtension, params};

use super::{BandId, DeploymentId, ModelId, ProfileId, Store, StoreError, UnixMs};

/// How the bytes travel.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, ts_rs::TS,
)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    /// BLE OTA, model blob only (the default).
    BleModel,
    /// BLE OTA, full firmware image.
    BleFirmware,
    /// USB serial with espflash.
    Usb,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, ts_rs::TS,
)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentStatus {
    Pending,
    Transferring,
    /// All bytes written and the band committed the update.
    Committed,
    /// The band reports the new model/firmware active.
    Verified,
    Failed,
    Cancelled,
}

macro_rules! text_enum {
    ($ty:ident { $($variant:ident = $text:literal),* $(,)? }) => {
        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $text),* }
            }
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some($ty::$variant),)* _ => None }
            }
        }
    };
}

text_enum!(Transport { BleModel = "ble_model", BleFirmware = "ble_firmware", Usb = "usb" });
text_enum!(DeploymentStatus {
    Pending = "pending",
    Transferring = "transferring",
    Committed = "committed",
    Verified = "verified",
    Failed = "failed",
    Cancelled = "cancelled",
});

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDeployment {
    /// The model written; `None` for a firmware image without a stored model.
    pub model: Option<ModelId>,
    pub band: BandId,
    pub transport: Transport,
    pub started_at_ms: UnixMs,
    pub bytes_total: u64,
}

/// A progress report: the new state of a deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentUpdate {
    pub status: DeploymentStatus,
    pub bytes_sent: u64,
    /// Times the transfer resumed from the band's reported offset after a disconnect.
    pub resumed_count: u32,
    pub finished_at_ms: Option<UnixMs>,
    /// What went wrong, for a failed deployment (an empty message is stored as none).
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, ts_rs::TS)]
pub struct Deployment {
    pub id: DeploymentId,
    pub profile: ProfileId,
    pub model: Option<ModelId>,
    pub band: BandId,
    pub transport: Transport,
    pub status: DeploymentStatus,
    pub started_at_ms: UnixMs,
    pub finished_at_ms: Option<UnixMs>,
    pub bytes_total: u64,
    pub bytes_sent: u64,
    pub resumed_count: u32,
    pub error: Option<String>,
}

impl Store {
    /// Records a deployment as `Pending`.
    pub fn start_deployment(
        &self,
        profile: ProfileId,
        new: &NewDeployment,
    ) -> Result<DeploymentId, StoreError> {
        if let Some(model) = new.model
            && self.model(model)?.profile != profile
        {
            return Err(StoreError::Invalid {
                what: "deployment model",
                reason: format!("model {model} belongs to another profile"),
            });
        }
        self.conn.execute(
            "INSERT INTO deployments (profile_id, model_id, band_id, transport, status, started_at_ms,
                                      bytes_total, bytes_sent, resumed_count)
             VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?6, 0, 0)",
            params![
                profile,
                new.model,
                new.band,
                new.transport.as_str(),
                new.started_at_ms,
                new.bytes_total
            ],
        )?;
        Ok(DeploymentId(self.conn.last_insert_rowid()))
    }

    pub fn update_deployment(
        &self,
        id: DeploymentId,
        update: &DeploymentUpdate,
    ) -> Result<(), StoreError> {
        let changed = self.conn.execute(
            "UPDATE deployments SET status = ?2, bytes_sent = ?3, resumed_count = ?4, finished_at_ms = ?5, error = ?6
             WHERE id = ?1",
            params![
                id,
                update.status.as_str(),
                update.bytes_sent,
                update.resumed_count,
                update.finished_at_ms,
                update.error.as_deref().filter(|e| !e.is_empty())
            ],
        )?;
        match changed {
            0 => Err(StoreError::NotFound {
                what: "deployment",
                id: id.0,
            }),
            _ => Ok(()),
        }
    }

    pub fn deployment(&self, id: DeploymentId) -> Result<Deployment, StoreError> {
        self.conn
            .query_row(
                &format!("{DEPLOYMENT_SELECT} WHERE id = ?1"),
                [id],
                row_to_deployment,
            )
            .optional()?
            .ok_or(StoreError::NotFound {
                what: "deployment",
                id: id.0,
            })
    }

    /// The profile's deployments, oldest first.
    pub fn deployments(&self, profile: ProfileId) -> Result<Vec<Deployment>, StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "{DEPLOYMENT_SELECT} WHERE profile_id = ?1 ORDER BY id"
        ))?;
        let rows = stmt.query_map([profile], row_to_deployment)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

const DEPLOYMENT_SELECT: &str =
    "SELECT id, profile_id, model_id, band_id, transport, status, started_at_ms,
    finished_at_ms, bytes_total, bytes_sent, resumed_count, error FROM deployments";

fn bad_text(col: usize, what: &str, value: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        col,
        rusqlite::types::Type::Text,
        format!("unknown {what} {value:?}").into(),
    )
}

fn row_to_deployment(row: &rusqlite::Row<'_>) -> rusqlite::Result<Deployment> {
    let transport: String = row.get(4)?;
    let status: String = row.get(5)?;
    Ok(Deployment {
        id: row.get(0)?,
        profile: row.get(1)?,
        model: row.get(2)?,
        band: row.get(3)?,
        transport: Transport::parse(&transport)
            .ok_or_else(|| bad_text(4, "transport", &transport))?,
        status: DeploymentStatus::parse(&status).ok_or_else(|| bad_text(5, "status", &status))?,
        started_at_ms: row.get(6)?,
        finished_at_ms: row.get(7)?,
        bytes_total: row.get(8)?,
        bytes_sent: row.get(9)?,
        resumed_count: row.get(10)?,
        error: row.get(11)?,
    })
}
