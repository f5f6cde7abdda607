//! `adaptdb init`: create an empty index and fix its parameters. Also home of the
//! parameter flags that every command creating an index shares ([`ParamArgs`]).

use std::fmt::Display;
use std::path::PathBuf;
use std::process::ExitCode;

use adaptdb::Params;
use anyhow::bail;

use super::created::{self, Existing};

/// Parameters of the method; every one is stored in the index and fixed for its life.
///
/// Each flag is an `Option` so that a flag given on the command line can be told from
/// one left out; the defaults shown in `--help` are read from `Params::default()`.
#[derive(Debug, clap::Args)]
pub struct ParamArgs {
    #[arg(long, value_parser = ["default", "paper"], help = preset_help())]
    preset: Option<String>,
    #[arg(long, help = with_default("Rows per partition (s)", dflt().partition_rows))]
    partition_rows: Option<u32>,
    #[arg(long, help = with_default("Histogram bins per column (B)", dflt().bins))]
    bins: Option<u16>,
    #[arg(long, help = with_default("Additive smoothing of bin counts (α)", dflt().alpha))]
    alpha: Option<f64>,
    #[arg(long, help = with_default(
        "Rows of the first dataset used to place bin edges, at most",
        dflt().reference_rows,
    ))]
    reference_rows: Option<u32>,
    #[arg(long, help = with_default(
        "JSD-LSH hash functions per band (R)",
        dflt().rows_per_band,
    ))]
    rows_per_band: Option<u16>,
    #[arg(long, help = with_default("JSD-LSH bands per partition (L)", dflt().bands))]
    bands: Option<u16>,
    #[arg(long, help = with_default(
        "JSD-LSH bucket width (r); 0 calibrates it from the first registered dataset's \
         noise floor",
        dflt().bucket_width,
    ))]
    bucket_width: Option<f64>,
    #[arg(long, help = with_default("MinHash functions (K_m)", dflt().minhash_size))]
    minhash_size: Option<u16>,
    #[arg(long, help = with_default(
        "MinHash values per band-table key (r_m)",
        dflt().minhash_band_rows,
    ))]
    minhash_band_rows: Option<u16>,
    #[arg(long, value_parser = parse_seed, help = with_default(
        "Master seed of every hash family, decimal or 0x-prefixed hexadecimal",
        seed_text(dflt().seed),
    ))]
    seed: Option<u64>,
    /// Keep every partition's bin counts, for `search --score exact`.
    #[arg(long)]
    keep_distributions: bool,
}

/// The defaults the help text shows, so that it cannot drift from the library's.
fn dflt() -> Params {
    Params::default()
}

fn with_default(what: &str, default: impl Display) -> String {
    format!("{what} [default: {default}]")
}

fn preset_help() -> String {
    let p = Params::paper();
    format!(
        "Start from a preset: `default` (METHOD.md §6) or `paper` (r = {}, R = {}, \
         L = {}, the paper's settings) [default: default]",
        p.bucket_width, p.rows_per_band, p.bands
    )
}

/// A seed as the CLI shows it (the form `inspect` prints).
fn seed_text(seed: u64) -> String {
    format!("{seed:#018x}")
}

/// A parameter's value as the CLI shows it.
trait Shown {
    fn shown(&self) -> String;
}

impl Shown for u16 {
    fn shown(&self) -> String {
        self.to_string()
    }
}

impl Shown for u32 {
    fn shown(&self) -> String {
        self.to_string()
    }
}

impl Shown for f64 {
    fn shown(&self) -> String {
        self.to_string()
    }
}

/// `u64` is only the seed.
impl Shown for u64 {
    fn shown(&self) -> String {
        seed_text(*self)
    }
}

fn parse_seed(s: &str) -> Result<u64, String> {
    let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse(),
    };
    parsed.map_err(|e| format!("{e} (expected a decimal or 0x-prefixed hexadecimal u64)"))
}

impl ParamArgs {
    /// The parameters these flags describe.
    pub fn params(&self) -> Params {
        let mut p = if self.preset.as_deref() == Some("paper") {
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

    /// Refuses a flag given explicitly (itself or through `--preset`) whose value differs
    /// from the parameter `stored` in an existing index: parameters are fixed at creation.
    ///
    /// `--bucket-width 0` ("calibrate"), given or set by a preset, matches an index whose
    /// width was calibrated (`calibrated`): the command line that created it runs again.
    pub fn check_fixed(
        &self,
        index: &std::path::Path,
        stored: &Params,
        calibrated: bool,
    ) -> anyhow::Result<()> {
        let mut given = self.params();
        if given.bucket_width == 0.0 && calibrated {
            given.bucket_width = stored.bucket_width;
        }
        let mut differ = Vec::new();
        let via = |explicit: bool| match (&self.preset, explicit) {
            (Some(preset), false) => format!("--preset {preset} sets "),
            _ => String::new(),
        };
        macro_rules! check {
            ($($f:ident),*) => {$(
                let explicit = self.$f.is_some();
                if (explicit || self.preset.is_some()) && given.$f != stored.$f {
                    differ.push(format!(
                        "{}--{} {} (the index has {})",
                        via(explicit),
                        stringify!($f).replace('_', "-"),
                        given.$f.shown(),
                        stored.$f.shown(),
                    ));
                }
            )*};
        }
        check!(
            partition_rows,
            bins,
            alpha,
            reference_rows,
            rows_per_band,
            bands
        );
        check!(bucket_width, minhash_size, minhash_band_rows, seed);
        if self.keep_distributions && !stored.keep_distributions {
            differ.push("--keep-distributions (the index keeps no distributions)".into());
        }
        if differ.is_empty() {
            return Ok(());
        }
        bail!(
            "{}: {}: parameters are fixed when an index is created",
            index.display(),
            differ.join(", ")
        )
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
    created::with_index(&args.index, params.clone(), Existing::Refuse, |_, _| Ok(()))?;
    println!("created index {}", args.index.display());
    let mut t = super::table(&["parameter", "value"]);
    for (name, value) in super::inspect::params_rows(&params) {
        t.add_row(vec![name.to_string(), value]);
    }
    println!("{t}");
    if params.bucket_width == 0.0 {
        println!("the bucket width is calibrated by the first registration");
    }
    if params.keep_distributions {
        println!("partition distributions are kept (for `search --score exact`)");
    }
    Ok(ExitCode::SUCCESS)
}
