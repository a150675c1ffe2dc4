//! Delimiter framing over a fixed-capacity input buffer.
//!
//! A [`Framer`] owns `N` bytes of input. The caller reads straight into [`Framer::space`],
//! reports how much arrived with [`Framer::commit`], and takes [`Frame`]s out with
//! [`Framer::next_frame`] (or [`Framer::peek`] then [`Framer::advance`], to decide first
//! whether it has room for the answer).
//!
//! The search for the delimiter resumes where the last one stopped, backed off by
//! `delimiter.len() - 1` bytes so that a delimiter split across reads is still found (the seed's
//! `start`). Total search work is therefore linear in the bytes fed, however they are chunked;
//! [`Framer::bytes_examined`] counts it so that tests can check that without timing anything.
//!
//! A line longer than `max_line` is reported once as [`Frame::TooLong`] as soon as that is
//! certain, and its bytes are dropped up to and including its delimiter (tokio-util's
//! "discarding" mode), so memory never grows with the line.

use crate::config::{ConfigError, Delimiter};
use heapless::Vec;

/// Bytes of the buffer made usable before the first read. The buffer's memory is only written
/// (and so, on a hosted OS, only made resident) as reads need it, which keeps idle connections
/// small; it doubles up to `N` when reads fill it.
const INITIAL_SPACE: usize = 1024;

/// One unit of input found by the framer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Frame<'a> {
    /// A complete line, without its delimiter. At end of input, also the last unterminated
    /// line if it is not empty.
    Line(&'a [u8]),
    /// A line longer than the limit. Reported once; its bytes are dropped through its
    /// delimiter.
    TooLong,
}

/// A frame located in the buffer but not yet handed over, as indices so that the buffer can
/// still be borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Found {
    Line {
        start: usize,
        end: usize,
        resume: usize,
    },
    TooLong {
        resume: usize,
        discard_rest: bool,
    },
}

/// Splits a byte stream into lines, in `N` bytes of memory.
///
/// `N` must hold the longest line plus its delimiter: `max_line + delimiter.len() <= N`.
///
/// ```
/// use chatecho_core::{Delimiter, Frame, Framer};
/// let mut framer: Framer<64> = Framer::new(Delimiter::new(b"\r\n")?, 16)?;
/// for chunk in [&b"hel"[..], b"lo\r", b"\nworld\r\n"] {
///     let space = framer.space();
///     space[..chunk.len()].copy_from_slice(chunk);
///     framer.commit(chunk.len());
/// }
/// assert_eq!(framer.next_frame(), Some(Frame::Line(b"hello")));
/// assert_eq!(framer.next_frame(), Some(Frame::Line(b"world")));
/// assert_eq!(framer.next_frame(), None);
/// # Ok::<(), chatecho_core::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Framer<const N: usize> {
    /// The usable part of the buffer: its length grows towards `N` as reads need room.
    buf: Vec<u8, N>,
    /// Start of the first byte not yet handed out or dropped.
    start: usize,
    /// The delimiter search resumes here: no delimiter starts in `start..scanned`.
    scanned: usize,
    /// End of the bytes received.
    end: usize,
    delimiter: Delimiter,
    max_line: usize,
    /// Inside a too-long line that was already reported: drop bytes until its delimiter.
    discarding: bool,
    /// No more input will come: the remainder is the last line.
    finished: bool,
    /// A frame located by `peek` and not yet taken by `advance`.
    found: Option<Found>,
    bytes_examined: u64,
    /// The last read filled all the space offered: more input is likely waiting, so the
    /// next [`Framer::space`] offers more (up to `N`), and a busy connection reads in large
    /// chunks while an idle one stays small.
    filled: bool,
}

impl<const N: usize> Framer<N> {
    /// Creates a framer for `delimiter` and lines of at most `max_line` bytes.
    ///
    /// Fails with [`ConfigError::ZeroMaxLine`] or [`ConfigError::MaxLineOverCapacity`] when
    /// `max_line` is 0 or a line at the limit plus its delimiter would not fit in `N` bytes.
    #[inline(always)]
    pub fn new(delimiter: Delimiter, max_line: usize) -> Result<Self, ConfigError> {
        Self::check(&delimiter, max_line)?;
        Ok(Self::checked(delimiter, max_line))
    }

