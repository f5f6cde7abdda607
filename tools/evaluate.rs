//! `adaptdb-eval`: measures every scoring strategy of a search, and the baselines a search
//! must beat, on workload folders with known model accuracies (METHOD.md §5, §7).
//!
//! ```text
//! adaptdb-eval WORKLOAD_DIR... [--out DIR] [--seeds N] [--exclude-same-group]
//! ```
//!
//! A workload folder holds `sources/*.csv[.gz]` (each model's training data),
//! `targets/*.csv[.gz]` and `ground_truth.csv` with columns `target`, `source`,
//! `target_accuracy` and optionally `source_accuracy` and `same_group`; the candidates for a
//! target are exactly the sources listed for it. For each workload the tool
//!
//! 1. registers the sources in three temporary indexes: the default parameters with stored
//!    distributions, the paper's preset (r = 1.4, R = 4, L = 200), and one band of all 2048
//!    hashes (the two-level index without flattening, L = 1);
//! 2. searches with every target through `Index::search` with each strategy —
//!    `hellinger` (the default), `soft`, `exact`, `containment`, `minhash`, `paper` on the
//!    default index, `paper` on the preset index, the default strategy on the L = 1 index —
//!    timing each search, target sketching included;
//! 3. computes the baselines of [`adaptdb::eval`] from the in-memory datasets — exact
//!    pairwise adaptivity (Def. 3.1), the exact soft score, whole-dataset JS, L2 between
//!    mean feature vectors raw and z-scored, and source accuracy — timing each from the
//!    already-read frames (binning and partitioning included);
//! 4. reports per method the mean Pearson correlation between score and target accuracy,
//!    tie-aware top-1/2/3 error, mean regret and mean latency per target, as a Markdown
//!    table on stdout and as `NAME.md`, `NAME.csv` and `NAME.svg` (score against accuracy,
//!    one panel per method) under `--out`;
//! 5. with `--seeds N`, rebuilds the default index under N other master seeds and reports
//!    the spread of the default strategy's top-1 error and correlation;
//! 6. ends each workload with the speed ratio of the exact pairwise baseline to a search
//!    with the default strategy, and with `--scale N` the same ratio measured on an index
//!    holding N versions of every source (the pairwise baseline then compares every pair of
//!    partitions of every version).
//!
//! Ties in score are broken by source name ascending.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use adaptdb::eval::{self, Baseline, Evaluator, Summary};
use adaptdb::input::{read_all, Frame};
use adaptdb::search::Score;
use adaptdb::sketch::FrameRows;
use adaptdb::{Index, InputOptions, Params, Registration, SearchOptions, SearchPath};
use anyhow::{anyhow, bail, Context};
use clap::Parser;

/// Measure every scoring strategy and the baselines on workloads with known accuracies.
#[derive(Debug, Parser)]
#[command(name = "adaptdb-eval", about, long_about = None)]
struct Cli {
    /// Workload folders, each with `sources/`, `targets/` and `ground_truth.csv`.
    #[arg(required = true)]
    workloads: Vec<PathBuf>,
    /// Where to write NAME.md, NAME.csv and NAME.svg for each workload.
    #[arg(long, default_value = "eval-out")]
    out: PathBuf,
    /// Also rebuild the default index under this many other master seeds and report the
    /// spread of the default strategy across them.
    #[arg(long, default_value_t = 0)]
    seeds: u32,
    /// Leave each target's natural counterpart (`same_group` = 1) out of its candidates.
    #[arg(long)]
    exclude_same_group: bool,
    /// JSD-LSH bands (L) of the default index and of the seed-spread indexes, in place of
    /// the default, to measure what more or fewer bands buy.
    #[arg(long)]
    bands: Option<u16>,
    /// Also measure both costs at registry scale: register every source this many times
    /// (as versions 1 … N of its name) and time, per target, a default search (top 10)
    /// against the exact pairwise baseline over all N copies of every candidate.
    #[arg(long)]
    scale: Option<usize>,
}

