//! Concurrent registration through the group committer: threads sketch in parallel, one
//! committer writes them in groups, each caller learns when its own version is durable,
//! and a refused registration does not take the rest of its group down.

mod common;

use std::sync::Arc;

use adaptdb::store::Registrar;
use adaptdb::{Error, Index, InputOptions, Params, Registration, SearchOptions, StoreError};
use common::*;

#[test]
fn threads_register_through_group_commits() {
    let dir = tempfile::tempdir().unwrap();
    let sources = files(&data("weather_cities/sources"));
    let index = Arc::new(Index::create(dir.path(), Params::default()).unwrap());
    let input = InputOptions::default();
    // The first registration fixes the sample space; groups need it.
    index
        .register_file(
            &Registration::new("seed").version("0"),
            &sources[0].1,
            &input,
        )
        .unwrap();

    let registrar = Arc::new(Registrar::start(index.clone(), 64));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let (registrar, sources) = (registrar.clone(), sources.clone());
            std::thread::spawn(move || {
                let mut ids = Vec::new();
                for i in 0..25 {
                    let (name, path) = &sources[(t + i) % sources.len()];
                    let reg = Registration::new(name.clone()).version(format!("t{t}-{i}"));
                    let done = registrar.register_file(reg, path, &InputOptions::default());
                    let done = done.unwrap();
                    assert_eq!(done.model.version, format!("t{t}-{i}"));
                    ids.push(done.model.id);
                }
                ids
            })
        })
        .collect();
    let mut ids: Vec<u32> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (1..=200).collect::<Vec<u32>>());

    // A duplicate in a group is refused alone.
    let sketch = index.sketch_file(&sources[1].1, &input).unwrap();
    let a = registrar.submit(Registration::new("dup").version("1"), sketch.clone());
    let b = registrar.submit(Registration::new("dup").version("1"), sketch.clone());
    let c = registrar.submit(Registration::new("dup").version("2"), sketch);
    let (a, b, c) = (a.wait(), b.wait(), c.wait());
    assert!(a.is_ok() && c.is_ok());
    assert!(
        matches!(b, Err(Error::Store(StoreError::DuplicateVersion { .. }))),
        "{b:?}"
    );
    // The same data went in under every earlier version of that source, and as "dup@1".
    let (a, c) = (a.unwrap(), c.unwrap());
    let earlier = index
        .models()
        .unwrap()
        .iter()
        .filter(|m| m.name == sources[1].0)
        .count();
    assert_eq!(earlier, 19);
    assert_eq!(c.duplicates.len(), earlier + 1);
    assert_eq!(c.duplicates.last(), Some(&a.model.id));
    drop(registrar);

    assert_eq!(index.models().unwrap().len(), 203);
    assert!(index.verify().unwrap().is_ok());
    let target = data("weather_cities/targets/target_Mumbai_2016.csv");
    let options = SearchOptions {
        top_k: 3,
        exhaustive_limit: 0,
        ..SearchOptions::default()
    };
    let found = index.search_file(&target, &input, &options).unwrap();
    assert!(found
        .matches
        .iter()
        .all(|m| m.model.name == "model_Mumbai_2016"));
}
