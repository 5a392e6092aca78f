//! The `presets` target: a project's saved-presets file.

use super::*;

/// Length of a presets file's head (layout at the top of `src/presets.rs`).
pub const PRESETS_HEAD: usize = 20;
/// Most presets a project keeps (`runlog::presets::MAX_PRESETS`, not
/// exported).
pub const MAX_PRESETS: usize = 1_000;

/// `b` with the payload checksum (bytes 16..20) recomputed over `b[20..]`,
/// if it is long enough to hold a head.
pub fn fix_presets_crc(b: &[u8]) -> Option<Vec<u8>> {
    (b.len() >= PRESETS_HEAD).then(|| {
        let mut f = b.to_vec();
        let crc = crc32fast::hash(&f[PRESETS_HEAD..]);
        put_u32(&mut f, 16, crc);
        f
    })
}

/// Whether a preset name is one runlog accepts: 1 to
/// [`MAX_PRESET_NAME`] bytes, no control characters.
pub fn preset_name_is_valid(n: &str) -> bool {
    !n.is_empty() && n.len() <= MAX_PRESET_NAME && !n.chars().any(char::is_control)
}

/// `data` as a presets file, and again with its checksum recomputed
/// ([`fix_presets_crc`]).
pub fn check_presets(data: &[u8]) {
    if data.len() > MAX_INPUT {
        return;
    }
    check_presets_file(data);
    if let Some(fixed) = fix_presets_crc(data).filter(|f| f != data) {
        check_presets_file(&fixed);
    }
}

/// Decoding never panics. It succeeds only for an intact file (magic,
/// version 1, reserved bytes 0, payload length and checksum right), with
/// at most [`MAX_PRESETS`] valid names and ranges that are not inverted;
/// and what it decodes encodes back to exactly `b` (the format is
/// canonical). It fails as unsupported exactly when the magic is right and
/// the version is not 1, else as corrupt.
fn check_presets_file(b: &[u8]) {
    let magic = b.len() >= PRESETS_HEAD && &b[..8] == b"RLPRESET";
    let version = magic.then(|| u16::from_le_bytes([b[8], b[9]]));
    match runlog::__fuzz::presets(b) {
        Ok(list) => {
            assert_eq!(version, Some(FORMAT_VERSION), "decoded another version");
            assert_eq!(&b[10..12], [0, 0], "decoded with reserved bytes set");
            assert_eq!(u32_le(b, 12) as usize, b.len() - PRESETS_HEAD);
            assert_eq!(u32_le(b, 16), crc32fast::hash(&b[PRESETS_HEAD..]));
            assert!(list.len() <= MAX_PRESETS, "{} presets", list.len());
            for (name, range) in &list {
                assert!(preset_name_is_valid(name), "invalid name {name:?} decoded");
                if let SavedRange::Absolute(r) = range {
                    assert!(
                        r.from <= r.to,
                        "preset {name:?}: inverted range {r:?} decoded"
                    );
                }
            }
            let again = runlog::__fuzz::encode_presets(&list);
            assert!(
                again == b,
                "decoded presets re-encode differently ({} bytes, then {}): {list:?}",
                b.len(),
                again.len()
            );
        }
        Err(Error::UnsupportedVersion { found, .. }) => {
            assert!(magic, "unsupported version without the magic");
            assert_eq!(version, Some(found));
            assert_ne!(found, FORMAT_VERSION);
        }
        Err(Error::Corrupt { .. }) => {
            assert!(
                !magic || version == Some(FORMAT_VERSION),
                "version {version:?}: corrupt rather than unsupported"
            );
        }
        Err(e) => panic!("presets: unexpected error {e}"),
    }
}
