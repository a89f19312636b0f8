//! Regenerates the virtual wearer's bundled excerpt from the WISDM 2019 watch files.
//!
//! `cargo run -p bandx-sim --example make_wearer_excerpt -- [subject] [skip_seconds] [seconds]`
//! (defaults: 1650 10 120). Reads `../shared/datasets/wisdm/wisdm-dataset/raw/watch/{accel,gyro}/`
//! and writes `firmware/sim/data/wisdm-<subject>.bxw.xz`.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use bandx_sim::wearer::excerpt::build_from_wisdm;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: u32| -> Result<u32, Box<dyn std::error::Error>> {
        Ok(args
            .get(i)
            .map(|s| s.parse())
            .transpose()?
            .unwrap_or(default))
    };
    let (subject, skip, seconds) = (arg(0, 1650)?, arg(1, 10)?, arg(2, 120)?);
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let watch = crate_dir.join("../../../shared/datasets/wisdm/wisdm-dataset/raw/watch");
    let read = |sensor: &str| -> Result<String, Box<dyn std::error::Error>> {
        let path: PathBuf = watch.join(format!("{sensor}/data_{subject}_{sensor}_watch.txt.xz"));
        let xz = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut text = Vec::new();
        lzma_rs::xz_decompress(&mut Cursor::new(xz), &mut text)?;
        Ok(String::from_utf8(text)?)
    };
    let excerpt = build_from_wisdm(
        u16::try_from(subject)?,
        &read("accel")?,
        &read("gyro")?,
        skip,
        seconds,
    )?;
    let bytes = xz_cli(&excerpt.encode()).unwrap_or_else(|| excerpt.to_xz());
    let out = crate_dir.join(format!("data/wisdm-{subject}.bxw.xz"));
    std::fs::write(&out, &bytes)?;
    let clipped: usize = excerpt
        .recordings
        .iter()
        .flat_map(|r| &r.samples)
        .filter(|s| s.iter().any(|v| v.abs() > 32.7))
        .count();
    println!(
        "{}: subject {subject}, {} activities ({}), seconds {skip}..{} of each block, {} bytes ({} uncompressed), {clipped} samples beyond the stored range",
        out.display(),
        excerpt.recordings.len(),
        excerpt.activities().map(|a| a.code()).collect::<String>(),
        skip + seconds,
        bytes.len(),
        excerpt.encode().len(),
    );
    Ok(())
}

/// `xz -9e` compresses about 20 % better than lzma-rs (whose encoder stores LZMA2 chunks uncompressed);
/// both decode with `lzma_rs::xz_decompress`.
fn xz_cli(raw: &[u8]) -> Option<Vec<u8>> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("xz")
        .args(["-9e", "--check=crc64", "--stdout"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .ok()?;
    // Feed xz from a thread: it writes its output while reading, and the pipes are small.
    let mut stdin = child.stdin.take()?;
    let input = raw.to_vec();
    let feeder = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().ok()?;
    feeder.join().ok()?.ok()?;
    out.status.success().then_some(out.stdout)
}
