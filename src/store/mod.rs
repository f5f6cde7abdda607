//! The index on disk: a directory holding the redb catalogue `catalog.redb` and the
//! append-only segment files under `segments/` (FORMAT.md). [`Index`] is the public
//! entry point: create or open an index, register datasets, search with a target.

pub mod catalog;
mod guard;
mod inspect;
mod registrar;
mod registry;
pub mod segment;
mod verify;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use redb::{
    ConcurrencyMode, Database, ReadOnlyDatabase, ReadTransaction, ReadableDatabase,
    ReadableMultimapTable, ReadableTable, ReadableTableMetadata, WriteTransaction,
};

use crate::codec::DecodeError;
use crate::divergence;
use crate::error::{Error, Result};
use crate::input::{self, Frame, InputOptions, RowSource};
use crate::params::Params;
use crate::search::{self, Score, SearchOptions, SearchPath, SearchResults};
use crate::sketch::{MinHasher, Sketch, SketchError, Sketcher};
use crate::space::SampleSpace;
use catalog::*;
pub use guard::is_containing_panic;
pub use inspect::{
    BandBucket, BandOccupancy, BucketClass, Calibration, InspectReport, ModelRef, ModelSketch,
    SegmentInfo, SpaceSummary, BUCKET_SIZE_CLASSES, LARGEST_BUCKETS, QUOTED_VALUES,
};
pub use registrar::{Pending, Registrar};
pub use registry::{parse_model_ref, CompactReport};
use segment::{
    ArchivedProjectionRecord, ProjectionRecord, RecordLocation, SegmentReader, SegmentWriter,
    SketchRecord,
};
pub use verify::{Problem, VerifyReport};

/// Version of the on-disk format written by this build (FORMAT.md §3.1, §9).
pub const FORMAT_VERSION: u32 = 1;
/// File name of the catalogue inside an index directory.
pub const CATALOG_FILE: &str = "catalog.redb";

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A file could not be read or written.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error (part of the message, so not also a `source()`).
        error: std::io::Error,
    },
    /// The catalogue database reported an error.
    #[error("{}: {error}", path.display())]
    Catalog {
        /// The catalogue file.
        path: PathBuf,
        /// redb's error (part of the message, so not also a `source()`).
        error: Box<redb::Error>,
    },
    /// Another process holds the index open for writing (or, for a writer, at all).
    #[error("{}: the index is open for writing in another process", path.display())]
    Locked {
        /// The catalogue file.
        path: PathBuf,
    },
    /// The path does not hold an index.
    #[error("{}: not an adaptdb index: {reason}", path.display())]
    NotAnIndex {
        /// The path given.
        path: PathBuf,
        /// What is missing or wrong.
        reason: String,
    },
    /// An index already exists where one was to be created.
    #[error("{}: an index already exists here", path.display())]
    Exists {
        /// The directory.
        path: PathBuf,
    },
    /// The index was written in a format version this build cannot read.
    #[error("{}: format version {found}; this build reads version {supported}", path.display())]
    FormatVersion {
        /// The catalogue file.
        path: PathBuf,
        /// The version found.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// Bytes on disk do not have the shape FORMAT.md gives them.
    #[error("{}: corrupt: {reason}", path.display())]
    Corrupt {
        /// The damaged file.
        path: PathBuf,
        /// What was found.
        reason: String,
    },
    /// The model name and version are already registered.
    #[error("{name}@{version} is already registered (model id {id})")]
    DuplicateVersion {
        /// Model name.
        name: String,
        /// Version label.
        version: String,
        /// The existing model's id.
        id: u32,
    },
    /// A name, version or other label cannot be stored.
    #[error("invalid {what} {value:?}: {reason}")]
    InvalidLabel {
        /// Which label.
        what: &'static str,
        /// The value given.
        value: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// The index has no registered dataset yet, so it has no sample space to search in.
    #[error("{}: the index is empty; register a dataset first", path.display())]
    Empty {
        /// The index directory.
        path: PathBuf,
    },
    /// A record is larger than a segment accepts (2 GiB).
    #[error("{}: a record of {bytes} bytes exceeds the 2 GiB record limit", path.display())]
    TooLarge {
        /// The segment it was meant for.
        path: PathBuf,
        /// Its size.
        bytes: u64,
    },
    /// A group registration failed as a whole (its commit or a segment write).
    #[error("the group registration failed: {reason}")]
    GroupFailed {
        /// The error that failed the group.
        reason: String,
    },
    /// The operation needs something this index was not created with.
    #[error("{what}")]
    Unsupported {
        /// What is missing.
        what: String,
    },
    /// The index's last writer died without closing it, and this read-only open could not
    /// recover it.
    #[error(
        "{}: the last process writing this index did not close it (it was killed or \
         crashed), and it could not be recovered for reading: {reason}",
        path.display()
    )]
    NeedsRecovery {
        /// The catalogue file.
        path: PathBuf,
        /// Why recovery did not happen here.
        reason: String,
    },
    /// A sketch given to register does not fit the index (FORMAT.md §11 lists the checks).
    #[error("the sketch cannot be registered in this index: {reason}")]
    InvalidSketch {
        /// What does not fit.
        reason: String,
    },
    /// A write was attempted through a read-only handle.
    #[error("{}: the index was opened read-only", path.display())]
    ReadOnly {
        /// The index directory.
        path: PathBuf,
    },
}

/// What to record about a model version besides its training data.
#[derive(Debug, Clone, Default)]
pub struct Registration {
    /// Model name.
    pub name: String,
    /// Version label; `None` picks the next whole number for the name ("1", "2", …).
    pub version: Option<String>,
    /// Where the model lives (optional).
    pub uri: String,
    /// Free key/value metadata.
    pub metadata: Vec<(String, String)>,
    /// The model's accuracy on its own holdout, when known.
    pub source_accuracy: Option<f64>,
    /// Replace the version if this name and version are registered already (in the same
    /// transaction); without it, registering them again is an error.
    pub replace: bool,
}

impl Registration {
    /// A registration of `name` with the next free version.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }

    /// Sets the version label.
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }

    /// Checks every field before anything is written: labels are non-empty, at most 512
    /// bytes, free of control characters and of surrounding whitespace (a name also of
    /// '@', which separates name and version on the command line); metadata keys are
    /// labels too; a source accuracy is a number in [0, 1].
    ///
    /// # Errors
    /// [`StoreError::InvalidLabel`] naming the field.
    pub fn validate(&self) -> Result<(), StoreError> {
        validate_label("name", &self.name)?;
        if self.name.contains('@') {
            return Err(StoreError::InvalidLabel {
                what: "name",
                value: self.name.clone(),
                reason: "must not contain '@' (it separates name and version)",
            });
        }
        if let Some(v) = &self.version {
            validate_label("version", v)?;
        }
        for (i, (key, value)) in self.metadata.iter().enumerate() {
            validate_label("metadata key", key)?;
            if self.metadata[..i].iter().any(|(k, _)| k == key) {
                return Err(StoreError::InvalidLabel {
                    what: "metadata key",
                    value: key.clone(),
                    reason: "is given twice",
                });
            }
            if value.chars().any(char::is_control) {
                return Err(StoreError::InvalidLabel {
                    what: "metadata value",
                    value: value.clone(),
                    reason: "contains control characters",
                });
            }
        }
        if self.uri.chars().any(char::is_control) {
            return Err(StoreError::InvalidLabel {
                what: "uri",
                value: self.uri.clone(),
                reason: "contains control characters",
            });
        }
        match self.source_accuracy {
            Some(a) if !(0.0..=1.0).contains(&a) => Err(StoreError::InvalidLabel {
                what: "source accuracy",
                value: a.to_string(),
                reason: "must be a number between 0 and 1",
            }),
            _ => Ok(()),
        }
    }
}

