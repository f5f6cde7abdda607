//! What the `adaptdb` binary refuses and how it fails, on the shipped weather data. A user
//! test found that a failed `register` left the index it had just created behind, that
//! parameter flags were silently ignored on an existing index, that `--help` showed a
//! stale seed, that out-of-range values went through, and that `verify` exited 2 on
//! problems. Guaranteed now: a failed command leaves nothing it created, a flag that
//! contradicts the index is an error naming the stored and the given value, every default
//! in `--help` is the library's, bad values are refused naming the flag and the value, and
//! `verify` exits 0 (all holds), 1 (problems found) or 2 (the check could not run).

mod common;

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use adaptdb::{Params, SearchOptions};
use common::{data, flip_byte};

/// The library text that advises running `verify`; `verify` must never print it.
const VERIFY_HINT: &str = "run `adaptdb verify`";

/// Runs the binary with `RUST_BACKTRACE=1`, as in the environment the user test ran in.
fn adaptdb(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_adaptdb"))
        .args(args.iter().map(|a| a.as_ref()))
        .env("RUST_BACKTRACE", "1")
        .env_remove("RUST_LIB_BACKTRACE")
        .env_remove("ADAPTDB_LOG")
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts a failure with exit status `code` and one `error:` line containing every
/// piece of `expected`, and returns that line.
fn refused(out: &Output, code: i32, expected: &[&str]) -> String {
    let err = stderr(out);
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{err}",
        stdout(out)
    );
    assert_eq!(
        err.lines().count(),
        1,
        "one error line, no backtrace: {err}"
    );
    assert!(err.starts_with("error: "), "{err}");
    for piece in expected {
        assert!(err.contains(piece), "{piece:?} not in {err}");
    }
    err
}

fn ok(out: Output) -> String {
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
}

fn auckland() -> PathBuf {
    data("weather_cities/sources/model_Auckland_2016.csv")
}

/// A new index holding `model_Auckland_2016` as `a@1`.
fn index_with_one_model(dir: &Path) -> PathBuf {
    let index = dir.join("index");
    ok(adaptdb(&[
        &"register",
        &index,
        &auckland(),
        &"--name",
        &"a",
    ]));
    index
}

fn model_count(index: &Path) -> usize {
    let out = ok(adaptdb(&[&"list", &index, &"--json"]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v["models"].as_array().unwrap().len()
}

fn names_in(dir: &Path) -> BTreeSet<OsString> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect()
}

/// The first `rows` data rows of the Auckland source, with its header.
fn auckland_head(dir: &Path, rows: usize) -> PathBuf {
    let text = std::fs::read_to_string(auckland()).unwrap();
    let head: Vec<&str> = text.lines().take(rows + 1).collect();
    let path = dir.join(format!("auckland_{rows}.csv"));
    std::fs::write(&path, head.join("\n") + "\n").unwrap();
    path
}

/// The Auckland source gzip-compressed and cut in the middle of the stream.
fn truncated_gzip(dir: &Path) -> PathBuf {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&std::fs::read(auckland()).unwrap()).unwrap();
    let bytes = gz.finish().unwrap();
    let path = dir.join("truncated.csv.gz");
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    path
}

#[test]
fn a_failed_register_into_a_new_index_path_leaves_no_directory_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let bad_csv = tmp.path().join("bad.csv");
    std::fs::write(&bad_csv, "a,b\n1,2\n3\n").unwrap();
    let missing = tmp.path().join("no-such.csv");
    let gz = truncated_gzip(tmp.path());
    let cases: [(&Path, &str); 3] = [
        (&missing, "No such file or directory"),
        (
            &bad_csv,
            "line 3: expected 2 fields (as in the header), found 1",
        ),
        (&gz, "incomplete deflate stream"),
    ];
    for (data, why) in cases {
        let index = tmp.path().join("index");
        let out = adaptdb(&[&"register", &index, &data, &"--name", &"x"]);
        refused(
            &out,
            1,
            &["registering x: ", &data.display().to_string(), why],
        );
        assert!(
            !index.exists(),
            "{} left behind by {}",
            index.display(),
            why
        );
    }

    // Every missing parent the command created goes too, and nothing else.
    let nested = tmp.path().join("a").join("b").join("index");
    let out = adaptdb(&[&"register", &nested, &bad_csv, &"--name", &"x"]);
    refused(&out, 1, &["line 3"]);
    assert!(!tmp.path().join("a").exists());
    assert!(bad_csv.exists() && gz.exists());
}

