//! `adaptdb show`: every catalogued field of one model version, or of all versions of a
//! name.

use std::path::PathBuf;
use std::process::ExitCode;

use super::PathContext;
use adaptdb::store::parse_model_ref;
use adaptdb::{Index, ModelVersion};

/// Arguments of `adaptdb show`.
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

/// Shows the model versions; exit status 1 when none matches.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let index = Index::open_read_only(&args.index).doing("opening index", &args.index)?;
    let (name, version) = parse_model_ref(&args.model);
    let models = index.show(name, version).about("looking up", &args.model)?;
    if models.is_empty() {
        eprintln!(
            "error: {} is not registered in {}",
            args.model,
            args.index.display()
        );
        return Ok(ExitCode::from(1));
    }
    if args.json {
        let list: Vec<_> = models.iter().map(to_json).collect();
        println!("{}", serde_json::json!({ "models": list }));
        return Ok(ExitCode::SUCCESS);
    }
    for (i, m) in models.iter().enumerate() {
        if i > 0 {
            println!();
        }
        print_model(m);
    }
    Ok(ExitCode::SUCCESS)
}

/// Metadata as a JSON object (a repeated key keeps its last value).
pub fn metadata_json(metadata: &[(String, String)]) -> serde_json::Value {
    let map: serde_json::Map<String, serde_json::Value> = metadata
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    serde_json::Value::Object(map)
}

/// Every field of a model version as JSON.
pub fn to_json(m: &ModelVersion) -> serde_json::Value {
    serde_json::json!({
        "id": m.id, "name": m.name, "version": m.version, "uri": m.uri,
        "metadata": metadata_json(&m.metadata),
        "source_accuracy": m.source_accuracy,
        "registered_at_ms": m.registered_at_ms,
        "rows": m.rows, "partitions": m.partitions, "flattened": m.flat_len,
        "fingerprint": format!("{:016x}", m.fingerprint),
        "location": {
            "segment": m.location.segment, "offset": m.location.offset,
            "len": m.location.len, "checksum": format!("{:016x}", m.location.checksum),
        },
    })
}

fn print_model(m: &ModelVersion) {
    let accuracy = m
        .source_accuracy
        .map_or_else(|| "-".to_string(), |a| a.to_string());
    let loc = &m.location;
    let rows = [
        ("model", super::label(m)),
        ("id (sequence)", m.id.to_string()),
        ("name", m.name.clone()),
        ("version", m.version.clone()),
        ("uri", m.uri.clone()),
        ("source accuracy", accuracy),
        ("registered at (ms)", m.registered_at_ms.to_string()),
        ("rows", m.rows.to_string()),
        ("partitions", m.partitions.to_string()),
        ("flattened size", m.flat_len.to_string()),
        ("fingerprint", format!("{:016x}", m.fingerprint)),
        (
            "record",
            format!(
                "segment {} offset {} length {} checksum {:016x}",
                loc.segment, loc.offset, loc.len, loc.checksum
            ),
        ),
    ];
    for (k, v) in rows {
        println!("{k:<20} {v}");
    }
    if m.metadata.is_empty() {
        println!("{:<20} -", "metadata");
    }
    for (k, v) in &m.metadata {
        println!("{:<20} {k}={v}", "metadata");
    }
}
