//! Pre-training length counted in optimizer steps: the stop rules (step cap, patience after the
//! minimum length, convergence of the learning-rate decay), the schedule's independence from
//! the data set's size, and the small-data recipe's `first_seconds`.

mod support;
use support::rec;

use bandx_model::cnn::HarCnnConfig;
use bandx_model::preprocess::{Normalization, windows};
use bandx_model::recording::{Recording, first_seconds};
use bandx_model::train::{
    Examples, RecentAccuracy, StopReason, TrainConfig, learning_rate, pretrain,
};

fn wave(subject: &str, label: &str, freq: f32, seconds: usize) -> Recording {
    rec(subject, label, seconds * 20, |i| {
        let v = (std::f32::consts::TAU * freq * i as f32 / 20.0).sin();
        [v, 0.0, 9.8, v, 0.0, 0.0]
    })
}

/// Two easy classes: 2 x 9 windows = one step per epoch at batch 64.
fn tiny() -> (Examples, Examples) {
    let recs = [
        wave("a", "slow", 0.5, 15),
        wave("a", "fast", 3.0, 15),
        wave("b", "slow", 0.5, 15),
        wave("b", "fast", 3.0, 15),
    ];
    let w = windows(&recs);
    let labels = vec!["slow".to_string(), "fast".into()];
    let norm = Normalization::fit(&w);
    let train = Examples::new(w.iter().filter(|w| w.subject == "a"), &labels, &norm);
    let val = Examples::new(w.iter().filter(|w| w.subject == "b"), &labels, &norm);
    assert_eq!(train.len(), 18);
    (train, val)
}

fn small(cfg: TrainConfig) -> TrainConfig {
    cfg.with_eval_every_steps(1).with_seed(5)
}

#[test]
fn the_step_cap_ends_training_when_nothing_else_does() {
    let (train, val) = tiny();
    let cfg = small(TrainConfig::new().with_max_steps(7));
    let (_, report) = pretrain(&HarCnnConfig::new(), &train, &val, 2, &cfg, false);
    assert_eq!(report.stop_reason, Some(StopReason::StepCap));
    assert_eq!((report.steps, report.epochs_run), (7, 7));
    assert!(report.best_step >= 1 && report.best_step <= 7);
}

#[test]
fn patience_counts_steps_since_the_best_and_waits_for_the_minimum_length() {
    let (train, val) = tiny();
    // Easy data: validation accuracy tops out early, so patience ends training, but not before
    // `min_steps` and only `patience_steps` after the best step.
    let cfg = small(
        TrainConfig::new()
            .with_max_steps(400)
            .with_min_steps(60)
            .with_patience_steps(10),
    );
    let (_, report) = pretrain(&HarCnnConfig::new(), &train, &val, 2, &cfg, false);
    assert_eq!(report.stop_reason, Some(StopReason::Patience), "{report:?}");
    assert!(report.steps >= 60, "{report:?}");
    assert_eq!(
        report.steps,
        60.max(report.best_step + 10),
        "stops at the first check allowed: {report:?}"
    );
    assert!(report.best_val_accuracy > 0.9, "{report:?}");
}

#[test]
fn training_converges_when_the_learning_rate_reaches_its_floor() {
    let (train, val) = tiny();
    // Half-life 3 steps, floor 1/32 = five half-lives: converged at step 15.
    let cfg = small(
        TrainConfig::new()
            .with_max_steps(400)
            .with_min_steps(400)
            .with_lr_half_life_steps(3),
    );
    let (_, report) = pretrain(&HarCnnConfig::new(), &train, &val, 2, &cfg, false);
    assert_eq!(
        report.stop_reason,
        Some(StopReason::Converged),
        "{report:?}"
    );
    assert_eq!(report.steps, 15);
}

#[test]
fn the_learning_rate_halves_per_half_life_whatever_the_epoch_length() {
    let cfg = TrainConfig::new().with_learning_rate(2e-3);
    let half = cfg.lr_half_life_steps;
    assert_eq!(learning_rate(&cfg, 0), 2e-3);
    assert!((learning_rate(&cfg, half) - 1e-3).abs() < 1e-12);
    assert!((learning_rate(&cfg, 3 * half) - 2.5e-4).abs() < 1e-12);
    // The defaults: converged after five half-lives, before the step cap.
    assert!(5 * half < cfg.max_steps && cfg.min_steps <= cfg.max_steps);
    assert!((cfg.lr_floor - 0.5f64.powi(5)).abs() < 1e-12);
}

#[test]
fn first_seconds_keeps_the_start_of_each_activity_of_each_subject() {
    let mut second = wave("a", "slow", 0.5, 30);
    second.order = 1;
    let recs = vec![
        second,
        wave("a", "slow", 0.5, 25), // order 0: comes first
        wave("a", "fast", 3.0, 10),
        wave("b", "slow", 0.5, 50),
    ];
    let kept = first_seconds(recs, 40.0);
    let summary: Vec<(String, String, usize, usize)> = kept
        .iter()
        .map(|r| (r.subject.clone(), r.label.clone(), r.order, r.samples.len()))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("a".into(), "fast".into(), 0, 200),
            ("a".into(), "slow".into(), 0, 500),
            ("a".into(), "slow".into(), 1, 300),
            ("b".into(), "slow".into(), 0, 800),
        ]
    );
}

#[test]
fn short_epochs_average_the_validation_accuracy_over_the_window() {
    // Evaluations every 100 steps, window 300: the mean of the last three.
    let mut r = RecentAccuracy::new(300);
    assert_eq!(r.push(100, 0.9), 0.9);
    assert!((r.push(200, 0.6) - 0.75).abs() < 1e-6);
    assert!((r.push(300, 0.6) - 0.7).abs() < 1e-6);
    assert!(
        (r.push(400, 0.3) - 0.5).abs() < 1e-6,
        "the evaluation at 100 left"
    );
    // Evaluations a window apart (long epochs): each stands alone.
    let mut long = RecentAccuracy::new(500);
    assert_eq!(long.push(500, 0.7), 0.7);
    assert_eq!(long.push(1000, 0.4), 0.4);
}
