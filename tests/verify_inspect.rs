//! `Index::verify` and `Index::inspect` (FORMAT.md §6, §3, §4) on an index of the shipped
//! weather sources: exact figures on a healthy index, then one kind of damage at a time
//! and the exact problem it must produce; and the `verify` / `inspect` subcommands.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use adaptdb::store::{ModelRef, Problem};
use adaptdb::{Index, InputOptions, ModelVersion, Params, Registration};
use common::*;
use redb::{
    MultimapTableDefinition, ReadableDatabase, ReadableMultimapTable, ReadableTable,
    TableDefinition,
};

const MODELS: usize = 10;
/// MinHash band tables under the default parameters (K_m / r_m = 256 / 2).
const BAND_TABLES: usize = 128;

/// Registers the ten weather sources as `{stem}@1` and returns what was registered.
fn build(dir: &Path) -> Vec<ModelVersion> {
    let index = Index::create(dir, Params::default()).unwrap();
    files(&data("weather_cities/sources"))
        .into_iter()
        .map(|(name, path)| {
            let reg = Registration::new(name).version("1");
            let registered = index
                .register_file(&reg, &path, &InputOptions::default())
                .unwrap();
            registered.model
        })
        .collect()
}

fn segment(dir: &Path) -> PathBuf {
    dir.join("segments").join("00000001.seg")
}

fn catalog(dir: &Path) -> PathBuf {
    dir.join("catalog.redb")
}

fn committed_length(dir: &Path) -> u64 {
    let db = redb::Builder::new()
        .set_concurrency_mode(redb::ConcurrencyMode::SingleWriter)
        .open_read_only(catalog(dir))
        .unwrap();
    let txn = db.begin_read().unwrap();
    let segments: TableDefinition<u32, u64> = TableDefinition::new("segments");
    let table = txn.open_table(segments).unwrap();
    let len = table.get(1).unwrap().unwrap().value();
    len
}

fn padding_in_meta(dir: &Path) -> u64 {
    let db = redb::Builder::new()
        .set_concurrency_mode(redb::ConcurrencyMode::SingleWriter)
        .open_read_only(catalog(dir))
        .unwrap();
    let txn = db.begin_read().unwrap();
    let meta: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
    let table = txn.open_table(meta).unwrap();
    let bytes = table.get("padding").unwrap().unwrap().value().to_vec();
    u64::from_le_bytes(bytes.try_into().unwrap())
}

fn verify(dir: &Path) -> adaptdb::store::VerifyReport {
    Index::open_read_only(dir).unwrap().verify().unwrap()
}

fn only_problem(report: &adaptdb::store::VerifyReport) -> &Problem {
    assert_eq!(report.problems.len(), 1, "{:#?}", report.problems);
    &report.problems[0]
}

#[test]
fn healthy_index_verifies_with_exact_counts() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    for index in [
        Index::open_read_only(dir.path()).unwrap(),
        Index::open(dir.path()).unwrap(),
    ] {
        let report = index.verify().unwrap();
        assert!(report.is_ok(), "{:#?}", report.problems);
        assert_eq!(report.models, MODELS);
        assert_eq!(report.records, MODELS + 1);
        assert_eq!(report.band_entries, MODELS * BAND_TABLES);
        assert_eq!(report.segments, 1);
        assert!(report.notes.is_empty(), "{:?}", report.notes);
    }
}

#[test]
fn empty_index_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let index = Index::create(dir.path(), Params::default()).unwrap();
    let report = index.verify().unwrap();
    assert!(report.is_ok(), "{:#?}", report.problems);
    assert_eq!(
        (report.models, report.records, report.band_entries),
        (0, 0, 0)
    );
}

