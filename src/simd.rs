//! Two x86_64 instructions for the word index that safe Rust cannot
//! express: with the memory maps of `mmap.rs`, the only `unsafe` code in
//! runlog.
//!
//! - [`prepare_block`]: preparing a record's content for indexing
//!   (lower-casing it and marking its letters and digits) took 5-6 % of the
//!   append path eight bytes at a time; SSE2 does sixteen bytes in a few
//!   instructions and gathers the marks with one `pmovmskb`. Targets
//!   without SSE2 use the portable code in `index::tokenizer`.
//! - [`prefetch`]: a cache hint, so that the dictionary lines of a
//!   record's words load together (a no-op elsewhere).

#![allow(unsafe_code)]

#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
use std::arch::x86_64::{
    __m128i, _MM_HINT_T0, _mm_and_si128, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8,
    _mm_movemask_epi8, _mm_or_si128, _mm_prefetch, _mm_set1_epi8, _mm_setzero_si128,
    _mm_storeu_si128, _mm_sub_epi8,
};

/// Ask the CPU to bring the cache line holding `*p` closer, without
/// waiting for it (a no-op elsewhere than x86_64).
#[inline(always)]
pub(crate) fn prefetch<T>(p: &T) {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    // SAFETY: a prefetch is a hint: it reads nothing architecturally and
    // never faults; `p` is a valid reference anyway. The instruction is
    // part of SSE, which every x86_64 target has.
    unsafe {
        _mm_prefetch::<_MM_HINT_T0>((p as *const T).cast::<i8>());
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    let _ = p;
}

/// For one block of 64 bytes: write it to `out` with bit 5 set in every
/// ASCII letter and digit (lower-casing the letters), and return a mask
/// with bit `k` set when byte `k` is an ASCII letter or digit, and whether
/// any byte is not ASCII.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline(always)]
pub(crate) fn prepare_block(block: &[u8; 64], out: &mut [u8; 64]) -> (u64, bool) {
    // SAFETY: the intrinsics need SSE2, which this function is compiled
    // only with (`target_feature = "sse2"`, part of every x86_64 target's
    // baseline). Each unaligned load and store covers bytes
    // `16 * k .. 16 * k + 16` of a 64-byte array, for k < 4: in bounds.
    unsafe {
        let mut mask = 0u64;
        let mut any = _mm_setzero_si128();
        for k in 0..4 {
            let x = _mm_loadu_si128(block.as_ptr().add(16 * k).cast::<__m128i>());
            any = _mm_or_si128(any, x);
            // Unsigned `v <= n` as `min(v, n) == v`.
            let digit = _mm_sub_epi8(x, _mm_set1_epi8(b'0' as i8));
            let digit = _mm_cmpeq_epi8(_mm_min_epu8(digit, _mm_set1_epi8(9)), digit);
            let lower = _mm_or_si128(x, _mm_set1_epi8(0x20));
            let letter = _mm_sub_epi8(lower, _mm_set1_epi8(b'a' as i8));
            let letter = _mm_cmpeq_epi8(_mm_min_epu8(letter, _mm_set1_epi8(25)), letter);
            let word = _mm_or_si128(digit, letter);
            let lowered = _mm_or_si128(x, _mm_and_si128(word, _mm_set1_epi8(0x20)));
            _mm_storeu_si128(out.as_mut_ptr().add(16 * k).cast::<__m128i>(), lowered);
            mask |= u64::from(_mm_movemask_epi8(word) as u16) << (16 * k);
        }
        (mask, _mm_movemask_epi8(any) != 0)
    }
}
