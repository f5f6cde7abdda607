//! Managing registered versions on the shipped weather workload: show, remove, compact,
//! replace, duplicate detection and search filters, through the library and the CLI.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use adaptdb::search::Filter;
use adaptdb::store::segment::segment_path;
use adaptdb::{Index, InputOptions, Params, Registration, SearchOptions, SearchPath};
use common::*;

/// (name, version) of a shipped source stem `model_City_Year`: name `model_City`.
fn split(stem: &str) -> (String, String) {
    let (name, year) = stem.rsplit_once('_').unwrap();
    (name.to_string(), year.to_string())
}

fn registration(stem: &str) -> Registration {
    let (name, year) = split(stem);
    let mut reg = Registration::new(name).version(year.clone());
    reg.metadata = vec![("year".into(), year)];
    reg
}

/// Registers the ten weather sources: five names, versions 2016 then 2017.
fn build(dir: &Path) -> Index {
    let index = Index::create(dir, Params::default()).unwrap();
    let mut sources = files(&data("weather_cities/sources"));
    // Register every 2016 version before any 2017 one, so 2017 is each name's latest.
    sources.sort_by_key(|(stem, _)| (split(stem).1, stem.clone()));
    for (stem, path) in sources {
        index
            .register_file(&registration(&stem), &path, &InputOptions::default())
            .unwrap();
    }
    index
}

fn source(stem: &str) -> PathBuf {
    data("weather_cities/sources").join(format!("{stem}.csv"))
}

fn target(stem: &str) -> PathBuf {
    data("weather_cities/targets").join(format!("{stem}.csv"))
}

fn options(bands: bool, filter: Filter) -> SearchOptions {
    SearchOptions {
        top_k: 100,
        exhaustive_limit: if bands { 0 } else { 1000 },
        filter,
        ..SearchOptions::default()
    }
}

/// (id, name@version, adaptivity bits) of every match.
type Ranking = Vec<(u32, String, u64)>;

fn ranking(index: &Index, target_stem: &str, opts: &SearchOptions) -> Ranking {
    let r = index
        .search_file(&target(target_stem), &InputOptions::default(), opts)
        .unwrap();
    let want_bands = opts.exhaustive_limit == 0;
    assert_eq!(matches!(r.path, SearchPath::Bands { .. }), want_bands);
    r.matches
        .iter()
        .map(|m| {
            let label = format!("{}@{}", m.model.name, m.model.version);
            (m.model.id, label, m.adaptivity.to_bits())
        })
        .collect()
}

/// Every target's ranking on both search paths.
fn all_rankings(index: &Index) -> Vec<Ranking> {
    let mut out = Vec::new();
    for (stem, _) in files(&data("weather_cities/targets")) {
        for bands in [false, true] {
            out.push(ranking(index, &stem, &options(bands, Filter::default())));
        }
    }
    out
}

/// Every (band, key, id) entry of the `bands` multimap, read through redb directly.
fn band_entries(dir: &Path) -> Vec<(u16, u64, u32)> {
    use redb::{MultimapTableDefinition, ReadableDatabase, ReadableMultimapTable};
    let db = redb::Builder::new()
        .set_concurrency_mode(redb::ConcurrencyMode::SingleWriter)
        .open_read_only(dir.join("catalog.redb"))
        .unwrap();
    let txn = db.begin_read().unwrap();
    let def: MultimapTableDefinition<(u16, u64), u32> = MultimapTableDefinition::new("bands");
    let mut out = Vec::new();
    for entry in txn.open_multimap_table(def).unwrap().iter().unwrap() {
        let (k, values) = entry.unwrap();
        let (band, key) = k.value();
        for v in values {
            out.push((band, key, v.unwrap().value()));
        }
    }
    out
}

fn segment_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir.join("segments"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum()
}

fn assert_verified(index: &Index) {
    let report = index.verify().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
}