#[test]
fn flipped_byte_in_a_sketch_record_is_a_checksum_problem_of_that_record() {
    let dir = tempfile::tempdir().unwrap();
    let models = build(dir.path());
    let loc = models[4].location;
    flip_byte(&segment(dir.path()), loc.offset + loc.len as u64 / 2);

    let report = verify(dir.path());
    let p = only_problem(&report);
    assert_eq!(p.file, segment(dir.path()));
    assert!(
        p.what.starts_with("the sketch record of model 4: "),
        "{}",
        p.what
    );
    assert!(
        p.what
            .contains(&format!("record at offset {} ", loc.offset)),
        "{}",
        p.what
    );
    assert!(p.what.contains("checksum"), "{}", p.what);
    assert_eq!(report.records, MODELS + 1);
    assert_eq!(report.band_entries, MODELS * BAND_TABLES);
}

#[test]
fn flipped_byte_in_the_projection_record_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    // The projection is the first record, right after the 32-byte header.
    flip_byte(&segment(dir.path()), 32 + 1000);
    let report = verify(dir.path());
    let p = only_problem(&report);
    assert_eq!(p.file, segment(dir.path()));
    assert!(
        p.what
            .starts_with("the projection record: record at offset 32 "),
        "{}",
        p.what
    );
    assert!(p.what.contains("checksum"), "{}", p.what);
}

#[test]
fn garbage_past_the_committed_end_is_a_note_not_a_problem() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    let committed = committed_length(dir.path());
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(segment(dir.path()))
        .unwrap();
    f.write_all(&[0xab; 100]).unwrap();
    drop(f);

    let report = verify(dir.path());
    assert!(report.is_ok(), "{:#?}", report.problems);
    assert_eq!(report.records, MODELS + 1);
    assert_eq!(report.notes.len(), 1, "{:?}", report.notes);
    let want = format!(
        "{}: 100 bytes past the committed length {committed} ",
        segment(dir.path()).display()
    );
    assert!(report.notes[0].starts_with(&want), "{}", report.notes[0]);
}

#[test]
fn deleted_band_entry_is_reported_as_missing() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    let bands: MultimapTableDefinition<(u16, u64), u32> = MultimapTableDefinition::new("bands");
    let (band, key, id) = {
        let db = redb::Builder::new()
            .set_concurrency_mode(redb::ConcurrencyMode::SingleWriter)
            .open(catalog(dir.path()))
            .unwrap();
        let txn = db.begin_write().unwrap();
        let victim = {
            let mut table = txn.open_multimap_table(bands).unwrap();
            let victim = {
                let (k, mut v) = table.iter().unwrap().nth(17).unwrap().unwrap();
                let (band, key) = k.value();
                (band, key, v.next().unwrap().unwrap().value())
            };
            assert!(table.remove((victim.0, victim.1), victim.2).unwrap());
            victim
        };
        txn.commit().unwrap();
        victim
    };

    let report = verify(dir.path());
    let p = only_problem(&report);
    assert_eq!(p.file, catalog(dir.path()));
    assert_eq!(
        p.what,
        format!(
            "bands: 1 entry missing (recomputed from the stored signatures): \
             band {band} key {key:#018x} → model {id}"
        )
    );
    assert_eq!(report.band_entries, MODELS * BAND_TABLES - 1);
}

#[test]
fn segment_truncated_below_its_committed_length_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let models = build(dir.path());
    let committed = committed_length(dir.path());
    let last = models.last().unwrap();
    assert_eq!(last.location.offset + last.location.len as u64, committed);
    let short = committed - 8;
    std::fs::OpenOptions::new()
        .write(true)
        .open(segment(dir.path()))
        .unwrap()
        .set_len(short)
        .unwrap();

    let report = verify(dir.path());
    assert_eq!(report.problems.len(), 2, "{:#?}", report.problems);
    let seg = segment(dir.path());
    assert_eq!(
        report.problems[0],
        Problem {
            file: seg.clone(),
            what: format!(
                "file has {short} bytes, but the catalogue committed {committed} (8 bytes missing)"
            ),
        }
    );
    assert_eq!(report.problems[1].file, seg);
    assert_eq!(
        report.problems[1].what,
        format!(
            "the sketch record of model {}: file has {short} bytes, a committed record ends at \
             {committed}",
            last.id
        )
    );
}

