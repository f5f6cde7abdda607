//! Level 1: JSD-LSH, Hellinger E2LSH on √P (METHOD.md §2). Hashes one partition's
//! distribution into L band hashes. The Gaussian projection is regenerated from the seed
//! (FORMAT.md §2.2) and applied in a fixed order, so band hashes are bit-reproducible.

use std::sync::OnceLock;

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
    /// H² estimated from each band count `0 ..= L`, built on first use.
    distances: OnceLock<Vec<f64>>,
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
            distances: OnceLock::new(),
        }
    }

    /// The squared Hellinger distance at which a partition pair shares, in expectation,
    /// `k` of its L bands, for every `k` in `0 ..= L` (METHOD.md §2.3); computed once.
    pub fn distances(&self) -> &[f64] {
        self.distances.get_or_init(|| {
            let bands = (self.hashes / self.rows_per_band) as u16;
            crate::divergence::hellinger2_table(self.bucket_width, self.rows_per_band as u16, bands)
        })
    }

    /// The projection a[i][k], row-major (D × K).
    pub fn projection(&self) -> &[f32] {
        &self.projection
    }

    /// Writes the L band hashes of one partition into `out`: the reference form of
    /// [`JsdLsh::band_hashes_many`], which gives the same bits faster.
    ///
    /// `counts` holds the partition's bin counts over Ω and `rows` its row count. The
    /// smoothed distribution is P_c[i] = (count + α)/(rows + α·B_c) per column, concatenated
    /// with weight 1/d. Bins with a zero count share one value per column, so the dot product
    /// is taken as that value times the column sum plus a correction for each occupied bin,
    /// columns in order and bins ascending (FORMAT.md §2.4).
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
                axpy(&mut acc, delta, row);
            }
        }
        self.hash_bands(&acc, 0, out);
    }

    /// Writes the band hashes of many partitions (`counts` is partitions × D, `sizes` their
    /// rows, `out` partitions × L), bit for bit what [`JsdLsh::band_hashes`] gives each.
    ///
    /// The projection (4·D·K bytes, tens of MB for wide data) is far larger than the caches,
    /// so hashing partitions one by one streams all of it once per partition. Here work is
    /// cut into tasks of up to [`BLOCK_PARTITIONS`] partitions × a chunk of about
    /// [`CHUNK_HASHES`] hash functions: each task streams only its chunk of each occupied
    /// projection row once for the whole block, and its accumulators stay in cache. Every
    /// accumulator still receives the same additions in the same order (columns ascending,
    /// the column's base term, then its occupied bins ascending), so the bits are unchanged.
    pub fn band_hashes_many(
        &self,
        space: &SampleSpace,
        counts: &[u32],
        sizes: &[u32],
        out: &mut [u64],
    ) {
        let parts = sizes.len();
        if parts == 0 {
            return;
        }
        let dim = space.dim();
        let bands = out.len() / parts;
        debug_assert_eq!(counts.len(), parts * dim);
        debug_assert_eq!(bands * self.rows_per_band, self.hashes);
        let chunk_bands = (CHUNK_HASHES / self.rows_per_band).max(1);
        let chunks = bands.div_ceil(chunk_bands);
        let blocks: Vec<Occupancy> = counts
            .par_chunks(BLOCK_PARTITIONS * dim)
            .zip(sizes.par_chunks(BLOCK_PARTITIONS))
            .map(|(counts, sizes)| Occupancy::new(space, self.alpha, counts, sizes))
            .collect();
        let tasks: Vec<(usize, usize)> = (0..blocks.len())
            .flat_map(|b| (0..chunks).map(move |c| (b, c)))
            .collect();
        let hashed: Vec<Vec<u64>> = tasks
            .par_iter()
            .map(|&(b, c)| {
                let first = c * chunk_bands;
                let last = (first + chunk_bands).min(bands);
                self.hash_block(space, &blocks[b], first..last)
            })
            .collect();
        for (&(b, c), hashes) in tasks.iter().zip(&hashed) {
            let first = c * chunk_bands;
            let width = hashes.len() / blocks[b].parts;
            for (p, row) in hashes.chunks_exact(width).enumerate() {
                let at = (b * BLOCK_PARTITIONS + p) * bands + first;
                out[at..at + width].copy_from_slice(row);
            }
        }
    }

    /// The hashes of bands `bands` for every partition of one block, partition-major.
    fn hash_block(
        &self,
        space: &SampleSpace,
        block: &Occupancy,
        bands: std::ops::Range<usize>,
    ) -> Vec<u64> {
        let k = self.hashes;
        let k0 = bands.start * self.rows_per_band;
        let width = bands.len() * self.rows_per_band;
        let mut acc = vec![0f64; block.parts * width];
        let d = space.columns().len();
        for (c, col) in space.columns().iter().enumerate() {
            let sums = &self.column_sums[c * k + k0..][..width];
            for (p, acc) in acc.chunks_exact_mut(width).enumerate() {
                let base = block.bases[p * d + c];
                if base != 0.0 {
                    acc.iter_mut().zip(sums).for_each(|(x, s)| *x += base * s);
                }
            }
            let first = space.offset(c);
            for bin in first..first + col.bins() {
                let row = &self.projection[bin * k + k0..][..width];
                for &(p, delta) in block.occupied(bin) {
                    axpy(&mut acc[p as usize * width..][..width], delta, row);
                }
            }
        }
        let mut out = vec![0u64; block.parts * bands.len()];
        for (acc, out) in acc
            .chunks_exact(width)
            .zip(out.chunks_exact_mut(bands.len()))
        {
            self.hash_bands(acc, bands.start, out);
        }
        out
    }

    /// Buckets the projections `acc` of hashes `first_band·R …` and hashes them into the
    /// bands `first_band …` (`out.len()` of them).
    fn hash_bands(&self, acc: &[f64], first_band: usize, out: &mut [u64]) {
        let r = self.rows_per_band;
        let mut words = vec![0u64; r + 1];
        for (b, slot) in out.iter_mut().enumerate() {
            let band = first_band + b;
            words[0] = band as u64;
            for (row, w) in words[1..].iter_mut().enumerate() {
                let j = band * r + row;
                let x = acc[b * r + row];
                *w = ((x + self.offsets[j]) / self.bucket_width).floor() as i64 as u64;
            }
            *slot = hash_words(self.band_seed, &words);
        }
    }
}

