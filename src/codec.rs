//! The byte helpers every on-disk format of runlog shares: little-endian
//! integers at an offset, the error a decoder reports, and the URL-safe
//! base64 of cursors. Pure functions of bytes, no I/O; each file format
//! (segments, indexes, the run journal, presets, the store's settings, the
//! cut log) lays out its own bytes and checks its own version on top.

use crate::error::Error;

/// Why bytes failed to decode, relative to the start of the buffer given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Bad bytes at `offset`.
    Corrupt {
        /// Offset of the first bad byte.
        offset: u64,
        /// What was wrong.
        reason: String,
    },
    /// A header of a format version this build does not read.
    Version {
        /// The version found.
        found: u16,
        /// The version this build reads (each file format has its own).
        supported: u16,
    },
}

impl DecodeError {
    pub(crate) fn at(offset: usize, reason: impl Into<String>) -> Self {
        DecodeError::Corrupt {
            offset: offset as u64,
            reason: reason.into(),
        }
    }

    /// Shift the offset by `base` (for errors inside a larger file).
    pub fn shifted(self, base: u64) -> Self {
        match self {
            DecodeError::Corrupt { offset, reason } => DecodeError::Corrupt {
                offset: offset + base,
                reason,
            },
            v => v,
        }
    }

    /// As a runlog [`Error`] about `path`.
    pub fn into_error(self, path: &std::path::Path) -> Error {
        match self {
            DecodeError::Corrupt { offset, reason } => Error::corrupt(path, offset, reason),
            DecodeError::Version { found, supported } => Error::UnsupportedVersion {
                path: path.to_path_buf(),
                found,
                supported,
            },
        }
    }
}

// Little-endian readers of fixed-width integers at an offset the caller
// has checked to be in bounds.
//
// `#[inline]`: these are on every query's hot path (`decode_summary_raw`
// from `ViewBuilder::offer`). Without it, whether LLVM may inline them
// depends on which codegen unit their callers land in, which shifts with
// unrelated code elsewhere in the crate (a change that left them out of
// line in `offer` cost `newest_30m_view` 7-10 %). One bounds check each
// (a slice, not one per byte) keeps them small enough to be inlined.
#[inline]
pub(crate) fn u16_at(b: &[u8], at: usize) -> u16 {
    let mut x = [0u8; 2];
    x.copy_from_slice(&b[at..at + 2]);
    u16::from_le_bytes(x)
}
#[inline]
pub(crate) fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut x = [0u8; 4];
    x.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(x)
}
#[inline]
pub(crate) fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
}
#[inline]
pub(crate) fn i64_at(b: &[u8], at: usize) -> i64 {
    u64_at(b, at) as i64
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// URL-safe base64 without padding.
pub(crate) fn encode_b64(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len().div_ceil(3) * 4);
    for chunk in b.chunks(3) {
        let n =
            chunk.iter().fold(0u32, |acc, &x| (acc << 8) | u32::from(x)) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            s.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    s
}

/// The bytes of [`encode_b64`]'s text, if `s` is such text of at most
/// `max_len` characters.
pub(crate) fn decode_b64(s: &str, max_len: usize) -> Option<Vec<u8>> {
    if s.len() > max_len {
        return None;
    }
    let mut bytes = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        let v = ALPHABET.iter().position(|&a| a == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            bytes.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    (acc == 0 && bits < 6).then_some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_and_refuses_what_it_never_writes() {
        for len in 0..20 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let text = encode_b64(&bytes);
            assert_eq!(
                decode_b64(&text, 100).as_deref(),
                Some(&bytes[..]),
                "{text}"
            );
        }
        assert_eq!(decode_b64("AAAA", 3), None, "longer than the bound");
        assert_eq!(decode_b64("A", 10), None, "a lone character holds no byte");
        assert_eq!(
            decode_b64("AB", 10),
            None,
            "bits left over that no byte of ours leaves"
        );
        assert_eq!(decode_b64("A=", 10), None, "not of the alphabet");
    }

    #[test]
    fn integers_are_little_endian() {
        let b = [1, 2, 3, 4, 5, 6, 7, 8, 9];
        assert_eq!(u16_at(&b, 1), 0x0302);
        assert_eq!(u32_at(&b, 0), 0x0403_0201);
        assert_eq!(u64_at(&b, 1), 0x0908_0706_0504_0302);
        assert_eq!(i64_at(&[0xff; 8], 0), -1);
    }

    #[test]
    fn a_decode_error_keeps_its_place_in_the_file() {
        let e = DecodeError::at(3, "bad").shifted(100);
        assert_eq!(
            e,
            DecodeError::Corrupt {
                offset: 103,
                reason: "bad".into()
            }
        );
        let v = DecodeError::Version {
            found: 9,
            supported: 1,
        }
        .shifted(5);
        assert!(matches!(
            v.into_error(std::path::Path::new("f")),
            Error::UnsupportedVersion {
                found: 9,
                supported: 1,
                ..
            }
        ));
    }
}
