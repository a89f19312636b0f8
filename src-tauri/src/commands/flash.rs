//! Flash screen: one click writes the profile's newest model over BLE (the default), a firmware
//! image over BLE, or either over USB; progress with speed and ETA; the band's own confirmation.
//! Until the band confirms, it keeps running its previous model (the deploy modules' guarantee,
//! said in every failure message).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use serde::{Deserialize, Serialize};
use tauri::{AppHandle, State};

use crate::UiError;
use crate::commands::bands::{ModelView, watch_connection};
use crate::events::{self, BandState, BandStateReason, JobEnd};
use crate::state::{AppState, ConnectedBand, JobKind};
use bandx_desktop::deploy::ble::{self, DeployError, DeployOptions};
use bandx_desktop::deploy::usb::{self, FlashOptions, UsbError};
use bandx_desktop::deploy::{DeployProgress, Payload, Recorded, Stage, usb_band};
use bandx_desktop::owner::OwnerKeyFile;
use bandx_desktop::store::{Model, ProfileId, Store, Transport};

/// What the user asked for.
#[derive(Debug, Clone, Deserialize, ts_rs::TS)]
pub struct FlashRequest {
    pub profile: ProfileId,
    pub transport: Transport,
    /// A firmware image (BLE firmware; USB firmware). `None` for USB writes the newest model.
    pub file: Option<String>,
    /// USB serial port; `None` finds the band's.
    pub port: Option<String>,
    /// BLE: sign a downgrade (a firmware older than the band's, or an older version of its model).
    #[serde(default)]
    pub allow_downgrade: bool,
}

/// Progress for the window, whatever the transport.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct FlashProgress {
    pub stage: String,
    pub bytes_sent: u64,
    pub bytes_total: u64,
    pub bytes_per_sec: f64,
    pub eta_secs: Option<f64>,
    pub reconnects: u32,
}

impl From<&DeployProgress> for FlashProgress {
    fn from(p: &DeployProgress) -> Self {
        FlashProgress {
            stage: stage_text(p.stage).to_string(),
            bytes_sent: p.bytes_sent,
            bytes_total: p.bytes_total,
            bytes_per_sec: p.bytes_per_sec,
            eta_secs: p.eta_secs,
            reconnects: p.reconnects,
        }
    }
}

/// A verified write.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct FlashResult {
    pub transport: Transport,
    pub bytes: u64,
    pub seconds: f64,
    pub bytes_per_sec: f64,
    pub reconnects: u32,
    /// What the band reports afterwards (BLE; USB restarts the band without telling).
    pub firmware: String,
    pub model: Option<ModelView>,
}

#[tauri::command]
pub async fn start_flash(
    app: AppHandle,
    state: State<'_, AppState>,
    request: FlashRequest,
) -> Result<(), UiError> {
    // An outdated model is refused here, before the job starts and the band is checked out.
    let model = model_to_flash(&state.store(), &request)?;
    let file = match &request.file {
        Some(path) if !path.trim().is_empty() => {
            let image = read_image(path)?;
            state.remember_folder_of(std::path::Path::new(path.trim()));
            Some(image)
        }
        _ => None,
    };
    let job = state.start_job(JobKind::Flash)?;
    let state = state.inner().clone();
    match request.transport {
        Transport::Usb => {
            let model = model.filter(|_| file.is_none());
            if model.is_none() && file.is_none() {
                return Err(no_model());
            }
            tauri::async_runtime::spawn_blocking(move || {
                let result = flash_usb(&app, &state, &request, model, file, &job.cancel);
                drop(job);
                events::emit(&app, events::FLASH_DONE, JobEnd::of(result));
            });
        }
        transport => {
            let payload = match (transport, file) {
                (Transport::BleFirmware, Some(image)) => Owned::Firmware(image),
                (Transport::BleFirmware, None) => {
                    return Err(UiError::new(
                        "invalid",
                        "No firmware image file was given",
                        "Type the full path of the image (a .bin file)",
                    ));
                }
                _ => Owned::Model(model.ok_or_else(no_model)?),
            };
            let band = state.check_out(JobKind::Flash).await?;
            tauri::async_runtime::spawn(async move {
                let options = DeployOptions {
                    allow_downgrade: request.allow_downgrade,
                    ..DeployOptions::default()
                };
                let result = flash_ble(
                    &app,
                    &state,
                    request.profile,
                    band,
                    payload,
                    &options,
                    &job.cancel,
                )
                .await;
                drop(job);
                events::emit(&app, events::FLASH_DONE, JobEnd::of(result));
            });
        }
    }
    Ok(())
}

enum Owned {
    Model(Model),
    Firmware(Vec<u8>),
}