impl Cli {
    /// The default parameters, with `--bands` applied.
    fn params(&self) -> Params {
        let default = Params::default();
        Params {
            bands: self.bands.unwrap_or(default.bands),
            ..default
        }
    }
}

/// One (target, source) row of `ground_truth.csv`.
#[derive(Debug, Clone, Copy)]
struct Pair {
    target_accuracy: f64,
    source_accuracy: Option<f64>,
    same_group: Option<bool>,
}

/// target → source → pair.
type Truth = BTreeMap<String, BTreeMap<String, Pair>>;

/// One target and its candidate sources, by name ascending.
struct Case {
    target: String,
    frame: usize,
    candidates: Vec<String>,
    accuracy: Vec<f64>,
}

/// A method's scores for every case, with the time each took.
struct Method {
    name: String,
    kind: &'static str,
    scores: Vec<Vec<f64>>,
    millis: Vec<f64>,
}

impl Method {
    fn new(name: impl Into<String>, kind: &'static str) -> Self {
        Self {
            name: name.into(),
            kind,
            scores: Vec::new(),
            millis: Vec::new(),
        }
    }

    fn summary(&self, cases: &[Case]) -> Summary {
        eval::summarize(&outcomes(&self.scores, cases))
    }

    fn latency(&self) -> f64 {
        self.millis.iter().sum::<f64>() / self.millis.len().max(1) as f64
    }
}

fn outcomes(scores: &[Vec<f64>], cases: &[Case]) -> Vec<eval::Outcome> {
    scores
        .iter()
        .zip(cases)
        .map(|(s, c)| {
            let names: Vec<&str> = c.candidates.iter().map(String::as_str).collect();
            eval::assess(s, &c.accuracy, &names)
        })
        .collect()
}

/// A loaded workload.
struct Workload {
    name: String,
    dir: PathBuf,
    truth: Truth,
    sources: Vec<(String, Frame)>,
    targets: Vec<(String, Frame)>,
    has_source_accuracy: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: &Cli) -> anyhow::Result<()> {
    std::fs::create_dir_all(&cli.out).with_context(|| format!("creating {}", cli.out.display()))?;
    let mut ratios = Vec::new();
    for dir in &cli.workloads {
        let workload = load(dir)?;
        let ratio = evaluate(&workload, cli)?;
        ratios.push(ratio);
    }
    println!();
    for line in ratios {
        println!("{line}");
    }
    Ok(())
}

/// Reads a workload folder into memory.
fn load(dir: &Path) -> anyhow::Result<Workload> {
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| !n.is_empty())
        .with_context(|| format!("{}: cannot name the workload", dir.display()))?
        .to_string();
    let (truth, has_source_accuracy) = read_truth(&dir.join("ground_truth.csv"))?;
    let input = InputOptions::default();
    let read = |(stem, path): (String, PathBuf)| -> anyhow::Result<(String, Frame)> {
        let frame =
            read_all(&path, &input).with_context(|| format!("reading {}", path.display()))?;
        Ok((stem, frame))
    };
    let sources = adaptdb::input::data_files(&dir.join("sources"))?
        .into_iter()
        .map(read)
        .collect::<anyhow::Result<Vec<_>>>()?;
    let targets = adaptdb::input::data_files(&dir.join("targets"))?
        .into_iter()
        .filter(|(stem, _)| truth.contains_key(stem))
        .map(read)
        .collect::<anyhow::Result<Vec<_>>>()?;
    if targets.is_empty() {
        bail!(
            "{}: no target of ground_truth.csv has a file under targets/",
            dir.display()
        );
    }
    Ok(Workload {
        name,
        dir: dir.to_path_buf(),
        truth,
        sources,
        targets,
        has_source_accuracy,
    })
}

