//! Sketches are reproducible: the sketch of a shipped dataset under the default parameters
//! must equal, hash for hash, the golden file committed beside this test. A change here
//! means every index built before it would stop matching new sketches (FORMAT.md §2).
//!
//! Regenerate (only for a deliberate format change) with `ADAPTDB_UPDATE_GOLDEN=1`.

mod common;

use adaptdb::input::{read_all, InputOptions};
use adaptdb::sketch::FrameRows;
use adaptdb::space::SampleSpace;
use adaptdb::{Params, Sketcher};
use common::data;

fn render(space: &SampleSpace, sketch: &adaptdb::Sketch) -> String {
    let hex = |v: &[u64]| {
        v.iter()
            .map(|h| format!("{h:016x}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    format!(
        "space {:016x}\nrows {}\npartitions {}\nflat {}\n[band_hashes]\n{}\n[minhash]\n{}\n",
        space.fingerprint(),
        sketch.rows,
        sketch.partitions(),
        sketch.flat.len(),
        hex(&sketch.band_hashes),
        hex(&sketch.minhash),
    )
}

#[test]
fn weather_sketch_matches_the_golden_file() {
    let params = Params {
        bucket_width: 2.0,
        ..Params::default()
    };
    let frame = read_all(
        &data("weather_cities/sources/model_Auckland_2016.csv"),
        &InputOptions::default(),
    )
    .unwrap();
    let space = SampleSpace::from_reference(&frame, params.bins, 100_000, params.seed);
    let sketcher = Sketcher::new(params, space.clone());
    let sketch = sketcher.sketch(&mut FrameRows::new(&frame)).unwrap();
    assert_eq!(sketch.rows, 175);
    assert_eq!(sketch.partitions(), 3);
    let text = render(&space, &sketch);
    let golden = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/sketch_weather_auckland_2016.txt");
    if std::env::var_os("ADAPTDB_UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, &text).unwrap();
    }
    let want = std::fs::read_to_string(&golden).unwrap();
    assert!(text == want, "sketch differs from {}", golden.display());
}

#[test]
fn sketching_twice_and_in_parallel_gives_the_same_sketch() {
    let params = Params {
        bucket_width: 2.0,
        ..Params::default()
    };
    let frame = read_all(
        &data("image_digits/sources/S_skew_3.csv.gz"),
        &InputOptions::default(),
    )
    .unwrap();
    let space = SampleSpace::from_reference(&frame, params.bins, 100_000, params.seed);
    let sketcher = Sketcher::new(params, space);
    let a = sketcher.sketch(&mut FrameRows::new(&frame)).unwrap();
    let b = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(|| sketcher.sketch(&mut FrameRows::new(&frame)).unwrap());
    assert_eq!(a, b);
}
