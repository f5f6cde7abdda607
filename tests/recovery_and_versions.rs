//! What opening an index does with bytes no commit describes, and with a format version it
//! does not know (FORMAT.md §5, §9): a writer's open truncates every segment to its
//! committed length and deletes segment files created after the last committed one; any
//! open refuses a format version other than 1, in either direction, naming the file.

mod common;

use std::io::Write;
use std::path::Path;

use adaptdb::store::StoreError;
use adaptdb::{Error, Index, InputOptions, Params, Registration};
use common::*;
use redb::{ReadableDatabase, ReadableTable, TableDefinition};

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const SEGMENTS: TableDefinition<u32, u64> = TableDefinition::new("segments");

fn build(dir: &Path) {
    let index = Index::create(dir, Params::default()).unwrap();
    for (stem, path) in files(&data("weather_cities/sources")).into_iter().take(2) {
        let reg = Registration::new(stem).version("1");
        index
            .register_file(&reg, &path, &InputOptions::default())
            .unwrap();
    }
}

fn db(dir: &Path) -> redb::Database {
    redb::Builder::new()
        .set_concurrency_mode(redb::ConcurrencyMode::SingleWriter)
        .open(dir.join("catalog.redb"))
        .unwrap()
}

fn committed(dir: &Path) -> u64 {
    let db = db(dir);
    let txn = db.begin_read().unwrap();
    let table = txn.open_table(SEGMENTS).unwrap();
    let len = table.get(1).unwrap().unwrap().value();
    len
}

#[test]
fn a_writer_reclaims_segment_bytes_that_no_commit_points_at() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("index");
    build(&dir);
    let seg = dir.join("segments/00000001.seg");
    let len = committed(&dir);
    assert_eq!(std::fs::metadata(&seg).unwrap().len(), len);
    // What a crash mid-append leaves: bytes past the committed end, and a new segment.
    let mut f = std::fs::OpenOptions::new().append(true).open(&seg).unwrap();
    f.write_all(&[0xab; 5000]).unwrap();
    drop(f);
    let orphan = dir.join("segments/00000002.seg");
    std::fs::write(&orphan, b"ADBSEG\r\n half a header").unwrap();

    // Readers ignore them (they follow committed locations only) and change nothing.
    let reader = Index::open_read_only(&dir).unwrap();
    assert_eq!(reader.models().unwrap().len(), 2);
    drop(reader);
    assert_eq!(std::fs::metadata(&seg).unwrap().len(), len + 5000);
    assert!(orphan.exists());

    // The next writer reclaims them before anything else.
    let index = Index::open(&dir).unwrap();
    assert_eq!(std::fs::metadata(&seg).unwrap().len(), len);
    assert!(!orphan.exists());
    let report = index.verify().unwrap();
    assert!(report.is_ok() && report.notes.is_empty(), "{report:#?}");
}

#[test]
fn a_format_version_other_than_1_is_refused_in_either_direction() {
    for found in [0u32, 2, 7] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("index");
        build(&dir);
        {
            let db = db(&dir);
            let txn = db.begin_write().unwrap();
            txn.open_table(META)
                .unwrap()
                .insert("format_version", found.to_le_bytes().as_slice())
                .unwrap();
            txn.commit().unwrap();
        }
        let before = snapshot(&dir);
        for result in [Index::open(&dir), Index::open_read_only(&dir)] {
            let Err(err) = result else {
                panic!("format version {found} was opened");
            };
            assert!(
                matches!(
                    &err,
                    Error::Store(StoreError::FormatVersion { found: f, supported: 1, .. })
                        if *f == found
                ),
                "{err:?}"
            );
            assert!(err.to_string().contains("catalog.redb"), "{err}");
        }
        assert_eq!(snapshot(&dir), before, "a refused open changed the files");
    }
}

#[test]
fn a_foreign_catalogue_is_refused_before_any_segment_byte_is_reclaimed() {
    let tmp = tempfile::tempdir().unwrap();
    let (ours, theirs) = (tmp.path().join("ours"), tmp.path().join("theirs"));
    build(&ours);
    let other = Index::create(&theirs, Params::default()).unwrap();
    let (stem, path) = files(&data("image_digits/sources")).remove(0);
    other
        .register_file(&Registration::new(stem), &path, &InputOptions::default())
        .unwrap();
    drop(other);
    std::fs::copy(theirs.join("catalog.redb"), ours.join("catalog.redb")).unwrap();
    let segments: Vec<(std::path::PathBuf, Vec<u8>)> = std::fs::read_dir(ours.join("segments"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| (p.clone(), std::fs::read(&p).unwrap()))
        .collect();

    let Err(err) = Index::open(&ours) else {
        panic!("a foreign catalogue was opened for writing");
    };
    let message = err.to_string();
    assert!(message.contains("catalog.redb"), "{message}");
    assert!(
        message.contains("nothing was truncated or removed"),
        "{message}"
    );
    for (path, bytes) in &segments {
        assert_eq!(
            &std::fs::read(path).unwrap(),
            bytes,
            "{} changed",
            path.display()
        );
    }
}

#[test]
fn an_index_is_not_created_over_segment_files_that_lost_their_catalogue() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("index");
    build(&dir);
    std::fs::remove_file(dir.join("catalog.redb")).unwrap();
    let seg = dir.join("segments/00000001.seg");
    let before = std::fs::read(&seg).unwrap();
    let Err(err) = Index::create(&dir, Params::default()) else {
        panic!("an index was created over orphaned segments");
    };
    assert!(
        err.to_string()
            .contains("refusing to create an index over them"),
        "{err}"
    );
    assert_eq!(std::fs::read(&seg).unwrap(), before);
    assert!(!dir.join("catalog.redb").exists());
}
