//! `bandx`: the command-line face of BandX Studio, on the same library as the app.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bandx_desktop::band::{BandClient, BandError};
use bandx_desktop::link::ble::BleLink;
use bandx_desktop::link::sim::SimLink;
use bandx_desktop::link::{Link, LinkError, ScanRequest};
use bandx_desktop::logs::{self, LogSetup};
use bandx_desktop::paths::DataDir;
use bandx_desktop::settings;
use clap::{Parser, Subcommand};
use signal_hook::consts::SIGINT;

mod archive;
mod config;
mod deploy;
mod history;
mod live;
mod pair;
mod profile;
mod record;
mod report;
mod sync;
mod train;

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  any other error (message on stderr)
  2  bad command line (unknown subcommand or option)
  3  no Bluetooth adapter (try --sim for the virtual band)
  4  no band found
  5  the band stopped answering or the connection was lost
  6  no such profile, or several and no --profile given (the message lists them)
  7  not enough calibration data to train (the message says what to record)
  8  a firmware was sent but the band does not run it: it rolled back to its previous
     firmware (the new one failed its boot check) or still reports its old version
  9  the band refused this desktop: it is not paired with it (run `bandx pair`), or the
     desktop is not the band's owner
130  interrupted (Ctrl-C): record, live, train and deploy stop cleanly and keep what is
     done (recorded windows, stored predictions; the band keeps its previous model);
     a second Ctrl-C quits at once";

const EXIT_FAILURE: u8 = 1;
const EXIT_NO_ADAPTER: u8 = 3;
const EXIT_NOT_FOUND: u8 = 4;
const EXIT_LINK: u8 = 5;
const EXIT_PROFILE: u8 = 6;
const EXIT_NOT_ENOUGH_DATA: u8 = 7;
const EXIT_FIRMWARE_NOT_RUNNING: u8 = 8;
const EXIT_NOT_PAIRED: u8 = 9;
const EXIT_INTERRUPTED: u8 = 130;

/// Set by the first Ctrl-C in the commands that can stop cleanly (see [`stop_on_ctrl_c`]).
static INTERRUPTED: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// [`stop_on_ctrl_c`]'s flag, shared with a job that keeps it (the USB flasher's options).
pub fn stop_on_ctrl_c_shared() -> Arc<AtomicBool> {
    stop_on_ctrl_c();
    Arc::clone(INTERRUPTED.get().expect("set by stop_on_ctrl_c"))
}

/// The cancel flag of a long command: the first Ctrl-C sets it (the command stops cleanly and
/// keeps what is done), a second one quits at once. Other commands keep the default: Ctrl-C quits.
pub fn stop_on_ctrl_c() -> &'static AtomicBool {
    INTERRUPTED.get_or_init(|| {
        let flag = Arc::new(AtomicBool::new(false));
        // The quit-at-once hook goes first: it only fires once the flag is already set.
        let hooks = signal_hook::flag::register_conditional_shutdown(
            SIGINT,
            i32::from(EXIT_INTERRUPTED),
            Arc::clone(&flag),
        )
        .and_then(|_| signal_hook::flag::register(SIGINT, Arc::clone(&flag)));
        if let Err(e) = hooks {
            tracing::warn!("Ctrl-C will quit at once (cannot catch it: {e})");
        }
        flag
    })
}

fn interrupted() -> bool {
    INTERRUPTED
        .get()
        .is_some_and(|flag| flag.load(Ordering::SeqCst))
}

