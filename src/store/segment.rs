//! Append-only segment files holding each model's sketch record as an rkyv archive
//! (FORMAT.md §4). Writers append past the committed length and fsync before the catalogue
//! commit that makes the bytes visible; readers map only committed ranges and validate
//! every record (checksum, then bytecheck) before use.

#![allow(unsafe_code)]

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use memmap2::Mmap;
use rkyv::rancor;

use super::StoreError;

/// First bytes of every segment file.
pub const SEGMENT_MAGIC: [u8; 8] = *b"ADBSEG\r\n";
/// Version of the segment layout written by this build.
pub const SEGMENT_VERSION: u32 = 1;
/// Bytes before the first record; records start at 16-byte aligned offsets.
pub const SEGMENT_HEADER_LEN: u64 = 32;
/// A segment is closed and a new one started once it passes this size.
pub const SEGMENT_TARGET_LEN: u64 = 1 << 30;
/// The validator rkyv checks archived records with.
type Validator<'b> = rkyv::api::high::HighValidator<'b, rancor::Error>;

/// Records are aligned to this many bytes within a segment.
pub const RECORD_ALIGN: u64 = 16;

/// The sketch of one model version as archived in a segment (FORMAT.md §4.2).
#[derive(Debug, Clone, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct SketchRecord {
    /// The model's id in the catalogue.
    pub model: u32,
    /// JSD-LSH bands per partition (L).
    pub bands: u32,
    /// Rows of the training data.
    pub rows: u64,
    /// Band hashes, partition-major (partitions × L).
    pub band_hashes: Vec<u64>,
    /// The flattened set, ascending.
    pub flat: Vec<u64>,
    /// Bin counts of every partition (partitions × D), when the index keeps distributions;
    /// empty otherwise.
    pub counts: Vec<u32>,
    /// Rows of each partition.
    pub sizes: Vec<u32>,
}

/// The JSD-LSH projection of an index, archived once when the sample space is fixed
/// (FORMAT.md §4.3). Regenerating it from the seed is the verification path.
#[derive(Debug, Clone, PartialEq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct ProjectionRecord {
    /// Bins of the sample space (D).
    pub dim: u32,
    /// Hash functions (K = R·L).
    pub hashes: u32,
    /// a[i][k] for bin i and hash k, row-major (D × K).
    pub values: Vec<f32>,
}

/// Where a record lives: segment, byte offset, length and XXH3-64 of its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordLocation {
    /// Segment number (the file `segments/{segment:08}.seg`).
    pub segment: u32,
    /// Offset of the record's first byte in the file (a multiple of 16).
    pub offset: u64,
    /// Length of the archive in bytes.
    pub len: u32,
    /// XXH3-64 of the archive bytes.
    pub checksum: u64,
}

/// The path of segment `id` in an index directory.
pub fn segment_path(dir: &Path, id: u32) -> PathBuf {
    segments_dir(dir).join(format!("{id:08}.seg"))
}

/// The folder of an index's segment files (FORMAT.md §1).
pub fn segments_dir(dir: &Path) -> PathBuf {
    dir.join("segments")
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        error: source,
    }
}

fn header(id: u32) -> [u8; SEGMENT_HEADER_LEN as usize] {
    let mut h = [0u8; SEGMENT_HEADER_LEN as usize];
    h[..8].copy_from_slice(&SEGMENT_MAGIC);
    h[8..12].copy_from_slice(&SEGMENT_VERSION.to_le_bytes());
    h[12..16].copy_from_slice(&id.to_le_bytes());
    h
}

/// Largest archive a segment accepts: rkyv's 32-bit relative pointers reach 2 GiB.
pub const MAX_RECORD_LEN: usize = (1 << 31) - 1;

/// Serializes a record into its archive bytes.
pub fn encode_record<T>(record: &T) -> Vec<u8>
where
    T: for<'a> rkyv::Serialize<
        rkyv::api::high::HighSerializer<
            rkyv::util::AlignedVec,
            rkyv::ser::allocator::ArenaHandle<'a>,
            rancor::Error,
        >,
    >,
{
    rkyv::to_bytes::<rancor::Error>(record)
        .expect("serializing plain vectors into memory cannot fail")
        .into_vec()
}

