//! The main job on shipped real data: register the weather sources, search with the
//! targets, and check rankings that must hold, before and after reopening the index.

mod common;

use adaptdb::{Index, InputOptions, Params, Registration, SearchOptions, SearchPath};
use common::*;

fn build(dir: &std::path::Path) -> Index {
    let index = Index::create(dir, Params::default()).unwrap();
    for (name, path) in files(&data("weather_cities/sources")) {
        let reg = Registration::new(name).version("1");
        index
            .register_file(&reg, &path, &InputOptions::default())
            .unwrap();
    }
    index
}

fn ranking(index: &Index, target: &str) -> Vec<(String, f64)> {
    let path = data("weather_cities/targets").join(format!("{target}.csv"));
    let options = SearchOptions {
        top_k: 100,
        ..SearchOptions::default()
    };
    let results = index
        .search_file(&path, &InputOptions::default(), &options)
        .unwrap();
    assert_eq!(results.path, SearchPath::Exhaustive);
    results
        .matches
        .iter()
        .map(|m| (m.model.name.clone(), m.adaptivity))
        .collect()
}

#[test]
fn own_city_ranks_first_where_the_best_model_is_clear() {
    let dir = tempfile::tempdir().unwrap();
    let index = build(dir.path());
    assert_eq!(index.models().unwrap().len(), 10);
    // Mumbai's and San Diego's climates are far from the other cities': the model trained on
    // the same city-year is the true best and must come first.
    for target in [
        "target_Mumbai_2016",
        "target_Mumbai_2017",
        "target_SanDiego_2016",
    ] {
        let r = ranking(&index, target);
        assert_eq!(r.len(), 10);
        let want = target.replace("target_", "model_");
        assert_eq!(r[0].0, want, "{target}: {r:?}");
        assert!(r.windows(2).all(|w| w[0].1 >= w[1].1), "not sorted: {r:?}");
    }
    // Every target's own city fills the first two places.
    for (target, _) in files(&data("weather_cities/targets")) {
        let city = target.split('_').nth(1).unwrap().to_string();
        let r = ranking(&index, &target);
        assert!(
            r[..2].iter().all(|(m, _)| m.contains(&city)),
            "{target}: {r:?}"
        );
    }
}

#[test]
fn reopened_index_answers_identically() {
    let dir = tempfile::tempdir().unwrap();
    let targets = files(&data("weather_cities/targets"));
    let before: Vec<_> = {
        let index = build(dir.path());
        targets.iter().map(|(t, _)| ranking(&index, t)).collect()
    };
    let index = Index::open_read_only(dir.path()).unwrap();
    let after: Vec<_> = targets.iter().map(|(t, _)| ranking(&index, t)).collect();
    assert_eq!(before, after);
    let index = Index::open(dir.path()).unwrap();
    let again: Vec<_> = targets.iter().map(|(t, _)| ranking(&index, t)).collect();
    assert_eq!(before, again);
}

#[test]
fn a_source_searched_with_itself_scores_one() {
    let dir = tempfile::tempdir().unwrap();
    let index = build(dir.path());
    let path = data("weather_cities/sources/model_Chicago_2017.csv");
    let results = index.search_file(&path, &InputOptions::default(), &SearchOptions::default());
    let top = &results.unwrap().matches[0];
    assert_eq!(top.model.name, "model_Chicago_2017");
    assert_eq!(top.adaptivity, 1.0);
}

#[test]
fn band_table_path_finds_the_same_best_model() {
    let dir = tempfile::tempdir().unwrap();
    let index = build(dir.path());
    let path = data("weather_cities/targets/target_Mumbai_2016.csv");
    let options = SearchOptions {
        exhaustive_limit: 0,
        top_k: 3,
        ..SearchOptions::default()
    };
    let results = index
        .search_file(&path, &InputOptions::default(), &options)
        .unwrap();
    assert!(
        matches!(results.path, SearchPath::Bands { probed: 128, .. }),
        "{:?}",
        results.path
    );
    assert_eq!(results.matches[0].model.name, "model_Mumbai_2016");
}

#[test]
fn gzip_and_plain_csv_register_identically() {
    let dir = tempfile::tempdir().unwrap();
    let index = Index::create(dir.path().join("i"), Params::default()).unwrap();
    let gz = data("image_digits/sources/S0_balanced.csv.gz");
    let plain = dir.path().join("S0_balanced.csv");
    let mut text = String::new();
    use std::io::Read;
    flate2::read::GzDecoder::new(std::fs::File::open(&gz).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    std::fs::write(&plain, text).unwrap();
    let input = InputOptions::default();
    let a = index
        .register_file(&Registration::new("gz"), &gz, &input)
        .unwrap();
    let b = index
        .register_file(&Registration::new("plain"), &plain, &input)
        .unwrap();
    assert_eq!(a.model.fingerprint, b.model.fingerprint);
    assert_eq!(b.duplicates, vec![a.model.id]);
}
