//! What the app holds while it runs: the store, the links (Bluetooth and the virtual band), the
//! connected band, and the long jobs in flight (each with its cancel flag).
//!
//! Everything sits behind async mutexes so commands never block the window's thread; long jobs run
//! on spawned tasks and take the locks only for the moments they need them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Mutex;

use bandx_desktop::band::BandClient;
use bandx_desktop::link::ble::BleLink;
use bandx_desktop::link::sim::SimLink;
use bandx_desktop::link::{ConnectionState, Link, ScanResult};
use bandx_desktop::paths::DataDir;
use bandx_desktop::settings::{self, Relocated, Settings, SettingsError, relocate_data};
use bandx_desktop::store::{BandId, Store, StoreError};

/// Environment variable naming the data directory (tests and the e2e run use a fresh one).
pub const DATA_DIR_ENV: &str = "BANDX_DATA_DIR";

/// Shared app state (cheap to clone: every clone is the same app).
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

pub struct Inner {
    /// Where the store, the virtual band and the logs live; changes only when the user moves it
    /// (`commands::settings::move_data_dir`), together with the store.
    data: std::sync::RwLock<DataDir>,
    /// The settings file and what it holds.
    settings: std::sync::Mutex<SettingsFile>,
    /// Behind a std mutex (as `deploy::ble::Recorded` takes it): locked briefly, never across an await.
    pub store: std::sync::Mutex<Store>,
    pub links: Mutex<Links>,
    pub band: Mutex<Option<Arc<ConnectedBand>>>,
    /// The job that has the band checked out (calibration, flashing, live view), if any.
    pub band_user: std::sync::Mutex<Option<JobKind>>,
    pub jobs: Jobs,
    /// A pairing waiting for the code the user types (`commands::pairing`).
    pub pairing_code: std::sync::Mutex<Option<tokio::sync::oneshot::Sender<Option<u32>>>>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.inner
    }
}

/// The links opened so far: each is opened once and kept (the virtual band's flash file can only
/// be open once).
#[derive(Default)]
pub struct Links {
    pub ble: Option<Arc<BleLink>>,
    pub sim: Option<Arc<SimLink>>,
    /// What the last scans found, by id (connect needs the address and name).
    pub seen: HashMap<String, ScanResult>,
}

/// Which kind of link a band is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    Bluetooth,
    Virtual,
}

/// The band the app is talking to.
pub struct ConnectedBand {
    pub client: BandClient,
    /// The link it came through (a job reconnects through it after a drop).
    pub link: Arc<dyn Link>,
    pub kind: LinkKind,
    pub id: String,
    pub address: String,
    pub name: String,
    /// The band's row in the store.
    pub band_id: BandId,
}

/// The settings as loaded, and where they are saved (`None`: not saved, as in tests).
#[derive(Debug, Clone, Default)]
pub struct SettingsFile {
    pub path: Option<PathBuf>,
    pub current: Settings,
    /// Why the file's settings are not in use (a bad file), until the user saves new ones.
    pub problem: Option<String>,
}

impl AppState {
    /// Opens the store in `data` (creating the directory), with default settings that are not saved.
    pub fn open(data: DataDir) -> Result<AppState, StoreError> {
        AppState::open_with(data, SettingsFile::default())
    }

    /// Opens the store in `data` with the user's settings.
    pub fn open_with(data: DataDir, settings: SettingsFile) -> Result<AppState, StoreError> {
        if let Err(e) = std::fs::create_dir_all(data.root()) {
            tracing::warn!("cannot create {}: {e}", data.root().display());
        }
        let store = Store::open(data.store_path())?;
        Ok(AppState {
            inner: Arc::new(Inner {
                data: std::sync::RwLock::new(data),
                settings: std::sync::Mutex::new(settings),
                store: std::sync::Mutex::new(store),
                links: Mutex::new(Links::default()),
                band: Mutex::new(None),
                band_user: std::sync::Mutex::new(None),
                jobs: Jobs::default(),
                pairing_code: std::sync::Mutex::new(None),
            }),
        })
    }

    /// `$BANDX_DATA_DIR` if set, else the settings' data directory, else the user's data directory.
    pub fn data_dir_from_env(settings: &Settings) -> Result<DataDir, bandx_desktop::paths::NoHome> {
        let dir = std::env::var_os(DATA_DIR_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| settings.data_dir.clone());
        DataDir::from_option(dir.as_deref())
    }

