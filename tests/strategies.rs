//! Every scoring strategy of `Index::search` (src/search.rs) on a small real case: four
//! weather sources and two targets from `data/weather_cities`. Pins the scores of one
//! target, checks them against independent computations, and checks the paper rule's
//! failure mode, the coverage filter and the error of `exact` without stored distributions
//! (METHOD.md §5.2, §7).

mod common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use adaptdb::search::Score;
use adaptdb::sketch::partition;
use adaptdb::store::ModelRef;
use adaptdb::{Index, InputOptions, Params, Registration, SearchOptions, Sketch};
use common::data;

const SOURCES: [&str; 4] = [
    "model_Auckland_2016",
    "model_Beijing_2016",
    "model_Mumbai_2016",
    "model_SanDiego_2016",
];
const TARGETS: [&str; 2] = ["target_Mumbai_2016", "target_Chicago_2016"];

/// Scores of target_Mumbai_2016 against SOURCES (in that order) on the default index with
/// stored distributions, computed once by this build and checked independently below.
const PINNED: [(Score, [f64; 4]); 4] = [
    (
        Score::Hellinger,
        [
            0.7702840053515854,
            0.8191913274691989,
            0.9847438617809825,
            0.7605258334799799,
        ],
    ),
    (
        Score::Soft,
        [0.3251953125, 0.3759765625, 0.7705078125, 0.3173828125],
    ),
    (
        Score::Exact,
        [
            0.6622561190014364,
            0.7713598899066241,
            0.9811991880933981,
            0.6944248076376118,
        ],
    ),
    (
        Score::Containment,
        [
            0.38522012578616355,
            0.4591194968553459,
            0.8647798742138365,
            0.3805031446540881,
        ],
    ),
];

fn source(name: &str) -> PathBuf {
    data("weather_cities/sources").join(format!("{name}.csv"))
}

fn target(name: &str) -> PathBuf {
    data("weather_cities/targets").join(format!("{name}.csv"))
}

fn with_distributions() -> Params {
    Params {
        keep_distributions: true,
        ..Params::default()
    }
}

fn build(dir: &Path, params: Params) -> Index {
    let index = Index::create(dir, params).unwrap();
    for name in SOURCES {
        let reg = Registration::new(name).version("1");
        index
            .register_file(&reg, &source(name), &InputOptions::default())
            .unwrap();
    }
    index
}

fn options(score: Score) -> SearchOptions {
    SearchOptions {
        top_k: 100,
        score,
        ..SearchOptions::default()
    }
}

/// (name, adaptivity, coverage) of every model, in SOURCES order.
fn scores(index: &Index, path: &Path, score: Score) -> Vec<(String, f64, f64)> {
    let found = index
        .search_file(path, &InputOptions::default(), &options(score))
        .unwrap();
    let mut out: Vec<(String, f64, f64)> = found
        .matches
        .iter()
        .map(|m| (m.model.name.clone(), m.adaptivity, m.coverage))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        out.iter().map(|m| m.0.as_str()).collect::<Vec<_>>(),
        SOURCES
    );
    out
}

fn sketch(index: &Index, path: &Path) -> Sketch {
    index.sketch_file(path, &InputOptions::default()).unwrap()
}

#[test]
fn every_strategy_scores_in_the_unit_interval() {
    let dir = tempfile::tempdir().unwrap();
    let index = build(dir.path(), with_distributions());
    for t in TARGETS {
        for score in Score::ALL {
            for (name, adaptivity, coverage) in scores(&index, &target(t), score) {
                assert!(
                    (0.0..=1.0).contains(&adaptivity),
                    "{t} {score} {name}: {adaptivity}"
                );
                assert!(
                    (0.0..=1.0).contains(&coverage),
                    "{t} {score} {name}: coverage {coverage}"
                );
            }
        }
    }
}

#[test]
fn a_source_searched_with_its_own_data_scores_one() {
    let dir = tempfile::tempdir().unwrap();
    let index = build(dir.path(), with_distributions());
    for name in ["model_Mumbai_2016", "model_Auckland_2016"] {
        for score in [
            Score::Hellinger,
            Score::Soft,
            Score::Exact,
            Score::Containment,
        ] {
            let all = scores(&index, &source(name), score);
            let own = all.iter().find(|m| m.0 == name).unwrap();
            assert_eq!(own.1, 1.0, "{name} {score}: {all:?}");
            assert_eq!(own.2, 1.0, "{name} {score} coverage: {all:?}");
        }
    }
}

#[test]
fn pinned_scores_of_one_target() {
    let dir = tempfile::tempdir().unwrap();
    let index = build(dir.path(), with_distributions());
    for (score, want) in PINNED {
        let got = scores(&index, &target("target_Mumbai_2016"), score);
        for ((name, adaptivity, _), want) in got.iter().zip(want) {
            assert!(
                (adaptivity - want).abs() < 1e-9,
                "{score} {name}: {adaptivity} ≠ {want}"
            );
        }
        // The target's own city-year is first under every one of them.
        let best = got.iter().max_by(|a, b| a.1.total_cmp(&b.1)).unwrap();
        assert_eq!(best.0, "model_Mumbai_2016", "{score}");
    }
}

