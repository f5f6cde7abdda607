//! The catalogue: redb tables and the encoding of their values (FORMAT.md §3).

use redb::{MultimapTableDefinition, TableDefinition};

use super::segment::RecordLocation;
use crate::codec::{DecodeError, Decoder, Encoder};

/// Index-wide values: format version, parameters, sample space, padding bound, counters.
pub const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// Model id → encoded [`ModelVersion`].
pub const MODELS: TableDefinition<u32, &[u8]> = TableDefinition::new("models");
/// (name, version) → model id.
pub const NAMES: TableDefinition<(&str, &str), u32> = TableDefinition::new("names");
/// Model id → unpadded MinHash signature (K_m little-endian u64).
pub const MINHASH: TableDefinition<u32, &[u8]> = TableDefinition::new("minhash");
/// (MinHash band, band key) → ids of the models whose padded signature has that key.
pub const BANDS: MultimapTableDefinition<(u16, u64), u32> = MultimapTableDefinition::new("bands");
/// Sketch fingerprint → ids of the models whose training data sketched to it.
pub const FINGERPRINTS: MultimapTableDefinition<u64, u32> =
    MultimapTableDefinition::new("fingerprints");
/// Segment number → committed length in bytes.
pub const SEGMENTS: TableDefinition<u32, u64> = TableDefinition::new("segments");

/// `meta` key of the format version (u32).
pub const KEY_FORMAT: &str = "format_version";
/// `meta` key of the encoded parameters.
pub const KEY_PARAMS: &str = "params";
/// `meta` key of the encoded sample space (absent until the first registration).
pub const KEY_SPACE: &str = "space";
/// `meta` key of the location of the projection record (absent until the space is fixed).
pub const KEY_PROJECTION: &str = "projection";
/// `meta` key of the noise floor measured on the reference dataset (f64 bits, nats).
pub const KEY_NOISE_FLOOR: &str = "noise_floor";
/// `meta` key of the padding bound M (u64).
pub const KEY_PADDING: &str = "padding";
/// `meta` key of the next model id (u32).
pub const KEY_NEXT_MODEL: &str = "next_model";

/// Tag of the version-1 model record encoding.
const MODEL_RECORD_V1: u8 = 1;

/// One registered model version as the catalogue keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelVersion {
    /// Id assigned by the index, increasing with registration order.
    pub id: u32,
    /// Model name.
    pub name: String,
    /// Version label.
    pub version: String,
    /// Where the model itself lives (may be empty).
    pub uri: String,
    /// Free key/value metadata.
    pub metadata: Vec<(String, String)>,
    /// The model's accuracy on its own holdout, when known.
    pub source_accuracy: Option<f64>,
    /// Registration time, milliseconds since the Unix epoch.
    pub registered_at_ms: u64,
    /// Rows of the training data.
    pub rows: u64,
    /// Partitions of the training data.
    pub partitions: u32,
    /// Size of the flattened set |F|.
    pub flat_len: u32,
    /// XXH3-64 of the band hashes (equal data, equal fingerprint).
    pub fingerprint: u64,
    /// Where the sketch record lives.
    pub location: RecordLocation,
}

impl ModelVersion {
    /// Encodes the record as a `models` value (FORMAT.md §3.2).
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Encoder::new();
        e.u8(MODEL_RECORD_V1)
            .u32(self.id)
            .str(&self.name)
            .str(&self.version)
            .str(&self.uri);
        e.u32(self.metadata.len() as u32);
        for (k, v) in &self.metadata {
            e.str(k).str(v);
        }
        e.f64(self.source_accuracy.unwrap_or(f64::NAN))
            .u64(self.registered_at_ms)
            .u64(self.rows)
            .u32(self.partitions)
            .u32(self.flat_len)
            .u64(self.fingerprint);
        put_location(&mut e, &self.location);
        e.finish()
    }

    /// Decodes a `models` value.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut d = Decoder::new("model record", bytes);
        let tag = d.u8()?;
        if tag != MODEL_RECORD_V1 {
            return Err(d.error(format!("unknown record tag {tag}")));
        }
        let id = d.u32()?;
        let (name, version, uri) = (d.str()?, d.str()?, d.str()?);
        let n = d.u32()? as usize;
        if n > bytes.len() {
            return Err(d.error(format!("{n} metadata entries cannot fit")));
        }
        let metadata = (0..n)
            .map(|_| Ok((d.str()?, d.str()?)))
            .collect::<Result<_, _>>()?;
        let accuracy = d.f64()?;
        let record = Self {
            id,
            name,
            version,
            uri,
            metadata,
            source_accuracy: (!accuracy.is_nan()).then_some(accuracy),
            registered_at_ms: d.u64()?,
            rows: d.u64()?,
            partitions: d.u32()?,
            flat_len: d.u32()?,
            fingerprint: d.u64()?,
            location: get_location(&mut d)?,
        };
        d.finish()?;
        Ok(record)
    }
}

fn put_location(e: &mut Encoder, loc: &RecordLocation) {
    e.u32(loc.segment)
        .u64(loc.offset)
        .u32(loc.len)
        .u64(loc.checksum);
}

fn get_location(d: &mut Decoder) -> Result<RecordLocation, DecodeError> {
    Ok(RecordLocation {
        segment: d.u32()?,
        offset: d.u64()?,
        len: d.u32()?,
        checksum: d.u64()?,
    })
}

/// Encodes a record location as a catalogue value (24 bytes).
pub fn encode_location(loc: &RecordLocation) -> Vec<u8> {
    let mut e = Encoder::new();
    put_location(&mut e, loc);
    e.finish()
}

/// Decodes a 24-byte record location.
pub fn decode_location(bytes: &[u8]) -> Result<RecordLocation, DecodeError> {
    let mut d = Decoder::new("record location", bytes);
    let loc = get_location(&mut d)?;
    d.finish()?;
    Ok(loc)
}

/// Encodes a signature as little-endian words.
pub fn encode_words(words: &[u64]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

/// Decodes little-endian words; the length must be a multiple of 8.
pub fn decode_words(bytes: &[u8]) -> Result<Vec<u64>, DecodeError> {
    if bytes.len() % 8 != 0 {
        let reason = format!("{} bytes is not a whole number of words", bytes.len());
        return Err(DecodeError {
            what: "signature",
            reason,
        });
    }
    let mut d = Decoder::new("signature", bytes);
    (0..bytes.len() / 8).map(|_| d.u64()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_record_round_trips() {
        let m = ModelVersion {
            id: 3,
            name: "fraud".into(),
            version: "2".into(),
            uri: "models:/fraud/2".into(),
            metadata: vec![("city".into(), "Oslo".into())],
            source_accuracy: Some(0.91),
            registered_at_ms: 1_700_000_000_000,
            rows: 1000,
            partitions: 15,
            flat_len: 420,
            fingerprint: 0xdead_beef,
            location: RecordLocation {
                segment: 1,
                offset: 32,
                len: 1024,
                checksum: 7,
            },
        };
        let bytes = m.encode();
        assert_eq!(bytes[0], 1);
        assert_eq!(ModelVersion::decode(&bytes).unwrap(), m);
        let none = ModelVersion {
            source_accuracy: None,
            ..m
        };
        assert_eq!(
            ModelVersion::decode(&none.encode())
                .unwrap()
                .source_accuracy,
            None
        );
        assert!(ModelVersion::decode(&bytes[..bytes.len() - 1]).is_err());
    }
}