#[derive(Parser)]
#[command(
    name = "bandx",
    version,
    about = "BandX Studio on the command line",
    after_help = EXIT_CODES
)]
struct Cli {
    /// Use the virtual band (bandx-sim) instead of Bluetooth.
    #[arg(long, global = true)]
    sim: bool,
    /// Where the store, the virtual band's flash file and the logs live [default: the settings' data_dir
    /// (`bandx config`), else $XDG_DATA_HOME/bandx-studio, or ~/.local/share/bandx-studio].
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Say more on stderr (info-level records) and print where the log file is. The log file
    /// (`logs/bandx.log` in the data directory, capped, rotated) is written either way.
    #[arg(long, short, global = true)]
    verbose: bool,
    /// The band to connect to (an id or address printed by `scan`) [default: the strongest found].
    #[arg(long, global = true, value_name = "ID")]
    band: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List bands in range, one per line: id, address, name, RSSI (dBm), tab-separated.
    Scan {
        /// How long to listen.
        #[arg(long, default_value_t = 3)]
        seconds: u64,
    },
    /// Pair with the band once (it shows a six-digit code to type); it answers no other desktop.
    Pair(pair::PairArgs),
    /// Forget the pairing with the band on this desktop.
    Unpair,
    /// Clear the band's owner and bonds over USB (the band plugged in): the next desktop that pairs with it
    /// becomes its owner. Firmware, models and the activity log stay.
    ForgetOwner {
        /// The band's serial port [default: the first port with an ESP32 USB bridge].
        #[arg(long, value_name = "PATH")]
        port: Option<String>,
    },
    /// Show the band's firmware, battery and active model as `key: value` lines.
    Info,
    /// Print the band's IMU samples in SI units, one per line (tab-separated: band time in ms,
    /// ax ay az in m/s², gx gy gz in rad/s); frame statistics go to stderr at the end.
    Stream {
        /// How many seconds of samples (at the band's sample rate) to print.
        #[arg(long, default_value_t = 5)]
        seconds: u32,
    },
    /// Personalize the model on a profile's calibration windows and store it as the next version.
    Train(train::TrainArgs),
    /// Write a profile to a new folder as plain files (CSV, JSON, model blobs).
    Export(archive::ExportArgs),
    /// Add a profile from a folder written by `export`; prints the new profile's name.
    Import(archive::ImportArgs),
    /// Write SVG plots and a report.md about a profile into a folder.
    Report(report::ReportArgs),
    /// Guided calibration of one activity class: countdown, then recording until enough good
    /// windows; rejected windows are printed with their reason.
    Record(record::RecordArgs),
    /// Print the band's predictions as they come (stored for the history), checked by shadow
    /// inference on the desktop; the agreement at the end.
    Live(live::LiveArgs),
    /// Minutes per activity class per day, from the stored predictions and the minutes synced from the
    /// band's log (a minute counted once).
    History(history::HistoryArgs),
    /// Copy the band's activity log (minutes it recorded, also away from the desktop) into the store; resumes
    /// after a dropped link and stores each minute once. Prints `key: value` lines.
    Sync(sync::SyncArgs),
    /// Write a model (a blob file or a stored version) or a firmware image to the band, over BLE
    /// (resuming after a dropped link) or USB; prints the result as `key: value` lines.
    Deploy(deploy::DeployArgs),
    /// Show or change the settings (shared with the app): data_dir (moved safely), serial_port, theme,
    /// band, last_folder; `config ports` lists the serial ports.
    Config(config::ConfigArgs),
}

/// A failure with the exit code a script sees.
struct Failure {
    code: u8,
    error: anyhow::Error,
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(e: E) -> Failure {
        let error = e.into();
        let link = error.downcast_ref::<LinkError>().or_else(|| {
            error.downcast_ref::<BandError>().and_then(|b| match b {
                BandError::Link(l) => Some(l),
                _ => None,
            })
        });
        let code = match link {
            Some(LinkError::NoAdapter(_) | LinkError::BluetoothOff) => EXIT_NO_ADAPTER,
            Some(LinkError::NotFound(_)) => EXIT_NOT_FOUND,
            Some(LinkError::ConnectionLost | LinkError::Timeout { .. }) => EXIT_LINK,
            Some(LinkError::NotAuthenticated) => EXIT_NOT_PAIRED,
            _ => store_exit_code(&error),
        };
        Failure { code, error }
    }
}

fn main() -> ExitCode {
    let mut cli = Cli::parse();
    // The settings' data folder unless --data-dir says otherwise (a bad settings file is said, not fatal).
    let loaded = settings::default_path().map(|path| settings::load(&path));
    if let Ok(loaded) = &loaded {
        if let Some(problem) = &loaded.problem
            && !matches!(cli.command, Command::Config(_))
        {
            eprintln!("warning: {problem}");
        }
        if cli.data_dir.is_none() {
            cli.data_dir = loaded.settings.data_dir.clone();
        }
    }
    let data = DataDir::from_option(cli.data_dir.as_deref()).ok();
    let logging = logs::init(
        data.as_ref(),
        &LogSetup {
            program: "bandx",
            stderr_default: Some(if cli.verbose { "info" } else { "warn" }),
        },
    );
    if cli.verbose {
        match &logging.file {
            Ok(path) => eprintln!("log: {}", path.display()),
            Err(why) => eprintln!("log: none ({why})"),
        }
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let result = runtime.block_on(run(cli));
    // Don't wait for blocked BLE/sim helper threads on the way out.
    runtime.shutdown_timeout(Duration::from_millis(200));
    let interrupted = interrupted();
    match result {
        Ok(()) if interrupted => {
            eprintln!("interrupted: what was done so far is kept");
            ExitCode::from(EXIT_INTERRUPTED)
        }
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure { error, .. }) if interrupted => {
            eprintln!("interrupted: {error:#}");
            ExitCode::from(EXIT_INTERRUPTED)
        }
        Err(Failure { code, error }) => {
            // Info, not error: stderr gets the sentence below; the file keeps it for a bug report.
            tracing::info!(exit = code, "failed: {error:#}");
            eprintln!("error: {error:#}");
            if code == EXIT_NO_ADAPTER {
                eprintln!(
                    "No Bluetooth adapter is available. To use the virtual band instead, run again with --sim."
                );
            }
            ExitCode::from(code)
        }
    }
}

