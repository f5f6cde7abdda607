//! `adaptdb-simulate`: a retraining pipeline against one index. `--writers` threads prepare
//! versions and register them through a group committer (`store::Registrar`) while searcher
//! threads run searches; the tool reports registrations/s, commits and group sizes, search
//! latency percentiles and errors, then verifies the index.
//!
//! Registration i is made from the workload's sources (`DATA/sources/*.csv[.gz]`, read once
//! each): source i mod n, as version `2024-01` + i / n months (name = the source's stem,
//! metadata `month=YYYY-MM` and, for names like `model_City_Year`, `city=City` and
//! `year=Year`), trained on a fresh random ~80% of the source's rows (or `--batch-rows` rows
//! drawn with replacement) — a model retrained each month. The rows depend on `--seed` and i
//! only, not on which writer takes i. Registration 0 fixes the sample space and is made
//! before the other threads start; then each writer takes the next i, subsamples and
//! sketches it, submits it and waits until it is durable. `--writers 0` registers one at a
//! time with `Index::register` instead (one commit each), for comparison. The searcher
//! threads loop over the workload's targets (`DATA/targets`) with `SearchOptions::default()`
//! until the writers finish; above 1,000 versions the band tables take over from exhaustive
//! scoring, so latencies are reported per path.
//!
//! The last line is a summary of `key=value` fields: `registrations= elapsed_s=
//! registrations_per_s= writers= commits= group_mean= group_max= searches= p50_ms= p95_ms=
//! p99_ms= max_ms= errors= verify=`. `commits` counts transactions (registration 0's, then
//! one per group); `group_mean` and `group_max` are registrations per commit. The exit
//! status is non-zero when `errors` is not 0 or `verify` is not `ok`.
//!
//! ```text
//! cargo run --release --bin adaptdb-simulate -- --index /tmp/sim --registrations 10000 \
//!     [--writers 4] [--max-group 64] [--searchers 4] [--batch-rows N] [--seed 7]
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use adaptdb::input::{read_all, Frame};
use adaptdb::sketch::{FrameRows, Sketcher};
use adaptdb::store::Registrar;
use adaptdb::{Index, InputOptions, Params, Registration, SearchOptions, SearchPath};
use anyhow::{bail, Context};
use clap::Parser;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// Register versions continuously while searches run; report throughput and latencies.
#[derive(Debug, Parser)]
#[command(name = "adaptdb-simulate", about, long_about = None)]
struct Args {
    /// The index directory (created if absent; it must hold no model versions).
    #[arg(long)]
    index: PathBuf,
    /// The workload folder, with `sources/` and `targets/`.
    #[arg(long, default_value = "data/weather_cities")]
    data: PathBuf,
    /// Versions to register.
    #[arg(long, default_value_t = 10_000)]
    registrations: usize,
    /// Writer threads submitting through one group committer; 0 registers one version at a
    /// time on one thread with `Index::register`, without group commit.
    #[arg(long, default_value_t = 4)]
    writers: usize,
    /// Most registrations the group committer puts in one transaction.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..))]
    max_group: u64,
    /// Searcher threads.
    #[arg(long, default_value_t = 4)]
    searchers: usize,
    /// Rows per registration, drawn with replacement [default: a random ~80% of the
    /// source's rows, without replacement].
    #[arg(long)]
    batch_rows: Option<usize>,
    /// Seed of the row subsampling.
    #[arg(long, default_value_t = 7)]
    seed: u64,
}

/// Errors printed in full; later ones are only counted.
const SHOWN_ERRORS: usize = 5;
/// Registrations between two progress lines on stderr.
const PROGRESS_EVERY: usize = 1_000;

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// The data files of `dir` by stem, sorted, each read into memory.
fn frames(dir: &Path) -> anyhow::Result<Vec<(String, Frame)>> {
    let input = InputOptions::default();
    adaptdb::input::data_files(dir)?
        .into_iter()
        .map(|(stem, path)| Ok((stem, read_all(&path, &input)?)))
        .collect()
}

