//! How good will the personal model be? Estimated from the calibration data itself: cross-validation
//! across contiguous calibration blocks, a confusion matrix, the classes too alike to tell apart, and the
//! generic (pre-trained) model's accuracy on the same windows for comparison.

use bandx_model::checkpoint::Checkpoint;
use bandx_model::cnn::HarCnn;
use bandx_model::train::{Examples, argmax, logits, predict};
use serde::{Deserialize, Serialize};

use super::TrainError;
use super::calibration::{CalibrationSet, SiWindow};

/// Counts `[true class][predicted class]` over the user's classes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confusion {
    pub classes: Vec<String>,
    pub counts: Vec<Vec<u32>>,
}

impl Confusion {
    pub fn new(classes: Vec<String>) -> Confusion {
        let n = classes.len();
        Confusion {
            classes,
            counts: vec![vec![0; n]; n],
        }
    }

    pub fn add(&mut self, truth: usize, predicted: usize) {
        self.counts[truth][predicted] += 1;
    }

    pub fn total(&self) -> u32 {
        self.counts.iter().flatten().sum()
    }

    pub fn accuracy(&self) -> f64 {
        let right: u32 = (0..self.classes.len()).map(|i| self.counts[i][i]).sum();
        f64::from(right) / f64::from(self.total().max(1))
    }

    /// The share of class `truth`'s windows predicted as `predicted`.
    pub fn rate(&self, truth: usize, predicted: usize) -> f64 {
        let row: u32 = self.counts[truth].iter().sum();
        f64::from(self.counts[truth][predicted]) / f64::from(row.max(1))
    }
}

/// Two classes the cross-validation mixes up: one of them is predicted as the other for more than the
/// threshold's share of its windows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimilarPair {
    pub a: String,
    pub b: String,
    /// Share of `a`'s windows predicted as `b`.
    pub a_as_b: f64,
    /// Share of `b`'s windows predicted as `a`.
    pub b_as_a: f64,
}

impl SimilarPair {
    pub fn message(&self) -> String {
        format!(
            "\"{}\" and \"{}\" are too alike to tell apart ({:.0} % of \"{}\" taken for \"{}\", {:.0} % the other way); \
             record them more differently or merge them",
            self.a,
            self.b,
            self.a_as_b * 100.0,
            self.a,
            self.b,
            self.b_as_a * 100.0
        )
    }
}

/// Pairs of classes confused above `threshold` in either direction, each pair once.
pub fn similar_pairs(confusion: &Confusion, threshold: f64) -> Vec<SimilarPair> {
    let n = confusion.classes.len();
    let mut out = Vec::new();
    for a in 0..n {
        for b in a + 1..n {
            let (ab, ba) = (confusion.rate(a, b), confusion.rate(b, a));
            if ab > threshold || ba > threshold {
                out.push(SimilarPair {
                    a: confusion.classes[a].clone(),
                    b: confusion.classes[b].clone(),
                    a_as_b: ab,
                    b_as_a: ba,
                });
            }
        }
    }
    out
}

/// The pre-trained model's accuracy on the user's windows, when their classes are ones it knows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum GenericAccuracy {
    /// Every user class matches a pre-training label (by name, ignoring case).
    Comparable {
        /// Scored by label name over all pre-training classes (as bandx-model's PS(GM)).
        accuracy: f64,
        /// The generic model told which classes are possible: argmax over the user's classes only.
        among_user_classes: f64,
    },
    /// Some user classes are not pre-training labels: the generic model cannot name them.
    NotComparable { unknown_classes: Vec<String> },
}

/// The windows laid out for bandx-model: normalized, with class indices and cross-validation blocks.
pub(super) struct Dataset<'a> {
    pub examples: Examples,
    pub windows: Vec<&'a SiWindow>,
    /// Which block (fold) each window belongs to.
    pub block: Vec<usize>,
}

impl<'a> Dataset<'a> {
    /// Splits each class's windows (in recording order) into `folds` contiguous blocks.
    pub fn new(
        set: &'a CalibrationSet,
        norm: &bandx_model::preprocess::Normalization,
        folds: usize,
    ) -> Self {
        let mut examples = Examples::default();
        let mut windows = Vec::new();
        let mut block = Vec::new();
        for (y, class) in set.classes.iter().enumerate() {
            let n = class.windows.len();
            for (i, w) in class.windows.iter().enumerate() {
                norm.apply_into(&w.data, &mut examples.x);
                examples.y.push(y);
                windows.push(w);
                block.push(i * folds / n.max(1));
            }
        }
        Dataset {
            examples,
            windows,
            block,
        }
    }

    pub fn subset(&self, idx: &[usize]) -> Examples {
        let mut e = Examples::default();
        for &i in idx {
            e.x.extend_from_slice(self.examples.window(i));
            e.y.push(self.examples.y[i]);
        }
        e
    }
}

