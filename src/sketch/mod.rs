//! Sketching: rows → bins of the sample space → partitions → JSD-LSH band hashes →
//! flattened set → MinHash signature. Called by `Index::register` and `Index::search`;
//! the results are the records of FORMAT.md §4.

pub mod file;
mod jsdlsh;
mod minhash;
pub mod partition;

use std::path::{Path, PathBuf};

use rayon::prelude::*;

pub use jsdlsh::{generate_projection, JsdLsh};
pub use minhash::MinHasher;

use crate::hash::derive_seed;
use crate::input::{Frame, InputError, RowSource};
use crate::params::Params;
use crate::space::SampleSpace;

/// Errors of the sketching layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SketchError {
    /// The data could not be read.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The file's feature columns differ from the index's sample space.
    #[error(
        "{}: feature columns differ from the index's: {}",
        path.display(),
        describe(missing, extra)
    )]
    ColumnMismatch {
        /// The data file.
        path: PathBuf,
        /// Columns of the index that the file lacks.
        missing: Vec<String>,
        /// Columns of the file that the index does not know.
        extra: Vec<String>,
    },
    /// The file has more rows than a sketch can count.
    #[error("{}: {rows} rows is more than the {max} a sketch supports", path.display())]
    TooManyRows {
        /// The data file.
        path: PathBuf,
        /// Rows read so far.
        rows: u64,
        /// The limit.
        max: u64,
    },
    /// The first registration's data cannot fix a usable sample space: every feature
    /// column holds a single value, so every dataset would map to the same distribution.
    #[error(
        "{}: every feature column has a single value in its {rows} row(s), so it cannot fix \
         the index's sample space (the first registration places the bin edges); register a \
         larger or more varied dataset first",
        path.display()
    )]
    ConstantReference {
        /// The data file.
        path: PathBuf,
        /// Its rows.
        rows: usize,
    },
    /// A sketch file could not be read, written, merged or registered.
    #[error(transparent)]
    File(#[from] file::SketchFileError),
}

fn describe(missing: &[String], extra: &[String]) -> String {
    let list = |v: &[String]| {
        let shown: Vec<&str> = v.iter().take(8).map(String::as_str).collect();
        let more = if v.len() > 8 {
            format!(" and {} more", v.len() - 8)
        } else {
            String::new()
        };
        format!("{}{more}", shown.join(", "))
    };
    match (missing.is_empty(), extra.is_empty()) {
        (false, false) => format!(
            "missing {}; not in the index {}",
            list(missing),
            list(extra)
        ),
        (false, true) => format!("missing {}", list(missing)),
        _ => format!("not in the index {}", list(extra)),
    }
}

/// The sketch of one dataset: everything the index keeps of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sketch {
    /// Rows read.
    pub rows: u64,
    /// JSD-LSH bands per partition (L).
    pub bands: u16,
    /// Band hashes, partition-major: partition p's bands are `[p·L, (p+1)·L)`.
    pub band_hashes: Vec<u64>,
    /// The flattened set: every distinct band hash, ascending.
    pub flat: Vec<u64>,
    /// The unpadded MinHash signature of the flattened set.
    pub minhash: Vec<u64>,
    /// Bin counts of every partition over Ω, partition-major (partitions × D): the
    /// partitions' distributions, kept for exact scores and the noise floor.
    pub counts: Vec<u32>,
    /// Rows of each partition.
    pub sizes: Vec<u32>,
}

impl Sketch {
    /// Number of partitions.
    pub fn partitions(&self) -> usize {
        self.band_hashes.len() / self.bands as usize
    }

    /// The band hashes of partition `p`.
    pub fn partition(&self, p: usize) -> &[u64] {
        let l = self.bands as usize;
        &self.band_hashes[p * l..(p + 1) * l]
    }

    /// XXH3 of the band hashes: equal data under equal parameters, equal fingerprints.
    pub fn fingerprint(&self) -> u64 {
        let bytes: Vec<u8> = self
            .band_hashes
            .iter()
            .flat_map(|h| h.to_le_bytes())
            .collect();
        xxhash_rust::xxh3::xxh3_64(&bytes)
    }
}

/// Turns datasets into sketches under one index's parameters and sample space.
pub struct Sketcher {
    params: Params,
    space: SampleSpace,
    lsh: JsdLsh,
    minhash: MinHasher,
}

impl Sketcher {
    /// Builds the hash families for `space` (the projection is generated here, in parallel).
    pub fn new(params: Params, space: SampleSpace) -> Self {
        let lsh = JsdLsh::new(&params, &space);
        Self::assemble(params, space, lsh)
    }

    /// Builds the hash families around a stored projection (D × K values).
    pub fn with_projection(params: Params, space: SampleSpace, projection: Vec<f32>) -> Self {
        let lsh = JsdLsh::with_projection(&params, &space, projection);
        Self::assemble(params, space, lsh)
    }

    fn assemble(params: Params, space: SampleSpace, lsh: JsdLsh) -> Self {
        let minhash = MinHasher::new(&params);
        Self {
            params,
            space,
            lsh,
            minhash,
        }
    }

