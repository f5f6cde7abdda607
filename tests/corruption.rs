//! Damaged index files — zero-length, truncated, bit-flipped, or replaced by a foreign
//! file — give a clear error naming the damaged file, never a panic and never a silently
//! wrong answer. Every case starts from a copy of the golden index (tests/golden/index_v1).

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use adaptdb::{Index, InputOptions, SearchOptions};
use common::data;

fn copy_golden(dst: &Path) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/index_v1");
    std::fs::create_dir_all(dst.join("segments")).unwrap();
    std::fs::copy(src.join("catalog.redb"), dst.join("catalog.redb")).unwrap();
    for e in std::fs::read_dir(src.join("segments")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dst.join("segments").join(p.file_name().unwrap())).unwrap();
    }
}

/// Every target's ranking, or the first error's message.
fn answers(dir: &Path, writable: bool) -> Result<Vec<(String, f64)>, String> {
    if writable {
        // Page checksums are only checked on request (redb trusts pages otherwise).
        Index::check_catalog(dir).map_err(|e| e.to_string())?;
    }
    let index = if writable {
        Index::open(dir)
    } else {
        Index::open_read_only(dir)
    };
    let index = index.map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for t in ["target_Auckland_2017", "target_Mumbai_2016"] {
        let path = data("weather_cities/targets").join(format!("{t}.csv"));
        let options = SearchOptions {
            top_k: 10,
            ..SearchOptions::default()
        };
        let r = index.search_file(&path, &InputOptions::default(), &options);
        for m in r.map_err(|e| e.to_string())?.matches {
            out.push((m.model.name, m.adaptivity));
        }
    }
    let report = index.verify().map_err(|e| e.to_string())?;
    if let Some(p) = report.problems.first() {
        return Err(format!("{}: {}", p.file.display(), p.what));
    }
    Ok(out)
}

/// Applies `damage` to `file` (relative to the index) in a fresh copy, then checks that
/// reading the index either fails naming that file or answers exactly as before.
fn check(file: &str, damage: &dyn Fn(&mut Vec<u8>)) -> Outcome {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("index");
    copy_golden(&dir);
    let expected = answers(&dir, false).unwrap();
    let path: PathBuf = dir.join(file);
    let mut bytes = std::fs::read(&path).unwrap();
    damage(&mut bytes);
    std::fs::write(&path, &bytes).unwrap();
    let mut outcome = Outcome::Same;
    for writable in [false, true] {
        let result = catch_unwind(AssertUnwindSafe(|| answers(&dir, writable)));
        match result {
            Err(_) => panic!("{file}: reading a damaged index panicked (writable: {writable})"),
            Ok(Ok(got)) => assert_eq!(got, expected, "{file}: damage went unnoticed"),
            Ok(Err(message)) => {
                let name = Path::new(file).file_name().unwrap().to_str().unwrap();
                assert!(
                    message.contains(name),
                    "{file}: error does not name it: {message}"
                );
                outcome = Outcome::Refused;
            }
        }
    }
    outcome
}

#[derive(Debug, PartialEq)]
enum Outcome {
    Same,
    Refused,
}

const FILES: [&str; 2] = ["catalog.redb", "segments/00000001.seg"];

#[test]
fn zero_length_files_are_refused() {
    for file in FILES {
        assert_eq!(check(file, &|b| b.clear()), Outcome::Refused, "{file}");
    }
}

#[test]
fn truncated_files_are_refused() {
    for file in FILES {
        for keep in [1, 2, 3] {
            let outcome = check(file, &|b| b.truncate(b.len() * keep / 4));
            assert_eq!(outcome, Outcome::Refused, "{file} cut to {keep}/4");
        }
    }
}

#[test]
fn foreign_files_are_refused() {
    let csv = std::fs::read(data("weather_cities/ground_truth.csv")).unwrap();
    for file in FILES {
        assert_eq!(
            check(file, &|b| *b = csv.clone()),
            Outcome::Refused,
            "{file}"
        );
        let noise: Vec<u8> = (0..70_000u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        assert_eq!(
            check(file, &|b| *b = noise.clone()),
            Outcome::Refused,
            "{file}"
        );
    }
}

#[test]
fn bit_flips_are_detected_or_harmless() {
    for file in FILES {
        let len = std::fs::metadata(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/golden/index_v1")
                .join(file),
        )
        .unwrap()
        .len() as usize;
        let mut refused = 0;
        for i in 0..24 {
            let at = (i * 7919 * 97) % len;
            if check(file, &|b| b[at] ^= 1 << (i % 8)) == Outcome::Refused {
                refused += 1;
            }
        }
        // A flip in free space may be harmless; flips in live pages and records are not.
        assert!(refused > 0, "{file}: no flip was noticed");
    }
    let segment = "segments/00000001.seg";
    assert_eq!(
        check(segment, &|b| b[9] ^= 0x10),
        Outcome::Refused,
        "segment version"
    );
    assert_eq!(
        check(segment, &|b| b[0] ^= 0x01),
        Outcome::Refused,
        "segment magic"
    );
}

#[test]
fn an_empty_or_cut_short_catalogue_is_named_as_such() {
    for (len, what) in [
        (0usize, "the file is empty (0 bytes)"),
        (50_000, "truncated"),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("index");
        copy_golden(&dir);
        let catalog = dir.join("catalog.redb");
        let bytes = std::fs::read(&catalog).unwrap();
        std::fs::write(&catalog, &bytes[..len]).unwrap();
        for result in [Index::open_read_only(&dir), Index::open(&dir)] {
            let Err(err) = result else {
                panic!("a catalogue cut to {len} bytes was opened");
            };
            let message = err.to_string();
            assert!(
                message.contains("catalog.redb: corrupt: ") && message.contains(what),
                "{len}: {message}"
            );
        }
    }
}
