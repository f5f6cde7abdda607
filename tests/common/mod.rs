//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The repository's shipped data folder.
pub fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data").join(rel)
}

/// The `.csv` / `.csv.gz` files of a folder, by stem, sorted.
pub fn files(dir: &Path) -> Vec<(String, PathBuf)> {
    adaptdb::input::data_files(dir).unwrap()
}

/// Every file under `dir` with its length and XXH3-64, for asserting that nothing changed.
///
/// The catalogue is compared by content — every entry of every table, read through redb
/// directly — because redb rewrites its header and allocator state whenever a writable
/// handle opens and closes, even without a transaction.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (usize, u64)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let bytes = if p.file_name().unwrap() == "catalog.redb" {
                    catalog_dump(&p)
                } else {
                    std::fs::read(&p).unwrap()
                };
                let digest = (bytes.len(), xxhash_rust::xxh3::xxh3_64(&bytes));
                out.insert(p.strip_prefix(dir).unwrap().to_path_buf(), digest);
            }
        }
    }
    out
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Every entry of every catalogue table, in key order, as bytes.
pub fn catalog_dump(path: &Path) -> Vec<u8> {
    use redb::{MultimapTableDefinition, TableDefinition};
    use redb::{ReadableDatabase, ReadableMultimapTable, ReadableTable};
    let db = redb::Builder::new()
        .set_concurrency_mode(redb::ConcurrencyMode::SingleWriter)
        .open_read_only(path)
        .unwrap();
    let txn = db.begin_read().unwrap();
    let mut out = Vec::new();
    let meta: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
    for e in txn.open_table(meta).unwrap().iter().unwrap() {
        let (k, v) = e.unwrap();
        out.extend_from_slice(k.value().as_bytes());
        out.extend_from_slice(v.value());
    }
    for name in ["models", "minhash"] {
        let def: TableDefinition<u32, &[u8]> = TableDefinition::new(name);
        for e in txn.open_table(def).unwrap().iter().unwrap() {
            let (k, v) = e.unwrap();
            out.extend_from_slice(&k.value().to_le_bytes());
            out.extend_from_slice(v.value());
        }
    }
    let names: TableDefinition<(&str, &str), u32> = TableDefinition::new("names");
    for e in txn.open_table(names).unwrap().iter().unwrap() {
        let (k, v) = e.unwrap();
        let (n, ver) = k.value();
        out.extend_from_slice(format!("{n}\0{ver}\0{}", v.value()).as_bytes());
    }
    let segments: TableDefinition<u32, u64> = TableDefinition::new("segments");
    for e in txn.open_table(segments).unwrap().iter().unwrap() {
        let (k, v) = e.unwrap();
        out.extend_from_slice(&k.value().to_le_bytes());
        out.extend_from_slice(&v.value().to_le_bytes());
    }
    let fingerprints: MultimapTableDefinition<u64, u32> =
        MultimapTableDefinition::new("fingerprints");
    for e in txn
        .open_multimap_table(fingerprints)
        .unwrap()
        .iter()
        .unwrap()
    {
        let (k, values) = e.unwrap();
        out.extend_from_slice(&k.value().to_le_bytes());
        for v in values {
            out.extend_from_slice(&v.unwrap().value().to_le_bytes());
        }
    }
    let bands: MultimapTableDefinition<(u16, u64), u32> = MultimapTableDefinition::new("bands");
    for e in txn.open_multimap_table(bands).unwrap().iter().unwrap() {
        let (k, values) = e.unwrap();
        let (b, key) = k.value();
        out.extend_from_slice(&b.to_le_bytes());
        out.extend_from_slice(&key.to_le_bytes());
        for v in values {
            out.extend_from_slice(&v.unwrap().value().to_le_bytes());
        }
    }
    out
}

/// Flips bits of the byte at `offset` of `path` in place (XOR 0x5a).
pub fn flip_byte(path: &Path, offset: u64) {
    use std::os::unix::fs::FileExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mut b = [0u8; 1];
    file.read_exact_at(&mut b, offset).unwrap();
    file.write_all_at(&[b[0] ^ 0x5a], offset).unwrap();
}
