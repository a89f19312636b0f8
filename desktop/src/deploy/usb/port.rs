//! Finding the band on USB: serial ports with a known ESP32 USB bridge behind them, and opening one.

use std::time::Duration;

use espflash::connection::Port;
use serde::Serialize;
use serialport::{SerialPortInfo, SerialPortType, UsbPortInfo};

use super::UsbError;
use super::rom::CONNECT_BAUD;

/// USB serial bridges found on ESP32 boards, and the ESP32's own USB-JTAG/serial.
pub const ESP32_USB_BRIDGES: &[(u16, u16, &str)] = &[
    (0x10c4, 0xea60, "Silicon Labs CP210x"),
    (0x1a86, 0x7523, "WCH CH340"),
    (0x1a86, 0x55d4, "WCH CH9102"),
    (0x0403, 0x6001, "FTDI FT232R"),
    (0x303a, 0x1001, "Espressif USB-JTAG/serial"),
];

/// A serial port that looks like it has an ESP32 behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BandPort {
    /// Device path, e.g. `/dev/ttyUSB0`.
    pub path: String,
    pub vid: u16,
    pub pid: u16,
    /// The USB bridge chip, e.g. "Silicon Labs CP210x".
    pub bridge: &'static str,
    pub serial_number: Option<String>,
    pub product: Option<String>,
}

/// Serial ports on this machine that look like an ESP32 board.
pub fn list_band_ports() -> Result<Vec<BandPort>, UsbError> {
    let ports = serialport::available_ports().map_err(|e| UsbError::Serial(e.to_string()))?;
    Ok(band_ports(ports))
}

/// The one band port to use when the user did not pick one: the first ESP32-looking port.
pub fn find_band_port() -> Result<BandPort, UsbError> {
    let mut ports = list_band_ports()?;
    ports.sort_by(|a, b| a.path.cmp(&b.path));
    ports.into_iter().next().ok_or(UsbError::NoPort)
}

/// Keeps the ports whose USB vendor/product id is a known ESP32 bridge.
pub fn band_ports(ports: Vec<SerialPortInfo>) -> Vec<BandPort> {
    ports
        .into_iter()
        .filter_map(|port| {
            let SerialPortType::UsbPort(usb) = port.port_type else {
                return None;
            };
            let bridge = ESP32_USB_BRIDGES
                .iter()
                .find(|(vid, pid, _)| (*vid, *pid) == (usb.vid, usb.pid))
                .map(|(_, _, bridge)| *bridge)?;
            Some(BandPort {
                path: port.port_name,
                vid: usb.vid,
                pid: usb.pid,
                bridge,
                serial_number: usb.serial_number,
                product: usb.product,
            })
        })
        .collect()
}

/// A serial port on this machine, as the Settings screen and `bandx config ports` list it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct SystemPort {
    /// Device path, e.g. `/dev/ttyUSB0`.
    pub path: String,
    /// `vid:pid` in hex for a USB port, e.g. `10c4:ea60`.
    pub usb_id: Option<String>,
    /// The ESP32 USB bridge behind it (e.g. "Silicon Labs CP210x"), when it is a known one.
    pub bridge: Option<String>,
    /// What the USB device calls itself.
    pub product: Option<String>,
}

/// Every serial port on this machine, the ESP32-looking ones first (then by path).
pub fn list_system_ports() -> Result<Vec<SystemPort>, UsbError> {
    let ports = serialport::available_ports().map_err(|e| UsbError::Serial(e.to_string()))?;
    Ok(system_ports(ports))
}

/// [`list_system_ports`] on a given list.
pub fn system_ports(ports: Vec<SerialPortInfo>) -> Vec<SystemPort> {
    let mut out: Vec<SystemPort> = ports
        .into_iter()
        .map(|port| match port.port_type {
            SerialPortType::UsbPort(usb) => SystemPort {
                path: port.port_name,
                usb_id: Some(format!("{:04x}:{:04x}", usb.vid, usb.pid)),
                bridge: ESP32_USB_BRIDGES
                    .iter()
                    .find(|(vid, pid, _)| (*vid, *pid) == (usb.vid, usb.pid))
                    .map(|(_, _, bridge)| bridge.to_string()),
                product: usb.product,
            },
            _ => SystemPort {
                path: port.port_name,
                usb_id: None,
                bridge: None,
                product: None,
            },
        })
        .collect();
    out.sort_by(|a, b| (a.bridge.is_none(), &a.path).cmp(&(b.bridge.is_none(), &b.path)));
    out
}

/// An open serial line to a board, before anything is said on it.
#[derive(Debug)]
pub struct SerialLine {
    pub(super) port: Port,
    pub(super) usb: UsbPortInfo,
    pub(super) name: String,
}

impl SerialLine {
    /// Opens a port found by [`list_band_ports`].
    pub fn open(band: &BandPort) -> Result<SerialLine, UsbError> {
        let mut line = SerialLine::open_path(&band.path)?;
        line.usb.vid = band.vid;
        line.usb.pid = band.pid;
        Ok(line)
    }