    /// The data directory in use.
    pub fn data(&self) -> DataDir {
        self.data.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Moves the data directory to `dest`: copies and verifies everything (the store stays locked
    /// meanwhile, so nothing is written that the copy would miss), saves the setting, then switches the
    /// store over. On any failure the app keeps its current directory, untouched. The old directory is
    /// kept (the user deletes it once sure); the log file moves at the next start.
    pub fn move_data(&self, dest: &Path) -> Result<Relocated, super::UiError> {
        let mut store = self.store();
        let old = self.data();
        let moved = relocate_data(&old, dest)?;
        let new_store = Store::open(moved.new.store_path())?;
        self.update_settings(|s| {
            s.data_dir = Some(dest.to_path_buf());
            Ok(())
        })?;
        *store = new_store;
        *self.data.write().unwrap_or_else(|e| e.into_inner()) = moved.new.clone();
        tracing::info!("moved the data directory");
        Ok(moved)
    }

    /// The settings in use, and why the file's are not (if so).
    pub fn settings(&self) -> SettingsFile {
        self.settings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Changes the settings (checked) and saves them; on error nothing changes.
    pub fn update_settings(
        &self,
        change: impl FnOnce(&mut Settings) -> Result<(), SettingsError>,
    ) -> Result<Settings, SettingsError> {
        let mut file = self.settings.lock().unwrap_or_else(|e| e.into_inner());
        let mut next = file.current.clone();
        change(&mut next)?;
        next.validate()?;
        if let Some(path) = &file.path {
            settings::save(path, &next)?;
        }
        file.current = next.clone();
        file.problem = None;
        Ok(next)
    }

    /// Remembers the band the user connected to ("Forget this band" on the Settings screen clears it).
    pub fn remember_band(&self, id: &str) {
        if self.settings().current.band.as_deref() == Some(id) {
            return;
        }
        if let Err(e) = self.update_settings(|s| s.set("band", id)) {
            tracing::warn!("cannot remember the band: {e}");
        }
    }

    /// Remembers the folder a file or folder the user chose is in (the next dialog starts there).
    pub fn remember_folder_of(&self, path: &Path) {
        let Some(folder) = path.parent().filter(|p| p.is_absolute()) else {
            return;
        };
        if self.settings().current.last_folder.as_deref() == Some(folder) {
            return;
        }
        let folder = folder.to_path_buf();
        if let Err(e) = self.update_settings(|s| {
            s.last_folder = Some(folder);
            Ok(())
        }) {
            tracing::warn!("cannot remember the last folder: {e}");
        }
    }

    /// The store, locked (a panic elsewhere while it was held does not lock the user out).
    pub fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The connected band, or the error telling the user to connect one (or that a job uses it).
    pub async fn connected(&self) -> Result<Arc<ConnectedBand>, super::UiError> {
        if let Some(user) = *self.band_user.lock().unwrap_or_else(|e| e.into_inner()) {
            return Err(super::UiError::busy(user.label()));
        }
        self.band
            .lock()
            .await
            .clone()
            .ok_or_else(super::UiError::not_connected)
    }

    /// Takes the band for a job that needs it to itself (it may replace the client when the link
    /// drops and comes back). Give it back with [`AppState::check_in`].
    pub async fn check_out(&self, job: JobKind) -> Result<ConnectedBand, super::UiError> {
        let mut slot = self.band.lock().await;
        let band = slot.take().ok_or_else(super::UiError::not_connected)?;
        match Arc::try_unwrap(band) {
            Ok(band) => {
                *self.band_user.lock().unwrap_or_else(|e| e.into_inner()) = Some(job);
                Ok(band)
            }
            Err(shared) => {
                *slot = Some(shared);
                Err(super::UiError::busy("Another request to the band"))
            }
        }
    }

    /// Gives a checked-out band back; returns false (and forgets it) when its link is down.
    pub async fn check_in(&self, band: ConnectedBand) -> Option<Arc<ConnectedBand>> {
        *self.band_user.lock().unwrap_or_else(|e| e.into_inner()) = None;
        if *band.client.connection().state().borrow() != ConnectionState::Connected {
            return None;
        }
        let band = Arc::new(band);
        *self.band.lock().await = Some(band.clone());
        Some(band)
    }
}

/// The kinds of long job; at most one of each runs at a time.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, ts_rs::TS,
)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    Train,
    Calibrate,
    Flash,
    Live,
}

impl JobKind {
    pub fn label(self) -> &'static str {
        match self {
            JobKind::Train => "Training",
            JobKind::Calibrate => "Calibration",
            JobKind::Flash => "Flashing",
            JobKind::Live => "The live view",
        }
    }
}

/// Cancel flags of the running jobs.
#[derive(Default)]
pub struct Jobs {
    running: std::sync::Mutex<HashMap<JobKind, Arc<AtomicBool>>>,
}

/// A running job's registration; dropping it ends the registration.
pub struct JobGuard {
    jobs: Arc<Inner>,
    kind: JobKind,
    pub cancel: Arc<AtomicBool>,
}

