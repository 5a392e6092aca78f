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
        // Fast path: bytes, lower-cased into a stack buffer.
        let mut word = [0u8; MAX_WORD_BYTES];
        let mut len = 0usize;
        let mut too_long = false;
        for &b in text.as_bytes() {
            if b.is_ascii_alphanumeric() {
                if len < MAX_WORD_BYTES {
                    word[len] = b.to_ascii_lowercase();
                    len += 1;
                } else {
                    too_long = true;
                }
            } else if len > 0 || too_long {
                f(if too_long { &[] } else { &word[..len] });
                len = 0;
                too_long = false;
            }
        }
        if len > 0 || too_long {
            f(if too_long { &[] } else { &word[..len] });
        }
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
