//! `bandx pair` / `bandx unpair` as a user runs them: against the BlueZ stand-in on a private
//! system D-Bus (the `bandx` process is pointed at it with `DBUS_SYSTEM_BUS_ADDRESS`), reading
//! the code off the band's "screen" when the CLI asks for it and typing it on stdin.

#[path = "../../desktop/tests/support/bluez/mod.rs"]
#[allow(unused_imports)] // the stand-in exports more than this test uses
mod bluez;
mod support;

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};

use bandx_desktop::link::{
    BANDX_SERVICE_UUID, BULK_UUID, CONTROL_UUID, IMU_UUID, PREDICTIONS_UUID,
};
use bluez::{
    BluezStandIn, CharacteristicSpec, DeviceSpec, PasskeyBand, PrivateBus, ServiceSpec, Silent,
};
use support::{stderr, stdout};

const BAND: &str = "C0:FF:EE:00:00:03";
/// The band refused this desktop, or pairing failed (`bandx --help`).
const EXIT_NOT_PAIRED: i32 = 9;
/// What the CLI prints when it waits for the code.
const PROMPT: &str = "the band shows: ";

fn band(security: PasskeyBand) -> DeviceSpec {
    let characteristic = |uuid, flags: &[&'static str]| CharacteristicSpec {
        uuid,
        flags: flags.to_vec(),
    };
    DeviceSpec {
        address: BAND.into(),
        name: "BandX-7F3C".into(),
        rssi: -45,
        advertised: vec![BANDX_SERVICE_UUID],
        services: vec![ServiceSpec {
            uuid: BANDX_SERVICE_UUID,
            characteristics: vec![
                characteristic(IMU_UUID, &["notify"]),
                characteristic(PREDICTIONS_UUID, &["notify"]),
                characteristic(CONTROL_UUID, &["write", "notify"]),
                characteristic(BULK_UUID, &["write-without-response"]),
            ],
        }],
        mtu: 247,
        behaviour: Box::new(Silent),
        security: Some(Box::new(security)),
    }
}

/// `bandx ARGS...` on the test bus, with nothing on stdin.
fn bandx_on(bus: &str, data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bandx"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("DBUS_SYSTEM_BUS_ADDRESS", bus)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .expect("running bandx")
}

/// What the person at the terminal does when `bandx pair` asks for the code.
enum Typist {
    /// Types what the band's screen shows.
    ReadsTheScreen,
    /// Types a code one off.
    Mistypes,
    /// Types what the screen shows, in two groups of three.
    ReadsInGroups,
}

/// `bandx --band BAND pair` on the test bus, typing on its stdin as `typist` would once asked.
/// Returns the output and how many times the CLI asked.
fn pair_interactively(
    bus: &str,
    data_dir: &Path,
    screen: &PasskeyBand,
    typist: Typist,
) -> (Output, usize) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bandx"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--band", BAND, "pair"])
        .env("DBUS_SYSTEM_BUS_ADDRESS", bus)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running bandx");
    let mut stdin = child.stdin.take().unwrap();
    let mut errors = child.stderr.take().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let reader = {
        let seen = Arc::clone(&seen);
        let screen = screen.clone();
        std::thread::spawn(move || {
            let mut prompts = 0;
            let mut byte = [0u8; 1];
            while errors.read(&mut byte).map(|n| n == 1).unwrap_or(false) {
                let mut text = seen.lock().unwrap();
                text.push(byte[0]);
                if !text.ends_with(PROMPT.as_bytes()) {
                    continue;
                }
                drop(text);
                prompts += 1;
                let shown = screen.screen().expect("the band shows its code when asked");
                let typed = match (&typist, prompts) {
                    (Typist::ReadsTheScreen, _) => format!("{shown:06}\n"),
                    (Typist::Mistypes, _) => format!("{:06}\n", (shown + 1) % 1_000_000),
                    (Typist::ReadsInGroups, _) => {
                        format!("{:03} {:03}\n", shown / 1000, shown % 1000)
                    }
                };
                if stdin.write_all(typed.as_bytes()).is_err() {
                    break;
                }
            }
            prompts
        })
    };
    let status = child.wait().expect("bandx ends");
    let prompts = reader.join().unwrap();
    let mut out = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
    let stderr = seen.lock().unwrap().clone();
    (
        Output {
            status,
            stdout: out,
            stderr,
        },
        prompts,
    )
}

