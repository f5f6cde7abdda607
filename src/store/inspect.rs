//! `inspect`: a read-only description of an index — parameters, sample space, segments,
//! band-table occupancy (FORMAT.md §3 tables, §4 segments) — and of one model's catalogue
//! record and stored sketch. Reads one catalogue snapshot; safe while a writer runs.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::path::PathBuf;

use redb::{ReadTransaction, ReadableMultimapTable, ReadableTable, ReadableTableMetadata};

use super::catalog::*;
use super::segment::{self, RecordLocation, MAX_RECORD_LEN};
use super::{guard, Index, StoreError};
use crate::error::Result;
use crate::params::Params;
use crate::space::SampleSpace;

/// Labels of the bucket-size classes of [`BandOccupancy::histogram`].
pub const BUCKET_SIZE_CLASSES: [&str; 6] = ["1", "2", "3-4", "5-8", "9-16", "17+"];
/// How many of the largest band-table buckets [`Index::inspect`] lists.
pub const LARGEST_BUCKETS: usize = 10;
/// How many band hashes per partition, and MinHash values, [`ModelSketch`] quotes.
pub const QUOTED_VALUES: usize = 8;

/// A summary of an index, from [`Index::inspect`].
#[derive(Debug, Clone)]
pub struct InspectReport {
    /// The index directory.
    pub dir: PathBuf,
    /// `meta/format_version`.
    pub format_version: u32,
    /// The parameters fixed at creation.
    pub params: Params,
    /// The sample space; `None` until the first registration.
    pub space: Option<SpaceSummary>,
    /// The padding bound M (`meta/padding`).
    pub padding: u64,
    /// What the first registration measured and derived from it; `None` until then.
    pub calibration: Option<Calibration>,
    /// Registered model versions (entries of `models`).
    pub models: u64,
    /// The id the next registration receives (`meta/next_model`).
    pub next_model: u32,
    /// Every segment the catalogue lists, by id.
    pub segments: Vec<SegmentInfo>,
    /// Where the projection record is; `None` until the first registration.
    pub projection: Option<RecordLocation>,
    /// How full the MinHash band table is.
    pub bands: BandOccupancy,
}

/// The noise floor measured on the first registered dataset, and what it sets (METHOD.md
/// §1.3, §2.3, §5.2).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Calibration {
    /// Mean JS (nats) between partitions of the reference dataset (`meta/noise_floor`).
    pub noise_floor: f64,
    /// The JS threshold of a partition match (hard adaptivity): twice the floor.
    pub js_threshold: f64,
    /// The bucket width r in force (calibrated from the threshold unless set by hand).
    pub bucket_width: f64,
    /// Whether r was derived from the threshold (the index was created with r = 0) rather
    /// than set by hand.
    pub derived: bool,
    /// Bands of L a partition pair must share to count as a match at the threshold.
    pub match_bands: u32,
}

/// The sample space in figures.
#[derive(Debug, Clone, PartialEq)]
pub struct SpaceSummary {
    /// Each column's name and number of bins, in sample-space order.
    pub columns: Vec<(String, usize)>,
    /// Total bins D.
    pub dim: usize,
    /// Fewest bins of a column.
    pub bins_min: usize,
    /// Median bins per column (the lower middle value for an even column count).
    pub bins_median: usize,
    /// Most bins of a column.
    pub bins_max: usize,
}

/// One segment file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentInfo {
    /// Segment number.
    pub id: u32,
    /// The file.
    pub path: PathBuf,
    /// Committed length (`segments` table).
    pub committed: u64,
    /// The file's length on disk; `None` when it cannot be read.
    pub file_len: Option<u64>,
}

/// Occupancy of the band table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BandOccupancy {
    /// Band tables (K_m / r_m).
    pub tables: usize,
    /// Distinct (band, key) buckets.
    pub buckets: u64,
    /// (band, key) → id entries.
    pub entries: u64,
    /// Buckets by size, in the classes of [`BUCKET_SIZE_CLASSES`].
    pub histogram: Vec<BucketClass>,
    /// The largest buckets, largest first (ties by band, then key).
    pub largest: Vec<BandBucket>,
}

/// Buckets of one size class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketClass {
    /// The class, e.g. `"3-4"` or `"17+"`.
    pub label: &'static str,
    /// Buckets whose size falls in the class.
    pub buckets: u64,
    /// Entries in those buckets.
    pub entries: u64,
}

