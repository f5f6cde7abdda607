//! `adaptdb verify`: the full consistency check of an index (FORMAT.md §6), printed as a
//! summary or as JSON. Exit status 0 when the index is consistent, 2 when problems were
//! found, 1 when the check could not run.

use std::path::PathBuf;
use std::process::ExitCode;

use adaptdb::store::{Problem, VerifyReport};
use adaptdb::Index;
use adaptdb::StoreError;
use anyhow::Context;

/// Exit status when verification found problems.
const PROBLEMS_FOUND: u8 = 2;

/// Arguments of `adaptdb verify`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The index directory.
    index: PathBuf,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

/// Checks the catalogue's page checksums when no other process writes, then opens the
/// index read-only and verifies it.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let pages = Index::check_catalog(&args.index);
    let index = Index::open_read_only(&args.index)
        .with_context(|| format!("opening index {}", args.index.display()))?;
    let mut report = index
        .verify()
        .with_context(|| format!("verifying index {}", args.index.display()))?;
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
        Err(e) => return Err(e).context(format!("checking {}", args.index.display())),
    }
    if args.json {
        println!("{}", to_json(&report));
    } else {
        print_summary(&args.index, &report);
    }
    Ok(if report.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(PROBLEMS_FOUND)
    })
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
        "{}: {} model versions, {} segment records, {} band entries, {} segments",
        dir.display(),
        r.models,
        r.records,
        r.band_entries,
        r.segments
    );
    for note in &r.notes {
        println!("note: {note}");
    }
    for p in &r.problems {
        println!("{}: {}", p.file.display(), p.what);
    }
    match r.problems.len() {
        0 => println!("OK: no problems found"),
        1 => println!("1 problem found"),
        n => println!("{n} problems found"),
    }
}
