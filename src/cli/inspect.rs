//! `adaptdb inspect`: what an index holds — parameters, sample space, segments and
//! band-table occupancy (FORMAT.md §3, §4) — or one model's record and stored sketch.
//! Opens the index read-only; it may be open for writing in another process.

use std::path::PathBuf;
use std::process::ExitCode;

use adaptdb::store::segment::RecordLocation;
use adaptdb::store::{BandBucket, InspectReport, ModelRef, ModelSketch};
use adaptdb::{Index, Params};
use anyhow::bail;

use super::{count, PathContext};
use serde_json::json;

/// Partitions whose band hashes the text view lists; `--json` lists all.
const SHOWN_PARTITIONS: usize = 64;

/// Arguments of `adaptdb inspect`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The index directory.
    index: PathBuf,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    /// Describe one model version instead, by name and version.
    #[arg(long, value_name = "NAME@VERSION", conflicts_with = "id")]
    model: Option<String>,
    /// Describe one model version instead, by id.
    #[arg(long, value_name = "N")]
    id: Option<u32>,
}

/// Prints the index summary or one model's view.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let index = Index::open_read_only(&args.index).doing("opening index", &args.index)?;
    let which = match (&args.model, args.id) {
        (Some(label), _) => {
            let Some((name, version)) = label.split_once('@') else {
                bail!("--model takes NAME@VERSION, got {label:?}");
            };
            Some(ModelRef::Label {
                name: name.to_string(),
                version: version.to_string(),
            })
        }
        (None, Some(id)) => Some(ModelRef::Id(id)),
        (None, None) => None,
    };
    if let Some(which) = which {
        let Some(sketch) = index.inspect_model(&which)? else {
            match which {
                ModelRef::Id(id) => bail!("no model with id {id} in {}", args.index.display()),
                ModelRef::Label { name, version } => {
                    bail!(
                        "{name}@{version} is not registered in {}",
                        args.index.display()
                    )
                }
            }
        };
        if args.json {
            println!("{}", model_json(&sketch));
        } else {
            print_model(&sketch);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let report = index.inspect().doing("inspecting index", &args.index)?;
    if args.json {
        println!("{}", report_json(&report));
    } else {
        print_report(&report);
    }
    Ok(ExitCode::SUCCESS)
}

fn hex(v: u64) -> String {
    format!("{v:016x}")
}

/// The parameters as (name, value) rows; `init` prints them too.
pub fn params_rows(p: &Params) -> Vec<(&'static str, String)> {
    vec![
        ("partition_rows (s)", p.partition_rows.to_string()),
        ("bins (B)", p.bins.to_string()),
        ("alpha (α)", p.alpha.to_string()),
        ("reference_rows", p.reference_rows.to_string()),
        ("rows_per_band (R)", p.rows_per_band.to_string()),
        ("bands (L)", p.bands.to_string()),
        ("bucket_width (r)", p.bucket_width.to_string()),
        ("minhash_size (K_m)", p.minhash_size.to_string()),
        ("minhash_band_rows (r_m)", p.minhash_band_rows.to_string()),
        ("seed", format!("{:#018x}", p.seed)),
    ]
}

fn location_json(loc: &RecordLocation) -> serde_json::Value {
    json!({
        "segment": loc.segment, "offset": loc.offset, "len": loc.len,
        "checksum": hex(loc.checksum),
    })
}

fn bucket_json(b: &BandBucket) -> serde_json::Value {
    json!({ "band": b.band, "key": hex(b.key), "size": b.size })
}

/// The `--json` form of the index summary.
pub fn report_json(r: &InspectReport) -> serde_json::Value {
    let p = &r.params;
    let space = r.space.as_ref().map(|s| {
        let columns: Vec<_> = s
            .columns
            .iter()
            .map(|(name, bins)| json!({ "name": name, "bins": bins }))
            .collect();
        json!({
            "columns": columns, "dim": s.dim, "bins_min": s.bins_min,
            "bins_median": s.bins_median, "bins_max": s.bins_max,
        })
    });
    let segments: Vec<_> = r
        .segments
        .iter()
        .map(|s| {
            json!({
                "id": s.id, "path": s.path.display().to_string(),
                "committed": s.committed, "file_len": s.file_len,
            })
        })
        .collect();
    let histogram: Vec<_> = r
        .bands
        .histogram
        .iter()
        .map(|c| json!({ "size": c.label, "buckets": c.buckets, "entries": c.entries }))
        .collect();
    json!({
        "dir": r.dir.display().to_string(),
        "format_version": r.format_version,
        "params": {
            "partition_rows": p.partition_rows, "bins": p.bins, "alpha": p.alpha,
            "reference_rows": p.reference_rows, "rows_per_band": p.rows_per_band,
            "bands": p.bands, "bucket_width": p.bucket_width, "minhash_size": p.minhash_size,
            "minhash_band_rows": p.minhash_band_rows, "seed": p.seed,
        },
        "space": space,
        "calibration": r.calibration.map(|c| json!({
            "noise_floor": c.noise_floor, "js_threshold": c.js_threshold,
            "bucket_width": c.bucket_width, "match_bands": c.match_bands,
        })),
        "padding": r.padding,
        "models": r.models,
        "next_model": r.next_model,
        "segments": segments,
        "projection": r.projection.as_ref().map(location_json),
        "bands": {
            "tables": r.bands.tables,
            "buckets": r.bands.buckets,
            "entries": r.bands.entries,
            "histogram": histogram,
            "largest": r.bands.largest.iter().map(bucket_json).collect::<Vec<_>>(),
        },
    })
}

/// The `--json` form of one model's view.
pub fn model_json(s: &ModelSketch) -> serde_json::Value {
    let m = &s.model;
    let metadata: serde_json::Map<String, serde_json::Value> = m
        .metadata
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    let partitions: Vec<Vec<String>> = s
        .band_hashes
        .iter()
        .map(|p| p.iter().copied().map(hex).collect())
        .collect();
    json!({
        "model": {
            "id": m.id, "name": m.name, "version": m.version, "uri": m.uri,
            "metadata": metadata, "source_accuracy": m.source_accuracy,
            "registered_at_ms": m.registered_at_ms, "rows": m.rows,
            "partitions": m.partitions, "flat_len": m.flat_len,
            "fingerprint": hex(m.fingerprint), "location": location_json(&m.location),
        },
        "sketch": {
            "model": s.record_model, "rows": s.rows, "bands": s.bands,
            "partitions": s.partitions, "flat_len": s.flat_len,
            "band_hashes": partitions,
            "minhash_size": s.minhash_size,
            "minhash": s.minhash.iter().copied().map(hex).collect::<Vec<_>>(),
        },
        "padding": s.padding,
        "band_keys": s.band_keys.iter().map(bucket_json).collect::<Vec<_>>(),
    })
}

fn print_report(r: &InspectReport) {
    println!(
        "index {} (format version {})",
        r.dir.display(),
        r.format_version
    );
    let mut t = super::table(&["parameter", "value"]);
    for (name, value) in params_rows(&r.params) {
        t.add_row(vec![name.to_string(), value]);
    }
    println!("{t}");
    match &r.space {
        None => println!("sample space: not fixed yet (no registration)"),
        Some(s) => {
            println!(
                "sample space: {}, D = {}; bins per column min {}, median {}, max {}",
                count(s.columns.len(), "column", "columns"),
                count(s.dim, "bin", "bins"),
                s.bins_min,
                s.bins_median,
                s.bins_max
            );
            let names: Vec<String> = s
                .columns
                .iter()
                .take(12)
                .map(|(n, b)| format!("{n} ({b})"))
                .collect();
            let more = s.columns.len().saturating_sub(12);
            let tail = if more > 0 {
                format!(", and {more} more")
            } else {
                String::new()
            };
            println!("  columns: {}{tail}", names.join(", "));
        }
    }
    match &r.calibration {
        Some(c) => println!(
            "calibration: noise floor {:.5} nats (mean JS between partitions of the first \
             dataset, or the formula's value when it had one partition); JS threshold \
             t = {:.5}; bucket width r = {:.4}; a partition match \
             shares at least {} of {} bands",
            c.noise_floor, c.js_threshold, c.bucket_width, c.match_bands, r.params.bands
        ),
        None => println!("calibration: none yet (the first registration measures it)"),
    }
    println!("padding bound M: {}", r.padding);
    println!("model versions: {} (next id {})", r.models, r.next_model);
    let mut t = super::table(&["segment", "committed bytes", "file bytes", "path"]);
    for s in &r.segments {
        let file = s.file_len.map_or("missing".to_string(), |l| l.to_string());
        t.add_row(vec![
            s.id.to_string(),
            s.committed.to_string(),
            file,
            s.path.display().to_string(),
        ]);
    }
    println!("{t}");
    match &r.projection {
        None => println!("projection record: none yet"),
        Some(loc) => println!(
            "projection record: segment {}, offset {}, {}, checksum {}",
            loc.segment,
            loc.offset,
            count(loc.len, "byte", "bytes"),
            hex(loc.checksum)
        ),
    }
    let b = &r.bands;
    println!(
        "band table: {}, {}, {}",
        count(b.tables, "band", "bands"),
        count(b.buckets, "bucket", "buckets"),
        count(b.entries, "entry", "entries")
    );
    let mut t = super::table(&["bucket size", "buckets", "entries"]);
    for c in &b.histogram {
        t.add_row(vec![
            c.label.to_string(),
            c.buckets.to_string(),
            c.entries.to_string(),
        ]);
    }
    println!("{t}");
    if !b.largest.is_empty() {
        let mut t = super::table(&["band", "key", "models"]);
        for bucket in &b.largest {
            t.add_row(vec![
                bucket.band.to_string(),
                hex(bucket.key),
                bucket.size.to_string(),
            ]);
        }
        println!("largest buckets:\n{t}");
    }
}

fn print_model(s: &ModelSketch) {
    let m = &s.model;
    let loc = &m.location;
    let mut t = super::table(&["field", "value"]);
    let mut row = |k: &str, v: String| {
        t.add_row(vec![k.to_string(), v]);
    };
    row("id", m.id.to_string());
    row("model", super::label(m));
    row("uri", m.uri.clone());
    for (k, v) in &m.metadata {
        row(&format!("metadata {k}"), v.clone());
    }
    let accuracy = m
        .source_accuracy
        .map_or("unknown".into(), |a| a.to_string());
    row("source accuracy", accuracy);
    row("registered at (ms)", m.registered_at_ms.to_string());
    row("rows", m.rows.to_string());
    row("partitions", m.partitions.to_string());
    row("flattened size", m.flat_len.to_string());
    row("fingerprint", hex(m.fingerprint));
    row(
        "location",
        format!(
            "segment {}, offset {}, {}, checksum {}",
            loc.segment,
            loc.offset,
            count(loc.len, "byte", "bytes"),
            hex(loc.checksum)
        ),
    );
    println!("{t}");
    println!(
        "stored sketch: model {}, {}, {} × {}, flattened set of {}",
        s.record_model,
        count(s.rows, "row", "rows"),
        count(s.partitions, "partition", "partitions"),
        count(s.bands, "band", "bands"),
        s.flat_len
    );
    let mut t = super::table(&["partition", "first band hashes"]);
    for (p, hashes) in s.band_hashes.iter().take(SHOWN_PARTITIONS).enumerate() {
        let lines: Vec<String> = hashes
            .chunks(4)
            .map(|c| c.iter().copied().map(hex).collect::<Vec<_>>().join(" "))
            .collect();
        t.add_row(vec![p.to_string(), lines.join("\n")]);
    }
    println!("{t}");
    if s.band_hashes.len() > SHOWN_PARTITIONS {
        let more = s.band_hashes.len() - SHOWN_PARTITIONS;
        println!(
            "… and {} more (--json lists all)",
            count(more, "partition", "partitions")
        );
    }
    let shown: Vec<String> = s.minhash.iter().copied().map(hex).collect();
    println!(
        "minhash (first {} of {}): {}",
        shown.len(),
        s.minhash_size,
        shown.join(" ")
    );
    println!("band-table keys (padding bound M = {}):", s.padding);
    let mut t = super::table(&["band", "key", "models in bucket"]);
    for b in &s.band_keys {
        t.add_row(vec![b.band.to_string(), hex(b.key), b.size.to_string()]);
    }
    println!("{t}");
}