/// One band-table bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BandBucket {
    /// MinHash band.
    pub band: u16,
    /// Band key.
    pub key: u64,
    /// Model ids in the bucket.
    pub size: u64,
}

/// Which model [`Index::inspect_model`] describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelRef {
    /// By id.
    Id(u32),
    /// By name and version.
    Label {
        /// Model name.
        name: String,
        /// Version label.
        version: String,
    },
}

/// One model's catalogue record and stored sketch, from [`Index::inspect_model`].
#[derive(Debug, Clone)]
pub struct ModelSketch {
    /// The catalogue record (metadata and record location included).
    pub model: ModelVersion,
    /// The model id the sketch record names.
    pub record_model: u32,
    /// Rows, from the sketch record.
    pub rows: u64,
    /// Bands per partition (L), from the sketch record.
    pub bands: u32,
    /// Partitions: band hashes / L.
    pub partitions: usize,
    /// Size of the stored flattened set.
    pub flat_len: usize,
    /// The first [`QUOTED_VALUES`] band hashes of each partition.
    pub band_hashes: Vec<Vec<u64>>,
    /// Values in the stored MinHash signature.
    pub minhash_size: usize,
    /// Its first [`QUOTED_VALUES`] values.
    pub minhash: Vec<u64>,
    /// The padding bound M the band keys were computed with.
    pub padding: u64,
    /// The model's band-table keys (from its stored signature padded to M), one per band,
    /// with the size of the bucket each names in the table (0 when the entry is missing).
    pub band_keys: Vec<BandBucket>,
}

/// A bucket ranked for [`BandOccupancy::largest`]: larger size first, then smaller (band, key).
type Ranked = (u64, Reverse<(u16, u64)>);

/// The size class of a bucket of `size` entries.
fn size_class(size: u64) -> usize {
    match size {
        0 | 1 => 0,
        2 => 1,
        3..=4 => 2,
        5..=8 => 3,
        9..=16 => 4,
        _ => 5,
    }
}

impl Index {
    /// Describes the index: format, parameters, space, segments and band-table occupancy.
    ///
    /// Reads one catalogue snapshot and never writes; the index may be open for writing in
    /// another process. Walks the whole band table, so it takes time on large indexes.
    pub fn inspect(&self) -> Result<InspectReport> {
        let span = tracing::debug_span!("inspect", dir = %self.dir.display());
        let _enter = span.enter();
        guard::contain(&self.catalog_path, || self.inspect_unguarded())
    }

    /// What the first registration measured and derived from it, or `None` before it; a
    /// cheap read of two catalogue values.
    pub fn calibration(&self) -> Result<Option<Calibration>> {
        guard::contain(&self.catalog_path, || {
            self.calibration_in(&self.begin_read()?)
        })
    }

    fn calibration_in(&self, txn: &ReadTransaction) -> Result<Option<Calibration>> {
        let Some(bytes) = self.read_meta(txn, KEY_NOISE_FLOOR)? else {
            return Ok(None);
        };
        let params = self.params();
        let noise_floor = f64::from_bits(self.decode_u64(KEY_NOISE_FLOOR, &bytes)?);
        let js_threshold = 2.0 * noise_floor;
        let (r, rows, bands) = (params.bucket_width, params.rows_per_band, params.bands);
        Ok(Some(Calibration {
            noise_floor,
            js_threshold,
            bucket_width: r,
            derived: r == crate::divergence::bucket_width_for(js_threshold, rows),
            match_bands: crate::divergence::band_threshold(js_threshold, r, rows, bands),
        }))
    }

