//! Scoring candidates: the soft partition-level adaptivity of ALGORITHM.md §9, computed
//! from each candidate's stored band hashes (FORMAT.md §4.2). Called by `Index::search`.

use rayon::prelude::*;

use crate::error::Result;
use crate::sketch::Sketch;
use crate::store::catalog::ModelVersion;
use crate::store::segment::SegmentReader;

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
}

impl Default for SearchOptions {
    fn default() -> Self {
        Self {
            top_k: 10,
            exhaustive_limit: 1000,
            rescore: 200,
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
    /// Soft adaptivity in [0, 1]: how much of the target the model's training data covers.
    pub adaptivity: f64,
    /// Mean share of bands a target partition shares with a source partition, over all
    /// pairs; breaks ties in `adaptivity` in favour of sources resembling the target more
    /// often.
    pub mean_overlap: f64,
}

/// The answer to a search.
#[derive(Debug, Clone)]
pub struct SearchResults {
    /// How candidates were found.
    pub path: SearchPath,
    /// Model versions in the index.
    pub models: usize,
    /// Rows of the target.
    pub target_rows: u64,
    /// Partitions of the target.
    pub target_partitions: usize,
    /// Best first; ties broken by name, then version.
    pub matches: Vec<Match>,
}

/// Scores `candidates` against `target` and returns the best `top_k`.
pub fn rank(
    segments: &SegmentReader,
    target: &Sketch,
    candidates: Vec<ModelVersion>,
    top_k: usize,
) -> Result<Vec<Match>> {
    let mut scored = candidates
        .into_par_iter()
        .map(|model| {
            let bytes = segments.read(&model.location)?;
            let record = bytes.record()?;
            let source: Vec<u64> = record.band_hashes.iter().map(|h| h.to_native()).collect();
            let score = soft_adaptivity(target, &source, record.bands.to_native() as usize);
            Ok(Match {
                model,
                adaptivity: score.adaptivity,
                mean_overlap: score.mean_overlap,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    scored.sort_by(|a, b| {
        b.adaptivity
            .total_cmp(&a.adaptivity)
            .then_with(|| b.mean_overlap.total_cmp(&a.mean_overlap))
            .then_with(|| a.model.name.cmp(&b.model.name))
            .then_with(|| a.model.version.cmp(&b.model.version))
    });
    scored.truncate(top_k);
    Ok(scored)
}

/// Soft partition-level adaptivity of a source to `target` (ALGORITHM.md §9.3).
///
/// For each target partition, the largest fraction of its L bands that equal the same band
/// of one source partition; the mean of that over the target's partitions. Band hashes mix
/// in the band number, so equal hashes mean equal bands.
pub fn soft_adaptivity(target: &Sketch, source: &[u64], bands: usize) -> SoftScore {
    let l = target.bands as usize;
    if bands != l || source.is_empty() || target.band_hashes.is_empty() {
        return SoftScore {
            adaptivity: 0.0,
            mean_overlap: 0.0,
        };
    }
    let mut postings: Vec<(u64, u32)> = source
        .iter()
        .enumerate()
        .map(|(i, &h)| (h, (i / l) as u32))
        .collect();
    postings.sort_unstable();
    let m = source.len() / l;
    let mut counts = vec![0u32; m];
    let (mut best_total, mut shared_total) = (0u64, 0u64);
    for q in target.band_hashes.chunks_exact(l) {
        counts.iter_mut().for_each(|c| *c = 0);
        let mut best = 0;
        for &h in q {
            let start = postings.partition_point(|&(k, _)| k < h);
            for &(_, p) in postings[start..].iter().take_while(|&&(k, _)| k == h) {
                let c = &mut counts[p as usize];
                *c += 1;
                best = best.max(*c);
                shared_total += 1;
            }
        }
        best_total += best as u64;
    }
    let n = (target.band_hashes.len() / l) as f64;
    SoftScore {
        adaptivity: best_total as f64 / (n * l as f64),
        mean_overlap: shared_total as f64 / (n * m as f64 * l as f64),
    }
}

/// The soft adaptivity of one source and its tie-breaker.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SoftScore {
    /// Mean over target partitions of the best single source partition's band share.
    pub adaptivity: f64,
    /// Mean over all (target, source) partition pairs of their band share.
    pub mean_overlap: f64,
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
        }
    }

    #[test]
    fn soft_adaptivity_takes_the_best_single_source_partition() {
        // L = 4; target partition 0 shares 3 bands with source partition 1 and 1 with
        // partition 0; target partition 1 shares nothing.
        let target = sketch(4, vec![1, 2, 3, 4, 50, 60, 70, 80]);
        let source = vec![1, 9, 9, 9, 8, 2, 3, 4];
        let score = soft_adaptivity(&target, &source, 4);
        assert!((score.adaptivity - (0.75 + 0.0) / 2.0).abs() < 1e-12);
        assert!((score.mean_overlap - 4.0 / (2.0 * 2.0 * 4.0)).abs() < 1e-12);
    }

    #[test]
    fn identical_data_scores_one() {
        let target = sketch(2, vec![1, 2, 3, 4]);
        assert_eq!(soft_adaptivity(&target, &[3, 4, 1, 2], 2).adaptivity, 1.0);
        assert_eq!(soft_adaptivity(&target, &[], 2).adaptivity, 0.0);
    }
}
