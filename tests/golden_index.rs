//! The golden index: an index written by format version 1, committed under
//! `tests/golden/index_v1/`, that every later build must open and answer identically
//! (exact adaptivities, exact order). It also checks that FORMAT.md describes the bytes:
//! one model's record is read by following FORMAT.md's tables and offsets by hand,
//! through redb and raw file reads only, and compared with what the library returns.
//!
//! Regenerate (only for a deliberate format change, with a new directory name for the
//! new version) with
//! `ADAPTDB_UPDATE_GOLDEN=1 cargo test --test golden_index -- --test-threads=1`.

mod common;

use std::path::{Path, PathBuf};

use adaptdb::{Index, InputOptions, Params, Registration, SearchOptions};
use common::*;

const SOURCES: [&str; 4] = [
    "model_Auckland_2016",
    "model_Beijing_2017",
    "model_Mumbai_2016",
    "model_SanDiego_2017",
];
const TARGETS: [&str; 3] = [
    "target_Auckland_2017",
    "target_Mumbai_2016",
    "target_Chicago_2016",
];

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/index_v1")
}

fn expected_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/index_v1.expected")
}

fn answers(index: &Index) -> String {
    let mut out = String::new();
    for t in TARGETS {
        let path = data("weather_cities/targets").join(format!("{t}.csv"));
        let options = SearchOptions {
            top_k: 10,
            ..SearchOptions::default()
        };
        let r = index
            .search_file(&path, &InputOptions::default(), &options)
            .unwrap();
        for m in &r.matches {
            let line = format!(
                "{t} {}@{} {:.17}\n",
                m.model.name, m.model.version, m.adaptivity
            );
            out.push_str(&line);
        }
    }
    out
}

/// Copies the golden index so that no test writes to the committed files.
fn golden_copy() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let dst = tmp.path().join("index");
    std::fs::create_dir_all(dst.join("segments")).unwrap();
    std::fs::copy(golden_dir().join("catalog.redb"), dst.join("catalog.redb")).unwrap();
    for e in std::fs::read_dir(golden_dir().join("segments")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dst.join("segments").join(p.file_name().unwrap())).unwrap();
    }
    tmp
}

#[test]
fn golden_index_opens_and_answers_identically() {
    if std::env::var_os("ADAPTDB_UPDATE_GOLDEN").is_some() {
        let _ = std::fs::remove_dir_all(golden_dir());
        let index = Index::create(golden_dir(), Params::default()).unwrap();
        for s in SOURCES {
            let path = data("weather_cities/sources").join(format!("{s}.csv"));
            let reg = Registration::new(s).version("1");
            index
                .register_file(&reg, &path, &InputOptions::default())
                .unwrap();
        }
        std::fs::write(expected_path(), answers(&index)).unwrap();
    }
    let expected = std::fs::read_to_string(expected_path()).unwrap();
    assert_eq!(expected.lines().count(), SOURCES.len() * TARGETS.len());
    let tmp = golden_copy();
    let dir = tmp.path().join("index");
    assert_eq!(answers(&Index::open_read_only(&dir).unwrap()), expected);
    let index = Index::open(&dir).unwrap();
    assert_eq!(answers(&index), expected);
    assert!(index.verify().unwrap().is_ok());
    let names: Vec<String> = index
        .models()
        .unwrap()
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(names, SOURCES);
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn i32_at(b: &[u8], at: usize) -> i32 {
    i32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// A cursor over a catalogue value, reading fields in FORMAT.md's order.
struct Fields<'a>(&'a [u8]);

impl Fields<'_> {
    fn take(&mut self, n: usize) -> &[u8] {
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take(4).try_into().unwrap())
    }
    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take(8).try_into().unwrap())
    }
    fn str(&mut self) -> String {
        let n = self.u32() as usize;
        String::from_utf8(self.take(n).to_vec()).unwrap()
    }
}

