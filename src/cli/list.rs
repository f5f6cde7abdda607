//! `adaptdb list`: the registered model versions.

use std::path::PathBuf;
use std::process::ExitCode;

use super::PathContext;
use adaptdb::Index;

/// Arguments of `adaptdb list`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The index directory.
    index: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Lists the model versions.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let index = Index::open_read_only(&args.index).doing("opening index", &args.index)?;
    let models = index.models()?;
    if args.json {
        let list: Vec<_> = models
            .iter()
            .map(|m| {
                serde_json::json!({
                    "id": m.id, "name": m.name, "version": m.version, "uri": m.uri,
                    "rows": m.rows, "partitions": m.partitions, "flattened": m.flat_len,
                    "registered_at_ms": m.registered_at_ms,
                })
            })
            .collect();
        println!("{}", serde_json::json!({ "models": list }));
        return Ok(ExitCode::SUCCESS);
    }
    let mut t = super::table(&["id", "model", "rows", "partitions", "flattened", "uri"]);
    for m in &models {
        t.add_row(vec![
            m.id.to_string(),
            super::label(m),
            m.rows.to_string(),
            m.partitions.to_string(),
            m.flat_len.to_string(),
            m.uri.clone(),
        ]);
    }
    println!("{t}");
    println!(
        "{}",
        super::count(models.len(), "model version", "model versions")
    );
    Ok(ExitCode::SUCCESS)
}
