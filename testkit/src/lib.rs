//! bandx-testkit: fixtures the tests of bandx-desktop, the `bandx` CLI and the app share (a dev-dependency
//! only). Each builds real things through the real APIs: a calibration recording goes through the store's
//! `RecordingWriter` as the app's recording does, a blob is written by bandx-core's writer.

use bandx_core::blob::{DIGEST_LEN, sha256};
use bandx_core::demo::{DEMO_BLOB_CAPACITY, write_demo_model};
use std::path::Path;

use bandx_desktop::link::sim::DEMO_PERSONAL_MODEL;
use bandx_desktop::store::{
    ClassId, FlushPolicy, FullScale, NewModel, NewRecording, NewWindow, ProfileId, RawSample,
    RecordingWriter, Store, Verdict,
};
use bandx_sim::wearer::{Activity, Style, Wearer, bundled_excerpt};

/// The full scale the fixtures' recordings claim (the band's default).
pub const FS: FullScale = FullScale {
    accel_g: 8,
    gyro_dps: 1000,
};

/// The virtual wearer (WISDM subject 1650's bundled excerpt), wearing the band on the other wrist.
pub fn wearer() -> Wearer {
    Wearer::new(bundled_excerpt(), Activity::WALKING, Style::DIFFERENT)
        .expect("the bundled excerpt")
}

/// One class's calibration, as the app records it.
pub struct Calibration<'a> {
    pub name: &'a str,
    pub activity: Activity,
    /// Good windows, then `rejected` rejected ones (3 s, 50 % overlap).
    pub good: usize,
    pub rejected: usize,
    pub started_at_ms: i64,
}

/// Records `good + rejected` calibration windows of the wearer doing `activity` into a new class: raw i16
/// samples through the store's `RecordingWriter`, then one window row each (the first `good` good).
pub fn record_class(
    store: &Store,
    profile: ProfileId,
    wearer: &mut Wearer,
    c: &Calibration<'_>,
) -> ClassId {
    let class = store.add_class(profile, c.name, 1).unwrap();
    let recording = store
        .create_recording(
            profile,
            &NewRecording {
                class: Some(class),
                band: None,
                started_at_ms: c.started_at_ms,
                sample_rate_hz: 20.0,
                full_scale: FS,
            },
        )
        .unwrap();
    wearer.set_activity(c.activity).unwrap();
    let windows = c.good + c.rejected;
    let samples = 30 * (windows - 1) + 60;
    let mut writer = RecordingWriter::new(store, recording, FlushPolicy::default()).unwrap();
    for i in 0..samples {
        let raw = wearer.next_raw(bandx_core::imu::FullScale::DEFAULT);
        let sample = RawSample {
            frame_seq: i as u32 / 4,
            t_ms: i as i64 * 50,
            accel: raw.accel,
            gyro: raw.gyro,
        };
        writer.push(store, sample).unwrap();
    }
    writer.flush(store).unwrap();
    for w in 0..windows {
        let (verdict, reason) = if w < c.good {
            (Verdict::Good, None)
        } else {
            (Verdict::Rejected, Some("too little motion".to_string()))
        };
        store
            .add_window(
                recording,
                &NewWindow {
                    start_index: 30 * w as u64,
                    verdict,
                    reason,
                },
            )
            .unwrap();
    }
    class
}

/// A small valid model (bandx-core's demo: 7 classes, weights drawn from `seed`) that is not the one a
/// fresh virtual band starts with.
pub fn demo_blob(id: u32, version: u32, seed: u32) -> Vec<u8> {
    let mut buf = vec![0u8; DEMO_BLOB_CAPACITY];
    let n = write_demo_model(&mut buf, id, version, seed).unwrap();
    buf.truncate(n);
    buf
}

/// `blob` with its format-version field (bytes 4..6, FORMAT.md) set to `version` and its SHA-256 digest
/// recomputed, so the version is all that differs.
pub fn with_format_version(blob: &[u8], version: u16) -> Vec<u8> {
    let mut out = blob.to_vec();
    out[4..6].copy_from_slice(&version.to_le_bytes());
    let body = out.len() - DIGEST_LEN;
    let digest = sha256(&out[..body]);
    out[body..].copy_from_slice(&digest);
    out
}