/// Exit codes of the commands that work on the local store.
fn store_exit_code(error: &anyhow::Error) -> u8 {
    if error.is::<profile::ProfileChoiceError>() {
        EXIT_PROFILE
    } else if error.is::<train::NotEnoughData>() {
        EXIT_NOT_ENOUGH_DATA
    } else {
        EXIT_FAILURE
    }
}

/// Runs the commands that need only the local store (no band, no Bluetooth); `None` for the others.
fn run_offline(cli: &Cli) -> Option<Result<(), Failure>> {
    let dir = || DataDir::from_option(cli.data_dir.as_deref()).map_err(Failure::from);
    let result = match &cli.command {
        Command::Train(args) => dir().and_then(|d| Ok(train::run(&d, args)?)),
        Command::Export(args) => dir().and_then(|d| Ok(archive::export(&d, args)?)),
        Command::Import(args) => dir().and_then(|d| Ok(archive::import(&d, args)?)),
        Command::Report(args) => dir().and_then(|d| Ok(report::run(&d, args)?)),
        Command::History(args) => dir().and_then(|d| Ok(history::run(&d, args)?)),
        Command::Config(args) => dir().and_then(|d| Ok(config::run(args, &d)?)),
        _ => return None,
    };
    Some(result)
}

async fn run(cli: Cli) -> Result<(), Failure> {
    if let Some(result) = run_offline(&cli) {
        return result;
    }
    if let Command::Deploy(args) = &cli.command {
        return deploy::run(&cli, args).await;
    }
    if let Command::Record(args) = &cli.command {
        return record::run(&cli, args).await;
    }
    if let Command::Live(args) = &cli.command {
        return live::run(&cli, args).await;
    }
    if let Command::ForgetOwner { port } = &cli.command {
        let port = port.clone();
        let report = tokio::task::spawn_blocking(move || {
            let line = bandx_desktop::deploy::usb::open_line(port.as_deref())?;
            bandx_desktop::deploy::usb::forget_owner(
                line,
                &bandx_board::partitions::FlashLayout::band(),
                &bandx_desktop::deploy::usb::FlashOptions::default(),
            )
        })
        .await
        .map_err(|e| anyhow::anyhow!("the USB job failed: {e}"))??;
        println!(
            "erased: {} ({} bytes at {:#x})",
            report.partition, report.bytes, report.offset
        );
        eprintln!(
            "The band has no owner and no bonds now: pair with it (`bandx pair`) to make this desktop its owner."
        );
        return Ok(());
    }
    if let Command::Pair(args) = &cli.command {
        if cli.sim {
            let link = open_sim(&cli)?;
            return pair::pair(&cli, &link, Some(&link), args).await;
        }
        let link = open_link(&cli).await?;
        return pair::pair(&cli, link.as_ref(), None, args).await;
    }
    if let Command::Sync(args) = &cli.command {
        return sync::run(&cli, args).await;
    }
    let link = open_link(&cli).await?;
    if let Command::Unpair = &cli.command {
        return pair::unpair(&cli, link.as_ref()).await;
    }
    match cli.command {
        Command::Scan { seconds } => {
            let found = link
                .scan(ScanRequest {
                    duration: Duration::from_secs(seconds),
                    bandx_only: true,
                })
                .await?;
            for band in &found {
                println!(
                    "{}\t{}\t{}\t{}",
                    band.id,
                    band.address,
                    band.name.as_deref().unwrap_or("-"),
                    band.rssi.map_or("-".to_string(), |r| r.to_string())
                );
            }
            if found.is_empty() {
                return Err(LinkError::NotFound("(none in range)".into()).into());
            }
            Ok(())
        }
        Command::Info => {
            let client = connect(link.as_ref(), cli.band.as_deref()).await?;
            let info = client.get_info().await?;
            println!("firmware: {}", info.firmware_version);
            println!("protocol: {}", info.protocol_version);
            println!("battery_percent: {}", info.battery_percent);
            println!("sample_rate_hz: {}", info.sample_rate_hz);
            println!("frame_capacity: {}", info.frame_capacity);
            println!("mtu: {}", client.connection().mtu());
            match &info.model {
                Some(model) => {
                    println!("model_id: {}", model.id);
                    println!("model_version: {}", model.version);
                    let labels: Vec<&str> = model.labels.iter().map(|l| l.as_str()).collect();
                    println!("labels: {}", labels.join(","));
                }
                None => println!("model: none"),
            }
            client.connection().disconnect().await?;
            Ok(())
        }
        Command::Stream { seconds } => {
            let client = connect(link.as_ref(), cli.band.as_deref()).await?;
            stream(&client, seconds).await?;
            client.connection().disconnect().await?;
            Ok(())
        }
        Command::Train(_) | Command::Export(_) | Command::Import(_) | Command::Report(_) => {
            unreachable!("run_offline runs the store commands")
        }
        Command::History(_) | Command::Config(_) => unreachable!("run_offline runs them"),
        Command::Record(_) | Command::Live(_) | Command::Sync(_) => {
            unreachable!("they open their own link")
        }
        Command::Deploy(_) => unreachable!("deploy opens its own link"),
        Command::Pair(_) | Command::Unpair | Command::ForgetOwner { .. } => {
            unreachable!("handled above")
        }
    }
}