#[test]
fn unlisted_segment_files_are_problems_except_the_next_one() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    let header = std::fs::read(segment(dir.path())).unwrap()[..32].to_vec();
    let next = dir.path().join("segments").join("00000002.seg");
    let stray = dir.path().join("segments").join("00000007.seg");
    std::fs::write(&next, &header).unwrap();
    std::fs::write(&stray, &header).unwrap();

    let report = verify(dir.path());
    let p = only_problem(&report);
    assert_eq!(p.file, stray);
    assert_eq!(
        p.what,
        "segment file not listed in the catalogue's segments table"
    );
    assert_eq!(report.notes.len(), 1, "{:?}", report.notes);
    assert!(report.notes[0].starts_with(&format!(
        "{}: segment 2 is not committed yet",
        next.display()
    )));
}

#[test]
fn inspect_reports_exact_figures() {
    let dir = tempfile::tempdir().unwrap();
    let models = build(dir.path());
    let index = Index::open_read_only(dir.path()).unwrap();
    let r = index.inspect().unwrap();

    assert_eq!(r.format_version, 1);
    // The first registration calibrated the bucket width; everything else is the default.
    assert!(r.params.bucket_width > 1.0 && r.params.bucket_width < 3.0);
    // … from the noise floor it measured: r = κ₄ · √(2t / ln 2) with t = 2 × the floor.
    let c = r.calibration.expect("calibrated by the first registration");
    assert!(c.noise_floor > 0.01 && c.noise_floor < 0.06, "{c:?}");
    assert_eq!(c.js_threshold, 2.0 * c.noise_floor);
    assert_eq!(c.bucket_width, r.params.bucket_width);
    let kappa4 = 5.015;
    let want = kappa4 * (2.0 * c.js_threshold / std::f64::consts::LN_2).sqrt();
    assert!(
        (c.bucket_width - want).abs() < 2e-3 * want,
        "{c:?} vs {want}"
    );
    assert!(c.match_bands > 1 && c.match_bands < 512, "{c:?}");
    assert_eq!(
        r.params,
        Params {
            bucket_width: r.params.bucket_width,
            ..Params::default()
        }
    );
    assert_eq!(r.models, MODELS as u64);
    assert_eq!(r.next_model, MODELS as u32);
    assert_eq!(r.padding, padding_in_meta(dir.path()));
    assert!(models.iter().all(|m| m.flat_len as u64 <= r.padding));

    assert_eq!(r.segments.len(), 1);
    let seg = &r.segments[0];
    let file_len = std::fs::metadata(segment(dir.path())).unwrap().len();
    assert_eq!(
        (seg.id, seg.committed, seg.file_len),
        (1, committed_length(dir.path()), Some(file_len))
    );
    assert_eq!(seg.path, segment(dir.path()));

    let space = r.space.as_ref().unwrap();
    assert_eq!(
        space.dim,
        space.columns.iter().map(|(_, b)| b).sum::<usize>()
    );
    assert!(space.bins_min <= space.bins_median && space.bins_median <= space.bins_max);
    assert!(space.bins_max <= 16);
    let projection = r.projection.unwrap();
    assert_eq!((projection.segment, projection.offset), (1, 32));
    // D × K f32 values plus the 16-byte root.
    assert_eq!(projection.len as usize, space.dim * 2048 * 4 + 16);

    let b = &r.bands;
    assert_eq!(b.tables, BAND_TABLES);
    assert_eq!(b.entries, (MODELS * BAND_TABLES) as u64);
    assert_eq!(b.histogram.len(), 6);
    assert_eq!(
        b.histogram.iter().map(|c| c.buckets).sum::<u64>(),
        b.buckets
    );
    assert_eq!(
        b.histogram.iter().map(|c| c.entries).sum::<u64>(),
        b.entries
    );
    assert_eq!(b.histogram[0].buckets, b.histogram[0].entries);
    assert_eq!(b.histogram[1].entries, 2 * b.histogram[1].buckets);
    // Every (band, key) bucket, counted through redb directly.
    let distinct = {
        let db = redb::Builder::new()
            .set_concurrency_mode(redb::ConcurrencyMode::SingleWriter)
            .open_read_only(catalog(dir.path()));
        drop(index);
        let db = db.unwrap();
        let txn = db.begin_read().unwrap();
        let def: MultimapTableDefinition<(u16, u64), u32> = MultimapTableDefinition::new("bands");
        let table = txn.open_multimap_table(def).unwrap();
        let n = table.iter().unwrap().count() as u64;
        n
    };
    assert_eq!(b.buckets, distinct);
    assert!(b.buckets >= BAND_TABLES as u64 && b.buckets <= b.entries);
    assert_eq!(b.largest.len(), 10);
    assert!(b.largest.windows(2).all(|w| w[0].size >= w[1].size));
    let biggest_class = b.histogram.iter().rposition(|c| c.buckets > 0).unwrap();
    let bounds = [(1, 1), (2, 2), (3, 4), (5, 8), (9, 16), (17, u64::MAX)];
    let (lo, hi) = bounds[biggest_class];
    assert!((lo..=hi).contains(&b.largest[0].size));
}

