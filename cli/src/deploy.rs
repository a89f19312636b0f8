//! `bandx deploy`: writes a model blob, a stored model or a firmware image to the band, over BLE
//! (or the virtual band with `--sim`) by default, over USB with `--usb`.
//!
//! The deployment is recorded in the store when a profile can be told (a `--model-version`
//! always; a `--blob` or `--firmware` when the store has one profile or `--profile` names one).
//! Interrupting the command (Ctrl-C) before the commit leaves the band on its previous model.

use std::path::PathBuf;
use std::sync::Mutex;

use bandx_desktop::deploy::ble::{self, DeployError, DeployOptions, DeployReport};
use bandx_desktop::deploy::usb::{self, FlashOptions, UsbError};
use bandx_desktop::deploy::{DeployProgress, DeployTarget, Payload, Recorded, Stage, usb_band};
use bandx_desktop::files::{FIRMWARE_FILE_CAP, MODEL_FILE_CAP, read_capped};
use bandx_desktop::link::sim::{DEFAULT_MTU, SimLink};
use bandx_desktop::link::{Link, LinkError, ScanRequest, ScanResult};
use bandx_desktop::owner::OwnerKeyFile;
use bandx_desktop::paths::DataDir;
use bandx_desktop::store::{ModelId, ProfileId, Store};
use indicatif::{ProgressBar, ProgressStyle};

use crate::{
    Cli, EXIT_FAILURE, EXIT_FIRMWARE_NOT_RUNNING, EXIT_LINK, EXIT_NO_ADAPTER, EXIT_NOT_FOUND,
    EXIT_NOT_PAIRED, Failure, profile,
};

#[derive(clap::Args)]
#[command(group(
    clap::ArgGroup::new("payload")
        .required(true)
        .args(["blob", "model_version", "firmware"])
))]
pub struct DeployArgs {
    /// A model blob file (bandx-core's format, e.g. from `export`).
    #[arg(long, value_name = "FILE")]
    blob: Option<PathBuf>,
    /// A model stored for the profile, by its version (as `train` prints it).
    #[arg(long, value_name = "N")]
    model_version: Option<u32>,
    /// The profile the model belongs to, and the deployment is recorded under [default: the only
    /// profile].
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,
    /// An ESP32 or ESP32-C3 firmware: its app image (ESP-IDF application .bin) or its ELF (as `cargo build`
    /// leaves it; made into the app image with espflash's library first).
    #[arg(long, value_name = "IMAGE")]
    firmware: Option<PathBuf>,
    /// Allow installing a firmware older than the one the band runs (or an older version of the
    /// band's model): the owner signs the downgrade explicitly.
    #[arg(long)]
    allow_downgrade: bool,
    /// Write over USB with the ESP32's serial loader instead of BLE.
    #[arg(long)]
    usb: bool,
    /// The serial port for --usb [default: the first port with an ESP32 USB bridge].
    #[arg(long, value_name = "PATH", requires = "usb")]
    port: Option<String>,
    /// The ATT MTU to ask the virtual band for (with --sim; a real band negotiates its own).
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u16).range(23..=247))]
    mtu: Option<u16>,
}

/// What is being deployed, loaded into memory.
struct Loaded {
    bytes: Vec<u8>,
    firmware: bool,
    /// Where to record the deployment, if anywhere.
    record: Option<(Store, ProfileId, Option<ModelId>)>,
}

