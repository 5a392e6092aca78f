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

/// The bit mask of one block of up to 64 ASCII bytes: bit `k` set when
/// byte `k` is a letter or digit.
#[inline]
fn block_mask(block: &[u8]) -> u64 {
    let mut padded = [0u8; 64];
    padded[..block.len()].copy_from_slice(block);
    prepare_block(&padded, &mut [0u8; 64]).0
}

/// The maximal runs of set bits in a sequence of 64-bit masks (the first
/// mask's bit 0 first), as `(start, end)` bit positions, the last run
/// ending at most at `len`. Walks the run boundaries as bits, so the cost
/// is a few operations per run rather than a branch per byte; an
/// iterator rather than a callback, so that the caller's loop body is
/// compiled in place.
struct Runs<I> {
    masks: I,
    /// Bit position of the current mask's bit 0.
    base: usize,
    /// Boundaries of the current mask not yet passed: a bit where the
    /// class changes from the bit before.
    edges: u64,
    /// The top bit of the current mask.
    carry: u64,
    /// Start of the run in progress, if any.
    start: Option<usize>,
    len: usize,
}

impl<I: Iterator<Item = u64>> Runs<I> {
    fn new(masks: I, len: usize) -> Self {
        Runs {
            masks,
            // The first mask moves this to 0.
            base: 0usize.wrapping_sub(64),
            edges: 0,
            carry: 0,
            start: None,
            len,
        }
    }
}

impl<I: Iterator<Item = u64>> Iterator for Runs<I> {
    type Item = (usize, usize);

    #[inline(always)]
    fn next(&mut self) -> Option<(usize, usize)> {
        loop {
            while self.edges != 0 {
                let at = self.base.wrapping_add(self.edges.trailing_zeros() as usize);
                self.edges &= self.edges - 1;
                match self.start.take() {
                    Some(start) => return Some((start, at)),
                    None => self.start = Some(at),
                }
            }
            match self.masks.next() {
                Some(mask) => {
                    self.edges = mask ^ ((mask << 1) | self.carry);
                    self.carry = mask >> 63;
                    self.base = self.base.wrapping_add(64);
                }
                None => return self.start.take().map(|start| (start, self.len)),
            }
        }
    }
}

/// Call `f(start, end)` for each maximal run of ASCII letters and digits
/// in `text` (which must be ASCII), in order, classifying eight bytes per
/// step.
pub(crate) fn for_each_ascii_span(text: &[u8], mut f: impl FnMut(usize, usize)) {
    for (start, end) in Runs::new(text.chunks(64).map(block_mask), text.len()) {
        f(start, end);
    }
}