#[test]
fn a_removed_version_is_never_returned_and_its_band_entries_are_gone() {
    let dir = tempfile::tempdir().unwrap();
    let index = build(dir.path());
    let gone = index.show("model_Mumbai", Some("2016")).unwrap();
    assert_eq!(gone.len(), 1);
    let gone_id = gone[0].id;
    drop(index);
    assert!(band_entries(dir.path()).iter().any(|e| e.2 == gone_id));
    let index = Index::open(dir.path()).unwrap();

    let removed = index.remove("model_Mumbai", Some("2016")).unwrap();
    assert_eq!(removed, gone);
    assert_eq!(index.models().unwrap().len(), 9);
    for bands in [false, true] {
        for (stem, _) in files(&data("weather_cities/targets")) {
            let r = ranking(&index, &stem, &options(bands, Filter::default()));
            assert!(r.iter().all(|(id, ..)| *id != gone_id), "{stem}: {r:?}");
        }
        // Its own target still finds the other Mumbai version first.
        let r = ranking(
            &index,
            "target_Mumbai_2016",
            &options(bands, Filter::default()),
        );
        assert_eq!(r[0].1, "model_Mumbai@2017", "{r:?}");
    }
    assert_verified(&index);
    assert!(index.show("model_Mumbai", Some("2016")).unwrap().is_empty());

    // Nothing matching: an error saying so, and the index is unchanged.
    let before = snapshot(dir.path());
    let err = index.remove("model_Mumbai", Some("2016")).unwrap_err();
    assert_eq!(err.to_string(), "model_Mumbai@2016 is not registered");
    let err = index.remove("model_Nowhere", None).unwrap_err();
    assert_eq!(err.to_string(), "model_Nowhere is not registered");
    drop(index);
    assert_eq!(snapshot(dir.path()), before);

    // Every version of a name, in one call.
    let index = Index::open(dir.path()).unwrap();
    let removed = index.remove("model_Chicago", None).unwrap();
    let labels: Vec<_> = removed.iter().map(|m| m.version.as_str()).collect();
    assert_eq!(labels, ["2016", "2017"]);
    assert!(removed[0].id < removed[1].id);
    assert_eq!(index.models().unwrap().len(), 7);
    assert_verified(&index);
    let ids: Vec<u32> = index.models().unwrap().iter().map(|m| m.id).collect();
    drop(index);
    let entries = band_entries(dir.path());
    let bands_per_model = entries.len() / ids.len();
    assert_eq!(entries.len(), bands_per_model * ids.len());
    assert!(entries.iter().all(|(_, _, id)| ids.contains(id)));
    assert!(entries.iter().all(|(_, _, id)| *id != gone_id));
}

#[test]
fn compact_reclaims_bytes_and_every_remaining_model_answers_identically() {
    let dir = tempfile::tempdir().unwrap();
    let index = build(dir.path());
    index.remove("model_Beijing", Some("2016")).unwrap();
    index.remove("model_Auckland", None).unwrap();
    let before = all_rankings(&index);
    let bytes_before = segment_bytes(dir.path());

    let report = index.compact().unwrap();
    assert_eq!(report.models, 7);
    assert_eq!(report.records, 8);
    assert_eq!(
        report
            .segments_before
            .iter()
            .map(|s| s.0)
            .collect::<Vec<_>>(),
        [1]
    );
    assert_eq!(
        report
            .segments_after
            .iter()
            .map(|s| s.0)
            .collect::<Vec<_>>(),
        [2]
    );
    assert_eq!(report.bytes_before, bytes_before);
    assert!(report.bytes_after < report.bytes_before, "{report:?}");
    assert_eq!(segment_bytes(dir.path()), report.bytes_after);
    assert!(!segment_path(dir.path(), 1).exists());
    assert_eq!(report.files_deleted, 1);
    eprintln!(
        "compact: {} -> {} bytes",
        report.bytes_before, report.bytes_after
    );
    assert_eq!(all_rankings(&index), before);
    assert_verified(&index);
    for m in index.models().unwrap() {
        assert_eq!(m.location.segment, 2);
    }

    drop(index);
    let index = Index::open(dir.path()).unwrap();
    assert_eq!(all_rankings(&index), before);
    assert_verified(&index);
    let read_only = Index::open_read_only(dir.path());
    drop(read_only);

    // Registrations continue in the new segment, and a second compaction, with nothing to
    // reclaim, changes nothing.
    let done = index
        .register_file(
            &registration("model_Auckland_2017"),
            &source("model_Auckland_2017"),
            &InputOptions::default(),
        )
        .unwrap();
    assert_eq!(done.model.location.segment, 2);
    assert_verified(&index);
    let with_new = all_rankings(&index);
    let again = index.compact().unwrap();
    assert_eq!(again.models, 8);
    assert_eq!(again.bytes_before, again.bytes_after);
    assert_eq!(again.segments_after, again.segments_before);
    assert_eq!(again.files_deleted, 0);
    assert_eq!(
        again.segments_after.iter().map(|s| s.0).collect::<Vec<_>>(),
        [2]
    );
    assert_eq!(all_rankings(&index), with_new);
    assert_verified(&index);
}

