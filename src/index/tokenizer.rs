//! Words of `content`: maximal runs of alphanumeric characters, lower-cased.
//!
//! `POST https://api.shop.io/v2/orders -> 503 (timeout)` has the words
//! `post`, `https`, `api`, `shop`, `io`, `v2`, `orders`, `503`, `timeout`.
//! Words longer than [`MAX_WORD_BYTES`] are not indexed (a search for them
//! reads the records instead).

/// Longest word put in the index, in bytes.
pub const MAX_WORD_BYTES: usize = 32;

/// Call `f` with the bytes of each word of `text` (lower-cased), in
/// order, repeats included; a word longer than [`MAX_WORD_BYTES`] is
/// passed as the empty word (so the index can mark records holding one).
/// `buf` is scratch space reused across calls.
pub fn for_each_word(text: &str, buf: &mut String, mut f: impl FnMut(&[u8])) {
    if text.is_ascii() {
        // Fast path: spans found eight bytes at a time, each lower-cased
        // into a stack buffer.
        let bytes = text.as_bytes();
        let mut word = [0u8; MAX_WORD_BYTES];
        for_each_ascii_span(bytes, |start, end| {
            if end - start > MAX_WORD_BYTES {
                f(&[]);
            } else {
                let w = &mut word[..end - start];
                w.copy_from_slice(&bytes[start..end]);
                w.make_ascii_lowercase();
                f(w);
            }
        });
        return;
    }
    // Words are lower-cased whole, as `str::to_lowercase` does for the
    // content a query confirms against (a final Greek sigma depends on
    // its word).
    buf.clear();
    let mut emit = |raw: &mut String| {
        if !raw.is_empty() {
            let lower = raw.to_lowercase();
            f(if lower.len() > MAX_WORD_BYTES {
                &[]
            } else {
                lower.as_bytes()
            });
            raw.clear();
        }
    };
    for c in text.chars() {
        if c.is_alphanumeric() {
            buf.push(c);
        } else {
            emit(buf);
        }
    }
    emit(buf);
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// For eight ASCII bytes (as a little-endian word), the high bit of each
/// byte that is a letter or digit. No byte carries into the next: each
/// is at most 0x7F and the added constants keep sums below 0x100.
#[inline]
fn alnum_bits(x: u64) -> u64 {
    let in_range = |v: u64, lo: u8, hi: u8| {
        let at_least_lo = v.wrapping_add(ONES * u64::from(0x80 - lo));
        let at_most_hi = !v.wrapping_add(ONES * u64::from(0x7F - hi));
        at_least_lo & at_most_hi & HIGH
    };
    // Setting bit 5 maps A-Z onto a-z and leaves digits as they are.
    in_range(x, b'0', b'9') | in_range(x | (ONES * 0x20), b'a', b'z')
}

/// The high bits of [`alnum_bits`] gathered into the low eight bits, byte
/// `k` to bit `k` (the partial products land on distinct bits, so the
/// multiplication carries nothing).
#[inline]
fn gather(high: u64) -> u64 {
    ((high >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56
}

/// Call `f(start, end)` for each maximal run of ASCII letters and digits
/// in `text` (which must be ASCII), in order. Classifies eight bytes per
/// step and walks the run boundaries of each 64 bytes as bits, so the
/// cost is a few operations per word rather than a branch per byte.
pub(crate) fn for_each_ascii_span(text: &[u8], mut f: impl FnMut(usize, usize)) {
    let mut in_run = false;
    let mut start = 0usize;
    let mut carry = 0u64;
    for (b, block) in text.chunks(64).enumerate() {
        let mut mask = 0u64;
        for (k, chunk) in block.chunks(8).enumerate() {
            let w = match <[u8; 8]>::try_from(chunk) {
                Ok(w) => w,
                Err(_) => {
                    let mut w = [0u8; 8];
                    w[..chunk.len()].copy_from_slice(chunk);
                    w
                }
            };
            mask |= gather(alnum_bits(u64::from_le_bytes(w))) << (8 * k);
        }
        // A bit where the class changes from the byte before.
        let mut edges = mask ^ ((mask << 1) | carry);
        carry = mask >> 63;
        while edges != 0 {
            let at = b * 64 + edges.trailing_zeros() as usize;
            edges &= edges - 1;
            if in_run {
                f(start, at);
            } else {
                start = at;
            }
            in_run = !in_run;
        }
    }
    if in_run {
        f(start, text.len());
    }
}

/// The words of `text`, lower-cased, in order.
#[cfg(test)]
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut buf = String::new();
    for_each_word(text, &mut buf, |w| {
        if !w.is_empty() {
            out.push(String::from_utf8_lossy(w).into_owned());
        }
    });
    out
}

/// Whether `content` contains every one of `terms` (already lower-cased)
/// as a case-insensitive substring: the search box's semantics.
pub fn matches_all(content: &str, terms: &[String]) -> bool {
    if terms.is_empty() {
        return true;
    }
    if content.is_ascii() && terms.iter().all(|t| t.is_ascii()) {
        // No allocation for the common case.
        let hay = content.as_bytes();
        return terms.iter().all(|t| contains_ascii_ci(hay, t.as_bytes()));
    }
    let lower = content.to_lowercase();
    terms.iter().all(|t| lower.contains(t.as_str()))
}

fn contains_ascii_ci(hay: &[u8], needle: &[u8]) -> bool {
    if needle.is_empty() {
        return true;
    }
    if needle.len() > hay.len() {
        return false;
    }
    let first = needle[0];
    let upper = first.to_ascii_uppercase();
    (0..=hay.len() - needle.len()).any(|i| {
        (hay[i] == first || hay[i] == upper)
            && hay[i..i + needle.len()].eq_ignore_ascii_case(needle)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_lowercases() {
        assert_eq!(
            words("POST https://api.shop.io/v2/orders -> 503 (Timeout)"),
            [
                "post", "https", "api", "shop", "io", "v2", "orders", "503", "timeout"
            ]
        );
        assert_eq!(words("Größe ÄNDERN_x"), ["größe", "ändern", "x"]);
        assert_eq!(words("ΟΔΟΣ κλειστή"), ["οδος", "κλειστή"]);
        let mut marks = 0;
        for_each_word(
            &format!("a {} b", "x".repeat(40)),
            &mut String::new(),
            |w| marks += usize::from(w.is_empty()),
        );
        assert_eq!(marks, 1, "a long word is passed as the empty word");
        assert_eq!(words(""), Vec::<String>::new());
        assert_eq!(words(&"a".repeat(33)), Vec::<String>::new());
        assert_eq!(
            words(&format!("{} b", "a".repeat(32))),
            [&"a".repeat(32), "b"]
        );
    }

    #[test]
    fn ascii_spans_match_a_byte_loop() {
        let naive = |t: &[u8]| {
            let mut out = Vec::new();
            let mut start = None;
            for (i, b) in t.iter().enumerate() {
                match (b.is_ascii_alphanumeric(), start) {
                    (true, None) => start = Some(i),
                    (false, Some(s)) => {
                        out.push((s, i));
                        start = None;
                    }
                    _ => {}
                }
            }
            if let Some(s) = start {
                out.push((s, t.len()));
            }
            out
        };
        // Every ASCII byte, and runs across the 8- and 64-byte steps.
        let all: Vec<u8> = (0..128u8).collect();
        let mut texts = vec![all.clone(), all.iter().rev().copied().collect()];
        for len in 0..140 {
            texts.push(
                (0..len)
                    .map(|i| if i % 9 == 4 { b' ' } else { b'a' })
                    .collect(),
            );
            texts.push(vec![b'Z'; len]);
            texts.push((0..len).map(|i| all[(i * 37 + len) % 128]).collect());
        }
        for t in &texts {
            let mut got = Vec::new();
            for_each_ascii_span(t, |s, e| got.push((s, e)));
            assert_eq!(got, naive(t), "{:?}", String::from_utf8_lossy(t));
        }
    }

    #[test]
    fn substring_semantics() {
        let c = "Connection REFUSED by db-01:5432 after 30000ms";
        let t = |s: &[&str]| s.iter().map(|w| w.to_string()).collect::<Vec<_>>();
        assert!(matches_all(c, &t(&["connection", "refused"])));
        assert!(matches_all(c, &t(&["nnect", "db-01:54"])));
        assert!(!matches_all(c, &t(&["connection", "timeout"])));
        assert!(matches_all(
            "ÄRGER über",
            &t(&["ärger", "ÜBER".to_lowercase().as_str()])
        ));
        assert!(matches_all(c, &[]));
    }
}
