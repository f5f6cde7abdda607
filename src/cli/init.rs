//! `adaptdb init`: create an empty index and fix its parameters.

use std::path::PathBuf;
use std::process::ExitCode;

use adaptdb::{Index, Params};
use anyhow::Context;

/// Parameters of the method; every one is stored in the index and fixed for its life.
#[derive(Debug, clap::Args)]
pub struct ParamArgs {
    /// Start from a preset: `default` (ALGORITHM.md defaults) or `paper` (r = 1.4, R = 4,
    /// L = 200, the paper's settings).
    #[arg(long, default_value = "default", value_parser = ["default", "paper"])]
    preset: String,
    /// Rows per partition (s) [default: 64].
    #[arg(long)]
    partition_rows: Option<u32>,
    /// Histogram bins per column (B) [default: 16].
    #[arg(long)]
    bins: Option<u16>,
    /// Additive smoothing of bin counts (α) [default: 0.5].
    #[arg(long)]
    alpha: Option<f64>,
    /// Rows of the first dataset used to place bin edges, at most [default: 100000].
    #[arg(long)]
    reference_rows: Option<u32>,
    /// JSD-LSH hash functions per band (R) [default: 4].
    #[arg(long)]
    rows_per_band: Option<u16>,
    /// JSD-LSH bands per partition (L) [default: 512].
    #[arg(long)]
    bands: Option<u16>,
    /// JSD-LSH bucket width (r) [default: calibrated from the first dataset's noise floor].
    #[arg(long)]
    bucket_width: Option<f64>,
    /// MinHash functions (K_m) [default: 256].
    #[arg(long)]
    minhash_size: Option<u16>,
    /// MinHash values per band-table key [default: 2].
    #[arg(long)]
    minhash_band_rows: Option<u16>,
    /// Master seed of every hash family [default: 6839474573349912577].
    #[arg(long)]
    seed: Option<u64>,
    /// Keep every partition's bin counts, for `search --score exact`.
    #[arg(long)]
    keep_distributions: bool,
}

impl ParamArgs {
    /// The parameters these flags describe.
    pub fn params(&self) -> Params {
        let mut p = if self.preset == "paper" {
            Params::paper()
        } else {
            Params::default()
        };
        macro_rules! set {
            ($($f:ident),*) => { $(if let Some(v) = self.$f { p.$f = v; })* };
        }
        set!(
            partition_rows,
            bins,
            alpha,
            reference_rows,
            rows_per_band,
            bands,
            bucket_width
        );
        set!(minhash_size, minhash_band_rows, seed);
        p.keep_distributions |= self.keep_distributions;
        p
    }
}

/// Arguments of `adaptdb init`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The index directory to create.
    index: PathBuf,
    #[command(flatten)]
    params: ParamArgs,
}

/// Creates the index.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let params = args.params.params();
    Index::create(&args.index, params.clone())
        .with_context(|| format!("creating index {}", args.index.display()))?;
    println!("created {} with {params:?}", args.index.display());
    Ok(ExitCode::SUCCESS)
}
