//! Scoring candidates (METHOD.md §5). Every strategy ranks the candidates that
//! `Index::search` found; they differ in what they read from each candidate's stored
//! sketch (FORMAT.md §4.2) and in what they estimate:
//!
//! - `hellinger` (the default) reads the per-partition band hashes and estimates the exact
//!   soft score: each target partition's best shared-band count with one source partition,
//!   inverted through the band collision curve into a squared Hellinger distance (which
//!   bounds JS: ln2·H² ≤ JS ≤ H²); 1 − their mean. Costs as `soft`.
//! - `soft` reads the same and averages, over target partitions, the largest share of bands
//!   each has in common with one source partition: n·m·L band comparisons per candidate
//!   (n·L lookups in m·L sorted hashes for targets of many partitions).
//! - `exact` reads the per-partition bin counts (an index option): 1 − the mean over target
//!   partitions of the smallest JS to a source partition, over ln 2; n·m·D logarithms.
//! - `containment` reads the flattened set: |F(T) ∩ F(S)| / |F(T)|, a merge of two sorted
//!   sets.
//! - `minhash` reads the padded MinHash signature: the same containment estimated from K_m
//!   values, K_m comparisons.
//! - `paper` reads the band hashes: the share of target partitions with at least one band in
//!   common with some source partition (the paper's rule); costs as `soft`.
//!
//! Each match also carries its *coverage*, the hard adaptivity of Def. 3.1: the share of
//! target partitions matched by some source partition within the calibrated JS threshold
//! (exactly with `exact`, through the band-count rule otherwise). `min_adaptivity` filters
//! on it.

use std::fmt;
use std::str::FromStr;

use rayon::prelude::*;

use crate::divergence::{self, Counts};
use crate::error::Result;
use crate::params::Params;
use crate::sketch::{MinHasher, Sketch};
use crate::space::SampleSpace;
use crate::store::catalog::ModelVersion;
use crate::store::segment::{ArchivedSketchRecord, SegmentReader};
use crate::store::StoreError;

/// The scoring strategy of a search; see the module documentation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Score {
    /// The exact soft score estimated from band hashes (the default): each target
    /// partition's best band count inverted into a squared Hellinger distance.
    #[default]
    Hellinger,
    /// Soft partition-level adaptivity from band hashes: the mean best band share.
    Soft,
    /// Exact soft score from stored distributions.
    Exact,
    /// Exact flattened containment.
    Containment,
    /// Padded-MinHash estimate of the flattened containment.
    MinHash,
    /// The paper's rule: one shared band makes a partition match.
    Paper,
}

impl Score {
    /// Every strategy, in documentation order.
    pub const ALL: [Score; 6] = [
        Score::Hellinger,
        Score::Soft,
        Score::Exact,
        Score::Containment,
        Score::MinHash,
        Score::Paper,
    ];

    /// The name the CLI and reports use.
    pub fn name(self) -> &'static str {
        match self {
            Score::Soft => "soft",
            Score::Hellinger => "hellinger",
            Score::Exact => "exact",
            Score::Containment => "containment",
            Score::MinHash => "minhash",
            Score::Paper => "paper",
        }
    }
}

impl fmt::Display for Score {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Score {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Score::ALL
            .into_iter()
            .find(|score| score.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Score::ALL.iter().map(|s| s.name()).collect();
                format!("unknown score {s:?}: one of {}", names.join(", "))
            })
    }
}

/// Which model versions a search may return, applied to the candidates before they are
/// scored, so that the top k are the best of the admitted versions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    /// Only the most recently registered version of each name. On the band-table path a
    /// hit on any version of a name stands for its latest version, which is then scored.
    pub latest_only: bool,
    /// Only names starting with this.
    pub name_prefix: Option<String>,
    /// Only versions whose metadata holds every one of these key/value pairs.
    pub metadata: Vec<(String, String)>,
    /// Never these: a name with a version, or a name alone for all of its versions.
    pub exclude: Vec<(String, Option<String>)>,
}

impl Filter {
    /// Whether the filter admits every version.
    pub fn is_empty(&self) -> bool {
        self == &Filter::default()
    }

    /// Whether `model` passes every condition except `latest_only`, which depends on the
    /// other versions of its name.
    pub fn admits(&self, model: &ModelVersion) -> bool {
        let prefix = self
            .name_prefix
            .as_ref()
            .is_none_or(|p| model.name.starts_with(p.as_str()));
        let metadata = self
            .metadata
            .iter()
            .all(|(k, v)| model.metadata.iter().any(|(mk, mv)| mk == k && mv == v));
        let excluded = self.exclude.iter().any(|(name, version)| {
            name == &model.name && version.as_ref().is_none_or(|v| v == &model.version)
        });
        prefix && metadata && !excluded
    }
}

