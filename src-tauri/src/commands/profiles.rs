//! Profiles and their activity classes (the Calibrate screen's left side).

use serde::Serialize;
use tauri::State;

use crate::UiError;
use crate::state::{AppState, now_ms};
use bandx_desktop::store::{ClassId, Profile, ProfileId, Verdict};

/// A class with how much calibration it has.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct ClassView {
    pub id: ClassId,
    pub name: String,
    /// Good calibration windows recorded so far.
    pub good_windows: usize,
}

#[tauri::command]
pub async fn list_profiles(state: State<'_, AppState>) -> Result<Vec<Profile>, UiError> {
    Ok(state.store().profiles()?)
}

#[tauri::command]
pub async fn create_profile(state: State<'_, AppState>, name: String) -> Result<Profile, UiError> {
    let store = state.store();
    let id = store.create_profile(name.trim(), now_ms())?;
    Ok(store.profile(id)?)
}

/// Deletes a profile and everything it owns (the UI asks first).
#[tauri::command]
pub async fn delete_profile(state: State<'_, AppState>, profile: ProfileId) -> Result<(), UiError> {
    Ok(state.store().delete_profile(profile)?)
}

#[tauri::command]
pub async fn list_classes(
    state: State<'_, AppState>,
    profile: ProfileId,
) -> Result<Vec<ClassView>, UiError> {
    let store = state.store();
    let mut out = Vec::new();
    for class in store.classes(profile)? {
        let good_windows = store
            .windows_of_class(class.id)?
            .iter()
            .filter(|w| w.verdict == Verdict::Good)
            .count();
        out.push(ClassView {
            id: class.id,
            name: class.name,
            good_windows,
        });
    }
    Ok(out)
}

#[tauri::command]
pub async fn add_class(
    state: State<'_, AppState>,
    profile: ProfileId,
    name: String,
) -> Result<ClassView, UiError> {
    let store = state.store();
    let id = store.add_class(profile, name.trim(), now_ms())?;
    let class = store.class(id)?;
    Ok(ClassView {
        id,
        name: class.name,
        good_windows: 0,
    })
}

#[tauri::command]
pub async fn rename_class(
    state: State<'_, AppState>,
    class: ClassId,
    name: String,
) -> Result<(), UiError> {
    Ok(state.store().rename_class(class, name.trim())?)
}

/// Deletes a class with its recordings (the UI asks first).
#[tauri::command]
pub async fn delete_class(state: State<'_, AppState>, class: ClassId) -> Result<(), UiError> {
    Ok(state.store().delete_class(class)?)
}
