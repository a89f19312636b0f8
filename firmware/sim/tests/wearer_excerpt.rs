//! The bundled wearer excerpt against the WISDM files it was made from (skipped without the dataset).

use std::io::Cursor;
use std::path::Path;

use bandx_sim::Activity;
use bandx_sim::wearer::bundled_excerpt;
use bandx_sim::wearer::excerpt::{ACCEL_UNIT, GYRO_UNIT};

/// (activity code, timestamp ns, x, y, z) of every line, parsed here independently of the crate.
fn read_raw(sensor: &str) -> Option<Vec<(char, i64, [f32; 3])>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!(
        "../../../shared/datasets/wisdm/wisdm-dataset/raw/watch/{sensor}/data_1650_{sensor}_watch.txt.xz"
    ));
    let xz = std::fs::read(&path).ok()?;
    let mut text = Vec::new();
    lzma_rs::xz_decompress(&mut Cursor::new(xz), &mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    Some(
        text.lines()
            .map(|l| {
                let f: Vec<&str> = l.trim_end_matches(';').split(',').collect();
                let v = |i: usize| f[i].parse::<f32>().unwrap();
                (
                    f[1].chars().next().unwrap(),
                    f[2].parse().unwrap(),
                    [v(3), v(4), v(5)],
                )
            })
            .collect(),
    )
}

#[test]
fn the_excerpt_holds_subject_1650s_recorded_values_at_its_stated_times() {
    let (Some(accel), Some(gyro)) = (read_raw("accel"), read_raw("gyro")) else {
        eprintln!("SKIPPED: ../shared/datasets/wisdm (subject 1650 watch files) is not available");
        return;
    };
    let excerpt = bundled_excerpt();
    assert_eq!(excerpt.subject, 1650);
    for activity in [
        Activity::WALKING,
        Activity::SITTING,
        Activity::TEETH,
        Activity::CLAPPING,
    ] {
        let rec = excerpt.recording(activity).unwrap();
        let code = activity.code();
        let a: Vec<_> = accel.iter().filter(|r| r.0 == code).collect();
        let g: Vec<_> = gyro.iter().filter(|r| r.0 == code).collect();
        let block_start = a[0].1.min(g[0].1);
        for k in [0usize, 1, 777, 1500, rec.samples.len() - 1] {
            // start_ms is whole milliseconds: look at the readings around t ± 1 ms.
            let t = block_start + i64::from(rec.start_ms) * 1_000_000 + k as i64 * 50_000_000;
            for (readings, channels, unit) in [(&a, 0..3, ACCEL_UNIT), (&g, 3..6, GYRO_UNIT)] {
                let lo = readings.iter().rposition(|r| r.1 <= t - 1_000_000).unwrap();
                let hi = readings.iter().position(|r| r.1 >= t + 1_000_000).unwrap();
                for (axis, c) in channels.enumerate() {
                    let around = readings[lo..=hi].iter().map(|r| r.2[axis]);
                    let (min, max) =
                        around.fold((f32::MAX, f32::MIN), |(l, h), v| (l.min(v), h.max(v)));
                    let v = rec.samples[k][c];
                    assert!(
                        v >= min - unit && v <= max + unit,
                        "{activity} sample {k} channel {c}: {v} not within recorded [{min}, {max}]"
                    );
                }
            }
        }
    }
}