/// Validates archive bytes read from `path` and returns the archived value.
pub fn access_record<'a, T>(
    bytes: &'a [u8],
    path: &Path,
    loc: &RecordLocation,
) -> Result<&'a T, StoreError>
where
    T: rkyv::Portable + for<'b> rkyv::bytecheck::CheckBytes<Validator<'b>>,
{
    let found = xxhash_rust::xxh3::xxh3_64(bytes);
    if found != loc.checksum {
        return Err(StoreError::Corrupt {
            path: path.to_path_buf(),
            reason: format!(
                "record at offset {} ({} bytes) has checksum {found:016x}, catalogue says {:016x}",
                loc.offset, loc.len, loc.checksum
            ),
        });
    }
    rkyv::access::<T, rancor::Error>(bytes).map_err(|e| StoreError::Corrupt {
        path: path.to_path_buf(),
        reason: format!("record at offset {} fails validation: {e}", loc.offset),
    })
}

/// Appends records to the open segment. One per writable index, behind its write lock.
pub struct SegmentWriter {
    dir: PathBuf,
    id: u32,
    file: File,
    committed: u64,
    /// End of the bytes written so far; past `committed` until the catalogue commits.
    end: u64,
}

impl SegmentWriter {
    /// Opens segment `id` for appending after `committed` bytes, discarding anything past
    /// it (bytes of a registration that never committed), or creates it when `committed`
    /// is 0.
    pub fn open(dir: &Path, id: u32, committed: u64) -> Result<Self, StoreError> {
        let path = segment_path(dir, id);
        if committed == 0 {
            return Self::create(dir, id);
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io_err(&path))?;
        let len = file.metadata().map_err(io_err(&path))?.len();
        if len < committed {
            return Err(StoreError::Corrupt {
                path,
                reason: format!("file has {len} bytes but the catalogue committed {committed}"),
            });
        }
        check_header(&file, &path, id)?;
        if len > committed {
            tracing::warn!(path = %path.display(), discarded = len - committed,
                "discarding segment bytes of an uncommitted registration");
            file.set_len(committed).map_err(io_err(&path))?;
            file.sync_all().map_err(io_err(&path))?;
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            id,
            file,
            committed,
            end: committed,
        })
    }

    fn create(dir: &Path, id: u32) -> Result<Self, StoreError> {
        let seg_dir = segments_dir(dir);
        std::fs::create_dir_all(&seg_dir).map_err(io_err(&seg_dir))?;
        let path = segment_path(dir, id);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(io_err(&path))?;
        file.write_all(&header(id)).map_err(io_err(&path))?;
        file.sync_all().map_err(io_err(&path))?;
        sync_dir(&seg_dir)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            id,
            file,
            committed: SEGMENT_HEADER_LEN,
            end: SEGMENT_HEADER_LEN,
        })
    }

    /// The segment being appended to and its committed length.
    pub fn position(&self) -> (u32, u64) {
        (self.id, self.committed)
    }

    /// Writes `bytes` after the last append (aligned), fsyncs, and returns the location and
    /// the segment length to commit. Nothing is visible until the catalogue commits it: call
    /// [`Self::committed`] after that commit, or [`Self::rollback`] if it failed.
    pub fn append(&mut self, bytes: &[u8]) -> Result<(RecordLocation, u64), StoreError> {
        let path = segment_path(&self.dir, self.id);
        if bytes.len() > MAX_RECORD_LEN {
            return Err(StoreError::TooLarge {
                path,
                bytes: bytes.len() as u64,
            });
        }
        if self.end >= SEGMENT_TARGET_LEN && self.end == self.committed {
            *self = Self::create(&self.dir, self.id + 1)?;
        }
        let path = segment_path(&self.dir, self.id);
        let offset = self.end.next_multiple_of(RECORD_ALIGN);
        let mut buf = vec![0u8; (offset - self.end) as usize];
        buf.extend_from_slice(bytes);
        self.file
            .write_all_at(&buf, self.end)
            .map_err(io_err(&path))?;
        // IMPORTANT: the record must be durable before the catalogue commit that points at it.
        self.file.sync_data().map_err(io_err(&path))?;
        let loc = RecordLocation {
            segment: self.id,
            offset,
            len: bytes.len() as u32,
            checksum: xxhash_rust::xxh3::xxh3_64(bytes),
        };
        self.end = offset + bytes.len() as u64;
        Ok((loc, self.end))
    }

    /// Records that the catalogue committed everything appended so far.
    pub fn committed(&mut self) {
        self.committed = self.end;
    }

    /// Forgets the appends since the last commit; the next append overwrites them.
    pub fn rollback(&mut self) {
        self.end = self.committed;
    }
}