async fn flash_ble(
    app: &AppHandle,
    state: &AppState,
    profile: ProfileId,
    band: ConnectedBand,
    payload: Owned,
    options: &DeployOptions,
    cancel: &AtomicBool,
) -> Result<FlashResult, UiError> {
    let ConnectedBand {
        client,
        link,
        kind,
        id,
        address,
        name,
        band_id,
    } = band;
    let (payload, model_id, transport) = match &payload {
        Owned::Model(m) => (Payload::Model(&m.blob), Some(m.id), Transport::BleModel),
        Owned::Firmware(image) => (Payload::firmware(image), None, Transport::BleFirmware),
    };
    let recorded = Recorded {
        store: &state.store,
        profile,
        band: band_id,
        model: model_id,
    };
    let owner = OwnerKeyFile::load_or_create(&state.data()).map_err(|e| {
        UiError::new(
            "owner_key",
            format!("This desktop's owner key cannot be used ({e})"),
            "Fix or move the file named, then flash again",
        )
    })?;
    let forward = app.clone();
    let mut on_progress = move |p: &DeployProgress| {
        events::emit(&forward, events::FLASH_PROGRESS, FlashProgress::from(p))
    };
    let done = ble::deploy_recorded(
        &recorded,
        link.as_ref(),
        &id,
        Some(client),
        payload,
        &owner,
        options,
        &mut on_progress,
        cancel,
    )
    .await;
    match done {
        Ok((report, client, _deployment)) => {
            let back = ConnectedBand {
                client,
                link,
                kind,
                id,
                address,
                name,
                band_id,
            };
            if let Some(band) = state.check_in(back).await {
                watch_connection(app.clone(), state.clone(), &band);
            }
            Ok(FlashResult {
                transport,
                bytes: report.bytes,
                seconds: report.total_secs,
                bytes_per_sec: report.bytes_per_sec,
                reconnects: report.reconnects,
                firmware: report.info_after.firmware_version.to_string(),
                model: report.info_after.model.map(|m| ModelView {
                    id: m.id,
                    version: m.version,
                    classes: m.labels.iter().map(|l| l.to_string()).collect(),
                }),
            })
        }
        Err(e) => {
            // The deploy job dropped the connection: the window shows the band as disconnected.
            *state.band_user.lock().unwrap_or_else(|e| e.into_inner()) = None;
            events::emit(
                app,
                events::BAND_STATE,
                BandState {
                    connected: false,
                    reason: BandStateReason::Requested,
                    name: Some(name),
                },
            );
            Err(deploy_error(e))
        }
    }
}

fn stage_text(stage: Stage) -> &'static str {
    match stage {
        Stage::Connecting => "Connecting",
        Stage::Sending => "Sending",
        Stage::Resuming => "Resuming after a dropped connection",
        Stage::Committing => "Committing",
        Stage::Verifying => "Asking the band to confirm",
        Stage::Rebooting => "The band restarts",
        Stage::Done => "Done",
    }
}

const AGAIN: &str = "Connect the band again on the Bands screen, then flash again.";

fn deploy_error(e: DeployError) -> UiError {
    let (code, next_step) = match &e {
        DeployError::Cancelled { .. } => ("cancelled", AGAIN),
        DeployError::Payload(_) => ("invalid", AGAIN),
        // Never "done": the band runs its previous firmware, and flashing the same one again will not help.
        DeployError::RolledBack { .. } | DeployError::FirmwareUnchanged { .. } => (
            "rolled_back",
            "The band runs its previous firmware. Flash a firmware built for this band.",
        ),
        _ => ("flash", AGAIN),
    };
    // Its messages are already sentences that say what the band keeps and what to do next.
    UiError {
        message: e.to_string(),
        next_step: next_step.into(),
        code,
    }
}

