//! Sketching cost stage by stage, on one data file, printed as a table.
//!
//! `cargo bench --bench sketch -- [FILE] [--reference FILE] [--repeat N]`
//!
//! Fixes the sample space from the reference file (default: the file itself), then times
//! each stage of sketching the file: reading the CSV, binning, partition counts, JSD-LSH
//! band hashes (the batched kernel, and the one-partition-at-a-time reference form for
//! comparison) and the MinHash signature. Figures are the median of `--repeat` runs.

use std::path::PathBuf;
use std::time::Instant;

use adaptdb::input::read_all;
use adaptdb::sketch::{bin_frame, partition, partition_counts, JsdLsh, MinHasher};
use adaptdb::space::SampleSpace;
use adaptdb::{InputOptions, Params};

fn median_ms(repeat: usize, mut f: impl FnMut()) -> f64 {
    let mut ms: Vec<f64> = (0..repeat)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    ms[ms.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let mut file = PathBuf::from("data/image_digits/targets/T_balanced.csv.gz");
    let (mut reference, mut repeat) = (None, 5usize);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--reference" => reference = args.next().map(PathBuf::from),
            "--repeat" => repeat = args.next().and_then(|v| v.parse().ok()).unwrap_or(5),
            other if other.starts_with("--") => {}
            other => file = PathBuf::from(other),
        }
    }
    let input = InputOptions::default();
    let reference = read_all(reference.as_ref().unwrap_or(&file), &input).expect("reference");
    let params = Params {
        bucket_width: 2.0,
        ..Params::default()
    };
    let space = SampleSpace::from_reference(
        &reference,
        params.bins,
        params.reference_rows as usize,
        params.seed,
    );
    let t = Instant::now();
    let lsh = JsdLsh::new(&params, &space);
    let generate_ms = t.elapsed().as_secs_f64() * 1e3;
    let minhasher = MinHasher::new(&params);

    let mut frame = None;
    let read = median_ms(repeat, || {
        frame = Some(read_all(&file, &input).expect("read"))
    });
    let frame = frame.expect("read at least once");
    let mut codes = Vec::new();
    let bin = median_ms(repeat, || codes = bin_frame(&space, &frame).expect("bin"));
    let mut counts = Vec::new();
    let count = median_ms(repeat, || {
        counts = partition_counts(&space, &params, &codes, frame.rows)
    });
    let sizes = partition::sizes(frame.rows, params.partition_rows as usize);
    let l = params.bands as usize;
    let mut hashes = vec![0u64; sizes.len() * l];
    let batched = median_ms(repeat, || {
        lsh.band_hashes_many(&space, &counts, &sizes, &mut hashes)
    });
    let dim = space.dim();
    let mut one = vec![0u64; sizes.len() * l];
    let reference_ms = median_ms(repeat, || {
        for (p, &rows) in sizes.iter().enumerate() {
            lsh.band_hashes(
                &space,
                &counts[p * dim..][..dim],
                rows,
                &mut one[p * l..][..l],
            );
        }
    });
    assert_eq!(
        hashes, one,
        "the batched kernel must equal the reference form"
    );
    let mut flat = hashes.clone();
    flat.sort_unstable();
    flat.dedup();
    let minhash = median_ms(repeat, || {
        std::hint::black_box(minhasher.signature(&flat));
    });

    let occupied = counts.iter().filter(|&&c| c > 0).count();
    println!(
        "{}: {} rows × {} columns, {} partitions; D = {dim}, K = {}, \
         {:.0} occupied bins per partition",
        file.display(),
        frame.rows,
        frame.columns.len(),
        sizes.len(),
        params.hashes(),
        occupied as f64 / sizes.len() as f64
    );
    println!("generate projection (once)   {generate_ms:9.2} ms");
    println!("read CSV                     {read:9.2} ms");
    println!("bin                          {bin:9.2} ms");
    println!("partition counts             {count:9.2} ms");
    println!("JSD-LSH, batched kernel      {batched:9.2} ms");
    println!("JSD-LSH, one partition a time{reference_ms:9.2} ms");
    println!("MinHash of {:5} keys         {minhash:9.2} ms", flat.len());
}
