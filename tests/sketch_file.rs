//! Portable sketch files (src/sketch/file.rs, FORMAT.md §11) on the shipped weather data:
//! exact round trips, registering a sketch file like the data, merging shard sketches,
//! refusing another spec, and errors (never panics) on damaged or foreign files.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use adaptdb::sketch::file::{self, SketchFileError};
use adaptdb::sketch::{spec_fingerprint, SketchError};
use adaptdb::{Error, Index, InputOptions, Params, Registration, SearchOptions};
use common::*;

fn adaptdb(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_adaptdb"));
    for a in args {
        cmd.arg(a);
    }
    cmd.env("RUST_BACKTRACE", "0").output().unwrap()
}

fn ok(out: Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn sources() -> Vec<(String, PathBuf)> {
    files(&data("weather_cities/sources"))
}

/// An index with every weather source registered from its data, as version "1".
fn full_index(dir: &Path, params: Params) -> Index {
    let index = Index::create(dir, params).unwrap();
    for (name, path) in sources() {
        let reg = Registration::new(name).version("1");
        index
            .register_file(&reg, &path, &InputOptions::default())
            .unwrap();
    }
    index
}

fn spec_of(index: &Index) -> u64 {
    let space = index.space().unwrap().unwrap();
    spec_fingerprint(&index.params(), &space)
}

fn rankings(index: &Index) -> Vec<Vec<(String, f64)>> {
    let options = SearchOptions {
        top_k: 100,
        ..SearchOptions::default()
    };
    files(&data("weather_cities/targets"))
        .iter()
        .map(|(_, t)| {
            let r = index
                .search_file(t, &InputOptions::default(), &options)
                .unwrap();
            r.matches
                .iter()
                .map(|m| (m.model.name.clone(), m.adaptivity))
                .collect()
        })
        .collect()
}

#[test]
fn a_sketch_file_round_trips_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let index = full_index(&dir.path().join("a"), Params::default());
    let spec = spec_of(&index);
    assert_eq!(file::index_spec(&index).unwrap().unwrap().0, spec);
    for (name, path) in sources().iter().take(3) {
        let sketch = index.sketch_file(path, &InputOptions::default()).unwrap();
        let out = dir.path().join(format!("{name}.sketch"));
        file::write_sketch(&out, &sketch, spec).unwrap();
        let (back, back_spec) = file::read_sketch(&out).unwrap();
        assert_eq!(back, sketch);
        assert_eq!(back_spec, spec);
        let bytes = std::fs::read(&out).unwrap();
        assert_eq!(&bytes[..8], b"ADBSKCH\n");
        // Readable by whoever it is shipped to, not private like a temporary file.
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644);
        assert_eq!(bytes, file::encode(&sketch, spec));
        // Overwriting is atomic and leaves no temporary file behind.
        file::write_sketch(&out, &sketch, spec).unwrap();
    }
    let sketch = index
        .sketch_file(&sources()[0].1, &InputOptions::default())
        .unwrap();
    let nowhere = dir.path().join("no-such-dir/x.sketch");
    let err = file::write_sketch(&nowhere, &sketch, spec).unwrap_err();
    let want = format!(
        "{}: its directory {} does not exist",
        nowhere.display(),
        nowhere.parent().unwrap().display()
    );
    assert_eq!(err.to_string(), want);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn registering_sketch_files_equals_registering_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let a_dir = dir.path().join("a");
    let b_dir = dir.path().join("b");
    let reference = full_index(&a_dir, Params::default());
    let want_models = reference.models().unwrap();
    let want = rankings(&reference);
    drop(reference);
    let list = sources();
    // Index b: the first source from its data (it fixes the same space), the others from
    // sketch files made against index a by the CLI.
    let (first, first_path) = &list[0];
    ok(adaptdb(&[
        &"register",
        &b_dir,
        first_path,
        &"--name",
        first,
        &"--version",
        &"1",
    ]));
    for (name, path) in &list[1..] {
        let sk = dir.path().join(format!("{name}.sketch"));
        ok(adaptdb(&[&"sketch", &a_dir, path, &"-o", &sk]));
        ok(adaptdb(&[
            &"register",
            &b_dir,
            &"--sketch",
            &sk,
            &"--name",
            name,
            &"--version",
            &"1",
        ]));
    }
    let b = Index::open(&b_dir).unwrap();
    let got_models = b.models().unwrap();
    assert_eq!(got_models.len(), want_models.len());
    for (g, w) in got_models.iter().zip(&want_models) {
        assert_eq!((&g.name, &g.version), (&w.name, &w.version));
        assert_eq!(g.fingerprint, w.fingerprint, "{}", g.name);
        assert_eq!(
            (g.rows, g.partitions, g.flat_len),
            (w.rows, w.partitions, w.flat_len)
        );
    }
    assert_eq!(rankings(&b), want);
    assert!(b.verify().unwrap().is_ok());
}

