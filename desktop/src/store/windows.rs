//! Calibration windows: a span of a recording (start index; the length is the model's window, 60 samples)
//! with the quality check's verdict and, when rejected, the reason shown to the user.

use rusqlite::{OptionalExtension, params};

use super::{ClassId, RecordingId, Store, StoreError, WindowId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Good,
    Rejected,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Good => "good",
            Verdict::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "good" => Some(Verdict::Good),
            "rejected" => Some(Verdict::Rejected),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWindow {
    pub start_index: u64,
    pub verdict: Verdict,
    /// Why the window was rejected ("lost frames", "clipping", ...), or a note on a good one.
    /// An empty reason is stored as none.
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CalibrationWindow {
    pub id: WindowId,
    pub recording: RecordingId,
    pub start_index: u64,
    pub verdict: Verdict,
    pub reason: Option<String>,
}

impl Store {
    pub fn add_window(
        &self,
        recording: RecordingId,
        new: &NewWindow,
    ) -> Result<WindowId, StoreError> {
        self.recording(recording)?;
        self.conn.execute(
            "INSERT INTO calibration_windows (recording_id, start_index, verdict, reason) VALUES (?1, ?2, ?3, ?4)",
            params![
                recording,
                new.start_index,
                new.verdict.as_str(),
                new.reason.as_deref().filter(|r| !r.is_empty())
            ],
        )?;
        Ok(WindowId(self.conn.last_insert_rowid()))
    }

    pub fn window(&self, id: WindowId) -> Result<CalibrationWindow, StoreError> {
        self.conn
            .query_row(
                &format!("{WINDOW_SELECT} WHERE w.id = ?1"),
                [id],
                row_to_window,
            )
            .optional()?
            .ok_or(StoreError::NotFound {
                what: "window",
                id: id.0,
            })
    }

    /// A recording's windows, in the order they were added.
    pub fn windows(&self, recording: RecordingId) -> Result<Vec<CalibrationWindow>, StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "{WINDOW_SELECT} WHERE w.recording_id = ?1 ORDER BY w.id"
        ))?;
        let rows = stmt.query_map([recording], row_to_window)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every window of every recording of a class (e.g. to count the good ones: 0/15).
    pub fn windows_of_class(&self, class: ClassId) -> Result<Vec<CalibrationWindow>, StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "{WINDOW_SELECT} JOIN recordings r ON r.id = w.recording_id WHERE r.class_id = ?1 ORDER BY w.id"
        ))?;
        let rows = stmt.query_map([class], row_to_window)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Forgets a window (re-record it).
    pub fn delete_window(&self, id: WindowId) -> Result<(), StoreError> {
        match self
            .conn
            .execute("DELETE FROM calibration_windows WHERE id = ?1", [id])?
        {
            0 => Err(StoreError::NotFound {
                what: "window",
                id: id.0,
            }),
            _ => Ok(()),
        }
    }
}

const WINDOW_SELECT: &str =
    "SELECT w.id, w.recording_id, w.start_index, w.verdict, w.reason FROM calibration_windows w";

fn row_to_window(row: &rusqlite::Row<'_>) -> rusqlite::Result<CalibrationWindow> {
    let verdict: String = row.get(3)?;
    Ok(CalibrationWindow {
        id: row.get(0)?,
        recording: row.get(1)?,
        start_index: row.get(2)?,
        verdict: Verdict::parse(&verdict).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                3,
                rusqlite::types::Type::Text,
                format!("unknown verdict {verdict:?}").into(),
            )
        })?,
        reason: row.get(4)?,
    })
}