/// The stored sketch of `name` is the one sketching its file again gives: equal fingerprint
/// (XXH3 of every band hash), flattened size and quoted band hashes.
fn stored_sketch(index: &Index, name: &str) -> Sketch {
    let again = sketch(index, &source(name));
    let stored = index
        .inspect_model(&ModelRef::Label {
            name: name.into(),
            version: "1".into(),
        })
        .unwrap()
        .unwrap();
    assert_eq!(stored.model.fingerprint, again.fingerprint(), "{name}");
    assert_eq!(stored.flat_len, again.flat.len(), "{name}");
    assert_eq!(stored.partitions, again.partitions(), "{name}");
    for (p, quoted) in stored.band_hashes.iter().enumerate() {
        assert_eq!(quoted[..], again.partition(p)[..quoted.len()], "{name}");
    }
    again
}

#[test]
fn pinned_containment_is_the_share_of_target_band_hashes_found_in_the_source() {
    let dir = tempfile::tempdir().unwrap();
    let index = build(dir.path(), with_distributions());
    let t = sketch(&index, &target("target_Mumbai_2016"));
    let target_set: HashSet<u64> = t.band_hashes.iter().copied().collect();
    for (i, name) in SOURCES.iter().enumerate() {
        let s = stored_sketch(&index, name);
        let source_set: HashSet<u64> = s.band_hashes.iter().copied().collect();
        let common = target_set.intersection(&source_set).count();
        let want = common as f64 / target_set.len() as f64;
        assert!((PINNED[3].1[i] - want).abs() < 1e-12, "{name}: {want}");
    }
}

/// For each target partition, the largest share of its bands equal to those of one source
/// partition, counted band by band.
fn best_shares(t: &Sketch, s: &Sketch) -> Vec<f64> {
    (0..t.partitions())
        .map(|q| {
            let best = (0..s.partitions())
                .map(|p| {
                    let (a, b) = (t.partition(q), s.partition(p));
                    a.iter().zip(b).filter(|(x, y)| x == y).count()
                })
                .max()
                .unwrap();
            best as f64 / t.bands as f64
        })
        .collect()
}

#[test]
fn pinned_soft_is_the_mean_best_share_of_equal_bands() {
    let dir = tempfile::tempdir().unwrap();
    let index = build(dir.path(), with_distributions());
    let t = sketch(&index, &target("target_Mumbai_2016"));
    for (i, name) in SOURCES.iter().enumerate() {
        let s = stored_sketch(&index, name);
        let shares = best_shares(&t, &s);
        let want = shares.iter().sum::<f64>() / t.partitions() as f64;
        assert!((PINNED[1].1[i] - want).abs() < 1e-12, "{name}: {want}");
    }
}