/// Reads `ground_truth.csv`; says whether it has a `source_accuracy` column.
fn read_truth(path: &Path) -> anyhow::Result<(Truth, bool)> {
    let mut reader =
        csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
    let headers = reader.headers()?.clone();
    let find = |name: &str| headers.iter().position(|h| h.trim() == name);
    let col =
        |name: &str| find(name).with_context(|| format!("{}: no column {name}", path.display()));
    let (t, s, a) = (col("target")?, col("source")?, col("target_accuracy")?);
    let (sa, sg) = (find("source_accuracy"), find("same_group"));
    let mut truth = Truth::new();
    for (i, row) in reader.records().enumerate() {
        let line = i + 2;
        let row = row.with_context(|| format!("{}: line {line}", path.display()))?;
        let number = |c: usize, what: &str| -> anyhow::Result<f64> {
            let text = row.get(c).unwrap_or_default().trim();
            text.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .with_context(|| format!("{}: line {line}: bad {what} {text:?}", path.display()))
        };
        let pair = Pair {
            target_accuracy: number(a, "target_accuracy")?,
            source_accuracy: sa.map(|c| number(c, "source_accuracy")).transpose()?,
            same_group: sg
                .map(|c| number(c, "same_group").map(|v| v != 0.0))
                .transpose()?,
        };
        let field = |c: usize| row.get(c).unwrap_or_default().trim().to_string();
        truth.entry(field(t)).or_default().insert(field(s), pair);
    }
    Ok((truth, sa.is_some()))
}

/// The targets to assess, each with its candidates (minus its natural counterpart when
/// `exclude_same_group`).
fn cases(w: &Workload, exclude_same_group: bool) -> anyhow::Result<Vec<Case>> {
    let mut out = Vec::new();
    for (frame, (target, _)) in w.targets.iter().enumerate() {
        let Some(pairs) = w.truth.get(target) else {
            continue;
        };
        let mut candidates = Vec::new();
        let mut accuracy = Vec::new();
        for (source, pair) in pairs {
            if !w.sources.iter().any(|(s, _)| s == source) {
                bail!(
                    "{}: ground_truth.csv lists source {source} for {target}, but sources/ has \
                     no such file",
                    w.dir.display()
                );
            }
            if exclude_same_group {
                let Some(same) = pair.same_group else {
                    bail!(
                        "{}: --exclude-same-group needs a same_group column in ground_truth.csv",
                        w.dir.display()
                    );
                };
                if same {
                    continue;
                }
            }
            candidates.push(source.clone());
            accuracy.push(pair.target_accuracy);
        }
        if !candidates.is_empty() {
            out.push(Case {
                target: target.clone(),
                frame,
                candidates,
                accuracy,
            });
        }
    }
    Ok(out)
}

/// The source accuracy of each source, from the first ground-truth row that gives it.
fn source_accuracies(truth: &Truth) -> HashMap<String, f64> {
    let mut out = HashMap::new();
    for pairs in truth.values() {
        for (source, pair) in pairs {
            if let Some(a) = pair.source_accuracy {
                out.entry(source.clone()).or_insert(a);
            }
        }
    }
    out
}

/// Creates an index under `dir` and registers every source (in name order) in it.
fn build(dir: &Path, params: Params, w: &Workload) -> anyhow::Result<(Index, f64)> {
    let index =
        Index::create(dir, params).with_context(|| format!("creating index {}", dir.display()))?;
    let accuracy = source_accuracies(&w.truth);
    let started = Instant::now();
    for (name, frame) in &w.sources {
        let reg = Registration {
            source_accuracy: accuracy.get(name).copied(),
            ..Registration::new(name).version("1")
        };
        index
            .register(&reg, &mut FrameRows::new(frame))
            .with_context(|| format!("registering {}", frame.path.display()))?;
    }
    Ok((index, started.elapsed().as_secs_f64()))
}

