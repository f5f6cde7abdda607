//! The evaluation-mode baselines of `adaptdb::eval` on the shipped weather workload, their
//! agreement with the index and with the workload's own figures, and the `adaptdb-eval`
//! harness end to end (METHOD.md §7).

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use adaptdb::divergence;
use adaptdb::eval::{Baseline, Evaluator};
use adaptdb::input::{read_all, Frame};
use adaptdb::search::Score;
use adaptdb::sketch::FrameRows;
use adaptdb::{Index, InputOptions, Params, Registration, SearchOptions};
use common::{data, files};

struct Weather {
    _dir: tempfile::TempDir,
    index: Index,
    sources: Vec<(String, Frame)>,
    targets: BTreeMap<String, Frame>,
}

/// Every weather source registered in name order in an index that keeps distributions.
fn weather() -> Weather {
    let input = InputOptions::default();
    let sources: Vec<(String, Frame)> = files(&data("weather_cities/sources"))
        .into_iter()
        .map(|(name, path)| (name, read_all(&path, &input).unwrap()))
        .collect();
    let targets = files(&data("weather_cities/targets"))
        .into_iter()
        .map(|(name, path)| (name, read_all(&path, &input).unwrap()))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let params = Params {
        keep_distributions: true,
        ..Params::default()
    };
    let index = Index::create(dir.path(), params).unwrap();
    for (name, frame) in &sources {
        let reg = Registration::new(name).version("1");
        index.register(&reg, &mut FrameRows::new(frame)).unwrap();
    }
    Weather {
        _dir: dir,
        index,
        sources,
        targets,
    }
}

impl Weather {
    fn evaluator(&self) -> Evaluator {
        Evaluator::for_index(&self.index, &self.sources[0].1).unwrap()
    }

    fn frames(&self) -> Vec<&Frame> {
        self.sources.iter().map(|(_, f)| f).collect()
    }

    fn best(&self, scores: &[f64]) -> &str {
        let i = (0..scores.len())
            .max_by(|&a, &b| scores[a].total_cmp(&scores[b]))
            .unwrap();
        &self.sources[i].0
    }
}

/// `ground_truth.csv` column `column` for every (target, source).
fn truth_column(column: &str) -> BTreeMap<(String, String), f64> {
    let mut reader = csv::Reader::from_path(data("weather_cities/ground_truth.csv")).unwrap();
    let headers = reader.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (t, s, v) = (col("target"), col("source"), col(column));
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            let key = (r[t].to_string(), r[s].to_string());
            (key, r[v].parse().unwrap())
        })
        .collect()
}

#[test]
fn the_noise_floor_is_the_one_the_index_calibrated_with() {
    let w = weather();
    let ev = w.evaluator();
    // The default index derives its bucket width from 2 × the floor it measured: the
    // recomputed floor must give the same width, bit for bit.
    let r = divergence::bucket_width_for(ev.threshold(), ev.params().rows_per_band);
    assert_eq!(r, w.index.params().bucket_width);
    assert!(ev.noise_floor() > 0.0 && ev.noise_floor() < 0.1);
}

#[test]
fn baselines_pick_the_clear_best_model() {
    let w = weather();
    let ev = w.evaluator();
    let sources = w.frames();
    let soft_baselines = [
        Baseline::ExactSoft,
        Baseline::WholeJs,
        Baseline::L2Mean,
        Baseline::L2MeanZ,
    ];
    // Mumbai's climate is far from the other cities': the model trained on the same
    // city-year is the true best. The distribution scores and the z-scored means find it;
    // the raw means, dominated by the features of largest scale, pick the other Mumbai year.
    let target = &w.targets["target_Mumbai_2016"];
    for b in [Baseline::ExactSoft, Baseline::WholeJs, Baseline::L2MeanZ] {
        let scores = ev.score(b, target, &sources).unwrap();
        assert_eq!(
            w.best(&scores),
            "model_Mumbai_2016",
            "{}: {scores:?}",
            b.name()
        );
    }
    let l2 = ev.l2_mean(target, &sources).unwrap();
    assert_eq!(w.best(&l2), "model_Mumbai_2017", "{l2:?}");
    // Where the true best is clear and is the target's own city-year, every one of them
    // ranks it first.
    for name in [
        "target_Chicago_2017",
        "target_Mumbai_2017",
        "target_SanDiego_2016",
    ] {
        let want = name.replace("target_", "model_");
        for b in soft_baselines {
            let scores = ev.score(b, &w.targets[name], &sources).unwrap();
            assert_eq!(w.best(&scores), want, "{name} {}: {scores:?}", b.name());
        }
    }
    // And on every target they rank a model of the target's own city first.
    for (name, frame) in &w.targets {
        let city = name.split('_').nth(1).unwrap();
        for b in soft_baselines {
            let scores = ev.score(b, frame, &sources).unwrap();
            assert!(w.best(&scores).contains(city), "{name} {}", b.name());
        }
    }
    // Hard adaptivity takes few values on three partitions; Mumbai 2016 covers its own
    // city-year's target fully.
    let pairwise = ev.pairwise_adaptivity(target, &sources).unwrap();
    let mumbai = w
        .sources
        .iter()
        .position(|(n, _)| n == "model_Mumbai_2016")
        .unwrap();
    assert_eq!(pairwise[mumbai], 1.0, "{pairwise:?}");
    assert!(pairwise.iter().all(|a| (0.0..=1.0).contains(a)));
}

