//! The log a user can send: the app and the CLI write their `tracing` records to a size-capped rotating
//! file in the data directory's `logs/` folder (`bandx-studio.log`, `bandx.log`), and a panic writes what
//! happened (message, place, thread, backtrace) there before the process goes down.
//!
//! What goes in: `info` and above by default (`BANDX_LOG`, in `RUST_LOG`'s syntax, changes it). The
//! library logs connections, reconnects, jobs and errors; it never logs IMU samples, recordings or model
//! weights, and nothing here adds any: diagnosis needs what happened, not the user's data.

mod rotating;

use std::path::PathBuf;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

pub use rotating::RotatingFile;

use crate::paths::DataDir;

/// Environment variable with the file's filter (`RUST_LOG` syntax); default [`DEFAULT_FILTER`].
pub const LOG_FILTER_ENV: &str = "BANDX_LOG";
/// What the file records unless [`LOG_FILTER_ENV`] says otherwise.
pub const DEFAULT_FILTER: &str = "info";
/// A log file's cap; with [`KEEP_FILES`] older ones, a program's logs take at most 4 MiB.
pub const CAP_BYTES: u64 = 1024 * 1024;
/// How many older files are kept beside the current one.
pub const KEEP_FILES: usize = 3;

/// The log file of `program` (`bandx-studio` or `bandx`) in `data`.
pub fn log_path(data: &DataDir, program: &str) -> PathBuf {
    data.logs_dir().join(format!("{program}.log"))
}

/// How a front end sets up its logs.
pub struct LogSetup<'a> {
    /// `bandx-studio` or `bandx`: the file's name.
    pub program: &'a str,
    /// The stderr filter when `RUST_LOG` is not set (`None`: nothing on stderr unless `RUST_LOG` asks).
    pub stderr_default: Option<&'a str>,
}

/// What [`init`] set up.
#[derive(Debug)]
pub struct Logging {
    /// The file, or why there is none (the program runs on with stderr only).
    pub file: Result<PathBuf, String>,
}

/// Installs the process's subscriber (stderr as `RUST_LOG` says, and the rotating file in `data`) and
/// the panic hook. Call once, first thing in `main`. A file that cannot be opened (read-only disk) is
/// reported in the result, not fatal.
pub fn init(data: Option<&DataDir>, setup: &LogSetup<'_>) -> Logging {
    let stderr_filter = match std::env::var("RUST_LOG") {
        Ok(filter) => EnvFilter::new(filter),
        Err(_) => EnvFilter::new(setup.stderr_default.unwrap_or("off")),
    };
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(stderr_filter);
    let file = match data {
        Some(data) => {
            let path = log_path(data, setup.program);
            RotatingFile::open(&path, CAP_BYTES, KEEP_FILES)
                .map_err(|e| format!("cannot write the log {}: {e}", path.display()))
        }
        None => Err("no data directory".to_string()),
    };
    let file_layer = file.as_ref().ok().map(|f| file_layer(f.clone()));
    let registry = tracing_subscriber::registry().with(stderr).with(file_layer);
    if let Err(e) = registry.try_init() {
        eprintln!("logging was already set up: {e}");
    }
    install_panic_hook();
    tracing::info!(
        program = setup.program,
        version = env!("CARGO_PKG_VERSION"),
        os = std::env::consts::OS,
        arch = std::env::consts::ARCH,
        "started"
    );
    Logging {
        file: file.map(|f| f.path()),
    }
}

/// The file's layer: plain text (no colours), with targets, filtered by [`LOG_FILTER_ENV`].
pub fn file_layer<S>(file: RotatingFile) -> impl tracing_subscriber::Layer<S> + Send + Sync
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    let filter = std::env::var(LOG_FILTER_ENV)
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new(DEFAULT_FILTER));
    tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_writer(file)
        .with_filter(filter)
}

/// Logs every panic (message, file:line, thread and a backtrace) as an `error` record with target
/// `panic`, then runs the hook that was there before (which prints it on stderr).
pub fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".to_string());
        let place = info
            .location()
            .map_or_else(|| "?".to_string(), |l| format!("{}:{}", l.file(), l.line()));
        let thread = std::thread::current();
        let backtrace = std::backtrace::Backtrace::force_capture();
        let name = thread.name().unwrap_or("(unnamed)");
        tracing::error!(
            target: "panic",
            "the program crashed in thread '{name}' at {place}: {message}\n{backtrace}"
        );
        previous(info);
    }));
}
