//! Little-endian encoding of the catalogue's values (FORMAT.md §1 and §3).
//!
//! Every integer the index persists outside rkyv archives passes through [`Encoder`] and
//! [`Decoder`], so the byte order and widths live in one place. Decoding never panics: a
//! short or malformed buffer is a [`DecodeError`].

/// A value read from disk did not have the shape FORMAT.md gives it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what}: {reason}")]
pub struct DecodeError {
    /// The structure being decoded.
    pub what: &'static str,
    /// What was wrong with it.
    pub reason: String,
}

/// Appends little-endian fields to a byte buffer.
#[derive(Default)]
pub struct Encoder {
    buf: Vec<u8>,
}

impl Encoder {
    /// Starts an empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends one byte.
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }

    /// Appends a `u16`.
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// Appends a `u32`.
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// Appends a `u64`.
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// Appends the IEEE-754 bit pattern of an `f64`.
    pub fn f64(&mut self, v: f64) -> &mut Self {
        self.u64(v.to_bits())
    }

    /// Appends a `u32` byte length followed by the UTF-8 bytes.
    pub fn str(&mut self, s: &str) -> &mut Self {
        self.u32(s.len() as u32);
        self.buf.extend_from_slice(s.as_bytes());
        self
    }

    /// Appends a `u32` count followed by the `u64`s.
    pub fn u64s(&mut self, v: &[u64]) -> &mut Self {
        self.u32(v.len() as u32);
        for x in v {
            self.u64(*x);
        }
        self
    }

    /// Returns the encoded bytes.
    pub fn finish(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }
}

/// Reads little-endian fields from a byte slice, front to back.
pub struct Decoder<'a> {
    what: &'static str,
    bytes: &'a [u8],
}

impl<'a> Decoder<'a> {
    /// Starts reading `bytes`, which encode a `what` (named in errors).
    pub fn new(what: &'static str, bytes: &'a [u8]) -> Self {
        Self { what, bytes }
    }

    /// An error about the structure being decoded.
    pub fn error(&self, reason: impl Into<String>) -> DecodeError {
        DecodeError {
            what: self.what,
            reason: reason.into(),
        }
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        if self.bytes.len() < N {
            return Err(self.error(format!(
                "ends early: {} bytes left, {N} needed",
                self.bytes.len()
            )));
        }
        let (head, rest) = self.bytes.split_at(N);
        self.bytes = rest;
        let mut out = [0u8; N];
        out.copy_from_slice(head);
        Ok(out)
    }

    /// Reads one byte.
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take::<1>()?[0])
    }

    /// Reads a `u16`.
    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.take()?))
    }

    /// Reads a `u32`.
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.take()?))
    }

    /// Reads a `u64`.
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.take()?))
    }

    /// Reads an `f64` bit pattern.
    pub fn f64(&mut self) -> Result<f64, DecodeError> {
        Ok(f64::from_bits(self.u64()?))
    }

    /// Reads a length-prefixed UTF-8 string.
    pub fn str(&mut self) -> Result<String, DecodeError> {
        let len = self.u32()? as usize;
        if self.bytes.len() < len {
            return Err(self.error(format!("string of {len} bytes overruns the value")));
        }
        let (head, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        String::from_utf8(head.to_vec()).map_err(|_| self.error("string is not UTF-8"))
    }

    /// Reads a count-prefixed `u64` array.
    pub fn u64s(&mut self) -> Result<Vec<u64>, DecodeError> {
        let len = self.u32()? as usize;
        if self.bytes.len() / 8 < len {
            return Err(self.error(format!("array of {len} words overruns the value")));
        }
        (0..len).map(|_| self.u64()).collect()
    }

    /// Checks that every byte was consumed.
    pub fn finish(self) -> Result<(), DecodeError> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(self.error(format!("{} unexpected trailing bytes", self.bytes.len())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_in_order() {
        let bytes = Encoder::new()
            .u8(7)
            .u16(513)
            .u32(9)
            .f64(-0.5)
            .str("ab")
            .u64s(&[1, 2])
            .finish();
        assert_eq!(&bytes[..3], &[7, 1, 2]);
        let mut d = Decoder::new("test", &bytes);
        assert_eq!(d.u8().unwrap(), 7);
        assert_eq!(d.u16().unwrap(), 513);
        assert_eq!(d.u32().unwrap(), 9);
        assert_eq!(d.f64().unwrap(), -0.5);
        assert_eq!(d.str().unwrap(), "ab");
        assert_eq!(d.u64s().unwrap(), vec![1, 2]);
        d.finish().unwrap();
    }

    #[test]
    fn short_buffers_are_errors_not_panics() {
        let bytes = Encoder::new().str("hello").finish();
        for cut in 0..bytes.len() {
            let mut d = Decoder::new("test", &bytes[..cut]);
            assert!(d.str().is_err());
        }
        let huge = Encoder::new().u32(u32::MAX).finish();
        assert!(Decoder::new("test", &huge).u64s().is_err());
    }
}