#[test]
fn pairing_and_unpairing_over_bluez() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("system_bus_socket");
    let bus = PrivateBus::start(&socket, dir.path()).expect("start dbus-daemon");
    let address = bus.address().to_string();
    let data = dir.path().join("data");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let screen = PasskeyBand::new(vec![402_653, 7_919, 955_001, 123_987]);
    let bluez = runtime
        .block_on(BluezStandIn::start(
            &address,
            true,
            vec![band(screen.clone())],
        ))
        .expect("start the BlueZ stand-in");
    let device = bluez.device(BAND);

    // BlueZ learns about the band from a scan.
    let out = bandx_on(&address, &data, &["scan", "--seconds", "1"]);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout(&out).contains(BAND), "{}", stdout(&out));

    // Not paired: the band refuses, and the CLI says what to do.
    let out = bandx_on(&address, &data, &["--band", BAND, "info"]);
    assert_eq!(out.status.code(), Some(EXIT_NOT_PAIRED), "{out:?}");
    assert!(
        stderr(&out).contains("pair with it first"),
        "{}",
        stderr(&out)
    );

    // Not in pairing mode: refused before any code is shown.
    screen.set_pairing_mode(false);
    let (out, prompts) = pair_interactively(&address, &data, &screen, Typist::ReadsTheScreen);
    assert_eq!(out.status.code(), Some(EXIT_NOT_PAIRED), "{out:?}");
    assert_eq!(prompts, 0);
    assert!(
        stderr(&out).contains("not in pairing mode"),
        "{}",
        stderr(&out)
    );
    screen.set_pairing_mode(true);

    // A wrong code.
    let (out, prompts) = pair_interactively(&address, &data, &screen, Typist::Mistypes);
    assert_eq!(out.status.code(), Some(EXIT_NOT_PAIRED), "{out:?}");
    assert_eq!(prompts, 1);
    let text = stderr(&out);
    assert!(
        text.contains("the band shows a six-digit code on its screen"),
        "{text}"
    );
    assert!(text.contains("wrong code"), "{text}");
    assert!(!device.is_paired());

    // Nothing typed (end of input): cancelled.
    let out = bandx_on(&address, &data, &["--band", BAND, "pair"]);
    assert_eq!(out.status.code(), Some(EXIT_NOT_PAIRED), "{out:?}");
    assert!(stderr(&out).contains("cancelled"), "{}", stderr(&out));

    // The right code.
    let (out, prompts) = pair_interactively(&address, &data, &screen, Typist::ReadsInGroups);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(prompts, 1, "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), format!("paired: {BAND}"));
    assert!(device.is_paired());
    assert!(screen.is_bonded());

    // Unpair: BlueZ forgets the bond.
    let out = bandx_on(&address, &data, &["--band", BAND, "unpair"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout(&out).trim(), format!("unpaired: {BAND}"));
    assert!(!device.is_paired());
    let out = bandx_on(&address, &data, &["scan", "--seconds", "1"]);
    assert!(out.status.success(), "{out:?}");
    let out = bandx_on(&address, &data, &["--band", BAND, "info"]);
    assert_eq!(out.status.code(), Some(EXIT_NOT_PAIRED), "{out:?}");

    // A code given up front (this band's next one).
    let code = format!("{:06}", 123_987);
    let out = bandx_on(&address, &data, &["--band", BAND, "pair", "--code", &code]);
    assert!(out.status.success(), "{out:?}");
    assert!(device.is_paired());

    runtime.block_on(bluez.stop());
    drop(bus);
}
