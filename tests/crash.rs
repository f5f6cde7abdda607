//! A registering process killed at random moments leaves an index that reopens consistent
//! (`verify` finds nothing), keeps every registration that returned `Ok`, and answers for
//! each of them correctly. Runs a short `adaptdb-crashtest` (tools/crashtest.rs); run the
//! tool by hand with `--runs 500` for the thorough version.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

/// The `key=value` fields of the tool's summary line.
fn summary(stdout: &str) -> HashMap<String, String> {
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with("runs="))
        .unwrap_or_else(|| panic!("no summary line in:\n{stdout}"));
    line.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn killed_registrations_leave_a_consistent_index_that_keeps_every_acknowledged_one() {
    let dir = tempfile::tempdir().unwrap();
    let index = dir.path().join("index");
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/weather_cities/sources");
    let out = Command::new(env!("CARGO_BIN_EXE_adaptdb-crashtest"))
        .args([
            "run",
            "--runs",
            "12",
            "--seed",
            "7",
            "--max-delay-ms",
            "150",
        ])
        .arg("--index")
        .arg(&index)
        .arg("--data")
        .arg(&data)
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    let s = summary(&stdout);
    let field = |k: &str| -> u64 {
        s.get(k)
            .unwrap_or_else(|| panic!("no {k} in {s:?}"))
            .parse()
            .unwrap()
    };
    for k in [
        "missing",
        "wrong_answers",
        "verify_failures",
        "child_errors",
        "unexpected",
    ] {
        assert_eq!(field(k), 0, "{k}: {stdout}\n{stderr}");
    }
    assert_eq!(field("runs"), 12);
    assert_eq!(field("kills"), 12);
    assert!(field("reported") > 0, "{stdout}\n{stderr}");
    assert_eq!(field("present"), field("reported"));
    assert!(field("extra_committed") <= 12);
}
