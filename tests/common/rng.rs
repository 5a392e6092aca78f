//! The tests' seeded generators: a seed gives the same sequence on every
//! run and machine, so a seeded test does the same thing each time.
//!
//! [`Rng`] (SplitMix64) is the one the tests use; [`XorShift`] is kept for
//! `differential.rs`, whose cases were drawn with it. Both get their
//! helpers (`below`, `range`, `chance`, …) from [`Random`].

use std::time::Duration;

/// What the tests draw from a generator; only [`Random::next`] differs
/// between generators.
pub trait Random {
    /// The next 64 random bits.
    fn next(&mut self) -> u64;

    /// Uniform (up to modulo bias) in `0..n`; `n` must not be 0.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True once in `one_in` draws, on average.
    fn chance(&mut self, one_in: u64) -> bool {
        self.below(one_in) == 0
    }

    /// A duration below `max` seconds, in whole microseconds.
    fn secs(&mut self, max: u64) -> Duration {
        Duration::from_micros(self.below(max * 1_000_000))
    }

    /// `n` random bytes (the low byte of one draw each).
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }

    /// One of `xs`, which must not be empty.
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
}

/// SplitMix64: small, seedable, good enough. `Rng(seed)` or `Rng::new(seed)`.
#[derive(Clone, Debug)]
pub struct Rng(pub u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
}

impl Random for Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Xorshift64 (13, 7, 17). The seed must not be 0 (the sequence would stay 0).
#[derive(Clone, Debug)]
pub struct XorShift(pub u64);

impl Random for XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}