/// Searches with every case's target under one strategy and keeps the candidates' scores.
fn strategy(
    name: &str,
    index: &Index,
    score: Score,
    w: &Workload,
    cases: &[Case],
) -> anyhow::Result<Method> {
    let mut method = Method::new(name, "strategy");
    let options = SearchOptions {
        top_k: usize::MAX,
        score,
        ..SearchOptions::default()
    };
    // One untimed search first, so that no case pays for first-use costs (page cache,
    // thread pool).
    if let Some(case) = cases.first() {
        let frame = &w.targets[case.frame].1;
        index
            .search(&mut FrameRows::new(frame), &options)
            .with_context(|| format!("{name}: searching with {}", case.target))?;
    }
    for case in cases {
        let frame = &w.targets[case.frame].1;
        let started = Instant::now();
        let results = index
            .search(&mut FrameRows::new(frame), &options)
            .with_context(|| format!("{name}: searching with {}", case.target))?;
        method.millis.push(started.elapsed().as_secs_f64() * 1e3);
        let by_name: HashMap<&str, f64> = results
            .matches
            .iter()
            .map(|m| (m.model.name.as_str(), m.adaptivity))
            .collect();
        let scores =
            case.candidates
                .iter()
                .map(|c| {
                    by_name.get(c.as_str()).copied().with_context(|| {
                        format!("{name}: {} was not scored for {}", c, case.target)
                    })
                })
                .collect::<anyhow::Result<Vec<f64>>>()?;
        method.scores.push(scores);
    }
    Ok(method)
}

/// Computes one raw-data baseline for every case.
fn baseline(
    ev: &Evaluator,
    which: Baseline,
    w: &Workload,
    cases: &[Case],
) -> anyhow::Result<Method> {
    let mut method = Method::new(which.name(), "baseline");
    for case in cases {
        let target = &w.targets[case.frame].1;
        let sources = source_frames(w, case)?;
        let started = Instant::now();
        let scores = ev
            .score(which, target, &sources)
            .with_context(|| format!("{}: {}", which.name(), case.target))?;
        method.millis.push(started.elapsed().as_secs_f64() * 1e3);
        method.scores.push(scores);
    }
    Ok(method)
}

fn source_frames<'a>(w: &'a Workload, case: &Case) -> anyhow::Result<Vec<&'a Frame>> {
    case.candidates
        .iter()
        .map(|c| {
            w.sources
                .iter()
                .find(|(s, _)| s == c)
                .map(|(_, f)| f)
                .with_context(|| format!("no source {c}"))
        })
        .collect()
}

/// The source-accuracy baseline, from the models as registered.
fn source_accuracy_baseline(index: &Index, cases: &[Case]) -> anyhow::Result<Method> {
    let mut method = Method::new("source-acc", "baseline");
    for case in cases {
        let started = Instant::now();
        let models = index.models()?;
        let scores: Vec<f64> = case
            .candidates
            .iter()
            .map(|c| {
                models
                    .iter()
                    .find(|m| &m.name == c)
                    .and_then(eval::source_accuracy)
                    .unwrap_or(f64::NAN)
            })
            .collect();
        method.millis.push(started.elapsed().as_secs_f64() * 1e3);
        method.scores.push(scores);
    }
    Ok(method)
}

/// The seed spread of the default strategy and of the exact soft score: top-1 errors and
/// correlations under each seed. The master seed moves the partitioning (which moves the
/// exact score too) as well as the hash functions (which move only the estimate), so the
/// exact score's spread is the part of the default's that no number of bands removes.
struct Spread {
    seeds: Vec<u64>,
    top1: Vec<f64>,
    pcc: Vec<f64>,
    exact_top1: Vec<f64>,
    exact_pcc: Vec<f64>,
}

