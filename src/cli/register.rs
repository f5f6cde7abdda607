//! `adaptdb register`: sketch one training dataset and register it as a model version.

use std::path::PathBuf;
use std::process::ExitCode;

use adaptdb::sketch::file::register_sketch_file;
use adaptdb::{Index, InputOptions, Registration};
use anyhow::bail;

use super::created::{self, Existing};
use super::init::ParamArgs;
use super::PathContext;

/// Arguments of `adaptdb register`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The index directory (created with the given parameters if it does not exist, and
    /// removed again if the registration then fails).
    index: PathBuf,
    /// The model version's training data (CSV, optionally gzip-compressed).
    #[arg(required_unless_present = "sketch", conflicts_with = "sketch")]
    data: Option<PathBuf>,
    /// Register a sketch file (`adaptdb sketch`) instead of data; the index must exist,
    /// have a sample space, and have the spec the file was made under.
    #[arg(long, value_name = "FILE")]
    sketch: Option<PathBuf>,
    /// Model name.
    #[arg(long)]
    name: String,
    /// Version label [default: the next whole number for this name].
    #[arg(long)]
    version: Option<String>,
    /// Column holding the label, excluded from the features [default: `label` if present].
    #[arg(long)]
    label_column: Option<String>,
    /// Where the model itself lives.
    #[arg(long, default_value = "")]
    uri: String,
    /// Metadata as KEY=VALUE (repeatable).
    #[arg(long = "meta", value_name = "KEY=VALUE")]
    metadata: Vec<String>,
    /// The model's accuracy on its own holdout data, between 0 and 1.
    #[arg(long, allow_negative_numbers = true)]
    source_accuracy: Option<f64>,
    /// Replace the version if this name and version are registered already.
    #[arg(long)]
    replace: bool,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    params: ParamArgs,
}

/// Registers the dataset.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    super::check_unit_interval("--source-accuracy", args.source_accuracy)?;
    let registration = Registration {
        name: args.name.clone(),
        version: args.version.clone(),
        uri: args.uri.clone(),
        metadata: super::key_values("--meta", &args.metadata)?,
        source_accuracy: args.source_accuracy,
        replace: args.replace,
    };
    let registering = format!("registering {} from", args.name);
    let done = match (&args.sketch, &args.data) {
        (Some(file), _) => {
            let index = Index::open(&args.index).doing("opening index", &args.index)?;
            args.params
                .check_fixed(&args.index, &index.params(), calibrated(&index)?)?;
            register_sketch_file(&index, &registration, file).doing(&registering, file)?
        }
        (None, Some(data)) => {
            let params = args.params.params();
            created::with_index(&args.index, params, Existing::Open, |index, created| {
                if !created {
                    args.params
                        .check_fixed(&args.index, &index.params(), calibrated(index)?)?;
                }
                let input = InputOptions {
                    label_column: args.label_column.clone(),
                };
                index
                    .register_file(&registration, data, &input)
                    .doing(&registering, data)
            })?
        }
        (None, None) => bail!("give a data file or --sketch FILE"),
    };
    let m = &done.model;
    if args.json {
        let out = serde_json::json!({
            "id": m.id, "name": m.name, "version": m.version, "rows": m.rows,
            "partitions": m.partitions, "flattened": m.flat_len,
            "fingerprint": format!("{:016x}", m.fingerprint),
            "created_space": done.created_space, "duplicates": done.duplicates,
            "warnings": done.warnings,
        });
        println!("{out}");
    } else {
        println!(
            "registered {} (id {}): {}, {}, {}",
            super::label(m),
            m.id,
            super::count(m.rows, "row", "rows"),
            super::count(m.partitions, "partition", "partitions"),
            super::count(m.flat_len, "flattened band hash", "flattened band hashes"),
        );
        if done.created_space {
            println!("  fixed the index's sample space from this dataset");
        }
        if !done.duplicates.is_empty() {
            let ids: Vec<String> = done.duplicates.iter().map(u32::to_string).collect();
            let noun = if ids.len() == 1 { "id" } else { "ids" };
            println!(
                "  the data sketches identically to model {noun} {}",
                ids.join(", ")
            );
        }
    }
    for warning in &done.warnings {
        eprintln!("warning: {warning}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Whether the index's bucket width was calibrated from its first registration (so that
/// `--bucket-width 0`, "calibrate", is what created it).
fn calibrated(index: &Index) -> anyhow::Result<bool> {
    Ok(index.calibration()?.is_some_and(|c| c.derived))
}
