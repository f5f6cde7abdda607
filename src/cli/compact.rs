//! `adaptdb compact`: reclaim the segment bytes of removed and replaced versions.

use std::path::PathBuf;
use std::process::ExitCode;

use super::PathContext;
use adaptdb::Index;

/// Arguments of `adaptdb compact`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The index directory.
    index: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Rewrites the live records into a new segment and deletes the old ones.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let index = Index::open(&args.index).doing("opening index", &args.index)?;
    let r = index.compact().doing("compacting", &args.index)?;
    let ids = |s: &[(u32, u64)]| s.iter().map(|&(id, _)| id).collect::<Vec<_>>();
    if args.json {
        let out = serde_json::json!({
            "models": r.models, "records": r.records,
            "bytes_before": r.bytes_before, "bytes_after": r.bytes_after,
            "segments_before": ids(&r.segments_before),
            "segments_after": ids(&r.segments_after),
            "files_deleted": r.files_deleted,
        });
        println!("{out}");
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "compacted {}: {} → {} segment bytes ({} reclaimed); segments {:?} → {:?}",
        super::count(r.models, "model version", "model versions"),
        r.bytes_before,
        r.bytes_after,
        r.bytes_before.saturating_sub(r.bytes_after),
        ids(&r.segments_before),
        ids(&r.segments_after)
    );
    Ok(ExitCode::SUCCESS)
}
