//! `adaptdb verify`: the full consistency check of an index (FORMAT.md §6), printed as a
//! summary or as JSON. Exit status 0 when the index is consistent, 1 when problems were
//! found (a catalogue too damaged to open is one), 2 when the check could not run.

use std::path::PathBuf;
use std::process::ExitCode;

use adaptdb::store::{Problem, VerifyReport};
use adaptdb::Index;
use adaptdb::StoreError;

use super::{count, PathContext};

/// Exit status when verification found problems.
const PROBLEMS_FOUND: u8 = 1;
/// Exit status when the check could not run (no index there, unreadable, locked…).
const CHECK_FAILED: u8 = 2;

/// The exit statuses, as `adaptdb verify --help` states them.
pub const EXIT_STATUS_HELP: &str = "Exit status: 0 when everything holds, 1 when problems \
    were found (a catalogue too damaged to open is one), 2 when the check itself could not \
    run (no index at the path, a file that cannot be read, a usage error).";

/// Arguments of `adaptdb verify`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The index directory.
    index: PathBuf,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

/// Verifies the index; an error that stops the check is printed here, as `main` prints
/// errors, so that it exits with its own status rather than 1.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match check(&args) {
        Ok(report) => {
            if args.json {
                println!("{}", to_json(&report));
            } else {
                print_summary(&args.index, &report);
            }
            let code = if report.is_ok() { 0 } else { PROBLEMS_FOUND };
            Ok(ExitCode::from(code))
        }
        Err(e) => {
            super::print_error(&e);
            Ok(ExitCode::from(CHECK_FAILED))
        }
    }
}

/// Checks the catalogue's page checksums when no other process writes, then opens the
/// index read-only and verifies it.
fn check(args: &Args) -> anyhow::Result<VerifyReport> {
    let pages = Index::check_catalog(&args.index);
    let verified = Index::open_read_only(&args.index).and_then(|index| index.verify());
    let mut report = match verified {
        Ok(report) => report,
        // A catalogue too damaged to open or read is a finding, not a failure to check.
        Err(adaptdb::Error::Store(StoreError::Corrupt { path, reason })) => VerifyReport {
            problems: vec![Problem {
                file: path,
                what: reason,
            }],
            notes: vec!["the catalogue could not be read, so nothing else was checked".into()],
            ..VerifyReport::default()
        },
        Err(e) => return Err(e).doing("verifying index", &args.index),
    };
    match pages {
        Ok(()) => report
            .notes
            .push("catalogue page checksums verified".into()),
        Err(adaptdb::Error::Store(StoreError::Locked { .. })) => report.notes.push(
            "catalogue page checksums not checked: the catalogue kept changing while it was \
             copied (another process is writing)"
                .into(),
        ),
        Err(adaptdb::Error::Store(StoreError::Corrupt { path, reason })) => {
            report.problems.push(Problem {
                file: path,
                what: reason,
            });
        }
        Err(e) => return Err(e).doing("checking", &args.index),
    }
    Ok(report)
}

/// The `--json` form of a report.
pub fn to_json(r: &VerifyReport) -> serde_json::Value {
    let problems: Vec<_> = r
        .problems
        .iter()
        .map(|p| serde_json::json!({ "file": p.file.display().to_string(), "what": p.what }))
        .collect();
    serde_json::json!({
        "ok": r.is_ok(),
        "models": r.models,
        "records": r.records,
        "band_entries": r.band_entries,
        "segments": r.segments,
        "problems": problems,
        "notes": r.notes,
    })
}

fn print_summary(dir: &std::path::Path, r: &VerifyReport) {
    println!(
        "{}: {}, {}, {}, {}",
        dir.display(),
        count(r.models, "model version", "model versions"),
        count(r.records, "segment record", "segment records"),
        count(r.band_entries, "band entry", "band entries"),
        count(r.segments, "segment", "segments")
    );
    for note in &r.notes {
        println!("note: {note}");
    }
    for p in &r.problems {
        println!("{}: {}", p.file.display(), p.what);
    }
    match r.problems.len() {
        0 => println!("OK: no problems found"),
        n => println!("{} found", count(n, "problem", "problems")),
    }
}