fn seed_spread(w: &Workload, cases: &[Case], cli: &Cli) -> anyhow::Result<Spread> {
    let mut spread = Spread {
        seeds: Vec::new(),
        top1: Vec::new(),
        pcc: Vec::new(),
        exact_top1: Vec::new(),
        exact_pcc: Vec::new(),
    };
    let base = cli.params().seed;
    for i in 1..=u64::from(cli.seeds) {
        let seed = base.wrapping_add(i);
        let tmp = tempfile::tempdir().context("creating a temporary directory")?;
        let params = Params {
            seed,
            keep_distributions: true,
            ..cli.params()
        };
        let (index, _) = build(&tmp.path().join("index"), params, w)?;
        let s = strategy("default", &index, Score::default(), w, cases)?.summary(cases);
        let e = strategy("exact", &index, Score::Exact, w, cases)?.summary(cases);
        spread.seeds.push(seed);
        spread.top1.push(s.top_error[0]);
        spread.pcc.push(s.pcc.unwrap_or(f64::NAN));
        spread.exact_top1.push(e.top_error[0]);
        spread.exact_pcc.push(e.pcc.unwrap_or(f64::NAN));
    }
    Ok(spread)
}

/// Runs every method on one workload, prints and writes the report; returns the speed line.
fn evaluate(w: &Workload, cli: &Cli) -> anyhow::Result<String> {
    let cases = cases(w, cli.exclude_same_group)?;
    if cases.is_empty() {
        bail!("{}: no target has a candidate", w.dir.display());
    }
    eprintln!(
        "{}: {} sources, {} targets",
        w.name,
        w.sources.len(),
        cases.len()
    );
    let tmp = tempfile::tempdir().context("creating a temporary directory")?;
    let default_params = Params {
        keep_distributions: true,
        ..cli.params()
    };
    let (index, register_s) = build(&tmp.path().join("default"), default_params, w)?;
    let (paper, _) = build(&tmp.path().join("paper"), Params::paper(), w)?;
    let one_band = Params {
        bands: 1,
        rows_per_band: cli.params().hashes() as u16,
        ..cli.params()
    };
    let (flat, _) = build(&tmp.path().join("one-band"), one_band, w)?;

    let mut methods = Vec::new();
    for score in Score::ALL {
        eprintln!("  strategy {score}");
        methods.push(strategy(score.name(), &index, score, w, &cases)?);
    }
    let one_band_name = format!("{}@L=1", Score::default());
    eprintln!("  strategy paper@preset, {one_band_name}");
    methods.push(strategy("paper@preset", &paper, Score::Paper, w, &cases)?);
    methods.push(strategy(
        &one_band_name,
        &flat,
        Score::default(),
        w,
        &cases,
    )?);
    let first = &w.sources.first().context("no sources")?.1;
    let ev = Evaluator::for_index(&index, first)?;
    for which in Baseline::ALL {
        eprintln!("  baseline {}", which.name());
        methods.push(baseline(&ev, which, w, &cases)?);
    }
    if w.has_source_accuracy {
        methods.push(source_accuracy_baseline(&index, &cases)?);
    }
    let spread = if cli.seeds > 0 {
        eprintln!("  {} seeds", cli.seeds);
        Some(seed_spread(w, &cases, cli)?)
    } else {
        None
    };

    let latency = |name: &str| {
        methods
            .iter()
            .find(|m| m.name == name)
            .map_or(f64::NAN, Method::latency)
    };
    let (pairwise_ms, search_ms) = (
        latency(Baseline::PairwiseAdaptivity.name()),
        latency(Score::default().name()),
    );
    let speed = format!(
        "speed ratio {}: exact pairwise {pairwise_ms:.2} ms / default search {search_ms:.2} ms \
         = {:.1}x",
        w.name,
        pairwise_ms / search_ms
    );

    let speed = match cli.scale {
        Some(copies) if copies > 1 => {
            eprintln!("  scale: {copies} versions per source");
            format!("{speed}\n{}", at_scale(w, &cases, &ev, cli, copies)?)
        }
        _ => speed,
    };

    let header = Header {
        sources: w.sources.len(),
        params: index.params(),
        paper_width: paper.params().bucket_width,
        flat_width: flat.params().bucket_width,
        noise_floor: ev.noise_floor(),
        threshold: ev.threshold(),
        register_s,
        exclude_same_group: cli.exclude_same_group,
    };
    let md = markdown(w, &cases, &methods, &header, spread.as_ref(), &speed);
    print!("{md}");
    let out = |ext: &str| cli.out.join(format!("{}.{ext}", w.name));
    std::fs::write(out("md"), &md).with_context(|| format!("writing {}", out("md").display()))?;
    write_csv(&out("csv"), &cases, &methods)?;
    plot(&out("svg"), w, &cases, &methods)?;
    Ok(speed)
}

