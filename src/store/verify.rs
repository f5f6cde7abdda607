//! `verify`: a full consistency check of an index — every catalogue table (FORMAT.md §3),
//! every segment file and record (§4), every checksum and cross-reference (FORMAT.md §6).
//! Opens nothing for writing; collects every problem instead of stopping at the first, and
//! never panics on bytes read from disk.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use redb::{
    MultimapTableDefinition, MultimapTableHandle, ReadTransaction, ReadableMultimapTable,
    ReadableTable, TableDefinition, TableHandle,
};

use super::catalog::*;
use super::segment::{
    self, ArchivedProjectionRecord, RecordLocation, SegmentReader, RECORD_ALIGN,
    SEGMENT_HEADER_LEN, SEGMENT_MAGIC, SEGMENT_VERSION,
};
use super::{guard, Index, StoreError, FORMAT_VERSION};
use crate::error::{Error, Result};
use crate::params::Params;
use crate::space::SampleSpace;

/// One band-table entry: (MinHash band, band key, model id).
type BandEntry = (u16, u64, u32);

/// How many entries of a long list (missing band entries, …) a problem quotes.
const QUOTED: usize = 5;

/// One inconsistency found by [`Index::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file it was found in: the catalogue or a segment file.
    pub file: PathBuf,
    /// What is wrong, precisely (table, key, offset, expected and found values).
    pub what: String,
}

/// The outcome of [`Index::verify`].
#[derive(Debug, Clone, Default)]
pub struct VerifyReport {
    /// Model versions checked (entries of the `models` table).
    pub models: usize,
    /// Segment records checked (sketches and the projection).
    pub records: usize,
    /// Band-table entries checked.
    pub band_entries: usize,
    /// Segments listed in the `segments` table.
    pub segments: usize,
    /// Everything found wrong; empty when the index is consistent.
    pub problems: Vec<Problem>,
    /// Observations that are not inconsistencies, such as uncommitted bytes past the end of
    /// a segment (the next writer discards them).
    pub notes: Vec<String>,
}

impl VerifyReport {
    /// Whether no problem was found.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// A record the catalogue points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Owner {
    Projection,
    Model(u32),
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Owner::Projection => write!(f, "the projection record"),
            Owner::Model(id) => write!(f, "the sketch record of model {id}"),
        }
    }
}

/// What the meta table says, as far as it decodes.
#[derive(Default)]
struct Meta {
    padding: Option<u64>,
    next_model: Option<u32>,
    space: Option<SampleSpace>,
    space_present: bool,
    projection: Option<RecordLocation>,
}

/// What one sketch-record check found.
struct SketchCheck {
    problems: Vec<Problem>,
    /// The MinHash signature recomputed from the stored flattened set, when it was readable.
    signature: Option<Vec<u64>>,
}

/// The state of one verification run.
struct Checker<'a> {
    index: &'a Index,
    params: &'a Params,
    reader: SegmentReader,
    report: VerifyReport,
}