    fn inspect_unguarded(&self) -> Result<InspectReport> {
        let started = std::time::Instant::now();
        let txn = self.begin_read()?;
        let format = self.meta_bytes(&txn, KEY_FORMAT, 4)?;
        let format_version = u32::from_le_bytes(self.meta_array(KEY_FORMAT, &format)?);
        let padding = u64::from_le_bytes(
            self.meta_array(KEY_PADDING, &self.meta_bytes(&txn, KEY_PADDING, 8)?)?,
        );
        let next = self.meta_bytes(&txn, KEY_NEXT_MODEL, 4)?;
        let next_model = u32::from_le_bytes(self.meta_array(KEY_NEXT_MODEL, &next)?);
        let space = match self.read_meta(&txn, KEY_SPACE)? {
            Some(bytes) => {
                let space = SampleSpace::decode(&bytes).map_err(|e| self.corrupt(e))?;
                Some(summarize(&space))
            }
            None => None,
        };
        let projection = match self.read_meta(&txn, KEY_PROJECTION)? {
            Some(bytes) => Some(decode_location(&bytes).map_err(|e| self.corrupt(e))?),
            None => None,
        };
        let params = self.params();
        let calibration = self.calibration_in(&txn)?;
        let models = txn
            .open_table(MODELS)
            .map_err(|e| self.db_err(e.into()))?
            .len()
            .map_err(|e| self.db_err(e.into()))?;
        let segments = self.segment_infos(&txn)?;
        let bands = self.occupancy(&txn)?;
        drop(txn);
        tracing::debug!(
            models,
            segments = segments.len(),
            buckets = bands.buckets,
            entries = bands.entries,
            padding,
            millis = started.elapsed().as_millis() as u64,
            "inspected"
        );
        Ok(InspectReport {
            dir: self.dir.clone(),
            format_version,
            params,
            space,
            padding,
            calibration,
            models,
            next_model,
            segments,
            projection,
            bands,
        })
    }

    /// Describes one model: its catalogue record, its stored sketch and its band keys.
    /// `Ok(None)` when no such model is registered.
    pub fn inspect_model(&self, which: &ModelRef) -> Result<Option<ModelSketch>> {
        let span = tracing::debug_span!("inspect_model", model = ?which);
        let _enter = span.enter();
        guard::contain(&self.catalog_path, || self.inspect_model_unguarded(which))
    }

    fn inspect_model_unguarded(&self, which: &ModelRef) -> Result<Option<ModelSketch>> {
        let txn = self.begin_read()?;
        let id = match which {
            ModelRef::Id(id) => *id,
            ModelRef::Label { name, version } => {
                let names = txn.open_table(NAMES).map_err(|e| self.db_err(e.into()))?;
                let found = names
                    .get((name.as_str(), version.as_str()))
                    .map_err(|e| self.db_err(e.into()))?;
                match found {
                    Some(id) => id.value(),
                    None => return Ok(None),
                }
            }
        };
        let model = {
            let table = txn.open_table(MODELS).map_err(|e| self.db_err(e.into()))?;
            let found = table.get(id).map_err(|e| self.db_err(e.into()))?;
            match found {
                Some(bytes) => ModelVersion::decode(bytes.value()).map_err(|e| self.corrupt(e))?,
                None => return Ok(None),
            }
        };
        let signature = {
            let table = txn.open_table(MINHASH).map_err(|e| self.db_err(e.into()))?;
            let found = table.get(id).map_err(|e| self.db_err(e.into()))?;
            let bytes =
                found.ok_or_else(|| self.corrupt_msg(format!("no signature for model {id}")))?;
            decode_words(bytes.value()).map_err(|e| self.corrupt(e))?
        };
        let padding = u64::from_le_bytes(
            self.meta_array(KEY_PADDING, &self.meta_bytes(&txn, KEY_PADDING, 8)?)?,
        );
        let loc = model.location;
        let in_range = loc.offset.checked_add(loc.len as u64).is_some()
            && (loc.len as usize) <= MAX_RECORD_LEN
            && usize::try_from(loc.offset).is_ok();
        if !in_range {
            return Err(StoreError::Corrupt {
                path: segment::segment_path(&self.dir, loc.segment),
                reason: format!(
                    "model {id}'s record location (offset {}, {} bytes) is out of range",
                    loc.offset, loc.len
                ),
            }
            .into());
        }
        let bytes = self.segments.read(&loc)?;
        let record = bytes.record()?;
        let bands = record.bands.to_native();
        if bands == 0 {
            return Err(StoreError::Corrupt {
                path: segment::segment_path(&self.dir, loc.segment),
                reason: format!("the sketch record of model {id} has 0 bands"),
            }
            .into());
        }
        let hashes: Vec<u64> = record.band_hashes.iter().map(|h| h.to_native()).collect();
        let band_hashes: Vec<Vec<u64>> = hashes
            .chunks(bands as usize)
            .map(|p| p.iter().take(QUOTED_VALUES).copied().collect())
            .collect();
        let mh = &self.minhasher;
        let keys = mh.band_keys(&mh.padded(
            &signature,
            model.flat_len as u64,
            padding,
            model.fingerprint,
        ));
        let table = txn
            .open_multimap_table(BANDS)
            .map_err(|e| self.db_err(e.into()))?;
        let mut band_keys = Vec::with_capacity(keys.len());
        for (band, key) in keys.into_iter().enumerate() {
            let band = u16::try_from(band).map_err(|_| {
                self.corrupt_msg(format!("model {id}'s signature has more than 65536 bands"))
            })?;
            let size = table
                .get((band, key))
                .map_err(|e| self.db_err(e.into()))?
                .len();
            band_keys.push(BandBucket { band, key, size });
        }
        let sketch = ModelSketch {
            record_model: record.model.to_native(),
            rows: record.rows.to_native(),
            bands,
            partitions: hashes.len() / bands as usize,
            flat_len: record.flat.len(),
            band_hashes,
            minhash_size: signature.len(),
            minhash: signature.iter().take(QUOTED_VALUES).copied().collect(),
            padding,
            band_keys,
            model,
        };
        tracing::debug!(
            id,
            partitions = sketch.partitions,
            flat = sketch.flat_len,
            "inspected model"
        );
        Ok(Some(sketch))
    }

