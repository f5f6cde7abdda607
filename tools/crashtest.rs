//! `adaptdb-crashtest`: proves that a registration is atomic and durable against the
//! process dying at any instant.
//!
//! A registration appends and fsyncs the segment record, then commits the catalogue entries
//! that point at it in one redb transaction (Immediate durability). If the registering
//! process is killed anywhere — while sketching, mid-append, mid-fsync, mid-commit — the
//! index must reopen consistent, and every registration that returned `Ok` before the kill
//! must be there and answer correctly.
//!
//! `run` repeats: spawn a child (a copy of this executable, hidden subcommand `child`) that
//! registers the data files of `--data` in a loop under fresh version numbers and prints
//! `done NAME VERSION FINGERPRINT` after each `Ok`; SIGKILL it after a random delay; then
//! reopen the index (writable once, so that redb and the segment writer recover, then
//! read-only), run `Index::verify`, and check that every reported version is catalogued
//! with its fingerprint and that a search with its own data finds it with adaptivity
//! exactly 1.0 (this run's versions and 3 older ones sampled at random; every older version
//! must still be listed). At most one unreported version may appear per run, the next one:
//! the child was killed after the commit and before printing (`extra_committed`).
//!
//! It prints one summary line, `runs= kills= reported= present= extra_committed=
//! verify_failures= missing= wrong_answers= child_errors= unexpected= elapsed_s=`, and exits
//! non-zero when any of `verify_failures`, `missing`, `wrong_answers`, `child_errors` (a
//! child that ended on its own) or `unexpected` (unreported versions beyond the one) is not
//! 0. It stops early when 3 children in a row fail on their own.
//!
//! SIGKILL ends the process, not the machine: this checks atomicity and recovery after a
//! process crash; the written pages survive in the OS cache even without the fsyncs.
//!
//! By hand:
//!
//! ```text
//! cargo run --release --bin adaptdb-crashtest -- \
//!     run --index /tmp/crash --data data/weather_cities/sources --runs 500
//! ```

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use adaptdb::{Index, InputOptions, ModelVersion, Params, Registration};
use adaptdb::{SearchOptions, SearchPath};
use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// Kill registering processes at random moments and check the index after each kill.
#[derive(Debug, Parser)]
#[command(name = "adaptdb-crashtest", about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run the crash test.
    Run(RunArgs),
    /// Register versions in a loop until killed (spawned by `run`).
    #[command(hide = true)]
    Child(ChildArgs),
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// The index directory (created if needed).
    #[arg(long)]
    index: PathBuf,
    /// A folder of `.csv` / `.csv.gz` files to register.
    #[arg(long)]
    data: PathBuf,
    /// Kill-and-check rounds.
    #[arg(long)]
    runs: u64,
    /// Seed of the kill delays and of the sampling of older versions.
    #[arg(long, default_value_t = 0x00c0_ffee)]
    seed: u64,
    /// Longest delay before the kill, in milliseconds.
    #[arg(long, default_value_t = 400)]
    max_delay_ms: u64,
}

#[derive(Debug, clap::Args)]
struct ChildArgs {
    #[arg(long)]
    index: PathBuf,
    #[arg(long)]
    data: PathBuf,
    /// First version number to register.
    #[arg(long)]
    start: u64,
}

/// Older versions whose answers are checked again after each run.
const OLDER_SAMPLE: usize = 3;
/// Children in a row that may fail on their own before the test stops.
const MAX_FAILING_CHILDREN: u32 = 3;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Cmd::Run(args) => run(&args),
        Cmd::Child(args) => child(&args).map(|()| true),
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

// ---- the child ----

fn child(args: &ChildArgs) -> anyhow::Result<()> {
    let files = adaptdb::input::data_files(&args.data)?;
    let index = Index::open_or_create(&args.index, Params::default())
        .with_context(|| format!("opening {}", args.index.display()))?;
    let input = InputOptions::default();
    let mut stdout = std::io::stdout().lock();
    for k in args.start.. {
        let (name, path) = &files[(k % files.len() as u64) as usize];
        let registration = Registration::new(name.as_str()).version(k.to_string());
        let done = index
            .register_file(&registration, path, &input)
            .with_context(|| format!("registering {name}@{k} from {}", path.display()))?;
        // One write per line (a pipe write this small is atomic), flushed before the next.
        let line = format!("done {name} {k} {:016x}\n", done.model.fingerprint);
        stdout.write_all(line.as_bytes())?;
        stdout.flush()?;
    }
    Ok(())
}

// ---- the parent ----

/// A registration the child reported as done.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Reported {
    name: String,
    version: String,
    fingerprint: u64,
}

