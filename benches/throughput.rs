//! Registration and search figures on a workload folder, printed as a table.
//!
//! `cargo bench --bench throughput -- [WORKLOAD_DIR] [--versions N] [--repeat R]`
//!
//! Registers every source of the workload (default `data/image_digits`), then times every
//! target's search (`--repeat` times each, in process, index warm). With `--versions N` it
//! then keeps registering copies of the sources until the index holds N versions and
//! times searches on the band-table path, which is what a large registry runs.

use std::path::{Path, PathBuf};
use std::time::Instant;

use adaptdb::{Index, InputOptions, Params, Registration, SearchOptions};

fn data_files(dir: &Path) -> Vec<(String, PathBuf)> {
    adaptdb::input::data_files(dir).unwrap_or_else(|e| panic!("{e}"))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn time_searches(
    index: &Index,
    targets: &[(String, PathBuf)],
    options: &SearchOptions,
    repeat: usize,
) -> Vec<f64> {
    let input = InputOptions::default();
    let sketches: Vec<_> = targets
        .iter()
        .map(|(_, p)| index.sketch_file(p, &input).expect("target sketches"))
        .collect();
    let mut ms = Vec::new();
    for _ in 0..repeat {
        for s in &sketches {
            let t = Instant::now();
            let r = index.search_sketch(s, options).expect("search succeeds");
            ms.push(t.elapsed().as_secs_f64() * 1e3);
            assert!(!r.matches.is_empty());
        }
    }
    ms.sort_by(f64::total_cmp);
    ms
}

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let (mut dir, mut versions, mut repeat) = (PathBuf::from("data/image_digits"), 0usize, 20);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--versions" => versions = args.next().and_then(|v| v.parse().ok()).unwrap_or(0),
            "--repeat" => repeat = args.next().and_then(|v| v.parse().ok()).unwrap_or(20),
            // Flags of the test harness (`cargo test --all-targets -- --test-threads=2`).
            other if other.starts_with("--") => {}
            other => dir = PathBuf::from(other),
        }
    }
    let sources = data_files(&dir.join("sources"));
    let targets = data_files(&dir.join("targets"));
    let tmp = tempfile::tempdir().expect("temporary directory");
    let index = Index::create(tmp.path().join("index"), Params::default()).expect("index");
    let input = InputOptions::default();

    let t = Instant::now();
    for (name, path) in &sources {
        index
            .register_file(&Registration::new(name).version("0"), path, &input)
            .expect("register");
    }
    let reg_s = t.elapsed().as_secs_f64();
    println!(
        "workload {}: {} sources, {} targets",
        dir.display(),
        sources.len(),
        targets.len()
    );
    println!(
        "register all sources      {:9.1} ms ({:.1} ms each)",
        reg_s * 1e3,
        reg_s * 1e3 / sources.len() as f64
    );

    let t = Instant::now();
    for (_, p) in &targets {
        index.sketch_file(p, &input).expect("sketch");
    }
    println!(
        "read + sketch one target  {:9.2} ms (mean)",
        t.elapsed().as_secs_f64() * 1e3 / targets.len() as f64
    );
    let ms = time_searches(
        &index,
        &targets,
        &SearchOptions {
            top_k: 10,
            ..Default::default()
        },
        repeat,
    );
    println!(
        "search, exhaustive        {:9.3} ms p50, {:.3} ms p99 ({} versions)",
        percentile(&ms, 0.5),
        percentile(&ms, 0.99),
        sources.len()
    );

    if versions > sources.len() {
        let t = Instant::now();
        let mut n = sources.len();
        let mut round = 1;
        while n < versions {
            for (name, path) in &sources {
                if n >= versions {
                    break;
                }
                let reg = Registration::new(name).version(round.to_string());
                index.register_file(&reg, path, &input).expect("register");
                n += 1;
            }
            round += 1;
        }
        let per = t.elapsed().as_secs_f64() / (versions - sources.len()) as f64;
        println!(
            "register (one commit each) {:8.2} ms per version, {:.0} versions/s",
            per * 1e3,
            1.0 / per
        );
        let options = SearchOptions {
            top_k: 10,
            exhaustive_limit: 0,
            ..Default::default()
        };
        let ms = time_searches(&index, &targets, &options, repeat);
        println!(
            "search, band tables       {:9.3} ms p50, {:.3} ms p99 ({versions} versions)",
            percentile(&ms, 0.5),
            percentile(&ms, 0.99)
        );
    }
}
