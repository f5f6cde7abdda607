//! Bad training or target data gets a clear error naming the file and the problem, and
//! leaves the index byte for byte as it was.

mod common;

use adaptdb::sketch::SketchError;
use adaptdb::{Error, Index, InputOptions, Params, Registration, SearchOptions};
use common::*;

const GOOD: &str = "a,b,label\n1,2,x\n3,4,y\n5,6,x\n7,8,y\n1,3,x\n2,2,y\n";

fn index_with_one_version(dir: &std::path::Path) -> std::path::PathBuf {
    let index_dir = dir.join("index");
    let index = Index::create(
        &index_dir,
        Params {
            partition_rows: 2,
            ..Params::default()
        },
    )
    .unwrap();
    let good = write(dir, "good.csv", GOOD);
    index
        .register_file(
            &Registration::new("m").version("1"),
            &good,
            &InputOptions::default(),
        )
        .unwrap();
    index_dir
}

/// Registers `text` as a new version and returns the error, checking the index is unchanged.
fn register_fails(name: &str, text: &str) -> (Error, String) {
    let dir = tempfile::tempdir().unwrap();
    let index_dir = index_with_one_version(dir.path());
    let before = snapshot(&index_dir);
    let path = write(dir.path(), name, text);
    let err = {
        let index = Index::open(&index_dir).unwrap();
        let reg = Registration::new("m").version("2");
        index
            .register_file(&reg, &path, &InputOptions::default())
            .unwrap_err()
    };
    assert_eq!(
        snapshot(&index_dir),
        before,
        "a failed registration changed the index files"
    );
    let index = Index::open_read_only(&index_dir).unwrap();
    assert_eq!(index.models().unwrap().len(), 1);
    let message = err.to_string();
    assert!(
        message.contains(name),
        "error does not name the file: {message}"
    );
    (err, message)
}

#[test]
fn ragged_row_is_refused_with_its_line() {
    let (_, msg) = register_fails("ragged.csv", "a,b,label\n1,2,x\n3,x\n");
    assert!(msg.contains("line 3"), "{msg}");
}

#[test]
fn nan_is_refused() {
    let (_, msg) = register_fails("nan.csv", "a,b,label\n1,2,x\nNaN,4,y\n");
    assert!(msg.contains("non-finite"), "{msg}");
    assert!(msg.contains("line 3") && msg.contains("\"a\""), "{msg}");
}

#[test]
fn text_in_a_feature_column_is_refused() {
    let (_, msg) = register_fails("text.csv", "a,b,label\n1,2,x\n3,four,y\n");
    assert!(msg.contains("\"four\" is not a number"), "{msg}");
}

#[test]
fn missing_feature_column_is_refused() {
    let (err, msg) = register_fails("missing.csv", "a,label\n1,x\n3,y\n");
    match err {
        Error::Sketch(SketchError::ColumnMismatch { missing, extra, .. }) => {
            assert_eq!(missing, vec!["b".to_string()]);
            assert!(extra.is_empty());
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(msg.contains("missing b"), "{msg}");
}

#[test]
fn extra_feature_column_is_refused() {
    let (err, _) = register_fails("extra.csv", "a,b,c,label\n1,2,3,x\n");
    assert!(matches!(
        err,
        Error::Sketch(SketchError::ColumnMismatch { ref extra, .. }) if extra == &["c".to_string()]
    ));
}

#[test]
fn empty_file_is_refused() {
    let (_, msg) = register_fails("empty.csv", "");
    assert!(msg.contains("empty"), "{msg}");
}

#[test]
fn header_without_rows_is_refused() {
    let (_, msg) = register_fails("header.csv", "a,b,label\n");
    assert!(msg.contains("no data rows"), "{msg}");
}

#[test]
fn a_bad_first_dataset_leaves_the_index_empty() {
    let dir = tempfile::tempdir().unwrap();
    let index_dir = dir.path().join("index");
    let index = Index::create(&index_dir, Params::default()).unwrap();
    let bad = write(dir.path(), "bad.csv", "a,b\n1,2\n3,nan\n");
    let reg = Registration::new("m");
    assert!(index
        .register_file(&reg, &bad, &InputOptions::default())
        .is_err());
    assert!(index.space().unwrap().is_none());
    assert!(index.models().unwrap().is_empty());
    let target = write(dir.path(), "t.csv", "a,b\n1,2\n");
    let err = index.search_file(&target, &InputOptions::default(), &SearchOptions::default());
    assert!(err.unwrap_err().to_string().contains("the index is empty"));
}

#[test]
fn bad_target_is_refused_by_search() {
    let dir = tempfile::tempdir().unwrap();
    let index_dir = index_with_one_version(dir.path());
    let index = Index::open_read_only(&index_dir).unwrap();
    let options = SearchOptions::default();
    let target = write(dir.path(), "target.csv", "a,z\n1,2\n");
    let err = index
        .search_file(&target, &InputOptions::default(), &options)
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("target.csv") && msg.contains("missing b") && msg.contains("z"),
        "{msg}"
    );
}

#[test]
fn duplicate_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let index_dir = index_with_one_version(dir.path());
    let before = snapshot(&index_dir);
    let good = write(dir.path(), "again.csv", GOOD);
    {
        let index = Index::open(&index_dir).unwrap();
        let reg = Registration::new("m").version("1");
        let err = index
            .register_file(&reg, &good, &InputOptions::default())
            .unwrap_err();
        assert_eq!(err.to_string(), "m@1 is already registered (model id 0)");
    }
    assert_eq!(snapshot(&index_dir), before);
}

#[test]
fn a_constant_first_dataset_is_refused_and_leaves_the_index_empty() {
    let dir = tempfile::tempdir().unwrap();
    let index = Index::create(dir.path().join("index"), Params::default()).unwrap();
    let rows: String = (0..300).map(|_| "1.5,7,0\n").collect();
    let path = write(dir.path(), "constant.csv", &format!("a,b,label\n{rows}"));
    let reg = Registration::new("m").version("1");
    let err = index
        .register_file(&reg, &path, &InputOptions::default())
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Sketch(SketchError::ConstantReference { rows: 300, .. })
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("constant.csv"), "{err}");
    assert!(index.models().unwrap().is_empty());
    assert!(index.space().unwrap().is_none());

    // One varied column is enough: the constant one gets a single bin.
    let rows: String = (0..300).map(|i| format!("1.5,{},0\n", i % 37)).collect();
    let path = write(dir.path(), "varied.csv", &format!("a,b,label\n{rows}"));
    index
        .register_file(&reg, &path, &InputOptions::default())
        .unwrap();
    let space = index.space().unwrap().unwrap();
    assert_eq!(space.columns()[0].bins(), 1);
    assert_eq!(space.columns()[1].bins(), 16);
    assert!(index.params().bucket_width > 0.0);
}

#[test]
fn a_csv_gz_that_is_not_gzip_is_named_as_such() {
    let (_, message) = register_fails("plain.csv.gz", "a,b,label\n1,2,x\n3,4,y\n");
    assert!(
        message.ends_with("plain.csv.gz: named .csv.gz but not gzip-compressed (no gzip header)"),
        "{message}"
    );
}