/// The bytes of the record at `loc` match its checksum, read from the file itself (not a
/// map, which may not cover bytes past the committed length yet).
pub fn record_matches(dir: &Path, loc: &RecordLocation) -> Result<bool, StoreError> {
    let path = segment_path(dir, loc.segment);
    let file = File::open(&path).map_err(io_err(&path))?;
    let mut bytes = vec![0u8; loc.len as usize];
    match file.read_exact_at(&mut bytes, loc.offset) {
        Ok(()) => Ok(xxhash_rust::xxh3::xxh3_64(&bytes) == loc.checksum),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(io_err(&path)(e)),
    }
}

/// Truncates each committed segment to its committed length and removes segment files
/// numbered after the last committed one; both hold only bytes of registrations that
/// never committed. `committed` lists (segment, committed length).
pub fn recover(dir: &Path, committed: &[(u32, u64)]) -> Result<(), StoreError> {
    // Every listed segment is checked before any is changed: a catalogue that does not
    // describe these files must not truncate the first ones before the mismatch shows.
    let mut files = Vec::with_capacity(committed.len());
    for &(id, len) in committed {
        let path = segment_path(dir, id);
        let file = OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(io_err(&path))?;
        let found = file.metadata().map_err(io_err(&path))?.len();
        if found < len {
            return Err(StoreError::Corrupt {
                path,
                reason: format!("file has {found} bytes but the catalogue committed {len}"),
            });
        }
        files.push((path, file, found, len));
    }
    for (path, file, found, len) in files {
        if found > len {
            tracing::warn!(path = %path.display(), discarded = found - len,
                "discarding segment bytes of an uncommitted registration");
            file.set_len(len).map_err(io_err(&path))?;
            file.sync_all().map_err(io_err(&path))?;
        }
    }
    let last = committed.iter().map(|&(id, _)| id).max().unwrap_or(0);
    let seg_dir = segments_dir(dir);
    let Ok(entries) = std::fs::read_dir(&seg_dir) else {
        return Ok(());
    };
    let mut removed = false;
    for entry in entries {
        let path = entry.map_err(io_err(&seg_dir))?.path();
        let id = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".seg"))
            .filter(|n| n.len() >= 8)
            .and_then(|n| n.parse::<u32>().ok());
        if id.is_some_and(|id| id > last) {
            tracing::warn!(path = %path.display(), "removing a segment no registration committed");
            std::fs::remove_file(&path).map_err(io_err(&path))?;
            removed = true;
        }
    }
    if removed {
        sync_dir(&seg_dir)?;
    }
    Ok(())
}

