//! What the fuzz targets share: how the fuzzer's bytes become the byte stream a peer sends,
//! and how much model checking one run may afford.
//!
//! Each target decodes a small fixed-size header with `arbitrary` (single-byte fields and byte
//! arrays only, so every field sits at a fixed offset and `make_corpus.py` can write seeds by
//! hand) and takes the rest of the fuzz input, unchanged, as the stream. Mutations then act
//! directly on protocol bytes, and libFuzzer's comparison tracing finds delimiters and quit
//! lines by itself.

use arbitrary::{Arbitrary, Unstructured};
use std::fmt;

/// Longest stream one case may expand to: far past the largest buffer the targets use (3000
/// bytes), so overlong lines and the framer's buffer growth are reachable, yet small enough
/// that a run stays in the millisecond range.
pub const MAX_STREAM: usize = 64 * 1024;

/// How many full comparisons with the model one run may make along the way, besides the final
/// one. Each costs time linear in the input; capping them keeps a run linear too.
pub const MODEL_CHECKS: usize = 64;

/// The stream a case sends: `raw`, each byte mapped onto `alphabet` when one is given,
/// repeated `1 + repeat % 16` times (cheap long inputs: many lines, long lines), cut at
/// [`MAX_STREAM`].
pub fn stream(raw: &[u8], alphabet: Option<&[u8]>, repeat: u8) -> Vec<u8> {
    let once: Vec<u8> = match alphabet {
        Some(alphabet) if !alphabet.is_empty() => raw
            .iter()
            .map(|&b| alphabet[usize::from(b) % alphabet.len()])
            .collect(),
        _ => raw.to_vec(),
    };
    let mut stream = Vec::new();
    for _ in 0..=repeat % 16 {
        stream.extend_from_slice(&once);
    }
    stream.truncate(MAX_STREAM);
    stream
}

/// The bytes of `parts` (delimiter, quit line) plus `x`, which is in neither if they are
/// printable: a stream over this alphabet is dense in near-misses, overlapping and partial
/// delimiters, which random bytes almost never are.
pub fn alphabet(parts: &[&[u8]]) -> Vec<u8> {
    let mut alphabet: Vec<u8> = parts.iter().flat_map(|p| p.iter().copied()).collect();
    alphabet.push(b'x');
    alphabet.sort_unstable();
    alphabet.dedup();
    alphabet
}

/// Decides when a run compares its progress with the model: at the first [`MODEL_CHECKS`]
/// steps, then at every power of two, so early steps (where bugs at buffer boundaries show) are
/// all covered and the total cost stays bounded.
pub fn check_now(step: usize) -> bool {
    step < MODEL_CHECKS || step.is_power_of_two()
}

/// One fuzz case: a header `H` decoded by `arbitrary`, then the rest of the input, raw, as the
/// stream. (A derived `Vec<u8>` would interleave "one more element?" bytes with the data.)
pub struct Case<H> {
    /// The case's parameters.
    pub header: H,
    /// The bytes the peer sends, before [`stream`] expands them.
    pub stream: Vec<u8>,
}

impl<'a, H: Arbitrary<'a>> Arbitrary<'a> for Case<H> {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(Self {
            header: H::arbitrary(u)?,
            stream: Vec::arbitrary(u)?,
        })
    }

    fn arbitrary_take_rest(mut u: Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(Self {
            header: H::arbitrary(&mut u)?,
            stream: u.take_rest().to_vec(),
        })
    }
}

impl<H: fmt::Debug> fmt::Debug for Case<H> {
    // The stream as escaped text, so that `cargo fuzz fmt` shows lines and delimiters.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Case")
            .field("header", &self.header)
            .field(
                "stream",
                &format_args!("b\"{}\"", self.stream.escape_ascii()),
            )
            .finish()
    }
}