    /// A meta value that must be present (`len` bytes long).
    fn meta_bytes(&self, txn: &ReadTransaction, key: &str, len: usize) -> Result<Vec<u8>> {
        let bytes = self.read_meta(txn, key)?;
        bytes.ok_or_else(|| self.corrupt_msg(format!("meta has no {key} ({len} bytes)")))
    }

    fn segment_infos(&self, txn: &ReadTransaction) -> Result<Vec<SegmentInfo>> {
        let table = txn
            .open_table(SEGMENTS)
            .map_err(|e| self.db_err(e.into()))?;
        let listed = self.listed_segments(&table)?;
        let info = |(id, committed)| {
            let path = segment::segment_path(&self.dir, id);
            let file_len = std::fs::metadata(&path).ok().map(|m| m.len());
            SegmentInfo {
                id,
                path,
                committed,
                file_len,
            }
        };
        Ok(listed.into_iter().map(info).collect())
    }

    fn occupancy(&self, txn: &ReadTransaction) -> Result<BandOccupancy> {
        let table = txn
            .open_multimap_table(BANDS)
            .map_err(|e| self.db_err(e.into()))?;
        let mut histogram: Vec<BucketClass> = BUCKET_SIZE_CLASSES
            .iter()
            .map(|label| BucketClass {
                label,
                buckets: 0,
                entries: 0,
            })
            .collect();
        // Min-heap of the best buckets so far: larger size first, then smaller (band, key).
        let mut top: BinaryHeap<Reverse<Ranked>> = BinaryHeap::new();
        let (mut buckets, mut entries) = (0u64, 0u64);
        for entry in table.iter().map_err(|e| self.db_err(e.into()))? {
            let (k, values) = entry.map_err(|e| self.db_err(e.into()))?;
            let size = values.len();
            if size == 0 {
                continue;
            }
            buckets += 1;
            entries += size;
            if let Some(class) = histogram.get_mut(size_class(size)) {
                class.buckets += 1;
                class.entries += size;
            }
            top.push(Reverse((size, Reverse(k.value()))));
            if top.len() > LARGEST_BUCKETS {
                top.pop();
            }
        }
        let mut largest: Vec<BandBucket> = top
            .into_iter()
            .map(|Reverse((size, Reverse((band, key))))| BandBucket { band, key, size })
            .collect();
        largest.sort_by(|a, b| {
            b.size
                .cmp(&a.size)
                .then((a.band, a.key).cmp(&(b.band, b.key)))
        });
        Ok(BandOccupancy {
            tables: self.params().minhash_bands(),
            buckets,
            entries,
            histogram,
            largest,
        })
    }
}

fn summarize(space: &SampleSpace) -> SpaceSummary {
    let columns: Vec<(String, usize)> = space
        .columns()
        .iter()
        .map(|c| (c.name.clone(), c.bins()))
        .collect();
    let mut bins: Vec<usize> = columns.iter().map(|(_, b)| *b).collect();
    bins.sort_unstable();
    let pick = |i: usize| bins.get(i).copied().unwrap_or(0);
    SpaceSummary {
        dim: space.dim(),
        bins_min: pick(0),
        bins_median: pick(bins.len().saturating_sub(1) / 2),
        bins_max: pick(bins.len().saturating_sub(1)),
        columns,
    }
}