    /// The checks of [`Framer::new`], without building anything.
    #[inline(always)]
    pub(crate) fn check(delimiter: &Delimiter, max_line: usize) -> Result<(), ConfigError> {
        if max_line == 0 {
            return Err(ConfigError::ZeroMaxLine);
        }
        let capacity = Self::line_capacity(delimiter);
        if max_line > capacity {
            return Err(ConfigError::MaxLineOverCapacity { max_line, capacity });
        }
        Ok(())
    }

    /// Builds a framer whose parameters passed [`Framer::check`]. Infallible and trivially
    /// inlined, so that a framer inside a larger value is built in place: moving it would
    /// write (and, on a hosted OS, make resident) every byte of its buffer.
    #[inline(always)]
    pub(crate) fn checked(delimiter: Delimiter, max_line: usize) -> Self {
        Self {
            buf: Vec::new(),
            start: 0,
            scanned: 0,
            end: 0,
            delimiter,
            max_line,
            discarding: false,
            finished: false,
            found: None,
            bytes_examined: 0,
            filled: false,
        }
    }

    /// The longest `max_line` an `N`-byte framer supports with `delimiter`.
    pub fn line_capacity(delimiter: &Delimiter) -> usize {
        N.saturating_sub(delimiter.len())
    }

    /// The delimiter lines end with.
    pub fn delimiter(&self) -> &Delimiter {
        &self.delimiter
    }

    /// The longest line handed out as [`Frame::Line`], delimiter not counted.
    pub fn max_line(&self) -> usize {
        self.max_line
    }

    /// Bytes received and not yet handed out or dropped.
    pub fn buffered(&self) -> usize {
        self.end - self.start
    }

    /// How many bytes the delimiter search has looked at since creation. Linear in the bytes
    /// committed, whatever their chunking; exposed so that tests can count work instead of
    /// timing it.
    pub fn bytes_examined(&self) -> u64 {
        self.bytes_examined
    }

    /// Whether [`Framer::finish`] was called.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// The free space to read into, next to the bytes already received. Empty when the buffer
    /// is full of frames not yet taken, or after [`Framer::finish`].
    pub fn space(&mut self) -> &mut [u8] {
        if self.finished {
            return &mut [];
        }
        // Indices of a located frame must stay valid, so only move bytes when none is pending.
        if self.found.is_none() {
            self.reclaim();
        }
        let half = self.buf.len() / 2;
        if (self.buf.len() - self.end <= half || self.filled) && self.buf.len() < N {
            let grown = (self.buf.len() * 2).clamp(INITIAL_SPACE.min(N), N);
            // `grown <= N`, so this cannot fail.
            let _ = self.buf.resize(grown, 0);
            self.filled = false;
        }
        &mut self.buf[self.end..]
    }

    /// Makes room at the back by dropping bytes already handed out at the front.
    fn reclaim(&mut self) {
        if self.start == self.end {
            // Everything was consumed: start over at the front for free.
            self.start = 0;
            self.scanned = 0;
            self.end = 0;
        } else if self.start > 0 && self.buf.len() - self.end <= self.buf.len() / 2 {
            // Move the unfinished line to the front. Each byte is moved at most once while
            // its line is unfinished (afterwards `start` is 0), so this stays linear.
            self.buf.copy_within(self.start..self.end, 0);
            self.scanned -= self.start;
            self.end -= self.start;
            self.start = 0;
        }
    }

    /// Records that `n` bytes were written at the front of [`Framer::space`]. Counts beyond
    /// the space last offered are clamped to it.
    pub fn commit(&mut self, n: usize) {
        if self.finished {
            return;
        }
        let offered = self.buf.len() - self.end;
        self.end += n.min(offered);
        self.filled = n >= offered && offered > 0;
    }

