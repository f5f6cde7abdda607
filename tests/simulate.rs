//! A short run of the pipeline simulator (tools/simulate.rs): versions registered while
//! searches run, with no errors and an index that verifies. Run the tool by hand with the
//! default 10,000 registrations for the load figures.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

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
fn registrations_while_searching_give_no_errors_and_a_consistent_index() {
    let dir = tempfile::tempdir().unwrap();
    let index = dir.path().join("index");
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/weather_cities");
    let out = Command::new(env!("CARGO_BIN_EXE_adaptdb-simulate"))
        .args(["--registrations", "60", "--searchers", "2"])
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
    assert_eq!(s["errors"], "0", "{stdout}");
    assert_eq!(s["verify"], "ok", "{stdout}");
    assert_eq!(s["registrations"], "60", "{stdout}");
    assert!(s["searches"].parse::<usize>().unwrap() > 0, "{stdout}");

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