/// How a search runs.
#[derive(Debug, Clone)]
pub struct SearchOptions {
    /// Matches to return, best first.
    pub top_k: usize,
    /// Score every model when the index holds at most this many; above it, only the
    /// candidates found in the MinHash band tables.
    pub exhaustive_limit: usize,
    /// Candidates (by band-table hits) to score on the band-table path.
    pub rescore: usize,
    /// The scoring strategy.
    pub score: Score,
    /// Drop matches whose coverage (hard adaptivity) is below this.
    pub min_adaptivity: Option<f64>,
    /// Which versions may be returned.
    pub filter: Filter,
}

impl Default for SearchOptions {
    fn default() -> Self {
        Self {
            top_k: 10,
            exhaustive_limit: 1000,
            rescore: 200,
            score: Score::default(),
            min_adaptivity: None,
            filter: Filter::default(),
        }
    }
}

/// Which path a search took to find the models it scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchPath {
    /// Every model was scored (the index is small enough).
    Exhaustive,
    /// Models were found through the MinHash band tables.
    Bands {
        /// Band tables probed.
        probed: usize,
        /// Distinct models found in them.
        candidates: usize,
    },
}

/// One model version and its score against the target.
#[derive(Debug, Clone)]
pub struct Match {
    /// The model version as catalogued.
    pub model: ModelVersion,
    /// The strategy's score in [0, 1]: how much of the target the training data covers.
    pub adaptivity: f64,
    /// Hard adaptivity (Def. 3.1): the share of target partitions matched within the
    /// calibrated JS threshold.
    pub coverage: f64,
    /// Mean share of bands a target partition has in common with a source partition, over
    /// all pairs (0 for strategies that do not read band hashes); breaks ties in
    /// `adaptivity` in favour of sources that resemble the target more often.
    pub mean_overlap: f64,
}

/// The answer to a search.
#[derive(Debug, Clone)]
pub struct SearchResults {
    /// How candidates were found.
    pub path: SearchPath,
    /// The strategy that scored them.
    pub score: Score,
    /// Model versions in the index.
    pub models: usize,
    /// Rows of the target.
    pub target_rows: u64,
    /// Partitions of the target.
    pub target_partitions: usize,
    /// Best first; ties broken by `mean_overlap`, then name, then version.
    pub matches: Vec<Match>,
}

/// What scoring needs besides the candidates: the index's parameters and families.
pub struct Scorer<'a> {
    /// The index's parameters.
    pub params: &'a Params,
    /// The sample space.
    pub space: &'a SampleSpace,
    /// The squared Hellinger distance estimated from each band count `0 ..= L`.
    pub distances: &'a [f64],
    /// The MinHash family.
    pub minhasher: &'a MinHasher,
    /// The padding bound M.
    pub padding: u64,
    /// The calibrated JS threshold of a partition match (nats).
    pub js_threshold: f64,
    /// The segment files.
    pub segments: &'a SegmentReader,
}

/// A candidate to score: its catalogue entry and, for `minhash`, its unpadded signature.
pub struct Candidate {
    /// The model version.
    pub model: ModelVersion,
    /// Its unpadded MinHash signature (read only for `Score::MinHash`).
    pub signature: Option<Vec<u64>>,
}

