//! Saved presets: named time ranges a project keeps across restarts.
//!
//! One file per project, `presets`, replaced atomically on every change:
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! | 0  | 8 | magic `RLPRESET` |
//! | 8  | 2 | format version, `1` |
//! | 10 | 2 | reserved, 0 |
//! | 12 | 4 | payload length `P` |
//! | 16 | 4 | CRC32 of the payload |
//! | 20 | P | payload: postcard encoding of `Vec<(String, SavedRange)>`, sorted by name |

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::codec::{u16_at, u32_at};
use crate::error::{Error, Result};
use crate::time::{Preset, RangeSpec, TimeRange};

/// The saved presets file of a project, in the project's directory.
pub(crate) const PRESETS_FILE: &str = "presets";

const MAGIC: [u8; 8] = *b"RLPRESET";
/// The presets file format's version.
const PRESETS_VERSION: u16 = 1;
const HEAD: usize = 20;
/// Longest preset name, in bytes.
pub const MAX_PRESET_NAME: usize = 64;
/// Most presets a project keeps.
pub const MAX_PRESETS: usize = 1_000;

/// A saved preset's range.
///
/// ```
/// use runlog::{Preset, SavedRange};
/// use std::time::Duration;
/// let last_two_hours = SavedRange::Last(Duration::from_secs(2 * 3600));
/// let yesterday = SavedRange::Calendar(Preset::Yesterday);
/// # let _ = (last_two_hours, yesterday);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SavedRange {
    /// Relative: the last `d` before now.
    Last(Duration),
    /// A preset, such as [`Preset::Yesterday`], resolved when used.
    Calendar(Preset),
    /// A fixed range.
    Absolute(TimeRange),
}

impl SavedRange {
    pub(crate) fn spec(&self) -> RangeSpec {
        match self {
            SavedRange::Last(d) => RangeSpec::Last(*d),
            SavedRange::Calendar(p) => RangeSpec::Preset(*p),
            SavedRange::Absolute(r) => RangeSpec::Custom(*r),
        }
    }
}

pub(crate) fn validate_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > MAX_PRESET_NAME || name.chars().any(char::is_control) {
        return Err(Error::InvalidArgument {
            what: "preset name",
            reason: format!(
                "{name:?} must be 1 to {MAX_PRESET_NAME} bytes without control characters"
            ),
        });
    }
    Ok(())
}

/// Encode presets (sorted by name) as file bytes.
pub fn encode(presets: &[(String, SavedRange)]) -> Vec<u8> {
    let payload = postcard::to_allocvec(presets).unwrap_or_default();
    let mut out = Vec::with_capacity(HEAD + payload.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&PRESETS_VERSION.to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    out
}

/// Decode a presets file's bytes (`path` for errors).
pub fn decode(path: &Path, b: &[u8]) -> Result<Vec<(String, SavedRange)>> {
    if b.len() < HEAD || b[..8] != MAGIC {
        return Err(Error::corrupt(path, 0, "not a runlog presets file"));
    }
    Error::check_version(path, u16_at(b, 8), PRESETS_VERSION)?;
    if b[10..12] != [0, 0] {
        return Err(Error::corrupt(path, 10, "reserved bytes are not zero"));
    }
    let len = u32_at(b, 12) as usize;
    if b.len() != HEAD + len {
        return Err(Error::corrupt(
            path,
            12,
            "payload length does not match the file",
        ));
    }
    let payload = &b[HEAD..];
    if crc32fast::hash(payload) != u32_at(b, 16) {
        return Err(Error::corrupt(path, 16, "presets checksum mismatch"));
    }
    let presets: Vec<(String, SavedRange)> = postcard::from_bytes(payload)
        .map_err(|e| Error::corrupt(path, HEAD as u64, format!("bad presets payload: {e}")))?;
    let valid = presets.len() <= MAX_PRESETS
        && presets.iter().all(|(n, r)| {
            validate_name(n).is_ok() && !matches!(r, SavedRange::Absolute(t) if t.to < t.from)
        })
        && presets.windows(2).all(|w| w[0].0 < w[1].0);
    // Only runlog's own (canonical) encoding is accepted: no trailing
    // bytes, no overlong numbers, no unnormalized durations.
    if !valid || postcard::to_allocvec(&presets).ok().as_deref() != Some(payload) {
        return Err(Error::corrupt(path, HEAD as u64, "invalid preset list"));
    }
    Ok(presets)
}

/// Read the presets at `path` (none if the file does not exist).
pub(crate) fn load(path: &Path) -> Result<Vec<(String, SavedRange)>> {
    match std::fs::read(path) {
        Ok(b) => decode(path, &b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(Error::io("read", path)(e)),
    }
}

/// Replace the presets at `path`.
pub(crate) fn store(path: &Path, presets: &[(String, SavedRange)]) -> Result<()> {
    crate::fs::write_atomic(path, &encode(presets))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Timestamp;

    #[test]
    fn round_trip_and_checks() {
        let p = Path::new("presets");
        let list = vec![
            ("a".to_string(), SavedRange::Last(Duration::from_secs(7200))),
            ("b".to_string(), SavedRange::Calendar(Preset::Yesterday)),
            (
                "c".to_string(),
                SavedRange::Absolute(
                    TimeRange::new(Timestamp::from_secs(1), Timestamp::from_secs(2)).unwrap(),
                ),
            ),
        ];
        let b = encode(&list);
        assert_eq!(decode(p, &b).unwrap(), list);
        for i in 0..b.len() {
            let mut c = b.clone();
            c[i] ^= 0x40;
            assert!(decode(p, &c).is_err(), "flip at {i}");
        }
        assert!(decode(p, &b[..b.len() - 1]).is_err());
        assert!(
            validate_name("").is_err()
                && validate_name("a\nb").is_err()
                && validate_name("ok name").is_ok()
        );
    }
}