#[derive(Debug, Default)]
struct Tally {
    runs: u64,
    kills: u64,
    reported: u64,
    present: u64,
    extra_committed: u64,
    verify_failures: u64,
    missing: u64,
    wrong_answers: u64,
    /// Children that exited on their own (an error) instead of being killed.
    child_errors: u64,
    /// Unreported versions beyond the one a kill between commit and print explains.
    unexpected: u64,
    /// Answers found by the search with `top_k` 1000, and by an exhaustive one.
    by_search: u64,
    by_exhaustive: u64,
}

impl Tally {
    fn failed(&self) -> bool {
        self.verify_failures
            + self.missing
            + self.wrong_answers
            + self.child_errors
            + self.unexpected
            > 0
    }
}

/// What one child did before it was killed.
struct ChildRun {
    reported: Vec<Reported>,
    killed: bool,
    status: String,
    stderr: String,
}

fn run(args: &RunArgs) -> anyhow::Result<bool> {
    let started = Instant::now();
    let files = adaptdb::input::data_files(&args.data)?;
    let by_name: HashMap<String, PathBuf> = files.iter().cloned().collect();
    std::fs::create_dir_all(&args.index)
        .with_context(|| format!("creating {}", args.index.display()))?;
    // The parent creates the index, so that no kill lands inside `Index::create` (which is
    // not atomic); opening it writable also recovers it from an earlier, interrupted test.
    let index = Index::open_or_create(&args.index, Params::default())
        .with_context(|| format!("creating the index in {}", args.index.display()))?;
    // Children run a private copy of this executable: a rebuild of the target directory
    // during a long run must not change the code under test halfway through.
    let exe_dir = tempfile::tempdir().context("creating a temporary directory")?;
    let exe = exe_dir.path().join("adaptdb-crashtest");
    let this = std::env::current_exe().context("locating this executable")?;
    std::fs::copy(&this, &exe)
        .with_context(|| format!("copying {} to {}", this.display(), exe.display()))?;
    let mut failing_children = 0;
    let mut rng = StdRng::seed_from_u64(args.seed);
    let mut tally = Tally::default();

    // Every version known committed, and the next version number to hand out.
    let mut known: HashMap<(String, String), u64> = HashMap::new();
    let mut known_list: Vec<Reported> = Vec::new();
    let mut next = {
        let models = index.models()?;
        drop(index);
        for m in &models {
            let r = Reported {
                name: m.name.clone(),
                version: m.version.clone(),
                fingerprint: m.fingerprint,
            };
            known.insert((r.name.clone(), r.version.clone()), r.fingerprint);
            // Only versions of these data files can be searched for with their own data.
            if by_name.contains_key(&r.name) {
                known_list.push(r);
            }
        }
        models
            .iter()
            .filter_map(|m| m.version.parse::<u64>().ok())
            .max()
            .map_or(1, |v| v + 1)
    };

    for run_no in 1..=args.runs {
        tally.runs += 1;
        let delay = Duration::from_micros(rng.random_range(0..=args.max_delay_ms * 1000));
        let outcome = spawn_and_kill(&exe, args, next, delay)?;
        if outcome.killed {
            tally.kills += 1;
            failing_children = 0;
        } else {
            tally.child_errors += 1;
            failing_children += 1;
            eprintln!(
                "run {run_no}: the child was not killed but ended ({}):\n{}",
                outcome.status, outcome.stderr
            );
        }
        tally.reported += outcome.reported.len() as u64;

        let older: Vec<Reported> = sample(&known_list, OLDER_SAMPLE, &mut rng);
        let new = check_run(
            args,
            run_no,
            &by_name,
            &outcome.reported,
            &older,
            &known,
            next,
            &mut tally,
        )?;
        let attempted = outcome.reported.len() as u64 + new.len() as u64 + 1;
        for r in outcome.reported.iter().chain(&new) {
            known.insert((r.name.clone(), r.version.clone()), r.fingerprint);
            known_list.push(r.clone());
        }
        // Never reuse a version number, not even one whose registration never committed.
        next += attempted;
        if failing_children >= MAX_FAILING_CHILDREN {
            eprintln!("stopping: {failing_children} children in a row failed on their own");
            break;
        }
        if run_no % 50 == 0 {
            eprintln!(
                "after {run_no} runs: {} versions, {:.1} s",
                known_list.len(),
                started.elapsed().as_secs_f64()
            );
        }
    }

    println!(
        "checks: versions={} answers_by_search={} answers_by_exhaustive_search={}",
        known_list.len(),
        tally.by_search,
        tally.by_exhaustive
    );
    let t = &tally;
    println!(
        "runs={} kills={} reported={} present={} extra_committed={} verify_failures={} \
         missing={} wrong_answers={} child_errors={} unexpected={} elapsed_s={:.1}",
        t.runs,
        t.kills,
        t.reported,
        t.present,
        t.extra_committed,
        t.verify_failures,
        t.missing,
        t.wrong_answers,
        t.child_errors,
        t.unexpected,
        started.elapsed().as_secs_f64()
    );
    Ok(!tally.failed())
}