#[test]
fn a_crash_between_commit_and_deletion_is_finished_by_the_next_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let index = build(dir.path());
    index.remove("model_Mumbai", None).unwrap();
    index.compact().unwrap();
    // What a crash after the commit leaves: an old segment file no longer listed.
    let old = segment_path(dir.path(), 1);
    std::fs::copy(segment_path(dir.path(), 2), &old).unwrap();
    let report = index.verify().unwrap();
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert_eq!(report.problems[0].file, old);
    let before = all_rankings(&index);
    // Searches are unaffected, and the next compaction deletes it.
    let again = index.compact().unwrap();
    assert_eq!(again.files_deleted, 2);
    assert!(!old.exists());
    assert_verified(&index);
    assert_eq!(all_rankings(&index), before);
}

#[test]
fn replace_duplicates_and_refusal() {
    let dir = tempfile::tempdir().unwrap();
    let index = build(dir.path());
    let old = index.show("model_Mumbai", Some("2016")).unwrap()[0].clone();
    let input = InputOptions::default();
    let path = source("model_Mumbai_2016");

    let err = index
        .register_file(&registration("model_Mumbai_2016"), &path, &input)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "model_Mumbai@2016 is already registered (model id {})",
            old.id
        )
    );
    assert_eq!(index.models().unwrap().len(), 10);

    // The same data under a new version is allowed, and detected.
    let copy = Registration::new("model_Mumbai").version("copy");
    let done = index.register_file(&copy, &path, &input).unwrap();
    assert_eq!(done.duplicates, [old.id]);
    assert_eq!(done.replaced, None);
    index.remove("model_Mumbai", Some("copy")).unwrap();

    // With replace: same name and version, new id, the old id gone.
    let mut reg = registration("model_Mumbai_2016");
    reg.replace = true;
    reg.uri = "models:/mumbai/2016b".into();
    let done = index.register_file(&reg, &path, &input).unwrap();
    assert_eq!(done.replaced, Some(old.id));
    assert!(done.duplicates.is_empty(), "{:?}", done.duplicates);
    assert!(done.model.id > old.id);
    let shown = index.show("model_Mumbai", Some("2016")).unwrap();
    assert_eq!(shown, std::slice::from_ref(&done.model));
    assert_eq!(index.models().unwrap().len(), 10);
    assert!(index.models().unwrap().iter().all(|m| m.id != old.id));
    for bands in [false, true] {
        let r = ranking(
            &index,
            "target_Mumbai_2016",
            &options(bands, Filter::default()),
        );
        assert!(r.iter().any(|(id, ..)| *id == done.model.id), "{r:?}");
        assert!(r.iter().all(|(id, ..)| *id != old.id), "{r:?}");
    }
    assert_verified(&index);
    let report = index.compact().unwrap();
    assert!(report.bytes_after < report.bytes_before);
    assert_verified(&index);
}

fn labels(r: &Ranking) -> Vec<String> {
    let mut out: Vec<String> = r.iter().map(|(_, l, _)| l.clone()).collect();
    out.sort();
    out
}

/// `all` without the matches `keep` refuses: a filter is applied before scoring, so it
/// removes entries without changing the others' scores or order.
fn kept(all: &Ranking, keep: impl Fn(&str) -> bool) -> Ranking {
    all.iter().filter(|(_, l, _)| keep(l)).cloned().collect()
}