enum Catalog {
    Writable(Database),
    ReadOnly(ReadOnlyDatabase),
}

/// An adaptdb index: many model versions, each with the sketch of its training data.
///
/// An `Index` is `Sync`: any number of threads may search while one registers. Across
/// processes, one may hold it writable ([`Index::open`]) while others read it
/// ([`Index::open_read_only`]).
pub struct Index {
    dir: PathBuf,
    catalog_path: PathBuf,
    db: Catalog,
    params: RwLock<Params>,
    sketcher: RwLock<Option<Arc<Sketcher>>>,
    minhasher: MinHasher,
    segments: SegmentReader,
    writer: Mutex<Option<SegmentWriter>>,
    space_lock: Mutex<()>,
}

/// A registration checked and numbered inside a write transaction, not yet staged.
struct Prepared {
    model: ModelVersion,
    replaced: Option<u32>,
    duplicates: Vec<u32>,
}

/// What the registration that fixes the sample space also stores.
struct FirstRegistration {
    /// The sketcher of the new space, with the calibrated parameters.
    sketcher: Arc<Sketcher>,
    /// Mean JS between the reference dataset's partitions (nats).
    noise_floor: f64,
}

/// What a registration stored.
#[derive(Debug, Clone)]
pub struct Registered {
    /// The model version as catalogued.
    pub model: ModelVersion,
    /// Whether this registration fixed the index's sample space (the first one does).
    pub created_space: bool,
    /// Ids of model versions whose training data sketched identically.
    pub duplicates: Vec<u32>,
    /// The id of the version this registration replaced, with [`Registration::replace`].
    pub replaced: Option<u32>,
    /// What the caller should know about the data, though it was registered: a dataset
    /// smaller than one partition, whose distribution is mostly smoothing.
    pub warnings: Vec<String>,
}