pub async fn run(cli: &Cli, args: &DeployArgs) -> Result<(), Failure> {
    let dir = DataDir::from_option(cli.data_dir.as_deref())?;
    let loaded = load(&dir, args)?;
    if args.usb {
        return run_usb(args, loaded).await;
    }
    let link: Box<dyn Link> = if cli.sim {
        let mtu = args.mtu.unwrap_or(DEFAULT_MTU);
        Box::new(SimLink::open(dir.sim_dir())?.with_mtu(mtu))
    } else {
        crate::open_link(cli).await?
    };
    let band = find_band(link.as_ref(), cli.band.as_deref()).await?;
    let Loaded {
        bytes,
        firmware,
        record,
    } = loaded;
    let payload = if firmware {
        Payload::firmware(&bytes)
    } else {
        Payload::Model(&bytes)
    };
    let owner = OwnerKeyFile::load_or_create(&dir)?;

    let bar = progress_bar();
    let mut on_progress = |p: &DeployProgress| show(&bar, p);
    let cancel = crate::stop_on_ctrl_c();
    let opts = DeployOptions {
        allow_downgrade: args.allow_downgrade,
        ..DeployOptions::default()
    };
    let result = match record {
        Some((store, profile, model)) => {
            let band_row = store.upsert_band(
                &band.address,
                band.name.as_deref().unwrap_or("BandX"),
                bandx_desktop::store::now_ms(),
            )?;
            let store = Mutex::new(store);
            let recorded = Recorded {
                store: &store,
                profile,
                band: band_row,
                model,
            };
            ble::deploy_recorded(
                &recorded,
                link.as_ref(),
                &band.id,
                None,
                payload,
                &owner,
                &opts,
                &mut on_progress,
                cancel,
            )
            .await
            .map(|(report, client, _)| (report, client))
        }
        None => {
            ble::deploy(
                link.as_ref(),
                &band.id,
                None,
                payload,
                &owner,
                &opts,
                &mut on_progress,
                cancel,
            )
            .await
        }
    };
    bar.finish_and_clear();
    let (report, client) = result.map_err(deploy_failure)?;
    print_report(&report);
    if let Err(e) = client.connection().disconnect().await {
        tracing::debug!("disconnecting after the deployment: {e}");
    }
    Ok(())
}

/// The payload to send; a firmware's resume version is the one rule's unless given.
/// Reads the payload from its file or the store, and finds where to record the deployment.
fn load(dir: &DataDir, args: &DeployArgs) -> Result<Loaded, Failure> {
    if let Some(version) = args.model_version {
        let store = profile::open_existing_store(dir)?;
        let profile = profile::select(&store, args.profile.as_deref())?;
        let models = store.models(profile.id)?;
        let Some(model) = models.iter().find(|m| m.version == version) else {
            let versions: Vec<String> = models
                .iter()
                .map(|m| match m.outdated {
                    Some(_) => format!("{} (outdated)", m.version),
                    None => m.version.to_string(),
                })
                .collect();
            return Err(anyhow::anyhow!(
                "profile {:?} has no model version {version} (its versions: {})",
                profile.name,
                if versions.is_empty() {
                    "none yet, run `bandx train`".to_string()
                } else {
                    versions.join(", ")
                }
            )
            .into());
        };
        // Before the link is opened and anything is recorded: the band cannot run it.
        model.ensure_current()?;
        return Ok(Loaded {
            bytes: model.blob.clone(),
            firmware: false,
            record: Some((store, profile.id, Some(model.id))),
        });
    }
    let (path, firmware) = match (&args.blob, &args.firmware) {
        (Some(blob), _) => (blob, false),
        (None, Some(image)) => (image, true),
        (None, None) => unreachable!("clap requires one payload"),
    };
    let bytes = if firmware {
        // An ELF becomes the app image the band boots; either is then checked like any image.
        bandx_desktop::deploy::firmware_file(read_capped(
            path,
            FIRMWARE_FILE_CAP,
            "firmware image",
        )?)?
    } else {
        read_capped(path, MODEL_FILE_CAP, "model blob")?
    };
    Ok(Loaded {
        record: record_target(dir, args.profile.as_deref(), (!firmware).then_some(&bytes))?,
        bytes,
        firmware,
    })
}

/// The profile to record a file's deployment under: the named one (which must exist), else the
/// only one, else none (the deployment still happens). A blob identical to a stored model of the
/// profile is recorded as that model.
fn record_target(
    dir: &DataDir,
    name: Option<&str>,
    blob: Option<&Vec<u8>>,
) -> Result<Option<(Store, ProfileId, Option<ModelId>)>, Failure> {
    if name.is_none() && !dir.store_path().is_file() {
        return Ok(None);
    }
    let store = profile::open_existing_store(dir)?;
    let profile = match (name, profile::select(&store, name)) {
        (_, Ok(profile)) => profile,
        (Some(_), Err(e)) => return Err(e.into()),
        (None, Err(e)) => {
            tracing::info!("not recording the deployment: {e}");
            return Ok(None);
        }
    };
    let model = match blob {
        Some(blob) => store
            .models(profile.id)?
            .into_iter()
            .find(|m| &m.blob == blob)
            .map(|m| m.id),
        None => None,
    };
    Ok(Some((store, profile.id, model)))
}

