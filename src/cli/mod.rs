//! Subcommands of the `adaptdb` tool, one file each; this module parses arguments and
//! dispatches.

mod compact;
mod created;
mod demo;
mod init;
mod inspect;
mod list;
mod register;
mod remove;
mod search;
mod show;
mod sketch;
mod verify;

use std::fmt::Display;
use std::path::Path;
use std::process::ExitCode;

use anyhow::bail;
use clap::{Parser, Subcommand};

/// Find the model versions whose training data best covers a target dataset.
#[derive(Debug, Parser)]
#[command(name = "adaptdb", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create an empty index with the given parameters.
    Init(init::Args),
    /// Sketch a training dataset and register it as one model version.
    Register(register::Args),
    /// Rank the registered model versions by adaptivity to a target dataset.
    Search(search::Args),
    /// List the registered model versions.
    List(list::Args),
    /// Register a workload's sources, search with each of its targets, and compare the
    /// rankings with the known best model.
    Demo(demo::Args),
    /// Check every table, segment record, checksum and cross-reference of an index.
    #[command(after_help = verify::EXIT_STATUS_HELP)]
    Verify(verify::Args),
    /// Describe an index (parameters, space, segments, band tables) or one model version.
    Inspect(inspect::Args),
    /// Show every catalogued field of a model version (NAME@VERSION) or of all versions of
    /// a name (NAME).
    Show(show::Args),
    /// Remove a model version (NAME@VERSION) or every version of a name (NAME).
    Remove(remove::Args),
    /// Reclaim the segment bytes of removed and replaced model versions.
    Compact(compact::Args),
    /// Sketch datasets into a portable sketch file, or merge sketch files of shards.
    Sketch(sketch::Args),
}

/// Runs one parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Init(a) => init::run(a),
        Command::Register(a) => register::run(a),
        Command::Search(a) => search::run(a),
        Command::List(a) => list::run(a),
        Command::Demo(a) => demo::run(a),
        Command::Verify(a) => verify::run(a),
        Command::Inspect(a) => inspect::run(a),
        Command::Show(a) => show::run(a),
        Command::Remove(a) => remove::run(a),
        Command::Compact(a) => compact::run(a),
        Command::Sketch(a) => sketch::run(a),
    }
}

/// Prints an error as the tool does: its whole chain of causes on one line.
///
/// NOTE: `{:#}` and never `{:?}`: anyhow's Debug form appends the backtrace it captured
/// when `RUST_BACKTRACE` is set, and an ordinary error is no place for one.
pub fn print_error(e: &anyhow::Error) {
    eprintln!("error: {e:#}");
}

/// Context for an error about a file, a directory or a model, without repeating its name
/// when the error's own message starts with it (library errors read `PATH: what went
/// wrong` or `NAME@VERSION is …`).
trait PathContext<T> {
    /// Adds `doing PATH` as context, or just `doing` (less a last word `from` or `with`)
    /// when the error names `path` first: `registering x from a.csv: a@1 is already
    /// registered`, but `registering x: a.csv: No such file or directory`.
    fn doing(self, doing: &str, path: &Path) -> anyhow::Result<T>;

    /// [`PathContext::doing`] with a subject that is not a path, such as `NAME@VERSION`.
    fn about(self, doing: &str, subject: &str) -> anyhow::Result<T>;
}

impl<T, E: Into<anyhow::Error>> PathContext<T> for Result<T, E> {
    fn doing(self, doing: &str, path: &Path) -> anyhow::Result<T> {
        self.about(doing, &path.display().to_string())
    }

    fn about(self, doing: &str, shown: &str) -> anyhow::Result<T> {
        self.map_err(|e| {
            let e: anyhow::Error = e.into();
            let message = e.to_string();
            let names_it = message
                .strip_prefix(shown)
                .is_some_and(|rest| rest.starts_with([':', '/', '@', ' ']));
            if names_it {
                let short = [" from", " with"]
                    .into_iter()
                    .find_map(|word| doing.strip_suffix(word))
                    .unwrap_or(doing);
                e.context(short.to_string())
            } else {
                e.context(format!("{doing} {shown}"))
            }
        })
    }
}

/// Splits each `KEY=VALUE` of a repeatable flag (`--meta`, `--where`); a key must not be
/// empty.
fn key_values(flag: &str, given: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    given
        .iter()
        .map(|kv| match kv.split_once('=') {
            None => bail!("{flag} {kv:?}: expected KEY=VALUE"),
            Some((k, _)) if k.trim().is_empty() => {
                bail!("{flag} {kv:?}: expected KEY=VALUE with a non-empty KEY")
            }
            Some((k, v)) => Ok((k.to_string(), v.to_string())),
        })
        .collect()
}

/// Refuses a value outside [0, 1] (NaN included) for a share or an accuracy.
fn check_unit_interval(flag: &str, value: Option<f64>) -> anyhow::Result<()> {
    match value {
        Some(v) if !(0.0..=1.0).contains(&v) => {
            bail!("{flag} {v}: must be a number between 0 and 1")
        }
        _ => Ok(()),
    }
}

/// Refuses a count of 0.
fn check_positive(flag: &str, value: Option<usize>) -> anyhow::Result<()> {
    match value {
        Some(0) => bail!("{flag} 0: must be at least 1"),
        _ => Ok(()),
    }
}

/// `n` followed by the singular or the plural noun, as agrees with it.
fn count<N: Display + PartialEq + From<u8>>(n: N, one: &str, many: &str) -> String {
    let noun = if n == N::from(1) { one } else { many };
    format!("{n} {noun}")
}

/// Formats a model version as `name@version`.
fn label(model: &adaptdb::ModelVersion) -> String {
    format!("{}@{}", model.name, model.version)
}

/// A table with the tool's style.
fn table(header: &[&str]) -> comfy_table::Table {
    let mut t = comfy_table::Table::new();
    t.load_style(comfy_table::presets::UTF8_FULL_CONDENSED);
    t.set_header(header.to_vec());
    t
}