/// Writes the header and the given row ranges of `src` as shard files in `dir`.
fn split(src: &Path, dir: &Path, cuts: &[usize]) -> Vec<PathBuf> {
    let text = std::fs::read_to_string(src).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let rows: Vec<&str> = lines.filter(|l| !l.is_empty()).collect();
    let mut bounds = vec![0];
    bounds.extend_from_slice(cuts);
    bounds.push(rows.len());
    bounds
        .windows(2)
        .enumerate()
        .map(|(i, w)| {
            let body = rows[w[0]..w[1]].join("\n");
            write(
                dir,
                &format!("shard{i}.csv"),
                &format!("{header}\n{body}\n"),
            )
        })
        .collect()
}

#[test]
fn merged_shard_sketches_equal_the_sharded_sketch_of_the_whole_file() {
    let dir = tempfile::tempdir().unwrap();
    let a_dir = dir.path().join("a");
    let index = full_index(&a_dir, Params::default());
    let sketcher = index.sketcher().unwrap().unwrap();
    drop(index);
    let (_, whole) = &sources()[4];
    // 175 rows: shards of 64, 64 and 47 rows, and of 128 and 47.
    for (shard_rows, cuts) in [(64usize, vec![64usize, 128]), (128, vec![128])] {
        let sub = dir.path().join(format!("s{shard_rows}"));
        std::fs::create_dir(&sub).unwrap();
        let shards = split(whole, &sub, &cuts);
        assert_eq!(shards.len(), cuts.len() + 1);
        let n = shard_rows.to_string();
        let sharded = sub.join("sharded.sketch");
        ok(adaptdb(&[
            &"sketch",
            &a_dir,
            whole,
            &"-o",
            &sharded,
            &"--shard-rows",
            &n,
        ]));
        // The shard files as shards of one command, and sketched one by one then merged.
        let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"sketch", &a_dir];
        for s in &shards {
            args.push(s);
        }
        let together = sub.join("together.sketch");
        args.extend([&"-o" as &dyn AsRef<std::ffi::OsStr>, &together]);
        ok(adaptdb(&args));
        let singles: Vec<PathBuf> = shards.iter().map(|s| s.with_extension("sketch")).collect();
        for (s, out) in shards.iter().zip(&singles) {
            ok(adaptdb(&[&"sketch", &a_dir, s, &"-o", out]));
        }
        let merged = sub.join("merged.sketch");
        let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"sketch", &"--merge"];
        for s in &singles {
            args.push(s);
        }
        args.extend([&"-o" as &dyn AsRef<std::ffi::OsStr>, &merged]);
        ok(adaptdb(&args));

        let (a, spec_a) = file::read_sketch(&sharded).unwrap();
        let (b, spec_b) = file::read_sketch(&together).unwrap();
        let (c, spec_c) = file::read_sketch(&merged).unwrap();
        assert_eq!(a, b, "shard rows {shard_rows}");
        assert_eq!(a, c, "shard rows {shard_rows}");
        assert_eq!((spec_a, spec_b), (spec_c, spec_c));
        assert_eq!(a.rows, 175);
        assert_eq!(a.minhash, sketcher.minhasher().signature(&a.flat));
        assert_eq!(a.sizes, vec![64, 64, 47]);
        // The library path agrees with the files.
        let parts: Vec<_> = singles
            .iter()
            .map(|s| file::read_sketch(s).unwrap().0)
            .collect();
        assert_eq!(file::merge(&parts).unwrap(), a);
        let frame = adaptdb::input::read_all(whole, &InputOptions::default()).unwrap();
        let codes = adaptdb::sketch::bin_frame(sketcher.space(), &frame).unwrap();
        let lib = file::sketch_sharded(&sketcher, &codes, frame.rows, shard_rows).unwrap();
        assert_eq!(lib, a);
    }
    // One shard as large as the file is the plain sketch.
    let frame = adaptdb::input::read_all(whole, &InputOptions::default()).unwrap();
    let codes = adaptdb::sketch::bin_frame(sketcher.space(), &frame).unwrap();
    let one = file::sketch_sharded(&sketcher, &codes, frame.rows, 1000).unwrap();
    assert_eq!(one, sketcher.sketch_codes(&codes, frame.rows));
    assert!(file::merge(&[]).is_err());
}

