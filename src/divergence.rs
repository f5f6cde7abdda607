//! Jensen–Shannon divergence between partition distributions and the JSD-LSH collision
//! model (METHOD.md §1.3, §2): exact scores, the noise floor, and the
//! calibration of the bucket width and of the hard-adaptivity band threshold.

use crate::params::Params;
use crate::space::SampleSpace;

/// The smoothed distribution of one partition: bin counts over Ω and its row count.
#[derive(Debug, Clone, Copy)]
pub struct Counts<'a> {
    /// Count per bin of Ω.
    pub bins: &'a [u32],
    /// Rows of the partition.
    pub rows: u32,
}

/// JS(P, Q) in nats between two partitions' smoothed distributions: the mean over columns
/// of each column's divergence (the concatenated vector's divergence, exactly).
pub fn js(space: &SampleSpace, alpha: f64, p: Counts, q: Counts) -> f64 {
    let mut total = 0.0;
    for (c, col) in space.columns().iter().enumerate() {
        let b = col.bins();
        let (np, nq) = (
            p.rows as f64 + alpha * b as f64,
            q.rows as f64 + alpha * b as f64,
        );
        let off = space.offset(c);
        let mut sum = 0.0;
        for i in off..off + b {
            let x = (p.bins[i] as f64 + alpha) / np;
            let y = (q.bins[i] as f64 + alpha) / nq;
            let m = 0.5 * (x + y);
            if x > 0.0 {
                sum += 0.5 * x * libm::log(x / m);
            }
            if y > 0.0 {
                sum += 0.5 * y * libm::log(y / m);
            }
        }
        total += sum;
    }
    total / space.columns().len() as f64
}

/// The noise floor of a dataset: the mean JS between its partitions taken in pairs
/// (0,1), (1,2), …, (m−1,0). Two random partitions of one dataset differ only by sampling
/// noise, so this is the divergence below which partitions are indistinguishable. With
/// fewer than two partitions, or partitions so alike that the mean is 0 (which would make
/// the bucket width 0), 0.6 × (B−1)/(4s), the measured ratio to the formula.
pub fn noise_floor(space: &SampleSpace, params: &Params, counts: &[u32], sizes: &[u32]) -> f64 {
    let dim = space.dim();
    let m = sizes.len();
    let formula = 0.6 * (params.bins as f64 - 1.0) / (4.0 * params.partition_rows as f64);
    if m < 2 {
        return formula;
    }
    let part = |i: usize| Counts {
        bins: &counts[i * dim..(i + 1) * dim],
        rows: sizes[i],
    };
    let pairs = if m == 2 { 1 } else { m };
    let total: f64 = (0..pairs)
        .map(|i| js(space, params.alpha, part(i), part((i + 1) % m)))
        .sum();
    let mean = total / pairs as f64;
    if mean > 0.0 {
        mean
    } else {
        formula
    }
}

/// The standard normal CDF.
fn phi(x: f64) -> f64 {
    0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)
}

/// Probability that one E2LSH hash of width `r` collides for points at distance `d`
/// (Datar et al.; METHOD.md §2.2).
pub fn collision(d: f64, r: f64) -> f64 {
    if d <= 0.0 {
        return 1.0;
    }
    let t = r / d;
    1.0 - 2.0 * phi(-t)
        - 2.0 / ((2.0 * std::f64::consts::PI).sqrt() * t) * (1.0 - libm::exp(-t * t / 2.0))
}

/// Probability that a band of `rows` hashes collides, p(d; r)^R, as `rows` multiplications
/// from 1 (so that it is the same on every platform).
pub fn band_collision(d: f64, r: f64, rows: u16) -> f64 {
    let p = collision(d, r);
    (0..rows).fold(1.0, |acc, _| acc * p)
}

