//! Pre-training augmentation: exact geometry on hand-made windows, and the option's plumbing.

use bandx_model::preprocess::{Normalization, WINDOW_LEN, WINDOW_VALUES};
use bandx_model::train::{AugmentConfig, TrainConfig, augment_windows};
use rand::SeedableRng;
use rand::rngs::StdRng;

/// Only one transform switched on at a time.
fn only() -> AugmentConfig {
    AugmentConfig::new()
        .with_rotation_deg(0.0)
        .with_mirror_probability(0.0)
        .with_scale(0.0)
        .with_time_warp(0.0)
        .with_jitter(0.0)
        .with_probability(1.0)
}

fn window(f: impl Fn(usize) -> [f32; 6]) -> Vec<f32> {
    (0..WINDOW_LEN).flat_map(f).collect()
}

fn norm() -> Normalization {
    Normalization {
        mean: [0.5, -1.0, 9.0, 0.0, 0.1, -0.1],
        std: [2.0, 3.0, 4.0, 1.0, 0.5, 0.25],
    }
}

fn normalized(raw: &[f32], n: &Normalization) -> Vec<f32> {
    let mut out = Vec::new();
    n.apply_into(raw, &mut out);
    out
}

fn raw(x: &[f32], n: &Normalization) -> Vec<f32> {
    x.iter()
        .enumerate()
        .map(|(i, v)| v * n.std[i % 6] + n.mean[i % 6])
        .collect()
}

#[test]
fn all_off_is_the_identity() {
    let n = norm();
    let r = window(|t| [t as f32 * 0.1, 1.0, 9.8, 0.2, -0.3, (t as f32).sin()]);
    let mut x = normalized(&r, &n);
    let before = x.clone();
    augment_windows(&mut x, &n, &only(), &mut StdRng::seed_from_u64(1));
    for (a, b) in x.iter().zip(&before) {
        assert!((a - b).abs() < 1e-5);
    }
}

#[test]
fn mirror_negates_accel_x_and_gyro_y_z_in_si_units() {
    let n = norm();
    let r = window(|t| [1.0 + t as f32, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let mut x = normalized(&r, &n);
    augment_windows(
        &mut x,
        &n,
        &only().with_mirror_probability(1.0),
        &mut StdRng::seed_from_u64(2),
    );
    let out = raw(&x, &n);
    for t in 0..WINDOW_LEN {
        let s = &out[t * 6..t * 6 + 6];
        let e = [-(1.0 + t as f32), 2.0, 3.0, 4.0, -5.0, -6.0];
        for c in 0..6 {
            assert!(
                (s[c] - e[c]).abs() < 1e-3,
                "t {t} c {c}: {} vs {}",
                s[c],
                e[c]
            );
        }
    }
}

#[test]
fn rotation_turns_about_x_only_and_keeps_gravity_magnitude() {
    let n = norm();
    let r = window(|_| [3.0, 0.0, 9.0, 1.0, 0.0, 2.0]);
    let mut x: Vec<f32> = (0..8).flat_map(|_| normalized(&r, &n)).collect();
    augment_windows(
        &mut x,
        &n,
        &only().with_rotation_deg(30.0),
        &mut StdRng::seed_from_u64(3),
    );
    let out = raw(&x, &n);
    let mut turned = 0;
    for w in out.chunks_exact(WINDOW_VALUES) {
        let s = &w[..6];
        assert!((s[0] - 3.0).abs() < 1e-3 && (s[3] - 1.0).abs() < 1e-3);
        assert!(((s[1] * s[1] + s[2] * s[2]).sqrt() - 9.0).abs() < 1e-3);
        assert!(((s[4] * s[4] + s[5] * s[5]).sqrt() - 2.0).abs() < 1e-3);
        // At most 30 degrees away from +z.
        assert!(s[2] >= 9.0 * 30f32.to_radians().cos() - 1e-3, "{s:?}");
        // Same angle on both sensors: (y, z) stay proportional.
        assert!((s[1] / 9.0 - s[4] / 2.0).abs() < 1e-3);
        if s[1].abs() > 0.1 {
            turned += 1;
        }
    }
    assert!(turned >= 6, "only {turned} of 8 windows rotated");
}

#[test]
fn scale_and_time_warp_keep_the_window_mean_and_centre() {
    let n = Normalization::identity();
    let r = window(|t| {
        let v = (t as f32 * 0.7).sin();
        [v, v, 5.0 + v, v, v, v]
    });
    let mut x = r.clone();
    augment_windows(
        &mut x,
        &n,
        &only().with_scale(0.2),
        &mut StdRng::seed_from_u64(4),
    );
    let mean = |w: &[f32], c: usize| w.iter().skip(c).step_by(6).sum::<f32>() / WINDOW_LEN as f32;
    assert!((mean(&x, 2) - mean(&r, 2)).abs() < 1e-3);
    let ratio = (x[6 * 10] - mean(&x, 0)) / (r[6 * 10] - mean(&r, 0));
    assert!(
        (0.8..=1.2).contains(&ratio) && (ratio - 1.0).abs() > 1e-4,
        "{ratio}"
    );

    // Tempo: a ramp stays a ramp through the centre, with slope in 0.8..1.2.
    let ramp = window(|t| [t as f32; 6]);
    let mut y = ramp.clone();
    augment_windows(
        &mut y,
        &n,
        &only().with_time_warp(0.2),
        &mut StdRng::seed_from_u64(5),
    );
    let slope = (y[6 * 35] - y[6 * 25]) / 10.0;
    assert!(
        (0.8..=1.2).contains(&slope) && (slope - 1.0).abs() > 1e-4,
        "{slope}"
    );
    assert!((y[6 * 29] + y[6 * 30] - 59.0).abs() < 1e-3);
    assert!(y.iter().all(|v| (0.0..=59.0).contains(v)));
}

#[test]
fn the_option_is_off_by_default_and_round_trips() {
    let tc = TrainConfig::new();
    assert!(tc.augment.is_none());
    let on = tc.with_augment(Some(AugmentConfig::new()));
    let back: TrainConfig = serde_json::from_str(&serde_json::to_string(&on).unwrap()).unwrap();
    assert_eq!(back.augment.unwrap().rotation_deg, 30.0);
    // A config saved without the option still loads.
    let mut old = serde_json::to_value(TrainConfig::new()).unwrap();
    old.as_object_mut().unwrap().remove("augment");
    let old: TrainConfig = serde_json::from_value(old).unwrap();
    assert!(old.augment.is_none());
}