    /// Declares the end of input: the unterminated remainder, if not empty, becomes the last
    /// [`Frame::Line`] (or [`Frame::TooLong`]). Further input is refused.
    pub fn finish(&mut self) {
        self.finished = true;
    }

    /// Takes the next frame, if one is complete.
    pub fn next_frame(&mut self) -> Option<Frame<'_>> {
        let found = self.locate()?;
        self.advance();
        Some(self.view(found))
    }

    /// Shows the next frame without taking it: the same frame is shown until
    /// [`Framer::advance`] is called.
    pub fn peek(&mut self) -> Option<Frame<'_>> {
        let found = self.locate()?;
        Some(self.view(found))
    }

    /// Like [`Framer::peek`], and also the frame's bytes as received: a line followed by its
    /// delimiter, contiguous in the buffer (only the line when it ended with the input), so
    /// that an echo can copy both in one piece. Empty for [`Frame::TooLong`].
    #[inline]
    pub(crate) fn peek_received(&mut self) -> Option<(Frame<'_>, &[u8])> {
        let found = self.locate()?;
        Some(match found {
            Found::Line { start, end, resume } => (
                Frame::Line(self.buf.get(start..end).unwrap_or(&[])),
                self.buf.get(start..resume).unwrap_or(&[]),
            ),
            Found::TooLong { .. } => (Frame::TooLong, &[]),
        })
    }

    /// Hands each complete line within the limit to `take`, in order, as the line and its
    /// bytes as received (the line followed by its delimiter), until `take` refuses one or a
    /// frame needs the general path: a line over the limit, the tail of a discarded line, the
    /// end of input. A refused line, or a line over the limit, is left pending as after
    /// [`Framer::peek`]; [`Framer::peek`] and [`Framer::advance`] carry on from there.
    ///
    /// A session's hot path: the same search and the same frames as [`Framer::next_frame`],
    /// without recording each line as pending and viewing it again.
    #[inline]
    pub(crate) fn take_lines(&mut self, mut take: impl FnMut(&[u8], &[u8]) -> bool) {
        if self.found.is_some() || self.discarding {
            return;
        }
        // The loop works on locals and writes them back once: the buffer and the delimiter
        // are only read, and the compiler keeps the positions in registers.
        let received = self.buf.get(..self.end).unwrap_or(&[]);
        let delimiter = self.delimiter.as_bytes();
        let needle = Needle::new(delimiter);
        let max_line = self.max_line;
        let mut start = self.start;
        let mut scanned = self.scanned;
        let mut examined = self.bytes_examined;
        while let Some(at) = find_delimiter(received, &needle, &mut scanned, &mut examined) {
            let resume = at + delimiter.len();
            if at - start > max_line {
                self.found = Some(Found::TooLong {
                    resume,
                    discard_rest: false,
                });
                break;
            }
            // `start <= at < resume <= end`, so neither fails.
            let Some(with_delimiter) = received.get(start..resume) else {
                break;
            };
            let Some((line, _)) = with_delimiter.split_at_checked(at - start) else {
                break;
            };
            if !take(line, with_delimiter) {
                self.found = Some(Found::Line {
                    start,
                    end: at,
                    resume,
                });
                break;
            }
            // As `advance` does: everything before `resume` is taken and was searched.
            start = resume;
            scanned = resume;
        }
        self.start = start;
        self.scanned = scanned;
        self.bytes_examined = examined;
    }

    /// Whether a frame shown by [`Framer::peek`] is waiting to be taken.
    pub fn has_pending_frame(&self) -> bool {
        self.found.is_some()
    }

    /// Takes the frame last shown by [`Framer::peek`]. Does nothing if none was shown.
    pub fn advance(&mut self) {
        let (resume, discard_rest) = match self.found.take() {
            None => return,
            Some(Found::Line { resume, .. }) => (resume, false),
            Some(Found::TooLong {
                resume,
                discard_rest,
            }) => (resume, discard_rest),
        };
        self.start = resume;
        self.scanned = self.scanned.max(resume);
        self.discarding = discard_rest;
    }

    fn view(&self, found: Found) -> Frame<'_> {
        match found {
            Found::Line { start, end, .. } => Frame::Line(&self.buf[start..end]),
            Found::TooLong { .. } => Frame::TooLong,
        }
    }

    /// Finds the next frame (or returns the one already found).
    fn locate(&mut self) -> Option<Found> {
        if self.found.is_none() {
            self.found = self.search();
        }
        self.found
    }

    fn search(&mut self) -> Option<Found> {
        loop {
            let Some(at) = self.find_delimiter() else {
                return self.without_delimiter();
            };
            let resume = at + self.delimiter.len();
            if self.discarding {
                // The tail of a line already reported as too long: drop it and go on.
                self.discarding = false;
                self.start = resume;
                self.scanned = resume;
                continue;
            }
            if at - self.start > self.max_line {
                return Some(Found::TooLong {
                    resume,
                    discard_rest: false,
                });
            }
            return Some(Found::Line {
                start: self.start,
                end: at,
                resume,
            });
        }
    }

    /// Searches `scanned..end` for the delimiter and returns where it starts; see
    /// [`find_delimiter`].
    #[inline]
    fn find_delimiter(&mut self) -> Option<usize> {
        let received = self.buf.get(..self.end).unwrap_or(&[]);
        let needle = Needle::new(self.delimiter.as_bytes());
        find_delimiter(
            received,
            &needle,
            &mut self.scanned,
            &mut self.bytes_examined,
        )
    }

    /// What the bytes after the last delimiter amount to.
    fn without_delimiter(&mut self) -> Option<Found> {
        if self.finished {
            let had_line = !self.discarding && self.start < self.end;
            let too_long = self.end - self.start > self.max_line;
            if self.discarding || !had_line {
                self.discarding = false;
                self.start = self.end;
                self.scanned = self.end;
                return None;
            }
            return Some(if too_long {
                Found::TooLong {
                    resume: self.end,
                    discard_rest: false,
                }
            } else {
                Found::Line {
                    start: self.start,
                    end: self.end,
                    resume: self.end,
                }
            });
        }
        if self.discarding {
            // Bytes before `scanned` cannot be part of the delimiter: drop them now.
            self.start = self.scanned;
            return None;
        }
        if self.scanned - self.start > self.max_line {
            // Certainly too long already, whatever comes next: report it now and free the
            // memory instead of waiting for the delimiter.
            return Some(Found::TooLong {
                resume: self.scanned,
                discard_rest: true,
            });
        }
        None
    }
}