#[test]
fn a_failed_register_into_an_existing_empty_directory_removes_only_what_it_created() {
    let tmp = tempfile::tempdir().unwrap();
    let index = tmp.path().join("index");
    std::fs::create_dir(&index).unwrap();
    std::fs::write(index.join("README"), "mine").unwrap();
    let missing = tmp.path().join("no-such.csv");
    let out = adaptdb(&[&"register", &index, &missing, &"--name", &"x"]);
    refused(&out, 1, &["No such file or directory"]);
    assert_eq!(names_in(&index), BTreeSet::from([OsString::from("README")]));
}

#[test]
fn a_failed_register_into_an_existing_index_keeps_the_index_and_its_models() {
    let tmp = tempfile::tempdir().unwrap();
    let index = index_with_one_model(tmp.path());
    let missing = tmp.path().join("no-such.csv");
    let out = adaptdb(&[&"register", &index, &missing, &"--name", &"x"]);
    refused(&out, 1, &["No such file or directory"]);
    assert_eq!(model_count(&index), 1);
}

#[test]
fn a_failed_demo_removes_the_index_it_was_told_to_keep() {
    let tmp = tempfile::tempdir().unwrap();
    let workload = tmp.path().join("workload");
    for sub in ["sources", "targets"] {
        std::fs::create_dir_all(workload.join(sub)).unwrap();
    }
    std::fs::write(workload.join("sources/broken.csv"), "a,b\n1,2\n3\n").unwrap();
    std::fs::copy(auckland(), workload.join("targets/t.csv")).unwrap();
    std::fs::write(
        workload.join("ground_truth.csv"),
        "target,source,target_accuracy\nt,broken,0.5\n",
    )
    .unwrap();
    let index = tmp.path().join("kept");
    let out = adaptdb(&[&"demo", &workload, &"--index", &index]);
    refused(&out, 1, &["registering: ", "broken.csv: line 3"]);
    assert!(!index.exists());
}

#[test]
fn register_on_an_existing_index_refuses_parameter_flags_that_differ_from_the_stored_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let index = index_with_one_model(tmp.path());
    let b = data("weather_cities/sources/model_Auckland_2017.csv");
    let out = adaptdb(&[
        &"register",
        &index,
        &b,
        &"--name",
        &"b",
        &"--partition-rows",
        &"32",
        &"--seed",
        &"5",
        &"--bands",
        &"512",
    ]);
    let err = refused(
        &out,
        1,
        &[
            "--partition-rows 32 (the index has 64)",
            "--seed 0x0000000000000005 (the index has 0x5eedada97db00001)",
            "parameters are fixed when an index is created",
        ],
    );
    assert!(!err.contains("--bands"), "an equal flag is no error: {err}");
    assert_eq!(model_count(&index), 1);

    // A sketch file's registration checks the flags before it reads the file.
    let out = adaptdb(&[
        &"register",
        &index,
        &"--sketch",
        &b,
        &"--name",
        &"b",
        &"--bins",
        &"8",
    ]);
    refused(&out, 1, &["--bins 8 (the index has 16)", "fixed"]);
    let out = adaptdb(&[
        &"register",
        &index,
        &b,
        &"--name",
        &"b",
        &"--keep-distributions",
    ]);
    refused(
        &out,
        1,
        &["--keep-distributions (the index keeps no distributions)"],
    );
    let out = adaptdb(&[
        &"register",
        &index,
        &b,
        &"--name",
        &"b",
        &"--preset",
        &"paper",
    ]);
    refused(
        &out,
        1,
        &["--preset paper sets --bands 200 (the index has 512)"],
    );
    assert_eq!(model_count(&index), 1);
}

#[test]
fn register_on_an_existing_index_accepts_parameter_flags_equal_to_the_stored_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let index = index_with_one_model(tmp.path());
    let seed = Params::default().seed.to_string();
    let b = data("weather_cities/sources/model_Auckland_2017.csv");
    let out = adaptdb(&[
        &"register",
        &index,
        &b,
        &"--name",
        &"b",
        &"--partition-rows",
        &"64",
        &"--seed",
        &seed,
        &"--bands",
        &"512",
        &"--alpha",
        &"0.5",
    ]);
    assert!(ok(out).starts_with("registered b@1 (id 1): 175 rows, 3 partitions, "));
    assert_eq!(model_count(&index), 2);
}

