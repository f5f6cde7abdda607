//! Portable sketch files (FORMAT.md §11): "sketch once, register anywhere".
//!
//! A pipeline sketches a dataset where the data lives, under an index's parameters and
//! sample space, and ships the small file; the index registers it without the data
//! ([`register_sketch_file`]). A file is versioned, checksummed (XXH3-64 of every byte
//! before the checksum) and carries the *spec fingerprint*
//! ([`crate::sketch::spec_fingerprint`]) of the parameters (with the calibrated bucket
//! width) and sample space it was made under; an index refuses a file of another spec.
//!
//! # Shards
//!
//! A dataset sketched in shards and [`merge`]d equals the sketch of the whole dataset
//! *sharded the same way*: partitions never cross shard boundaries. Each shard is shuffled
//! and cut into partitions on its own, exactly as [`Sketcher::sketch`] does for a whole file
//! (its own seeded shuffle of its own rows, its own short residue merged into its last
//! partition). The merged sketch concatenates the shards' partitions in shard order (band
//! hashes, sizes, counts), takes the sorted distinct union of the flattened sets and the
//! element-wise minimum of the MinHash signatures (the MinHash of the union), and sums the
//! rows. So the sketch of one file cut into consecutive shards of N rows
//! ([`sketch_sharded`]) equals the merge of the sketches of N-row shard files holding the
//! same rows in the same order; it differs from the unsharded sketch of the file unless the
//! file is one shard.
//!
//! Reading never panics on bad bytes: an empty, foreign, truncated, altered or malformed
//! file is a [`SketchFileError`] naming the file.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::codec::Encoder;
use crate::sketch::{spec_fingerprint, Sketch, SketchError, Sketcher};
use crate::store::{Index, Registered, Registration, StoreError};

/// The first 8 bytes of every sketch file.
pub const MAGIC: &[u8; 8] = b"ADBSKCH\n";
/// The sketch-file format version this build writes and reads.
pub const FILE_VERSION: u32 = 1;
/// Bytes before the arrays: magic, version, spec, rows, bands, partitions, dim, flat
/// length, MinHash length.
pub const HEADER_LEN: usize = 8 + 4 + 8 + 8 + 2 + 4 + 4 + 4 + 4;
/// Bytes of the trailing checksum.
const CHECKSUM_LEN: usize = 8;

/// Why a sketch file could not be read, written, merged or registered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SketchFileError {
    /// The file could not be read or written.
    #[error("{}: {error}", path.display())]
    Io {
        /// The sketch file.
        path: PathBuf,
        /// The operating system's error (part of the message, so not also a `source()`).
        error: std::io::Error,
    },
    /// The file has no bytes at all.
    #[error("{}: empty file, not an adaptdb sketch file", path.display())]
    Empty {
        /// The sketch file.
        path: PathBuf,
    },
    /// The file does not start with the sketch-file magic.
    #[error("{}: not an adaptdb sketch file (no ADBSKCH magic)", path.display())]
    NotASketchFile {
        /// The file.
        path: PathBuf,
    },
    /// The file was written in a format version this build cannot read.
    #[error("{}: sketch file format version {found}; this build reads version {supported}",
        path.display())]
    Version {
        /// The sketch file.
        path: PathBuf,
        /// The version found.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// The file ends before the length its header declares.
    #[error("{}: truncated: {len} bytes, the header declares {expected}", path.display())]
    Truncated {
        /// The sketch file.
        path: PathBuf,
        /// Its length.
        len: u64,
        /// The length it should have.
        expected: u64,
    },
    /// The checksum does not match the bytes: the file was altered or damaged.
    #[error("{}: checksum mismatch (stored {stored:016x}, computed {computed:016x}): \
        the file is damaged", path.display())]
    Checksum {
        /// The sketch file.
        path: PathBuf,
        /// The checksum stored in the file.
        stored: u64,
        /// The checksum of the bytes read.
        computed: u64,
    },
    /// The checksum holds but the content is inconsistent.
    #[error("{}: malformed sketch file: {reason}", path.display())]
    Malformed {
        /// The sketch file.
        path: PathBuf,
        /// What is inconsistent.
        reason: String,
    },
    /// The file was made under other parameters or another sample space.
    #[error("{}: sketch file spec {found:016x} differs from the {against} spec {expected:016x} \
        (other parameters or sample space); sketch the data against this index",
        path.display())]
    SpecMismatch {
        /// The sketch file.
        path: PathBuf,
        /// The file's spec fingerprint.
        found: u64,
        /// The spec fingerprint it must have.
        expected: u64,
        /// What the expected spec belongs to ("index's", "first file's").
        against: &'static str,
    },
    /// Sketches to merge do not have the same shape.
    #[error("cannot merge sketches: {reason}")]
    Incompatible {
        /// What differs.
        reason: String,
    },
}