/// The delimiter, prepared for [`find_delimiter`]: computed once per batch of lines, not once
/// per line, and held in locals the compiler need not reload after each reply is written.
struct Needle<'a> {
    /// The bytes before the last one (at most 7).
    head: &'a [u8],
    /// The last byte, the one searched for.
    last: u8,
    /// `last` in every byte of a word, for [`find_byte`].
    splat: u64,
}

impl<'a> Needle<'a> {
    #[inline(always)]
    fn new(delimiter: &'a [u8]) -> Self {
        // A delimiter is never empty (checked by `Delimiter::new`); an empty one would match
        // nothing here rather than panic.
        let (last, head) = match delimiter.split_last() {
            Some((&last, head)) => (last, head),
            None => (0, &[][..]),
        };
        Self {
            head,
            last,
            splat: u64::from_le_bytes([last; 8]),
        }
    }
}

/// Searches `received[*scanned..]` for the delimiter and returns where it starts. On failure,
/// moves `*scanned` to the first byte that could still begin a delimiter. Adds the bytes it
/// looked at to `*examined`.
///
/// It looks for the delimiter's last byte with [`find_byte`] and compares the bytes before it
/// one by one (at most 7, which beats a call to memcmp); every byte is searched at most once
/// over the framer's life.
#[inline(always)]
fn find_delimiter(
    received: &[u8],
    needle: &Needle<'_>,
    scanned: &mut usize,
    examined: &mut u64,
) -> Option<usize> {
    let head = needle.head;
    let tail = head.len();
    loop {
        let from = *scanned + tail;
        let haystack = received.get(from..)?;
        let Some(offset) = find_byte(needle.last, needle.splat, haystack) else {
            *examined += haystack.len() as u64;
            *scanned = received.len().saturating_sub(tail).max(*scanned);
            return None;
        };
        let at = *scanned + offset;
        *examined += (offset + 1 + tail) as u64;
        let matches = received
            .get(at..at + tail)
            .is_some_and(|before| before.iter().zip(head).all(|(a, b)| a == b));
        if matches {
            return Some(at);
        }
        *scanned = at + 1;
    }
}