/// Partitions per task of [`JsdLsh::band_hashes_many`]: their accumulators for one chunk
/// (32 × 256 × 8 bytes = 64 KiB) stay in the L2 cache.
const BLOCK_PARTITIONS: usize = 32;

/// Hash functions per task of [`JsdLsh::band_hashes_many`], rounded down to whole bands.
const CHUNK_HASHES: usize = 256;

/// `acc += delta × row`, element by element (no fused multiply-add: FORMAT.md §2.4).
#[inline]
fn axpy(acc: &mut [f64], delta: f64, row: &[f32]) {
    acc.iter_mut()
        .zip(row)
        .for_each(|(x, a)| *x += delta * *a as f64);
}

/// The smoothed distributions of a block of partitions in the form the kernel consumes:
/// each partition's base term per column and, bin by bin, the partitions that occupy it
/// with their corrections (FORMAT.md §2.4).
struct Occupancy {
    parts: usize,
    /// √(α·scale) per partition and column, partition-major.
    bases: Vec<f64>,
    /// Start of each bin's entries in `entries` (D + 1 values).
    starts: Vec<u32>,
    /// (partition within the block, √((count + α)·scale) − base), bin-major.
    entries: Vec<(u32, f64)>,
}

impl Occupancy {
    fn new(space: &SampleSpace, alpha: f64, counts: &[u32], sizes: &[u32]) -> Self {
        let dim = space.dim();
        let columns = space.columns();
        let d = columns.len() as f64;
        let parts = sizes.len();
        let mut bases = vec![0f64; parts * columns.len()];
        let mut scales = vec![0f64; parts * columns.len()];
        for (p, &rows) in sizes.iter().enumerate() {
            for (c, col) in columns.iter().enumerate() {
                let scale = 1.0 / (d * (rows as f64 + alpha * col.bins() as f64));
                scales[p * columns.len() + c] = scale;
                bases[p * columns.len() + c] = (alpha * scale).sqrt();
            }
        }
        let mut starts = Vec::with_capacity(dim + 1);
        let mut entries = Vec::new();
        for (c, col) in columns.iter().enumerate() {
            let first = space.offset(c);
            for bin in first..first + col.bins() {
                starts.push(entries.len() as u32);
                for p in 0..parts {
                    let count = counts[p * dim + bin];
                    if count == 0 {
                        continue;
                    }
                    let at = p * columns.len() + c;
                    let delta = ((count as f64 + alpha) * scales[at]).sqrt() - bases[at];
                    entries.push((p as u32, delta));
                }
            }
        }
        starts.push(entries.len() as u32);
        Self {
            parts,
            bases,
            starts,
            entries,
        }
    }