#[test]
fn a_sketch_of_another_spec_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let a_dir = dir.path().join("a");
    let c_dir = dir.path().join("c");
    let a = full_index(&a_dir, Params::default());
    let spec_a = spec_of(&a);
    drop(a);
    let (first, first_path) = &sources()[0];
    let c = Index::create(
        &c_dir,
        Params {
            seed: 12345,
            ..Params::default()
        },
    )
    .unwrap();
    c.register_file(
        &Registration::new(first.clone()),
        first_path,
        &InputOptions::default(),
    )
    .unwrap();
    let spec_c = spec_of(&c);
    assert_ne!(spec_a, spec_c);
    let (name, path) = &sources()[1];
    let sk = dir.path().join("other.sketch");
    ok(adaptdb(&[&"sketch", &a_dir, path, &"-o", &sk]));
    let message = format!(
        "{}: sketch file spec {spec_a:016x} differs from the index's spec {spec_c:016x} \
         (other parameters or sample space); sketch the data against this index",
        sk.display()
    );
    let err = file::register_sketch_file(&c, &Registration::new(name.clone()), &sk).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Sketch(SketchError::File(SketchFileError::SpecMismatch { .. }))
        ),
        "{err:?}"
    );
    assert_eq!(err.to_string(), message);
    assert_eq!(c.models().unwrap().len(), 1);
    drop(c);
    let before = snapshot(&c_dir);
    let out = adaptdb(&[&"register", &c_dir, &"--sketch", &sk, &"--name", name]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim_end(),
        format!("error: registering {name}: {message}")
    );
    assert_eq!(snapshot(&c_dir), before);
    // Merging sketch files of two specs is refused too.
    let c_sk = dir.path().join("c.sketch");
    ok(adaptdb(&[&"sketch", &c_dir, path, &"-o", &c_sk]));
    let merged = dir.path().join("m.sketch");
    let out = adaptdb(&[&"sketch", &"--merge", &sk, &c_sk, &"-o", &merged]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&c_sk.display().to_string()), "{stderr}");
    assert!(stderr.contains("first file's spec"), "{stderr}");
    assert!(!merged.exists());
}

/// Reads `bytes` written to a file: must be an error naming the file, never a panic.
fn refused(dir: &Path, label: &str, bytes: &[u8]) -> String {
    let path = dir.join(format!("{label}.sketch"));
    std::fs::write(&path, bytes).unwrap();
    let err = file::read_sketch(&path).expect_err(label);
    let text = err.to_string();
    assert!(
        text.starts_with(&path.display().to_string()),
        "{label}: {text}"
    );
    text
}

#[test]
fn damaged_and_foreign_files_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let a_dir = dir.path().join("a");
    let index = full_index(&a_dir, Params::default());
    let spec = spec_of(&index);
    let (_, path) = &sources()[2];
    let sketch = index.sketch_file(path, &InputOptions::default()).unwrap();
    let good = file::encode(&sketch, spec);
    let d = dir.path();

    assert!(refused(d, "empty", &[]).contains("empty file"));
    assert!(refused(d, "csv", b"a,b\n1,2\n").contains("not an adaptdb sketch file"));
    let catalog = std::fs::read(a_dir.join("catalog.redb")).unwrap();
    assert!(refused(d, "catalog", &catalog).contains("not an adaptdb sketch file"));
    let mut v2 = good.clone();
    v2[8] = 2;
    assert!(refused(d, "v2", &v2).contains("format version 2"));
    // Every truncation.
    let step = (good.len() / 400).max(1);
    for cut in (1..good.len()).step_by(step).chain([good.len() - 1]) {
        let text = refused(d, "cut", &good[..cut]);
        assert!(
            text.contains("truncated") || text.contains("not an adaptdb sketch file"),
            "cut {cut}: {text}"
        );
    }
    // Bit flips anywhere, the checksum included.
    for pos in (0..good.len()).step_by(step).chain([good.len() - 1]) {
        let mut bad = good.clone();
        bad[pos] ^= 0x10;
        refused(d, "flip", &bad);
    }
    // A consistent checksum over inconsistent content: malformed, without huge allocations.
    let reseal = |mut body: Vec<u8>| {
        body.truncate(body.len() - 8);
        let sum = xxhash_rust::xxh3::xxh3_64(&body);
        body.extend_from_slice(&sum.to_le_bytes());
        body
    };
    let mut huge = good.clone();
    huge[30..34].copy_from_slice(&u32::MAX.to_le_bytes());
    huge[34..38].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(refused(d, "huge", &reseal(huge)).contains("malformed"));
    let mut rows = good.clone();
    rows[20] ^= 1;
    assert!(refused(d, "rows", &reseal(rows)).contains("sizes sum"));
    let flat_at = file::HEADER_LEN + sketch.sizes.len() * 4 + sketch.band_hashes.len() * 8;
    let mut flat = good.clone();
    flat[flat_at] ^= 1;
    assert!(refused(d, "flat", &reseal(flat)).contains("flattened set"));
    let mut extra = good.clone();
    extra.truncate(extra.len() - 8);
    extra.extend_from_slice(&[0; 4]);
    extra.extend_from_slice(&[0; 8]);
    assert!(refused(d, "extra", &reseal(extra)).contains("malformed"));
    let missing = d.join("missing.sketch");
    let err = file::read_sketch(&missing).unwrap_err();
    assert!(err.to_string().starts_with(&missing.display().to_string()));

    // The CLI reports the same errors and leaves the index as it was.
    drop(index);
    let before = snapshot(&a_dir);
    for label in ["empty", "csv", "cut", "flip", "huge"] {
        let p = d.join(format!("{label}.sketch"));
        let out = adaptdb(&[&"register", &a_dir, &"--sketch", &p, &"--name", &"x"]);
        assert_eq!(out.status.code(), Some(1), "{label}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&p.display().to_string()),
            "{label}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{label}: {stderr}");
        let out = adaptdb(&[&"sketch", &"--merge", &p, &"-o", &d.join("m.sketch")]);
        assert_eq!(out.status.code(), Some(1), "{label}");
    }
    assert_eq!(snapshot(&a_dir), before);
}
