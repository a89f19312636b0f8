//! The user's settings: one small TOML file in the config directory (`$XDG_CONFIG_HOME/bandx-studio/settings.toml`,
//! else `~/.config/bandx-studio/settings.toml`; `BANDX_CONFIG` names another file). It lives outside the data
//! directory because it says where that directory is.
//!
//! Every value is checked when the file is read and before it is written. A file that cannot be read, is not
//! TOML, or holds a bad value is never fatal: [`load`] returns the defaults with a sentence saying what is wrong,
//! and the next [`save`] keeps the bad file beside the new one (`settings.toml.bad`) instead of losing it.

mod relocate;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use relocate::{RelocateError, Relocated, relocate_data};

/// Environment variable naming the settings file (tests use a fresh one).
pub const CONFIG_ENV: &str = "BANDX_CONFIG";

/// The window's colours.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum Theme {
    /// Follow the system's light or dark preference.
    #[default]
    System,
    Light,
    Dark,
}

/// What the user chose; every field is optional in the file (absent: the default).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Where the store, the virtual band and the logs live (absent: the default location).
    #[ts(type = "string | null")]
    pub data_dir: Option<PathBuf>,
    /// The USB serial port of the band (absent: found by its USB bridge).
    pub serial_port: Option<String>,
    pub theme: Theme,
    /// The band the app reconnects to (absent: none remembered). "Forget this band" clears it.
    pub band: Option<String>,
    /// The folder the last file or folder dialog ended in; the next one starts there.
    #[ts(type = "string | null")]
    pub last_folder: Option<PathBuf>,
}

/// A setting that cannot be used, or a settings file that cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{key} must be a full path (starting with /), not \"{value}\"")]
    NotAbsolute { key: &'static str, value: String },
    #[error("{key} must not be empty or hold control characters")]
    BadText { key: &'static str },
    #[error(
        "there is no setting called \"{0}\" (settings: data_dir, serial_port, theme, band, last_folder)"
    )]
    UnknownKey(String),
    #[error("theme must be system, light or dark, not \"{0}\"")]
    BadTheme(String),
    #[error("{path} is not a valid settings file ({reason})")]
    Parse { path: PathBuf, reason: String },
    #[error("cannot read or write the settings file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("neither XDG_CONFIG_HOME nor HOME is set: set BANDX_CONFIG to the settings file")]
    NoHome,
}

/// The keys `bandx config` and the Settings screen know, in the file's order.
pub const KEYS: [&str; 5] = ["data_dir", "serial_port", "theme", "band", "last_folder"];

impl Settings {
    /// Checks every value (the same checks for the file, `bandx config set` and the Settings screen).
    pub fn validate(&self) -> Result<(), SettingsError> {
        absolute("data_dir", self.data_dir.as_deref())?;
        absolute("last_folder", self.last_folder.as_deref())?;
        text("serial_port", self.serial_port.as_deref())?;
        text("band", self.band.as_deref())?;
        Ok(())
    }

    /// A value as `bandx config get` prints it (empty when not set).
    pub fn get(&self, key: &str) -> Result<String, SettingsError> {
        let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
        let value = match key {
            "data_dir" => path(&self.data_dir),
            "serial_port" => self.serial_port.clone(),
            "theme" => Some(self.theme_name().to_string()),
            "band" => self.band.clone(),
            "last_folder" => path(&self.last_folder),
            other => return Err(SettingsError::UnknownKey(other.to_string())),
        };
        Ok(value.unwrap_or_default())
    }

    /// Sets a value from text (empty text clears it), checked; on error nothing changes.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), SettingsError> {
        let mut next = self.clone();
        let value = value.trim();
        let some = |v: &str| (!v.is_empty()).then(|| v.to_string());
        match key {
            "data_dir" => next.data_dir = some(value).map(PathBuf::from),
            "serial_port" => next.serial_port = some(value),
            "theme" => {
                next.theme = match value {
                    "" | "system" => Theme::System,
                    "light" => Theme::Light,
                    "dark" => Theme::Dark,
                    other => return Err(SettingsError::BadTheme(other.to_string())),
                }
            }
            "band" => next.band = some(value),
            "last_folder" => next.last_folder = some(value).map(PathBuf::from),
            other => return Err(SettingsError::UnknownKey(other.to_string())),
        }
        next.validate()?;
        *self = next;
        Ok(())
    }

    fn theme_name(&self) -> &'static str {
        match self.theme {
            Theme::System => "system",
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }
}