/// The band to deploy to: the one named with `--band` (by id or address), else the strongest.
async fn find_band(link: &dyn Link, wanted: Option<&str>) -> Result<ScanResult, Failure> {
    let found = link.scan(ScanRequest::default()).await?;
    let pick = match wanted {
        Some(id) => found
            .into_iter()
            .find(|b| b.id == id || b.address.eq_ignore_ascii_case(id))
            .unwrap_or_else(|| ScanResult {
                // Not heard in the scan: let the connection try it.
                id: id.to_string(),
                address: id.to_string(),
                name: None,
                rssi: None,
                bandx: true,
            }),
        None => found
            .into_iter()
            .next()
            .ok_or_else(|| LinkError::NotFound("(none in range)".into()))?,
    };
    Ok(pick)
}

fn progress_bar() -> ProgressBar {
    ProgressBar::new(0).with_style(
        ProgressStyle::with_template(
            "{msg:>12} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
        )
        .expect("a valid progress template")
        .progress_chars("=> "),
    )
}

fn show(bar: &ProgressBar, p: &DeployProgress) {
    bar.set_length(p.bytes_total);
    bar.set_position(p.bytes_sent);
    let stage = match p.stage {
        Stage::Connecting => "connecting",
        Stage::Sending => "sending",
        Stage::Resuming => "resuming",
        Stage::Committing => "committing",
        Stage::Verifying => "verifying",
        Stage::Rebooting => "rebooting",
        Stage::Done => "done",
    };
    bar.set_message(match p.reconnects {
        0 => stage.to_string(),
        n => format!("{stage} ({n}x)"),
    });
}

/// `key: value` lines on stdout (as `info` and `train` print), and one sentence on stderr.
fn print_report(r: &DeployReport) {
    let target = match r.target {
        DeployTarget::Model => "model",
        DeployTarget::Firmware => "firmware",
    };
    println!("target: {target}");
    println!("bytes: {}", r.bytes);
    println!("bytes_written: {}", r.bytes_written);
    println!("sha256: {}", r.sha256);
    println!("mtu: {}", r.mtu);
    println!("transfer_seconds: {:.3}", r.transfer_secs);
    println!("total_seconds: {:.3}", r.total_secs);
    println!("bytes_per_sec: {:.0}", r.bytes_per_sec);
    println!("reconnects: {}", r.reconnects);
    let resumed: Vec<String> = r.resumed_from.iter().map(u32::to_string).collect();
    println!(
        "resumed_from: {}",
        if resumed.is_empty() {
            "-".to_string()
        } else {
            resumed.join(",")
        }
    );
    println!("firmware: {}", r.info_after.firmware_version);
    if let Some(model) = &r.info_after.model {
        println!("model_id: {}", model.id);
        println!("model_version: {}", model.version);
        let labels: Vec<&str> = model.labels.iter().map(|l| l.as_str()).collect();
        println!("labels: {}", labels.join(","));
    }
    eprintln!(
        "deployed {target}: {} bytes in {:.2} s ({:.1} kB/s) at MTU {}, {} reconnect(s); the band \
         reports firmware {}{}",
        r.bytes,
        r.transfer_secs,
        r.bytes_per_sec / 1000.0,
        r.mtu,
        r.reconnects,
        r.info_after.firmware_version,
        r.info_after
            .model
            .as_ref()
            .map_or(String::new(), |m| format!(
                " and model {} version {}",
                m.id, m.version
            ))
    );
}