/// Up to `n` distinct entries of `list`, picked at random.
fn sample(list: &[Reported], n: usize, rng: &mut StdRng) -> Vec<Reported> {
    if list.len() <= n {
        return list.to_vec();
    }
    let mut picked = HashSet::new();
    while picked.len() < n {
        picked.insert(rng.random_range(0..list.len()));
    }
    picked.into_iter().map(|i| list[i].clone()).collect()
}

/// Spawns a child registering from version `start`, kills it after `delay`, and collects
/// what it reported.
fn spawn_and_kill(
    exe: &Path,
    args: &RunArgs,
    start: u64,
    delay: Duration,
) -> anyhow::Result<ChildRun> {
    let mut child = Command::new(exe)
        .arg("child")
        .arg("--index")
        .arg(&args.index)
        .arg("--data")
        .arg(&args.data)
        .arg("--start")
        .arg(start.to_string())
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("spawning {}", exe.display()))?;
    let stdout = child
        .stdout
        .take()
        .context("the child has no stdout pipe")?;
    let mut stderr = child
        .stderr
        .take()
        .context("the child has no stderr pipe")?;
    let out_reader = std::thread::spawn(move || -> std::io::Result<Vec<String>> {
        BufReader::new(stdout).lines().collect()
    });
    let err_reader = std::thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).map(|_| text)
    });
    std::thread::sleep(delay);
    // SIGKILL on Unix; a child that already exited on its own is reported below.
    child.kill().context("killing the child")?;
    let status = child.wait().context("waiting for the child")?;
    let lines = out_reader
        .join()
        .map_err(|_| anyhow::anyhow!("the stdout reader panicked"))?
        .context("reading the child's stdout")?;
    let stderr = err_reader
        .join()
        .map_err(|_| anyhow::anyhow!("the stderr reader panicked"))?
        .context("reading the child's stderr")?;
    let mut reported = Vec::new();
    for line in &lines {
        let parts: Vec<&str> = line.split(' ').collect();
        let ["done", name, version, fingerprint] = parts.as_slice() else {
            bail!("the child printed an unexpected line {line:?}");
        };
        let fingerprint = u64::from_str_radix(fingerprint, 16)
            .with_context(|| format!("the child printed a bad fingerprint: {line:?}"))?;
        reported.push(Reported {
            name: name.to_string(),
            version: version.to_string(),
            fingerprint,
        });
    }
    Ok(ChildRun {
        reported,
        killed: status.signal() == Some(9),
        status: status.to_string(),
        stderr,
    })
}

