//! Raising the padding bound M (FORMAT.md §2.5, §3.5): when a dataset's flattened set
//! outgrows M, registration re-pads every stored version from its stored unpadded
//! signature, in the same transaction. The result must be indistinguishable from an index
//! that had the larger bound from the start: the same band table and the same answers
//! under every strategy, on the exhaustive path and on the band-table path.

mod common;

use std::path::{Path, PathBuf};

use adaptdb::search::Score;
use adaptdb::{Index, InputOptions, Params, Registration, SearchOptions};
use common::*;

/// All ten weather sources in one file: a dataset with many more partitions (and a far
/// larger flattened set) than any single source.
fn concatenation(dir: &Path) -> PathBuf {
    let mut text = String::new();
    for (i, (_, path)) in files(&data("weather_cities/sources")).iter().enumerate() {
        let body = std::fs::read_to_string(path).unwrap();
        let mut lines = body.lines();
        let header = lines.next().unwrap();
        if i == 0 {
            text.push_str(header);
            text.push('\n');
        }
        for line in lines {
            text.push_str(line);
            text.push('\n');
        }
    }
    write(dir, "all_cities.csv", &text)
}

fn register(index: &Index, name: &str, path: &Path) -> u64 {
    let reg = Registration::new(name).version("1");
    let done = index
        .register_file(&reg, path, &InputOptions::default())
        .unwrap();
    done.model.flat_len as u64
}

/// (name, adaptivity bits, coverage bits) of every match, for every target and strategy.
fn answers(index: &Index) -> Vec<(String, u64, u64)> {
    let mut out = Vec::new();
    for (stem, path) in files(&data("weather_cities/targets")) {
        for score in [Score::Hellinger, Score::Containment, Score::MinHash] {
            for exhaustive_limit in [1000, 0] {
                let options = SearchOptions {
                    top_k: 100,
                    score,
                    exhaustive_limit,
                    ..SearchOptions::default()
                };
                let found = index
                    .search_file(&path, &InputOptions::default(), &options)
                    .unwrap();
                for m in found.matches {
                    let label = format!("{stem} {score} {exhaustive_limit} {}", m.model.name);
                    out.push((label, m.adaptivity.to_bits(), m.coverage.to_bits()));
                }
            }
        }
    }
    out
}

#[test]
fn a_raised_bound_answers_exactly_as_the_larger_bound_from_the_start() {
    let tmp = tempfile::tempdir().unwrap();
    let all = concatenation(tmp.path());
    // The first dataset is one partition of one city: a small flattened set, so a small M.
    let mumbai = std::fs::read_to_string(data("weather_cities/sources/model_Mumbai_2016.csv"));
    let head: Vec<&str> = mumbai.as_ref().unwrap().lines().take(65).collect();
    let first = write(tmp.path(), "mumbai_head.csv", &(head.join("\n") + "\n"));
    let second = data("weather_cities/sources/model_Chicago_2017.csv");

    // Grown: the first dataset sets M = 2·|F|; the concatenation outgrows it and raises it.
    let grown = Index::create(tmp.path().join("grown"), Params::default()).unwrap();
    let f1 = register(&grown, "mumbai", &first);
    let f2 = register(&grown, "chicago", &second);
    let f3 = register(&grown, "all", &all);
    let bound = grown.inspect().unwrap().padding;
    assert!(
        f2 <= 2 * f1,
        "the second dataset fits the first bound: {f1} {f2}"
    );
    assert!(
        f3 > 2 * f1,
        "the concatenation must outgrow the first bound: {f1} {f3}"
    );
    assert_eq!(bound, 2 * f3);

    // Planned: the same bound before the first registration, so it is never raised.
    let planned = Index::create(tmp.path().join("planned"), Params::default()).unwrap();
    assert_eq!(planned.raise_padding(bound).unwrap(), bound);
    register(&planned, "mumbai", &first);
    register(&planned, "chicago", &second);
    register(&planned, "all", &all);
    assert_eq!(planned.inspect().unwrap().padding, bound);
    assert_eq!(
        planned.raise_padding(bound / 2).unwrap(),
        bound,
        "M is never lowered"
    );

    for index in [&grown, &planned] {
        let report = index.verify().unwrap();
        assert!(report.is_ok(), "{:#?}", report.problems);
    }
    let (a, b) = (answers(&grown), answers(&planned));
    assert!(a.len() > 100, "{}", a.len());
    assert_eq!(a, b);

    // Raising an index that holds versions re-pads them all in place: still identical to
    // an index built with that bound from the start.
    let raised = grown.raise_padding(4 * bound).unwrap();
    let fresh = Index::create(tmp.path().join("fresh"), Params::default()).unwrap();
    fresh.raise_padding(raised).unwrap();
    register(&fresh, "mumbai", &first);
    register(&fresh, "chicago", &second);
    register(&fresh, "all", &all);
    assert!(grown.verify().unwrap().is_ok());
    assert_eq!(answers(&grown), answers(&fresh));
    assert_ne!(
        answers(&grown),
        a,
        "a different bound changes the MinHash estimates"
    );
}
