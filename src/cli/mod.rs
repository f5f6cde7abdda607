//! Subcommands of the `adaptdb` tool, one file each; this module parses arguments and
//! dispatches.

mod compact;
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

use std::process::ExitCode;

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