/// Encodes `sketch` made under spec `spec` as the bytes of a sketch file (FORMAT.md §11).
pub fn encode(sketch: &Sketch, spec: u64) -> Vec<u8> {
    let parts = sketch.sizes.len();
    let dim = sketch.counts.len().checked_div(parts).unwrap_or(0);
    let mut e = Encoder::new();
    for &b in MAGIC {
        e.u8(b);
    }
    e.u32(FILE_VERSION)
        .u64(spec)
        .u64(sketch.rows)
        .u16(sketch.bands)
        .u32(parts as u32)
        .u32(dim as u32)
        .u32(sketch.flat.len() as u32)
        .u32(sketch.minhash.len() as u32);
    for &n in &sketch.sizes {
        e.u32(n);
    }
    for &h in sketch
        .band_hashes
        .iter()
        .chain(&sketch.flat)
        .chain(&sketch.minhash)
    {
        e.u64(h);
    }
    for &c in &sketch.counts {
        e.u32(c);
    }
    let mut bytes = e.finish();
    let sum = xxhash_rust::xxh3::xxh3_64(&bytes);
    bytes.extend_from_slice(&sum.to_le_bytes());
    bytes
}

/// A little-endian cursor over bytes whose length was checked beforehand.
struct Cursor<'a> {
    bytes: &'a [u8],
}

impl Cursor<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        if let Some((head, rest)) = self.bytes.split_first_chunk::<N>() {
            out = *head;
            self.bytes = rest;
        }
        out
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.take())
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take())
    }
    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take())
    }
}

/// Decodes the bytes of a sketch file read from `path` (named in errors): the sketch and
/// its spec fingerprint.
pub fn decode(path: &Path, bytes: &[u8]) -> Result<(Sketch, u64), SketchFileError> {
    let path_buf = || path.to_path_buf();
    if bytes.is_empty() {
        return Err(SketchFileError::Empty { path: path_buf() });
    }
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return Err(SketchFileError::NotASketchFile { path: path_buf() });
    }
    let len = bytes.len() as u64;
    let truncated = |expected: u64| SketchFileError::Truncated {
        path: path_buf(),
        len,
        expected,
    };
    let min = (HEADER_LEN + CHECKSUM_LEN) as u64;
    if bytes.len() < 12 {
        return Err(truncated(min));
    }
    let mut c = Cursor {
        bytes: &bytes[MAGIC.len()..],
    };
    let version = c.u32();
    if version != FILE_VERSION {
        return Err(SketchFileError::Version {
            path: path_buf(),
            found: version,
            supported: FILE_VERSION,
        });
    }
    if len < min {
        return Err(truncated(min));
    }
    let spec = c.u64();
    let rows = c.u64();
    let bands = c.u16();
    let parts = c.u32() as u64;
    let dim = c.u32() as u64;
    let flat_len = c.u32() as u64;
    let minhash_len = c.u32() as u64;
    // In u128: partitions × dim can exceed u64.
    let (p, l, d) = (parts as u128, bands as u128, dim as u128);
    let words = p * l + flat_len as u128 + minhash_len as u128;
    let wide = min as u128 + p * 4 + words * 8 + p * d * 4;
    let expected = u64::try_from(wide).unwrap_or(u64::MAX);
    let body = bytes.len() - CHECKSUM_LEN;
    let stored = u64::from_le_bytes(bytes[body..].try_into().map_err(|_| truncated(expected))?);
    let computed = xxhash_rust::xxh3::xxh3_64(&bytes[..body]);
    if stored != computed {
        if len < expected {
            return Err(truncated(expected));
        }
        return Err(SketchFileError::Checksum {
            path: path_buf(),
            stored,
            computed,
        });
    }
    let malformed = |reason: String| SketchFileError::Malformed {
        path: path_buf(),
        reason,
    };
    if len != expected {
        return Err(malformed(format!(
            "{len} bytes, but the header declares {expected}"
        )));
    }
    if bands == 0 {
        return Err(malformed("0 bands per partition".into()));
    }
    let sizes: Vec<u32> = (0..parts).map(|_| c.u32()).collect();
    let band_hashes: Vec<u64> = (0..parts * bands as u64).map(|_| c.u64()).collect();
    let flat: Vec<u64> = (0..flat_len).map(|_| c.u64()).collect();
    let minhash: Vec<u64> = (0..minhash_len).map(|_| c.u64()).collect();
    let counts: Vec<u32> = (0..parts * dim).map(|_| c.u32()).collect();
    let sketch = Sketch {
        rows,
        bands,
        band_hashes,
        flat,
        minhash,
        counts,
        sizes,
    };
    check(&sketch).map_err(malformed)?;
    Ok((sketch, spec))
}

