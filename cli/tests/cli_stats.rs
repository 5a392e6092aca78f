//! `runlog stats` and `verify`: the statistics agree with the library's,
//! as JSON and text; `verify` is clean, then names the sealed segment a
//! flipped byte damaged, with a one-line error.
//!
//! The tool runs as a separate process against a store this test process
//! writes (and keeps open as its writer; see `fixture/mod.rs`), its
//! answers checked against the library's own.

#[path = "../../tests/common/mod.rs"]
mod common;
mod fixture;

use fixture::*;
use runlog::Level;

#[test]
fn stats_and_verify() {
    let mut fx = Fixture::new();
    let p = fx.project();
    let stats = p.stats().unwrap();
    assert!(stats.sealed >= 1, "{stats:?}");
    let json: serde_json::Value =
        serde_json::from_str(&fx.ok(&["stats", "--json"]).stdout).unwrap();
    let got = &json["projects"][0];
    assert_eq!(got["project"], PROJECT);
    assert_eq!(got["segments"], stats.segments);
    assert_eq!(got["sealed"], stats.sealed);
    assert_eq!(got["records"], stats.records);
    assert_eq!(got["bytes"], stats.bytes);
    assert_eq!(got["oldest"], stats.oldest.unwrap().to_string());
    assert_eq!(got["newest"], stats.newest.unwrap().to_string());
    for l in Level::ALL {
        assert_eq!(
            got["levels"][l.as_str().to_ascii_lowercase()],
            stats.by_level[l.code() as usize]
        );
    }
    assert_eq!(got["runs"], 4);
    assert_eq!(got["runs_by_status"]["failed"], 1);
    assert_eq!(json["total"]["projects"], 1);
    assert_eq!(json["total"]["records"], stats.records);
    let text = fx.ok(&["stats"]);
    assert!(
        text.stdout
            .contains(&format!("records   {}", stats.records)),
        "{}",
        text.stdout
    );

    // Verify: clean, then a flipped byte in a sealed segment.
    let v = fx.ok(&["verify"]);
    assert!(v.stdout.contains(": ok"), "{}", v.stdout);
    let sealed = p
        .segments()
        .unwrap()
        .into_iter()
        .find(|s| s.sealed)
        .unwrap()
        .path;
    fx.close_writer();
    let mut bytes = std::fs::read(&sealed).unwrap();
    let at = bytes.len() / 3;
    bytes[at] ^= 0x40;
    std::fs::write(&sealed, bytes).unwrap();
    let bad = fx.run(&["verify"]);
    bad.assert_one_line_error(1, "verify after corruption");
    assert!(bad.stderr.contains("verify found"), "{}", bad.stderr);
    assert!(
        bad.stdout.contains("problem:")
            && bad
                .stdout
                .contains(sealed.file_name().unwrap().to_str().unwrap()),
        "{}",
        bad.stdout
    );
}
