//! A writer that dies while it holds the index (killed during a registration) leaves the
//! catalogue marked "not closed cleanly", and redb refuses read-only opens of such a file
//! until a writer has recovered it. Readers used to fail until the next write command ran;
//! now a read-only open recovers the index itself when no writer holds it, and then sees
//! exactly the registrations committed before the kill (FORMAT.md §7).

mod common;

use std::os::unix::fs::OpenOptionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use adaptdb::{Index, InputOptions, Params, Registration};
use common::*;

#[test]
fn a_read_only_open_after_a_killed_writer_recovers_and_sees_every_commit() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("index");
    {
        let index = Index::create(&dir, Params::default()).unwrap();
        let reg = Registration::new("model_Mumbai").version("2016");
        let path = data("weather_cities/sources/model_Mumbai_2016.csv");
        index
            .register_file(&reg, &path, &InputOptions::default())
            .unwrap();
    }
    // The writer opens the index, then blocks reading its data from a FIFO nobody writes.
    let fifo = tmp.path().join("never.csv");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let mut writer = Command::new(env!("CARGO_BIN_EXE_adaptdb"))
        .args(["register", dir.to_str().unwrap(), "--name", "blocked"])
        .arg(&fifo)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // It opens the index first, then the FIFO: once the FIFO has a reader, the index is
    // held for writing. (A probe that opened the index itself could take the lock first.)
    let deadline = Instant::now() + Duration::from_secs(20);
    let _feed = loop {
        let open = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo);
        match open {
            Ok(feed) => break feed,
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {}
            Err(e) => panic!("opening the FIFO: {e}"),
        }
        assert!(
            Instant::now() < deadline,
            "the writer never opened its data"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let Err(refused) = Index::open(&dir) else {
        panic!("a second writer was let in");
    };
    assert!(
        refused
            .to_string()
            .contains("open for writing in another process"),
        "{refused}"
    );
    writer.kill().unwrap();
    writer.wait().unwrap();

    let index = Index::open_read_only(&dir).unwrap();
    let labels: Vec<String> = index
        .models()
        .unwrap()
        .iter()
        .map(|m| format!("{}@{}", m.name, m.version))
        .collect();
    assert_eq!(labels, ["model_Mumbai@2016"]);
    assert!(index.verify().unwrap().is_ok());
}
