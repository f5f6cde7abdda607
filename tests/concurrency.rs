//! Concurrent use of one index.
//!
//! - Within a process: 8 threads searching while one thread registers 1,000 versions all
//!   succeed, and each search sees one consistent committed state: the model count never
//!   goes backwards within a thread, no match has an id at or above the count it was
//!   reported with (ids are assigned in commit order), and matches come best first — on
//!   the exhaustive path and on the band-table path alike.
//! - Across processes: a second writer is refused with a clear error and leaves the index
//!   exactly as it was, while a reader (`adaptdb list`) works alongside the writer.

mod common;

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use adaptdb::{Index, InputOptions, Params, Registration, SearchOptions, SearchPath, Sketch};
use common::*;

const SEARCHERS: usize = 8;
const WRITES: usize = 1000;
/// Pause between two searches of one thread. On a small machine 8 searchers flat out
/// (an exhaustive search of 1,000 models takes ~40 ms of two cores) starve the writer; the
/// pause keeps the test quick while searches still overlap each other and every commit.
const PAUSE: Duration = Duration::from_millis(100);

/// What one searcher thread saw.
#[derive(Debug, Default)]
struct Seen {
    exhaustive: usize,
    bands: usize,
    first_models: usize,
    last_models: usize,
}

/// Reads the weather targets once; the searchers reuse the sketches, so that the test
/// spends its time in the index rather than in CSV parsing.
fn searcher(
    index: &Index,
    done: &AtomicBool,
    thread: usize,
    seeded: usize,
    targets: &[(String, Sketch)],
) -> Seen {
    let mut seen = Seen::default();
    let mut last = 0usize;
    let mut i = thread;
    // One more round after the writer finished, so that the last searches see all of it.
    let mut finishing = false;
    loop {
        if done.load(Ordering::Acquire) {
            if finishing {
                break;
            }
            finishing = true;
        }
        let (target, sketch) = &targets[i % targets.len()];
        let band_path = i % 2 == 1;
        let options = SearchOptions {
            top_k: 5,
            exhaustive_limit: if band_path { 0 } else { 100_000 },
            ..SearchOptions::default()
        };
        i += 1;
        let results = index
            .search_sketch(sketch, &options)
            .unwrap_or_else(|e| panic!("thread {thread}: search with {target} failed: {e}"));
        let n = results.models;
        assert!(
            n >= seeded,
            "thread {thread}: {n} models, {seeded} were seeded"
        );
        assert!(
            n >= last,
            "thread {thread}: the model count went back from {last} to {n}"
        );
        last = n;
        if seen.first_models == 0 {
            seen.first_models = n;
        }
        for m in &results.matches {
            assert!(
                m.model.id < n as u32,
                "thread {thread}: match id {} in a snapshot of {n} models",
                m.model.id
            );
            assert!((0.0..=1.0).contains(&m.adaptivity), "{m:?}");
        }
        assert!(
            results
                .matches
                .windows(2)
                .all(|w| w[0].adaptivity >= w[1].adaptivity),
            "thread {thread}: not sorted: {:?}",
            results
                .matches
                .iter()
                .map(|m| m.adaptivity)
                .collect::<Vec<_>>()
        );
        if band_path {
            assert!(
                matches!(results.path, SearchPath::Bands { .. }),
                "{:?}",
                results.path
            );
            assert!(results.matches.len() <= 5);
            seen.bands += 1;
        } else {
            assert_eq!(results.path, SearchPath::Exhaustive);
            assert_eq!(results.matches.len(), n.min(5), "thread {thread}");
            seen.exhaustive += 1;
        }
        if !finishing {
            std::thread::sleep(PAUSE);
        }
    }
    seen.last_models = last;
    seen
}