/// Both costs when the index holds `copies` versions of every source: a default search
/// (the path the index size selects) against the exact pairwise baseline, which must read
/// every candidate version's raw data and compare every pair of partitions.
fn at_scale(
    w: &Workload,
    cases: &[Case],
    ev: &Evaluator,
    cli: &Cli,
    copies: usize,
) -> anyhow::Result<String> {
    let tmp = tempfile::tempdir().context("creating a temporary directory")?;
    let dir = tmp.path().join("scale");
    let index = Index::create(&dir, cli.params()).context("creating the scale index")?;
    for v in 1..=copies {
        for (name, frame) in &w.sources {
            let reg = Registration::new(name).version(v.to_string());
            index
                .register(&reg, &mut FrameRows::new(frame))
                .with_context(|| format!("registering {}", frame.path.display()))?;
        }
    }
    let options = SearchOptions::default();
    let (mut search_ms, mut pairwise_ms, mut path) = (0.0, 0.0, String::new());
    for case in cases {
        let frame = &w.targets[case.frame].1;
        let started = Instant::now();
        let found = index.search(&mut FrameRows::new(frame), &options)?;
        search_ms += started.elapsed().as_secs_f64() * 1e3;
        path = match found.path {
            SearchPath::Exhaustive => "every version scored".into(),
            SearchPath::Bands { candidates, .. } => format!(
                "band tables: {candidates} candidates, {} scored",
                candidates.min(options.rescore)
            ),
        };
        let one = source_frames(w, case)?;
        let sources: Vec<&Frame> = (0..copies).flat_map(|_| one.iter().copied()).collect();
        let started = Instant::now();
        ev.score(Baseline::PairwiseAdaptivity, frame, &sources)?;
        pairwise_ms += started.elapsed().as_secs_f64() * 1e3;
    }
    let n = cases.len() as f64;
    let versions = copies * w.sources.len();
    Ok(format!(
        "speed ratio {} at {versions} versions ({copies} per source; {path}): exact pairwise \
         {:.2} ms / default search {:.2} ms = {:.1}x",
        w.name,
        pairwise_ms / n,
        search_ms / n,
        pairwise_ms / search_ms
    ))
}

/// Index figures for the report's preamble.
struct Header {
    sources: usize,
    params: Params,
    paper_width: f64,
    flat_width: f64,
    noise_floor: f64,
    threshold: f64,
    register_s: f64,
    exclude_same_group: bool,
}

fn pcc_cell(s: &Summary) -> String {
    match s.pcc {
        None => "n/a".into(),
        Some(p) if s.pcc_targets == s.targets => format!("{p:.3}"),
        Some(p) => format!("{p:.3} ({}/{})", s.pcc_targets, s.targets),
    }
}

