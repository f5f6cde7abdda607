//! `adaptdb sketch`: sketch datasets under an index's parameters and sample space into a
//! portable sketch file (FORMAT.md §11), or merge sketch files of a dataset's shards.
//!
//! ```text
//! adaptdb sketch INDEX DATA.csv -o FILE [--shard-rows N]   # one file, optionally sharded
//! adaptdb sketch INDEX SHARD1.csv SHARD2.csv … -o FILE      # several files as shards
//! adaptdb sketch --merge A.sketch B.sketch … -o FILE        # merge sketch files
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use adaptdb::sketch::file::{self, SketchFileError};
use adaptdb::sketch::{bin_frame, Sketch};
use adaptdb::{Index, InputOptions};
use anyhow::bail;

use super::{count, PathContext};

/// Arguments of `adaptdb sketch`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Without --merge: the index directory (read-only; it must have a sample space), then
    /// one or more data files (CSV, optionally gzip-compressed), sketched as consecutive
    /// shards in the order given. With --merge: the sketch files to merge, in shard order.
    #[arg(required = true, value_name = "PATHS")]
    paths: Vec<PathBuf>,
    /// The sketch file to write (replaced atomically).
    #[arg(short, long)]
    output: PathBuf,
    /// Cut each data file into consecutive shards of this many rows, each partitioned on
    /// its own, and merge them; at least the index's partition rows.
    #[arg(long, conflicts_with = "merge")]
    shard_rows: Option<usize>,
    /// Merge sketch files (all made under one spec) instead of sketching data.
    #[arg(long)]
    merge: bool,
    /// Column holding the label, excluded from the features [default: `label` if present].
    #[arg(long, conflicts_with = "merge")]
    label_column: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// Writes the sketch file.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    super::check_positive("--shard-rows", args.shard_rows)?;
    let (sketch, spec) = if args.merge {
        merge_files(&args)?
    } else {
        sketch_data(&args)?
    };
    file::write_sketch(&args.output, &sketch, spec)?;
    let out = args.output.display();
    if args.json {
        let value = serde_json::json!({
            "output": out.to_string(), "rows": sketch.rows,
            "partitions": sketch.partitions(), "flattened": sketch.flat.len(),
            "spec": format!("{spec:016x}"),
            "fingerprint": format!("{:016x}", sketch.fingerprint()),
        });
        println!("{value}");
    } else {
        println!(
            "wrote {out}: {}, {}, {} (spec {spec:016x})",
            count(sketch.rows, "row", "rows"),
            count(sketch.partitions(), "partition", "partitions"),
            count(
                sketch.flat.len(),
                "flattened band hash",
                "flattened band hashes"
            ),
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn merge_files(args: &Args) -> anyhow::Result<(Sketch, u64)> {
    refuse_repeats(&args.paths)?;
    let mut shards = Vec::with_capacity(args.paths.len());
    let mut spec = None;
    for path in &args.paths {
        let (sketch, found) = file::read_sketch(path)?;
        let expected = *spec.get_or_insert(found);
        if found != expected {
            return Err(SketchFileError::SpecMismatch {
                path: path.clone(),
                found,
                expected,
                against: "first file's",
            }
            .into());
        }
        shards.push(sketch);
    }
    let Some(spec) = spec else {
        bail!("--merge needs at least one sketch file");
    };
    Ok((file::merge(&shards)?, spec))
}

/// Refuses a sketch file given twice to `--merge` (by its canonical path when it has
/// one): merging a shard twice counts its rows twice.
fn refuse_repeats(paths: &[PathBuf]) -> anyhow::Result<()> {
    let mut seen = std::collections::HashMap::new();
    for (i, path) in paths.iter().enumerate() {
        let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
        if let Some(first) = seen.insert(key, i) {
            bail!(
                "--merge: {} is given twice (as sketch file {} and {}); \
                 each shard's sketch file may be merged only once",
                path.display(),
                first + 1,
                i + 1
            );
        }
    }
    Ok(())
}

/// Refuses shards smaller than a partition.
fn check_shard_rows(shard_rows: Option<usize>, partition_rows: u32) -> anyhow::Result<()> {
    match shard_rows {
        Some(n) if n < partition_rows as usize => bail!(
            "--shard-rows {n} is smaller than the index's partition rows ({partition_rows}): \
             each shard is partitioned on its own, so a shard smaller than a partition makes \
             one tiny partition per shard"
        ),
        _ => Ok(()),
    }
}

fn sketch_data(args: &Args) -> anyhow::Result<(Sketch, u64)> {
    let Some((index_dir, data)) = args.paths.split_first() else {
        bail!("expected INDEX and at least one data file");
    };
    if data.is_empty() {
        bail!(
            "expected at least one data file after the index {}",
            index_dir.display()
        );
    }
    let index = Index::open_read_only(index_dir).doing("opening index", index_dir)?;
    check_shard_rows(args.shard_rows, index.params().partition_rows)?;
    let Some((spec, sketcher)) = file::index_spec(&index)? else {
        bail!(
            "{}: the index has no sample space yet; register a dataset first",
            index_dir.display()
        );
    };
    let input = InputOptions {
        label_column: args.label_column.clone(),
    };
    let mut shards = Vec::new();
    for path in data {
        let sketch = match args.shard_rows {
            None => index.sketch_file(path, &input),
            Some(n) => adaptdb::input::read_all(path, &input)
                .map_err(adaptdb::Error::from)
                .and_then(|frame| {
                    let codes = bin_frame(sketcher.space(), &frame)?;
                    Ok(file::sketch_sharded(&sketcher, &codes, frame.rows, n)
                        .map_err(adaptdb::sketch::SketchError::from)?)
                }),
        }
        .doing("sketching", path)?;
        shards.push(sketch);
    }
    Ok((file::merge(&shards)?, spec))
}