/// Lower-case one block of 64 ASCII bytes into `out` (see
/// [`Prepared::bytes`]) and return its [`block_mask`], and whether any
/// byte is not ASCII (the mask is then meaningless). SSE2 where there is
/// (`crate::simd`), else eight bytes at a time.
#[inline(always)]
fn prepare_block(block: &[u8; 64], out: &mut [u8; 64]) -> (u64, bool) {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    {
        crate::simd::prepare_block(block, out)
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    {
        prepare_block_portable(block, out)
    }
}

/// [`prepare_block`] in portable code, on whole arrays (no step checks a
/// bound).
#[cfg_attr(all(target_arch = "x86_64", target_feature = "sse2"), allow(dead_code))]
#[inline(always)]
fn prepare_block_portable(block: &[u8; 64], out: &mut [u8; 64]) -> (u64, bool) {
    let (words, _) = block.as_chunks::<8>();
    let (outs, _) = out.as_chunks_mut::<8>();
    let mut mask = 0u64;
    let mut high = 0u64;
    for (k, (word, out)) in words.iter().zip(outs.iter_mut()).enumerate() {
        let x = u64::from_le_bytes(*word);
        high |= x;
        let alnum = alnum_bits(x);
        // 0x80 in each letter or digit, moved to 0x20.
        *out = (x | (alnum >> 2)).to_le_bytes();
        mask |= gather(alnum) << (8 * k);
    }
    (mask, high & HIGH != 0)
}

/// Zero bytes [`Prepared::bytes`] holds after the text: a word starting
/// anywhere in the text can be read as 24 whole bytes.
pub(crate) const PAD: usize = 24;

/// ASCII text prepared for indexing its words, in one pass: lower-cased,
/// zero-padded by [`PAD`] bytes, with a bit per byte marking letters and
/// digits. Reused across records, so it allocates only when a text is
/// longer than every one before.
#[derive(Debug, Default)]
pub(crate) struct Prepared {
    /// The text with bit 5 set in every letter and digit (lower-casing the
    /// letters, leaving digits as they are; other bytes are never part of
    /// a word), then zeros.
    bytes: Vec<u8>,
    /// One mask per 64 bytes of text, as [`block_mask`] gives.
    masks: Vec<u64>,
    /// Length of the text.
    len: usize,
    /// End of the padding in `bytes` (which may hold stale bytes after it).
    end: usize,
}

impl Prepared {
    /// Prepare `text`; `false` (and nothing usable) if it is not ASCII.
    pub(crate) fn fill(&mut self, text: &[u8]) -> bool {
        self.len = text.len();
        let blocks = text.len().div_ceil(64);
        // Every block is written whole below; only the padding after the
        // last needs zeroing (bytes past it are never read).
        self.end = blocks * 64 + PAD;
        if self.bytes.len() < self.end {
            self.bytes.resize(self.end, 0);
        }
        self.bytes[blocks * 64..self.end].fill(0);
        self.masks.clear();
        self.masks.reserve(blocks);
        let (whole, rest) = text.as_chunks::<64>();
        let (outs, _) = self.bytes.as_chunks_mut::<64>();
        let mut ascii = true;
        for (block, out) in whole.iter().zip(outs.iter_mut()) {
            let (mask, high) = prepare_block(block, out);
            self.masks.push(mask);
            ascii &= !high;
        }
        if !rest.is_empty() {
            let mut block = [0u8; 64];
            block[..rest.len()].copy_from_slice(rest);
            let (mask, high) = prepare_block(&block, &mut outs[whole.len()]);
            self.masks.push(mask);
            ascii &= !high;
        }
        ascii
    }

    /// The prepared text and its padding.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes[..self.end]
    }

    /// The `(start, end)` of each word of the prepared text, as
    /// [`for_each_ascii_span`] gives them for the text itself.
    #[inline]
    pub(crate) fn words(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        Runs::new(self.masks.iter().copied(), self.len)
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

/// Whether `content` contains every one of `terms` (already folded by
/// [`fold_case`]) as a case-insensitive substring: the search box's
/// semantics.
pub fn matches_all(content: &str, terms: &[String]) -> bool {
    if terms.is_empty() {
        return true;
    }
    if content.is_ascii() && terms.iter().all(|t| t.is_ascii()) {
        // No allocation for the common case.
        let hay = content.as_bytes();
        return terms.iter().all(|t| contains_ascii_ci(hay, t.as_bytes()));
    }
    let lower = fold_case(content);
    terms.iter().all(|t| lower.contains(t.as_str()))
}

/// `text` lower-cased for comparing case-insensitively: `to_lowercase`,
/// with the final Greek sigma `ς` folded to `σ`. `to_lowercase` picks
/// between the two by the letters around a capital `Σ` (looking through
/// `.`, `:` and `'`), so one text lower-cased whole and its words
/// lower-cased one by one (as the index does) can disagree; both are the
/// same letter to a reader.
pub fn fold_case(text: &str) -> String {
    let lower = text.to_lowercase();
    if lower.contains(FINAL_SIGMA) {
        lower.replace(FINAL_SIGMA, "σ")
    } else {
        lower
    }
}

const FINAL_SIGMA: char = 'ς';

/// Most sigmas in one query piece for which every spelling is looked up.
const MAX_SIGMAS: usize = 4;

/// The spellings under which an index built by [`for_each_word`] may hold
/// the word piece `piece`: each Greek sigma in it may be `σ` or `ς` (the
/// index lower-cases words one by one, and a capital `Σ` at a word's end
/// becomes `ς`). Just `piece` when it has no sigma; empty when it has more
/// than [`MAX_SIGMAS`] (too many spellings: the piece then narrows nothing,
/// and the records are confirmed against their text instead).
pub(crate) fn sigma_spellings(piece: &str) -> Vec<String> {
    let at: Vec<usize> = piece
        .char_indices()
        .filter(|&(_, c)| c == 'σ' || c == FINAL_SIGMA)
        .map(|(i, _)| i)
        .collect();
    if at.len() > MAX_SIGMAS {
        return Vec::new();
    }
    // Both spellings are two bytes (CF 83, CF 82): only the second byte varies.
    (0..1u32 << at.len())
        .map(|mask| {
            let mut b = piece.as_bytes().to_vec();
            for (k, &i) in at.iter().enumerate() {
                b[i + 1] = if mask & (1 << k) == 0 { 0x83 } else { 0x82 };
            }
            String::from_utf8(b).expect("a sigma replaced by a sigma")
        })
        .collect()
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
    fn sigma_spellings_cover_both_forms_of_each_sigma() {
        assert_eq!(sigma_spellings("abc"), ["abc"]);
        let mut got = sigma_spellings("σος");
        got.sort();
        assert_eq!(got, ["ςος", "ςοσ", "σος", "σοσ"]);
        assert_eq!(sigma_spellings(&"σ".repeat(MAX_SIGMAS)).len(), 16);
        assert!(sigma_spellings(&"σ".repeat(MAX_SIGMAS + 1)).is_empty());
    }

    #[test]
    fn fold_case_folds_the_final_sigma() {
        assert_eq!(fold_case("ΑΣ.Β"), "ασ.β");
        assert_eq!(fold_case("Α.Σ"), "α.σ");
        assert_eq!(fold_case("ΟΔΟΣ"), "οδοσ");
        assert_eq!(fold_case("Straße"), "straße");
        assert!(matches_all("ΟΔΟΣ κλειστή", &[fold_case("οδος")]));
    }

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

    /// The prepared form gives the same words as [`for_each_word`], each
    /// readable from its start with [`PAD`] bytes to spare, and refuses
    /// non-ASCII text.
    #[test]
    fn prepared_words_match_for_each_word() {
        let mut texts: Vec<String> = vec![
            String::new(),
            "POST https://API.shop.io/v2/orders -> 503 (Timeout)".into(),
            "x".repeat(200),
            format!("{} tail", "Ab9".repeat(30)),
        ];
        for len in 0..150usize {
            texts.push(
                (0..len)
                    .map(|i| char::from(((i * 37 + len) % 128) as u8))
                    .collect(),
            );
        }
        let mut p = Prepared::default();
        for t in &texts {
            assert!(p.fill(t.as_bytes()));
            let mut want = Vec::new();
            for_each_word(t, &mut String::new(), |w| want.push(w.to_vec()));
            let got: Vec<Vec<u8>> = p
                .words()
                .map(|(s, e)| {
                    assert!(p.bytes().len() >= s + PAD);
                    let w = &p.bytes()[s..e];
                    if w.len() > MAX_WORD_BYTES {
                        Vec::new()
                    } else {
                        w.to_vec()
                    }
                })
                .collect();
            assert_eq!(got, want, "{t:?}");
            assert!(p.bytes()[t.len()..].iter().all(|&b| b == 0));
        }
        assert!(!p.fill("naïve".as_bytes()));
        assert!(!p.fill(&[0x80; 9]));
    }

    /// The block preparation in use (SSE2 on x86_64) and the portable
    /// one agree on every ASCII block, and both flag every non-ASCII byte.
    #[test]
    fn block_preparations_agree() {
        let mut blocks: Vec<[u8; 64]> = Vec::new();
        for seed in 0..512usize {
            blocks.push(std::array::from_fn(|i| ((i * 37 + seed * 101) % 128) as u8));
        }
        blocks.push(std::array::from_fn(|i| i as u8));
        blocks.push(std::array::from_fn(|i| (i + 64) as u8));
        for mut block in blocks {
            let (mut a, mut b) = ([0u8; 64], [0u8; 64]);
            assert_eq!(
                prepare_block(&block, &mut a),
                prepare_block_portable(&block, &mut b)
            );
            assert_eq!(a, b);
            let lowered: Vec<u8> = block
                .iter()
                .map(|&c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        c
                    }
                })
                .collect();
            assert_eq!(
                a.to_vec(),
                lowered,
                "letters lower-cased, nothing else changed"
            );
            for at in [0, 13, 63] {
                let keep = block[at];
                block[at] = 0x80 | keep;
                assert!(prepare_block(&block, &mut a).1);
                assert!(prepare_block_portable(&block, &mut b).1);
                block[at] = keep;
            }
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