impl Scorer<'_> {
    /// Scores `candidates` against `target` and returns the best `top_k` that pass the
    /// coverage filter.
    pub fn rank(
        &self,
        target: &Sketch,
        candidates: Vec<Candidate>,
        options: &SearchOptions,
    ) -> Result<Vec<Match>> {
        let p = self.params;
        // The same for every candidate: the match rule of the coverage.
        let tau =
            divergence::band_threshold(self.js_threshold, p.bucket_width, p.rows_per_band, p.bands);
        let min = options.min_adaptivity.unwrap_or(f64::NEG_INFINITY);
        let mut scored = candidates
            .into_par_iter()
            .map(|c| self.score(target, c, options.score, tau))
            .filter(|m| m.as_ref().map_or(true, |m| m.coverage >= min))
            .collect::<Result<Vec<_>>>()?;
        scored.sort_by(|a, b| {
            b.adaptivity
                .total_cmp(&a.adaptivity)
                .then_with(|| b.mean_overlap.total_cmp(&a.mean_overlap))
                .then_with(|| a.model.name.cmp(&b.model.name))
                .then_with(|| a.model.version.cmp(&b.model.version))
        });
        scored.truncate(options.top_k);
        Ok(scored)
    }

    /// Scores one candidate; `tau` is the band count of a partition match at the threshold.
    fn score(&self, target: &Sketch, c: Candidate, score: Score, tau: u32) -> Result<Match> {
        let p = self.params;
        let bytes = self.segments.read(&c.model.location)?;
        let record = bytes.sketch(p.bands as usize, self.space.dim())?;
        let bands = || -> Vec<u64> { record.band_hashes.iter().map(|h| h.to_native()).collect() };
        let (adaptivity, coverage, mean_overlap) = match score {
            Score::Soft => {
                let o = band_overlap(target, &bands(), p.bands as usize);
                (o.soft(), o.coverage(tau), o.mean_overlap)
            }
            Score::Hellinger => {
                let o = band_overlap(target, &bands(), p.bands as usize);
                (o.hellinger(self.distances), o.coverage(tau), o.mean_overlap)
            }
            Score::Paper => {
                // No tie-break by mean overlap: the paper's rule alone decides, so that
                // its failure (every model covering everything) shows as ties.
                let o = band_overlap(target, &bands(), p.bands as usize);
                (o.coverage(1), o.coverage(tau), 0.0)
            }
            Score::Exact => {
                let e = self.exact(target, record, &c.model)?;
                (e.soft, e.coverage, 0.0)
            }
            Score::Containment => {
                let flat: Vec<u64> = record.flat.iter().map(|h| h.to_native()).collect();
                let o = band_overlap(target, &bands(), p.bands as usize);
                (containment(&target.flat, &flat), o.coverage(tau), 0.0)
            }
            Score::MinHash => {
                let sig = c.signature.as_deref().unwrap_or_default();
                let padded = self.minhasher.padded(
                    sig,
                    c.model.flat_len as u64,
                    self.padding,
                    c.model.fingerprint,
                );
                let o = band_overlap(target, &bands(), p.bands as usize);
                let est =
                    minhash_containment(&target.minhash, &padded, target.flat.len(), self.padding);
                (
                    est.min(c.model.flat_len as f64 / target.flat.len().max(1) as f64),
                    o.coverage(tau),
                    0.0,
                )
            }
        };
        Ok(Match {
            model: c.model,
            adaptivity,
            coverage,
            mean_overlap,
        })
    }

    /// The exact soft score and exact hard adaptivity from stored bin counts.
    fn exact(
        &self,
        target: &Sketch,
        record: &ArchivedSketchRecord,
        model: &ModelVersion,
    ) -> Result<ExactScore> {
        let dim = self.space.dim();
        if record.counts.is_empty() || target.counts.is_empty() {
            return Err(StoreError::Unsupported {
                what: "the exact score needs an index created with --keep-distributions".into(),
            }
            .into());
        }
        let source: Vec<u32> = record.counts.iter().map(|c| c.to_native()).collect();
        let source_sizes: Vec<u32> = record.sizes.iter().map(|c| c.to_native()).collect();
        let _ = model;
        Ok(exact_score(
            self.space,
            self.params.alpha,
            (&target.counts, &target.sizes),
            (&source, &source_sizes),
            dim,
            self.js_threshold,
        ))
    }
}

/// The exact soft score and the exact hard adaptivity of one source.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExactScore {
    /// 1 − (mean over target partitions of the smallest JS to a source partition) / ln 2.
    pub soft: f64,
    /// Share of target partitions within `threshold` of some source partition (Def. 3.1).
    pub coverage: f64,
    /// Mean over target partitions of the smallest JS (nats).
    pub mean_min_js: f64,
}

/// Exact scores between a target's and a source's partition counts (partition-major,
/// `dim` bins each) with their row counts.
pub fn exact_score(
    space: &SampleSpace,
    alpha: f64,
    target: (&[u32], &[u32]),
    source: (&[u32], &[u32]),
    dim: usize,
    threshold: f64,
) -> ExactScore {
    fn part<'a>((counts, sizes): (&'a [u32], &'a [u32]), i: usize, dim: usize) -> Counts<'a> {
        Counts {
            bins: &counts[i * dim..(i + 1) * dim],
            rows: sizes[i],
        }
    }
    let n = target.1.len();
    let m = source.1.len();
    let mins: Vec<f64> = (0..n)
        .map(|q| {
            (0..m)
                .map(|p| divergence::js(space, alpha, part(target, q, dim), part(source, p, dim)))
                .fold(f64::INFINITY, f64::min)
        })
        .collect();
    let mean = mins.iter().sum::<f64>() / n.max(1) as f64;
    let covered = mins.iter().filter(|&&js| js <= threshold).count();
    ExactScore {
        soft: (1.0 - mean / std::f64::consts::LN_2).clamp(0.0, 1.0),
        coverage: covered as f64 / n.max(1) as f64,
        mean_min_js: mean,
    }
}

