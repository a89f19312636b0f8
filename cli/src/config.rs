//! `bandx config`: the settings the app's Settings screen shows, in the same file with the same checks
//! (`bandx_desktop::settings`). `set data_dir DIR` moves the data safely: copy, verify, then switch; the
//! old folder is kept.

use std::path::Path;

use bandx_desktop::deploy::usb;
use bandx_desktop::paths::DataDir;
use bandx_desktop::settings::{self, KEYS, relocate_data};

#[derive(clap::Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Print every setting as `key: value` lines (empty: not set), then where the file is.
    List,
    /// Print one setting's value (empty: not set).
    Get {
        /// data_dir, serial_port, theme, band or last_folder.
        key: String,
    },
    /// Change one setting (an empty value clears it). `data_dir` copies the data to the new folder (new or
    /// empty), verifies the copy, and only then switches to it; the old folder is kept.
    Set { key: String, value: String },
    /// List this machine's serial ports (tab-separated: path, USB vid:pid, ESP32 bridge), ESP32 bridges first.
    Ports,
}

/// Runs `bandx config`; `data` is the data directory in use (for `set data_dir`).
pub fn run(args: &ConfigArgs, data: &DataDir) -> anyhow::Result<()> {
    let path = settings::default_path()?;
    match &args.action {
        Action::List => {
            let current = load(&path);
            for key in KEYS {
                println!("{key}: {}", current.get(key)?);
            }
            println!("file: {}", path.display());
        }
        Action::Get { key } => println!("{}", load(&path).get(key)?),
        Action::Set { key, value } => {
            let mut next = load(&path);
            next.set(key, value)?;
            if key == "data_dir"
                && let Some(dest) = &next.data_dir
            {
                move_data(data, dest)?;
            }
            settings::save(&path, &next)?;
            println!("{key}: {}", next.get(key)?);
        }
        Action::Ports => {
            for port in usb::list_system_ports()? {
                println!(
                    "{}\t{}\t{}",
                    port.path,
                    port.usb_id.as_deref().unwrap_or("-"),
                    port.bridge.as_deref().unwrap_or("-")
                );
            }
        }
    }
    Ok(())
}

/// The settings in the file; a bad file is reported on stderr and the defaults are used.
fn load(path: &Path) -> settings::Settings {
    let loaded = settings::load(path);
    if let Some(problem) = &loaded.problem {
        eprintln!("warning: {problem}");
    }
    loaded.settings
}

fn move_data(data: &DataDir, dest: &Path) -> anyhow::Result<()> {
    if data.root() == dest {
        return Ok(());
    }
    let moved = relocate_data(data, dest)?;
    eprintln!(
        "copied and verified {} files ({} rows in the store) into {}; the old folder {} is kept: delete it when you are sure",
        moved.files,
        moved.rows,
        dest.display(),
        data.root().display()
    );
    Ok(())
}