/// Bytes [`find_byte`] searches a word at a time before handing the rest to memchr. Short
/// lines end within it, and their search then costs a few instructions instead of memchr's
/// setup; a long line pays the word loop once and gets memchr's vector loop for the rest.
const WORD_SEARCH_LEN: usize = 64;

/// The position of the first `needle` in `haystack`; `splat` is `needle` in every byte.
///
/// The first [`WORD_SEARCH_LEN`] bytes are searched sixteen at a time as two `u64` words,
/// with the "has a zero byte" test on `word ^ needle`: `(x - 0x01..01) & !x & 0x80..80` sets
/// the high bit of every zero byte of `x`, and of no byte below the lowest zero byte (a false
/// mark needs a borrow, which only a zero byte starts), so its lowest mark is exact. Both
/// words are tested before one branch. A shorter end is searched byte by byte; bytes past
/// [`WORD_SEARCH_LEN`] go to memchr.
#[inline(always)]
fn find_byte(needle: u8, splat: u64, haystack: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    let marks = |word: &[u8; 8]| {
        let x = u64::from_le_bytes(*word) ^ splat;
        x.wrapping_sub(ONES) & !x & HIGHS
    };
    let mut offset = 0;
    while offset < WORD_SEARCH_LEN {
        let Some(block) = haystack.get(offset..offset + 16) else {
            // Fewer than sixteen bytes left.
            let rest = haystack.get(offset..).unwrap_or(&[]);
            return rest.iter().position(|&b| b == needle).map(|i| offset + i);
        };
        let (Some(low), Some(high)) = (block.first_chunk::<8>(), block.last_chunk::<8>()) else {
            // A 16-byte block has both.
            return None;
        };
        let (low, high) = (marks(low), marks(high));
        if low | high != 0 {
            let at = if low != 0 {
                low.trailing_zeros()
            } else {
                64 + high.trailing_zeros()
            };
            return Some(offset + (at / 8) as usize);
        }
        offset += 16;
    }
    let rest = haystack.get(offset..).unwrap_or(&[]);
    memchr::memchr(needle, rest).map(|i| offset + i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec as StdVec;

    fn framer<const N: usize>(delimiter: &[u8], max_line: usize) -> Framer<N> {
        Framer::new(Delimiter::new(delimiter).unwrap(), max_line).unwrap()
    }

    /// Feeds `input` in chunks of `chunk` bytes and collects every frame, as owned values.
    fn frames<const N: usize>(
        f: &mut Framer<N>,
        input: &[u8],
        chunk: usize,
    ) -> StdVec<Option<StdVec<u8>>> {
        let mut out = StdVec::new();
        for mut piece in input.chunks(chunk.max(1)) {
            while !piece.is_empty() {
                let space = f.space();
                assert!(
                    !space.is_empty(),
                    "framer refused input with no frame pending"
                );
                let n = space.len().min(piece.len());
                space[..n].copy_from_slice(&piece[..n]);
                f.commit(n);
                piece = &piece[n..];
                while let Some(frame) = f.next_frame() {
                    out.push(match frame {
                        Frame::Line(line) => Some(line.to_vec()),
                        Frame::TooLong => None,
                    });
                }
            }
        }
        out
    }

    fn line(bytes: &[u8]) -> Option<StdVec<u8>> {
        Some(bytes.to_vec())
    }

    #[test]
    fn find_byte_agrees_with_a_plain_search_at_every_position_and_length() {
        // Lengths around the word size and the hand-over to memchr; every byte value, so
        // that the word test's carries (0x80 and 0x00 neighbours) are covered.
        for len in [0, 1, 7, 8, 9, 63, 64, 65, 200] {
            let haystack: StdVec<u8> = (0..len).map(|i| (i * 37 % 256) as u8).collect();
            for needle in 0..=255u8 {
                assert_eq!(
                    find_byte(needle, u64::from_le_bytes([needle; 8]), &haystack),
                    haystack.iter().position(|&b| b == needle),
                    "needle {needle} in {len} bytes"
                );
            }
        }
        for needle in [0u8, 0x7f, 0x80, 0xff] {
            for len in [8, 16, 64, 100] {
                for at in 0..len {
                    let mut haystack = StdVec::from_iter((0..len).map(|_| needle ^ 0x80));
                    haystack[at] = needle;
                    let splat = u64::from_le_bytes([needle; 8]);
                    assert_eq!(find_byte(needle, splat, &haystack), Some(at));
                }
            }
        }
    }

    #[test]
    fn finds_every_line_in_one_read() {
        let mut f = framer::<64>(b"\r\n", 16);
        assert_eq!(
            frames(&mut f, b"a\r\nbc\r\n\r\n", 64),
            [line(b"a"), line(b"bc"), line(b"")]
        );
    }

    #[test]
    fn delimiter_split_across_reads_is_found() {
        for chunk in 1..=4 {
            let mut f = framer::<64>(b"\r\n", 16);
            assert_eq!(
                frames(&mut f, b"ab\r\ncd\r\n", chunk),
                [line(b"ab"), line(b"cd")]
            );
        }
    }

    #[test]
    fn bare_cr_and_lf_are_data() {
        let mut f = framer::<64>(b"\r\n", 16);
        assert_eq!(frames(&mut f, b"a\rb\nc\r\n", 1), [line(b"a\rb\nc")]);
    }

    #[test]
    fn self_overlapping_delimiter_ends_at_its_first_occurrence() {
        let mut f = framer::<64>(b"aab", 16);
        assert_eq!(frames(&mut f, b"xaaabyaab", 1), [line(b"xa"), line(b"y")]);
        let mut f = framer::<64>(b"\r\r\n", 16);
        assert_eq!(
            frames(&mut f, b"x\r\r\r\ny\r\r\n", 2),
            [line(b"x\r"), line(b"y")]
        );
    }

    #[test]
    fn line_at_the_limit_passes_and_one_over_is_reported_once() {
        let mut f = framer::<64>(b"\r\n", 4);
        assert_eq!(
            frames(&mut f, b"abcd\r\nabcde\r\nok\r\n", 1),
            [line(b"abcd"), None, line(b"ok")]
        );
        let mut f = framer::<64>(b"\r\n", 4);
        assert_eq!(frames(&mut f, b"abcde\r\nok\r\n", 64), [None, line(b"ok")]);
    }

    #[test]
    fn overlong_line_is_reported_before_its_delimiter_and_memory_stays_bounded() {
        let mut f = framer::<16>(b"\r\n", 8);
        let mut reported = 0;
        for _ in 0..10_000 {
            let space = f.space();
            assert!(!space.is_empty());
            space[0] = b'x';
            f.commit(1);
            while let Some(frame) = f.next_frame() {
                assert_eq!(frame, Frame::TooLong);
                reported += 1;
            }
            assert!(f.buffered() <= 16);
        }
        assert_eq!(reported, 1);
        assert_eq!(frames(&mut f, b"\r\nnext\r\n", 3), [line(b"next")]);
    }

    #[test]
    fn delimiter_bytes_straddling_the_discard_point_still_end_the_overlong_line() {
        let mut f = framer::<16>(b"abc", 4);
        assert_eq!(frames(&mut f, b"xxxxxxxxab", 10), [None]);
        assert_eq!(frames(&mut f, b"cok\nabc", 1), [line(b"ok\n")]);
    }

    #[test]
    fn finish_turns_the_remainder_into_the_last_line() {
        let mut f = framer::<64>(b"\r\n", 16);
        assert_eq!(frames(&mut f, b"a\r\ntail\r", 64), [line(b"a")]);
        f.finish();
        assert_eq!(f.next_frame(), Some(Frame::Line(b"tail\r")));
        assert_eq!(f.next_frame(), None);
        assert!(f.space().is_empty());
    }

    #[test]
    fn finish_with_nothing_left_or_while_discarding_yields_nothing() {
        let mut f = framer::<64>(b"\r\n", 16);
        frames(&mut f, b"a\r\n", 64);
        f.finish();
        assert_eq!(f.next_frame(), None);

        let mut f = framer::<16>(b"\r\n", 4);
        assert_eq!(frames(&mut f, b"xxxxxxxxx", 64), [None]);
        f.finish();
        assert_eq!(f.next_frame(), None);
    }

    #[test]
    fn finish_reports_an_overlong_remainder() {
        let mut f = framer::<16>(b"\r\n", 4);
        frames(&mut f, b"abcde", 64);
        f.finish();
        assert_eq!(f.next_frame(), Some(Frame::TooLong));
        assert_eq!(f.next_frame(), None);
    }

    #[test]
    fn peek_shows_the_same_frame_until_advance() {
        let mut f = framer::<64>(b"\n", 16);
        let space = f.space();
        space[..4].copy_from_slice(b"a\nb\n");
        f.commit(4);
        assert_eq!(f.peek(), Some(Frame::Line(b"a")));
        assert_eq!(f.peek(), Some(Frame::Line(b"a")));
        assert!(f.has_pending_frame());
        f.advance();
        assert_eq!(f.next_frame(), Some(Frame::Line(b"b")));
        assert!(!f.has_pending_frame());
    }

    #[test]
    fn a_read_that_fills_the_space_is_offered_more_next_time() {
        // Regression: the buffer only grew when half full of unfinished lines, so a busy
        // connection of short lines read 1 KiB per system call forever.
        let mut f = framer::<8192>(b"\n", 4096);
        let offered = f.space().len();
        f.space().fill(b'\n');
        f.commit(offered);
        while f.next_frame().is_some() {}
        assert!(f.space().len() > offered);
        // A read that did not fill it leaves the size alone.
        let offered = f.space().len();
        f.commit(1);
        while f.next_frame().is_some() {}
        assert_eq!(f.space().len(), offered);
    }

    #[test]
    fn commit_beyond_the_offered_space_is_clamped() {
        let mut f = framer::<8>(b"\n", 4);
        let offered = f.space().len();
        f.commit(usize::MAX);
        assert_eq!(f.buffered(), offered);
    }

    #[test]
    fn capacity_must_hold_a_line_at_the_limit_plus_its_delimiter() {
        let d = Delimiter::new(b"\r\n").unwrap();
        assert!(Framer::<10>::new(d.clone(), 8).is_ok());
        assert_eq!(
            Framer::<10>::new(d.clone(), 9).err(),
            Some(ConfigError::MaxLineOverCapacity {
                max_line: 9,
                capacity: 8
            })
        );
        assert_eq!(
            Framer::<10>::new(d, 0).err(),
            Some(ConfigError::ZeroMaxLine)
        );
    }

    #[test]
    fn a_full_buffer_of_one_line_at_the_limit_still_sees_its_delimiter() {
        // N = max_line + delimiter: the tightest legal buffer.
        let mut f = framer::<10>(b"\r\n", 8);
        assert_eq!(
            frames(&mut f, b"12345678\r\nabcdefgh\r\n", 3),
            [line(b"12345678"), line(b"abcdefgh")]
        );
    }
}
