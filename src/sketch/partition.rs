//! Seeded random partitioning (METHOD.md §1.2): a Fisher–Yates shuffle driven by
//! SplitMix64, then consecutive chunks of s rows, a residue shorter than s/2 merged into
//! the last chunk.

use std::ops::Range;

use crate::hash::{below, splitmix64};

/// The seeded permutation of `0..rows` used to deal rows into partitions.
pub fn shuffle(rows: usize, seed: u64) -> Vec<u32> {
    let mut order: Vec<u32> = (0..rows as u32).collect();
    let mut state = seed;
    for i in (1..rows).rev() {
        let j = below(splitmix64(&mut state), i as u64 + 1) as usize;
        order.swap(i, j);
    }
    order
}

/// Ranges of the shuffled order that form the partitions of a dataset of `rows` rows.
///
/// Every partition has `s` rows except the last, which has between `s/2` and `3s/2`; a
/// dataset of fewer than `s` rows is one partition.
pub fn chunks(rows: usize, s: usize) -> Vec<Range<usize>> {
    let full = rows / s;
    let residue = rows % s;
    if full == 0 {
        #[allow(clippy::single_range_in_vec_init)]
        return if rows == 0 { Vec::new() } else { vec![0..rows] };
    }
    let count = if residue * 2 >= s { full + 1 } else { full };
    (0..count)
        .map(|p| {
            let end = if p + 1 == count { rows } else { (p + 1) * s };
            p * s..end
        })
        .collect()
}

/// Rows of each partition of a dataset of `rows` rows.
pub fn sizes(rows: usize, s: usize) -> Vec<u32> {
    chunks(rows, s).iter().map(|r| r.len() as u32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuffle_is_a_seeded_permutation() {
        let a = shuffle(100, 7);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
        assert_eq!(a, shuffle(100, 7));
        assert_ne!(a, shuffle(100, 8));
        assert_eq!(shuffle(5, 42), vec![1, 2, 4, 0, 3]);
    }

    #[test]
    fn short_residue_is_merged_and_long_one_kept() {
        assert_eq!(chunks(150, 64), vec![0..64, 64..150]);
        assert_eq!(chunks(160, 64), vec![0..64, 64..128, 128..160]);
        assert_eq!(chunks(128, 64), vec![0..64, 64..128]);
        assert_eq!(chunks(10, 64), vec![0..10]);
        assert!(chunks(0, 64).is_empty());
    }
}