/// `--help` text with every run of whitespace made one space.
fn help(command: &str) -> String {
    let text = ok(adaptdb(&[&command, &"--help"]));
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn help_shows_the_library_defaults_of_every_parameter() {
    let d = Params::default();
    let p = Params::paper();
    let expected = [
        format!(
            "--partition-rows <PARTITION_ROWS> Rows per partition (s) [default: {}]",
            d.partition_rows
        ),
        format!(
            "--bins <BINS> Histogram bins per column (B) [default: {}]",
            d.bins
        ),
        format!(
            "--alpha <ALPHA> Additive smoothing of bin counts (α) [default: {}]",
            d.alpha
        ),
        format!("at most [default: {}]", d.reference_rows),
        format!("hash functions per band (R) [default: {}]", d.rows_per_band),
        format!("bands per partition (L) [default: {}]", d.bands),
        format!("noise floor [default: {}]", d.bucket_width),
        format!("MinHash functions (K_m) [default: {}]", d.minhash_size),
        format!("band-table key (r_m) [default: {}]", d.minhash_band_rows),
        format!("hexadecimal [default: {:#018x}]", d.seed),
        format!(
            "(r = {}, R = {}, L = {}, the paper's",
            p.bucket_width, p.rows_per_band, p.bands
        ),
    ];
    assert_eq!(format!("{:#018x}", d.seed), "0x5eedada97db00001");
    for command in ["init", "register", "demo"] {
        let text = help(command);
        for e in &expected {
            assert!(
                text.contains(e.as_str()),
                "{command} --help lacks {e:?}:\n{text}"
            );
        }
        assert!(
            !text.contains("6839474573349912577"),
            "{command}: the stale seed"
        );
    }
    let o = SearchOptions::default();
    let text = help("search");
    assert!(text.contains(&format!(
        "Matches to return (at least 1) [default: {}]",
        o.top_k
    )));
    assert!(text.contains(&format!("this many [default: {}]", o.exhaustive_limit)));
}

#[test]
fn a_given_seed_is_stored_whether_decimal_or_hexadecimal() {
    let tmp = tempfile::tempdir().unwrap();
    for (dir, seed) in [("dec", "255"), ("hex", "0xff")] {
        let index = tmp.path().join(dir);
        let text = ok(adaptdb(&[&"init", &index, &"--seed", &seed]));
        assert!(text.contains("0x00000000000000ff"), "{text}");
    }
    let out = adaptdb(&[&"init", &tmp.path().join("bad"), &"--seed", &"0xzz"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("invalid value '0xzz' for '--seed <SEED>'"));
}

#[test]
fn init_prints_a_table_of_the_parameters_instead_of_a_debug_dump() {
    let tmp = tempfile::tempdir().unwrap();
    let index = tmp.path().join("index");
    let text = ok(adaptdb(&[&"init", &index, &"--bands", &"100"]));
    assert!(
        text.starts_with(&format!("created index {}\n", index.display())),
        "{text}"
    );
    assert!(!text.contains("Params {"), "{text}");
    fn cell(c: &str) -> &str {
        c.trim_matches([' ', '│'])
    }
    let row = |name: &str, value: &str| {
        text.lines()
            .any(|l| l.contains(name) && l.split('┆').nth(1).map(cell) == Some(value))
    };
    assert!(row("bands (L)", "100"), "{text}");
    assert!(row("partition_rows (s)", "64"), "{text}");
    assert!(row("seed", "0x5eedada97db00001"), "{text}");
    assert!(text.contains("the bucket width is calibrated by the first registration"));

    let out = adaptdb(&[&"init", &index]);
    refused(&out, 1, &["an index already exists here"]);
    assert!(
        index.join("catalog.redb").exists(),
        "a refused init keeps the index"
    );
}

#[test]
fn counts_of_one_are_singular() {
    let tmp = tempfile::tempdir().unwrap();
    let small = auckland_head(tmp.path(), 70);
    let index = tmp.path().join("index");
    let text = ok(adaptdb(&[&"register", &index, &small, &"--name", &"a"]));
    assert!(
        text.starts_with("registered a@1 (id 0): 70 rows, 1 partition, "),
        "{text}"
    );
    let text = ok(adaptdb(&[&"search", &index, &small]));
    assert!(
        text.contains("target: 70 rows in 1 partition; scored all 1 model version\n"),
        "{text}"
    );
    assert!(ok(adaptdb(&[&"list", &index])).ends_with("\n1 model version\n"));
    let text = ok(adaptdb(&[&"verify", &index]));
    assert!(
        text.contains(": 1 model version, 2 segment records, "),
        "{text}"
    );
    assert!(text.contains(", 1 segment\n"), "{text}");
}

#[test]
fn search_refuses_a_top_k_of_zero_and_a_min_adaptivity_outside_zero_to_one() {
    let tmp = tempfile::tempdir().unwrap();
    let index = index_with_one_model(tmp.path());
    let out = adaptdb(&[&"search", &index, &auckland(), &"--top-k", &"0"]);
    refused(&out, 1, &["--top-k 0: must be at least 1"]);
    for (given, shown) in [
        ("1.5", "1.5"),
        ("-0.1", "-0.1"),
        ("NaN", "NaN"),
        ("nan", "NaN"),
    ] {
        let out = adaptdb(&[&"search", &index, &auckland(), &"--min-adaptivity", &given]);
        let expected = format!("--min-adaptivity {shown}: must be a number between 0 and 1");
        refused(&out, 1, &[&expected]);
    }
    for edge in ["0", "1"] {
        ok(adaptdb(&[
            &"search",
            &index,
            &auckland(),
            &"--min-adaptivity",
            &edge,
        ]));
    }
}

#[test]
fn register_refuses_a_source_accuracy_outside_zero_to_one_and_creates_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let index = tmp.path().join("index");
    for (given, shown) in [("1.01", "1.01"), ("-1", "-1"), ("NaN", "NaN")] {
        let out = adaptdb(&[
            &"register",
            &index,
            &auckland(),
            &"--name",
            &"a",
            &"--source-accuracy",
            &given,
        ]);
        let expected = format!("--source-accuracy {shown}: must be a number between 0 and 1");
        refused(&out, 1, &[&expected]);
        assert!(!index.exists());
    }
}

#[test]
fn meta_and_where_need_an_equals_sign_and_a_non_empty_key() {
    let tmp = tempfile::tempdir().unwrap();
    let index = index_with_one_model(tmp.path());
    let a = auckland();
    for (flag, command) in [("--meta", "register"), ("--where", "search")] {
        for given in ["year", "=2016", " =2016"] {
            let out = if command == "register" {
                adaptdb(&[&command, &index, &a, &"--name", &"b", &flag, &given])
            } else {
                adaptdb(&[&command, &index, &a, &flag, &given])
            };
            let expected = format!("{flag} {given:?}: expected KEY=VALUE");
            refused(&out, 1, &[&expected]);
        }
    }
    let out = adaptdb(&[&"search", &index, &a, &"--where", &"=2016"]);
    refused(&out, 1, &["with a non-empty KEY"]);
    assert_eq!(model_count(&index), 1);
}

#[test]
fn sketch_refuses_zero_shard_rows_and_shards_smaller_than_a_partition() {
    let tmp = tempfile::tempdir().unwrap();
    let index = index_with_one_model(tmp.path());
    let output = tmp.path().join("a.sketch");
    let sketch = |rows: &str| {
        adaptdb(&[
            &"sketch",
            &index,
            &auckland(),
            &"-o",
            &output,
            &"--shard-rows",
            &rows,
        ])
    };
    refused(&sketch("0"), 1, &["--shard-rows 0: must be at least 1"]);
    refused(
        &sketch("63"),
        1,
        &[
            "--shard-rows 63 is smaller than the index's partition rows (64)",
            "each shard is partitioned on its own, so a shard smaller than a partition makes \
             one tiny partition per shard",
        ],
    );
    assert!(!output.exists());
    let text = ok(sketch("64"));
    assert!(text.contains(": 175 rows, 3 partitions, "), "{text}");
}

#[test]
fn sketch_merge_refuses_the_same_file_given_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let index = index_with_one_model(tmp.path());
    let a = tmp.path().join("a.sketch");
    ok(adaptdb(&[&"sketch", &index, &auckland(), &"-o", &a]));
    let merged = tmp.path().join("m.sketch");
    // The same file under another spelling of its path is the same file.
    let again = tmp.path().join(".").join("a.sketch");
    let out = adaptdb(&[&"sketch", &"--merge", &a, &again, &"-o", &merged]);
    let expected = format!(
        "--merge: {} is given twice (as sketch file 1 and 2)",
        again.display()
    );
    refused(&out, 1, &[&expected]);
    assert!(!merged.exists());
}