fn flash_usb(
    app: &AppHandle,
    state: &AppState,
    request: &FlashRequest,
    model: Option<Model>,
    firmware: Option<Vec<u8>>,
    cancel: &Arc<AtomicBool>,
) -> Result<FlashResult, UiError> {
    let payload = match (&firmware, &model) {
        (Some(image), _) => Payload::firmware(image),
        (None, Some(m)) => Payload::Model(&m.blob),
        (None, None) => return Err(no_model()),
    };
    let total = payload.bytes().len() as u64;
    // The port asked for, else the one chosen in the settings, else the band's is found.
    let chosen = state.settings().current.serial_port;
    let port = request.port.as_deref().or(chosen.as_deref());
    let recorded = Recorded {
        store: &state.store,
        profile: request.profile,
        band: usb_band(&state.store(), port)?,
        model: model.as_ref().map(|m| m.id),
    };
    let options = FlashOptions {
        cancel: cancel.clone(),
        ..FlashOptions::default()
    };
    let started = std::time::Instant::now();
    let flashed = usb::flash_recorded(
        Some(&recorded),
        || usb::open_line(port),
        usb::Payload::unknown_band(payload),
        &options,
        &mut |p: &DeployProgress| events::emit(app, events::FLASH_PROGRESS, FlashProgress::from(p)),
    );
    match flashed {
        Ok(report) => Ok(FlashResult {
            transport: Transport::Usb,
            bytes: total,
            seconds: started.elapsed().as_secs_f64(),
            bytes_per_sec: report.bytes_per_sec,
            reconnects: 0,
            firmware: String::new(),
            model: model.map(|m| ModelView {
                id: u32::try_from(m.profile.0).unwrap_or(u32::MAX),
                version: m.version,
                classes: m.classes,
            }),
        }),
        Err(UsbError::Cancelled { .. }) => Err(UiError::cancelled("Flashing")),
        Err(e) => Err(UiError {
            message: e.to_string(),
            next_step: "Check the cable and the port, then flash again.".into(),
            code: "flash",
        }),
    }
}

/// The profile's newest model, which the request writes unless it names a firmware image file.
/// A model the band cannot run with this build (made by an older version) is refused here, before
/// anything is recorded or sent, with the reason and the way out: train again.
pub fn model_to_flash(store: &Store, request: &FlashRequest) -> Result<Option<Model>, UiError> {
    let model = store.latest_model(request.profile)?;
    let has_file = request
        .file
        .as_deref()
        .is_some_and(|f| !f.trim().is_empty());
    let writes_model = match request.transport {
        Transport::BleModel => true,
        Transport::Usb => !has_file,
        Transport::BleFirmware => false,
    };
    if writes_model && let Some(m) = &model {
        m.ensure_current().map_err(|e| {
            UiError::new(
                "outdated",
                e.to_string(),
                "Press Train again on the Train screen: your recordings are kept",
            )
        })?;
    }
    Ok(model)
}

fn no_model() -> UiError {
    UiError::new(
        "no_model",
        "This profile has no trained model yet",
        "Train one on the Train screen",
    )
}

/// The firmware file the user picked, as an app image: a `.bin` as it is, an ELF made into one with
/// espflash's library (`deploy::elf`); either is checked like any image afterwards.
fn read_image(path: &str) -> Result<Vec<u8>, UiError> {
    let path = PathBuf::from(path.trim());
    let file = bandx_desktop::files::read_capped(
        &path,
        bandx_desktop::files::FIRMWARE_FILE_CAP,
        "firmware image",
    )
    .map_err(|e| UiError::new("invalid", e.to_string(), "Check the file you picked"))?;
    bandx_desktop::deploy::firmware_file(file).map_err(|e| {
        UiError::new(
            "invalid",
            e.to_string(),
            "Pick the firmware's .bin, or its ELF as the build left it",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flash_screen_takes_a_firmware_elf_as_the_app_image_made_of_it() {
        let dir = tempfile::tempdir().unwrap();
        let elf = bandx_testkit::esp32_demo_elf("0.5.0", 2);
        let path = dir.path().join("bandx-firmware");
        std::fs::write(&path, &elf).unwrap();
        let image = read_image(&format!(" {} ", path.display())).unwrap();
        assert_eq!(
            bandx_desktop::deploy::payload::check_firmware_image(&image),
            Ok(bandx_core::update::app_image::Chip::Esp32)
        );
        assert_ne!(image, elf);
        // A .bin is read as it is.
        let bin = dir.path().join("bandx-firmware.bin");
        std::fs::write(&bin, &image).unwrap();
        assert_eq!(read_image(bin.to_str().unwrap()).unwrap(), image);
        // A garbled ELF is the file's fault, said plainly.
        std::fs::write(&path, &elf[..elf.len() - 100]).unwrap();
        let e = read_image(path.to_str().unwrap()).unwrap_err();
        assert_eq!(e.code, "invalid");
        assert!(
            e.message.contains("cannot be made into a firmware image"),
            "{}",
            e.message
        );
        assert!(e.next_step.contains("ELF"), "{}", e.next_step);
    }

    #[test]
    fn a_rolled_back_firmware_is_its_own_error_never_done() {
        let e = deploy_error(DeployError::RolledBack {
            tried: "sim-0123abcd".into(),
            running: "sim-0.1.0".into(),
        });
        assert_eq!(e.code, "rolled_back");
        assert!(e.message.contains("rolled back"), "{}", e.message);
        assert!(e.next_step.contains("previous firmware"), "{}", e.next_step);
    }
}
