//! The sample space: per-column histogram edges fixed when the index is created, mapping
//! every row into bins (METHOD.md §1.1). Stored in the catalogue under `space`
//! (FORMAT.md §3.1); a dataset is comparable with an index only through the same space.

use std::path::Path;

use crate::codec::{DecodeError, Decoder, Encoder};
use crate::hash::{derive_seed, hash_words};
use crate::input::Frame;
use crate::sketch::SketchError;

/// One feature column of the sample space.
#[derive(Debug, Clone, PartialEq)]
pub struct SpaceColumn {
    /// The column's name, as in the header of the reference dataset.
    pub name: String,
    /// Inner bin edges, strictly increasing; bin `i` holds values `x` with
    /// `edges[i-1] <= x < edges[i]`, and both end bins are open.
    pub edges: Vec<f64>,
}

impl SpaceColumn {
    /// Number of bins (`edges.len() + 1`).
    pub fn bins(&self) -> usize {
        self.edges.len() + 1
    }

    /// The bin of a value: the number of edges at or below it.
    #[inline]
    pub fn bin(&self, x: f64) -> u8 {
        self.edges.partition_point(|e| *e <= x) as u8
    }
}

/// The fixed sample space Ω: the concatenation of every column's bins.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleSpace {
    columns: Vec<SpaceColumn>,
    offsets: Vec<usize>,
}

impl SampleSpace {
    /// Builds a space from explicit columns (edges must be strictly increasing and finite).
    pub fn new(columns: Vec<SpaceColumn>) -> Result<Self, DecodeError> {
        let bad = |reason: String| DecodeError {
            what: "sample space",
            reason,
        };
        if columns.is_empty() {
            return Err(bad("no columns".into()));
        }
        for c in &columns {
            if c.edges.len() > 254 {
                return Err(bad(format!(
                    "column {} has {} edges (254 at most)",
                    c.name,
                    c.edges.len()
                )));
            }
            let increasing = c.edges.windows(2).all(|w| w[0] < w[1]);
            if !increasing || c.edges.iter().any(|e| !e.is_finite()) {
                return Err(bad(format!(
                    "column {} has unordered or non-finite edges",
                    c.name
                )));
            }
        }
        let mut offsets = Vec::with_capacity(columns.len());
        let mut at = 0;
        for c in &columns {
            offsets.push(at);
            at += c.bins();
        }
        Ok(Self { columns, offsets })
    }

    /// Places `bins` quantile edges per column from a reference dataset (METHOD.md §1.1).
    ///
    /// At most `max_rows` rows are used, drawn by a seeded sample. A column with at most
    /// `bins` distinct values gets one bin per value; otherwise edges sit at the quantiles
    /// j/bins, duplicates and edges at the minimum removed, so no bin is empty in the
    /// reference by construction.
    pub fn from_reference(frame: &Frame, bins: u16, max_rows: usize, seed: u64) -> Self {
        let rows = sample_rows(frame.rows, max_rows, derive_seed(seed, "reference"));
        let d = frame.columns.len();
        let columns = frame
            .columns
            .iter()
            .enumerate()
            .map(|(c, name)| {
                let mut values: Vec<f64> = rows.iter().map(|&r| frame.values[r * d + c]).collect();
                values.sort_by(f64::total_cmp);
                SpaceColumn {
                    name: name.clone(),
                    edges: quantile_edges(&values, bins as usize),
                }
            })
            .collect();
        Self::new(columns).expect("quantile edges of finite values are finite and increasing")
    }

    /// The columns, in sample-space order.
    pub fn columns(&self) -> &[SpaceColumn] {
        &self.columns
    }

    /// Total number of bins (D = Σ B_c).
    pub fn dim(&self) -> usize {
        self.offsets
            .last()
            .map_or(0, |o| o + self.columns[self.columns.len() - 1].bins())
    }

    /// Index of column `c`'s first bin in Ω.
    pub fn offset(&self, c: usize) -> usize {
        self.offsets[c]
    }

    /// For each space column, its position among `file_columns`; an error lists the space
    /// columns the file lacks and the file columns the space does not know.
    pub fn column_map(
        &self,
        file_columns: &[String],
        path: &Path,
    ) -> Result<Vec<usize>, SketchError> {
        let position = |name: &str| file_columns.iter().position(|f| f == name);
        let missing: Vec<String> = self
            .columns
            .iter()
            .filter(|c| position(&c.name).is_none())
            .map(|c| c.name.clone())
            .collect();
        let extra: Vec<String> = file_columns
            .iter()
            .filter(|f| !self.columns.iter().any(|c| &c.name == *f))
            .cloned()
            .collect();
        if !missing.is_empty() || !extra.is_empty() {
            return Err(SketchError::ColumnMismatch {
                path: path.to_path_buf(),
                missing,
                extra,
            });
        }
        Ok(self
            .columns
            .iter()
            .filter_map(|c| position(&c.name))
            .collect())
    }

