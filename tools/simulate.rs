//! `adaptdb-simulate`: a retraining pipeline against one index. One writer thread registers
//! versions continuously while searcher threads run searches, and the tool reports
//! registrations/s, search latency percentiles and errors.
//!
//! The writer cycles over the workload's sources (`DATA/sources/*.csv[.gz]`), read once
//! each. Round m registers every source once more, as version `2024-01` + m months (name =
//! the source's stem, metadata `month=YYYY-MM` and, for names like `model_City_Year`,
//! `city=City` and `year=Year`), trained on a fresh random ~80% of the source's rows (or
//! `--batch-rows` rows drawn with replacement) — a model retrained each month. The searcher
//! threads loop over the workload's targets (`DATA/targets`) with
//! `SearchOptions::default()` until the writer finishes; above 1,000 versions the band
//! tables take over from exhaustive scoring, so latencies are reported per path.
//!
//! The last line is a summary of `key=value` fields: `registrations= elapsed_s=
//! registrations_per_s= searches= p50_ms= p95_ms= p99_ms= max_ms= errors= verify=`. The
//! exit status is non-zero when `errors` is not 0 or `verify` is not `ok`.
//!
//! ```text
//! cargo run --release --bin adaptdb-simulate -- --index /tmp/sim --registrations 10000
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use adaptdb::input::{read_all, Frame};
use adaptdb::sketch::FrameRows;
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

/// The `.csv` / `.csv.gz` files of `dir` by stem, sorted, each read into memory.
fn frames(dir: &Path) -> anyhow::Result<Vec<(String, Frame)>> {
    let mut out = Vec::new();
    let entries = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    for entry in entries {
        let path = entry
            .with_context(|| format!("reading {}", dir.display()))?
            .path();
        let Some(file) = path.file_name().and_then(|f| f.to_str()) else {
            continue;
        };
        let Some(stem) = file
            .strip_suffix(".csv.gz")
            .or_else(|| file.strip_suffix(".csv"))
        else {
            continue;
        };
        let frame = read_all(&path, &InputOptions::default())?;
        out.push((stem.to_string(), frame));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    if out.is_empty() {
        bail!("{}: no .csv or .csv.gz files", dir.display());
    }
    Ok(out)
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

/// What the searcher threads record.
#[derive(Default)]
struct Latencies {
    exhaustive: Vec<Duration>,
    bands: Vec<Duration>,
}

/// Shared state of one simulation.
struct Shared {
    done: AtomicBool,
    registered: AtomicUsize,
    errors: AtomicUsize,
    latencies: Mutex<Latencies>,
}

impl Shared {
    fn error(&self, what: &str, e: &dyn std::fmt::Display) {
        if self.errors.fetch_add(1, Ordering::SeqCst) < SHOWN_ERRORS {
            eprintln!("error: {what}: {e}");
        }
    }
}

fn writer(
    index: &Index,
    sources: &[(String, Frame)],
    args: &Args,
    shared: &Shared,
) -> anyhow::Result<()> {
    let mut rng = StdRng::seed_from_u64(args.seed);
    for i in 0..args.registrations {
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
        let sample = subsample(frame, args.batch_rows, &mut rng);
        match index.register(&reg, &mut FrameRows::new(&sample)) {
            Ok(_) => {
                shared.registered.fetch_add(1, Ordering::SeqCst);
            }
            Err(e) => {
                let v = reg.version.as_deref().unwrap_or_default();
                shared.error(&format!("registering {}@{v}", reg.name), &e);
            }
        }
        if i == 0 && shared.registered.load(Ordering::SeqCst) == 0 {
            bail!("the first registration failed; nothing to search");
        }
    }
    Ok(())
}

fn searcher(index: &Index, targets: &[(String, Frame)], offset: usize, shared: &Shared) {
    let options = SearchOptions::default();
    let mut local = Latencies::default();
    let mut i = offset;
    while shared.registered.load(Ordering::SeqCst) == 0 && !shared.done.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(1));
    }
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

fn run(args: &Args) -> anyhow::Result<bool> {
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
        "simulating {} registrations over {} sources with {} searchers over {} targets",
        args.registrations,
        sources.len(),
        args.searchers,
        targets.len()
    );
    let shared = Shared {
        done: AtomicBool::new(false),
        registered: AtomicUsize::new(0),
        errors: AtomicUsize::new(0),
        latencies: Mutex::new(Latencies::default()),
    };
    let started = Instant::now();
    let written = std::thread::scope(|scope| {
        for t in 0..args.searchers {
            let (index, targets, shared) = (&index, &targets, &shared);
            scope.spawn(move || searcher(index, targets, t, shared));
        }
        let outcome = writer(&index, &sources, args, &shared);
        shared.done.store(true, Ordering::SeqCst);
        outcome
    });
    let elapsed = started.elapsed().as_secs_f64();
    written?;
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
         searches={} {} errors={errors} verify={verify}",
        registered as f64 / elapsed.max(1e-9),
        all.len(),
        percentiles(&all)
    );
    Ok(errors == 0 && report.is_ok())
}