#[test]
fn inspect_model_shows_the_registered_sketch() {
    let dir = tempfile::tempdir().unwrap();
    let models = build(dir.path());
    let index = Index::open_read_only(dir.path()).unwrap();
    let padding = padding_in_meta(dir.path());
    for (m, (_, path)) in models.iter().zip(files(&data("weather_cities/sources"))) {
        let by_id = index.inspect_model(&ModelRef::Id(m.id)).unwrap().unwrap();
        let by_label = index
            .inspect_model(&ModelRef::Label {
                name: m.name.clone(),
                version: "1".into(),
            })
            .unwrap()
            .unwrap();
        assert_eq!(by_id.model, *m);
        assert_eq!(by_label.model, *m);
        assert_eq!(by_id.record_model, m.id);
        assert_eq!(by_id.partitions, m.partitions as usize);
        assert_eq!(by_id.rows, m.rows);
        assert_eq!(by_id.bands, 512);
        assert_eq!(by_id.flat_len, m.flat_len as usize);
        assert_eq!(by_id.padding, padding);
        // The quoted values are the sketch's own, recomputed from the data.
        let sketch = index.sketch_file(&path, &InputOptions::default()).unwrap();
        assert_eq!(by_id.band_hashes.len(), sketch.partitions());
        for (p, quoted) in by_id.band_hashes.iter().enumerate() {
            assert_eq!(quoted.as_slice(), &sketch.partition(p)[..8]);
        }
        assert_eq!(by_id.minhash_size, 256);
        assert_eq!(by_id.minhash.as_slice(), &sketch.minhash[..8]);
        assert_eq!(by_id.band_keys.len(), BAND_TABLES);
        for (i, b) in by_id.band_keys.iter().enumerate() {
            assert_eq!(b.band as usize, i);
            assert!(b.size >= 1, "model {} band {i} has no entry", m.id);
        }
    }
    assert!(index.inspect_model(&ModelRef::Id(99)).unwrap().is_none());
    let unknown = ModelRef::Label {
        name: "model_Mumbai_2016".into(),
        version: "2".into(),
    };
    assert!(index.inspect_model(&unknown).unwrap().is_none());
}

fn adaptdb(args: &[&str]) -> (i32, serde_json::Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_adaptdb"))
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .env_remove("ADAPTDB_LOG")
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let json = serde_json::from_str(&stdout).unwrap_or(serde_json::Value::Null);
    let stderr = String::from_utf8(out.stderr).unwrap();
    (out.status.code().unwrap(), json, stderr)
}