fn check_header(file: &File, path: &Path, id: u32) -> Result<(), StoreError> {
    let mut h = [0u8; SEGMENT_HEADER_LEN as usize];
    file.read_exact_at(&mut h, 0).map_err(io_err(path))?;
    let corrupt = |reason: String| StoreError::Corrupt {
        path: path.to_path_buf(),
        reason,
    };
    if h[..8] != SEGMENT_MAGIC {
        return Err(corrupt("not an adaptdb segment (bad magic)".into()));
    }
    let version = u32::from_le_bytes([h[8], h[9], h[10], h[11]]);
    if version != SEGMENT_VERSION {
        return Err(corrupt(format!(
            "segment version {version}, this build reads {SEGMENT_VERSION}"
        )));
    }
    let found = u32::from_le_bytes([h[12], h[13], h[14], h[15]]);
    if found != id {
        return Err(corrupt(format!(
            "header names segment {found}, expected {id}"
        )));
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

/// Read-only maps of an index's segments, shared by every search of one process.
#[derive(Default)]
pub struct SegmentReader {
    dir: PathBuf,
    maps: RwLock<HashMap<u32, Arc<Mmap>>>,
}

/// The bytes of one record, kept alive by the map they point into.
pub struct RecordBytes {
    map: Arc<Mmap>,
    start: usize,
    len: usize,
    path: PathBuf,
    loc: RecordLocation,
}

impl RecordBytes {
    /// Validates the record as a [`SketchRecord`] and returns its archived form.
    pub fn record(&self) -> Result<&ArchivedSketchRecord, StoreError> {
        self.archived()
    }

    /// Validates the record as a [`SketchRecord`] of `bands` bands per partition over a
    /// sample space of `dim` bins: besides the checksum and the archive's own checks, its
    /// arrays must have the lengths its partition count implies (FORMAT.md §4.2), so that
    /// a record whose checksum was forged with its bytes cannot mislead a search.
    pub fn sketch(&self, bands: usize, dim: usize) -> Result<&ArchivedSketchRecord, StoreError> {
        let record = self.record()?;
        let parts = record.sizes.len();
        let problem = if record.bands.to_native() as usize != bands {
            Some(format!("it has {} bands, the index {bands}", record.bands))
        } else if parts == 0 {
            Some("it has no partitions".to_string())
        } else if record.band_hashes.len() != parts * bands {
            Some(format!(
                "{} band hashes for {parts} partitions of {bands} bands",
                record.band_hashes.len()
            ))
        } else if !record.counts.is_empty() && record.counts.len() != parts * dim {
            Some(format!(
                "{} bin counts for {parts} partitions of {dim} bins",
                record.counts.len()
            ))
        } else {
            None
        };
        match problem {
            None => Ok(record),
            Some(reason) => Err(StoreError::Corrupt {
                path: self.path.clone(),
                reason: format!(
                    "the sketch record of model {} at offset {}: {reason}",
                    record.model, self.loc.offset
                ),
            }),
        }
    }

    /// Validates the record as an archived `T` (checksum first, then bytecheck).
    pub fn archived<T>(&self) -> Result<&T, StoreError>
    where
        T: rkyv::Portable + for<'b> rkyv::bytecheck::CheckBytes<Validator<'b>>,
    {
        access_record(self.bytes(), &self.path, &self.loc)
    }

    /// The record's bytes, unvalidated.
    pub fn bytes(&self) -> &[u8] {
        &self.map[self.start..self.start + self.len]
    }
}

impl SegmentReader {
    /// A reader of the segments under `dir`.
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
            maps: RwLock::default(),
        }
    }

    /// Maps (or reuses a map of) the segment holding `loc` and returns the record's bytes.
    pub fn read(&self, loc: &RecordLocation) -> Result<RecordBytes, StoreError> {
        let path = segment_path(&self.dir, loc.segment);
        let end = loc
            .offset
            .checked_add(loc.len as u64)
            .filter(|_| loc.offset >= SEGMENT_HEADER_LEN);
        let Some(end) = end.filter(|e| usize::try_from(*e).is_ok()) else {
            return Err(StoreError::Corrupt {
                path,
                reason: format!(
                    "impossible record location: offset {} length {}",
                    loc.offset, loc.len
                ),
            });
        };
        let cached = self
            .maps
            .read()
            .ok()
            .and_then(|m| m.get(&loc.segment).cloned());
        let map = match cached {
            Some(map) if map.len() as u64 >= end => map,
            _ => {
                let map = Arc::new(self.map_segment(&path, loc.segment, end)?);
                if let Ok(mut maps) = self.maps.write() {
                    maps.insert(loc.segment, map.clone());
                }
                map
            }
        };
        Ok(RecordBytes {
            map,
            start: loc.offset as usize,
            len: loc.len as usize,
            path,
            loc: *loc,
        })
    }

    fn map_segment(&self, path: &Path, id: u32, end: u64) -> Result<Mmap, StoreError> {
        let file = File::open(path).map_err(io_err(path))?;
        let len = file.metadata().map_err(io_err(path))?.len();
        if len < end {
            return Err(StoreError::Corrupt {
                path: path.to_path_buf(),
                reason: format!("file has {len} bytes, a committed record ends at {end}"),
            });
        }
        check_header(&file, path, id)?;
        // SAFETY: segment files are append-only. The writer never rewrites or truncates bytes
        // below the committed length, and a reader only touches committed ranges, checked
        // against the file length just above, so the mapped bytes do not change under us.
        // Truncation below that length by another program would raise SIGBUS; FORMAT.md §7
        // states that assumption. Every record is checksummed and validated before use.
        let map = unsafe { Mmap::map(&file) }.map_err(io_err(path))?;
        let _ = map.advise(memmap2::Advice::Random);
        Ok(map)
    }
}
