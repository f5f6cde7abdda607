//! `adaptdb demo`: the main job end to end on a workload folder — register every source,
//! search with every target, and print each ranking beside the known best model.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use adaptdb::{Index, InputOptions, Registration, SearchOptions, SearchPath};
use anyhow::Context;

use super::created::{self, Existing};
use super::{count, PathContext};

/// Arguments of `adaptdb demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A workload folder with `sources/`, `targets/` and `ground_truth.csv`.
    #[arg(default_value = "data/weather_cities")]
    workload: PathBuf,
    /// Keep the index here instead of in a temporary directory (must not exist yet).
    #[arg(long)]
    index: Option<PathBuf>,
    /// Print only the summary line, not each ranking.
    #[arg(long)]
    quiet: bool,
    /// Scoring strategy (see `adaptdb search --help`).
    #[arg(long, default_value_t = adaptdb::search::Score::default())]
    score: adaptdb::search::Score,
    #[command(flatten)]
    params: super::init::ParamArgs,
}

/// target → (source → accuracy of the source's model on the target).
type Truth = BTreeMap<String, BTreeMap<String, f64>>;

/// Runs the demo; a failure removes the index it created (`--index` included).
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let truth = read_truth(&args.workload.join("ground_truth.csv"))?;
    let sources = data_files(&args.workload.join("sources"))?;
    let targets = data_files(&args.workload.join("targets"))?;
    let tmp = tempfile::tempdir().context("creating a temporary directory")?;
    let index_dir = args
        .index
        .clone()
        .unwrap_or_else(|| tmp.path().join("index"));
    let mut params = args.params.params();
    // The exact score reads stored distributions: the demo's own index keeps them.
    params.keep_distributions |= args.score == adaptdb::search::Score::Exact;
    created::with_index(&index_dir, params, Existing::Refuse, |index, _| {
        let register_s = register_sources(index, &sources)?;
        println!(
            "registered {} from {} in {register_s:.2} s",
            count(sources.len(), "source", "sources"),
            args.workload.display()
        );
        search_targets(&args, index, &truth, &targets, sources.len())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Registers every source as `NAME@1`; returns the seconds it took.
fn register_sources(index: &Index, sources: &BTreeMap<String, PathBuf>) -> anyhow::Result<f64> {
    let input = InputOptions::default();
    let started = Instant::now();
    for (name, path) in sources {
        index
            .register_file(&Registration::new(name).version("1"), path, &input)
            .doing("registering", path)?;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// Searches with every target that has ground truth and prints the rankings and score.
fn search_targets(
    args: &Args,
    index: &Index,
    truth: &Truth,
    targets: &BTreeMap<String, PathBuf>,
    sources: usize,
) -> anyhow::Result<()> {
    let input = InputOptions::default();
    let options = SearchOptions {
        top_k: sources,
        score: args.score,
        ..SearchOptions::default()
    };
    let mut score = Score::default();
    for (name, path) in targets {
        let Some(accuracy) = truth.get(name) else {
            continue;
        };
        let t0 = Instant::now();
        let results = index
            .search_file(path, &input, &options)
            .doing("searching with", path)?;
        score.search_ms.push(t0.elapsed().as_secs_f64() * 1e3);
        let ranking: Vec<(String, f64)> = results
            .matches
            .iter()
            .filter(|m| accuracy.contains_key(&m.model.name))
            .map(|m| (m.model.name.clone(), m.adaptivity))
            .collect();
        let best = accuracy.values().copied().fold(f64::MIN, f64::max);
        score.add(&ranking, accuracy, best);
        if !args.quiet {
            print_ranking(name, &ranking, accuracy, best, results.path);
        }
    }
    score.print(&args.workload);
    Ok(())
}

fn print_ranking(
    target: &str,
    ranking: &[(String, f64)],
    accuracy: &BTreeMap<String, f64>,
    best: f64,
    path: SearchPath,
) {
    let best_names: Vec<&str> = accuracy
        .iter()
        .filter(|(_, a)| **a >= best - 1e-9)
        .map(|(n, _)| n.as_str())
        .collect();
    let how = if path == SearchPath::Exhaustive {
        "all models scored"
    } else {
        "band tables"
    };
    println!(
        "\ntarget {target} — true best: {} ({best:.3}); {how}",
        best_names.join(", ")
    );
    let mut t = super::table(&["rank", "model", "adaptivity", "true accuracy", ""]);
    for (i, (name, adaptivity)) in ranking.iter().enumerate() {
        let acc = accuracy.get(name).copied().unwrap_or(f64::NAN);
        let mark = if acc >= best - 1e-9 { "best" } else { "" };
        t.add_row(vec![
            (i + 1).to_string(),
            name.clone(),
            format!("{adaptivity:.4}"),
            format!("{acc:.3}"),
            mark.to_string(),
        ]);
    }
    println!("{t}");
}

#[derive(Default)]
struct Score {
    targets: usize,
    top1_miss: usize,
    top2_miss: usize,
    regret: f64,
    search_ms: Vec<f64>,
}

impl Score {
    fn add(&mut self, ranking: &[(String, f64)], accuracy: &BTreeMap<String, f64>, best: f64) {
        let acc = |i: usize| ranking.get(i).and_then(|(n, _)| accuracy.get(n)).copied();
        let hit = |k: usize| (0..k).any(|i| acc(i).is_some_and(|a| a >= best - 1e-9));
        self.targets += 1;
        self.top1_miss += usize::from(!hit(1));
        self.top2_miss += usize::from(!hit(2));
        self.regret += best - acc(0).unwrap_or(0.0);
    }

    fn print(&mut self, workload: &Path) {
        let n = self.targets.max(1) as f64;
        self.search_ms.sort_by(f64::total_cmp);
        let median = self
            .search_ms
            .get(self.search_ms.len() / 2)
            .copied()
            .unwrap_or(0.0);
        println!(
            "\n{}: {}, top-1 error {:.3}, top-2 error {:.3}, mean regret {:.4}, \
             median search {median:.1} ms",
            workload.display(),
            count(self.targets, "target", "targets"),
            self.top1_miss as f64 / n,
            self.top2_miss as f64 / n,
            self.regret / n
        );
    }
}

/// Reads `ground_truth.csv` (columns `target`, `source`, `target_accuracy`).
fn read_truth(path: &Path) -> anyhow::Result<Truth> {
    let mut reader =
        csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
    let headers = reader.headers()?.clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .with_context(|| format!("{}: no column {name}", path.display()))
    };
    let (t, s, a) = (col("target")?, col("source")?, col("target_accuracy")?);
    let mut truth = Truth::new();
    for (i, row) in reader.records().enumerate() {
        let row = row.with_context(|| format!("{}: row {}", path.display(), i + 2))?;
        let acc: f64 = row[a]
            .trim()
            .parse()
            .with_context(|| format!("{}: row {}: bad target_accuracy", path.display(), i + 2))?;
        truth
            .entry(row[t].to_string())
            .or_default()
            .insert(row[s].to_string(), acc);
    }
    Ok(truth)
}

/// The data files of a folder by stem.
fn data_files(dir: &Path) -> anyhow::Result<BTreeMap<String, PathBuf>> {
    Ok(adaptdb::input::data_files(dir)?.into_iter().collect())
}