/// For each target partition, the most bands it shares with one source partition.
#[derive(Debug, Clone, PartialEq)]
pub struct BandOverlap {
    /// Best shared-band count per target partition.
    pub best: Vec<u32>,
    /// Bands per partition (L).
    pub bands: usize,
    /// Mean share of bands over all (target, source) partition pairs.
    pub mean_overlap: f64,
}

impl BandOverlap {
    /// Soft adaptivity (METHOD.md §5.2): the mean best share.
    pub fn soft(&self) -> f64 {
        let total: u64 = self.best.iter().map(|&b| b as u64).sum();
        total as f64 / (self.best.len().max(1) * self.bands) as f64
    }

    /// The exact soft score estimated from band counts: 1 − the mean, over target
    /// partitions, of the squared Hellinger distance `distances[k]` that their best count
    /// `k` implies (METHOD.md §2.3, §5.2).
    pub fn hellinger(&self, distances: &[f64]) -> f64 {
        if self.best.is_empty() {
            return 0.0;
        }
        let total: f64 = self
            .best
            .iter()
            .map(|&k| distances.get(k as usize).copied().unwrap_or(1.0))
            .sum();
        (1.0 - total / self.best.len() as f64).clamp(0.0, 1.0)
    }

    /// Hard adaptivity A_τ: the share of target partitions with at least `tau` bands in
    /// common with one source partition.
    pub fn coverage(&self, tau: u32) -> f64 {
        let covered = self.best.iter().filter(|&&b| b >= tau).count();
        covered as f64 / self.best.len().max(1) as f64
    }
}

/// Target partitions up to which [`band_overlap`] compares every (target, source)
/// partition pair band by band — n·m·L equality tests, which vectorise — rather than sorting
/// the source's m·L band hashes into postings and looking each target hash up. The sort
/// costs m·L·log(m·L) whatever the target, so only targets of many partitions repay it.
pub const PAIRWISE_PARTITIONS: usize = 64;

/// Compares a target's band hashes with one source's (`source` partition-major, `bands`
/// per partition). Band hashes mix in the band number, so equal hashes mean equal bands
/// (two different bands share a hash only by a 64-bit collision).
pub fn band_overlap(target: &Sketch, source: &[u64], bands: usize) -> BandOverlap {
    let l = target.bands as usize;
    let n = target.band_hashes.len() / l.max(1);
    if bands != l || source.is_empty() || n == 0 {
        return BandOverlap {
            best: vec![0; n],
            bands: l.max(1),
            mean_overlap: 0.0,
        };
    }
    let (best, shared_total) = if n <= PAIRWISE_PARTITIONS {
        overlap_pairwise(&target.band_hashes, source, l)
    } else {
        overlap_by_postings(&target.band_hashes, source, l)
    };
    let m = source.len() / l;
    BandOverlap {
        best,
        bands: l,
        mean_overlap: shared_total as f64 / (n * m * l) as f64,
    }
}

/// Best shared-band count per target partition and the total of shared bands over all
/// pairs, comparing every pair of partitions band by band.
fn overlap_pairwise(target: &[u64], source: &[u64], l: usize) -> (Vec<u32>, u64) {
    let mut best = Vec::with_capacity(target.len() / l);
    let mut shared_total = 0u64;
    for q in target.chunks_exact(l) {
        let mut top = 0;
        for p in source.chunks_exact(l) {
            let shared = q.iter().zip(p).filter(|(a, b)| a == b).count() as u32;
            top = top.max(shared);
            shared_total += shared as u64;
        }
        best.push(top);
    }
    (best, shared_total)
}

/// The same as [`overlap_pairwise`], by looking each target band hash up in the source's
/// band hashes sorted with their partition numbers.
fn overlap_by_postings(target: &[u64], source: &[u64], l: usize) -> (Vec<u32>, u64) {
    let mut postings: Vec<(u64, u32)> = source
        .iter()
        .enumerate()
        .map(|(i, &h)| (h, (i / l) as u32))
        .collect();
    postings.sort_unstable();
    let mut counts = vec![0u32; source.len() / l];
    let mut best = Vec::with_capacity(target.len() / l);
    let mut shared_total = 0u64;
    for q in target.chunks_exact(l) {
        counts.iter_mut().for_each(|c| *c = 0);
        let mut top = 0;
        for &h in q {
            let start = postings.partition_point(|&(k, _)| k < h);
            for &(_, p) in postings[start..].iter().take_while(|&&(k, _)| k == h) {
                let c = &mut counts[p as usize];
                *c += 1;
                top = top.max(*c);
                shared_total += 1;
            }
        }
        best.push(top);
    }
    (best, shared_total)
}

