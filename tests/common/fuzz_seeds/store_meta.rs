//! Seeds of the `store_meta` target: settings files valid and not, of
//! other versions and lengths; and the reproducer of the fixed bug 2 (a
//! partition length of `u32::MAX` seconds).

use super::Seeds;

/// A settings file: magic, `version`, partition of `secs`, good CRC.
pub fn meta(version: u16, secs: u32) -> Vec<u8> {
    let mut b = [0u8; 32];
    b[..8].copy_from_slice(b"RUNLOGST");
    b[8..10].copy_from_slice(&version.to_le_bytes());
    b[12..16].copy_from_slice(&secs.to_le_bytes());
    let crc = crc32fast::hash(&b[..28]);
    b[28..].copy_from_slice(&crc.to_le_bytes());
    b.to_vec()
}

/// The seeds of `store_meta`.
pub fn seeds() -> Seeds {
    // Settings files: valid (1 h partitions, like the store; other valid
    // lengths), invalid lengths, other versions (valid checksums), and
    // malformed.
    let mut bad_crc = meta(1, 3600);
    bad_crc[29] ^= 1;
    let mut long = meta(1, 3600);
    long.push(0);
    let store_meta = vec![
        ("valid", meta(1, 3600)),
        ("partition-1-day", meta(1, 86_400)),
        ("partition-1-min", meta(1, 60)),
        ("partition-2h", meta(1, 7200)),
        ("partition-zero", meta(1, 0)),
        ("partition-7s", meta(1, 7)),
        ("partition-59s", meta(1, 59)),
        ("partition-3601s", meta(1, 3601)),
        ("partition-2-days", meta(1, 2 * 86_400)),
        ("partition-2-pow-30", meta(1, 1 << 30)),
        ("version-2", meta(2, 3600)),
        ("version-2-partition-zero", meta(2, 0)),
        ("bad-crc", bad_crc),
        ("empty", vec![]),
        ("short", meta(1, 3600)[..31].to_vec()),
        ("long", long),
        ("segment-magic", b"RUNLOGSG\x01\0\0\0\x10\x0e\0\0".to_vec()),
        // Bug 2: a reader adopted any stored partition length and
        // multiplied with it unchecked.
        ("fixed-bug2-partition-u32-max", meta(1, u32::MAX)),
    ];
    store_meta
}