    /// Encodes the space as the `space` catalogue value (FORMAT.md §3.1).
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Encoder::new();
        e.u32(self.columns.len() as u32);
        for c in &self.columns {
            e.str(&c.name).u16(c.edges.len() as u16);
            for x in &c.edges {
                e.f64(*x);
            }
        }
        e.finish()
    }

    /// Decodes a `space` catalogue value.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut d = Decoder::new("sample space", bytes);
        let n = d.u32()? as usize;
        if n > bytes.len() {
            return Err(d.error(format!("{n} columns cannot fit in {} bytes", bytes.len())));
        }
        let mut columns = Vec::with_capacity(n);
        for _ in 0..n {
            let name = d.str()?;
            let edges = (0..d.u16()?).map(|_| d.f64()).collect::<Result<_, _>>()?;
            columns.push(SpaceColumn { name, edges });
        }
        d.finish()?;
        Self::new(columns)
    }

    /// XXH3 of the encoded space: equal spaces, equal fingerprints.
    pub fn fingerprint(&self) -> u64 {
        xxhash_rust::xxh3::xxh3_64(&self.encode())
    }
}

/// The rows of a seeded sample of at most `max` rows, in file order.
fn sample_rows(rows: usize, max: usize, seed: u64) -> Vec<usize> {
    if rows <= max {
        return (0..rows).collect();
    }
    let mut keyed: Vec<(u64, usize)> = (0..rows)
        .map(|r| (hash_words(seed, &[r as u64]), r))
        .collect();
    keyed.sort_unstable();
    let mut picked: Vec<usize> = keyed[..max].iter().map(|&(_, r)| r).collect();
    picked.sort_unstable();
    picked
}

/// Inner edges for one column from its sorted reference values.
fn quantile_edges(sorted: &[f64], bins: usize) -> Vec<f64> {
    let Some(&min) = sorted.first() else {
        return Vec::new();
    };
    let mut distinct = sorted.to_vec();
    distinct.dedup();
    if distinct.len() <= bins {
        return distinct[1..].to_vec();
    }
    let n = sorted.len();
    let mut edges: Vec<f64> = Vec::with_capacity(bins - 1);
    for j in 1..bins {
        let e = sorted[j * n / bins];
        if e > min && edges.last().is_none_or(|last| e > *last) {
            edges.push(e);
        }
    }
    edges
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn few_distinct_values_get_one_bin_each() {
        let edges = quantile_edges(&[0.0, 0.0, 1.0, 1.0, 3.0], 16);
        assert_eq!(edges, vec![1.0, 3.0]);
        let col = SpaceColumn {
            name: "x".into(),
            edges,
        };
        assert_eq!(
            [
                col.bin(-5.0),
                col.bin(0.0),
                col.bin(2.0),
                col.bin(3.0),
                col.bin(9.0)
            ],
            [0, 0, 1, 2, 2]
        );
    }

    #[test]
    fn quantile_edges_split_mass_evenly() {
        let values: Vec<f64> = (0..1000).map(f64::from).collect();
        let edges = quantile_edges(&values, 4);
        assert_eq!(edges, vec![250.0, 500.0, 750.0]);
    }

    #[test]
    fn heavy_minimum_does_not_leave_an_empty_bin() {
        let mut values = vec![0.0; 600];
        values.extend((1..=400).map(f64::from));
        let edges = quantile_edges(&values, 16);
        assert!(edges[0] > 0.0);
        assert!(edges.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn space_round_trips_and_fingerprints() {
        let space = SampleSpace::new(vec![
            SpaceColumn {
                name: "a".into(),
                edges: vec![1.0, 2.5],
            },
            SpaceColumn {
                name: "b".into(),
                edges: vec![],
            },
        ])
        .unwrap();
        assert_eq!(space.dim(), 4);
        assert_eq!(space.offset(1), 3);
        let back = SampleSpace::decode(&space.encode()).unwrap();
        assert_eq!(back, space);
        assert_eq!(back.fingerprint(), space.fingerprint());
    }

    #[test]
    fn column_map_reports_missing_and_extra_columns() {
        let space = SampleSpace::new(vec![
            SpaceColumn {
                name: "a".into(),
                edges: vec![],
            },
            SpaceColumn {
                name: "b".into(),
                edges: vec![],
            },
        ])
        .unwrap();
        let cols = vec!["b".to_string(), "a".to_string()];
        assert_eq!(
            space.column_map(&cols, Path::new("t.csv")).unwrap(),
            vec![1, 0]
        );
        let cols = vec!["a".to_string(), "c".to_string()];
        match space.column_map(&cols, Path::new("t.csv")).unwrap_err() {
            SketchError::ColumnMismatch { missing, extra, .. } => {
                assert_eq!(missing, vec!["b".to_string()]);
                assert_eq!(extra, vec!["c".to_string()]);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