impl Drop for JobGuard {
    fn drop(&mut self) {
        let mut running = self.jobs.jobs.lock();
        if running
            .get(&self.kind)
            .is_some_and(|flag| Arc::ptr_eq(flag, &self.cancel))
        {
            running.remove(&self.kind);
        }
    }
}

impl Jobs {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<JobKind, Arc<AtomicBool>>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Asks the job of this kind to stop; false if none runs.
    pub fn cancel(&self, kind: JobKind) -> bool {
        match self.lock().get(&kind) {
            Some(flag) => {
                flag.store(true, Ordering::SeqCst);
                true
            }
            None => false,
        }
    }

    pub fn is_running(&self, kind: JobKind) -> bool {
        self.lock().contains_key(&kind)
    }
}

impl AppState {
    /// Registers a job of `kind`, refusing a second one.
    pub fn start_job(&self, kind: JobKind) -> Result<JobGuard, super::UiError> {
        let mut running = self.jobs.lock();
        if running.contains_key(&kind) {
            return Err(super::UiError::busy(kind.label()));
        }
        let cancel = Arc::new(AtomicBool::new(false));
        running.insert(kind, cancel.clone());
        Ok(JobGuard {
            jobs: self.inner.clone(),
            kind,
            cancel,
        })
    }
}

pub use bandx_desktop::store::now_ms;

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> (tempfile::TempDir, AppState) {
        let dir = tempfile::tempdir().unwrap();
        let state = AppState::open(DataDir::at(dir.path().join("data"))).unwrap();
        (dir, state)
    }

    #[test]
    fn one_job_of_a_kind_at_a_time_and_cancel_reaches_it() {
        let (_dir, state) = state();
        let train = state.start_job(JobKind::Train).unwrap();
        assert_eq!(state.start_job(JobKind::Train).err().unwrap().code, "busy");
        let flash = state.start_job(JobKind::Flash).unwrap();
        assert!(state.jobs.cancel(JobKind::Train));
        assert!(train.cancel.load(Ordering::SeqCst));
        assert!(!flash.cancel.load(Ordering::SeqCst));
        drop(train);
        assert!(!state.jobs.is_running(JobKind::Train));
        assert!(!state.jobs.cancel(JobKind::Train), "nothing left to cancel");
        assert!(state.start_job(JobKind::Train).is_ok());
    }

    #[tokio::test]
    async fn no_band_means_a_sentence_telling_where_to_connect_one() {
        let (_dir, state) = state();
        let e = state.connected().await.err().unwrap();
        assert_eq!(e.code, "not_connected");
        assert!(e.next_step.contains("Bands screen"));
        assert_eq!(
            state.check_out(JobKind::Flash).await.err().unwrap().code,
            "not_connected"
        );
    }

    #[test]
    fn moving_the_data_switches_the_store_and_saves_the_setting() {
        let dir = tempfile::tempdir().unwrap();
        let settings_path = dir.path().join("config/settings.toml");
        let state = AppState::open_with(
            DataDir::at(dir.path().join("data")),
            SettingsFile {
                path: Some(settings_path.clone()),
                ..SettingsFile::default()
            },
        )
        .unwrap();
        state.store().create_profile("ana", 0).unwrap();
        let dest = dir.path().join("elsewhere");
        let moved = state.move_data(&dest).unwrap();
        assert_eq!(moved.new.root(), dest);
        assert_eq!(state.data().root(), dest);
        assert_eq!(
            state.store().path(),
            Some(dest.join(bandx_desktop::paths::STORE_FILE_NAME).as_path())
        );
        // What is written now goes to the new store; the old one keeps what it had.
        state.store().create_profile("ben", 0).unwrap();
        assert_eq!(state.store().profiles().unwrap().len(), 2);
        let old = Store::open(
            dir.path()
                .join("data")
                .join(bandx_desktop::paths::STORE_FILE_NAME),
        )
        .unwrap();
        assert_eq!(old.profiles().unwrap().len(), 1);
        let saved = settings::load(&settings_path).settings;
        assert_eq!(saved.data_dir.as_deref(), Some(dest.as_path()));
        // A second move into a folder that is not empty is refused and changes nothing.
        let err = state
            .move_data(dir.path().join("config").as_path())
            .unwrap_err();
        assert_eq!(err.code, "move_data");
        assert_eq!(state.data().root(), dest);
    }

    #[test]
    fn the_store_lives_in_the_data_dir() {
        let (dir, state) = state();
        assert_eq!(
            state.store().path(),
            Some(
                dir.path()
                    .join("data")
                    .join(bandx_desktop::paths::STORE_FILE_NAME)
                    .as_path()
            )
        );
    }
}
