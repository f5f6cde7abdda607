//! The parameters of the method, fixed when an index is created and stored in it
//! (FORMAT.md §3.1, key `params`). Changing any of them means re-sketching every dataset.

use crate::codec::{DecodeError, Decoder, Encoder};

/// Every parameter of the sketch, with the defaults of METHOD.md §6.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    /// Rows per partition (s). A residue shorter than s/2 is merged into the last partition.
    pub partition_rows: u32,
    /// Histogram bins per numeric column (B); fewer where a column has fewer distinct values.
    pub bins: u16,
    /// Additive smoothing of every bin count (α).
    pub alpha: f64,
    /// Rows of the reference dataset used to place the bin edges, at most.
    pub reference_rows: u32,
    /// JSD-LSH hash functions per band (R).
    pub rows_per_band: u16,
    /// JSD-LSH bands per partition (L).
    pub bands: u16,
    /// JSD-LSH bucket width (r) in Hellinger space; 0 means "calibrate": the first
    /// registration measures the noise floor of its data and sets r so that a band collides
    /// with probability ½ at twice that floor (METHOD.md §1.3, §2.3).
    pub bucket_width: f64,
    /// MinHash functions per flattened set (K_m).
    pub minhash_size: u16,
    /// MinHash values per band-table key (r_m); K_m / r_m band tables.
    pub minhash_band_rows: u16,
    /// The master seed; every random stream is derived from it by name.
    pub seed: u64,
    /// Keep every partition's bin counts in the index, for the exact score.
    pub keep_distributions: bool,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            partition_rows: 64,
            bins: 16,
            alpha: 0.5,
            reference_rows: 100_000,
            rows_per_band: 4,
            bands: 512,
            bucket_width: 0.0,
            minhash_size: 256,
            minhash_band_rows: 2,
            seed: 0x5eed_ada9_7db0_0001,
            keep_distributions: false,
        }
    }
}

/// The parameters cannot be used together.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid parameter {name}: {reason}")]
pub struct ParamError {
    /// The parameter's name as the CLI spells it.
    pub name: &'static str,
    /// Why it was refused.
    pub reason: String,
}

impl Params {
    /// The paper's settings (r = 1.4, R = 4, L = 200), kept to reproduce its results.
    pub fn paper() -> Self {
        Self {
            bucket_width: 1.4,
            rows_per_band: 4,
            bands: 200,
            ..Self::default()
        }
    }

    /// JSD-LSH hash functions per partition (K = R·L).
    pub fn hashes(&self) -> usize {
        self.rows_per_band as usize * self.bands as usize
    }

    /// MinHash band tables (K_m / r_m).
    pub fn minhash_bands(&self) -> usize {
        self.minhash_size as usize / self.minhash_band_rows as usize
    }

    /// Checks that the parameters are usable.
    pub fn validate(&self) -> Result<(), ParamError> {
        let fail = |name, reason: &str| {
            Err(ParamError {
                name,
                reason: reason.to_string(),
            })
        };
        if self.partition_rows < 2 {
            return fail("partition-rows", "must be at least 2");
        }
        if !(2..=255).contains(&self.bins) {
            return fail("bins", "must be between 2 and 255");
        }
        if !(self.alpha.is_finite() && self.alpha >= 0.0) {
            return fail("alpha", "must be a finite number ≥ 0");
        }
        if self.reference_rows < self.partition_rows {
            return fail("reference-rows", "must be at least partition-rows");
        }
        if self.rows_per_band == 0 || self.bands == 0 {
            return fail("bands", "bands and rows-per-band must be positive");
        }
        if !(self.bucket_width.is_finite() && self.bucket_width >= 0.0) {
            return fail(
                "bucket-width",
                "must be a finite number > 0, or 0 to calibrate",
            );
        }
        if self.minhash_size == 0 || self.minhash_band_rows == 0 {
            return fail(
                "minhash-size",
                "minhash-size and minhash-band-rows must be positive",
            );
        }
        if self.minhash_size % self.minhash_band_rows != 0 {
            return fail("minhash-band-rows", "must divide minhash-size");
        }
        Ok(())
    }

    /// Encodes the parameters as the `params` catalogue value (FORMAT.md §3.1).
    pub fn encode(&self) -> Vec<u8> {
        Encoder::new()
            .u32(self.partition_rows)
            .u16(self.bins)
            .f64(self.alpha)
            .u32(self.reference_rows)
            .u16(self.rows_per_band)
            .u16(self.bands)
            .f64(self.bucket_width)
            .u16(self.minhash_size)
            .u16(self.minhash_band_rows)
            .u64(self.seed)
            .u8(u8::from(self.keep_distributions))
            .finish()
    }

    /// Decodes and validates a `params` catalogue value.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut d = Decoder::new("params", bytes);
        let params = Self {
            partition_rows: d.u32()?,
            bins: d.u16()?,
            alpha: d.f64()?,
            reference_rows: d.u32()?,
            rows_per_band: d.u16()?,
            bands: d.u16()?,
            bucket_width: d.f64()?,
            minhash_size: d.u16()?,
            minhash_band_rows: d.u16()?,
            seed: d.u64()?,
            keep_distributions: match d.u8()? {
                0 => false,
                1 => true,
                other => return Err(d.error(format!("keep_distributions is {other}"))),
            },
        };
        let err = d.error("");
        d.finish()?;
        params.validate().map_err(|e| DecodeError {
            reason: e.to_string(),
            ..err
        })?;
        Ok(params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_round_trip() {
        let p = Params::default();
        p.validate().unwrap();
        assert_eq!(p.encode().len(), 43);
        assert_eq!(Params::decode(&p.encode()).unwrap(), p);
        assert_eq!(p.hashes(), 2048);
        assert_eq!(p.minhash_bands(), 128);
    }

    #[test]
    fn invalid_combinations_are_refused() {
        let p = Params {
            minhash_band_rows: 3,
            ..Params::default()
        };
        assert_eq!(p.validate().unwrap_err().name, "minhash-band-rows");
        let p = Params {
            bins: 300,
            ..Params::default()
        };
        assert_eq!(p.validate().unwrap_err().name, "bins");
        let p = Params {
            bucket_width: f64::NAN,
            ..Params::default()
        };
        assert!(Params::decode(&p.encode()).is_err());
    }
}