fn markdown(
    w: &Workload,
    cases: &[Case],
    methods: &[Method],
    h: &Header,
    spread: Option<&Spread>,
    speed: &str,
) -> String {
    let mut md = String::new();
    let p = &h.params;
    let candidates: usize = cases.iter().map(|c| c.candidates.len()).sum();
    let _ = writeln!(md, "## {}\n", w.name);
    let _ = writeln!(
        md,
        "- {} sources, {} targets, {:.1} candidates per target{}.",
        h.sources,
        cases.len(),
        candidates as f64 / cases.len().max(1) as f64,
        if h.exclude_same_group {
            " (each target's same_group source excluded)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        md,
        "- Default index: s = {}, B = {}, R = {}, L = {}, r = {:.4} (calibrated), K_m = {}; \
         noise floor {:.5} nats, JS threshold t = {:.5}; all sources registered in {:.2} s.",
        p.partition_rows,
        p.bins,
        p.rows_per_band,
        p.bands,
        p.bucket_width,
        p.minhash_size,
        h.noise_floor,
        h.threshold,
        h.register_s
    );
    let _ = writeln!(
        md,
        "- `paper@preset`: the paper's r = {:.2}, R = 4, L = 200. `{}@L=1`: one band of \
         R = 2048 hashes, r = {:.4} (calibrated).",
        h.paper_width,
        Score::default(),
        h.flat_width
    );
    let _ = writeln!(
        md,
        "- Ties in score are broken by source name ascending. A top-k hit is a target whose \
         first k ranked sources include one within 1e-9 of the best accuracy. pcc is averaged \
         over the targets where neither score nor accuracy is constant (count shown when not \
         all). Strategy latency is one `Index::search` per target, sketching the in-memory \
         target included, after one untimed warm-up search; baseline latency is the \
         computation from in-memory datasets (binning and partitioning included).\n"
    );
    let _ = writeln!(
        md,
        "| method | pcc | top-1 | top-2 | top-3 | regret | latency ms |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|");
    for m in methods {
        let s = m.summary(cases);
        let _ = writeln!(
            md,
            "| {} | {} | {:.3} | {:.3} | {:.3} | {:.4} | {:.2} |",
            m.name,
            pcc_cell(&s),
            s.top_error[0],
            s.top_error[1],
            s.top_error[2],
            s.regret,
            m.latency()
        );
    }
    let _ = writeln!(
        md,
        "\nStrategies (`Index::search`): hellinger (default), soft, exact, containment, \
         minhash, paper on the default index; paper@preset; hellinger@L=1. Baselines (raw \
         data, `adaptdb::eval`): \
         pairwise = exact hard adaptivity (Def. 3.1) at t; exact-raw = exact soft score; \
         whole-js = −JS of the whole datasets; l2-mean / l2-mean-z = −L2 between mean \
         feature vectors, raw / z-scored with the pooled rows of source and target; \
         source-acc = the model's own holdout accuracy.\n"
    );
    if let Some(s) = spread {
        let stats = |v: &[f64]| {
            let finite: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
            let mean = finite.iter().sum::<f64>() / finite.len().max(1) as f64;
            let min = finite.iter().copied().fold(f64::INFINITY, f64::min);
            let max = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            format!("mean {mean:.3}, min {min:.3}, max {max:.3}")
        };
        let seeds: Vec<String> = s.seeds.iter().map(|x| format!("{x:#x}")).collect();
        let _ = writeln!(
            md,
            "Seed spread over {} master seeds ({}): default strategy top-1 error {}; pcc {}. \
             Exact soft score (moved by the partitioning alone) top-1 error {}; pcc {}.\n",
            s.seeds.len(),
            seeds.join(", "),
            stats(&s.top1),
            stats(&s.pcc),
            stats(&s.exact_top1),
            stats(&s.exact_pcc)
        );
    }
    let _ = writeln!(md, "{speed}\n");
    md
}

fn write_csv(path: &Path, cases: &[Case], methods: &[Method]) -> anyhow::Result<()> {
    let mut out =
        csv::Writer::from_path(path).with_context(|| format!("writing {}", path.display()))?;
    out.write_record([
        "method",
        "kind",
        "targets",
        "pcc",
        "pcc_targets",
        "top1_error",
        "top2_error",
        "top3_error",
        "regret",
        "latency_ms",
    ])?;
    for m in methods {
        let s = m.summary(cases);
        out.write_record([
            m.name.clone(),
            m.kind.to_string(),
            s.targets.to_string(),
            s.pcc.map_or(String::new(), |p| format!("{p:.6}")),
            s.pcc_targets.to_string(),
            format!("{:.6}", s.top_error[0]),
            format!("{:.6}", s.top_error[1]),
            format!("{:.6}", s.top_error[2]),
            format!("{:.6}", s.regret),
            format!("{:.4}", m.latency()),
        ])?;
    }
    out.flush()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// One scatter panel per method (score on x, target accuracy on y, one colour per target)
/// and a legend panel naming the targets.
fn plot(path: &Path, w: &Workload, cases: &[Case], methods: &[Method]) -> anyhow::Result<()> {
    use plotters::prelude::*;
    let fail = |e: &dyn std::fmt::Display| anyhow!("{}: {e}", path.display());
    let cols = 4;
    let rows = (methods.len() + 1).div_ceil(cols);
    let root = SVGBackend::new(path, (cols as u32 * 400, rows as u32 * 320)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(&e))?;
    let panels = root.split_evenly((rows, cols));
    let (ymin, ymax) = cases
        .iter()
        .flat_map(|c| &c.accuracy)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &y| {
            (a.min(y), b.max(y))
        });
    let (y0, y1) = padded(ymin, ymax);
    for (panel, m) in panels.iter().zip(methods) {
        let points: Vec<(f64, f64, usize)> = m
            .scores
            .iter()
            .zip(cases)
            .enumerate()
            .flat_map(|(t, (scores, case))| {
                scores
                    .iter()
                    .zip(&case.accuracy)
                    .filter(|(x, _)| x.is_finite())
                    .map(move |(&x, &y)| (x, y, t))
            })
            .collect();
        let (xmin, xmax) = points
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
                (a.min(p.0), b.max(p.0))
            });
        let (x0, x1) = padded(xmin, xmax);
        let title = format!("{} (pcc {})", m.name, pcc_cell(&m.summary(cases)));
        let mut chart = ChartBuilder::on(panel)
            .caption(title, ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(32)
            .y_label_area_size(44)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(|e| fail(&e))?;
        chart
            .configure_mesh()
            .x_labels(5)
            .y_labels(5)
            .x_desc("score")
            .y_desc("target accuracy")
            .label_style(("sans-serif", 11))
            .draw()
            .map_err(|e| fail(&e))?;
        chart
            .draw_series(
                points
                    .iter()
                    .map(|&(x, y, t)| Circle::new((x, y), 3, Palette99::pick(t).filled())),
            )
            .map_err(|e| fail(&e))?;
    }
    if let Some(legend) = panels.get(methods.len()) {
        for (t, case) in cases.iter().enumerate() {
            let y = 20 + 18 * t as i32;
            legend
                .draw(&Circle::new((20, y), 4, Palette99::pick(t).filled()))
                .map_err(|e| fail(&e))?;
            legend
                .draw(&Text::new(
                    case.target.clone(),
                    (32, y - 7),
                    ("sans-serif", 13),
                ))
                .map_err(|e| fail(&e))?;
        }
        let note = format!("{}: one colour per target", w.name);
        let y = 28 + 18 * cases.len() as i32;
        legend
            .draw(&Text::new(note, (12, y), ("sans-serif", 13)))
            .map_err(|e| fail(&e))?;
    }
    root.present().map_err(|e| fail(&e))?;
    Ok(())
}

/// A plotting range around [lo, hi] with a 5 % margin (a unit-wide one around a point).
fn padded(lo: f64, hi: f64) -> (f64, f64) {
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    let span = hi - lo;
    if span <= 0.0 {
        let pad = (lo.abs() * 0.05).max(0.05);
        return (lo - pad, hi + pad);
    }
    (lo - 0.05 * span, hi + 0.05 * span)
}
