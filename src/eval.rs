//! Evaluation mode: the baselines a search is measured against, computed from raw
//! datasets, and the ranking metrics of the evaluation harness (`adaptdb-eval`). Baselines
//! are not straw men (METHOD.md §7): they are measured beside every strategy, every time.
//!
//! The index never stores raw data. Everything here reads whole datasets in memory
//! ([`crate::input::read_all`] gives a [`Frame`]) and bins them in an index's sample space
//! with its parameters, so the baselines see exactly the distributions the index sketched.
//! Every baseline scores a target against each source so that **higher means a better model
//! for this target**:
//!
//! - [`Baseline::PairwiseAdaptivity`] — the hard adaptivity of Def. 3.1: the share of
//!   target partitions within JS t = 2 × noise floor of some source partition. Cost per
//!   (target, source): binning both datasets, then n·m·D logarithms.
//! - [`Baseline::ExactSoft`] — 1 − (mean over target partitions of the smallest JS to a
//!   source partition) / ln 2. Cost: as the pairwise adaptivity (the same JS matrix).
//! - [`Baseline::WholeJs`] — −JS between the two whole datasets' smoothed distributions.
//!   Cost: binning both datasets, then D logarithms.
//! - [`Baseline::L2Mean`] — −‖mean(T) − mean(S)‖₂ over the feature columns. Cost: one
//!   pass over both datasets.
//! - [`Baseline::L2MeanZ`] — the same after z-scoring each feature with the pooled rows of
//!   both. Cost: one pass over both datasets.
//! - [`source_accuracy`] — the model's accuracy on its own holdout, as registered; it
//!   ignores the target. Cost: none.
//!
//! (n, m: partitions of target and source; D: bins of the sample space.) The metrics —
//! Pearson correlation with the target accuracy, tie-aware top-k error and regret — are
//! [`assess`] and [`summarize`].

use rayon::prelude::*;

use crate::divergence::{self, Counts};
use crate::error::Result;
use crate::input::Frame;
use crate::params::Params;
use crate::search::{exact_score, ExactScore};
use crate::sketch::{bin_frame, partition, partition_counts, SketchError};
use crate::space::SampleSpace;
use crate::store::catalog::ModelVersion;
use crate::store::{Index, StoreError};

/// Two accuracies closer than this are the same: every such source counts as best.
pub const TIE: f64 = 1e-9;

/// A baseline computed from raw data; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Baseline {
    /// Exact hard adaptivity (Def. 3.1) at the index's calibrated JS threshold.
    PairwiseAdaptivity,
    /// The exact soft score ([`crate::search::exact_score`]) from raw data.
    ExactSoft,
    /// Minus the JS divergence between the whole datasets.
    WholeJs,
    /// Minus the L2 distance between mean feature vectors.
    L2Mean,
    /// Minus the L2 distance between mean feature vectors after z-scoring.
    L2MeanZ,
}

impl Baseline {
    /// Every raw-data baseline, in documentation order.
    pub const ALL: [Baseline; 5] = [
        Baseline::PairwiseAdaptivity,
        Baseline::ExactSoft,
        Baseline::WholeJs,
        Baseline::L2Mean,
        Baseline::L2MeanZ,
    ];

    /// The name reports use.
    pub fn name(self) -> &'static str {
        match self {
            Baseline::PairwiseAdaptivity => "pairwise",
            Baseline::ExactSoft => "exact-raw",
            Baseline::WholeJs => "whole-js",
            Baseline::L2Mean => "l2-mean",
            Baseline::L2MeanZ => "l2-mean-z",
        }
    }
}

/// The partition distributions of one dataset in an index's sample space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Distributions {
    /// Bin counts of every partition, partition-major (partitions × D).
    pub counts: Vec<u32>,
    /// Rows of every partition.
    pub sizes: Vec<u32>,
}

impl Distributions {
    /// Number of partitions.
    pub fn partitions(&self) -> usize {
        self.sizes.len()
    }

    /// Rows of the whole dataset.
    pub fn rows(&self) -> u64 {
        self.sizes.iter().map(|&s| s as u64).sum()
    }
}

/// Computes the baselines under one index's sample space, parameters and noise floor.
#[derive(Debug, Clone)]
pub struct Evaluator {
    space: SampleSpace,
    params: Params,
    noise_floor: f64,
}

impl Evaluator {
    /// An evaluator for explicit settings; `noise_floor` is in nats.
    pub fn new(space: SampleSpace, params: Params, noise_floor: f64) -> Self {
        Self {
            space,
            params,
            noise_floor,
        }
    }