#[test]
fn raw_exact_scores_equal_the_index_exact_strategy() {
    let w = weather();
    let ev = w.evaluator();
    let sources = w.frames();
    let options = SearchOptions {
        top_k: 100,
        score: Score::Exact,
        ..SearchOptions::default()
    };
    for name in ["target_Mumbai_2016", "target_Chicago_2017"] {
        let target = &w.targets[name];
        let raw = ev.exact(target, &sources).unwrap();
        let found = w
            .index
            .search(&mut FrameRows::new(target), &options)
            .unwrap();
        for ((source, _), raw) in w.sources.iter().zip(&raw) {
            let m = found
                .matches
                .iter()
                .find(|m| &m.model.name == source)
                .unwrap();
            assert_eq!(m.adaptivity, raw.soft, "{name} {source}");
            assert_eq!(m.coverage, raw.coverage, "{name} {source}");
        }
    }
}

#[test]
fn l2_of_means_matches_the_workload_figures() {
    // ground_truth.csv carries the L2 distance of mean feature vectors, computed by the
    // workload's builder from the same rows (6 decimals).
    let w = weather();
    let ev = w.evaluator();
    let sources = w.frames();
    let want = truth_column("l2_mean_distance");
    for (target, frame) in &w.targets {
        let got = ev.l2_mean(frame, &sources).unwrap();
        for ((source, _), got) in w.sources.iter().zip(got) {
            let want = want[&(target.clone(), source.clone())];
            assert!(
                (-got - want).abs() < 1e-5,
                "{target} {source}: {got} vs {want}"
            );
        }
    }
    // The z-scored distance is a distance too: 0 for a dataset against itself, positive
    // against another one.
    let own = ev.l2_mean_z(sources[0], &sources[..2]).unwrap();
    assert_eq!(own[0], 0.0);
    assert!(own[1] < 0.0);
}

fn run_harness(workload: &Path, out: &Path, extra: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_adaptdb-eval"))
        .arg(workload)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "adaptdb-eval failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

const METHODS: [&str; 14] = [
    "hellinger",
    "soft",
    "exact",
    "containment",
    "minhash",
    "paper",
    "paper@preset",
    "hellinger@L=1",
    "pairwise",
    "exact-raw",
    "whole-js",
    "l2-mean",
    "l2-mean-z",
    "source-acc",
];

#[test]
fn the_harness_writes_its_report_table_and_plot() {
    let out = tempfile::tempdir().unwrap();
    let stdout = run_harness(&data("weather_cities"), out.path(), &["--seeds", "1"]);
    let md = std::fs::read_to_string(out.path().join("weather_cities.md")).unwrap();
    assert!(stdout.contains(&md), "stdout lacks the report:\n{stdout}");
    let header = "| method | pcc | top-1 | top-2 | top-3 | regret | latency ms |";
    let lines: Vec<&str> = md.lines().collect();
    let at = lines.iter().position(|l| *l == header).unwrap();
    let rows: Vec<&str> = lines[at + 2..]
        .iter()
        .take_while(|l| l.starts_with('|'))
        .map(|l| l.split('|').nth(1).unwrap().trim())
        .collect();
    assert_eq!(rows, METHODS);
    assert!(md.contains("Ties in score are broken by source name ascending"));
    assert!(md.contains("Seed spread over 1 master seeds"));
    assert!(stdout
        .lines()
        .last()
        .unwrap()
        .starts_with("speed ratio weather_cities: exact pairwise"));

    let mut csv = csv::Reader::from_path(out.path().join("weather_cities.csv")).unwrap();
    assert_eq!(
        csv.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "method",
            "kind",
            "targets",
            "pcc",
            "pcc_targets",
            "top1_error",
            "top2_error",
            "top3_error",
            "regret",
            "latency_ms"
        ]
    );
    let records: Vec<csv::StringRecord> = csv.records().map(|r| r.unwrap()).collect();
    let names: Vec<&str> = records.iter().map(|r| &r[0]).collect();
    assert_eq!(names, METHODS);
    for r in &records {
        assert_eq!(&r[2], "10");
        for i in 5..=8 {
            let v: f64 = r[i].parse().unwrap();
            assert!((0.0..=1.0).contains(&v), "{r:?}");
        }
    }

    let svg = std::fs::read_to_string(out.path().join("weather_cities.svg")).unwrap();
    assert!(svg.starts_with("<svg"));
    for m in METHODS {
        assert!(svg.contains(&format!("{m} (pcc ")), "no panel for {m}");
    }
}

#[test]
fn the_harness_can_leave_out_each_targets_counterpart() {
    let out = tempfile::tempdir().unwrap();
    let stdout = run_harness(
        &data("weather_cities"),
        out.path(),
        &["--exclude-same-group"],
    );
    assert!(stdout.contains("9.0 candidates per target"), "{stdout}");
    assert!(stdout.contains("same_group source excluded"), "{stdout}");
}

#[test]
fn the_harness_measures_both_costs_at_registry_scale() {
    let out = tempfile::tempdir().unwrap();
    let stdout = run_harness(&data("weather_cities"), out.path(), &["--scale", "3"]);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("speed ratio weather_cities at 30 versions (3 per source; "))
        .unwrap_or_else(|| panic!("no scale line:\n{stdout}"));
    // 30 versions is under the exhaustive limit: every version is scored.
    assert!(
        line.contains("every version scored): exact pairwise "),
        "{line}"
    );
    let ratio: f64 = line
        .rsplit("= ")
        .next()
        .and_then(|r| r.strip_suffix('x'))
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    assert!(ratio.is_finite() && ratio > 0.0, "{line}");
}
