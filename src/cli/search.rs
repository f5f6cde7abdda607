//! `adaptdb search`: rank the registered model versions for a target dataset.

use std::path::PathBuf;
use std::process::ExitCode;

use adaptdb::search::{Filter, Score};
use adaptdb::store::parse_model_ref;
use adaptdb::{Index, InputOptions, SearchOptions, SearchPath, SearchResults};
use anyhow::bail;

use super::{count, PathContext};

/// Arguments of `adaptdb search`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The index directory.
    index: PathBuf,
    /// The target dataset (features only; a `label` column is ignored).
    data: PathBuf,
    /// Matches to return (at least 1).
    #[arg(long, default_value_t = SearchOptions::default().top_k)]
    top_k: usize,
    /// Column holding the label, excluded from the features [default: `label` if present].
    #[arg(long)]
    label_column: Option<String>,
    /// Score every model when the index holds at most this many.
    #[arg(long, default_value_t = SearchOptions::default().exhaustive_limit)]
    exhaustive_limit: usize,
    /// Scoring strategy: hellinger, soft, exact (needs --keep-distributions at init),
    /// containment, minhash, or paper.
    #[arg(long, default_value_t = Score::default())]
    score: Score,
    /// Only return models whose coverage (hard adaptivity: share of target partitions
    /// matched within the calibrated JS threshold) is at least this, between 0 and 1.
    #[arg(long, allow_negative_numbers = true)]
    min_adaptivity: Option<f64>,
    /// Only the latest (most recently registered) version of each name.
    #[arg(long)]
    latest: bool,
    /// Only names starting with this.
    #[arg(long, value_name = "PREFIX")]
    name_prefix: Option<String>,
    /// Only versions whose metadata has KEY=VALUE (repeatable; all must hold).
    #[arg(long = "where", value_name = "KEY=VALUE")]
    where_: Vec<String>,
    /// Never return this name (every version) or NAME@VERSION (repeatable).
    #[arg(long, value_name = "NAME[@VERSION]")]
    exclude: Vec<String>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

/// Runs the search.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    super::check_positive("--top-k", Some(args.top_k))?;
    super::check_unit_interval("--min-adaptivity", args.min_adaptivity)?;
    let filter = filter(&args)?;
    let index = Index::open_read_only(&args.index).doing("opening index", &args.index)?;
    let options = SearchOptions {
        top_k: args.top_k,
        exhaustive_limit: args.exhaustive_limit,
        score: args.score,
        min_adaptivity: args.min_adaptivity,
        filter,
        ..SearchOptions::default()
    };
    let input = InputOptions {
        label_column: args.label_column.clone(),
    };
    let results = index
        .search_file(&args.data, &input, &options)
        .doing("searching with", &args.data)?;
    if args.json {
        println!("{}", to_json(&args.data, &results));
    } else {
        print_table(&results);
    }
    Ok(ExitCode::SUCCESS)
}

/// The filter given by `--latest`, `--name-prefix`, `--where` and `--exclude`.
fn filter(args: &Args) -> anyhow::Result<Filter> {
    let mut exclude = Vec::new();
    for model in &args.exclude {
        let (name, version) = parse_model_ref(model);
        if name.is_empty() || version.is_some_and(str::is_empty) {
            bail!("--exclude {model:?}: expected NAME or NAME@VERSION");
        }
        exclude.push((name.to_string(), version.map(str::to_string)));
    }
    Ok(Filter {
        latest_only: args.latest,
        name_prefix: args.name_prefix.clone(),
        metadata: super::key_values("--where", &args.where_)?,
        exclude,
    })
}

/// The `--json` form of a search's results.
pub fn to_json(target: &std::path::Path, r: &SearchResults) -> serde_json::Value {
    let (path, candidates) = match r.path {
        SearchPath::Exhaustive => ("exhaustive", r.models),
        SearchPath::Bands { candidates, .. } => ("bands", candidates),
    };
    let results: Vec<_> = r
        .matches
        .iter()
        .enumerate()
        .map(|(i, m)| {
            serde_json::json!({
                "rank": i + 1, "name": m.model.name, "version": m.model.version,
                "adaptivity": m.adaptivity,
                "coverage": m.coverage, "id": m.model.id, "uri": m.model.uri,
                "metadata": super::show::metadata_json(&m.model.metadata),
                "rows": m.model.rows, "partitions": m.model.partitions,
            })
        })
        .collect();
    serde_json::json!({
        "target": target.display().to_string(),
        "target_rows": r.target_rows,
        "target_partitions": r.target_partitions,
        "models": r.models,
        "path": path,
        "score": r.score.name(),
        "candidates": candidates,
        "results": results,
    })
}

fn print_table(r: &SearchResults) {
    let mut t = super::table(&["rank", "model", "adaptivity", "coverage", "rows"]);
    for (i, m) in r.matches.iter().enumerate() {
        t.add_row(vec![
            (i + 1).to_string(),
            super::label(&m.model),
            format!("{:.4}", m.adaptivity),
            format!("{:.3}", m.coverage),
            m.model.rows.to_string(),
        ]);
    }
    println!("{t}");
    let how = match r.path {
        SearchPath::Exhaustive => format!(
            "scored all {}",
            count(r.models, "model version", "model versions")
        ),
        SearchPath::Bands { probed, candidates } => format!(
            "scored the best of {} from {} ({})",
            count(candidates, "candidate", "candidates"),
            count(probed, "band table", "band tables"),
            count(r.models, "version", "versions"),
        ),
    };
    println!(
        "target: {} in {}; {how}",
        count(r.target_rows, "row", "rows"),
        count(r.target_partitions, "partition", "partitions")
    );
}