#[test]
fn filters_restrict_the_candidates() {
    let dir = tempfile::tempdir().unwrap();
    let index = build(dir.path());
    let cities = ["Auckland", "Beijing", "Chicago", "Mumbai", "SanDiego"];
    for bands in [false, true] {
        for (stem, _) in files(&data("weather_cities/targets")) {
            let all = ranking(&index, &stem, &options(bands, Filter::default()));
            let run = |f: Filter| ranking(&index, &stem, &options(bands, f));

            let latest = run(Filter {
                latest_only: true,
                ..Filter::default()
            });
            let latest_hits = kept(&all, |l| l.ends_with("@2017"));
            if bands {
                // A band hit on an older version stands for its name's latest version, so
                // the band path may return latest versions that were not hits themselves.
                assert!(
                    latest.iter().all(|(_, l, _)| l.ends_with("@2017")),
                    "{stem}"
                );
                assert!(latest_hits.iter().all(|m| latest.contains(m)), "{stem}");
            } else {
                assert_eq!(latest, latest_hits, "{stem}");
            }

            let prefix = run(Filter {
                name_prefix: Some("model_S".into()),
                ..Filter::default()
            });
            assert_eq!(prefix, kept(&all, |l| l.starts_with("model_SanDiego@")));

            let meta = run(Filter {
                metadata: vec![("year".into(), "2016".into())],
                ..Filter::default()
            });
            assert_eq!(meta, kept(&all, |l| l.ends_with("@2016")), "{stem}");

            let by_name = run(Filter {
                exclude: vec![("model_Mumbai".into(), None)],
                ..Filter::default()
            });
            assert_eq!(by_name, kept(&all, |l| !l.starts_with("model_Mumbai@")));

            let by_version = run(Filter {
                exclude: vec![("model_Mumbai".into(), Some("2017".into()))],
                ..Filter::default()
            });
            assert_eq!(by_version, kept(&all, |l| l != "model_Mumbai@2017"));
            if !bands {
                assert_eq!(all.len(), 10);
                let want: Vec<String> = cities.iter().map(|c| format!("model_{c}@2017")).collect();
                assert_eq!(labels(&latest), want);
                assert_eq!(labels(&prefix).len(), 2);
                assert_eq!(meta.len(), 5);
                assert_eq!(by_name.len(), 8);
                assert_eq!(by_version.len(), 9);
            }
        }
    }
    // After removing a name's latest version, the one before it is the latest.
    index.remove("model_Beijing", Some("2017")).unwrap();
    let latest = Filter {
        latest_only: true,
        ..Filter::default()
    };
    let r = ranking(&index, "target_Beijing_2017", &options(false, latest));
    assert_eq!(r.len(), 5);
    assert!(r.iter().any(|(_, l, _)| l == "model_Beijing@2016"), "{r:?}");
}

#[test]
fn show_returns_every_field_as_registered() {
    let dir = tempfile::tempdir().unwrap();
    let index = Index::create(dir.path(), Params::default()).unwrap();
    let input = InputOptions::default();
    let mut first = Registration::new("churn").version("2024-01");
    first.uri = "s3://models/churn/2024-01".into();
    first.metadata = vec![
        ("team".into(), "growth".into()),
        ("city".into(), "Oslo".into()),
    ];
    first.source_accuracy = Some(0.9125);
    let a = index
        .register_file(&first, &source("model_Chicago_2016"), &input)
        .unwrap();
    let second = Registration::new("churn").version("2024-02");
    let b = index
        .register_file(&second, &source("model_Chicago_2017"), &input)
        .unwrap();

    let one = index.show("churn", Some("2024-01")).unwrap();
    assert_eq!(one, std::slice::from_ref(&a.model));
    let m = &one[0];
    assert_eq!(m.uri, "s3://models/churn/2024-01");
    assert_eq!(m.metadata, first.metadata);
    assert_eq!(m.source_accuracy, Some(0.9125));
    assert_eq!(m.rows, 175);
    assert_eq!(
        index.show("churn", None).unwrap(),
        [a.model, b.model.clone()]
    );
    assert_eq!(b.model.source_accuracy, None);
    assert!(index.show("churn", Some("2099")).unwrap().is_empty());
    assert!(index.show("chur", None).unwrap().is_empty());
    assert!(index.show("nothing", None).unwrap().is_empty());
}