impl Checker<'_> {
    fn catalog(&mut self, what: String) {
        let file = self.index.catalog_path.clone();
        self.report.problems.push(Problem { file, what });
    }

    fn segment(&mut self, id: u32, what: String) {
        let file = segment::segment_path(&self.index.dir, id);
        self.report.problems.push(Problem { file, what });
    }

    fn note(&mut self, note: String) {
        self.report.notes.push(note);
    }

    /// Every entry of a table, converted by `f`; a missing table, an unreadable entry or a
    /// panic inside redb (a damaged page) is a problem and ends the scan (what was read so
    /// far is returned).
    fn scan<K, V, T>(
        &mut self,
        txn: &ReadTransaction,
        def: TableDefinition<K, V>,
        mut f: impl for<'x> FnMut(K::SelfType<'x>, V::SelfType<'x>) -> T,
    ) -> Vec<T>
    where
        K: redb::Key + 'static,
        V: redb::Value + 'static,
    {
        let name = def.name().to_string();
        let mut out = Vec::new();
        let trouble = self.contained(&name, || {
            let table = match txn.open_table(def) {
                Ok(t) => t,
                Err(e) => return Some(format!("table {name} cannot be opened: {e}")),
            };
            let iter = match table.iter() {
                Ok(it) => it,
                Err(e) => return Some(format!("table {name} cannot be read: {e}")),
            };
            for entry in iter {
                match entry {
                    Ok((k, v)) => out.push(f(k.value(), v.value())),
                    Err(e) => {
                        let at = out.len();
                        return Some(format!("table {name}: entry {at} cannot be read: {e}"));
                    }
                }
            }
            None
        });
        if let Some(what) = trouble {
            self.catalog(what);
        }
        out
    }

    /// Runs a catalogue read that returns a problem or nothing, turning a panic inside
    /// redb into a problem about `table` (see `guard`).
    fn contained(&self, table: &str, read: impl FnOnce() -> Option<String>) -> Option<String> {
        match guard::contain(&self.index.catalog_path, || Ok(read())) {
            Ok(trouble) => trouble,
            Err(e) => {
                let reason = match &e {
                    Error::Store(StoreError::Corrupt { reason, .. }) => reason.clone(),
                    other => other.to_string(),
                };
                Some(format!("table {table} cannot be read: {reason}"))
            }
        }
    }

    // ---- meta (FORMAT.md §3.1) ----

    fn check_meta(&mut self, txn: &ReadTransaction) -> Meta {
        let entries = self.scan(txn, META, |k, v| (k.to_string(), v.to_vec()));
        let meta: BTreeMap<String, Vec<u8>> = entries.into_iter().collect();
        let mut out = Meta::default();

        match meta.get(KEY_FORMAT) {
            None => self.catalog(format!("meta has no {KEY_FORMAT}")),
            Some(b) => match <[u8; 4]>::try_from(b.as_slice()) {
                Err(_) => self.catalog(format!(
                    "meta {KEY_FORMAT} has {} bytes, expected 4",
                    b.len()
                )),
                Ok(a) if u32::from_le_bytes(a) != FORMAT_VERSION => self.catalog(format!(
                    "meta {KEY_FORMAT} is {}, expected {FORMAT_VERSION}",
                    u32::from_le_bytes(a)
                )),
                Ok(_) => {}
            },
        }
        match meta.get(KEY_PARAMS).map(|b| Params::decode(b)) {
            None => self.catalog(format!("meta has no {KEY_PARAMS}")),
            Some(Err(e)) => self.catalog(format!("meta {KEY_PARAMS}: {e}")),
            Some(Ok(p)) if &p != self.params => self.catalog(format!(
                "meta {KEY_PARAMS} changed while the index was open: {p:?}, opened with {:?}",
                self.params
            )),
            Some(Ok(_)) => {}
        }
        match meta.get(KEY_PADDING) {
            None => self.catalog(format!("meta has no {KEY_PADDING}")),
            Some(b) => match <[u8; 8]>::try_from(b.as_slice()) {
                Ok(a) => out.padding = Some(u64::from_le_bytes(a)),
                Err(_) => self.catalog(format!(
                    "meta {KEY_PADDING} has {} bytes, expected 8",
                    b.len()
                )),
            },
        }
        match meta.get(KEY_NEXT_MODEL) {
            None => self.catalog(format!("meta has no {KEY_NEXT_MODEL}")),
            Some(b) => match <[u8; 4]>::try_from(b.as_slice()) {
                Ok(a) => out.next_model = Some(u32::from_le_bytes(a)),
                Err(_) => self.catalog(format!(
                    "meta {KEY_NEXT_MODEL} has {} bytes, expected 4",
                    b.len()
                )),
            },
        }
        if let Some(bytes) = meta.get(KEY_SPACE) {
            out.space_present = true;
            match SampleSpace::decode(bytes) {
                Ok(space) => out.space = Some(space),
                Err(e) => self.catalog(format!("meta {KEY_SPACE}: {e}")),
            }
            match meta.get(KEY_PROJECTION).map(|b| decode_location(b)) {
                None => self.catalog(format!(
                    "meta has {KEY_SPACE} but no {KEY_PROJECTION} location"
                )),
                Some(Err(e)) => self.catalog(format!("meta {KEY_PROJECTION}: {e}")),
                Some(Ok(loc)) => out.projection = Some(loc),
            }
            match meta
                .get(KEY_NOISE_FLOOR)
                .map(|b| <[u8; 8]>::try_from(b.as_slice()))
            {
                None => self.catalog(format!("meta has {KEY_SPACE} but no {KEY_NOISE_FLOOR}")),
                Some(Err(_)) => self.catalog(format!("meta {KEY_NOISE_FLOOR} is not 8 bytes")),
                Some(Ok(b)) => {
                    let floor = f64::from_le_bytes(b);
                    if !(floor.is_finite() && floor >= 0.0) {
                        self.catalog(format!("meta {KEY_NOISE_FLOOR} is {floor}"));
                    }
                }
            }
            if self.params.bucket_width == 0.0 {
                self.catalog(format!(
                    "meta has {KEY_SPACE} but the bucket width is uncalibrated"
                ));
            }
        } else if meta.contains_key(KEY_PROJECTION) {
            self.catalog(format!("meta has {KEY_PROJECTION} but no {KEY_SPACE}"));
        }
        let known = [
            KEY_NOISE_FLOOR,
            KEY_FORMAT,
            KEY_PARAMS,
            KEY_SPACE,
            KEY_PROJECTION,
            KEY_PADDING,
            KEY_NEXT_MODEL,
        ];
        for key in meta.keys().filter(|k| !known.contains(&k.as_str())) {
            self.note(format!("meta has a key this build does not know: {key:?}"));
        }
        out
    }

    // ---- segment files (FORMAT.md §3.6, §4.1) ----

    /// Checks each listed segment file; returns the segments whose records can be read.
    fn check_segments(&mut self, segs: &BTreeMap<u32, u64>) -> BTreeSet<u32> {
        let mut readable = BTreeSet::new();
        for (&id, &committed) in segs {
            if self.check_segment_file(id, committed) {
                readable.insert(id);
            }
        }
        self.check_unlisted_files(segs);
        readable
    }

    fn check_segment_file(&mut self, id: u32, committed: u64) -> bool {
        let path = segment::segment_path(&self.index.dir, id);
        if committed < SEGMENT_HEADER_LEN {
            self.catalog(format!(
                "segments[{id}]: committed length {committed} is shorter than the \
                 {SEGMENT_HEADER_LEN}-byte segment header"
            ));
        }
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) => {
                self.segment(id, format!("segment {id} cannot be opened: {e}"));
                return false;
            }
        };
        let len = match file.metadata() {
            Ok(m) => m.len(),
            Err(e) => {
                self.segment(id, format!("segment {id}: cannot read its length: {e}"));
                return false;
            }
        };
        let mut header = [0u8; SEGMENT_HEADER_LEN as usize];
        if len < SEGMENT_HEADER_LEN {
            self.segment(
                id,
                format!(
                    "file has {len} bytes, shorter than the {SEGMENT_HEADER_LEN}-byte header; \
                 the catalogue committed {committed}"
                ),
            );
            return false;
        }
        if let Err(e) = file.read_exact_at(&mut header, 0) {
            self.segment(id, format!("header cannot be read: {e}"));
            return false;
        }
        let mut ok = true;
        if header[..8] != SEGMENT_MAGIC {
            let found = String::from_utf8_lossy(&header[..8]).into_owned();
            self.segment(
                id,
                format!(
                    "header magic at offset 0 is {found:?}, expected {:?}",
                    String::from_utf8_lossy(&SEGMENT_MAGIC)
                ),
            );
            ok = false;
        }
        let version = u32::from_le_bytes([header[8], header[9], header[10], header[11]]);
        if version != SEGMENT_VERSION {
            self.segment(
                id,
                format!("header version at offset 8 is {version}, expected {SEGMENT_VERSION}"),
            );
            ok = false;
        }
        let named = u32::from_le_bytes([header[12], header[13], header[14], header[15]]);
        if named != id {
            self.segment(
                id,
                format!("header at offset 12 names segment {named}, expected {id}"),
            );
            ok = false;
        }
        if let Some(i) = header[16..].iter().position(|b| *b != 0) {
            self.segment(
                id,
                format!(
                    "reserved header byte at offset {} is {:#04x}, expected 0",
                    16 + i,
                    header[16 + i]
                ),
            );
        }
        if len < committed {
            self.segment(
                id,
                format!(
                    "file has {len} bytes, but the catalogue committed {committed} \
                 ({} bytes missing)",
                    committed - len
                ),
            );
        } else if len > committed {
            self.note(format!(
                "{}: {} bytes past the committed length {committed} (an uncommitted \
                 registration's; the next writer discards them)",
                self.path_of(id).display(),
                len - committed
            ));
        }
        ok
    }

    fn path_of(&self, id: u32) -> PathBuf {
        segment::segment_path(&self.index.dir, id)
    }

    /// Files under `segments/` the table does not list.
    fn check_unlisted_files(&mut self, segs: &BTreeMap<u32, u64>) {
        let dir = segment::segments_dir(&self.index.dir);
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if !segs.is_empty() {
                    let what = format!("{} does not exist", dir.display());
                    self.catalog(what);
                }
                return;
            }
            Err(e) => {
                let file = dir.clone();
                let what = format!("cannot list the segment directory: {e}");
                self.report.problems.push(Problem { file, what });
                return;
            }
        };
        // The segment after the last listed one may exist before its first commit: a writer
        // creates it first, and the next writer removes it if that commit never happened
        // (FORMAT.md §5).
        let next = segs
            .keys()
            .next_back()
            .map_or(1, |last| last.saturating_add(1));
        let mut names: Vec<(PathBuf, String)> = entries
            .filter_map(|e| e.ok())
            .map(|e| (e.path(), e.file_name().to_string_lossy().into_owned()))
            .collect();
        names.sort();
        for (path, name) in names {
            let id = name
                .strip_suffix(".seg")
                .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|s| s.parse::<u32>().ok());
            match id {
                Some(id) if segs.contains_key(&id) && self.path_of(id) == path => {}
                Some(id) if id == next && self.path_of(id) == path => self.note(format!(
                    "{}: segment {id} is not committed yet (a registration in progress or \
                     one that failed; the next writer removes it)",
                    path.display()
                )),
                Some(_) => {
                    let what = "segment file not listed in the catalogue's segments table";
                    self.report.problems.push(Problem {
                        file: path,
                        what: what.into(),
                    });
                }
                None => self.note(format!("{}: not a segment file", path.display())),
            }
        }
    }

    // ---- record locations (FORMAT.md §4.1) ----

    /// Checks a catalogued location; returns its end when it lies inside the committed
    /// records of its segment, so that its bytes can be read (misaligned or not).
    fn check_location(
        &mut self,
        owner: Owner,
        loc: &RecordLocation,
        segs: &BTreeMap<u32, u64>,
    ) -> Option<u64> {
        let Some(&committed) = segs.get(&loc.segment) else {
            self.catalog(format!(
                "{owner} lies in segment {}, which the segments table does not list",
                loc.segment
            ));
            return None;
        };
        let mut in_range = true;
        if loc.offset < SEGMENT_HEADER_LEN {
            self.catalog(format!(
                "{owner} starts at offset {}, inside the {SEGMENT_HEADER_LEN}-byte header of \
                 segment {}",
                loc.offset, loc.segment
            ));
            in_range = false;
        }
        if loc.offset % RECORD_ALIGN != 0 {
            self.catalog(format!(
                "{owner} starts at offset {} of segment {}, not a multiple of {RECORD_ALIGN}",
                loc.offset, loc.segment
            ));
        }
        if loc.len == 0 {
            self.catalog(format!("{owner} has length 0"));
        }
        let end = loc.offset.checked_add(loc.len as u64);
        match end {
            Some(end) if end <= committed => {}
            _ => {
                self.catalog(format!(
                    "{owner} at offset {} ({} bytes) ends past the committed length \
                     {committed} of segment {}",
                    loc.offset, loc.len, loc.segment
                ));
                in_range = false;
            }
        }
        end.filter(|_| in_range)
    }

    /// Records that overlap one another (the projection included), and the bytes between
    /// records, which are alignment padding and must be zero (FORMAT.md §4.1).
    fn check_layout(&mut self, mut spans: Vec<(u32, u64, u64, Owner)>, readable: &BTreeSet<u32>) {
        spans.sort();
        let mut last: Option<(u32, u64, u64, Owner)> = None;
        let mut gaps = Vec::new();
        for span in spans {
            let prev_end = match last {
                Some(prev) if prev.0 == span.0 => {
                    if span.1 < prev.2 {
                        self.catalog(format!(
                            "{} [{}, {}) overlaps {} [{}, {}) in segment {}",
                            span.3, span.1, span.2, prev.3, prev.1, prev.2, span.0
                        ));
                    }
                    if prev.2 >= span.2 {
                        continue;
                    }
                    prev.2
                }
                _ => SEGMENT_HEADER_LEN,
            };
            if span.1 > prev_end {
                gaps.push((span.0, prev_end, span.1, span.3));
            }
            last = Some(span);
        }
        for (id, start, end, next) in gaps {
            if end - start >= RECORD_ALIGN {
                self.note(format!(
                    "{}: {} committed bytes [{start}, {end}) before {next} belong to no record",
                    self.path_of(id).display(),
                    end - start
                ));
                continue;
            }
            if !readable.contains(&id) {
                continue;
            }
            let mut buf = vec![0u8; (end - start) as usize];
            let read = File::open(self.path_of(id)).and_then(|f| f.read_exact_at(&mut buf, start));
            // A short file is reported by the segment and record checks.
            if read.is_ok() {
                if let Some(i) = buf.iter().position(|b| *b != 0) {
                    self.segment(
                        id,
                        format!(
                            "alignment padding byte at offset {} before {next} is {:#04x}, \
                         expected 0",
                            start + i as u64,
                            buf[i]
                        ),
                    );
                }
            }
        }
    }

    // ---- the projection record (FORMAT.md §4.3) ----

    fn check_projection(&mut self, loc: &RecordLocation, space: &SampleSpace) {
        let bytes = match self.reader.read(loc) {
            Ok(b) => b,
            Err(e) => return self.store_problem(Owner::Projection, e),
        };
        let record: &ArchivedProjectionRecord = match bytes.archived() {
            Ok(r) => r,
            Err(e) => return self.store_problem(Owner::Projection, e),
        };
        let (dim, hashes) = (space.dim(), self.params.hashes());
        let (found_dim, found_hashes) = (record.dim.to_native(), record.hashes.to_native());
        if found_dim as usize != dim || found_hashes as usize != hashes {
            return self.segment(
                loc.segment,
                format!(
                    "projection record at offset {} is {found_dim}×{found_hashes}, expected \
                 {dim}×{hashes} (D × K)",
                    loc.offset
                ),
            );
        }
        if record.values.len() != dim * hashes {
            return self.segment(
                loc.segment,
                format!(
                    "projection record at offset {} holds {} values, expected {}",
                    loc.offset,
                    record.values.len(),
                    dim * hashes
                ),
            );
        }
        let expected = crate::sketch::generate_projection(self.params, space);
        let mut differ = record
            .values
            .iter()
            .zip(&expected)
            .enumerate()
            .filter(|(_, (s, e))| s.to_native().to_bits() != e.to_bits());
        if let Some((first, (stored, regen))) = differ.next() {
            let count = 1 + differ.count();
            self.segment(
                loc.segment,
                format!(
                    "projection record at offset {}: {count} of {} values differ from the \
                 regeneration from the seed; first a[{}][{}] = {:#010x}, regenerated {:#010x}",
                    loc.offset,
                    expected.len(),
                    first / hashes.max(1),
                    first % hashes.max(1),
                    stored.to_native().to_bits(),
                    regen.to_bits()
                ),
            );
        }
    }

    /// A store error met while reading a record, as a problem of the file it names.
    fn store_problem(&mut self, owner: Owner, e: StoreError) {
        let (file, reason) = store_error_parts(&e, &self.index.catalog_path);
        self.report.problems.push(Problem {
            file,
            what: format!("{owner}: {reason}"),
        });
    }
}

