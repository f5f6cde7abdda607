//! Concurrent registration through the group committer: threads sketch in parallel, one
//! committer writes them in groups, each caller learns when its own version is durable,
//! and a refused registration does not take the rest of its group down. Registrations
//! queued while the registrar is paused share transactions: the grouping is asserted
//! exactly, with no dependence on thread timing.

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
    // Every registration went through exactly one group, and no group exceeded its cap.
    assert_eq!(registrar.grouped(), 200);
    assert!(
        (1..=200).contains(&registrar.groups()),
        "{}",
        registrar.groups()
    );
    assert!((1..=64).contains(&registrar.largest_group()));

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
    // The refused duplicate still counts as grouped: it was handed to a transaction.
    assert_eq!(registrar.grouped(), 203);
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

/// An index holding one registration (which fixed the sample space), and the sources.
fn seeded_index(dir: &std::path::Path) -> (Arc<Index>, Vec<(String, std::path::PathBuf)>) {
    let sources = files(&data("weather_cities/sources"));
    let index = Arc::new(Index::create(dir, Params::default()).unwrap());
    let first = Registration::new("seed").version("0");
    let input = InputOptions::default();
    index.register_file(&first, &sources[0].1, &input).unwrap();
    (index, sources)
}

#[test]
fn forty_registrations_queued_while_paused_commit_in_three_groups_of_at_most_sixteen() {
    let dir = tempfile::tempdir().unwrap();
    let (index, sources) = seeded_index(dir.path());
    let registrar = Arc::new(Registrar::paused(index.clone(), 16));

    // Four threads sketch and submit ten each; nothing commits until the resume below.
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (registrar, index, sources) = (registrar.clone(), index.clone(), sources.clone());
            std::thread::spawn(move || {
                (0..10)
                    .map(|i| {
                        let (name, path) = &sources[(t + i) % sources.len()];
                        let sketch = index.sketch_file(path, &InputOptions::default()).unwrap();
                        let reg = Registration::new(name.clone()).version(format!("p{t}-{i}"));
                        registrar.submit(reg, sketch)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let pending: Vec<_> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    assert_eq!(pending.len(), 40);
    assert_eq!(registrar.groups(), 0);
    assert_eq!(index.models().unwrap().len(), 1);

    registrar.resume();
    let mut ids: Vec<u32> = pending
        .into_iter()
        .map(|p| p.wait().unwrap().model.id)
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (1..=40).collect::<Vec<u32>>());
    // All 40 were queued before the committer started: groups of 16, 16 and 8.
    assert_eq!(registrar.groups(), 3);
    assert_eq!(registrar.grouped(), 40);
    assert_eq!(registrar.largest_group(), 16);
    drop(registrar);

    assert_eq!(index.models().unwrap().len(), 41);
    assert!(index.verify().unwrap().is_ok());
}

#[test]
fn closing_a_paused_registrar_commits_what_is_queued_in_submission_order() {
    let dir = tempfile::tempdir().unwrap();
    let (index, sources) = seeded_index(dir.path());
    let registrar = Registrar::paused(index.clone(), 64);
    let input = InputOptions::default();
    let pending: Vec<_> = (0..5)
        .map(|i| {
            let sketch = index.sketch_file(&sources[i].1, &input).unwrap();
            registrar.submit(Registration::new(sources[i].0.clone()).version("q"), sketch)
        })
        .collect();

    // Closing resumes the committer and joins it: every reply is there when it returns.
    registrar.close();
    let done: Vec<(u32, String)> = pending
        .into_iter()
        .map(|p| p.wait().unwrap().model)
        .map(|m| (m.id, m.version))
        .collect();
    let expected: Vec<(u32, String)> = (1..=5).map(|id| (id, "q".to_string())).collect();
    assert_eq!(done, expected);
    assert_eq!(index.models().unwrap().len(), 6);
}