    /// An evaluator for `index`, whose first registration was `first_source`.
    ///
    /// The index keeps the noise floor it measured in its catalogue (meta key
    /// `noise_floor`), which [`Index::inspect`] does not report; it is recomputed here from
    /// the first registered dataset with [`divergence::noise_floor`], exactly as that
    /// registration did (the sample space was fixed from the same data). Passing any other
    /// dataset gives that dataset's floor instead.
    ///
    /// # Errors
    /// [`StoreError::Empty`] when nothing is registered; a [`SketchError`] when the dataset's
    /// columns differ from the index's or it has more rows than a sketch counts.
    pub fn for_index(index: &Index, first_source: &Frame) -> Result<Self> {
        let space = index.space()?.ok_or_else(|| StoreError::Empty {
            path: index.dir().to_path_buf(),
        })?;
        let mut eval = Self::new(space, index.params(), 0.0);
        let d = eval.distributions(first_source)?;
        eval.noise_floor = divergence::noise_floor(&eval.space, &eval.params, &d.counts, &d.sizes);
        Ok(eval)
    }

    /// The sample space.
    pub fn space(&self) -> &SampleSpace {
        &self.space
    }

    /// The parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The noise floor (nats).
    pub fn noise_floor(&self) -> f64 {
        self.noise_floor
    }

    /// The JS threshold of a partition match: 2 × the noise floor, as the index uses it.
    pub fn threshold(&self) -> f64 {
        2.0 * self.noise_floor
    }

    /// Bins `frame` in the sample space and counts every partition (the index's seeded
    /// partitioning): O(N·d·log B) for N rows and d columns.
    ///
    /// # Errors
    /// A [`SketchError`] for columns that differ from the space's or more than `u32::MAX` rows.
    pub fn distributions(&self, frame: &Frame) -> Result<Distributions> {
        check_rows(frame)?;
        let codes = bin_frame(&self.space, frame)?;
        let counts = partition_counts(&self.space, &self.params, &codes, frame.rows);
        let sizes = partition::sizes(frame.rows, self.params.partition_rows as usize);
        Ok(Distributions { counts, sizes })
    }

    /// The exact soft score and exact hard adaptivity of every source for `target`, from raw
    /// data: the partition distributions of the target and of every source, then the JS of
    /// every (target partition, source partition) pair. Sources are scored in parallel.
    ///
    /// Cost: binning every dataset, then n·m·D logarithms per source.
    ///
    /// # Errors
    /// As [`Evaluator::distributions`].
    pub fn exact(&self, target: &Frame, sources: &[&Frame]) -> Result<Vec<ExactScore>> {
        let t = self.distributions(target)?;
        let dim = self.space.dim();
        sources
            .par_iter()
            .map(|source| {
                let s = self.distributions(source)?;
                Ok(exact_score(
                    &self.space,
                    self.params.alpha,
                    (&t.counts, &t.sizes),
                    (&s.counts, &s.sizes),
                    dim,
                    self.threshold(),
                ))
            })
            .collect()
    }

    /// Exact pairwise adaptivity (Def. 3.1) of every source: the share of target partitions
    /// with some source partition at JS ≤ [`Evaluator::threshold`]. This is the paper's
    /// "pair-wise" strategy, the ground truth its sketch approximates.
    ///
    /// Cost: as [`Evaluator::exact`].
    ///
    /// # Errors
    /// As [`Evaluator::distributions`].
    pub fn pairwise_adaptivity(&self, target: &Frame, sources: &[&Frame]) -> Result<Vec<f64>> {
        Ok(self
            .exact(target, sources)?
            .iter()
            .map(|e| e.coverage)
            .collect())
    }

    /// The exact soft score of every source ([`crate::search::exact_score`]), from raw data:
    /// 1 − (mean over target partitions of the smallest JS to a source partition) / ln 2.
    ///
    /// Cost: as [`Evaluator::exact`].
    ///
    /// # Errors
    /// As [`Evaluator::distributions`].
    pub fn exact_soft(&self, target: &Frame, sources: &[&Frame]) -> Result<Vec<f64>> {
        Ok(self
            .exact(target, sources)?
            .iter()
            .map(|e| e.soft)
            .collect())
    }