/// `city` and `year` from a name like `model_City_Year`.
fn city_year(stem: &str) -> Option<(&str, &str)> {
    let mut parts = stem.split('_');
    let (_, city, year) = (parts.next()?, parts.next()?, parts.next()?);
    let is_year = year.len() == 4 && year.bytes().all(|b| b.is_ascii_digit());
    (parts.next().is_none() && is_year).then_some((city, year))
}

/// Version label `YYYY-MM`, `round` months after January 2024.
fn month(round: usize) -> String {
    format!("{}-{:02}", 2024 + round / 12, round % 12 + 1)
}

/// A random subsample of `frame`: ~80% of its rows without replacement (at least one), or
/// `batch` rows with replacement.
fn subsample(frame: &Frame, batch: Option<usize>, rng: &mut StdRng) -> Frame {
    let d = frame.columns.len();
    let rows: Vec<usize> = match batch {
        Some(n) if frame.rows > 0 => (0..n).map(|_| rng.random_range(0..frame.rows)).collect(),
        _ => {
            let kept: Vec<usize> = (0..frame.rows)
                .filter(|_| rng.random_range(0..10u32) < 8)
                .collect();
            if kept.is_empty() {
                (0..frame.rows.min(1)).collect()
            } else {
                kept
            }
        }
    };
    let mut values = Vec::with_capacity(rows.len() * d);
    for &r in &rows {
        values.extend_from_slice(&frame.values[r * d..][..d]);
    }
    Frame {
        path: frame.path.clone(),
        columns: frame.columns.clone(),
        rows: rows.len(),
        values,
    }
}

/// Odd constant that spreads registration numbers over the seed space.
const SEED_MIX: u64 = 0x9E37_79B9_7F4A_7C15;

/// Registration `i` and its training rows, drawn from a generator seeded by `args.seed` and
/// `i` alone (so the data does not depend on which writer prepares it).
fn prepare(i: usize, sources: &[(String, Frame)], args: &Args) -> (Registration, Frame) {
    let (stem, frame) = &sources[i % sources.len()];
    let version = month(i / sources.len());
    let mut metadata = vec![("month".to_string(), version.clone())];
    if let Some((city, year)) = city_year(stem) {
        metadata.push(("city".into(), city.into()));
        metadata.push(("year".into(), year.into()));
    }
    let reg = Registration {
        metadata,
        ..Registration::new(stem.clone()).version(version)
    };
    let mut rng = StdRng::seed_from_u64(args.seed ^ (i as u64).wrapping_mul(SEED_MIX));
    (reg, subsample(frame, args.batch_rows, &mut rng))
}

/// What the searcher threads record.
#[derive(Default)]
struct Latencies {
    exhaustive: Vec<Duration>,
    bands: Vec<Duration>,
}

/// Shared state of one simulation.
struct Shared {
    done: AtomicBool,
    /// The next registration a writer takes; registration 0 is made before they start.
    next: AtomicUsize,
    registered: AtomicUsize,
    errors: AtomicUsize,
    started: Instant,
    latencies: Mutex<Latencies>,
}

impl Shared {
    fn error(&self, what: &str, e: &dyn std::fmt::Display) {
        if self.errors.fetch_add(1, Ordering::SeqCst) < SHOWN_ERRORS {
            eprintln!("error: {what}: {e}");
        }
    }

    fn registered_one(&self) {
        let n = self.registered.fetch_add(1, Ordering::SeqCst) + 1;
        if n % PROGRESS_EVERY == 0 {
            let s = self.started.elapsed().as_secs_f64();
            eprintln!("registered {n} versions in {s:.1} s");
        }
    }
}

/// How a writer makes one prepared registration durable.
#[derive(Clone, Copy)]
enum Commit<'a> {
    /// `Index::register`: sketch and commit on the writer's thread, one transaction each.
    Alone(&'a Index),
    /// Sketch on the writer's thread, then submit to the group committer and wait.
    Grouped(&'a Registrar, &'a Sketcher),
}