/// Reopens the index after a kill and checks it; returns the versions committed in this run
/// that the child did not report.
#[allow(clippy::too_many_arguments)]
fn check_run(
    args: &RunArgs,
    run_no: u64,
    files: &HashMap<String, PathBuf>,
    reported: &[Reported],
    older: &[Reported],
    known: &HashMap<(String, String), u64>,
    start: u64,
    tally: &mut Tally,
) -> anyhow::Result<Vec<Reported>> {
    // A writable open lets redb recover from the kill; then read as a reader would.
    drop(
        Index::open(&args.index)
            .with_context(|| format!("run {run_no}: reopening {}", args.index.display()))?,
    );
    let index = Index::open_read_only(&args.index)
        .with_context(|| format!("run {run_no}: opening {} read-only", args.index.display()))?;

    match index.verify() {
        Ok(report) if report.is_ok() => {}
        Ok(report) => {
            tally.verify_failures += 1;
            eprintln!(
                "run {run_no}: verify found {} problems:",
                report.problems.len()
            );
            for p in &report.problems {
                eprintln!("  {}: {}", p.file.display(), p.what);
            }
        }
        Err(e) => {
            tally.verify_failures += 1;
            eprintln!("run {run_no}: verify could not run: {e:#}");
        }
    }

    let models = index
        .models()
        .with_context(|| format!("run {run_no}: listing the models"))?;
    let catalogue: HashMap<(&str, &str), &ModelVersion> = models
        .iter()
        .map(|m| ((m.name.as_str(), m.version.as_str()), m))
        .collect();

    // Everything committed before must still be there, with the same data.
    for ((name, version), fingerprint) in known {
        let found = catalogue.get(&(name.as_str(), version.as_str()));
        if found.is_none_or(|m| m.fingerprint != *fingerprint) {
            tally.missing += 1;
            eprintln!("run {run_no}: {name}@{version}, committed earlier, is gone or changed");
        }
    }
    let mut to_check: Vec<&ModelVersion> = Vec::new();
    for r in reported {
        match catalogue.get(&(r.name.as_str(), r.version.as_str())) {
            Some(m) if m.fingerprint == r.fingerprint => {
                tally.present += 1;
                to_check.push(m);
            }
            Some(m) => {
                tally.missing += 1;
                eprintln!(
                    "run {run_no}: {}@{} has fingerprint {:016x}, the child reported {:016x}",
                    r.name, r.version, m.fingerprint, r.fingerprint
                );
            }
            None => {
                tally.missing += 1;
                eprintln!(
                    "run {run_no}: {}@{} was reported done but is missing",
                    r.name, r.version
                );
            }
        }
    }
    for r in older {
        if let Some(m) = catalogue.get(&(r.name.as_str(), r.version.as_str())) {
            to_check.push(m);
        }
    }

    // New and unreported: allowed once, for the version after the last reported one.
    let reported_set: HashSet<(&str, &str)> = reported
        .iter()
        .map(|r| (r.name.as_str(), r.version.as_str()))
        .collect();
    let mut new = Vec::new();
    for m in &models {
        let key = (m.name.as_str(), m.version.as_str());
        if reported_set.contains(&key) || known.contains_key(&(m.name.clone(), m.version.clone())) {
            continue;
        }
        let expected = (start + reported.len() as u64).to_string();
        if new.is_empty() && m.version == expected {
            tally.extra_committed += 1;
        } else {
            tally.unexpected += 1;
            eprintln!(
                "run {run_no}: {}@{} is committed but was not reported (only version {expected} \
                 may be)",
                m.name, m.version
            );
        }
        to_check.push(m);
        new.push(Reported {
            name: m.name.clone(),
            version: m.version.clone(),
            fingerprint: m.fingerprint,
        });
    }

    check_answers(&index, run_no, files, &to_check, tally);
    Ok(new)
}

/// Searches with each checked version's own data: the version must score exactly 1.0.
///
/// Every version of one data file sketches identically and ties at 1.0, so once more than
/// `top_k` of them exist (or on the approximate band-table path) a version can be crowded
/// out of the results. Then an exhaustive search returning every model must hold it.
fn check_answers(
    index: &Index,
    run_no: u64,
    files: &HashMap<String, PathBuf>,
    to_check: &[&ModelVersion],
    tally: &mut Tally,
) {
    let options = SearchOptions {
        top_k: 1000,
        ..SearchOptions::default()
    };
    let input = InputOptions::default();
    let mut by_name: BTreeMap<&str, Vec<&ModelVersion>> = BTreeMap::new();
    for m in to_check {
        by_name.entry(m.name.as_str()).or_default().push(m);
    }
    for (name, versions) in by_name {
        let mut wrong = |what: String| {
            tally.wrong_answers += 1;
            eprintln!("run {run_no}: {what}");
        };
        let Some(path) = files.get(name) else {
            for m in versions {
                wrong(format!(
                    "{}@{} has no data file to search with",
                    m.name, m.version
                ));
            }
            continue;
        };
        let mut results = match index.search_file(path, &input, &options) {
            Ok(r) => r,
            Err(e) => {
                wrong(format!("searching with {}: {e:#}", path.display()));
                continue;
            }
        };
        let mut complete =
            results.path == SearchPath::Exhaustive && results.matches.len() < options.top_k;
        for m in versions {
            let label = format!("{}@{} (id {})", m.name, m.version, m.id);
            let mut hit = results.matches.iter().find(|h| h.model.id == m.id);
            if hit.is_some() {
                tally.by_search += 1;
            } else if !complete {
                let everything = SearchOptions {
                    top_k: results.models.max(1),
                    exhaustive_limit: usize::MAX,
                    ..options.clone()
                };
                match index.search_file(path, &input, &everything) {
                    Ok(r) => results = r,
                    Err(e) => {
                        wrong(format!("{label}: exhaustive search failed: {e:#}"));
                        continue;
                    }
                }
                complete = true;
                hit = results.matches.iter().find(|h| h.model.id == m.id);
                tally.by_exhaustive += 1;
            }
            match hit {
                Some(h) if h.adaptivity == 1.0 && h.model == *m => {}
                Some(h) => wrong(format!(
                    "{label} scored {} against its own data (want 1.0); found as {:?}",
                    h.adaptivity, h.model
                )),
                None => wrong(format!(
                    "{label} is not among the {} results",
                    results.models
                )),
            }
        }
    }
}