fn absolute(key: &'static str, path: Option<&Path>) -> Result<(), SettingsError> {
    match path {
        Some(p)
            if !p.is_absolute()
                || p.as_os_str()
                    .to_string_lossy()
                    .chars()
                    .any(char::is_control) =>
        {
            Err(SettingsError::NotAbsolute {
                key,
                value: p.display().to_string(),
            })
        }
        _ => Ok(()),
    }
}

fn text(key: &'static str, value: Option<&str>) -> Result<(), SettingsError> {
    match value {
        Some(v) if v.trim().is_empty() || v.chars().any(char::is_control) => {
            Err(SettingsError::BadText { key })
        }
        _ => Ok(()),
    }
}

/// The settings file: `$BANDX_CONFIG`, else `$XDG_CONFIG_HOME/bandx-studio/settings.toml`, else
/// `~/.config/bandx-studio/settings.toml`.
pub fn default_path() -> Result<PathBuf, SettingsError> {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(file) = var(CONFIG_ENV) {
        return Ok(PathBuf::from(file));
    }
    let dir = match (var("XDG_CONFIG_HOME"), var("HOME")) {
        (Some(xdg), _) => PathBuf::from(xdg),
        (None, Some(home)) => PathBuf::from(home).join(".config"),
        (None, None) => return Err(SettingsError::NoHome),
    };
    Ok(dir.join("bandx-studio").join("settings.toml"))
}

/// What [`load`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    pub settings: Settings,
    /// Why the file's settings are not used (the defaults are), if so: show it to the user.
    pub problem: Option<String>,
}

/// Reads the settings at `path`: the defaults when there is no file, the defaults and the reason when
/// the file is bad. Never fails.
pub fn load(path: &Path) -> Loaded {
    match read(path) {
        Ok(settings) => Loaded {
            settings: settings.unwrap_or_default(),
            problem: None,
        },
        Err(e) => {
            tracing::warn!("settings: {e}; using the defaults");
            Loaded {
                settings: Settings::default(),
                problem: Some(format!(
                    "{e}. BandX Studio uses the default settings until you save new ones."
                )),
            }
        }
    }
}

/// The settings in `path`, `None` when there is no file.
pub fn read(path: &Path) -> Result<Option<Settings>, SettingsError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(SettingsError::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let parse = |reason: String| SettingsError::Parse {
        path: path.to_path_buf(),
        reason,
    };
    let settings: Settings = toml::from_str(&text).map_err(|e| {
        let line = e
            .span()
            .map_or(1, |s| text[..s.start].lines().count().max(1));
        let quoted: String = text
            .lines()
            .nth(line - 1)
            .unwrap_or("")
            .trim()
            .chars()
            .take(60)
            .collect();
        parse(format!("line {line}, `{quoted}`: {}", e.message()))
    })?;
    settings.validate().map_err(|e| parse(e.to_string()))?;
    Ok(Some(settings))
}

/// Writes `settings` to `path` (checked first; written to a temporary file, then renamed). A file there
/// that is not valid settings is kept as `<path>.bad`.
pub fn save(path: &Path, settings: &Settings) -> Result<(), SettingsError> {
    settings.validate()?;
    let io = |source| SettingsError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    if matches!(read(path), Err(SettingsError::Parse { .. })) {
        std::fs::rename(path, sibling(path, ".bad")).map_err(io)?;
    }
    let text = format!(
        "# BandX Studio settings (the Settings screen and `bandx config` write this file).\n{}",
        toml::to_string(settings).map_err(|e| io(std::io::Error::other(e)))?
    );
    let tmp = sibling(path, ".tmp");
    std::fs::write(&tmp, text).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

#[cfg(test)]
mod tests;