/// κ_R: the bucket width, per unit of Hellinger distance, at which a band of `rows`
/// hashes collides with probability ½ (METHOD.md §2.3).
pub fn kappa(rows: u16) -> f64 {
    let target = libm::pow(0.5, 1.0 / rows as f64);
    let (mut lo, mut hi) = (1e-3, 1e3);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if collision(1.0, mid) < target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// The recall-safe Hellinger distance of a JS threshold: every pair with JS ≤ `t` lies
/// within it (METHOD.md §2.1).
pub fn hellinger_bound(t: f64) -> f64 {
    (2.0 * t / std::f64::consts::LN_2).sqrt()
}

/// The bucket width that puts the band-collision midpoint at JS threshold `t`.
pub fn bucket_width_for(t: f64, rows_per_band: u16) -> f64 {
    kappa(rows_per_band) * hellinger_bound(t)
}

/// Least number of the `bands` bands a partition pair within JS `t` shares, one standard
/// deviation below the mean (at least 1): the hard-adaptivity match rule (METHOD.md §5.2).
pub fn band_threshold(t: f64, r: f64, rows_per_band: u16, bands: u16) -> u32 {
    let pb = band_collision(hellinger_bound(t), r, rows_per_band);
    let l = bands as f64;
    let tau = l * pb - (l * pb * (1.0 - pb)).sqrt();
    (tau.ceil() as u32).max(1)
}

/// The squared Hellinger distance H² = d²/2 ∈ [0, 1] at which a pair shares, in
/// expectation, the share `share` of its bands: the inverse of the band collision
/// probability P_b(d) = p(d; r)^R (METHOD.md §2.3), by bisection on d ∈ [0, √2]. A share
/// below P_b(√2) (the most distant pair) maps to 1, a share of 1 to 0.
pub fn hellinger2_from_share(share: f64, r: f64, rows_per_band: u16) -> f64 {
    let band = |d: f64| band_collision(d, r, rows_per_band);
    let (mut lo, mut hi) = (0.0, std::f64::consts::SQRT_2);
    if share >= 1.0 {
        return 0.0;
    }
    if share <= band(hi) {
        return 1.0;
    }
    for _ in 0..64 {
        let mid = 0.5 * (lo + hi);
        if band(mid) > share {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let d = 0.5 * (lo + hi);
    d * d / 2.0
}

/// [`hellinger2_from_share`] of every band count `0 ..= bands`.
pub fn hellinger2_table(r: f64, rows_per_band: u16, bands: u16) -> Vec<f64> {
    (0..=bands)
        .map(|k| hellinger2_from_share(k as f64 / bands as f64, r, rows_per_band))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::SpaceColumn;

    #[test]
    fn collision_matches_the_worked_example() {
        // METHOD.md §2.2: d = 0.5412, r = 1.4 gives p = 0.6927.
        assert!((collision(0.5412, 1.4) - 0.6927).abs() < 5e-4);
        assert_eq!(collision(0.0, 1.4), 1.0);
    }

    #[test]
    fn a_band_share_inverts_to_the_distance_that_implies_it() {
        // METHOD.md §2.2: d = 0.5412 (H² = 0.1464) and r = 1.4 give P_b = 0.2303.
        let share = band_collision(0.5412, 1.4, 4);
        assert!((share - 0.2303).abs() < 5e-4, "{share}");
        let h2 = hellinger2_from_share(share, 1.4, 4);
        assert!((h2 - 0.5412f64.powi(2) / 2.0).abs() < 1e-12, "{h2}");
        assert_eq!(hellinger2_from_share(1.0, 1.4, 4), 0.0);
        assert_eq!(hellinger2_from_share(0.0, 1.4, 4), 1.0);
        let table = hellinger2_table(1.4, 4, 200);
        assert_eq!(table.len(), 201);
        assert!(
            table.windows(2).all(|w| w[0] >= w[1]),
            "decreasing in the count"
        );
    }

    #[test]
    fn kappa_matches_the_published_constants() {
        for (rows, want) in [(1, 1.470), (2, 2.717), (4, 5.015), (8, 9.614)] {
            assert!(
                (kappa(rows) - want).abs() < 2e-3,
                "R = {rows}: {}",
                kappa(rows)
            );
        }
        // t = 0.05 with the recall-safe bound gives r = 1.91 for R = 4 (METHOD.md §2.3).
        assert!((bucket_width_for(0.05, 4) - 1.91).abs() < 0.01);
    }

    #[test]
    fn js_matches_the_worked_example() {
        // One column, four bins: P = (0.5, 0.25, 0.25, 0), Q uniform: JS = 0.1079 nats.
        let col = SpaceColumn {
            name: "x".into(),
            edges: vec![1.0, 2.0, 3.0],
        };
        let space = SampleSpace::new(vec![col]).unwrap();
        let p = Counts {
            bins: &[2, 1, 1, 0],
            rows: 4,
        };
        let q = Counts {
            bins: &[1, 1, 1, 1],
            rows: 4,
        };
        assert!((js(&space, 0.0, p, q) - 0.1079).abs() < 1e-4);
        assert_eq!(js(&space, 0.5, p, p), 0.0);
    }

    #[test]
    fn band_threshold_rises_with_the_threshold() {
        let loose = band_threshold(0.2, 2.09, 4, 256);
        let tight = band_threshold(0.01, 2.09, 4, 256);
        assert!(tight > loose, "{tight} ≤ {loose}");
        // At the default r the midpoint P_b = ½ sits at JS ≈ 0.06: τ ≈ 128 − √64.
        let mid = band_threshold(0.06, 2.09, 4, 256);
        assert!((118..=123).contains(&mid), "{mid}");
    }
}