    /// Minus the JS divergence (nats) between the whole target and each whole source: every
    /// partition's counts summed into one smoothed distribution per dataset.
    ///
    /// Cost: binning every dataset, then D logarithms per source.
    ///
    /// # Errors
    /// As [`Evaluator::distributions`].
    pub fn whole_js(&self, target: &Frame, sources: &[&Frame]) -> Result<Vec<f64>> {
        let dim = self.space.dim();
        let whole = |frame: &Frame| -> Result<(Vec<u32>, u32)> {
            let d = self.distributions(frame)?;
            // distributions() refused more than u32::MAX rows.
            Ok((whole_counts(&d.counts, dim), frame.rows as u32))
        };
        let (t, t_rows) = whole(target)?;
        sources
            .par_iter()
            .map(|source| {
                let (s, s_rows) = whole(source)?;
                let js = divergence::js(
                    &self.space,
                    self.params.alpha,
                    Counts {
                        bins: &t,
                        rows: t_rows,
                    },
                    Counts {
                        bins: &s,
                        rows: s_rows,
                    },
                );
                Ok(-js)
            })
            .collect()
    }

    /// Minus the L2 distance between the mean feature vectors of the target and each source
    /// (raw feature values, columns matched by name).
    ///
    /// Cost: one pass over every dataset, O(N·d).
    ///
    /// # Errors
    /// [`SketchError::ColumnMismatch`] when a dataset's columns differ from the space's.
    pub fn l2_mean(&self, target: &Frame, sources: &[&Frame]) -> Result<Vec<f64>> {
        let t = self.stats(target)?;
        sources
            .iter()
            .map(|source| Ok(-l2(&t.mean, &self.stats(source)?.mean)))
            .collect()
    }

    /// Minus the L2 distance between mean feature vectors after z-scoring every feature
    /// with the mean and (population) standard deviation of the source's and the target's
    /// rows pooled; a feature constant over the pooled rows is left out.
    ///
    /// Cost: one pass over every dataset, O(N·d).
    ///
    /// # Errors
    /// [`SketchError::ColumnMismatch`] when a dataset's columns differ from the space's.
    pub fn l2_mean_z(&self, target: &Frame, sources: &[&Frame]) -> Result<Vec<f64>> {
        let t = self.stats(target)?;
        sources
            .iter()
            .map(|source| Ok(-z_distance(&t, &self.stats(source)?)))
            .collect()
    }

    /// The scores of one raw-data baseline.
    ///
    /// # Errors
    /// As the baseline's own method.
    pub fn score(
        &self,
        baseline: Baseline,
        target: &Frame,
        sources: &[&Frame],
    ) -> Result<Vec<f64>> {
        match baseline {
            Baseline::PairwiseAdaptivity => self.pairwise_adaptivity(target, sources),
            Baseline::ExactSoft => self.exact_soft(target, sources),
            Baseline::WholeJs => self.whole_js(target, sources),
            Baseline::L2Mean => self.l2_mean(target, sources),
            Baseline::L2MeanZ => self.l2_mean_z(target, sources),
        }
    }

    /// Per-column statistics of `frame`, in sample-space column order.
    fn stats(&self, frame: &Frame) -> Result<ColumnStats> {
        let map = self.space.column_map(&frame.columns, &frame.path)?;
        Ok(ColumnStats::of(frame, &map))
    }
}

/// The model's accuracy on its own holdout as registered (`--source-accuracy`), or `None`.
/// As a baseline it ignores the target entirely. Cost: none.
pub fn source_accuracy(model: &ModelVersion) -> Option<f64> {
    model.source_accuracy.filter(|a| a.is_finite())
}

fn check_rows(frame: &Frame) -> Result<(), SketchError> {
    if frame.rows > u32::MAX as usize {
        return Err(SketchError::TooManyRows {
            path: frame.path.clone(),
            rows: frame.rows as u64,
            max: u32::MAX as u64,
        });
    }
    Ok(())
}

/// The bin counts of a whole dataset: the sum of its partitions' counts (`dim` per partition).
pub fn whole_counts(counts: &[u32], dim: usize) -> Vec<u32> {
    let mut total = vec![0u32; dim];
    for part in counts.chunks_exact(dim.max(1)) {
        for (t, &c) in total.iter_mut().zip(part) {
            *t = t.saturating_add(c);
        }
    }
    total
}

/// The Euclidean distance between two vectors of equal length.
pub fn l2(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        .sqrt()
}