/// Stores `blob` as the profile's next model with these class names; returns its version.
pub fn add_model(store: &Store, profile: ProfileId, blob: &[u8], classes: &[&str]) -> u32 {
    store
        .add_model(
            profile,
            &NewModel {
                backbone_id: "test".into(),
                classes: classes.iter().map(|s| s.to_string()).collect(),
                metrics: serde_json::json!({ "personal_accuracy": 0.9 }),
                blob: blob.to_vec(),
                created_at_ms: 1,
            },
        )
        .unwrap()
        .1
}

/// A store at `path` whose profile "ana" has one model, v1, as an older BandX Studio stored it (blob format 1),
/// and a [`store_snapshot`] of it.
pub fn store_with_an_outdated_model(path: &Path) -> (ProfileId, String) {
    let store = Store::open(path).unwrap();
    let profile = store.create_profile("ana", 0).unwrap();
    add_model(
        &store,
        profile,
        &with_format_version(DEMO_PERSONAL_MODEL, 1),
        &["walking", "typing"],
    );
    (profile, store_snapshot(&store, profile))
}

/// Everything a deployment could touch (models, deployments, bands), to compare before and after.
pub fn store_snapshot(store: &Store, profile: ProfileId) -> String {
    format!(
        "{:?}\n{:?}\n{:?}",
        store.models(profile).unwrap(),
        store.deployments(profile).unwrap(),
        store.bands().unwrap()
    )
}

/// Where `make firmware-c3` leaves the ESP32-C3 firmware's flashable app image.
pub const ESP32C3_IMAGE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../firmware/esp32c3/target/riscv32imc-unknown-none-elf/release/bandx-firmware-c3.bin"
);

/// The real ESP32-C3 firmware image, if it was built (`make test` builds it first). When it was not,
/// says so on stderr and returns `None`, so a test can skip its part that needs it.
pub fn esp32c3_firmware_image() -> Option<Vec<u8>> {
    match std::fs::read(ESP32C3_IMAGE) {
        Ok(image) => Some(image),
        Err(e) => {
            eprintln!(
                "SKIPPED: the real ESP32-C3 image is not built ({ESP32C3_IMAGE}: {e}); run `make firmware-c3`"
            );
            None
        }
    }
}

/// Where `make firmware-c3` leaves the ESP32-C3 firmware's ELF (what `cargo build --release` makes).
pub const ESP32C3_ELF: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../firmware/esp32c3/target/riscv32imc-unknown-none-elf/release/bandx-firmware-c3"
);

/// The real ESP32-C3 firmware ELF, if it was built; like [`esp32c3_firmware_image`], `None` (said on stderr)
/// when it was not.
pub fn esp32c3_firmware_elf() -> Option<Vec<u8>> {
    match std::fs::read(ESP32C3_ELF) {
        Ok(elf) => Some(elf),
        Err(e) => {
            eprintln!(
                "SKIPPED: the real ESP32-C3 ELF is not built ({ESP32C3_ELF}: {e}); run `make firmware-c3`"
            );
            None
        }
    }
}