#[test]
fn searches_from_8_threads_during_1000_registrations_see_consistent_states() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let index = Arc::new(Index::create(dir.path(), Params::default()).unwrap());
    let sources = files(&data("weather_cities/sources"));
    let input = InputOptions::default();
    // Seed one version of every source, so that searches have a sample space from the start.
    for (name, path) in &sources {
        let reg = Registration::new(name.as_str()).version("0");
        index.register_file(&reg, path, &input).unwrap();
    }
    let seeded = sources.len();
    // The writer registers precomputed sketches: each registration is still a full commit
    // (segment append, fsync, catalogue transaction), without re-parsing the CSV each time.
    let sketch_all = |dir: &str| -> Arc<Vec<(String, Sketch)>> {
        let list = files(&data(dir))
            .into_iter()
            .map(|(name, path)| (name, index.sketch_file(&path, &input).unwrap()))
            .collect();
        Arc::new(list)
    };
    let source_sketches = sketch_all("weather_cities/sources");
    let target_sketches = sketch_all("weather_cities/targets");

    let done = Arc::new(AtomicBool::new(false));
    let searchers: Vec<_> = (0..SEARCHERS)
        .map(|t| {
            let (index, done) = (index.clone(), done.clone());
            let targets = target_sketches.clone();
            std::thread::spawn(move || searcher(&index, &done, t, seeded, &targets))
        })
        .collect();

    let writer = {
        let (index, done, sources) = (index.clone(), done.clone(), source_sketches.clone());
        std::thread::spawn(move || {
            for i in 0..WRITES {
                let (name, sketch) = &sources[i % sources.len()];
                let version = (i / sources.len() + 1).to_string();
                let reg = Registration::new(name.as_str()).version(version);
                let done_reg = index.register_sketch(&reg, sketch.clone());

                let r = done_reg.unwrap_or_else(|e| panic!("registration {i} failed: {e}"));
                assert_eq!(r.model.id as usize, seeded + i, "ids follow commit order");
            }
            done.store(true, Ordering::Release);
        })
    };
    writer.join().unwrap();
    let seen: Vec<Seen> = searchers.into_iter().map(|h| h.join().unwrap()).collect();

    let total = seeded + WRITES;
    for (t, s) in seen.iter().enumerate() {
        assert!(
            s.exhaustive > 0 && s.bands > 0,
            "thread {t} hardly searched: {s:?}"
        );
        assert_eq!(s.last_models, total, "thread {t}: {s:?}");
    }
    // The searches overlapped the writes: some saw a partial index.
    assert!(
        seen.iter().any(|s| s.first_models < total),
        "no search ran during the writes: {seen:?}"
    );

    let target = data("weather_cities/targets/target_Mumbai_2016.csv");
    for exhaustive_limit in [100_000, 0] {
        let options = SearchOptions {
            top_k: 5,
            exhaustive_limit,
            ..SearchOptions::default()
        };
        let results = index.search_file(&target, &input, &options).unwrap();
        assert_eq!(results.models, total);
        assert_eq!(results.matches.len(), 5);
        assert_eq!(results.matches[0].model.name, "model_Mumbai_2016");
    }
    assert_eq!(index.models().unwrap().len(), total);
    let report = index.verify().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    let searches: usize = seen.iter().map(|s| s.exhaustive + s.bands).sum();
    eprintln!(
        "{searches} searches from {SEARCHERS} threads during {WRITES} registrations: {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn a_second_writer_process_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let index_dir = dir.path().join("index");
    let index = Index::create(&index_dir, Params::default()).unwrap();
    let input = InputOptions::default();
    let sources = files(&data("weather_cities/sources"));
    for (name, path) in &sources[..3] {
        let reg = Registration::new(name.as_str());
        index.register_file(&reg, path, &input).unwrap();
    }
    let models = index.models().unwrap();
    let before = snapshot(&index_dir);

    let (name, path) = &sources[3];
    let out = Command::new(env!("CARGO_BIN_EXE_adaptdb"))
        .arg("register")
        .arg(&index_dir)
        .arg(path)
        .args(["--name", name])
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "a second writer registered: {stderr}"
    );
    assert!(
        stderr.contains("open for writing in another process"),
        "unclear error: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");

    // A reader works while the writer holds the index.
    let out = Command::new(env!("CARGO_BIN_EXE_adaptdb"))
        .arg("list")
        .arg(&index_dir)
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "list failed beside a writer: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("3 model versions"), "{stdout}");
    for (name, _) in &sources[..3] {
        assert!(
            stdout.contains(name.as_str()),
            "{name} not listed: {stdout}"
        );
    }

    assert_eq!(
        snapshot(&index_dir),
        before,
        "the refused writer changed the index"
    );
    assert_eq!(index.models().unwrap(), models);
    let report = index.verify().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    // The first writer carries on unharmed.
    let reg = Registration::new(name.as_str());
    index.register_file(&reg, path, &input).unwrap();
    drop(index);
    let index = Index::open_read_only(&index_dir).unwrap();
    assert_eq!(index.models().unwrap().len(), 4);
    assert!(index.verify().unwrap().is_ok());
}