/// Checks the invariants of a sketch's fields (those a file can break).
fn check(s: &Sketch) -> Result<(), String> {
    let parts = s.sizes.len();
    if s.bands == 0 || s.band_hashes.len() != parts * s.bands as usize {
        return Err(format!(
            "{} band hashes for {parts} partitions of {} bands",
            s.band_hashes.len(),
            s.bands
        ));
    }
    if let Some(p) = s.sizes.iter().position(|&n| n == 0) {
        return Err(format!("partition {p} has no rows"));
    }
    let sum: u64 = s.sizes.iter().map(|&n| n as u64).sum();
    if sum != s.rows {
        return Err(format!(
            "partition sizes sum to {sum} rows, the header says {}",
            s.rows
        ));
    }
    let mut union = s.band_hashes.clone();
    union.sort_unstable();
    union.dedup();
    if union != s.flat {
        return Err("the flattened set is not the distinct band hashes, ascending".into());
    }
    if parts > 0 && !s.counts.is_empty() {
        if s.counts.len() % parts != 0 {
            return Err(format!(
                "{} bin counts for {parts} partitions",
                s.counts.len()
            ));
        }
        let dim = s.counts.len() / parts;
        // Every row adds one count per column: a partition's counts sum to size × columns.
        let mut columns = None;
        for (p, (bins, &n)) in s.counts.chunks(dim).zip(&s.sizes).enumerate() {
            let total: u64 = bins.iter().map(|&b| b as u64).sum();
            let cols = total / n as u64;
            if total % n as u64 != 0 || cols == 0 || *columns.get_or_insert(cols) != cols {
                return Err(format!(
                    "bin counts of partition {p} sum to {total}, not a consistent multiple \
                     of its {n} rows"
                ));
            }
        }
    }
    Ok(())
}

/// Writes `sketch`, made under spec `spec`, to `path` atomically: a temporary file in the
/// same directory is written, fsynced and renamed over `path`, then the directory is fsynced.
pub fn write_sketch(path: &Path, sketch: &Sketch, spec: u64) -> Result<(), SketchFileError> {
    let io = |source| SketchFileError::Io {
        path: path.to_path_buf(),
        error: source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        let missing = std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("its directory {} does not exist", dir.display()),
        );
        return Err(io(missing));
    }
    let bytes = encode(sketch, spec);
    let mut builder = tempfile::Builder::new();
    builder.prefix(".adbsketch-").suffix(".tmp");
    // A sketch is meant to be shipped and read by others: not the temporary file's 0600.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644));
    let mut tmp = builder.tempfile_in(dir).map_err(|e| {
        // Named after the directory, not the random name tempfile gave the file.
        let what = format!("cannot create a file in {}: {}", dir.display(), e.kind());
        io(std::io::Error::new(e.kind(), what))
    })?;
    tmp.write_all(&bytes).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    #[cfg(unix)]
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io)?;
    Ok(())
}

/// Reads the sketch file at `path`: the sketch and the spec fingerprint it was made under.
pub fn read_sketch(path: &Path) -> Result<(Sketch, u64), SketchFileError> {
    let bytes = std::fs::read(path).map_err(|source| SketchFileError::Io {
        path: path.to_path_buf(),
        error: source,
    })?;
    decode(path, &bytes)
}