impl Commit<'_> {
    fn register(self, registration: Registration, rows: &Frame) -> adaptdb::Result<()> {
        let mut rows = FrameRows::new(rows);
        match self {
            Commit::Alone(index) => index.register(&registration, &mut rows).map(drop),
            Commit::Grouped(registrar, sketcher) => {
                let sketch = sketcher.sketch(&mut rows)?;
                registrar.submit(registration, sketch).wait().map(drop)
            }
        }
    }
}

/// Takes registrations from `shared.next` until all are taken, and commits each one.
fn writer(commit: Commit, sources: &[(String, Frame)], args: &Args, shared: &Shared) {
    loop {
        let i = shared.next.fetch_add(1, Ordering::SeqCst);
        if i >= args.registrations {
            return;
        }
        let (registration, rows) = prepare(i, sources, args);
        let label = format!(
            "registering {}@{}",
            registration.name,
            registration.version.as_deref().unwrap_or_default()
        );
        match commit.register(registration, &rows) {
            Ok(()) => shared.registered_one(),
            Err(e) => shared.error(&label, &e),
        }
    }
}

fn searcher(index: &Index, targets: &[(String, Frame)], offset: usize, shared: &Shared) {
    let options = SearchOptions::default();
    let mut local = Latencies::default();
    let mut i = offset;
    // Registration 0 is in before any searcher starts: there is always something to search.
    while !shared.done.load(Ordering::SeqCst) {
        let (stem, frame) = &targets[i % targets.len()];
        i += 1;
        let started = Instant::now();
        match index.search(&mut FrameRows::new(frame), &options) {
            Ok(r) => {
                let took = started.elapsed();
                match r.path {
                    SearchPath::Exhaustive => local.exhaustive.push(took),
                    SearchPath::Bands { .. } => local.bands.push(took),
                }
            }
            Err(e) => shared.error(&format!("searching with {stem}"), &e),
        }
    }
    if let Ok(mut all) = shared.latencies.lock() {
        all.exhaustive.extend(local.exhaustive);
        all.bands.extend(local.bands);
    }
}

/// The `q` quantile of sorted durations, in milliseconds (nearest rank).
fn quantile_ms(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1e3
}

fn percentiles(sorted: &[Duration]) -> String {
    format!(
        "p50_ms={:.3} p95_ms={:.3} p99_ms={:.3} max_ms={:.3}",
        quantile_ms(sorted, 0.50),
        quantile_ms(sorted, 0.95),
        quantile_ms(sorted, 0.99),
        quantile_ms(sorted, 1.0)
    )
}

/// Commits and registrations per commit of one run.
struct Groups {
    /// Transactions: registration 0's, then one per group (or per registration).
    commits: u64,
    /// Registrations handed to those transactions, refused ones included.
    registrations: u64,
    /// Registrations in the largest transaction.
    largest: usize,
}

impl Groups {
    fn fields(&self) -> String {
        let mean = self.registrations as f64 / self.commits.max(1) as f64;
        format!(
            "commits={} group_mean={mean:.2} group_max={}",
            self.commits, self.largest
        )
    }
}

