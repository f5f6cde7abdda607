//! Seeded hashing and the counter-based generator behind every persisted random choice.
//!
//! Nothing here depends on `rand` or `std::hash`: every value that reaches a sketch or the
//! index is a function of explicit little-endian bytes through XXH3 (frozen since xxHash 0.8)
//! or the SplitMix64 finalizer, and of `libm` for transcendental functions (FORMAT.md §2).

use xxhash_rust::xxh3::xxh3_64_with_seed;

/// The SplitMix64 finalizer: a bijective mixer of 64-bit words.
#[inline]
pub fn mix64(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Advances a SplitMix64 state and returns the next output.
#[inline]
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    mix64(*state)
}

/// XXH3-64 of the little-endian bytes of `words`, with `seed`.
pub fn hash_words(seed: u64, words: &[u64]) -> u64 {
    let mut buf = [0u8; 64];
    if words.len() <= 8 {
        for (chunk, w) in buf.chunks_exact_mut(8).zip(words) {
            chunk.copy_from_slice(&w.to_le_bytes());
        }
        return xxh3_64_with_seed(&buf[..words.len() * 8], seed);
    }
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    xxh3_64_with_seed(&bytes, seed)
}

/// Derives the seed of one random stream from the index's master seed and the stream's name.
pub fn derive_seed(master: u64, stream: &str) -> u64 {
    xxh3_64_with_seed(stream.as_bytes(), master)
}

/// Maps a 64-bit word to a double in the open interval (0, 1): never 0, never 1.
///
/// Uses the top 52 bits, so that `k + 0.5` is exact in a 53-bit mantissa for every k.
#[inline]
pub fn unit_open(u: u64) -> f64 {
    ((u >> 12) as f64 + 0.5) * (1.0 / (1u64 << 52) as f64)
}

/// The `n`-th standard Gaussian of the stream `seed` (Box–Muller over counter-based uniforms).
///
/// Values `2p` and `2p + 1` are the cosine and sine halves of pair `p`.
pub fn gaussian(seed: u64, n: u64) -> f64 {
    let pair = n / 2;
    let u1 = unit_open(hash_words(seed, &[pair, 0]));
    let u2 = unit_open(hash_words(seed, &[pair, 1]));
    let radius = libm::sqrt(-2.0 * libm::log(u1));
    let angle = 2.0 * std::f64::consts::PI * u2;
    if n % 2 == 0 {
        radius * libm::cos(angle)
    } else {
        radius * libm::sin(angle)
    }
}

/// A uniform draw from `0..bound` (multiply-shift; `bound` > 0).
#[inline]
pub fn below(u: u64, bound: u64) -> u64 {
    ((u as u128 * bound as u128) >> 64) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_reference_outputs() {
        let mut state = 42;
        assert_eq!(splitmix64(&mut state), 0xbdd7_3226_2feb_6e95);
        assert_eq!(splitmix64(&mut state), 0x28ef_e333_b266_f103);
    }

    #[test]
    fn xxh3_is_the_frozen_algorithm() {
        assert_eq!(
            xxh3_64_with_seed(b"band:3|bucket-bytes", 7),
            0xae4e_be47_fb34_c4e0
        );
    }

    #[test]
    fn unit_open_never_reaches_the_ends() {
        assert!(unit_open(0) > 0.0);
        assert!(unit_open(u64::MAX) < 1.0);
    }

    #[test]
    fn gaussians_have_unit_variance() {
        let n = 20_000;
        let (mut sum, mut sq) = (0.0, 0.0);
        for i in 0..n {
            let g = gaussian(9, i);
            sum += g;
            sq += g * g;
        }
        let mean = sum / n as f64;
        assert!(mean.abs() < 0.03, "mean {mean}");
        assert!((sq / n as f64 - 1.0).abs() < 0.04);
    }

    #[test]
    fn below_stays_in_range() {
        for u in [0, 1, u64::MAX / 2, u64::MAX] {
            assert!(below(u, 7) < 7);
        }
    }
}