/// The squared Hellinger distance whose band collision probability p(d; r)^R is `share`,
/// written out from METHOD.md §2.2 with std's math: bisection on d ∈ [0, √2].
fn hellinger2(share: f64, r: f64, rows: i32) -> f64 {
    fn erfc(x: f64) -> f64 {
        // Abramowitz–Stegun 7.1.26 is too coarse here; integrate the density instead.
        let steps = 20_000;
        let (a, b) = (x, x.max(0.0) + 10.0);
        let h = (b - a) / steps as f64;
        let f = |t: f64| (-t * t).exp();
        let inner: f64 = (1..steps).map(|i| f(a + i as f64 * h)).sum();
        (inner + (f(a) + f(b)) / 2.0) * h * 2.0 / std::f64::consts::PI.sqrt()
    }
    let p = |d: f64| {
        let u = r / d;
        1.0 - erfc(u / std::f64::consts::SQRT_2)
            - 2.0 / ((2.0 * std::f64::consts::PI).sqrt() * u) * (1.0 - (-u * u / 2.0).exp())
    };
    let band = |d: f64| p(d).powi(rows);
    if share >= 1.0 {
        return 0.0;
    }
    let (mut lo, mut hi) = (1e-12, std::f64::consts::SQRT_2);
    if share <= band(hi) {
        return 1.0;
    }
    for _ in 0..60 {
        let mid = (lo + hi) / 2.0;
        if band(mid) > share {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let d = (lo + hi) / 2.0;
    d * d / 2.0
}

#[test]
fn pinned_hellinger_is_one_minus_the_mean_distance_the_best_band_counts_imply() {
    let dir = tempfile::tempdir().unwrap();
    let index = build(dir.path(), with_distributions());
    let p = index.params();
    let t = sketch(&index, &target("target_Mumbai_2016"));
    for (i, name) in SOURCES.iter().enumerate() {
        let s = stored_sketch(&index, name);
        let total: f64 = best_shares(&t, &s)
            .into_iter()
            .map(|share| hellinger2(share, p.bucket_width, p.rows_per_band as i32))
            .sum();
        let want = 1.0 - total / t.partitions() as f64;
        assert!((PINNED[0].1[i] - want).abs() < 1e-6, "{name}: {want}");
    }
}

/// JS (nats) between two partitions' smoothed distributions, written out from FORMAT.md
/// §2.4 with std's logarithm: the mean over columns of each column's divergence.
fn js(bins: &[usize], alpha: f64, p: (&[u32], u32), q: (&[u32], u32)) -> f64 {
    let mut offset = 0;
    let mut total = 0.0;
    for &b in bins {
        let mut sum = 0.0;
        for i in offset..offset + b {
            let x = (p.0[i] as f64 + alpha) / (p.1 as f64 + alpha * b as f64);
            let y = (q.0[i] as f64 + alpha) / (q.1 as f64 + alpha * b as f64);
            let m = (x + y) / 2.0;
            sum += 0.5 * x * (x / m).ln() + 0.5 * y * (y / m).ln();
        }
        total += sum;
        offset += b;
    }
    total / bins.len() as f64
}

#[test]
fn pinned_exact_is_one_minus_the_mean_smallest_js_over_ln2() {
    let dir = tempfile::tempdir().unwrap();
    let index = build(dir.path(), with_distributions());
    let space = index.space().unwrap().unwrap();
    let bins: Vec<usize> = space.columns().iter().map(|c| c.bins()).collect();
    let dim: usize = bins.iter().sum();
    let s = index.params().partition_rows as usize;
    let alpha = index.params().alpha;
    let t = sketch(&index, &target("target_Mumbai_2016"));
    let t_sizes = partition::sizes(t.rows as usize, s);
    for (i, name) in SOURCES.iter().enumerate() {
        let src = sketch(&index, &source(name));
        let s_sizes = partition::sizes(src.rows as usize, s);
        let mut total = 0.0;
        for (q, &nq) in t_sizes.iter().enumerate() {
            let tq = (&t.counts[q * dim..(q + 1) * dim], nq);
            let min = s_sizes
                .iter()
                .enumerate()
                .map(|(p, &np)| js(&bins, alpha, tq, (&src.counts[p * dim..(p + 1) * dim], np)))
                .fold(f64::INFINITY, f64::min);
            total += min;
        }
        let want = 1.0 - total / t_sizes.len() as f64 / std::f64::consts::LN_2;
        assert!((PINNED[2].1[i] - want).abs() < 1e-9, "{name}: {want}");
    }
}

#[test]
fn the_paper_preset_accepts_nearly_every_pair() {
    // METHOD.md §7, §8: at r = 1.4, R = 4, L = 200 every target partition shares a band
    // with some partition of every source, so the paper's rule cannot rank.
    let dir = tempfile::tempdir().unwrap();
    let index = build(dir.path(), Params::paper());
    assert_eq!(index.params().bucket_width, 1.4);
    for t in TARGETS {
        for (name, adaptivity, _) in scores(&index, &target(t), Score::Paper) {
            assert!(adaptivity >= 0.99, "{t} {name}: {adaptivity}");
        }
    }
}

#[test]
fn min_adaptivity_drops_the_low_coverage_models() {
    let dir = tempfile::tempdir().unwrap();
    let index = build(dir.path(), Params::default());
    for t in TARGETS {
        let all = scores(&index, &target(t), Score::Soft);
        let filtered = index
            .search_file(
                &target(t),
                &InputOptions::default(),
                &SearchOptions {
                    min_adaptivity: Some(0.5),
                    ..options(Score::Soft)
                },
            )
            .unwrap();
        let mut kept: Vec<&str> = filtered
            .matches
            .iter()
            .map(|m| m.model.name.as_str())
            .collect();
        kept.sort_unstable();
        let want: Vec<&str> = all
            .iter()
            .filter(|m| m.2 >= 0.5)
            .map(|m| m.0.as_str())
            .collect();
        assert_eq!(kept, want, "{t}");
        assert!(
            !kept.is_empty() && kept.len() < SOURCES.len(),
            "{t}: {all:?}"
        );
    }
    // On target_Mumbai_2016 only the Mumbai model covers the target.
    let found = index
        .search_file(
            &target("target_Mumbai_2016"),
            &InputOptions::default(),
            &SearchOptions {
                min_adaptivity: Some(0.5),
                ..options(Score::Soft)
            },
        )
        .unwrap();
    let names: Vec<&str> = found
        .matches
        .iter()
        .map(|m| m.model.name.as_str())
        .collect();
    assert_eq!(names, ["model_Mumbai_2016"]);
}

#[test]
fn exact_without_stored_distributions_says_how_to_get_them() {
    let dir = tempfile::tempdir().unwrap();
    let index = build(dir.path(), Params::default());
    let err = index
        .search_file(
            &target("target_Mumbai_2016"),
            &InputOptions::default(),
            &options(Score::Exact),
        )
        .unwrap_err();
    assert!(
        err.to_string().contains("--keep-distributions"),
        "unexpected error: {err}"
    );
}