/// Out-of-fold cross-validation: for each block, personalize on the other blocks (minus any window
/// overlapping a test window) and predict the block. `before_fold(fold)` runs before each fold (progress,
/// cancellation).
pub(super) fn cross_validate(
    data: &Dataset<'_>,
    personal: &bandx_model::pipeline::Personalizer<'_>,
    folds: usize,
    before_fold: &mut dyn FnMut(usize) -> Result<(), TrainError>,
) -> Result<(Confusion, Vec<f64>), TrainError> {
    let mut confusion = Confusion::new(personal.classes.to_vec());
    let mut per_fold = Vec::with_capacity(folds);
    for fold in 0..folds {
        before_fold(fold)?;
        let test: Vec<usize> = (0..data.block.len())
            .filter(|&i| data.block[i] == fold)
            .collect();
        let train: Vec<usize> = (0..data.block.len())
            .filter(|&i| {
                data.block[i] != fold
                    && !test
                        .iter()
                        .any(|&t| data.windows[t].overlaps(data.windows[i]))
            })
            .collect();
        let (train_ex, test_ex) = (data.subset(&train), data.subset(&test));
        let model = personal.fit(&train_ex);
        let predicted = predict(&model, &test_ex.x);
        let mut right = 0;
        for (&p, &y) in predicted.iter().zip(&test_ex.y) {
            confusion.add(y, p);
            right += usize::from(p == y);
        }
        per_fold.push(right as f64 / test_ex.len().max(1) as f64);
    }
    Ok((confusion, per_fold))
}

/// The generic model on the user's windows, mapped by label name.
pub(super) fn generic_accuracy(
    base: &HarCnn,
    ckpt: &Checkpoint,
    classes: &[String],
    examples: &Examples,
) -> GenericAccuracy {
    let mapped: Vec<Option<usize>> = classes
        .iter()
        .map(|c| ckpt.labels.iter().position(|l| l.eq_ignore_ascii_case(c)))
        .collect();
    let unknown_classes: Vec<String> = classes
        .iter()
        .zip(&mapped)
        .filter(|(_, m)| m.is_none())
        .map(|(c, _)| c.clone())
        .collect();
    if !unknown_classes.is_empty() {
        return GenericAccuracy::NotComparable { unknown_classes };
    }
    let mapped: Vec<usize> = mapped.into_iter().flatten().collect();
    let all = logits(base, &examples.x);
    let n = examples.len().max(1) as f64;
    let mut right = 0usize;
    let mut right_among = 0usize;
    for (l, &y) in all.iter().zip(&examples.y) {
        right += usize::from(argmax(l) == mapped[y]);
        let restricted: Vec<f32> = mapped.iter().map(|&i| l[i]).collect();
        right_among += usize::from(argmax(&restricted) == y);
    }
    GenericAccuracy::Comparable {
        accuracy: right as f64 / n,
        among_user_classes: right_among as f64 / n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::RecordingId;
    use crate::train::calibration::ClassWindows;

    fn window(recording: i64, start_index: u64) -> SiWindow {
        SiWindow {
            recording: RecordingId(recording),
            start_index,
            data: vec![start_index as f32; 360],
        }
    }

    #[test]
    fn blocks_are_contiguous_per_class() {
        let class = |name: &str, n: u64| ClassWindows {
            name: name.into(),
            windows: (0..n).map(|i| window(1, 30 * i)).collect(),
        };
        let set = CalibrationSet {
            profile: crate::store::ProfileId(1),
            classes: vec![class("a", 15), class("b", 7)],
            next_version: 1,
        };
        let data = Dataset::new(&set, &bandx_model::preprocess::Normalization::identity(), 5);
        assert_eq!(
            data.block,
            [
                0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, // a: 15 windows, 3 per block
                0, 0, 1, 2, 2, 3, 4 // b: 7 windows
            ]
        );
        assert_eq!(data.examples.y[14..16], [0, 1]);
        // Neighbouring 50 %-overlap windows share samples; windows 60 samples apart or in other recordings do not.
        assert!(window(1, 0).overlaps(&window(1, 30)));
        assert!(!window(1, 0).overlaps(&window(1, 60)));
        assert!(!window(1, 0).overlaps(&window(2, 0)));
    }

    #[test]
    fn pairs_confused_above_the_threshold_are_reported_once() {
        let mut c = Confusion::new(vec!["walk".into(), "stroll".into(), "sit".into()]);
        // walk: 6 right, 4 as stroll (40 %); stroll: 9 right, 1 as walk; sit: 8 right, 2 as walk (20 %).
        for (t, p, n) in [
            (0, 0, 6),
            (0, 1, 4),
            (1, 1, 9),
            (1, 0, 1),
            (2, 2, 8),
            (2, 0, 2),
        ] {
            for _ in 0..n {
                c.add(t, p);
            }
        }
        assert_eq!(c.total(), 30);
        assert!((c.accuracy() - 23.0 / 30.0).abs() < 1e-12);
        let pairs = similar_pairs(&c, 0.25);
        assert_eq!(pairs.len(), 1);
        assert_eq!(
            (pairs[0].a.as_str(), pairs[0].b.as_str()),
            ("walk", "stroll")
        );
        assert!((pairs[0].a_as_b - 0.4).abs() < 1e-12 && (pairs[0].b_as_a - 0.1).abs() < 1e-12);
        assert_eq!(similar_pairs(&c, 0.15).len(), 2, "sit -> walk is 20 %");
    }
}