fn adaptdb(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_adaptdb"))
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn cli_show_remove_compact_and_search_filters() {
    let dir = tempfile::tempdir().unwrap();
    let ix = dir.path().join("ix");
    let ixs = ix.to_str().unwrap();
    let reg = |stem: &str, extra: &[&str]| {
        let (name, year) = split(stem);
        let path = source(stem);
        let mut args = vec!["register", ixs, path.to_str().unwrap()];
        args.extend(["--name", &name, "--version", &year]);
        args.extend(extra);
        let out = adaptdb(&args);
        assert!(out.status.success(), "{}", stderr(&out));
    };
    reg(
        "model_Mumbai_2016",
        &[
            "--uri",
            "file:///m16",
            "--meta",
            "year=2016",
            "--source-accuracy",
            "0.8",
        ],
    );
    reg("model_Mumbai_2017", &["--meta", "year=2017"]);
    reg("model_Chicago_2016", &["--meta", "year=2016"]);

    let out = adaptdb(&["show", ixs, "model_Mumbai@2016", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let m = &v["models"][0];
    assert_eq!(v["models"].as_array().unwrap().len(), 1);
    assert_eq!(m["id"], 0);
    assert_eq!(m["name"], "model_Mumbai");
    assert_eq!(m["version"], "2016");
    assert_eq!(m["uri"], "file:///m16");
    assert_eq!(m["metadata"]["year"], "2016");
    assert_eq!(m["source_accuracy"], 0.8);
    assert_eq!(m["rows"], 175);
    assert_eq!(m["location"]["segment"], 1);
    assert_eq!(m["fingerprint"].as_str().unwrap().len(), 16);
    let out = adaptdb(&["show", ixs, "model_Mumbai"]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(text.contains("model_Mumbai@2016") && text.contains("model_Mumbai@2017"));
    assert!(text.contains("source accuracy      0.8"), "{text}");
    assert!(text.contains("metadata             year=2016"), "{text}");

    let out = adaptdb(&["show", ixs, "model_Oslo"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out).trim(),
        format!("error: model_Oslo is not registered in {ixs}")
    );

    let t = target("target_Mumbai_2016");
    let ts = t.to_str().unwrap();
    let search = |extra: &[&str]| {
        let mut args = vec!["search", ixs, ts, "--json"];
        args.extend(extra);
        let out = adaptdb(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        let results = v["results"].as_array().unwrap().clone();
        results
            .iter()
            .map(|r| {
                format!(
                    "{}@{}",
                    r["name"].as_str().unwrap(),
                    r["version"].as_str().unwrap()
                )
            })
            .collect::<Vec<_>>()
    };
    let mut latest = search(&["--latest"]);
    latest.sort();
    assert_eq!(latest, ["model_Chicago@2016", "model_Mumbai@2017"]);
    assert_eq!(
        search(&["--name-prefix", "model_C"]),
        ["model_Chicago@2016"]
    );
    let mut y2016 = search(&["--where", "year=2016"]);
    y2016.sort();
    assert_eq!(y2016, ["model_Chicago@2016", "model_Mumbai@2016"]);
    assert_eq!(
        search(&["--exclude", "model_Mumbai"]),
        ["model_Chicago@2016"]
    );
    let mut ex = search(&[
        "--exclude",
        "model_Mumbai@2016",
        "--exclude",
        "model_Chicago",
    ]);
    ex.sort();
    assert_eq!(ex, ["model_Mumbai@2017"]);
    let out = adaptdb(&["search", ixs, ts, "--json", "--where", "year=2016"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let top = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "model_Mumbai")
        .unwrap()
        .clone();
    assert_eq!(top["uri"], "file:///m16");
    assert_eq!(top["metadata"]["year"], "2016");
    let out = adaptdb(&["search", ixs, ts, "--where", "year"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--where \"year\": expected KEY=VALUE"));

    let out = adaptdb(&["remove", ixs, "model_Mumbai@2016"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("removed model_Mumbai@2016 (id 0)"));
    let out = adaptdb(&["remove", ixs, "model_Mumbai@2016"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out).trim(),
        "error: removing: model_Mumbai@2016 is not registered"
    );
    let out = adaptdb(&["show", ixs, "model_Mumbai@2016"]);
    assert_eq!(out.status.code(), Some(1));

    let out = adaptdb(&["compact", ixs, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["models"], 2);
    assert!(v["bytes_after"].as_u64().unwrap() < v["bytes_before"].as_u64().unwrap());
    assert_eq!(v["segments_after"], serde_json::json!([2]));
    let out = adaptdb(&["compact", ixs]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("compacted 2 model versions"),
        "{}",
        stdout(&out)
    );
    let out = adaptdb(&["verify", ixs]);
    assert!(out.status.success(), "{}", stdout(&out));

    let missing = dir.path().join("missing");
    let ms = missing.to_str().unwrap();
    for cmd in ["compact", "remove", "show"] {
        let mut args = vec![cmd, ms];
        if cmd != "compact" {
            args.push("model_Mumbai");
        }
        let out = adaptdb(&args);
        assert_eq!(out.status.code(), Some(1), "{cmd}");
        assert!(
            stderr(&out).contains("not an adaptdb index: no such directory"),
            "{cmd}: {}",
            stderr(&out)
        );
    }
}

/// A name retrained many times on the same data: on the band-table path every version has
/// the same band hits, and the ones scored first are the oldest. The latest version must
/// still be the one returned, however small the number of candidates scored.
#[test]
fn latest_only_finds_the_latest_version_behind_many_older_ones_on_the_band_path() {
    let dir = tempfile::tempdir().unwrap();
    let index = Index::create(dir.path(), Params::default()).unwrap();
    let input = InputOptions::default();
    for v in 1..=30 {
        let reg = Registration::new("model_Mumbai").version(format!("{v:02}"));
        index
            .register_file(&reg, &source("model_Mumbai_2016"), &input)
            .unwrap();
    }
    let reg = Registration::new("model_Chicago").version("01");
    index
        .register_file(&reg, &source("model_Chicago_2016"), &input)
        .unwrap();
    let options = SearchOptions {
        top_k: 10,
        exhaustive_limit: 0,
        rescore: 5,
        filter: Filter {
            latest_only: true,
            ..Filter::default()
        },
        ..SearchOptions::default()
    };
    let found = index
        .search_file(&target("target_Mumbai_2016"), &input, &options)
        .unwrap();
    assert!(matches!(found.path, SearchPath::Bands { .. }));
    let labels: Vec<String> = found
        .matches
        .iter()
        .map(|m| format!("{}@{}", m.model.name, m.model.version))
        .collect();
    assert_eq!(labels[0], "model_Mumbai@30", "{labels:?}");
    assert!(!labels
        .iter()
        .any(|l| l.starts_with("model_Mumbai@") && l != "model_Mumbai@30"));
}

/// The padding of a MinHash signature is keyed by the sketch's fingerprint, not the model
/// id (FORMAT.md §2.5): the same training data under two versions scores the same.
#[test]
fn identical_data_under_two_versions_scores_identically_under_every_strategy() {
    use adaptdb::search::Score;
    let dir = tempfile::tempdir().unwrap();
    let index = Index::create(dir.path(), Params::default()).unwrap();
    let input = InputOptions::default();
    for (name, stem) in [
        ("a", "model_Chicago_2016"),
        ("b", "model_Mumbai_2016"),
        ("b", "model_Mumbai_2016"),
    ] {
        index
            .register_file(&Registration::new(name), &source(stem), &input)
            .unwrap();
    }
    for score in Score::ALL.into_iter().filter(|s| *s != Score::Exact) {
        let options = SearchOptions {
            score,
            ..SearchOptions::default()
        };
        let found = index
            .search_file(&target("target_Mumbai_2017"), &input, &options)
            .unwrap();
        let b: Vec<(&str, f64)> = found
            .matches
            .iter()
            .filter(|m| m.model.name == "b")
            .map(|m| (m.model.version.as_str(), m.adaptivity))
            .collect();
        assert_eq!(b.len(), 2, "{score}");
        assert_eq!(b[0].1.to_bits(), b[1].1.to_bits(), "{score}: {b:?}");
    }
}

#[test]
fn data_smaller_than_one_partition_is_registered_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let index = Index::create(dir.path().join("index"), Params::default()).unwrap();
    let input = InputOptions::default();
    let full = index
        .register_file(
            &Registration::new("full"),
            &source("model_Chicago_2016"),
            &input,
        )
        .unwrap();
    assert!(full.warnings.is_empty(), "{:?}", full.warnings);
    let text = std::fs::read_to_string(source("model_Chicago_2016")).unwrap();
    let head: Vec<&str> = text.lines().take(6).collect();
    let tiny = write(dir.path(), "tiny.csv", &(head.join("\n") + "\n"));
    let done = index
        .register_file(&Registration::new("tiny"), &tiny, &input)
        .unwrap();
    assert_eq!(done.model.rows, 5);
    assert_eq!(done.warnings.len(), 1);
    assert!(
        done.warnings[0].starts_with("the data has 5 rows, fewer than one partition (64 rows)"),
        "{:?}",
        done.warnings
    );
}