/// Per-column count, mean, sum of squared deviations, minimum and maximum of a dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnStats {
    /// Rows.
    pub rows: usize,
    /// Mean of every column.
    pub mean: Vec<f64>,
    /// Sum of squared deviations from the mean of every column.
    pub m2: Vec<f64>,
    /// Smallest value of every column.
    pub min: Vec<f64>,
    /// Largest value of every column.
    pub max: Vec<f64>,
}

impl ColumnStats {
    /// Statistics of the columns of `frame` at positions `map` (two passes, so the squared
    /// deviations do not cancel).
    pub fn of(frame: &Frame, map: &[usize]) -> Self {
        let d = frame.columns.len();
        let k = map.len();
        let n = frame.rows;
        let (mut sum, mut min, mut max) = (
            vec![0.0; k],
            vec![f64::INFINITY; k],
            vec![f64::NEG_INFINITY; k],
        );
        for row in frame.values.chunks_exact(d.max(1)).take(n) {
            for (j, &c) in map.iter().enumerate() {
                let x = row[c];
                sum[j] += x;
                min[j] = min[j].min(x);
                max[j] = max[j].max(x);
            }
        }
        let mean: Vec<f64> = sum.iter().map(|s| s / n.max(1) as f64).collect();
        let mut m2 = vec![0.0; k];
        for row in frame.values.chunks_exact(d.max(1)).take(n) {
            for (j, &c) in map.iter().enumerate() {
                let dev = row[c] - mean[j];
                m2[j] += dev * dev;
            }
        }
        Self {
            rows: n,
            mean,
            m2,
            min,
            max,
        }
    }
}

/// The L2 distance between the means of `a` and `b` after z-scoring every column with the
/// pooled rows of both (population standard deviation, Chan's combination of the two
/// datasets' moments). A column constant over the pooled rows is left out.
pub fn z_distance(a: &ColumnStats, b: &ColumnStats) -> f64 {
    let n = (a.rows + b.rows) as f64;
    if n == 0.0 {
        return 0.0;
    }
    let (na, nb) = (a.rows as f64, b.rows as f64);
    let mut total = 0.0;
    for j in 0..a.mean.len().min(b.mean.len()) {
        let constant = a.min[j] == a.max[j] && b.min[j] == b.max[j] && a.min[j] == b.min[j];
        if constant {
            continue;
        }
        let delta = b.mean[j] - a.mean[j];
        let m2 = a.m2[j] + b.m2[j] + delta * delta * na * nb / n;
        let std = (m2 / n).sqrt();
        if std > 0.0 {
            total += (delta / std) * (delta / std);
        }
    }
    total.sqrt()
}

/// The Pearson correlation of `x` and `y`; `None` when either is constant, they have fewer
/// than two values, or a value is not finite.
pub fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len();
    if n < 2 || y.len() != n || x.iter().chain(y).any(|v| !v.is_finite()) {
        return None;
    }
    let constant = |v: &[f64]| v.iter().all(|&a| a == v[0]);
    if constant(x) || constant(y) {
        return None;
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / n as f64;
    let (mx, my) = (mean(x), mean(y));
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    let r = sxy / (sxx * syy).sqrt();
    r.is_finite().then_some(r.clamp(-1.0, 1.0))
}

/// The order in which a strategy ranks candidates: score descending (a NaN score last),
/// ties broken by name ascending.
pub fn rank(scores: &[f64], names: &[&str]) -> Vec<usize> {
    let key = |i: usize| {
        let s = scores.get(i).copied().unwrap_or(f64::NAN);
        if s.is_nan() {
            f64::NEG_INFINITY
        } else {
            s
        }
    };
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| {
        key(b)
            .total_cmp(&key(a))
            .then_with(|| names.get(a).cmp(&names.get(b)))
    });
    order
}

/// How one strategy did on one target.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outcome {
    /// Pearson correlation between score and target accuracy (`None`: either is constant).
    pub pcc: Option<f64>,
    /// Whether a best source (within [`TIE`] of the best accuracy) is among the first 1, 2
    /// and 3 ranked.
    pub hit: [bool; 3],
    /// The best accuracy minus the accuracy of the first-ranked source.
    pub regret: f64,
}

/// Scores one target: `scores`, `accuracy` and `names` are per candidate source.
pub fn assess(scores: &[f64], accuracy: &[f64], names: &[&str]) -> Outcome {
    let order = rank(scores, names);
    let best = accuracy.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let acc = |i: usize| accuracy.get(i).copied().unwrap_or(f64::NEG_INFINITY);
    let hit = |k: usize| order.iter().take(k).any(|&i| acc(i) >= best - TIE);
    let regret = order.first().map_or(0.0, |&i| best - acc(i));
    Outcome {
        pcc: pearson(scores, accuracy),
        hit: [hit(1), hit(2), hit(3)],
        regret,
    }
}