/// Runs the searchers and the writers until every registration after the first is made,
/// and returns how they were grouped.
fn simulate(
    index: &Arc<Index>,
    sources: &[(String, Frame)],
    targets: &[(String, Frame)],
    args: &Args,
    shared: &Shared,
) -> anyhow::Result<Groups> {
    let sketcher = index
        .sketcher()?
        .context("the first registration left no sample space")?;
    let registrar = (args.writers > 0).then(|| {
        let max_group = usize::try_from(args.max_group).unwrap_or(usize::MAX);
        Registrar::start(index.clone(), max_group)
    });
    let commit = match &registrar {
        Some(registrar) => Commit::Grouped(registrar, &sketcher),
        None => Commit::Alone(index),
    };

    std::thread::scope(|scope| {
        for t in 0..args.searchers {
            scope.spawn(move || searcher(index, targets, t, shared));
        }
        let writers: Vec<_> = (0..args.writers.max(1))
            .map(|_| scope.spawn(move || writer(commit, sources, args, shared)))
            .collect();
        for w in writers {
            if w.join().is_err() {
                shared.error("a writer thread", &"panicked");
            }
        }
        shared.done.store(true, Ordering::SeqCst);
    });

    // Registration 0 went through `Index::register`, a transaction of its own.
    Ok(match registrar {
        Some(registrar) => {
            let groups = Groups {
                commits: 1 + registrar.groups(),
                registrations: 1 + registrar.grouped(),
                largest: registrar.largest_group().max(1),
            };
            registrar.close();
            groups
        }
        None => Groups {
            commits: args.registrations as u64,
            registrations: args.registrations as u64,
            largest: 1,
        },
    })
}

fn run(args: &Args) -> anyhow::Result<bool> {
    if args.registrations == 0 {
        bail!("--registrations must be at least 1");
    }
    let sources = frames(&args.data.join("sources"))?;
    let targets = frames(&args.data.join("targets"))?;
    let index = Index::open_or_create(&args.index, Params::default())
        .with_context(|| format!("opening index {}", args.index.display()))?;
    if !index.models()?.is_empty() {
        bail!(
            "{}: the index already holds model versions; give a new directory",
            args.index.display()
        );
    }
    eprintln!(
        "simulating {} registrations over {} sources with {} writers and {} searchers over {} \
         targets",
        args.registrations,
        sources.len(),
        args.writers,
        args.searchers,
        targets.len()
    );
    let shared = Shared {
        done: AtomicBool::new(false),
        next: AtomicUsize::new(1),
        registered: AtomicUsize::new(0),
        errors: AtomicUsize::new(0),
        started: Instant::now(),
        latencies: Mutex::new(Latencies::default()),
    };

    // The first registration fixes the sample space that every later sketch is made in.
    let (first, rows) = prepare(0, &sources, args);
    index
        .register(&first, &mut FrameRows::new(&rows))
        .with_context(|| format!("registering {} (the first; nothing to search)", first.name))?;
    shared.registered_one();
    let index = Arc::new(index);
    let groups = simulate(&index, &sources, &targets, args, &shared)?;
    let elapsed = shared.started.elapsed().as_secs_f64();
    report(&index, args, shared, &groups, elapsed)
}

/// Verifies the index and prints the latency lines and the summary line.
fn report(
    index: &Index,
    args: &Args,
    shared: Shared,
    groups: &Groups,
    elapsed: f64,
) -> anyhow::Result<bool> {
    let registered = shared.registered.load(Ordering::SeqCst);
    let errors = shared.errors.load(Ordering::SeqCst);
    let mut lat = shared
        .latencies
        .into_inner()
        .unwrap_or_else(|p| p.into_inner());
    lat.exhaustive.sort_unstable();
    lat.bands.sort_unstable();
    let mut all: Vec<Duration> = lat.exhaustive.iter().chain(&lat.bands).copied().collect();
    all.sort_unstable();

    let report = index.verify()?;
    let verify = if report.is_ok() { "ok" } else { "failed" };
    for p in report.problems.iter().take(SHOWN_ERRORS) {
        eprintln!("verify: {p:?}");
    }

    println!(
        "exhaustive searches (≤ 1,000 versions): {} {}",
        lat.exhaustive.len(),
        percentiles(&lat.exhaustive)
    );
    println!(
        "band-table searches (> 1,000 versions): {} {}",
        lat.bands.len(),
        percentiles(&lat.bands)
    );
    println!(
        "registrations={registered} elapsed_s={elapsed:.2} registrations_per_s={:.1} \
         writers={} {} searches={} {} errors={errors} verify={verify}",
        registered as f64 / elapsed.max(1e-9),
        args.writers,
        groups.fields(),
        all.len(),
        percentiles(&all)
    );
    Ok(errors == 0 && report.is_ok())
}