    /// Opens a serial device by path (a USB bridge is assumed to be a CP210x).
    pub fn open_path(path: &str) -> Result<SerialLine, UsbError> {
        let port = serialport::new(path, CONNECT_BAUD)
            .timeout(Duration::from_secs(3))
            .open_native()
            .map_err(|e| open_error(path, e))?;
        Ok(SerialLine {
            port,
            usb: cp210x(),
            name: path.to_owned(),
        })
    }

    /// Wraps an already open port, e.g. one end of `TTYPort::pair()` in tests.
    pub fn from_port(port: Port, name: impl Into<String>) -> SerialLine {
        SerialLine {
            port,
            usb: cp210x(),
            name: name.into(),
        }
    }
}

fn cp210x() -> UsbPortInfo {
    UsbPortInfo {
        vid: 0x10c4,
        pid: 0xea60,
        serial_number: None,
        manufacturer: None,
        product: None,
    }
}

fn open_error(path: &str, e: serialport::Error) -> UsbError {
    use serialport::ErrorKind;
    match e.kind() {
        ErrorKind::Io(std::io::ErrorKind::PermissionDenied) => UsbError::PermissionDenied {
            port: path.to_owned(),
        },
        ErrorKind::Io(std::io::ErrorKind::NotFound) => UsbError::PortNotFound {
            port: path.to_owned(),
        },
        // serialport reports a port held by another program (EBUSY, flock) as NoDevice.
        ErrorKind::NoDevice => UsbError::PortBusy {
            port: path.to_owned(),
        },
        _ => UsbError::Serial(format!("{path}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usb(vid: u16, pid: u16, name: &str) -> SerialPortInfo {
        SerialPortInfo {
            port_name: name.into(),
            port_type: SerialPortType::UsbPort(UsbPortInfo {
                vid,
                pid,
                serial_number: Some("0001".into()),
                manufacturer: None,
                product: Some("board".into()),
            }),
        }
    }

    #[test]
    fn only_esp32_bridges_are_listed() {
        let ports = vec![
            usb(0x10c4, 0xea60, "/dev/ttyUSB0"),
            usb(0x2341, 0x0043, "/dev/ttyACM0"), // an Arduino Uno
            usb(0x303a, 0x1001, "/dev/ttyACM1"),
            SerialPortInfo {
                port_name: "/dev/ttyS0".into(),
                port_type: SerialPortType::Unknown,
            },
        ];
        let found = band_ports(ports);
        let paths: Vec<&str> = found.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["/dev/ttyUSB0", "/dev/ttyACM1"]);
        assert_eq!(found[0].bridge, "Silicon Labs CP210x");
        assert_eq!(found[1].serial_number.as_deref(), Some("0001"));
    }

    #[test]
    fn every_port_is_listed_with_the_esp32_bridges_named_first() {
        let ports = vec![
            SerialPortInfo {
                port_name: "/dev/ttyS0".into(),
                port_type: SerialPortType::Unknown,
            },
            usb(0x2341, 0x0043, "/dev/ttyACM0"),
            usb(0x1a86, 0x7523, "/dev/ttyUSB1"),
            usb(0x303a, 0x1001, "/dev/ttyACM1"),
        ];
        let listed = system_ports(ports);
        let rows: Vec<(&str, Option<&str>, Option<&str>)> = listed
            .iter()
            .map(|p| (p.path.as_str(), p.usb_id.as_deref(), p.bridge.as_deref()))
            .collect();
        assert_eq!(
            rows,
            [
                (
                    "/dev/ttyACM1",
                    Some("303a:1001"),
                    Some("Espressif USB-JTAG/serial")
                ),
                ("/dev/ttyUSB1", Some("1a86:7523"), Some("WCH CH340")),
                ("/dev/ttyACM0", Some("2341:0043"), None),
                ("/dev/ttyS0", None, None),
            ]
        );
    }

    #[test]
    fn open_errors_become_plain_sentences() {
        let denied = open_error(
            "/dev/ttyUSB0",
            serialport::Error::new(
                serialport::ErrorKind::Io(std::io::ErrorKind::PermissionDenied),
                "EACCES",
            ),
        );
        assert!(matches!(denied, UsbError::PermissionDenied { .. }));
        assert!(denied.to_string().contains("dialout"), "{denied}");
        let busy = open_error(
            "/dev/ttyUSB0",
            serialport::Error::new(serialport::ErrorKind::NoDevice, "EBUSY"),
        );
        assert!(matches!(busy, UsbError::PortBusy { .. }));
    }

    #[test]
    fn opening_a_missing_port_says_so() {
        let err = SerialLine::open_path("/dev/bandx-no-such-port").unwrap_err();
        assert_eq!(
            err,
            UsbError::PortNotFound {
                port: "/dev/bandx-no-such-port".into()
            }
        );
    }
}