#[test]
fn format_md_describes_the_bytes() {
    use redb::{ReadableDatabase, ReadableTable, TableDefinition};
    let tmp = golden_copy();
    let dir = tmp.path().join("index");

    // §3: catalogue tables, read with redb alone.
    let db = redb::Builder::new()
        .set_concurrency_mode(redb::ConcurrencyMode::SingleWriter)
        .open_read_only(dir.join("catalog.redb"))
        .unwrap();
    let txn = db.begin_read().unwrap();
    let meta: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
    let meta = txn.open_table(meta).unwrap();
    assert_eq!(
        meta.get("format_version").unwrap().unwrap().value(),
        1u32.to_le_bytes()
    );
    let params = meta.get("params").unwrap().unwrap().value().to_vec();
    assert_eq!(params.len(), 43);
    assert_eq!(params[42], 0); // distributions not kept
    let bands = u16::from_le_bytes([params[20], params[21]]) as usize;
    assert_eq!(bands, 512);
    assert_eq!(u64_at(&params, 34), Params::default().seed);
    let names: TableDefinition<(&str, &str), u32> = TableDefinition::new("names");
    let id = txn
        .open_table(names)
        .unwrap()
        .get(("model_Mumbai_2016", "1"))
        .unwrap()
        .unwrap()
        .value();
    let models: TableDefinition<u32, &[u8]> = TableDefinition::new("models");
    let value = txn
        .open_table(models)
        .unwrap()
        .get(id)
        .unwrap()
        .unwrap()
        .value()
        .to_vec();

    // §3.2: the model record, field by field.
    let mut f = Fields(&value);
    assert_eq!(f.take(1), [1]);
    assert_eq!(f.u32(), id);
    assert_eq!(f.str(), "model_Mumbai_2016");
    assert_eq!(f.str(), "1");
    assert_eq!(f.str(), "");
    assert_eq!(f.u32(), 0); // metadata entries
    assert!(f64::from_bits(f.u64()).is_nan()); // source accuracy unknown
    let _registered_at = f.u64();
    let rows = f.u64();
    let partitions = f.u32() as usize;
    let flat_len = f.u32() as usize;
    let fingerprint = f.u64();
    let (segment, offset, len, checksum) = (f.u32(), f.u64() as usize, f.u32() as usize, f.u64());
    assert!(f.0.is_empty());
    assert_eq!(offset % 16, 0);

    // §4.1: the segment header.
    let seg = std::fs::read(dir.join("segments").join(format!("{segment:08}.seg"))).unwrap();
    assert_eq!(&seg[..8], b"ADBSEG\r\n");
    assert_eq!(u32_at(&seg, 8), 1);
    assert_eq!(u32_at(&seg, 12), segment);
    assert_eq!(&seg[16..32], &[0u8; 16]);

    // §4.2: the sketch record, by its root at the end and relative pointers.
    let record = &seg[offset..offset + len];
    assert_eq!(xxhash_rust::xxh3::xxh3_64(record), checksum);
    let root = offset + len - 48;
    assert_eq!(u32_at(&seg, root), id);
    assert_eq!(u32_at(&seg, root + 4) as usize, bands);
    assert_eq!(u64_at(&seg, root + 8), rows);
    let hashes_at = (root as i64
        + 16
        + i32::from_le_bytes(seg[root + 16..root + 20].try_into().unwrap()) as i64)
        as usize;
    let hashes_len = u32_at(&seg, root + 20) as usize;
    let flat_at = (root as i64
        + 24
        + i32::from_le_bytes(seg[root + 24..root + 28].try_into().unwrap()) as i64)
        as usize;
    assert_eq!(u32_at(&seg, root + 28) as usize, flat_len);
    assert_eq!(u32_at(&seg, root + 36), 0); // no bin counts kept
    let sizes_at = (root as i64 + 40 + i32_at(&seg, root + 40) as i64) as usize;
    assert_eq!(u32_at(&seg, root + 44) as usize, partitions);
    let sized: u64 = (0..partitions)
        .map(|i| u32_at(&seg, sizes_at + 4 * i) as u64)
        .sum();
    assert_eq!(sized, rows);
    assert_eq!(hashes_len, partitions * bands);
    let hashes: Vec<u64> = (0..hashes_len)
        .map(|i| u64_at(&seg, hashes_at + 8 * i))
        .collect();
    let flat: Vec<u64> = (0..flat_len)
        .map(|i| u64_at(&seg, flat_at + 8 * i))
        .collect();

    // §2.5: the fingerprint and the flattened set follow from the band hashes.
    let bytes: Vec<u8> = hashes.iter().flat_map(|h| h.to_le_bytes()).collect();
    assert_eq!(xxhash_rust::xxh3::xxh3_64(&bytes), fingerprint);
    let mut distinct = hashes.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct, flat);

    // The library reads the same sketch: re-sketching the source gives these hashes.
    let index = Index::open_read_only(&dir).unwrap();
    let source = data("weather_cities/sources/model_Mumbai_2016.csv");
    let sketch = index
        .sketch_file(&source, &InputOptions::default())
        .unwrap();
    assert_eq!(sketch.band_hashes, hashes);
    assert_eq!(sketch.rows, rows);

    // §4.3: the projection record, located by meta/projection.
    let loc = meta.get("projection").unwrap().unwrap().value().to_vec();
    let (p_off, p_len) = (u64_at(&loc, 4) as usize, u32_at(&loc, 12) as usize);
    let root = p_off + p_len - 16;
    let (dim, k) = (u32_at(&seg, root) as usize, u32_at(&seg, root + 4) as usize);
    assert_eq!(k, 4 * bands);
    assert_eq!(u32_at(&seg, root + 12) as usize, dim * k);
    let values_at =
        (root as i64 + 8 + i32::from_le_bytes(seg[root + 8..root + 12].try_into().unwrap()) as i64)
            as usize;
    let space = index.space().unwrap().unwrap();
    assert_eq!(space.dim(), dim);
    let regenerated = adaptdb::sketch::generate_projection(&Params::default(), &space);
    for i in [0, 1, dim * k / 2, dim * k - 1] {
        let stored = f32::from_le_bytes(
            seg[values_at + 4 * i..values_at + 4 * i + 4]
                .try_into()
                .unwrap(),
        );
        assert_eq!(stored.to_bits(), regenerated[i].to_bits());
    }
}