#[test]
fn cli_verify_exit_status_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let models = build(dir.path());
    let d = dir.path().to_str().unwrap();

    let (code, json, _) = adaptdb(&["verify", d, "--json"]);
    assert_eq!(code, 0);
    assert_eq!(json["ok"], true);
    assert_eq!(json["models"], MODELS);
    assert_eq!(json["records"], MODELS + 1);
    assert_eq!(json["band_entries"], MODELS * BAND_TABLES);
    assert_eq!(json["problems"].as_array().unwrap().len(), 0);
    assert_eq!(
        json["notes"],
        serde_json::json!(["catalogue page checksums verified"])
    );

    let loc = models[2].location;
    flip_byte(&segment(dir.path()), loc.offset + 40);
    let (code, json, _) = adaptdb(&["verify", d, "--json"]);
    assert_eq!(code, 1, "problems found");
    assert_eq!(json["ok"], false);
    let problems = json["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1);
    assert_eq!(
        problems[0]["file"],
        segment(dir.path()).display().to_string()
    );
    let what = problems[0]["what"].as_str().unwrap();
    assert!(what.starts_with("the sketch record of model 2: "), "{what}");

    let out = Command::new(env!("CARGO_BIN_EXE_adaptdb"))
        .args(["verify", d])
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "problems found");
    let text = String::from_utf8(out.stdout).unwrap();
    let line = format!(
        "{}: the sketch record of model 2: ",
        segment(dir.path()).display()
    );
    assert!(text.lines().any(|l| l.starts_with(&line)), "{text}");
    assert!(text.lines().any(|l| l == "1 problem found"), "{text}");

    let missing = dir.path().join("nothing-here");
    let (code, _, stderr) = adaptdb(&["verify", missing.to_str().unwrap()]);
    assert_eq!(code, 2, "the check could not run");
    assert!(stderr.contains("not an adaptdb index"), "{stderr}");
}

