//! The `adaptdb` command-line tool: create, fill, search and inspect an index offline.

mod cli;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

/// Restores the default SIGPIPE action, so that `adaptdb … | head` ends quietly like
/// other Unix tools instead of panicking on a closed stdout.
#[allow(unsafe_code)]
fn default_sigpipe() {
    // SAFETY: called first thing in main, before any other thread exists; setting a signal
    // disposition to SIG_DFL has no other precondition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() -> ExitCode {
    default_sigpipe();
    let filter = tracing_subscriber::EnvFilter::try_from_env("ADAPTDB_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    // A panic contained by the library (a damaged catalogue page) becomes an error that
    // names the file; keep it off the terminal. Any other panic is reported as usual.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if adaptdb::store::is_containing_panic() {
            tracing::debug!(%info, "contained panic");
        } else {
            default_hook(info);
        }
    }));
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            cli::print_error(&e);
            ExitCode::from(1)
        }
    }
}