/// Warnings about a sketch that is registered anyway (see [`Registered::warnings`]).
fn sketch_warnings(params: &Params, sketch: &Sketch) -> Vec<String> {
    let s = params.partition_rows as u64;
    if sketch.rows >= s {
        return Vec::new();
    }
    vec![format!(
        "the data has {} rows, fewer than one partition ({s} rows): its one distribution \
         is dominated by smoothing and will look close to most targets",
        sketch.rows
    )]
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Read-only opens of an index that needs recovery, before giving up (FORMAT.md §7).
const RECOVERY_ATTEMPTS: u32 = 6;

fn builder() -> redb::Builder {
    let mut b = Database::builder();
    b.set_concurrency_mode(ConcurrencyMode::SingleWriter);
    b
}

impl Index {
    /// Creates an empty index in directory `dir` (created if absent; it must not hold an
    /// index already). The sample space is fixed by the first registration.
    pub fn create(dir: impl AsRef<Path>, params: Params) -> Result<Self> {
        params.validate()?;
        let dir = dir.as_ref().to_path_buf();
        let catalog_path = dir.join(CATALOG_FILE);
        if catalog_path.exists() {
            return Err(StoreError::Exists { path: dir }.into());
        }
        // Segment files without a catalogue are an index that lost its catalogue (or a
        // copy missing it): creating one over them would overwrite their records.
        let segments = segment::segments_dir(&dir);
        let orphans = std::fs::read_dir(&segments).map_or(0, |d| d.count());
        if orphans > 0 {
            return Err(StoreError::NotAnIndex {
                path: dir,
                reason: format!(
                    "it has no {CATALOG_FILE} but {} holds {orphans} files; refusing to \
                     create an index over them (restore the catalogue, or remove them)",
                    segments.display()
                ),
            }
            .into());
        }
        std::fs::create_dir_all(&dir).map_err(|source| StoreError::Io {
            path: dir.clone(),
            error: source,
        })?;
        let db = builder()
            .create(&catalog_path)
            .map_err(|e| db_error(&catalog_path, e.into()))?;
        let index = Self::assemble(dir, catalog_path, Catalog::Writable(db), params.clone());
        let txn = index.begin_write()?;
        index.write_meta(&txn, KEY_FORMAT, &FORMAT_VERSION.to_le_bytes())?;
        index.write_meta(&txn, KEY_PARAMS, &params.encode())?;
        index.write_meta(&txn, KEY_PADDING, &0u64.to_le_bytes())?;
        index.write_meta(&txn, KEY_NEXT_MODEL, &0u32.to_le_bytes())?;
        index.touch_tables(&txn)?;
        index.commit(txn)?;
        tracing::debug!(dir = %index.dir.display(), "created index");
        Ok(index)
    }

    /// Opens an existing index for reading and writing.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let (dir, catalog_path) = Self::locate(dir.as_ref())?;
        let guard_path = catalog_path.clone();
        // redb reads the allocator state while opening, and may panic on a damaged page.
        let db = guard::contain(&guard_path, || {
            (builder().open(&catalog_path)).map_err(|e| db_error(&catalog_path, e.into()).into())
        })?;
        guard::contain(&guard_path, || {
            let index = Self::load(dir, catalog_path, Catalog::Writable(db))?;
            index.recover_segments()?;
            Ok(index)
        })
    }

    /// Discards segment bytes that no committed registration points at (FORMAT.md §5):
    /// the tail past each segment's committed length, and segment files created after the
    /// last committed one.
    fn recover_segments(&self) -> Result<()> {
        let txn = self.begin_read()?;
        let table = txn
            .open_table(SEGMENTS)
            .map_err(|e| self.db_err(e.into()))?;
        let committed = self.listed_segments(&table)?;
        drop(table);
        // IMPORTANT: truncating and removing trusts the catalogue's lengths, so first check
        // that this catalogue describes these segment files: its projection record (the
        // first record of every index) must be where it says, with its checksum. A foreign
        // or restored-from-elsewhere catalogue stops here, with nothing changed.
        if let Some(bytes) = self.read_meta(&txn, KEY_PROJECTION)? {
            let loc = decode_location(&bytes).map_err(|e| self.corrupt(e))?;
            if !segment::record_matches(&self.dir, &loc)? {
                return Err(StoreError::Corrupt {
                    path: segment::segment_path(&self.dir, loc.segment),
                    reason: format!(
                        "it does not hold the projection record that {} places at offset {} \
                         ({} bytes): one of the two files is damaged, or they belong to \
                         different indexes; nothing was truncated or removed",
                        self.catalog_path.display(),
                        loc.offset,
                        loc.len
                    ),
                }
                .into());
            }
        }
        drop(txn);
        Ok(segment::recover(&self.dir, &committed)?)
    }

    /// Verifies the checksum of every page of the catalogue with redb's own integrity check.
    ///
    /// redb's check repairs as it goes, so it runs on a private copy of the file and the
    /// index itself is never written. A copy taken while another process commits may be
    /// torn: the copy is retried until the file stays unchanged across it, and after three
    /// tries the check gives up with [`StoreError::Locked`]. A damaged page is
    /// [`StoreError::Corrupt`] naming the catalogue file.
    pub fn check_catalog(dir: impl AsRef<Path>) -> Result<()> {
        let (_, catalog_path) = Self::locate(dir.as_ref())?;
        let io = |source| StoreError::Io {
            path: catalog_path.clone(),
            error: source,
        };
        let stamp = |p: &Path| std::fs::metadata(p).map(|m| (m.len(), m.modified().ok()));
        let tmp = tempfile::tempdir().map_err(io)?;
        let copy = tmp.path().join(CATALOG_FILE);
        for _ in 0..3 {
            let before = stamp(&catalog_path).map_err(io)?;
            std::fs::copy(&catalog_path, &copy).map_err(io)?;
            if stamp(&catalog_path).map_err(io)? != before {
                continue;
            }
            return guard::contain(&catalog_path, || {
                let mut b = builder();
                b.set_check_integrity_on_open(true);
                match b.open(&copy) {
                    Ok(_) => Ok(()),
                    Err(e) => Err(match db_error(&catalog_path, e.into()) {
                        StoreError::Catalog { error: source, .. } => StoreError::Corrupt {
                            path: catalog_path.clone(),
                            reason: format!("page check failed: {source}"),
                        },
                        other => other,
                    }
                    .into()),
                }
            });
        }
        Err(StoreError::Locked {
            path: catalog_path.clone(),
        }
        .into())
    }

    /// Opens an existing index read-only; it may be open for writing in another process.
    ///
    /// An index whose last writer died (killed, or its machine lost power) must be
    /// recovered by a writer before anyone can read it: redb rolls its catalogue back to
    /// the last commit, and the segments lose their uncommitted tails (FORMAT.md §5). When
    /// no process holds the index for writing, this does that recovery itself, as the next
    /// writer would, and then opens it read-only; if it cannot (no write permission, say),
    /// the error says what happened and what to do.
    pub fn open_read_only(dir: impl AsRef<Path>) -> Result<Self> {
        let (dir, catalog_path) = Self::locate(dir.as_ref())?;
        let mut recovered = false;
        for attempt in 0.. {
            let opened =
                guard::contain(
                    &catalog_path,
                    || Ok(builder().open_read_only(&catalog_path)),
                );
            let db = match opened? {
                Ok(db) => db,
                Err(redb::DatabaseError::RepairAborted) if attempt < RECOVERY_ATTEMPTS => {
                    if !recovered {
                        recovered = Self::recover_for_readers(&dir, &catalog_path)?;
                    }
                    // A writer in another process is recovering it: give it a moment.
                    std::thread::sleep(std::time::Duration::from_millis(50 << attempt.min(4)));
                    continue;
                }
                Err(redb::DatabaseError::RepairAborted) => {
                    return Err(StoreError::NeedsRecovery {
                        path: catalog_path,
                        reason: "another process holds it for writing and has not recovered it \
                                 yet; try again"
                            .into(),
                    }
                    .into())
                }
                Err(e) => return Err(db_error(&catalog_path, e.into()).into()),
            };
            let guard_path = catalog_path.clone();
            return guard::contain(&guard_path, || {
                Self::load(dir, catalog_path, Catalog::ReadOnly(db))
            });
        }
        unreachable!("the loop returns once attempts run out")
    }

    /// Opens the index for writing and closes it again, so that it recovers from a writer
    /// that died; returns false when another process holds it for writing (that process
    /// recovers it). Called by read-only opens only.
    fn recover_for_readers(dir: &Path, catalog_path: &Path) -> Result<bool> {
        tracing::warn!(
            path = %catalog_path.display(),
            "the index's last writer did not close it; recovering it before reading"
        );
        match Self::open(dir) {
            Ok(index) => {
                drop(index);
                Ok(true)
            }
            Err(Error::Store(StoreError::Locked { .. })) => Ok(false),
            Err(e) => Err(StoreError::NeedsRecovery {
                path: catalog_path.to_path_buf(),
                reason: format!(
                    "recovering it takes a writable open, which failed ({e}); when that is \
                     only a permission, any write command by the index's owner recovers it"
                ),
            }
            .into()),
        }
    }

    /// Opens the index in `dir` for writing, creating it with `params` if there is none.
    pub fn open_or_create(dir: impl AsRef<Path>, params: Params) -> Result<Self> {
        if dir.as_ref().join(CATALOG_FILE).exists() {
            Self::open(dir)
        } else {
            Self::create(dir, params)
        }
    }

    fn locate(dir: &Path) -> Result<(PathBuf, PathBuf)> {
        let not = |reason: &str| StoreError::NotAnIndex {
            path: dir.into(),
            reason: reason.into(),
        };
        if !dir.exists() {
            return Err(not("no such directory").into());
        }
        if !dir.is_dir() {
            return Err(not("an index is a directory, this is a file").into());
        }
        let catalog_path = dir.join(CATALOG_FILE);
        if !catalog_path.is_file() {
            return Err(not("it has no catalog.redb").into());
        }
        if std::fs::metadata(&catalog_path).is_ok_and(|m| m.len() == 0) {
            return Err(StoreError::Corrupt {
                path: catalog_path,
                reason: "the file is empty (0 bytes)".into(),
            }
            .into());
        }
        Ok((dir.to_path_buf(), catalog_path))
    }

    fn assemble(dir: PathBuf, catalog_path: PathBuf, db: Catalog, params: Params) -> Self {
        let segments = SegmentReader::new(&dir);
        Self {
            dir,
            catalog_path,
            db,
            minhasher: MinHasher::new(&params),
            params: RwLock::new(params),
            sketcher: RwLock::new(None),
            segments,
            writer: Mutex::new(None),
            space_lock: Mutex::new(()),
        }
    }

    fn load(dir: PathBuf, catalog_path: PathBuf, db: Catalog) -> Result<Self> {
        let mut index = Self::assemble(dir, catalog_path, db, Params::default());
        let txn = index.begin_read()?;
        let format = index
            .read_meta(&txn, KEY_FORMAT)?
            .ok_or_else(|| StoreError::NotAnIndex {
                path: index.catalog_path.clone(),
                reason: "the catalogue has no format version".into(),
            })?;
        let found = index.decode_u32(KEY_FORMAT, &format)?;
        if found != FORMAT_VERSION {
            let path = index.catalog_path.clone();
            return Err(StoreError::FormatVersion {
                path,
                found,
                supported: FORMAT_VERSION,
            }
            .into());
        }
        let params = index.read_meta(&txn, KEY_PARAMS)?.unwrap_or_default();
        let params = Params::decode(&params).map_err(|e| index.corrupt(e))?;
        index.minhasher = MinHasher::new(&params);
        index.params = RwLock::new(params);
        drop(txn);
        tracing::debug!(dir = %index.dir.display(), "opened index");
        Ok(index)
    }

    /// The index directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The parameters fixed at creation.
    pub fn params(&self) -> Params {
        self.params
            .read()
            .map(|p| p.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// The sample space, once the first registration has fixed it.
    pub fn space(&self) -> Result<Option<SampleSpace>> {
        Ok(self.sketcher()?.map(|s| s.space().clone()))
    }

    /// The sketcher of this index, built from the stored space on first use.
    pub fn sketcher(&self) -> Result<Option<Arc<Sketcher>>> {
        guard::contain(&self.catalog_path, || self.load_sketcher())
    }

    fn load_sketcher(&self) -> Result<Option<Arc<Sketcher>>> {
        if let Some(s) = self.sketcher.read().ok().and_then(|g| g.clone()) {
            return Ok(Some(s));
        }
        let txn = self.begin_read()?;
        let Some(bytes) = self.read_meta(&txn, KEY_SPACE)? else {
            return Ok(None);
        };
        let space = SampleSpace::decode(&bytes).map_err(|e| self.corrupt(e))?;
        let loc = self.read_meta(&txn, KEY_PROJECTION)?.unwrap_or_default();
        let loc = decode_location(&loc).map_err(|e| self.corrupt(e))?;
        // The registration that fixed the space also calibrated the bucket width: take the
        // parameters from the same snapshot.
        let params = self.read_meta(&txn, KEY_PARAMS)?.unwrap_or_default();
        let params = Params::decode(&params).map_err(|e| self.corrupt(e))?;
        drop(txn);
        let projection = self.load_projection(&space, &loc)?;
        self.set_params(params.clone());
        let sketcher = Arc::new(Sketcher::with_projection(params, space, projection));
        if let Ok(mut slot) = self.sketcher.write() {
            *slot = Some(sketcher.clone());
        }
        Ok(Some(sketcher))
    }

    fn set_params(&self, params: Params) {
        match self.params.write() {
            Ok(mut slot) => *slot = params,
            Err(poisoned) => *poisoned.into_inner() = params,
        }
    }

    fn require_sketcher(&self) -> Result<Arc<Sketcher>> {
        let sketcher = self.sketcher()?;
        Ok(sketcher.ok_or_else(|| StoreError::Empty {
            path: self.dir.clone(),
        })?)
    }

    fn load_projection(&self, space: &SampleSpace, loc: &RecordLocation) -> Result<Vec<f32>> {
        let bytes = self.segments.read(loc)?;
        let record: &ArchivedProjectionRecord = bytes.archived()?;
        let (dim, hashes) = (space.dim(), self.params().hashes());
        if record.dim.to_native() as usize != dim
            || record.hashes.to_native() as usize != hashes
            || record.values.len() != dim * hashes
        {
            return Err(StoreError::Corrupt {
                path: segment::segment_path(&self.dir, loc.segment),
                reason: format!(
                    "projection record is {}×{} with {} values; the index needs {dim}×{hashes}",
                    record.dim,
                    record.hashes,
                    record.values.len()
                ),
            }
            .into());
        }
        Ok(record.values.iter().map(|v| v.to_native()).collect())
    }

    /// Sketches the dataset at `path` under this index's parameters and sample space.
    pub fn sketch_file(&self, path: &Path, options: &InputOptions) -> Result<Sketch> {
        let mut source = input::open(path, options)?;
        let sketcher = self.require_sketcher()?;
        Ok(sketcher.sketch(source.as_mut())?)
    }

    /// Registers a sketch computed earlier under this index's parameters and sample space
    /// (a sketch file), without the data. The index must have a sample space already.
    pub fn register_sketch(
        &self,
        registration: &Registration,
        sketch: Sketch,
    ) -> Result<Registered> {
        guard::contain(&self.catalog_path, || {
            registration.validate()?;
            self.check_sketch(&sketch)?;
            self.commit_registration(registration, sketch, None, std::time::Instant::now())
        })
    }

    /// Checks that a sketch made elsewhere (a sketch file, a caller's own) has the shape
    /// this index's parameters give and is consistent in itself: the flattened set is the
    /// distinct band hashes, the MinHash signature is the flattened set's, partitions have
    /// rows, and bin counts are there when the index keeps distributions.
    fn check_sketch(&self, sketch: &Sketch) -> Result<()> {
        let sketcher = self.require_sketcher()?;
        let p = sketcher.params();
        let (l, parts, dim) = (
            p.bands as usize,
            sketch.partitions(),
            sketcher.space().dim(),
        );
        let rows: u64 = sketch.sizes.iter().map(|&n| n as u64).sum();
        let problem = if sketch.bands != p.bands || sketch.band_hashes.len() != parts * l {
            format!(
                "{} band hashes of {} bands per partition; the index has {l} bands",
                sketch.band_hashes.len(),
                sketch.bands
            )
        } else if parts == 0 || sketch.sizes.len() != parts || sketch.sizes.contains(&0) {
            format!("{} partitions with {} sizes", parts, sketch.sizes.len())
        } else if rows != sketch.rows {
            format!("partitions of {rows} rows in all, but {} rows", sketch.rows)
        } else if !(sketch.counts.is_empty() || sketch.counts.len() == parts * dim) {
            format!(
                "{} bin counts for {parts} partitions of {dim} bins",
                sketch.counts.len()
            )
        } else if p.keep_distributions && sketch.counts.is_empty() {
            "no bin counts, and this index keeps every partition's distribution".into()
        } else if sketch.minhash.len() != p.minhash_size as usize {
            format!(
                "a MinHash signature of {} values; the index uses {}",
                sketch.minhash.len(),
                p.minhash_size
            )
        } else {
            let mut flat = sketch.band_hashes.clone();
            flat.sort_unstable();
            flat.dedup();
            if flat != sketch.flat {
                "its flattened set is not the distinct band hashes".into()
            } else if sketcher.minhasher().signature(&flat) != sketch.minhash {
                "its MinHash signature is not its flattened set's".into()
            } else {
                return Ok(());
            }
        };
        Err(StoreError::InvalidSketch { reason: problem }.into())
    }

    /// Registers the dataset at `path` as the training data of `registration`.
    pub fn register_file(
        &self,
        registration: &Registration,
        path: &Path,
        options: &InputOptions,
    ) -> Result<Registered> {
        let mut source = input::open(path, options)?;
        self.register(registration, source.as_mut())
    }

    /// Sketches every row of `source` and registers it as the training data of
    /// `registration`, in one atomic, durable step.
    ///
    /// The first registration fixes the sample space from its own data. Nothing is changed
    /// when any step fails: bad data, a duplicate name and version, or an I/O error.
    pub fn register(
        &self,
        registration: &Registration,
        source: &mut dyn RowSource,
    ) -> Result<Registered> {
        guard::contain(&self.catalog_path, || {
            self.register_unguarded(registration, source)
        })
    }

    fn register_unguarded(
        &self,
        registration: &Registration,
        source: &mut dyn RowSource,
    ) -> Result<Registered> {
        let span = tracing::debug_span!("register", name = %registration.name);
        let _enter = span.enter();
        registration.validate()?;
        if matches!(self.db, Catalog::ReadOnly(_)) {
            return Err(StoreError::ReadOnly {
                path: self.dir.clone(),
            }
            .into());
        }
        let started = std::time::Instant::now();
        if let Some(sketcher) = self.sketcher()? {
            let sketch = sketcher.sketch(source)?;
            return self.commit_registration(registration, sketch, None, started);
        }
        // The first registration fixes the sample space; registrations racing with it in
        // this process wait here, then sketch in the space it fixed.
        let _first = self.space_lock.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(sketcher) = self.sketcher()? {
            let sketch = sketcher.sketch(source)?;
            return self.commit_registration(registration, sketch, None, started);
        }
        let frame = input::collect(source)?;
        let (sketcher, noise_floor) = self.calibrate(&frame)?;
        let codes = crate::sketch::bin_frame(sketcher.space(), &frame)?;
        let sketch = sketcher.sketch_codes(&codes, frame.rows);
        let first = FirstRegistration {
            sketcher,
            noise_floor,
        };
        self.commit_registration(registration, sketch, Some(first), started)
    }

    /// Fixes the sample space from a reference dataset, measures its noise floor and, when
    /// the bucket width is 0, derives it from the floor (METHOD.md §1.3, §2.3).
    fn calibrate(&self, frame: &Frame) -> Result<(Arc<Sketcher>, f64)> {
        let mut p = self.params();
        let space = SampleSpace::from_reference(frame, p.bins, p.reference_rows as usize, p.seed);
        if space.dim() == space.columns().len() {
            return Err(SketchError::ConstantReference {
                path: frame.path.clone(),
                rows: frame.rows,
            }
            .into());
        }
        let codes = crate::sketch::bin_frame(&space, frame)?;
        let counts = crate::sketch::partition_counts(&space, &p, &codes, frame.rows);
        let sizes = crate::sketch::partition::sizes(frame.rows, p.partition_rows as usize);
        let noise_floor = divergence::noise_floor(&space, &p, &counts, &sizes);
        if p.bucket_width == 0.0 {
            p.bucket_width = divergence::bucket_width_for(2.0 * noise_floor, p.rows_per_band);
        }
        tracing::debug!(noise_floor, bucket_width = p.bucket_width, "calibrated");
        Ok((Arc::new(Sketcher::new(p, space)), noise_floor))
    }

    fn commit_registration(
        &self,
        registration: &Registration,
        sketch: Sketch,
        first: Option<FirstRegistration>,
        started: std::time::Instant,
    ) -> Result<Registered> {
        let sketched = started.elapsed();
        let mut writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let txn = self.begin_write()?;
        let prepared = self.prepare(&txn, registration, &sketch)?;
        if writer.is_none() {
            *writer = Some(self.open_segment_writer(&txn)?);
        }
        let seg = writer.as_mut().expect("segment writer opened just above");
        // IMPORTANT: segment bytes are appended and fsynced first; the catalogue commit that
        // points at them is what makes the registration visible (FORMAT.md §5).
        let staged = self
            .stage(
                &txn,
                seg,
                prepared.model,
                &sketch,
                first.as_ref(),
                prepared.replaced,
            )
            .and_then(|model| self.commit(txn).map(|()| model));
        let model = match staged {
            Ok(model) => model,
            Err(e) => {
                seg.rollback();
                return Err(e);
            }
        };
        seg.committed();
        drop(writer);

        let created_space = first.is_some();
        if let Some(first) = first {
            self.set_params(first.sketcher.params().clone());
            if let Ok(mut slot) = self.sketcher.write() {
                *slot = Some(first.sketcher);
            }
        }
        tracing::debug!(
            id = model.id,
            rows = sketch.rows,
            partitions = model.partitions,
            flat = model.flat_len,
            sketch_ms = sketched.as_millis() as u64,
            total_ms = started.elapsed().as_millis() as u64,
            "registered"
        );
        Ok(Registered {
            model,
            created_space,
            duplicates: prepared.duplicates,
            replaced: prepared.replaced,
            warnings: sketch_warnings(&self.params(), &sketch),
        })
    }

    /// Registers sketched datasets in one transaction: one fsync of the segment and one
    /// catalogue commit for the whole group. A registration refused on its own (a duplicate
    /// name and version) gets its error and the others go on; a failure of the commit
    /// itself fails every one. The index must have its sample space already.
    pub fn register_group(&self, items: Vec<(Registration, Sketch)>) -> Vec<Result<Registered>> {
        let all_fail = |e: &Error, n: usize| -> Vec<Result<Registered>> {
            (0..n)
                .map(|_| {
                    Err(StoreError::GroupFailed {
                        reason: e.to_string(),
                    }
                    .into())
                })
                .collect()
        };
        let n = items.len();
        let result = guard::contain(&self.catalog_path, || {
            self.require_sketcher()?;
            // Checked before the write lock is taken: other writers need not wait for it.
            let checks: Vec<Result<()>> = items
                .iter()
                .map(|(r, s)| {
                    r.validate()
                        .map_err(Error::from)
                        .and_then(|()| self.check_sketch(s))
                })
                .collect();
            let mut writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
            let txn = self.begin_write()?;
            if writer.is_none() {
                *writer = Some(self.open_segment_writer(&txn)?);
            }
            let seg = writer.as_mut().expect("segment writer opened just above");
            let mut out = Vec::with_capacity(n);
            for ((registration, sketch), check) in items.iter().zip(checks) {
                let prepared = match check.and_then(|()| self.prepare(&txn, registration, sketch)) {
                    Ok(p) => p,
                    Err(e) => {
                        out.push(Err(e));
                        continue;
                    }
                };
                match self.stage(&txn, seg, prepared.model, sketch, None, prepared.replaced) {
                    Ok(model) => out.push(Ok(Registered {
                        model,
                        created_space: false,
                        duplicates: prepared.duplicates,
                        replaced: prepared.replaced,
                        warnings: sketch_warnings(&self.params(), sketch),
                    })),
                    Err(e) => {
                        seg.rollback();
                        return Err(e);
                    }
                }
            }
            if let Err(e) = self.commit(txn) {
                seg.rollback();
                return Err(e);
            }
            seg.committed();
            tracing::debug!(registrations = n, "registered a group");
            Ok(out)
        });
        result.unwrap_or_else(|e| all_fail(&e, n))
    }

    /// Resolves a registration's version, refuses a duplicate, and builds its catalogue
    /// record (without a location yet) inside `txn`.
    fn prepare(
        &self,
        txn: &WriteTransaction,
        registration: &Registration,
        sketch: &Sketch,
    ) -> Result<Prepared> {
        let version = match &registration.version {
            Some(v) => v.clone(),
            None => self.next_version(txn, &registration.name)?,
        };
        let replaced = self.lookup(txn, &registration.name, &version)?;
        if let (Some(id), false) = (replaced, registration.replace) {
            let name = registration.name.clone();
            return Err(StoreError::DuplicateVersion { name, version, id }.into());
        }
        let id = self.meta_u32(txn, KEY_NEXT_MODEL)?;
        let mut duplicates = self.models_with_fingerprint(txn, sketch.fingerprint())?;
        duplicates.retain(|d| Some(*d) != replaced);
        let model = ModelVersion {
            id,
            name: registration.name.clone(),
            version,
            uri: registration.uri.clone(),
            metadata: registration.metadata.clone(),
            source_accuracy: registration.source_accuracy,
            registered_at_ms: now_ms(),
            rows: sketch.rows,
            partitions: sketch.partitions() as u32,
            flat_len: sketch.flat.len() as u32,
            fingerprint: sketch.fingerprint(),
            location: RecordLocation {
                segment: 0,
                offset: 0,
                len: 0,
                checksum: 0,
            },
        };
        Ok(Prepared {
            model,
            replaced,
            duplicates,
        })
    }

    /// Writes a registration's segment records and catalogue entries into `txn`.
    fn stage(
        &self,
        txn: &WriteTransaction,
        seg: &mut SegmentWriter,
        mut model: ModelVersion,
        sketch: &Sketch,
        first: Option<&FirstRegistration>,
        replaced: Option<u32>,
    ) -> Result<ModelVersion> {
        if let Some(old) = replaced {
            self.remove_in_txn(txn, old)?;
        }
        let mut segment_ends = Vec::new();
        if let Some(FirstRegistration {
            sketcher,
            noise_floor,
        }) = first
        {
            self.write_meta(txn, KEY_PARAMS, &sketcher.params().encode())?;
            self.write_meta(txn, KEY_NOISE_FLOOR, &noise_floor.to_bits().to_le_bytes())?;
            self.write_meta(txn, KEY_SPACE, &sketcher.space().encode())?;
            let projection = ProjectionRecord {
                dim: sketcher.space().dim() as u32,
                hashes: self.params().hashes() as u32,
                values: sketcher.projection().to_vec(),
            };
            let (loc, end) = seg.append(&segment::encode_record(&projection))?;
            self.write_meta(txn, KEY_PROJECTION, &encode_location(&loc))?;
            segment_ends.push((loc.segment, end));
        }
        let record = SketchRecord {
            model: model.id,
            bands: sketch.bands as u32,
            rows: sketch.rows,
            band_hashes: sketch.band_hashes.clone(),
            flat: sketch.flat.clone(),
            counts: if self.params().keep_distributions {
                sketch.counts.clone()
            } else {
                Vec::new()
            },
            sizes: sketch.sizes.clone(),
        };
        let (location, end) = seg.append(&segment::encode_record(&record))?;
        segment_ends.push((location.segment, end));
        model.location = location;
        self.insert_model(txn, &model, sketch)?;
        let mut segs = txn
            .open_table(SEGMENTS)
            .map_err(|e| self.db_err(e.into()))?;
        for (segment, end) in segment_ends {
            segs.insert(segment, end)
                .map_err(|e| self.db_err(e.into()))?;
        }
        drop(segs);
        let next = model
            .id
            .checked_add(1)
            .ok_or_else(|| StoreError::Unsupported {
                what: "the index has used all 2³² model ids".into(),
            })?;
        self.write_meta(txn, KEY_NEXT_MODEL, &next.to_le_bytes())?;
        Ok(model)
    }

    fn lookup(&self, txn: &WriteTransaction, name: &str, version: &str) -> Result<Option<u32>> {
        let names = txn.open_table(NAMES).map_err(|e| self.db_err(e.into()))?;
        let found = names
            .get((name, version))
            .map_err(|e| self.db_err(e.into()))?;
        Ok(found.map(|g| g.value()))
    }

    fn insert_model(
        &self,
        txn: &WriteTransaction,
        model: &ModelVersion,
        sketch: &Sketch,
    ) -> Result<()> {
        let e = |err: redb::TableError| self.db_err(err.into());
        let s = |err: redb::StorageError| self.db_err(err.into());
        txn.open_table(MODELS)
            .map_err(e)?
            .insert(model.id, model.encode().as_slice())
            .map_err(s)?;
        txn.open_table(NAMES)
            .map_err(e)?
            .insert((model.name.as_str(), model.version.as_str()), model.id)
            .map_err(s)?;
        txn.open_multimap_table(FINGERPRINTS)
            .map_err(e)?
            .insert(model.fingerprint, model.id)
            .map_err(s)?;
        let sig = encode_words(&sketch.minhash);
        txn.open_table(MINHASH)
            .map_err(e)?
            .insert(model.id, sig.as_slice())
            .map_err(s)?;

        let flat_len = sketch.flat.len() as u64;
        let bound = self.meta_u64(txn, KEY_PADDING)?;
        if flat_len > bound {
            // The first dataset sets M to twice its flattened size; a larger one raises M for
            // every stored version (METHOD.md §4, from the stored unpadded signatures).
            self.rebuild_bands(txn, (2 * flat_len).max(bound))?;
        }
        let bound = self.meta_u64(txn, KEY_PADDING)?;
        self.insert_bands(txn, model, &sketch.minhash, bound)
    }

    /// Deletes model `id` from every catalogue table, band entries included, inside `txn`;
    /// returns its record. Its segment bytes stay until `compact` rewrites the segments.
    pub(crate) fn remove_in_txn(&self, txn: &WriteTransaction, id: u32) -> Result<ModelVersion> {
        let e = |err: redb::TableError| self.db_err(err.into());
        let s = |err: redb::StorageError| self.db_err(err.into());
        let model = {
            let mut models = txn.open_table(MODELS).map_err(e)?;
            let removed = models.remove(id).map_err(s)?;
            let bytes = removed.ok_or_else(|| self.corrupt_msg(format!("no model {id}")))?;
            ModelVersion::decode(bytes.value()).map_err(|e| self.corrupt(e))?
        };
        txn.open_table(NAMES)
            .map_err(e)?
            .remove((model.name.as_str(), model.version.as_str()))
            .map_err(s)?;
        txn.open_multimap_table(FINGERPRINTS)
            .map_err(e)?
            .remove(model.fingerprint, id)
            .map_err(s)?;
        let signature = {
            let mut table = txn.open_table(MINHASH).map_err(e)?;
            let removed = table.remove(id).map_err(s)?;
            let bytes =
                removed.ok_or_else(|| self.corrupt_msg(format!("no signature for {id}")))?;
            decode_words(bytes.value()).map_err(|e| self.corrupt(e))?
        };
        let bound = self.meta_u64(txn, KEY_PADDING)?;
        let mh = &self.minhasher;
        let keys =
            mh.band_keys(&mh.padded(&signature, model.flat_len as u64, bound, model.fingerprint));
        let mut bands = txn.open_multimap_table(BANDS).map_err(e)?;
        for (band, key) in keys.into_iter().enumerate() {
            bands.remove((band as u16, key), id).map_err(s)?;
        }
        Ok(model)
    }

    /// Inserts `model`'s band-table entries: its unpadded `signature` padded to `bound`.
    fn insert_bands(
        &self,
        txn: &WriteTransaction,
        model: &ModelVersion,
        signature: &[u64],
        bound: u64,
    ) -> Result<()> {
        let (mh, id) = (&self.minhasher, model.id);
        let padded = mh.padded(signature, model.flat_len as u64, bound, model.fingerprint);
        let keys = mh.band_keys(&padded);
        let mut bands = txn
            .open_multimap_table(BANDS)
            .map_err(|e| self.db_err(e.into()))?;
        for (band, key) in keys.into_iter().enumerate() {
            bands
                .insert((band as u16, key), id)
                .map_err(|e| self.db_err(e.into()))?;
        }
        Ok(())
    }

    fn rebuild_bands(&self, txn: &WriteTransaction, bound: u64) -> Result<()> {
        tracing::debug!(bound, "raising the padding bound; rebuilding band tables");
        self.write_meta(txn, KEY_PADDING, &bound.to_le_bytes())?;
        txn.delete_multimap_table(BANDS)
            .map_err(|e| self.db_err(e.into()))?;
        let models = {
            let table = txn.open_table(MODELS).map_err(|e| self.db_err(e.into()))?;
            self.all_models(&table)?
        };
        for model in &models {
            let sig = {
                let id = model.id;
                let table = txn.open_table(MINHASH).map_err(|e| self.db_err(e.into()))?;
                let guard = table.get(id).map_err(|e| self.db_err(e.into()))?;
                let bytes = guard
                    .ok_or_else(|| self.corrupt_msg(format!("no signature for model {id}")))?;
                decode_words(bytes.value()).map_err(|e| self.corrupt(e))?
            };
            self.insert_bands(txn, model, &sig, bound)?;
        }
        Ok(())
    }

    fn next_version(&self, txn: &WriteTransaction, name: &str) -> Result<String> {
        let names = txn.open_table(NAMES).map_err(|e| self.db_err(e.into()))?;
        let highest = self
            .versions_of(&names, name)?
            .iter()
            .filter_map(|(v, _)| v.parse::<u64>().ok())
            .max()
            .unwrap_or(0);
        let next = highest
            .checked_add(1)
            .ok_or_else(|| StoreError::Unsupported {
                what: format!("{name} has version {highest}: no numbered version follows it"),
            })?;
        Ok(next.to_string())
    }

    fn models_with_fingerprint(
        &self,
        txn: &WriteTransaction,
        fingerprint: u64,
    ) -> Result<Vec<u32>> {
        let table = txn
            .open_multimap_table(FINGERPRINTS)
            .map_err(|e| self.db_err(e.into()))?;
        let mut out = Vec::new();
        for id in table.get(fingerprint).map_err(|e| self.db_err(e.into()))? {
            out.push(id.map_err(|e| self.db_err(e.into()))?.value());
        }
        Ok(out)
    }

    fn open_segment_writer(&self, txn: &WriteTransaction) -> Result<SegmentWriter> {
        let segs = txn
            .open_table(SEGMENTS)
            .map_err(|e| self.db_err(e.into()))?;
        let last = segs.last().map_err(|e| self.db_err(e.into()))?;
        let (id, committed) = last.map_or((1, 0), |(k, v)| (k.value(), v.value()));
        Ok(SegmentWriter::open(&self.dir, id, committed)?)
    }

    /// Raises the padding bound M (FORMAT.md §2.5) to at least `bound` for every stored
    /// version, in one transaction, and returns the bound now in force. Registration raises
    /// it by itself when a dataset's flattened set outgrows it; raising it ahead, to the
    /// largest flattened size expected, saves those rebuilds. M is never lowered.
    ///
    /// # Errors
    /// A read-only index, or a catalogue error; the index is then left as it was.
    pub fn raise_padding(&self, bound: u64) -> Result<u64> {
        guard::contain(&self.catalog_path, || {
            let _writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
            let txn = self.begin_write()?;
            let current = self.meta_u64(&txn, KEY_PADDING)?;
            if bound <= current {
                return Ok(current);
            }
            self.rebuild_bands(&txn, bound)?;
            self.commit(txn)?;
            Ok(bound)
        })
    }

    /// Every registered model version, in registration order.
    pub fn models(&self) -> Result<Vec<ModelVersion>> {
        guard::contain(&self.catalog_path, || self.models_unguarded())
    }

    fn models_unguarded(&self) -> Result<Vec<ModelVersion>> {
        let txn = self.begin_read()?;
        let table = txn.open_table(MODELS).map_err(|e| self.db_err(e.into()))?;
        self.all_models(&table)
    }

    /// Searches with the dataset at `path` as the target.
    pub fn search_file(
        &self,
        path: &Path,
        input: &InputOptions,
        options: &SearchOptions,
    ) -> Result<SearchResults> {
        let mut source = input::open(path, input)?;
        self.search(source.as_mut(), options)
    }

    /// Searches with every row of `source` as the target dataset.
    pub fn search(
        &self,
        source: &mut dyn RowSource,
        options: &SearchOptions,
    ) -> Result<SearchResults> {
        let sketcher = self.require_sketcher()?;
        let target = sketcher.sketch(source)?;
        self.search_sketch(&target, options)
    }

    /// Ranks the registered model versions by their adaptivity to an already sketched target.
    pub fn search_sketch(&self, target: &Sketch, options: &SearchOptions) -> Result<SearchResults> {
        guard::contain(&self.catalog_path, || {
            self.search_sketch_unguarded(target, options)
        })
    }

    fn search_sketch_unguarded(
        &self,
        target: &Sketch,
        options: &SearchOptions,
    ) -> Result<SearchResults> {
        let span = tracing::debug_span!("search", partitions = target.partitions());
        let _enter = span.enter();
        let started = std::time::Instant::now();
        if target.bands != self.params().bands {
            let reason = format!(
                "target sketch has {} bands, the index {}",
                target.bands,
                self.params().bands
            );
            return Err(self.corrupt_msg(reason));
        }
        let txn = self.begin_read()?;
        let models = txn.open_table(MODELS).map_err(|e| self.db_err(e.into()))?;
        let total = models.len().map_err(|e| self.db_err(e.into()))? as usize;

        let (ids, path) = if total <= options.exhaustive_limit {
            let mut ids = Vec::with_capacity(total);
            for entry in models.iter().map_err(|e| self.db_err(e.into()))? {
                ids.push(entry.map_err(|e| self.db_err(e.into()))?.0.value());
            }
            (ids, SearchPath::Exhaustive)
        } else {
            self.band_candidates(&txn, target)?
        };
        let found_micros = started.elapsed().as_micros() as u64;

        let signatures = match options.score {
            Score::MinHash => Some(txn.open_table(MINHASH).map_err(|e| self.db_err(e.into()))?),
            _ => None,
        };
        let mut candidates = Vec::with_capacity(ids.len());
        // The band path scores the `rescore` admitted candidates with the most band hits;
        // the filter applies before that cut, so it never empties a result it could fill.
        // With `latest_only`, a hit stands for the latest version of its name.
        let limit = match path {
            SearchPath::Exhaustive => usize::MAX,
            SearchPath::Bands { .. } => options.rescore.max(options.top_k),
        };
        let names = match options.filter.latest_only {
            true => Some(txn.open_table(NAMES).map_err(|e| self.db_err(e.into()))?),
            false => None,
        };
        let mut latest: HashMap<String, u32> = HashMap::new();
        let mut seen = HashSet::new();
        for &hit in &ids {
            if candidates.len() >= limit {
                break;
            }
            let mut model = self.model(&models, hit)?;
            if let Some(names) = &names {
                let top = match latest.get(&model.name) {
                    Some(&top) => top,
                    None => {
                        let versions = self.versions_of(names, &model.name)?;
                        let top = versions.iter().map(|v| v.1).max().unwrap_or(model.id);
                        latest.insert(model.name.clone(), top);
                        top
                    }
                };
                if top != model.id {
                    model = self.model(&models, top)?;
                }
            }
            if !seen.insert(model.id) || !options.filter.admits(&model) {
                continue;
            }
            let signature = match &signatures {
                Some(table) => {
                    let id = model.id;
                    let guard = table.get(id).map_err(|e| self.db_err(e.into()))?;
                    let bytes = guard
                        .ok_or_else(|| self.corrupt_msg(format!("no signature for model {id}")))?;
                    Some(decode_words(bytes.value()).map_err(|e| self.corrupt(e))?)
                }
                None => None,
            };
            candidates.push(search::Candidate { model, signature });
        }
        drop((signatures, names, models));
        let padding = self.read_meta(&txn, KEY_PADDING)?.unwrap_or_default();
        let padding = self.decode_u64(KEY_PADDING, &padding)?;
        let noise_floor = self.noise_floor(&txn)?;
        drop(txn);
        let sketcher = self.require_sketcher()?;
        let params = sketcher.params();
        let scorer = search::Scorer {
            params,
            space: sketcher.space(),
            distances: sketcher.distances(),
            minhasher: &self.minhasher,
            padding,
            js_threshold: 2.0 * noise_floor,
            segments: &self.segments,
        };
        let (scored, loaded_micros) = (candidates.len(), started.elapsed().as_micros() as u64);
        let results = scorer.rank(target, candidates, options)?;
        tracing::debug!(
            models = total,
            candidates = ids.len(),
            scored,
            returned = results.len(),
            found_micros,
            loaded_micros,
            micros = started.elapsed().as_micros() as u64,
            "searched"
        );
        Ok(SearchResults {
            path,
            score: options.score,
            models: total,
            target_rows: target.rows,
            target_partitions: target.partitions(),
            matches: results,
        })
    }

    /// The noise floor measured when the space was fixed; the formula's value scaled by the
    /// measured ratio when the index has none yet.
    fn noise_floor(&self, txn: &ReadTransaction) -> Result<f64> {
        match self.read_meta(txn, KEY_NOISE_FLOOR)? {
            Some(bytes) => Ok(f64::from_bits(self.decode_u64(KEY_NOISE_FLOOR, &bytes)?)),
            None => {
                let p = self.params();
                Ok(0.6 * (p.bins as f64 - 1.0) / (4.0 * p.partition_rows as f64))
            }
        }
    }

    fn band_candidates(
        &self,
        txn: &ReadTransaction,
        target: &Sketch,
    ) -> Result<(Vec<u32>, SearchPath)> {
        let keys = self.minhasher.band_keys(&target.minhash);
        let bands = txn
            .open_multimap_table(BANDS)
            .map_err(|e| self.db_err(e.into()))?;
        let mut hits: HashMap<u32, u32> = HashMap::new();
        for (band, key) in keys.iter().enumerate() {
            for id in bands
                .get((band as u16, *key))
                .map_err(|e| self.db_err(e.into()))?
            {
                *hits
                    .entry(id.map_err(|e| self.db_err(e.into()))?.value())
                    .or_default() += 1;
            }
        }
        let found = hits.len();
        let mut ranked: Vec<(u32, u32)> = hits.into_iter().collect();
        ranked.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let path = SearchPath::Bands {
            probed: keys.len(),
            candidates: found,
        };
        Ok((ranked.into_iter().map(|(id, _)| id).collect(), path))
    }

    // ---- catalogue readers, for read and write transactions alike ----

    /// Every (segment, committed length) of the `segments` table, by segment number.
    pub(crate) fn listed_segments(
        &self,
        table: &impl ReadableTable<u32, u64>,
    ) -> Result<Vec<(u32, u64)>> {
        let mut out = Vec::new();
        for entry in table.iter().map_err(|e| self.db_err(e.into()))? {
            let (k, v) = entry.map_err(|e| self.db_err(e.into()))?;
            out.push((k.value(), v.value()));
        }
        Ok(out)
    }

    /// Every model of the `models` table, in id order.
    pub(crate) fn all_models(
        &self,
        table: &impl ReadableTable<u32, &'static [u8]>,
    ) -> Result<Vec<ModelVersion>> {
        let mut out = Vec::new();
        for entry in table.iter().map_err(|e| self.db_err(e.into()))? {
            let (_, v) = entry.map_err(|e| self.db_err(e.into()))?;
            out.push(ModelVersion::decode(v.value()).map_err(|e| self.corrupt(e))?);
        }
        Ok(out)
    }

    /// The (version, id) pairs of `name` in the `names` table, in version order: its keys
    /// are (name, version) tuples, so one name's versions are contiguous.
    pub(crate) fn versions_of(
        &self,
        table: &impl ReadableTable<(&'static str, &'static str), u32>,
        name: &str,
    ) -> Result<Vec<(String, u32)>> {
        let mut out = Vec::new();
        let range = table
            .range((name, "")..)
            .map_err(|e| self.db_err(e.into()))?;
        for entry in range {
            let (k, v) = entry.map_err(|e| self.db_err(e.into()))?;
            let (n, version) = k.value();
            if n != name {
                break;
            }
            out.push((version.to_string(), v.value()));
        }
        Ok(out)
    }

    /// Model `id` of the `models` table; a missing one means a table names a model that
    /// is not there, which is corruption.
    fn model(
        &self,
        table: &impl ReadableTable<u32, &'static [u8]>,
        id: u32,
    ) -> Result<ModelVersion> {
        let guard = table.get(id).map_err(|e| self.db_err(e.into()))?;
        let bytes = guard.ok_or_else(|| self.corrupt_msg(format!("no model {id} in models")))?;
        ModelVersion::decode(bytes.value()).map_err(|e| self.corrupt(e))
    }

    // ---- catalogue helpers ----

    fn begin_read(&self) -> Result<ReadTransaction> {
        let txn = match &self.db {
            Catalog::Writable(db) => db.begin_read(),
            Catalog::ReadOnly(db) => db.begin_read(),
        };
        txn.map_err(|e| self.db_err(e.into()))
    }

    fn begin_write(&self) -> Result<WriteTransaction> {
        match &self.db {
            Catalog::Writable(db) => db.begin_write().map_err(|e| self.db_err(e.into())),
            Catalog::ReadOnly(_) => Err(StoreError::ReadOnly {
                path: self.dir.clone(),
            }
            .into()),
        }
    }

    fn commit(&self, txn: WriteTransaction) -> Result<()> {
        txn.commit().map_err(|e| self.db_err(e.into()))
    }

    fn touch_tables(&self, txn: &WriteTransaction) -> Result<()> {
        let e = |err: redb::TableError| self.db_err(err.into());
        txn.open_table(MODELS).map_err(e)?;
        txn.open_table(NAMES).map_err(e)?;
        txn.open_table(MINHASH).map_err(e)?;
        txn.open_table(SEGMENTS).map_err(e)?;
        txn.open_multimap_table(BANDS).map_err(e)?;
        txn.open_multimap_table(FINGERPRINTS).map_err(e)?;
        Ok(())
    }

    fn read_meta(&self, txn: &ReadTransaction, key: &str) -> Result<Option<Vec<u8>>> {
        let table = match txn.open_table(META) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => {
                return Err(StoreError::NotAnIndex {
                    path: self.catalog_path.clone(),
                    reason: "the catalogue has no meta table".into(),
                }
                .into())
            }
            Err(e) => return Err(self.db_err(e.into())),
        };
        self.meta_value(&table, key)
    }

    fn read_meta_w(&self, txn: &WriteTransaction, key: &str) -> Result<Option<Vec<u8>>> {
        let table = txn.open_table(META).map_err(|e| self.db_err(e.into()))?;
        self.meta_value(&table, key)
    }

    fn meta_value(
        &self,
        table: &impl ReadableTable<&'static str, &'static [u8]>,
        key: &str,
    ) -> Result<Option<Vec<u8>>> {
        let value = table.get(key).map_err(|e| self.db_err(e.into()))?;
        Ok(value.map(|v| v.value().to_vec()))
    }

    fn write_meta(&self, txn: &WriteTransaction, key: &str, value: &[u8]) -> Result<()> {
        let mut table = txn.open_table(META).map_err(|e| self.db_err(e.into()))?;
        table
            .insert(key, value)
            .map_err(|e| self.db_err(e.into()))?;
        Ok(())
    }

    fn meta_u32(&self, txn: &WriteTransaction, key: &'static str) -> Result<u32> {
        let bytes = self.read_meta_w(txn, key)?.unwrap_or_default();
        self.decode_u32(key, &bytes)
    }

    fn meta_u64(&self, txn: &WriteTransaction, key: &'static str) -> Result<u64> {
        let bytes = self.read_meta_w(txn, key)?.unwrap_or_default();
        self.decode_u64(key, &bytes)
    }

    fn decode_u32(&self, key: &str, bytes: &[u8]) -> Result<u32> {
        Ok(u32::from_le_bytes(self.meta_array(key, bytes)?))
    }

    pub(crate) fn decode_u64(&self, key: &str, bytes: &[u8]) -> Result<u64> {
        Ok(u64::from_le_bytes(self.meta_array(key, bytes)?))
    }

    /// A fixed-width `meta` value; a missing one (empty) or one of another width is corrupt.
    pub(crate) fn meta_array<const N: usize>(&self, key: &str, bytes: &[u8]) -> Result<[u8; N]> {
        bytes.try_into().map_err(|_| {
            self.corrupt_msg(format!(
                "meta value {key} has {} bytes, expected {N}",
                bytes.len()
            ))
        })
    }

    fn db_err(&self, e: redb::Error) -> Error {
        db_error(&self.catalog_path, e).into()
    }

    fn corrupt(&self, e: DecodeError) -> Error {
        self.corrupt_msg(e.to_string())
    }

    fn corrupt_msg(&self, reason: String) -> Error {
        StoreError::Corrupt {
            path: self.catalog_path.clone(),
            reason,
        }
        .into()
    }
}

fn db_error(path: &Path, e: redb::Error) -> StoreError {
    match e {
        redb::Error::DatabaseAlreadyOpen => StoreError::Locked {
            path: path.to_path_buf(),
        },
        redb::Error::Corrupted(reason) => StoreError::Corrupt {
            path: path.to_path_buf(),
            reason,
        },
        // redb reads a cut-short file as a short read.
        redb::Error::Io(source) if source.kind() == std::io::ErrorKind::UnexpectedEof => {
            StoreError::Corrupt {
                path: path.to_path_buf(),
                reason: "the file is truncated (it ends before its own layout does)".into(),
            }
        }
        redb::Error::Io(source) => StoreError::Io {
            path: path.to_path_buf(),
            error: source,
        },
        other => StoreError::Catalog {
            path: path.to_path_buf(),
            error: Box::new(other),
        },
    }
}

fn validate_label(what: &'static str, value: &str) -> Result<(), StoreError> {
    let bad = |reason| StoreError::InvalidLabel {
        what,
        value: value.to_string(),
        reason,
    };
    if value.is_empty() {
        return Err(bad("must not be empty"));
    }
    if value.len() > 512 {
        return Err(bad("longer than 512 bytes"));
    }
    if value.chars().any(char::is_control) {
        return Err(bad("contains control characters"));
    }
    if value.trim() != value {
        return Err(bad("must not begin or end with whitespace"));
    }
    Ok(())
}