/// |a ∩ b| / |a| for sorted, distinct `a` and `b`.
pub fn containment(a: &[u64], b: &[u64]) -> f64 {
    if a.is_empty() {
        return 0.0;
    }
    let (mut i, mut j, mut common) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
        }
    }
    common as f64 / a.len() as f64
}

/// The containment of a query set of `query_len` elements in a source, estimated from the
/// query's unpadded signature and the source's signature padded to `bound` elements
/// (METHOD.md §4): ĉ = Ĵ(1 + M/|Q|)/(1 + Ĵ), clamped to [0, 1].
pub fn minhash_containment(query: &[u64], padded: &[u64], query_len: usize, bound: u64) -> f64 {
    if query.is_empty() || query_len == 0 {
        return 0.0;
    }
    let same = query.iter().zip(padded).filter(|(a, b)| a == b).count();
    let j = same as f64 / query.len() as f64;
    (j * (1.0 + bound as f64 / query_len as f64) / (1.0 + j)).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sketch(bands: u16, hashes: Vec<u64>) -> Sketch {
        Sketch {
            rows: 0,
            bands,
            band_hashes: hashes,
            flat: vec![],
            minhash: vec![],
            counts: vec![],
            sizes: vec![],
        }
    }

    #[test]
    fn soft_adaptivity_takes_the_best_single_source_partition() {
        // L = 4; target partition 0 shares 3 bands with source partition 1 and 1 with
        // partition 0; target partition 1 shares nothing.
        let target = sketch(4, vec![1, 2, 3, 4, 50, 60, 70, 80]);
        let source = vec![1, 9, 9, 9, 8, 2, 3, 4];
        let o = band_overlap(&target, &source, 4);
        assert_eq!(o.best, vec![3, 0]);
        assert!((o.soft() - 0.375).abs() < 1e-12);
        assert!((o.mean_overlap - 4.0 / 16.0).abs() < 1e-12);
        assert_eq!(o.coverage(1), 0.5);
        assert_eq!(o.coverage(4), 0.0);
    }

    #[test]
    fn both_ways_of_counting_shared_bands_agree() {
        // Band hashes drawn from a small alphabet per band, so that partitions share some.
        let mut state = 5u64;
        let mut draw = |parts: usize, l: usize| -> Vec<u64> {
            (0..parts * l)
                .map(|i| {
                    let band = (i % l) as u64;
                    (band << 32) | (crate::hash::splitmix64(&mut state) % 3)
                })
                .collect()
        };
        for (n, m, l) in [(1, 1, 4), (3, 7, 16), (70, 5, 32), (9, 40, 8)] {
            let (target, source) = (draw(n, l), draw(m, l));
            let pairwise = overlap_pairwise(&target, &source, l);
            assert_eq!(
                pairwise,
                overlap_by_postings(&target, &source, l),
                "{n} {m} {l}"
            );
            assert!(pairwise.0.iter().all(|&b| b as usize <= l));
            assert!(pairwise.1 > 0);
        }
    }

    #[test]
    fn identical_data_scores_one() {
        let target = sketch(2, vec![1, 2, 3, 4]);
        assert_eq!(band_overlap(&target, &[3, 4, 1, 2], 2).soft(), 1.0);
        assert_eq!(band_overlap(&target, &[], 2).soft(), 0.0);
    }

    #[test]
    fn containment_counts_the_query_side() {
        assert_eq!(containment(&[1, 2, 3, 4], &[2, 4, 9]), 0.5);
        assert_eq!(containment(&[], &[1]), 0.0);
    }

    #[test]
    fn minhash_inversion_recovers_the_worked_example() {
        // |Q| = 40, M = 200, J̃ = 25/215 inverts to containment 25/40 (METHOD.md §4).
        let n = 215;
        let query: Vec<u64> = (0..n).collect();
        let padded: Vec<u64> = (0..n).map(|i| if i < 25 { i } else { u64::MAX }).collect();
        let c = minhash_containment(&query, &padded, 40, 200);
        assert!((c - 0.625).abs() < 1e-9, "{c}");
    }

    #[test]
    fn score_names_round_trip() {
        for s in Score::ALL {
            assert_eq!(s.name().parse::<Score>().unwrap(), s);
        }
        assert!("fast".parse::<Score>().is_err());
    }
}