fn store_error_parts(e: &StoreError, fallback: &Path) -> (PathBuf, String) {
    match e {
        StoreError::Corrupt { path, reason } => (path.clone(), reason.clone()),
        StoreError::Io {
            path,
            error: source,
        } => (path.clone(), source.to_string()),
        other => (fallback.to_path_buf(), other.to_string()),
    }
}

/// Checks one model's sketch record against its catalogue entry (FORMAT.md §4.2).
fn check_sketch(
    index: &Index,
    reader: &SegmentReader,
    params: &Params,
    dim: usize,
    key: u32,
    m: &ModelVersion,
) -> SketchCheck {
    let owner = Owner::Model(key);
    let mut problems = Vec::new();
    let path = segment::segment_path(&index.dir, m.location.segment);
    let at = m.location.offset;
    let mut fail = |what: String| {
        problems.push(Problem {
            file: path.clone(),
            what: format!("{owner} at offset {at}: {what}"),
        })
    };
    let bytes = match reader.read(&m.location) {
        Ok(b) => b,
        Err(e) => {
            let (file, reason) = store_error_parts(&e, &index.catalog_path);
            let what = format!("{owner}: {reason}");
            return SketchCheck {
                problems: vec![Problem { file, what }],
                signature: None,
            };
        }
    };
    let record = match bytes.record() {
        Ok(r) => r,
        Err(e) => {
            let (file, reason) = store_error_parts(&e, &index.catalog_path);
            let what = format!("{owner}: {reason}");
            return SketchCheck {
                problems: vec![Problem { file, what }],
                signature: None,
            };
        }
    };
    if record.model.to_native() != key {
        fail(format!("names model {}, expected {key}", record.model));
    }
    let bands = record.bands.to_native();
    if bands != params.bands as u32 {
        fail(format!(
            "has {bands} bands per partition, the index {}",
            params.bands
        ));
    }
    if record.rows.to_native() != m.rows {
        fail(format!(
            "has {} rows, the catalogue {}",
            record.rows, m.rows
        ));
    }
    let sizes: Vec<u32> = record.sizes.iter().map(|n| n.to_native()).collect();
    let sized_rows: u64 = sizes.iter().map(|&n| n as u64).sum();
    if sizes.len() as u64 != m.partitions as u64 || sized_rows != m.rows {
        fail(format!(
            "has {} partition sizes summing to {sized_rows} rows; the catalogue gives {} \
             partitions and {} rows",
            sizes.len(),
            m.partitions,
            m.rows
        ));
    }
    let hashes: Vec<u64> = record.band_hashes.iter().map(|h| h.to_native()).collect();
    let want = m.partitions as u64 * params.bands as u64;
    if hashes.len() as u64 != want {
        fail(format!(
            "has {} band hashes, expected {want} ({} partitions × {} bands)",
            hashes.len(),
            m.partitions,
            params.bands
        ));
    }
    let want_counts = if params.keep_distributions {
        m.partitions as u64 * dim as u64
    } else {
        0
    };
    if record.counts.len() as u64 != want_counts {
        fail(format!(
            "has {} bin counts, expected {want_counts} (distributions kept: {})",
            record.counts.len(),
            params.keep_distributions
        ));
    } else if params.keep_distributions && dim > 0 {
        let d = index
            .space()
            .ok()
            .flatten()
            .map_or(0, |s| s.columns().len()) as u64;
        for (p, chunk) in record.counts.chunks(dim).enumerate() {
            let total: u64 = chunk.iter().map(|c| c.to_native() as u64).sum();
            let want = sizes.get(p).map_or(0, |&n| n as u64) * d;
            if total != want {
                fail(format!(
                    "partition {p}'s bin counts sum to {total}, expected {want}"
                ));
                break;
            }
        }
    }
    let flat: Vec<u64> = record.flat.iter().map(|h| h.to_native()).collect();
    if let Some(i) = flat.windows(2).position(|w| w[0] >= w[1]) {
        fail(format!(
            "flattened set is not strictly ascending at position {}: {:#018x} then {:#018x}",
            i + 1,
            flat[i],
            flat[i + 1]
        ));
    }
    let mut distinct = hashes.clone();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct != flat {
        let extra = flat
            .iter()
            .filter(|h| distinct.binary_search(h).is_err())
            .count();
        let missing = distinct
            .iter()
            .filter(|h| flat.binary_search(h).is_err())
            .count();
        fail(format!(
            "flattened set ({} values) is not the set of distinct band hashes ({} values): \
             {missing} missing, {extra} not among the band hashes",
            flat.len(),
            distinct.len()
        ));
    }
    if flat.len() as u64 != m.flat_len as u64 {
        fail(format!(
            "flattened set has {} values, the catalogue says {}",
            flat.len(),
            m.flat_len
        ));
    }
    let bytes: Vec<u8> = hashes.iter().flat_map(|h| h.to_le_bytes()).collect();
    let fingerprint = xxhash_rust::xxh3::xxh3_64(&bytes);
    if fingerprint != m.fingerprint {
        fail(format!(
            "band hashes have fingerprint {fingerprint:#018x}, the catalogue says {:#018x}",
            m.fingerprint
        ));
    }
    SketchCheck {
        problems,
        signature: Some(index.minhasher.signature(&flat)),
    }
}