/// A strategy's figures over every target of a workload.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Targets assessed.
    pub targets: usize,
    /// Mean Pearson correlation over the targets where it is defined.
    pub pcc: Option<f64>,
    /// Targets where the correlation is defined.
    pub pcc_targets: usize,
    /// Top-1, top-2 and top-3 error: the share of targets where no best source is among
    /// the first k.
    pub top_error: [f64; 3],
    /// Mean regret.
    pub regret: f64,
}

/// Aggregates per-target outcomes.
pub fn summarize(outcomes: &[Outcome]) -> Summary {
    let n = outcomes.len();
    let pccs: Vec<f64> = outcomes.iter().filter_map(|o| o.pcc).collect();
    let share = |k: usize| {
        let misses = outcomes.iter().filter(|o| !o.hit[k]).count();
        misses as f64 / n.max(1) as f64
    };
    Summary {
        targets: n,
        pcc: (!pccs.is_empty()).then(|| pccs.iter().sum::<f64>() / pccs.len() as f64),
        pcc_targets: pccs.len(),
        top_error: [share(0), share(1), share(2)],
        regret: outcomes.iter().map(|o| o.regret).sum::<f64>() / n.max(1) as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::SpaceColumn;
    use std::path::PathBuf;

    fn frame(columns: &[&str], rows: &[&[f64]]) -> Frame {
        Frame {
            path: PathBuf::from("mem.csv"),
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows: rows.len(),
            values: rows.iter().flat_map(|r| r.iter().copied()).collect(),
        }
    }

    fn evaluator() -> Evaluator {
        let space = SampleSpace::new(vec![
            SpaceColumn {
                name: "a".into(),
                edges: vec![1.0, 2.0, 3.0],
            },
            SpaceColumn {
                name: "b".into(),
                edges: vec![0.5],
            },
        ])
        .unwrap();
        let params = Params {
            partition_rows: 4,
            ..Params::default()
        };
        Evaluator::new(space, params, 0.01)
    }

    #[test]
    fn l2_of_a_hand_made_case() {
        assert_eq!(l2(&[0.0, 0.0], &[3.0, 4.0]), 5.0);
        assert_eq!(l2(&[1.5], &[1.5]), 0.0);
        // Means (1, 10) and (3, 10): distance 2, columns matched by name.
        let e = evaluator();
        let t = frame(&["a", "b"], &[&[0.0, 10.0], &[2.0, 10.0]]);
        let s = frame(&["b", "a"], &[&[10.0, 3.0], &[10.0, 3.0]]);
        assert_eq!(e.l2_mean(&t, &[&s]).unwrap(), vec![-2.0]);
    }

    #[test]
    fn z_scoring_uses_pooled_rows_and_drops_constant_columns() {
        // Column a: target (0, 2), source (4, 6): pooled mean 3, population std √5; mean
        // difference 4, so z-distance 4/√5. Column b is constant and left out.
        let e = evaluator();
        let t = frame(&["a", "b"], &[&[0.0, 1.0], &[2.0, 1.0]]);
        let s = frame(&["a", "b"], &[&[4.0, 1.0], &[6.0, 1.0]]);
        let z = e.l2_mean_z(&t, &[&s]).unwrap()[0];
        assert!((z + 4.0 / 5f64.sqrt()).abs() < 1e-12, "{z}");
        // Identical data: distance 0.
        assert_eq!(e.l2_mean_z(&t, &[&t]).unwrap(), vec![0.0]);
    }

    #[test]
    fn whole_dataset_js_is_zero_for_identical_data_and_negative_otherwise() {
        let e = evaluator();
        let rows: Vec<[f64; 2]> = (0..10).map(|i| [i as f64 * 0.4, (i % 2) as f64]).collect();
        let refs: Vec<&[f64]> = rows.iter().map(|r| &r[..]).collect();
        let t = frame(&["a", "b"], &refs);
        let other = frame(&["a", "b"], &[&[9.0, 0.0], &[9.0, 0.0], &[8.0, 0.0]]);
        let js = e.whole_js(&t, &[&t, &other]).unwrap();
        assert_eq!(js[0], 0.0);
        assert!(js[1] < -0.01, "{js:?}");
    }

    #[test]
    fn whole_counts_sum_partitions() {
        assert_eq!(whole_counts(&[1, 0, 2, 3, 1, 0], 3), vec![4, 1, 2]);
        assert_eq!(whole_counts(&[], 2), vec![0, 0]);
        // The sum over partitions is the count of the whole dataset, shuffle or not.
        let e = evaluator();
        let rows: Vec<[f64; 2]> = (0..11).map(|i| [i as f64 / 3.0, 0.3 * i as f64]).collect();
        let refs: Vec<&[f64]> = rows.iter().map(|r| &r[..]).collect();
        let f = frame(&["a", "b"], &refs);
        let d = e.distributions(&f).unwrap();
        assert_eq!(d.partitions(), 3);
        assert_eq!(d.rows(), 11);
        let mut direct = vec![0u32; e.space().dim()];
        for row in &rows {
            for (c, col) in e.space().columns().iter().enumerate() {
                direct[e.space().offset(c) + col.bin(row[c]) as usize] += 1;
            }
        }
        assert_eq!(whole_counts(&d.counts, e.space().dim()), direct);
    }

    #[test]
    fn own_data_is_an_exact_match() {
        let e = evaluator();
        let rows: Vec<[f64; 2]> = (0..12).map(|i| [(i % 5) as f64, (i % 3) as f64]).collect();
        let refs: Vec<&[f64]> = rows.iter().map(|r| &r[..]).collect();
        let f = frame(&["a", "b"], &refs);
        assert_eq!(e.pairwise_adaptivity(&f, &[&f]).unwrap(), vec![1.0]);
        assert_eq!(e.exact_soft(&f, &[&f]).unwrap(), vec![1.0]);
        assert_eq!(e.threshold(), 0.02);
    }

    #[test]
    fn mismatched_columns_are_refused() {
        let e = evaluator();
        let t = frame(&["a", "b"], &[&[0.0, 1.0]]);
        let s = frame(&["a", "c"], &[&[0.0, 1.0]]);
        assert!(e.l2_mean(&t, &[&s]).is_err());
        assert!(e.whole_js(&t, &[&s]).is_err());
    }

    #[test]
    fn pearson_of_known_cases() {
        let r = pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.0]).unwrap();
        assert!((r - 1.0).abs() < 1e-12);
        let r = pearson(&[1.0, 2.0, 3.0], &[3.0, 1.0, 2.0]).unwrap();
        assert!((r + 0.5).abs() < 1e-12, "{r}");
        assert_eq!(pearson(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]), None);
        assert_eq!(pearson(&[0.1; 3], &[1.0, 2.0, 3.0]), None);
        assert_eq!(pearson(&[1.0], &[1.0]), None);
        assert_eq!(pearson(&[1.0, f64::NAN], &[1.0, 2.0]), None);
    }

    #[test]
    fn ranking_breaks_ties_by_name_and_puts_nan_last() {
        let names = ["c", "a", "b", "d"];
        assert_eq!(rank(&[0.5, 0.5, 0.9, f64::NAN], &names), vec![2, 1, 0, 3]);
    }

    #[test]
    fn assessment_is_tie_aware() {
        // Sources a and b are tied best (0.9); the ranking puts c first, then b.
        let names = ["a", "b", "c"];
        let accuracy = [0.9, 0.9 - 1e-12, 0.7];
        let o = assess(&[0.1, 0.5, 0.8], &accuracy, &names);
        assert_eq!(o.hit, [false, true, true]);
        assert!((o.regret - 0.2).abs() < 1e-12);
        assert!(o.pcc.unwrap() < 0.0);
        // A tie in score goes to the name first in order: a, a best source.
        let o = assess(&[0.5, 0.5, 0.5], &accuracy, &names);
        assert_eq!(o.hit, [true, true, true]);
        assert_eq!(o.regret, 0.0);
        assert_eq!(o.pcc, None);
    }

    #[test]
    fn summary_averages_over_targets() {
        let a = Outcome {
            pcc: Some(0.5),
            hit: [true, true, true],
            regret: 0.0,
        };
        let b = Outcome {
            pcc: None,
            hit: [false, false, true],
            regret: 0.1,
        };
        let s = summarize(&[a, b]);
        assert_eq!(s.targets, 2);
        assert_eq!(s.pcc, Some(0.5));
        assert_eq!(s.pcc_targets, 1);
        assert_eq!(s.top_error, [0.5, 0.5, 0.0]);
        assert!((s.regret - 0.05).abs() < 1e-12);
        assert_eq!(summarize(&[]).pcc, None);
    }
}