#[test]
fn cli_inspect_json_and_model_view() {
    let dir = tempfile::tempdir().unwrap();
    let models = build(dir.path());
    let d = dir.path().to_str().unwrap();

    let (code, json, _) = adaptdb(&["inspect", d, "--json"]);
    assert_eq!(code, 0);
    assert_eq!(json["models"], MODELS);
    assert_eq!(json["next_model"], MODELS);
    assert_eq!(json["format_version"], 1);
    assert_eq!(json["padding"], padding_in_meta(dir.path()));
    assert_eq!(json["segments"].as_array().unwrap().len(), 1);
    assert_eq!(json["bands"]["entries"], MODELS * BAND_TABLES);
    assert_eq!(json["params"]["bands"], 512);

    let m = &models[6];
    let label = format!("{}@{}", m.name, m.version);
    let (code, json, _) = adaptdb(&["inspect", d, "--model", &label, "--json"]);
    assert_eq!(code, 0);
    assert_eq!(json["model"]["id"], m.id);
    assert_eq!(json["model"]["partitions"], m.partitions);
    assert_eq!(json["sketch"]["partitions"], m.partitions);
    assert_eq!(json["sketch"]["rows"], m.rows);
    assert_eq!(json["model"]["location"]["offset"], m.location.offset);
    assert_eq!(
        json["sketch"]["band_hashes"].as_array().unwrap().len(),
        m.partitions as usize
    );
    assert_eq!(json["band_keys"].as_array().unwrap().len(), BAND_TABLES);

    let (code, _, _) = adaptdb(&["inspect", d, "--id", "6"]);
    assert_eq!(code, 0);
    let (code, _, stderr) = adaptdb(&["inspect", d, "--id", "99"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("no model with id 99"), "{stderr}");
}

/// Builds a fresh index, applies `damage` to its catalogue in one redb transaction, and
/// verifies it.
fn damaged(
    damage: impl FnOnce(&redb::WriteTransaction, &[ModelVersion]),
) -> (
    tempfile::TempDir,
    Vec<ModelVersion>,
    adaptdb::store::VerifyReport,
) {
    let dir = tempfile::tempdir().unwrap();
    let models = build(dir.path());
    {
        let db = redb::Builder::new()
            .set_concurrency_mode(redb::ConcurrencyMode::SingleWriter)
            .open(catalog(dir.path()))
            .unwrap();
        let txn = db.begin_write().unwrap();
        damage(&txn, &models);
        txn.commit().unwrap();
    }
    let report = verify(dir.path());
    (dir, models, report)
}

const MODELS_TABLE: TableDefinition<u32, &[u8]> = TableDefinition::new("models");
const NAMES_TABLE: TableDefinition<(&str, &str), u32> = TableDefinition::new("names");
const MINHASH_TABLE: TableDefinition<u32, &[u8]> = TableDefinition::new("minhash");

#[test]
fn catalogue_damage_is_reported_precisely() {
    // A model record whose fingerprint disagrees with its sketch record.
    let (dir, models, report) = damaged(|txn, models| {
        let m = ModelVersion {
            fingerprint: 42,
            ..models[3].clone()
        };
        let mut t = txn.open_table(MODELS_TABLE).unwrap();
        t.insert(3, m.encode().as_slice()).unwrap();
    });
    // It disagrees with the record and with the `fingerprints` table, and the padding of
    // its band-table entries is keyed by it (FORMAT.md §2.5), so its entries are both
    // missing and unexplained: four problems.
    assert_eq!(report.problems.len(), 4, "{:#?}", report.problems);
    for (bands, what) in report.problems[2..]
        .iter()
        .zip(["missing", "not recomputed"])
    {
        assert_eq!(bands.file, catalog(dir.path()));
        assert!(
            bands.what.starts_with("bands: ")
                && bands.what.contains(what)
                && bands.what.contains("→ model 3"),
            "{}",
            bands.what
        );
    }
    let p = &report.problems[0];
    assert_eq!(p.file, segment(dir.path()));
    assert_eq!(
        p.what,
        format!(
            "the sketch record of model 3 at offset {}: band hashes have fingerprint {:#018x}, \
             the catalogue says 0x000000000000002a",
            models[3].location.offset, models[3].fingerprint
        )
    );
    let p = &report.problems[1];
    assert_eq!(p.file, catalog(dir.path()));
    assert_eq!(
        p.what,
        format!(
            "fingerprints[{:#018x}] → model 3 (model_Beijing_2017@1), whose fingerprint is \
             0x000000000000002a",
            models[3].fingerprint
        )
    );

    // A record location off the 16-byte grid, overlapping its neighbour.
    let (dir, models, report) = damaged(|txn, models| {
        let mut m = models[5].clone();
        m.location.offset -= 24;
        let mut t = txn.open_table(MODELS_TABLE).unwrap();
        t.insert(5, m.encode().as_slice()).unwrap();
    });
    let off = models[5].location.offset - 24;
    let whats: Vec<&str> = report.problems.iter().map(|p| p.what.as_str()).collect();
    assert_eq!(
        whats[0],
        format!(
            "the sketch record of model 5 starts at offset {off} of segment 1, \
             not a multiple of 16"
        )
    );
    assert!(
        whats[1].starts_with("the sketch record of model 5 ["),
        "{whats:?}"
    );
    assert!(
        whats[1].contains(" overlaps the sketch record of model 4 ["),
        "{whats:?}"
    );
    assert!(
        report.problems[..2]
            .iter()
            .all(|p| p.file == catalog(dir.path())),
        "{:#?}",
        report.problems
    );
    // Its bytes no longer match the checksum either.
    assert_eq!(report.problems.len(), 3, "{:#?}", report.problems);
    assert_eq!(report.problems[2].file, segment(dir.path()));
    assert!(report.problems[2].what.contains("checksum"));

    // A names entry removed, another pointing at the wrong model.
    let (_dir, _, report) = damaged(|txn, models| {
        let mut t = txn.open_table(NAMES_TABLE).unwrap();
        t.remove((models[1].name.as_str(), "1")).unwrap();
        t.insert((models[2].name.as_str(), "1"), 7).unwrap();
    });
    let whats: Vec<&str> = report.problems.iter().map(|p| p.what.as_str()).collect();
    let (n1, n2, n7) = (&models_name(1), &models_name(2), &models_name(7));
    assert_eq!(
        whats,
        vec![
            format!("names[{n2}@1] → model 7, which is {n7}@1"),
            format!("model 1 ({n1}@1) has no names entry"),
            format!("model 2 ({n2}@1) has no names entry"),
        ]
    );

    // One MinHash value changed: the signature no longer matches the flattened set, and the
    // band-table key of its band no longer matches the stored signature.
    // Pick a value where the signature, not the padding, is the padded minimum, so that
    // the band key changes too.
    let flipped = std::cell::Cell::new(0usize);
    let (_dir, _, report) = damaged(|txn, models| {
        let meta: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
        let bound = txn
            .open_table(meta)
            .unwrap()
            .get("padding")
            .unwrap()
            .unwrap()
            .value()
            .to_vec();
        let bound = u64::from_le_bytes(bound.try_into().unwrap());
        let mut t = txn.open_table(MINHASH_TABLE).unwrap();
        let mut sig = t.get(8).unwrap().unwrap().value().to_vec();
        let words: Vec<u64> = sig
            .chunks(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
            .collect();
        let mh = adaptdb::sketch::MinHasher::new(&Params::default());
        let padded = mh.padded(
            &words,
            models[8].flat_len as u64,
            bound,
            models[8].fingerprint,
        );
        let i = (0..words.len())
            .find(|&i| padded[i] == words[i] && words[i] & 1 == 1)
            .unwrap();
        flipped.set(i);
        sig[8 * i] ^= 1;
        t.insert(8, sig.as_slice()).unwrap();
    });
    let (value, band) = (flipped.get(), flipped.get() / 2);
    let whats: Vec<&str> = report.problems.iter().map(|p| p.what.as_str()).collect();
    assert_eq!(whats.len(), 3, "{whats:?}");
    assert!(
        whats[0].starts_with(&format!(
            "minhash[8]: 1 of 256 values differ from the signature of the stored \
                 flattened set; first at {value}: "
        )),
        "{whats:?}"
    );
    // Value i lies in MinHash band i / 2 (r_m = 2).
    assert!(
        whats[1].starts_with(&format!(
            "bands: 1 entry missing (recomputed from the stored signatures): band {band} key "
        )),
        "{whats:?}"
    );
    assert!(whats[1].ends_with(" → model 8"), "{whats:?}");
    assert!(
        whats[2].starts_with(&format!(
            "bands: 1 entry not recomputed from any stored signature: band {band} key "
        )),
        "{whats:?}"
    );
}

/// The name registered with id `id` (sources in file order).
fn models_name(id: usize) -> String {
    files(&data("weather_cities/sources"))[id].0.clone()
}

#[test]
fn a_missing_fingerprints_entry_is_reported() {
    let fingerprints: redb::MultimapTableDefinition<u64, u32> =
        redb::MultimapTableDefinition::new("fingerprints");
    let (dir, models, report) = damaged(|txn, models| {
        let mut t = txn.open_multimap_table(fingerprints).unwrap();
        assert!(t.remove(models[2].fingerprint, 2).unwrap());
    });
    let p = only_problem(&report);
    assert_eq!(p.file, catalog(dir.path()));
    assert_eq!(
        p.what,
        format!(
            "model 2 ({}@{}) has 0 fingerprints entries, expected 1",
            models[2].name, models[2].version
        )
    );
}