    fn occupied(&self, bin: usize) -> &[(u32, f64)] {
        &self.entries[self.starts[bin] as usize..self.starts[bin + 1] as usize]
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::SpaceColumn;

    fn space(bins: &[usize]) -> SampleSpace {
        let columns = bins
            .iter()
            .enumerate()
            .map(|(c, &b)| SpaceColumn {
                name: format!("c{c}"),
                edges: (1..b).map(|e| e as f64).collect(),
            })
            .collect();
        SampleSpace::new(columns).expect("valid space")
    }

    /// Pseudo-random counts, sparse per column, with partitions of uneven sizes.
    fn partitions(space: &SampleSpace, parts: usize) -> (Vec<u32>, Vec<u32>) {
        let dim = space.dim();
        let mut state = 99u64;
        let mut counts = vec![0u32; parts * dim];
        let mut sizes = Vec::new();
        for p in 0..parts {
            let rows = 40 + (crate::hash::splitmix64(&mut state) % 50) as u32;
            for c in 0..space.columns().len() {
                let bins = space.columns()[c].bins() as u64;
                for _ in 0..rows {
                    let skew = crate::hash::splitmix64(&mut state) % bins;
                    let bin = skew * skew / bins.max(1);
                    counts[p * dim + space.offset(c) + bin as usize] += 1;
                }
            }
            sizes.push(rows);
        }
        (counts, sizes)
    }

    #[test]
    fn batched_hashes_equal_the_reference_form_bit_for_bit() {
        // R = 3 does not divide the chunk, L = 90 is not a whole number of chunks, and
        // 70 partitions make three blocks, the last one partial.
        for (r, l, alpha) in [(3u16, 90u16, 0.5), (4, 512, 0.5), (2, 7, 0.0)] {
            let params = Params {
                rows_per_band: r,
                bands: l,
                bucket_width: 1.7,
                alpha,
                ..Params::default()
            };
            let space = space(&[16, 1, 5, 16, 2, 9]);
            let lsh = JsdLsh::new(&params, &space);
            let (counts, sizes) = partitions(&space, 70);
            let mut batched = vec![0u64; sizes.len() * l as usize];
            lsh.band_hashes_many(&space, &counts, &sizes, &mut batched);
            for (p, &rows) in sizes.iter().enumerate() {
                let mut one = vec![0u64; l as usize];
                let bins = &counts[p * space.dim()..][..space.dim()];
                lsh.band_hashes(&space, bins, rows, &mut one);
                assert_eq!(
                    one,
                    batched[p * l as usize..][..l as usize],
                    "partition {p}, R = {r}, L = {l}"
                );
            }
        }
    }
}