/// "1 entry", "2 entries".
fn n_entries(n: usize) -> String {
    if n == 1 {
        "1 entry".into()
    } else {
        format!("{n} entries")
    }
}

/// Formats a few band-table entries.
fn quote(entries: &[BandEntry]) -> String {
    let shown: Vec<String> = entries
        .iter()
        .take(QUOTED)
        .map(|(b, k, id)| format!("band {b} key {k:#018x} → model {id}"))
        .collect();
    let more = entries.len().saturating_sub(QUOTED);
    if more > 0 {
        format!("{}, and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

impl Index {
    /// Checks every table, segment record, checksum and cross-reference of the index
    /// (FORMAT.md §6) without writing anything.
    ///
    /// Problems in the data are reported in the [`VerifyReport`]; an `Err` means the check
    /// itself could not run (the catalogue cannot be read at all). Everything is read from
    /// one catalogue snapshot, so a writer in another process may run meanwhile.
    pub fn verify(&self) -> Result<VerifyReport> {
        let span = tracing::debug_span!("verify", dir = %self.dir.display());
        let _enter = span.enter();
        guard::contain(&self.catalog_path, || self.verify_unguarded())
    }

    fn verify_unguarded(&self) -> Result<VerifyReport> {
        let started = std::time::Instant::now();
        let txn = self.begin_read()?;
        let params = self.params();
        let mut c = Checker {
            index: self,
            params: &params,
            // A reader of its own: maps made now, against the files as they are now.
            reader: SegmentReader::new(&self.dir),
            report: VerifyReport::default(),
        };
        let meta = c.check_meta(&txn);
        let segs: BTreeMap<u32, u64> = c.scan(&txn, SEGMENTS, |k, v| (k, v)).into_iter().collect();
        c.report.segments = segs.len();
        let readable = c.check_segments(&segs);
        let models = c.check_models(&txn, &meta);
        let to_read = c.check_locations(&meta, &models, &segs, &readable);
        let dim = meta.space.as_ref().map_or(0, SampleSpace::dim);
        let recomputed = c.check_sketches(&models, &to_read, dim);
        c.check_names(&txn, &models);
        c.check_fingerprints(&txn, &models);
        let stored = c.check_minhash(&txn, &models, &recomputed);
        c.check_bands(&txn, &meta, &models, &stored);
        drop(txn);

        let report = c.report;
        tracing::debug!(
            models = report.models,
            records = report.records,
            band_entries = report.band_entries,
            segments = report.segments,
            problems = report.problems.len(),
            notes = report.notes.len(),
            millis = started.elapsed().as_millis() as u64,
            "verified"
        );
        Ok(report)
    }
}

impl Checker<'_> {
    /// Decodes every `models` value (FORMAT.md §3.2); returns the decoded ones by key.
    fn check_models(&mut self, txn: &ReadTransaction, meta: &Meta) -> BTreeMap<u32, ModelVersion> {
        let rows = self.scan(txn, MODELS, |k, v| (k, ModelVersion::decode(v)));
        self.report.models = rows.len();
        let mut models = BTreeMap::new();
        for (key, decoded) in rows {
            let m = match decoded {
                Ok(m) => m,
                Err(e) => {
                    self.catalog(format!("models[{key}]: {e}"));
                    continue;
                }
            };
            if m.id != key {
                self.catalog(format!(
                    "models[{key}] holds the record of model id {}",
                    m.id
                ));
            }
            if let Some(next) = meta.next_model {
                if key >= next {
                    self.catalog(format!("models[{key}]: id is not below next_model {next}"));
                }
            }
            if let Some(bound) = meta.padding {
                if m.flat_len as u64 > bound {
                    self.catalog(format!(
                        "models[{key}]: flattened size {} exceeds the padding bound M = {bound}",
                        m.flat_len
                    ));
                }
            }
            models.insert(key, m);
        }
        if !meta.space_present && !models.is_empty() {
            self.catalog(format!(
                "meta has no {KEY_SPACE}, yet {} models are registered",
                models.len()
            ));
        }
        models
    }

    /// Checks every record location, the layout of the segments and the projection record;
    /// returns the models whose sketch record can be read.
    fn check_locations(
        &mut self,
        meta: &Meta,
        models: &BTreeMap<u32, ModelVersion>,
        segs: &BTreeMap<u32, u64>,
        readable: &BTreeSet<u32>,
    ) -> Vec<u32> {
        let mut spans = Vec::new();
        let mut to_read = Vec::new();
        if let Some(loc) = meta.projection {
            self.report.records += 1;
            if let Some(end) = self.check_location(Owner::Projection, &loc, segs) {
                spans.push((loc.segment, loc.offset, end, Owner::Projection));
                if let (Some(space), true) = (&meta.space, readable.contains(&loc.segment)) {
                    self.check_projection(&loc, space);
                }
            }
        }
        let mut unread: BTreeMap<u32, usize> = BTreeMap::new();
        for (&key, m) in models {
            self.report.records += 1;
            let loc = &m.location;
            if let Some(end) = self.check_location(Owner::Model(key), loc, segs) {
                spans.push((loc.segment, loc.offset, end, Owner::Model(key)));
                if readable.contains(&loc.segment) {
                    to_read.push(key);
                } else {
                    *unread.entry(loc.segment).or_default() += 1;
                }
            }
        }
        for (id, n) in unread {
            self.note(format!(
                "{}: {n} sketch records not checked: the segment cannot be read",
                self.path_of(id).display()
            ));
        }
        for (&id, &committed) in segs {
            let end = spans
                .iter()
                .filter(|s| s.0 == id)
                .map(|s| s.2)
                .max()
                .unwrap_or(SEGMENT_HEADER_LEN);
            if committed > end {
                self.note(format!(
                    "{}: {} committed bytes after the last record (offset {end} to {committed})",
                    self.path_of(id).display(),
                    committed - end
                ));
            }
        }
        self.check_layout(spans, readable);
        to_read
    }

    /// Checks the sketch records of `keys` in parallel (FORMAT.md §4.2); returns the MinHash
    /// signatures recomputed from their flattened sets.
    fn check_sketches(
        &mut self,
        models: &BTreeMap<u32, ModelVersion>,
        keys: &[u32],
        dim: usize,
    ) -> HashMap<u32, Vec<u64>> {
        let this = &*self;
        let checks: Vec<(u32, SketchCheck)> = keys
            .par_iter()
            .filter_map(|key| {
                let m = models.get(key)?;
                let check = check_sketch(this.index, &this.reader, this.params, dim, *key, m);
                Some((*key, check))
            })
            .collect();
        let mut recomputed = HashMap::new();
        for (key, check) in checks {
            self.report.problems.extend(check.problems);
            if let Some(sig) = check.signature {
                recomputed.insert(key, sig);
            }
        }
        recomputed
    }

    /// `names` and `models` correspond one to one (FORMAT.md §3.3).
    fn check_names(&mut self, txn: &ReadTransaction, models: &BTreeMap<u32, ModelVersion>) {
        let names = self.scan(txn, NAMES, |(n, v), id| (n.to_string(), v.to_string(), id));
        let mut count: HashMap<u32, usize> = HashMap::new();
        for (name, version, id) in names {
            match models.get(&id) {
                None => self.catalog(format!(
                    "names[{name}@{version}] → model {id}, which does not exist"
                )),
                Some(m) if m.name != name || m.version != version => self.catalog(format!(
                    "names[{name}@{version}] → model {id}, which is {}@{}",
                    m.name, m.version
                )),
                Some(_) => *count.entry(id).or_default() += 1,
            }
        }
        for (&key, m) in models {
            match count.get(&key).copied().unwrap_or(0) {
                1 => {}
                0 => self.catalog(format!(
                    "model {key} ({}@{}) has no names entry",
                    m.name, m.version
                )),
                n => self.catalog(format!(
                    "model {key} ({}@{}) has {n} names entries",
                    m.name, m.version
                )),
            }
        }
    }

    /// Every model has a signature of K_m words equal to the one recomputed from its
    /// flattened set (FORMAT.md §3.4); returns the usable stored signatures.
    fn check_minhash(
        &mut self,
        txn: &ReadTransaction,
        models: &BTreeMap<u32, ModelVersion>,
        recomputed: &HashMap<u32, Vec<u64>>,
    ) -> HashMap<u32, Vec<u64>> {
        let k_m = self.params.minhash_size as usize;
        let sigs = self.scan(txn, MINHASH, |id, v| (id, decode_words(v)));
        let present: BTreeSet<u32> = sigs.iter().map(|(id, _)| *id).collect();
        let mut stored = HashMap::new();
        for (id, decoded) in sigs {
            if !models.contains_key(&id) {
                self.catalog(format!(
                    "minhash[{id}]: signature of a model that does not exist"
                ));
                continue;
            }
            let sig = match decoded {
                Ok(s) => s,
                Err(e) => {
                    self.catalog(format!("minhash[{id}]: {e}"));
                    continue;
                }
            };
            if sig.len() != k_m {
                self.catalog(format!(
                    "minhash[{id}]: signature has {} values, expected minhash_size {k_m}",
                    sig.len()
                ));
                continue;
            }
            if let Some(want) = recomputed.get(&id) {
                let mut differ = sig
                    .iter()
                    .zip(want)
                    .enumerate()
                    .filter(|(_, (a, b))| a != b);
                if let Some((i, (s, r))) = differ.next() {
                    let n = 1 + differ.count();
                    self.catalog(format!(
                        "minhash[{id}]: {n} of {k_m} values differ from the signature of the \
                         stored flattened set; first at {i}: stored {s:#018x}, recomputed \
                         {r:#018x}"
                    ));
                }
            }
            stored.insert(id, sig);
        }
        for key in models.keys().filter(|k| !present.contains(k)) {
            self.catalog(format!("model {key} has no minhash signature"));
        }
        stored
    }

    /// `bands` holds exactly the entries recomputed from the stored signatures and M
    /// (FORMAT.md §3.5).
    fn check_bands(
        &mut self,
        txn: &ReadTransaction,
        meta: &Meta,
        models: &BTreeMap<u32, ModelVersion>,
        stored: &HashMap<u32, Vec<u64>>,
    ) {
        let mh = &self.index.minhasher;
        let mut expected: Vec<BandEntry> = match meta.padding {
            Some(bound) => models
                .par_iter()
                .filter_map(|(key, m)| Some((key, m, stored.get(key)?)))
                .flat_map_iter(|(key, m, sig)| {
                    let keys =
                        mh.band_keys(&mh.padded(sig, m.flat_len as u64, bound, m.fingerprint));
                    keys.into_iter()
                        .enumerate()
                        .map(move |(band, k)| (band as u16, k, *key))
                })
                .collect(),
            None => Vec::new(),
        };
        // Models whose expected entries cannot be computed; their entries are not judged.
        let unknown: BTreeSet<u32> = models
            .keys()
            .copied()
            .filter(|k| meta.padding.is_none() || !stored.contains_key(k))
            .collect();
        let mut found = self.scan_bands(txn);
        self.report.band_entries = found.len();
        expected.sort_unstable();
        found.sort_unstable();
        let (missing, unexpected) = diff(&expected, &found, &unknown);
        if !missing.is_empty() {
            self.catalog(format!(
                "bands: {} missing (recomputed from the stored signatures): {}",
                n_entries(missing.len()),
                quote(&missing)
            ));
        }
        if !unexpected.is_empty() {
            self.catalog(format!(
                "bands: {} not recomputed from any stored signature: {}",
                n_entries(unexpected.len()),
                quote(&unexpected)
            ));
        }
        if !unknown.is_empty() {
            let ids: Vec<String> = unknown.iter().take(QUOTED).map(u32::to_string).collect();
            self.note(format!(
                "band entries of {} models not checked (no usable signature or padding \
                 bound): {}",
                unknown.len(),
                ids.join(", ")
            ));
        }
    }
}

impl Checker<'_> {
    /// Every (key, value) entry of a multimap table, converted by `f`; like [`Self::scan`],
    /// trouble reading it is a problem and ends the scan.
    fn scan_multimap<K, V, T>(
        &mut self,
        txn: &ReadTransaction,
        def: MultimapTableDefinition<K, V>,
        mut f: impl for<'x> FnMut(K::SelfType<'x>, V::SelfType<'x>) -> T,
    ) -> Vec<T>
    where
        K: redb::Key + 'static,
        V: redb::Key + 'static,
    {
        let name = def.name().to_string();
        let mut out = Vec::new();
        let trouble = self.contained(&name, || {
            let table = match txn.open_multimap_table(def) {
                Ok(t) => t,
                Err(e) => return Some(format!("table {name} cannot be opened: {e}")),
            };
            let iter = match table.iter() {
                Ok(it) => it,
                Err(e) => return Some(format!("table {name} cannot be read: {e}")),
            };
            for entry in iter {
                let (k, values) = match entry {
                    Ok(e) => e,
                    Err(e) => return Some(format!("table {name}: entry cannot be read: {e}")),
                };
                for v in values {
                    match v {
                        Ok(v) => out.push(f(k.value(), v.value())),
                        Err(e) => {
                            let at = out.len();
                            return Some(format!("table {name}: value {at} cannot be read: {e}"));
                        }
                    }
                }
            }
            None
        });
        if let Some(what) = trouble {
            self.catalog(what);
        }
        out
    }

    /// Every (band, key, id) entry of the band table.
    fn scan_bands(&mut self, txn: &ReadTransaction) -> Vec<BandEntry> {
        let bands = self.params.minhash_bands();
        let out = self.scan_multimap(txn, BANDS, |(band, key), id| (band, key, id));
        let out_of_range = out.iter().filter(|e| e.0 as usize >= bands).count();
        if out_of_range > 0 {
            self.catalog(format!(
                "bands: {out_of_range} entries name a band ≥ {bands} (K_m / r_m band tables)"
            ));
        }
        out
    }

    /// `fingerprints` holds exactly one entry per model, under its fingerprint
    /// (FORMAT.md §3.6).
    fn check_fingerprints(&mut self, txn: &ReadTransaction, models: &BTreeMap<u32, ModelVersion>) {
        let entries = self.scan_multimap(txn, FINGERPRINTS, |fp, id| (fp, id));
        let mut count: HashMap<u32, usize> = HashMap::new();
        for (fp, id) in entries {
            let Some(m) = models.get(&id) else {
                self.catalog(format!(
                    "fingerprints[{fp:#018x}] → model {id}, which does not exist"
                ));
                continue;
            };
            if m.fingerprint != fp {
                self.catalog(format!(
                    "fingerprints[{fp:#018x}] → model {id} ({}@{}), whose fingerprint is \
                     {:#018x}",
                    m.name, m.version, m.fingerprint
                ));
            }
            *count.entry(id).or_default() += 1;
        }
        for (&key, m) in models {
            let n = count.get(&key).copied().unwrap_or(0);
            if n != 1 {
                self.catalog(format!(
                    "model {key} ({}@{}) has {n} fingerprints entries, expected 1",
                    m.name, m.version
                ));
            }
        }
    }
}

/// Entries of `expected` not in `found`, and of `found` not in `expected` (except those of
/// models in `unknown`, whose expected entries could not be computed). Both inputs sorted.
fn diff(
    expected: &[BandEntry],
    found: &[BandEntry],
    unknown: &BTreeSet<u32>,
) -> (Vec<BandEntry>, Vec<BandEntry>) {
    let (mut missing, mut unexpected) = (Vec::new(), Vec::new());
    let (mut i, mut j) = (0, 0);
    while i < expected.len() || j < found.len() {
        match (expected.get(i), found.get(j)) {
            (Some(e), Some(f)) if e == f => {
                i += 1;
                j += 1;
            }
            (Some(e), Some(f)) if e < f => {
                missing.push(*e);
                i += 1;
            }
            (Some(e), None) => {
                missing.push(*e);
                i += 1;
            }
            (_, Some(f)) => {
                if !unknown.contains(&f.2) {
                    unexpected.push(*f);
                }
                j += 1;
            }
            (None, None) => break,
        }
    }
    (missing, unexpected)
}