/// A deployment error with the exit code of its cause.
fn deploy_failure(e: DeployError) -> Failure {
    let code = match (&e, e.link_error()) {
        (DeployError::RolledBack { .. } | DeployError::FirmwareUnchanged { .. }, _) => {
            EXIT_FIRMWARE_NOT_RUNNING
        }
        (_, Some(l)) => link_exit_code(l),
        (_, None) => EXIT_FAILURE,
    };
    Failure {
        code,
        error: e.into(),
    }
}

fn link_exit_code(e: &LinkError) -> u8 {
    match e {
        LinkError::NoAdapter(_) | LinkError::BluetoothOff => EXIT_NO_ADAPTER,
        LinkError::NotFound(_) => EXIT_NOT_FOUND,
        LinkError::ConnectionLost | LinkError::Timeout { .. } => EXIT_LINK,
        LinkError::NotAuthenticated => EXIT_NOT_PAIRED,
        LinkError::Gatt(_) => EXIT_FAILURE,
    }
}

/// `--usb`: the espflash path (`deploy::usb`), recorded like a BLE deployment. Without a BLE connection
/// the active model slot is unknown: `usb::Payload::unknown_band` says where things go.
async fn run_usb(args: &DeployArgs, loaded: Loaded) -> Result<(), Failure> {
    let port = args.port.clone();
    let firmware = loaded.firmware;
    let bytes = loaded.bytes;
    let record = match loaded.record {
        Some((store, profile, model)) => {
            let band = usb_band(&store, port.as_deref())?;
            Some((Mutex::new(store), profile, band, model))
        }
        None => None,
    };
    let cancel = crate::stop_on_ctrl_c_shared();
    let flashed = tokio::task::spawn_blocking(move || {
        let recorded = record
            .as_ref()
            .map(|(store, profile, band, model)| Recorded {
                store,
                profile: *profile,
                band: *band,
                model: *model,
            });
        let payload = if firmware {
            Payload::firmware(&bytes)
        } else {
            Payload::Model(&bytes)
        };
        let options = FlashOptions {
            cancel,
            ..FlashOptions::default()
        };
        let bar = progress_bar();
        let flashed = usb::flash_recorded(
            recorded.as_ref(),
            || usb::open_line(port.as_deref()),
            usb::Payload::unknown_band(payload),
            &options,
            &mut |p: &DeployProgress| show(&bar, p),
        );
        bar.finish_and_clear();
        flashed
    })
    .await
    .map_err(|e| anyhow::anyhow!("the USB flashing task failed: {e}"))?;

    let report = flashed.map_err(|e| {
        let code = match e {
            UsbError::NoPort | UsbError::PortNotFound { .. } => EXIT_NOT_FOUND,
            UsbError::Unplugged { .. }
            | UsbError::Timeout { .. }
            | UsbError::NotResponding { .. } => EXIT_LINK,
            _ => EXIT_FAILURE,
        };
        Failure {
            code,
            error: e.into(),
        }
    })?;
    println!("target: {}", if firmware { "firmware" } else { "model" });
    println!("bytes: {}", report.bytes);
    println!("partitions: {}", report.partitions.join(","));
    println!("seconds: {:.3}", report.elapsed.as_secs_f64());
    println!("bytes_per_sec: {:.0}", report.bytes_per_sec);
    eprintln!(
        "flashed over USB: {} bytes to {} in {:.2} s ({:.1} kB/s)",
        report.bytes,
        report.partitions.join(" and "),
        report.elapsed.as_secs_f64(),
        report.bytes_per_sec / 1000.0
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_firmware_the_band_does_not_run_has_its_own_exit_code() {
        let rolled_back = DeployError::RolledBack {
            tried: "sim-0123abcd".into(),
            running: "sim-0.1.0".into(),
        };
        let unchanged = DeployError::FirmwareUnchanged {
            version: "sim-0.1.0".into(),
        };
        for e in [rolled_back, unchanged] {
            let failure = deploy_failure(e);
            assert_eq!(failure.code, EXIT_FIRMWARE_NOT_RUNNING);
            assert_ne!(failure.code, EXIT_FAILURE);
            assert!(failure.error.to_string().contains("previous firmware"));
        }
    }
}