    /// The parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The sample space.
    pub fn space(&self) -> &SampleSpace {
        &self.space
    }

    /// The MinHash family.
    pub fn minhasher(&self) -> &MinHasher {
        &self.minhash
    }

    /// The squared Hellinger distance estimated from each band count `0 ..= L`.
    pub fn distances(&self) -> &[f64] {
        self.lsh.distances()
    }

    /// The JSD-LSH projection (D × K, row-major).
    pub fn projection(&self) -> &[f32] {
        self.lsh.projection()
    }

    /// Reads every row of `source` and sketches it.
    pub fn sketch(&self, source: &mut dyn RowSource) -> Result<Sketch, SketchError> {
        let (codes, rows) = self.bin_rows(source)?;
        Ok(self.sketch_codes(&codes, rows))
    }

    /// Maps each row to its bin in every column: one byte per cell (bins ≤ 255).
    fn bin_rows(&self, source: &mut dyn RowSource) -> Result<(Vec<u8>, usize), SketchError> {
        let map = self.space.column_map(source.columns(), source.path())?;
        let columns = self.space.columns();
        let mut row = vec![0f64; source.columns().len()];
        let mut codes = Vec::new();
        let mut rows = 0usize;
        while source.next_row(&mut row)? {
            codes.extend(columns.iter().zip(&map).map(|(col, &i)| col.bin(row[i])));
            rows += 1;
            if rows > u32::MAX as usize {
                let path = source.path().to_path_buf();
                return Err(SketchError::TooManyRows {
                    path,
                    rows: rows as u64,
                    max: u32::MAX as u64,
                });
            }
        }
        Ok((codes, rows))
    }

    /// Sketches binned rows (`codes` is rows × d, row-major).
    pub fn sketch_codes(&self, codes: &[u8], rows: usize) -> Sketch {
        let l = self.params.bands as usize;
        let counts = partition_counts(&self.space, &self.params, codes, rows);
        let sizes = partition::sizes(rows, self.params.partition_rows as usize);
        let mut band_hashes = vec![0u64; sizes.len() * l];
        self.lsh
            .band_hashes_many(&self.space, &counts, &sizes, &mut band_hashes);
        let mut flat = band_hashes.clone();
        flat.sort_unstable();
        flat.dedup();
        let minhash = self.minhash.signature(&flat);
        Sketch {
            rows: rows as u64,
            bands: self.params.bands,
            band_hashes,
            flat,
            minhash,
            counts,
            sizes,
        }
    }
}

/// The fingerprint of everything a sketch depends on: parameters and sample space.
pub fn spec_fingerprint(params: &Params, space: &SampleSpace) -> u64 {
    let mut bytes = params.encode();
    bytes.extend(space.encode());
    xxhash_rust::xxh3::xxh3_64(&bytes)
}

/// Bin counts of every partition of binned rows (`codes` is rows × d), partition-major.
pub fn partition_counts(
    space: &SampleSpace,
    params: &Params,
    codes: &[u8],
    rows: usize,
) -> Vec<u32> {
    let d = space.columns().len();
    let dim = space.dim();
    let order = partition::shuffle(rows, derive_seed(params.seed, "shuffle"));
    let parts = partition::chunks(rows, params.partition_rows as usize);
    let mut counts = vec![0u32; parts.len() * dim];
    counts
        .par_chunks_mut(dim.max(1))
        .zip(&parts)
        .for_each(|(bins, range)| {
            for &r in &order[range.clone()] {
                let row = &codes[r as usize * d..][..d];
                for (c, &bin) in row.iter().enumerate() {
                    bins[space.offset(c) + bin as usize] += 1;
                }
            }
        });
    counts
}

/// Maps every row of an in-memory dataset to its bins (rows × d, row-major).
pub fn bin_frame(space: &SampleSpace, frame: &Frame) -> Result<Vec<u8>, SketchError> {
    let map = space.column_map(&frame.columns, &frame.path)?;
    let d = frame.columns.len();
    let mut codes = Vec::with_capacity(frame.rows * map.len());
    for r in 0..frame.rows {
        let row = &frame.values[r * d..][..d];
        codes.extend(
            space
                .columns()
                .iter()
                .zip(&map)
                .map(|(col, &i)| col.bin(row[i])),
        );
    }
    Ok(codes)
}

/// A [`RowSource`] over a dataset already in memory.
pub struct FrameRows<'a> {
    frame: &'a Frame,
    next: usize,
}

impl<'a> FrameRows<'a> {
    /// Rows of `frame`, from the first.
    pub fn new(frame: &'a Frame) -> Self {
        Self { frame, next: 0 }
    }
}

impl RowSource for FrameRows<'_> {
    fn path(&self) -> &Path {
        &self.frame.path
    }

    fn columns(&self) -> &[String] {
        &self.frame.columns
    }

    fn next_row(&mut self, out: &mut [f64]) -> Result<bool, InputError> {
        if self.next >= self.frame.rows {
            return Ok(false);
        }
        let d = self.frame.columns.len();
        out.copy_from_slice(&self.frame.values[self.next * d..][..d]);
        self.next += 1;
        Ok(true)
    }
}
