//! Level 1: JSD-LSH, Hellinger E2LSH on √P (ALGORITHM.md §2). Hashes one partition's
//! distribution into L band hashes. The Gaussian projection is regenerated from the seed
//! (FORMAT.md §2.2) and applied in a fixed order, so band hashes are bit-reproducible.

use rayon::prelude::*;

use crate::hash::{derive_seed, gaussian, hash_words, unit_open};
use crate::params::Params;
use crate::space::SampleSpace;

/// The JSD-LSH hash family of one index: projection, offsets and band-hash seed.
pub struct JsdLsh {
    hashes: usize,
    rows_per_band: usize,
    bucket_width: f64,
    alpha: f64,
    /// a[i][k] for bin i and hash k, row-major (D × K), rounded to f32.
    projection: Vec<f32>,
    /// Σ_i a[i][k] over the bins of each column, in bin order (d × K).
    column_sums: Vec<f64>,
    /// b_k, uniform in [0, r).
    offsets: Vec<f64>,
    band_seed: u64,
}

impl JsdLsh {
    /// Generates the family for `space` from the parameters' seed.
    pub fn new(params: &Params, space: &SampleSpace) -> Self {
        Self::with_projection(params, space, generate_projection(params, space))
    }

    /// Builds the family around a projection generated earlier (and stored).
    ///
    /// # Panics
    /// If `projection` does not hold D × K values, or the bucket width is still 0
    /// (uncalibrated).
    pub fn with_projection(params: &Params, space: &SampleSpace, projection: Vec<f32>) -> Self {
        let k = params.hashes();
        assert_eq!(
            projection.len(),
            space.dim() * k,
            "projection must be D × K"
        );
        assert!(
            params.bucket_width > 0.0,
            "the bucket width must be calibrated before sketching"
        );
        let mut column_sums = vec![0f64; space.columns().len() * k];
        for (c, col) in space.columns().iter().enumerate() {
            let sums = &mut column_sums[c * k..(c + 1) * k];
            for i in 0..col.bins() {
                let row = &projection[(space.offset(c) + i) * k..][..k];
                sums.iter_mut().zip(row).for_each(|(s, a)| *s += *a as f64);
            }
        }
        let offset_seed = derive_seed(params.seed, "jsd-offset");
        let offsets = (0..k as u64)
            .map(|j| params.bucket_width * unit_open(hash_words(offset_seed, &[j])))
            .collect();
        Self {
            hashes: k,
            rows_per_band: params.rows_per_band as usize,
            bucket_width: params.bucket_width,
            alpha: params.alpha,
            projection,
            column_sums,
            offsets,
            band_seed: derive_seed(params.seed, "jsd-band"),
        }
    }

    /// The projection a[i][k], row-major (D × K).
    pub fn projection(&self) -> &[f32] {
        &self.projection
    }

    /// Writes the L band hashes of one partition into `out`.
    ///
    /// `counts` holds the partition's bin counts over Ω and `rows` its row count. The
    /// smoothed distribution is P_c[i] = (count + α)/(rows + α·B_c) per column, concatenated
    /// with weight 1/d. Bins with a zero count share one value per column, so the dot product
    /// is taken as that value times the column sum plus a correction for each occupied bin,
    /// columns in order and bins ascending (FORMAT.md §2.2).
    pub fn band_hashes(&self, space: &SampleSpace, counts: &[u32], rows: u32, out: &mut [u64]) {
        let k = self.hashes;
        let d = space.columns().len() as f64;
        let mut acc = vec![0f64; k];
        for (c, col) in space.columns().iter().enumerate() {
            let scale = 1.0 / (d * (rows as f64 + self.alpha * col.bins() as f64));
            let base = (self.alpha * scale).sqrt();
            if base != 0.0 {
                let sums = &self.column_sums[c * k..(c + 1) * k];
                acc.iter_mut().zip(sums).for_each(|(x, s)| *x += base * s);
            }
            let first = space.offset(c);
            for (i, &count) in counts[first..first + col.bins()].iter().enumerate() {
                if count == 0 {
                    continue;
                }
                let delta = ((count as f64 + self.alpha) * scale).sqrt() - base;
                let row = &self.projection[(first + i) * k..][..k];
                acc.iter_mut()
                    .zip(row)
                    .for_each(|(x, a)| *x += delta * *a as f64);
            }
        }
        let mut words = vec![0u64; self.rows_per_band + 1];
        for (band, slot) in out.iter_mut().enumerate() {
            words[0] = band as u64;
            for (row, w) in words[1..].iter_mut().enumerate() {
                let j = band * self.rows_per_band + row;
                *w = ((acc[j] + self.offsets[j]) / self.bucket_width).floor() as i64 as u64;
            }
            *slot = hash_words(self.band_seed, &words);
        }
    }
}

/// The Gaussian projection of `space`: a[i][k] = `gaussian(seed, i·K + k)` rounded to f32.
pub fn generate_projection(params: &Params, space: &SampleSpace) -> Vec<f32> {
    let k = params.hashes();
    let seed = derive_seed(params.seed, "jsd-projection");
    let mut projection = vec![0f32; space.dim() * k];
    projection
        .par_chunks_mut(k)
        .enumerate()
        .for_each(|(i, row)| {
            for (j, a) in row.iter_mut().enumerate() {
                *a = gaussian(seed, (i * k + j) as u64) as f32;
            }
        });
    projection
}