fn open_sim(cli: &Cli) -> Result<SimLink, Failure> {
    let dir = DataDir::from_option(cli.data_dir.as_deref())?;
    Ok(SimLink::open(dir.sim_dir())?)
}

async fn open_link(cli: &Cli) -> Result<Box<dyn Link>, Failure> {
    if cli.sim {
        Ok(Box::new(open_sim(cli)?))
    } else {
        Ok(Box::new(BleLink::new().await?))
    }
}

/// Connects to `id`, or to the strongest band a scan finds.
async fn connect(link: &dyn Link, id: Option<&str>) -> Result<BandClient, Failure> {
    let id = match id {
        Some(id) => id.to_string(),
        None => {
            let found = link.scan(ScanRequest::default()).await?;
            let first = found
                .into_iter()
                .next()
                .ok_or_else(|| LinkError::NotFound("(none in range)".into()))?;
            first.id
        }
    };
    let conn = link.connect(&id).await?;
    Ok(BandClient::new(conn).await?)
}

/// Prints `seconds` worth of samples, then frame statistics on stderr.
async fn stream(client: &BandClient, seconds: u32) -> Result<(), Failure> {
    let info = client.get_info().await?;
    let rate = info.sample_rate_hz.max(1);
    let wanted = seconds as usize * usize::from(rate);
    // The band's clock decides; the wall clock only bounds a stream that stalls.
    let patience = Duration::from_secs(u64::from(seconds) + 5);

    let mut frames = client.imu_frames().await?;
    client.start_imu().await?;
    let (mut printed, mut received) = (0usize, 0u64);
    let collect = async {
        while printed < wanted {
            let Some(frame) = frames.next().await else {
                return Err(LinkError::ConnectionLost);
            };
            received += 1;
            for (t, si) in frame.si_samples(rate).into_iter().take(wanted - printed) {
                let line = writeln!(
                    std::io::stdout(),
                    "{t}\t{:.4}\t{:.4}\t{:.4}\t{:.4}\t{:.4}\t{:.4}",
                    si[0],
                    si[1],
                    si[2],
                    si[3],
                    si[4],
                    si[5]
                );
                if line.is_err() {
                    // The reader went away (e.g. `| head`): stop streaming quietly.
                    return Ok(());
                }
                printed += 1;
            }
        }
        Ok(())
    };
    let outcome = tokio::time::timeout(patience, collect).await;
    let stopped = client.stop_imu().await;
    eprintln!(
        "frames: {received}, samples: {printed}, lost_frames: {}, malformed: {}",
        frames.lost(),
        frames.malformed()
    );
    match outcome {
        Ok(result) => result?,
        Err(_) => {
            return Err(LinkError::Timeout {
                operation: "IMU stream",
                after: patience,
            }
            .into());
        }
    }
    stopped?;
    Ok(())
}
