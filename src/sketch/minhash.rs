//! Level 2: MinHash of a flattened set, simulated asymmetric padding and MinHash band keys
//! (METHOD.md §4). Signatures are stored unpadded; the padded form is a function of the
//! unpadded signature, the set size, the padding bound M and the model id (FORMAT.md §2.4).

use crate::hash::{derive_seed, hash_words, mix64, unit_open};
use crate::params::Params;

/// The MinHash family of one index.
pub struct MinHasher {
    seeds: Vec<u64>,
    pad_seed: u64,
    band_seed: u64,
    band_rows: usize,
}

impl MinHasher {
    /// Derives the family from the parameters' seed.
    pub fn new(params: &Params) -> Self {
        let seed = derive_seed(params.seed, "minhash");
        Self {
            seeds: (0..params.minhash_size as u64)
                .map(|i| hash_words(seed, &[i]))
                .collect(),
            pad_seed: derive_seed(params.seed, "pad"),
            band_seed: derive_seed(params.seed, "minhash-band"),
            band_rows: params.minhash_band_rows as usize,
        }
    }

    /// σ_i(X) = min over x of mix64(x ⊕ seed_i); `u64::MAX` for the empty set.
    pub fn signature(&self, set: &[u64]) -> Vec<u64> {
        let mut sig = vec![u64::MAX; self.seeds.len()];
        for &x in set {
            for (m, s) in sig.iter_mut().zip(&self.seeds) {
                *m = (*m).min(mix64(x ^ s));
            }
        }
        sig
    }

    /// The signature of `set_len` elements padded to `bound` elements with fresh ones that
    /// no query holds (asymmetric minwise hashing, simulated: FORMAT.md §2.5). The pad is
    /// drawn for `pad_key`, the dataset's sketch fingerprint, so that identical training
    /// data pads identically whatever version it is registered under.
    pub fn padded(&self, signature: &[u64], set_len: u64, bound: u64, pad_key: u64) -> Vec<u64> {
        let pad = bound.saturating_sub(set_len);
        if pad == 0 {
            return signature.to_vec();
        }
        signature
            .iter()
            .enumerate()
            .map(|(i, &s)| {
                let u = unit_open(hash_words(self.pad_seed, &[pad_key, 0, i as u64]));
                let frac = -libm::expm1(libm::log(u) / pad as f64);
                s.min((frac * 18_446_744_073_709_551_616.0) as u64)
            })
            .collect()
    }

    /// The band-table keys of a (padded or query) signature, one per MinHash band.
    pub fn band_keys(&self, signature: &[u64]) -> Vec<u64> {
        let mut words = vec![0u64; self.band_rows + 1];
        signature
            .chunks_exact(self.band_rows)
            .enumerate()
            .map(|(band, rows)| {
                words[0] = band as u64;
                words[1..].copy_from_slice(rows);
                hash_words(self.band_seed, &words)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_estimates_jaccard() {
        let h = MinHasher::new(&Params::default());
        let a: Vec<u64> = (0..3000).map(mix64).collect();
        let b: Vec<u64> = (1000..4000).map(mix64).collect();
        let (sa, sb) = (h.signature(&a), h.signature(&b));
        let same = sa.iter().zip(&sb).filter(|(x, y)| x == y).count() as f64 / 256.0;
        assert!((same - 0.5).abs() < 0.1, "estimate {same}");
    }

    #[test]
    fn padding_lowers_collisions_as_theory_says() {
        // |Q| = 40, |X| = 70, |Q ∩ X| = 25, M = 200: J̃ = 25 / 215 ≈ 0.116 (METHOD.md §4).
        let h = MinHasher::new(&Params {
            minhash_size: 4096,
            ..Params::default()
        });
        let q: Vec<u64> = (0..40).map(|i| mix64(i + 1)).collect();
        let x: Vec<u64> = (15..85).map(|i| mix64(i + 1)).collect();
        let mut total = 0.0;
        for dataset in 0..8 {
            let padded = h.padded(&h.signature(&x), 70, 200, dataset);
            let sq = h.signature(&q);
            total += sq.iter().zip(&padded).filter(|(a, b)| a == b).count() as f64 / 4096.0;
        }
        let estimate = total / 8.0;
        assert!(
            (estimate - 25.0 / 215.0).abs() < 0.015,
            "estimate {estimate}"
        );
    }

    #[test]
    fn band_keys_depend_on_band_position() {
        let h = MinHasher::new(&Params::default());
        let keys = h.band_keys(&[5u64; 256]);
        assert_eq!(keys.len(), 128);
        assert_ne!(keys[0], keys[1]);
    }
}