#[test]
fn verify_exits_0_when_all_holds_1_when_it_finds_problems_and_2_when_it_cannot_run() {
    let tmp = tempfile::tempdir().unwrap();
    let index = index_with_one_model(tmp.path());
    let text = ok(adaptdb(&[&"verify", &index]));
    assert!(text.ends_with("OK: no problems found\n"), "{text}");

    let out = ok(adaptdb(&[&"show", &index, &"a@1", &"--json"]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let offset = v["models"][0]["location"]["offset"].as_u64().unwrap();
    flip_byte(&index.join("segments").join("00000001.seg"), offset + 40);
    let out = adaptdb(&[&"verify", &index]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).ends_with("\n1 problem found\n"),
        "{}",
        stdout(&out)
    );
    let out = adaptdb(&[&"verify", &index, &"--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["ok"], false);

    let missing = tmp.path().join("nothing-here");
    let out = adaptdb(&[&"verify", &missing]);
    let err = refused(
        &out,
        2,
        &[
            "verifying index: ",
            "not an adaptdb index: no such directory",
        ],
    );
    assert!(!err.contains(VERIFY_HINT), "{err}");
    let out = adaptdb(&[&"verify"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a usage error cannot run the check either"
    );

    let text = help("verify");
    assert!(
        text.contains(
            "Exit status: 0 when everything holds, 1 when problems were found (a catalogue \
             too damaged to open is one), 2 when the check itself could not run"
        ),
        "{text}"
    );
}

/// A copy of the golden index (tests/golden/index_v1) in `dir`.
fn copy_golden(dir: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/index_v1");
    let dst = dir.join("golden");
    std::fs::create_dir_all(dst.join("segments")).unwrap();
    std::fs::copy(src.join("catalog.redb"), dst.join("catalog.redb")).unwrap();
    for e in std::fs::read_dir(src.join("segments")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dst.join("segments").join(p.file_name().unwrap())).unwrap();
    }
    dst
}

#[test]
fn verify_of_a_damaged_catalogue_reports_problems_and_never_advises_running_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let index = copy_golden(tmp.path());
    let catalog = index.join("catalog.redb");
    let pristine = std::fs::read(&catalog).unwrap();
    let prefix = format!("{}: ", catalog.display());
    let (mut unreadable, mut damaged_while_checked) = (0, 0);
    // Eight bytes past the start of every 4 KiB page: some damage makes redb panic while
    // the index opens, some while `verify` reads a table, and some goes unnoticed.
    for page in 0..pristine.len() / 4096 {
        let mut bytes = pristine.clone();
        let at = page * 4096 + 8;
        bytes[at..at + 8].copy_from_slice(&[0x5a, 0xa5, 0x5a, 0xa5, 0x5a, 0xa5, 0x5a, 0xa5]);
        std::fs::write(&catalog, &bytes).unwrap();
        let out = adaptdb(&[&"verify", &index]);
        let (text, err) = (stdout(&out), stderr(&out));
        let context = format!("page {page}: status {:?}\n{text}\n{err}", out.status.code());
        assert!(
            !text.contains(VERIFY_HINT) && !err.contains(VERIFY_HINT),
            "{context}"
        );
        assert!(!err.contains("panicked"), "{context}");
        match out.status.code() {
            Some(0) => assert!(text.ends_with("OK: no problems found\n"), "{context}"),
            Some(1) => {
                assert!(text.ends_with(" found\n"), "{context}");
                let damaged = text
                    .lines()
                    .any(|l| l.starts_with(&prefix) && l.contains("damaged"));
                if text.contains("note: the catalogue could not be read") {
                    assert!(damaged, "{context}");
                    unreadable += 1;
                } else if damaged {
                    damaged_while_checked += 1;
                }
            }
            Some(2) => assert!(err.starts_with("error: verifying index: "), "{context}"),
            _ => panic!("{context}"),
        }
    }
    assert!(unreadable > 0, "no damage stopped the index from opening");
    assert!(
        damaged_while_checked > 0,
        "no damage was met while checking"
    );
}

#[test]
fn an_ordinary_error_names_the_missing_file_once_and_prints_no_backtrace() {
    let tmp = tempfile::tempdir().unwrap();
    let index = index_with_one_model(tmp.path());
    let missing = tmp.path().join("no-such.csv");
    for out in [
        adaptdb(&[&"search", &index, &missing]),
        adaptdb(&[&"register", &index, &missing, &"--name", &"b"]),
    ] {
        let err = refused(&out, 1, &["No such file or directory (os error 2)"]);
        assert_eq!(
            err.matches(&missing.display().to_string()).count(),
            1,
            "{err}"
        );
        assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
        assert!(!err.to_lowercase().contains("backtrace"), "{err}");
    }
    let nowhere = tmp.path().join("nowhere");
    let out = adaptdb(&[&"list", &nowhere]);
    let err = refused(&out, 1, &["opening index: ", "not an adaptdb index"]);
    assert_eq!(
        err.matches(&nowhere.display().to_string()).count(),
        1,
        "{err}"
    );
}