/// A small ESP32 (Xtensa) firmware ELF, as a linker lays one out: an ESP-IDF app description declaring
/// `version` in `.flash.appdesc` (DROM, 0x3F40_0020), `.flash.rodata` after it, `.text` in IROM
/// (0x400D_0020) and `.data` in DRAM, with pseudo-random contents from `seed`. What the USB path flashes
/// when a test needs an ELF for the ESP32 (the real ESP32 firmware needs Espressif's Xtensa toolchain).
pub fn esp32_demo_elf(version: &str, seed: u32) -> Vec<u8> {
    const EM_XTENSA: u16 = 94;
    let mut rng = seed.max(1);
    let mut noise = |n: usize| -> Vec<u8> {
        (0..n)
            .map(|_| {
                rng ^= rng << 13;
                rng ^= rng >> 17;
                rng ^= rng << 5;
                (rng >> 8) as u8
            })
            .collect()
    };
    let mut appdesc = vec![0u8; 256];
    bandx_core::update::release::write_app_desc(&mut appdesc, version).expect("a short version");
    // (name, address, flags: ALLOC = 2, WRITE = 1, EXECINSTR = 4, data)
    let sections: Vec<(&str, u32, u32, Vec<u8>)> = vec![
        (".flash.appdesc", 0x3F40_0020, 2, appdesc),
        (".flash.rodata", 0x3F40_0120, 2, noise(3000)),
        (".text", 0x400D_0020, 6, noise(9000)),
        (".data", 0x3FFB_0000, 3, noise(1200)),
    ];
    let mut shstrtab = vec![0u8];
    let mut names = Vec::new();
    for name in sections.iter().map(|s| s.0).chain([".shstrtab"]) {
        names.push(shstrtab.len() as u32);
        shstrtab.extend_from_slice(name.as_bytes());
        shstrtab.push(0);
    }
    let mut file = vec![0u8; 52];
    let mut headers = vec![[0u32; 10]]; // the null section
    for (i, (_, addr, flags, data)) in sections.iter().enumerate() {
        headers.push([
            names[i],
            1,
            *flags,
            *addr,
            file.len() as u32,
            data.len() as u32,
            0,
            0,
            4,
            0,
        ]);
        file.extend_from_slice(data);
    }
    headers.push([
        names[sections.len()],
        3,
        0,
        0,
        file.len() as u32,
        shstrtab.len() as u32,
        0,
        0,
        1,
        0,
    ]);
    file.extend_from_slice(&shstrtab);
    while !file.len().is_multiple_of(4) {
        file.push(0);
    }
    let shoff = file.len() as u32;
    for h in &headers {
        for word in h {
            file.extend_from_slice(&word.to_le_bytes());
        }
    }
    let mut header = Vec::with_capacity(52);
    header.extend_from_slice(b"\x7fELF");
    header.extend_from_slice(&[1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // ELF32, little-endian, version 1
    header.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    header.extend_from_slice(&EM_XTENSA.to_le_bytes());
    header.extend_from_slice(&1u32.to_le_bytes());
    header.extend_from_slice(&0x400D_0020u32.to_le_bytes()); // entry
    header.extend_from_slice(&0u32.to_le_bytes()); // no program headers
    header.extend_from_slice(&shoff.to_le_bytes());
    header.extend_from_slice(&0u32.to_le_bytes()); // flags
    for half in [
        52u16,
        32,
        0,
        40,
        headers.len() as u16,
        headers.len() as u16 - 1,
    ] {
        header.extend_from_slice(&half.to_le_bytes());
    }
    file[..52].copy_from_slice(&header);
    file
}

/// A well-formed app image for `chip` (bandx-core's demo image, about `data_len` bytes).
pub fn demo_app_image(chip: bandx_core::update::Chip, data_len: usize, seed: u32) -> Vec<u8> {
    let mut buf = vec![0u8; data_len + 256];
    let n = bandx_core::demo::write_demo_app_image(&mut buf, chip, data_len, seed)
        .expect("room for the image");
    buf.truncate(n);
    buf
}

/// A user at the virtual band: types the code its screen shows.
pub struct ReadsTheBand(pub bandx_sim::SimBand);

#[async_trait::async_trait]
impl bandx_desktop::link::PasskeyEntry for ReadsTheBand {
    async fn passkey(&self) -> Option<u32> {
        self.0.displayed_passkey().map(|p| p.value())
    }
}

/// Pairs this desktop with the virtual band through the link's real pairing path (the code read off the band's
/// screen), as a user does once before anything else; returns the link.
pub fn paired(link: bandx_desktop::link::sim::SimLink) -> bandx_desktop::link::sim::SimLink {
    use bandx_desktop::link::Link;
    let id = link.band().scan_result().id;
    futures::executor::block_on(link.pair(&id, &ReadsTheBand(link.band().clone())))
        .expect("the desktop pairs with the virtual band");
    link
}

/// One owner key for a test process (made once in a temporary data directory that lives as long as the process).
pub fn test_owner() -> &'static bandx_desktop::owner::OwnerKeyFile {
    static OWNER: std::sync::OnceLock<bandx_desktop::owner::OwnerKeyFile> =
        std::sync::OnceLock::new();
    OWNER.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("bandx-test-owner-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary data directory");
        bandx_desktop::owner::OwnerKeyFile::load_or_create(&bandx_desktop::paths::DataDir::at(&dir))
            .expect("a test owner key")
    })
}
