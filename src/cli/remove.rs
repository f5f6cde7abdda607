//! `adaptdb remove`: remove one model version, or every version of a name.

use std::path::PathBuf;
use std::process::ExitCode;

use super::PathContext;
use adaptdb::store::parse_model_ref;
use adaptdb::Index;

/// Arguments of `adaptdb remove`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The index directory.
    index: PathBuf,
    /// The model: `NAME` for every version of it, or `NAME@VERSION`.
    #[arg(value_name = "NAME[@VERSION]")]
    model: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Removes the versions in one transaction.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let index = Index::open(&args.index).doing("opening index", &args.index)?;
    let (name, version) = parse_model_ref(&args.model);
    let removed = index.remove(name, version).about("removing", &args.model)?;
    if args.json {
        let list: Vec<_> = removed.iter().map(super::show::to_json).collect();
        println!("{}", serde_json::json!({ "removed": list }));
        return Ok(ExitCode::SUCCESS);
    }
    for m in &removed {
        println!("removed {} (id {})", super::label(m), m.id);
    }
    let whose = if removed.len() == 1 { "its" } else { "their" };
    println!("{whose} segment bytes stay until `adaptdb compact`");
    Ok(ExitCode::SUCCESS)
}
