//! A short run of the pipeline simulator (tools/simulate.rs): versions registered by
//! several writers through group commit while searches run, with no errors, group figures
//! that add up, and an index that verifies; and the one-writer mode without group commit.
//! Run the tool by hand with the default 10,000 registrations for the load figures.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

/// Runs the tool on the bundled workload with `args`, and returns its stdout after
/// checking that it exited with success.
fn simulate(index: &Path, args: &[&str]) -> String {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/weather_cities");
    let out = Command::new(env!("CARGO_BIN_EXE_adaptdb-simulate"))
        .args(args)
        .arg("--index")
        .arg(index)
        .arg("--data")
        .arg(&data)
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    stdout
}

/// A summary field parsed as a number.
fn num<T: std::str::FromStr>(s: &HashMap<String, String>, key: &str) -> T {
    let v = s.get(key).unwrap_or_else(|| panic!("no {key}= in {s:?}"));
    v.parse()
        .unwrap_or_else(|_| panic!("{key}={v} is not a number"))
}

/// The `key=value` fields of the tool's summary line.
fn summary(stdout: &str) -> HashMap<String, String> {
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with("registrations="))
        .unwrap_or_else(|| panic!("no summary line in:\n{stdout}"));
    line.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn four_writers_registering_while_searching_group_their_commits_without_errors() {
    let dir = tempfile::tempdir().unwrap();
    let index = dir.path().join("index");
    let args = [
        "--registrations",
        "60",
        "--searchers",
        "2",
        "--max-group",
        "8",
    ];
    let stdout = simulate(&index, &args);
    let s = summary(&stdout);
    assert_eq!(s["errors"], "0", "{stdout}");
    assert_eq!(s["verify"], "ok", "{stdout}");
    assert_eq!(s["registrations"], "60", "{stdout}");
    assert!(s["searches"].parse::<usize>().unwrap() > 0, "{stdout}");

    // Registration 0 commits alone, the other 59 in groups of at most 8 (--max-group).
    assert_eq!(s["writers"], "4", "{stdout}");
    let commits: u64 = num(&s, "commits");
    assert!((9..=60).contains(&commits), "{stdout}");
    let largest: u64 = num(&s, "group_max");
    assert!((1..=8).contains(&largest), "{stdout}");
    let mean: f64 = num(&s, "group_mean");
    assert!(mean >= 1.0 && mean <= largest as f64, "{stdout}");
    assert!(
        (mean * commits as f64 - 60.0).abs() < 0.01 * commits as f64,
        "{stdout}"
    );
    assert!(num::<f64>(&s, "registrations_per_s") > 0.0, "{stdout}");

    // 6 monthly versions of each of the 10 sources, with their metadata.
    let index = adaptdb::Index::open_read_only(&index).unwrap();
    let models = index.models().unwrap();
    assert_eq!(models.len(), 60);
    let m = models
        .iter()
        .find(|m| m.name == "model_Mumbai_2017" && m.version == "2024-06")
        .unwrap_or_else(|| panic!("no model_Mumbai_2017@2024-06"));
    let meta: HashMap<_, _> = m.metadata.iter().cloned().collect();
    assert_eq!(meta["month"], "2024-06");
    assert_eq!(meta["city"], "Mumbai");
    assert!(m.rows > 100 && m.rows < 175, "rows {}", m.rows);
    // A second run refuses an index that already holds versions.
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/weather_cities");
    let again = Command::new(env!("CARGO_BIN_EXE_adaptdb-simulate"))
        .args(["--registrations", "1", "--searchers", "1"])
        .arg("--index")
        .arg(dir.path().join("index"))
        .arg("--data")
        .arg(&data)
        .output()
        .unwrap();
    assert!(!again.status.success());
}

#[test]
fn zero_writers_register_one_version_per_commit() {
    let dir = tempfile::tempdir().unwrap();
    let index = dir.path().join("index");
    let args = [
        "--registrations",
        "20",
        "--searchers",
        "1",
        "--writers",
        "0",
    ];
    let stdout = simulate(&index, &args);
    let s = summary(&stdout);
    assert_eq!(s["errors"], "0", "{stdout}");
    assert_eq!(s["verify"], "ok", "{stdout}");
    assert_eq!(s["registrations"], "20", "{stdout}");
    assert_eq!(s["writers"], "0", "{stdout}");
    assert_eq!(s["commits"], "20", "{stdout}");
    assert_eq!(s["group_mean"], "1.00", "{stdout}");
    assert_eq!(s["group_max"], "1", "{stdout}");
    let models = adaptdb::Index::open_read_only(&index)
        .unwrap()
        .models()
        .unwrap();
    assert_eq!(models.len(), 20);
}