/// Merges the sketches of a dataset's shards, in shard order (see the module doc): equal to
/// the sketch of the whole dataset when each shard was partitioned on its own.
///
/// # Errors
/// [`SketchFileError::Incompatible`] when there is nothing to merge or the sketches differ
/// in bands per partition, MinHash length or bins per partition.
pub fn merge(shards: &[Sketch]) -> Result<Sketch, SketchFileError> {
    let incompatible = |reason: String| SketchFileError::Incompatible { reason };
    let Some(first) = shards.first() else {
        return Err(incompatible("no sketches given".into()));
    };
    let dim_of = |s: &Sketch| (!s.sizes.is_empty()).then(|| s.counts.len() / s.sizes.len());
    let dim = shards.iter().find_map(dim_of);
    let mut out = Sketch {
        rows: 0,
        bands: first.bands,
        band_hashes: Vec::new(),
        flat: Vec::new(),
        minhash: vec![u64::MAX; first.minhash.len()],
        counts: Vec::new(),
        sizes: Vec::new(),
    };
    for (i, s) in shards.iter().enumerate() {
        if s.bands != first.bands || s.minhash.len() != first.minhash.len() {
            return Err(incompatible(format!(
                "sketch {i} has {} bands and {} MinHash values, sketch 0 has {} and {}",
                s.bands,
                s.minhash.len(),
                first.bands,
                first.minhash.len()
            )));
        }
        if let (Some(a), Some(b)) = (dim_of(s), dim) {
            if a != b {
                return Err(incompatible(format!(
                    "sketch {i} has {a} bins per partition, another has {b}"
                )));
            }
        }
        out.rows += s.rows;
        out.band_hashes.extend_from_slice(&s.band_hashes);
        out.sizes.extend_from_slice(&s.sizes);
        out.counts.extend_from_slice(&s.counts);
        out.flat.extend_from_slice(&s.flat);
        for (m, &x) in out.minhash.iter_mut().zip(&s.minhash) {
            *m = (*m).min(x);
        }
    }
    out.flat.sort_unstable();
    out.flat.dedup();
    Ok(out)
}

/// Sketches binned rows (`codes`, rows × columns, row-major, from
/// [`crate::sketch::bin_frame`]) as consecutive shards of `shard_rows` rows, each
/// partitioned on its own, and merges them (see the module doc).
///
/// # Errors
/// [`SketchFileError::Incompatible`] when `shard_rows` is 0 or there are no rows.
pub fn sketch_sharded(
    sketcher: &Sketcher,
    codes: &[u8],
    rows: usize,
    shard_rows: usize,
) -> Result<Sketch, SketchFileError> {
    if shard_rows == 0 {
        return Err(SketchFileError::Incompatible {
            reason: "shards of 0 rows".into(),
        });
    }
    let d = sketcher.space().columns().len();
    let shards: Vec<Sketch> = (0..rows)
        .step_by(shard_rows)
        .map(|start| {
            let n = shard_rows.min(rows - start);
            let slice = codes.get(start * d..(start + n) * d).unwrap_or_default();
            sketcher.sketch_codes(slice, slice.len() / d.max(1))
        })
        .collect();
    merge(&shards)
}

/// The spec fingerprint of `index`: its parameters (with the calibrated bucket width) and
/// sample space, with its sketcher; `None` while the index has no sample space yet.
pub fn index_spec(index: &Index) -> crate::Result<Option<(u64, std::sync::Arc<Sketcher>)>> {
    Ok(index
        .sketcher()?
        .map(|s| (spec_fingerprint(s.params(), s.space()), s)))
}

/// Registers the sketch file at `path` in `index`, refusing a file made under another spec
/// ([`SketchFileError::SpecMismatch`]) and an index without a sample space.
pub fn register_sketch_file(
    index: &Index,
    registration: &Registration,
    path: &Path,
) -> crate::Result<Registered> {
    let (sketch, found) = read_sketch(path).map_err(SketchError::from)?;
    let Some((expected, _)) = index_spec(index)? else {
        return Err(StoreError::Empty {
            path: index.dir().to_path_buf(),
        }
        .into());
    };
    if found != expected {
        return Err(SketchError::from(SketchFileError::SpecMismatch {
            path: path.to_path_buf(),
            found,
            expected,
            against: "index's",
        })
        .into());
    }
    index.register_sketch(registration, sketch)
}
