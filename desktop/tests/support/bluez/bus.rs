//! A private D-Bus daemon of type "system", on a unix socket in a temporary directory.

use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Where to find `dbus-daemon`: `$BANDX_DBUS_DAEMON`, else the Debian path, else `$PATH`.
pub fn dbus_daemon_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("BANDX_DBUS_DAEMON") {
        return PathBuf::from(path);
    }
    let debian = Path::new("/usr/bin/dbus-daemon");
    if debian.exists() {
        return debian.to_path_buf();
    }
    PathBuf::from("dbus-daemon")
}

/// The address a bus listening on `socket` has: what `DBUS_SYSTEM_BUS_ADDRESS` should say.
pub fn address_for(socket: &Path) -> String {
    format!("unix:path={}", socket.display())
}

/// A running `dbus-daemon` that lets anyone own any name and send anything (a test bus). Killed
/// on drop.
pub struct PrivateBus {
    daemon: Child,
    address: String,
}

impl PrivateBus {
    /// Starts a daemon listening on `socket` (which must not exist yet); `config_dir` receives
    /// the daemon's configuration file. Returns once the daemon accepts connections.
    pub fn start(socket: &Path, config_dir: &Path) -> io::Result<PrivateBus> {
        let config = config_dir.join("bandx-test-system-bus.conf");
        std::fs::write(&config, config_xml(socket))?;
        let binary = dbus_daemon_binary();
        let mut daemon = Command::new(&binary)
            .arg(format!("--config-file={}", config.display()))
            .arg("--nofork")
            .arg("--nopidfile")
            .arg("--print-address=1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!(
                        "cannot start {} ({e}); install Debian package `dbus` or set BANDX_DBUS_DAEMON",
                        binary.display()
                    ),
                )
            })?;
        // The daemon prints its address once it listens.
        let mut line = String::new();
        let stdout = daemon.stdout.take().expect("stdout is piped");
        BufReader::new(stdout).read_line(&mut line)?;
        if line.trim().is_empty() {
            let status = daemon.wait()?;
            return Err(io::Error::other(format!(
                "dbus-daemon exited ({status}) before listening"
            )));
        }
        Ok(PrivateBus {
            daemon,
            address: address_for(socket),
        })
    }

    pub fn address(&self) -> &str {
        &self.address
    }
}

impl Drop for PrivateBus {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

fn config_xml(socket: &Path) -> String {
    format!(
        r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="method_return"/>
    <allow send_type="error"/>
    <allow send_type="signal"/>
    <allow send_destination="*"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
  </policy>
</busconfig>
"#,
        socket.display()
    )
}
