//! Delimiter framing over a fixed-capacity input buffer that the caller provides.
//!
//! The framing itself is a `Scan`: a few indices into a buffer it does not own, so that the
//! session keeps its input in the caller's storage and can give that storage back between
//! lines. [`Framer`] pairs a scan with a buffer and a delimiter for anyone who wants framing on
//! its own (the client splits replies with it): read straight into [`Framer::space`], report
//! how much arrived with [`Framer::commit`], and take [`Frame`]s with [`Framer::next_frame`]
//! (or [`Framer::peek`] then [`Framer::advance`], to decide first whether there is room for the
//! answer).
//!
//! The search for the delimiter resumes where the last one stopped, backed off by
//! `delimiter.len() - 1` bytes so that a delimiter split across reads is still found (the seed's
//! `start`). Total search work is therefore linear in the bytes fed, however they are chunked;
//! [`Framer::bytes_examined`] counts it so that tests can check that without timing anything.
//! There is one search (`find_delimiter`); every frame, the session's included, comes from it.
//!
//! A line longer than `max_line` is reported once as [`Frame::TooLong`] as soon as that is
//! certain, and its bytes are dropped up to and including its delimiter (tokio-util's
//! "discarding" mode), so memory never grows with the line.

use crate::bytes;
use crate::config::{ConfigError, Delimiter};

/// One unit of input found by the framer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Frame<'a> {
    /// A complete line, without its delimiter. At end of input, also the last unterminated
    /// line if it is not empty.
    Line(&'a [u8]),
    /// A line longer than the limit. Reported once; its bytes are dropped through its
    /// delimiter.
    TooLong,
}

/// A frame located by [`Scan::peek`], as slices of the buffer it was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Found<'b> {
    /// A line within the limit, and the line as it was received: followed by its delimiter,
    /// or alone when it ended with the input.
    Line { line: &'b [u8], received: &'b [u8] },
    /// A line over the limit.
    TooLong,
}

impl<'b> Found<'b> {
    /// The frame, as the framer hands it out.
    pub(crate) fn frame(self) -> Frame<'b> {
        match self {
            Self::Line { line, .. } => Frame::Line(line),
            Self::TooLong => Frame::TooLong,
        }
    }
}

/// A delimiter prepared for [`find_delimiter`]: split and spread once per batch of lines, not
/// once per line.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Needle<'d> {
    /// The bytes before the last one (at most 7).
    head: &'d [u8],
    /// The last byte, the one searched for.
    last: u8,
    /// `last` in every byte of a word, for [`find_byte`].
    splat: u64,
}

impl<'d> Needle<'d> {
    /// Prepares `delimiter`, which is never empty (`Delimiter::new` checks); an empty one
    /// would match nothing.
    #[inline]
    pub(crate) fn new(delimiter: &'d [u8]) -> Self {
        let (last, head) = match delimiter.split_last() {
            Some((&last, head)) => (last, head),
            None => {
                debug_assert!(false, "an empty delimiter");
                (0, &[][..])
            }
        };
        Self {
            head,
            last,
            // Only the word search uses it; a 32-bit target would multiply in software.
            splat: if bytes::TUNED_FOR_SPEED {
                u64::from_le_bytes([last; 8])
            } else {
                0
            },
        }
    }

    /// The delimiter's length.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.head.len() + 1
    }
}

/// A kind of frame, located: where it ends follows from the scan's indices, so it costs one
/// byte (a session's whole state stays within 64 bytes on a 32-bit target). Kept in the scan
/// only while a frame is held back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Pending {
    /// Nothing held back.
    #[default]
    None,
    /// A line ended by the delimiter that starts at `scanned`.
    Delimited,
    /// The last line, unterminated, up to `end` (after [`Scan::finish`]).
    Last,
    /// A line already longer than the limit whose delimiter has not arrived: everything
    /// before `scanned` is dropped and the rest of the line after it.
    Overlong,
}

/// What happens to input after the bytes received so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum InputEnd {
    /// More input may come.
    #[default]
    Open,
    /// Input has ended: an unterminated remainder is the last line.
    Finished,
    /// Input was cut off: complete lines count, an unterminated remainder is dropped.
    Cut,
}

/// The framing state: indices into an input buffer held elsewhere, with
/// `start <= scanned <= end <= buffer.len()`.
///
/// Every method that looks at bytes takes the buffer, the delimiter and the limit as
/// arguments, always the same ones; the scan itself holds none of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Scan {
    /// Start of the first byte not yet handed out or dropped.
    start: usize,
    /// The delimiter search resumes here: no delimiter starts in `start..scanned`.
    scanned: usize,
    /// End of the bytes received.
    end: usize,
    pending: Pending,
    /// Inside a too-long line that was already reported: drop bytes until its delimiter.
    discarding: bool,
    input_end: InputEnd,
}

impl Scan {
    /// Bytes received and not yet handed out or dropped.
    pub(crate) fn buffered(&self) -> usize {
        self.end - self.start
    }

    /// Whether a frame located by [`Scan::peek`] waits for [`Scan::advance`].
    pub(crate) fn has_pending(&self) -> bool {
        self.pending != Pending::None
    }

    /// Whether [`Scan::finish`] or [`Scan::cut`] was called.
    pub(crate) fn has_ended(&self) -> bool {
        self.input_end != InputEnd::Open
    }

    /// Starts over at the front of the buffer; only when nothing is buffered or pending, so
    /// that no byte is lost (the buffer may then be swapped for another).
    pub(crate) fn rebase(&mut self) {
        debug_assert!(self.buffered() == 0 && !self.has_pending());
        self.start = 0;
        self.scanned = 0;
        self.end = 0;
    }

    /// The free space of `buffer` to read into, after the bytes received. Empty once input has
    /// ended. Bytes already handed out are dropped first to make room, unless a located frame
    /// (whose indices must stay valid) is pending.
    pub(crate) fn space<'b>(&mut self, buffer: &'b mut [u8]) -> &'b mut [u8] {
        if self.has_ended() {
            return &mut [];
        }
        if !self.has_pending() {
            self.reclaim(buffer);
        }
        match buffer.get_mut(self.end..) {
            Some(space) => space,
            None => {
                debug_assert!(false, "scan indices past the buffer");
                &mut []
            }
        }
    }

    /// Makes room at the back by dropping bytes already handed out at the front.
    fn reclaim(&mut self, buffer: &mut [u8]) {
        if self.start == self.end {
            // Everything was consumed: start over at the front for free.
            self.start = 0;
            self.scanned = 0;
            self.end = 0;
        } else if self.start > 0 && buffer.len().saturating_sub(self.end) <= buffer.len() / 2 {
            // Move the unfinished line to the front. Each byte is moved at most once while
            // its line is unfinished (afterwards `start` is 0), so this stays linear.
            let Some(received) = buffer.get_mut(..self.end) else {
                debug_assert!(false, "scan indices past the buffer");
                return;
            };
            bytes::move_to_front(received, self.start);
            self.scanned -= self.start;
            self.end -= self.start;
            self.start = 0;
        }
    }

    /// Records that up to `n` bytes were written at the front of the space of a buffer of
    /// `capacity` bytes; more than the space is clamped to it. Returns the bytes taken.
    pub(crate) fn commit(&mut self, n: usize, capacity: usize) -> usize {
        if self.has_ended() {
            return 0;
        }
        let taken = n.min(capacity.saturating_sub(self.end));
        self.end += taken;
        taken
    }

    /// Declares the end of input: an unterminated remainder, if not empty, becomes the last
    /// line. Further input is refused.
    pub(crate) fn finish(&mut self) {
        self.input_end = InputEnd::Finished;
    }

    /// Cuts input off: complete lines already received still count, an unterminated
    /// remainder is dropped. Further input is refused.
    pub(crate) fn cut(&mut self) {
        self.input_end = InputEnd::Cut;
    }

    /// Drops everything received and refuses further input: nothing more will be framed.
    pub(crate) fn stop(&mut self) {
        self.start = self.end;
        self.scanned = self.end;
        self.pending = Pending::None;
        self.discarding = false;
        self.input_end = InputEnd::Cut;
    }

    /// Hands the frames of `buffer` to `each`, in order, until `each` says to stop or none is
    /// left: a frame held back before comes first. Adds the bytes the search looks at to
    /// `examined`.
    ///
    /// This is the one loop that frames input, for the session and the [`Framer`] alike. It
    /// works on a copy of the scan, written back once, so that the compiler keeps the indices
    /// in registers while `each` writes replies elsewhere.
    #[inline]
    pub(crate) fn frames<'b>(
        &mut self,
        buffer: &'b [u8],
        needle: &Needle<'_>,
        max_line: usize,
        examined: &mut u64,
        mut each: impl FnMut(Found<'b>) -> Flow,
    ) {
        let Some(received) = buffer.get(..self.end) else {
            debug_assert!(false, "scan indices past the buffer");
            return;
        };
        let mut scan = *self;
        loop {
            let located = match scan.pending {
                Pending::None => match scan.locate(received, needle, max_line, examined) {
                    Some(located) => located,
                    None => break,
                },
                // Shown before and held back: the same frame again.
                held => scan.relocate(held, needle.len()),
            };
            match each(scan.found(located, received, max_line)) {
                Flow::Take => scan.take(located),
                Flow::TakeAndPause => {
                    scan.take(located);
                    break;
                }
                Flow::Hold => {
                    scan.pending = located.kind;
                    break;
                }
                Flow::Stop => {
                    scan.stop();
                    break;
                }
            }
        }
        *self = scan;
    }

    /// Takes the frame held back by [`Flow::Hold`], if any.
    pub(crate) fn take_held(&mut self, delimiter_len: usize) {
        if self.pending != Pending::None {
            self.take(self.relocate(self.pending, delimiter_len));
        }
    }

    /// Where the frame of `kind`, held back, is: as [`Scan::locate`] found it.
    fn relocate(&self, kind: Pending, delimiter_len: usize) -> Located {
        let (end, next) = match kind {
            Pending::Delimited => (self.scanned, self.scanned + delimiter_len),
            Pending::Last => (self.end, self.end),
            Pending::Overlong | Pending::None => (self.scanned, self.scanned),
        };
        Located { kind, end, next }
    }

    /// The frame `located` describes, at the front of what was received.
    #[inline]
    fn found<'b>(&self, located: Located, received: &'b [u8], max_line: usize) -> Found<'b> {
        if located.kind == Pending::Overlong || located.end - self.start > max_line {
            return Found::TooLong;
        }
        match received.get(self.start..located.next) {
            Some(with_delimiter) => Found::Line {
                line: with_delimiter
                    .get(..located.end - self.start)
                    .unwrap_or_default(),
                received: with_delimiter,
            },
            None => {
                debug_assert!(false, "a located line past the buffer");
                Found::TooLong
            }
        }
    }

    /// Moves past the frame `located` describes.
    #[inline]
    fn take(&mut self, located: Located) {
        self.pending = Pending::None;
        self.start = located.next;
        self.scanned = located.next;
        // Past an overlong line's start, the rest of it is dropped up to its delimiter.
        self.discarding = located.kind == Pending::Overlong;
    }

    /// Locates the next frame in `received`, if there is one.
    #[inline]
    fn locate(
        &mut self,
        received: &[u8],
        needle: &Needle<'_>,
        max_line: usize,
        examined: &mut u64,
    ) -> Option<Located> {
        loop {
            let Some(at) = find_delimiter(received, needle, &mut self.scanned, examined) else {
                let kind = self.without_delimiter(max_line)?;
                return Some(self.relocate(kind, needle.len()));
            };
            if self.discarding {
                // The tail of a line already reported as too long: drop it and go on.
                self.discarding = false;
                self.start = at + needle.len();
                self.scanned = self.start;
                continue;
            }
            // The search resumes at the delimiter: a frame held back costs its length to
            // locate again.
            self.scanned = at;
            return Some(Located {
                kind: Pending::Delimited,
                end: at,
                next: at + needle.len(),
            });
        }
    }

    /// What the bytes after the last delimiter amount to.
    fn without_delimiter(&mut self, max_line: usize) -> Option<Pending> {
        match self.input_end {
            InputEnd::Open if self.discarding => {
                // Bytes before `scanned` cannot be part of the delimiter: drop them now.
                self.start = self.scanned;
                None
            }
            // Certainly too long already, whatever comes next: report it now and free the
            // memory instead of waiting for the delimiter. Input cut off while this was held
            // back changes nothing: the reply was owed before the cut.
            InputEnd::Open | InputEnd::Cut
                if !self.discarding && self.scanned - self.start > max_line =>
            {
                Some(Pending::Overlong)
            }
            InputEnd::Open => None,
            InputEnd::Finished if !self.discarding && self.start < self.end => Some(Pending::Last),
            // Nothing left, the tail of a discarded line, or a remainder cut off: dropped.
            InputEnd::Finished | InputEnd::Cut => {
                self.discarding = false;
                self.start = self.end;
                self.scanned = self.end;
                None
            }
        }
    }
}

/// A frame located: its kind, where its line ends, and where the next frame starts.
#[derive(Debug, Clone, Copy)]
struct Located {
    kind: Pending,
    end: usize,
    next: usize,
}

/// What the caller of [`Scan::frames`] does with the frame it was shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    /// Take it and go on to the next.
    Take,
    /// Take it and stop there.
    TakeAndPause,
    /// Leave it for next time (backpressure, or a peek) and stop.
    Hold,
    /// Drop it and everything after: no frame will come again (the quit line).
    Stop,
}

/// Searches `received[*scanned..]` for `delimiter` and returns where it starts. On failure,
/// moves `*scanned` to the first byte that could still begin a delimiter. Adds the bytes it
/// looked at to `*examined`.
///
/// It looks for the delimiter's last byte with [`find_byte`] and compares the bytes before it
/// (at most 7); every byte is searched at most once over the scan's life.
#[inline(always)]
fn find_delimiter(
    received: &[u8],
    needle: &Needle<'_>,
    scanned: &mut usize,
    examined: &mut u64,
) -> Option<usize> {
    let tail = needle.head.len();
    loop {
        let from = *scanned + tail;
        let haystack = received.get(from..)?;
        let Some(offset) = find_byte(needle.last, needle.splat, haystack) else {
            *examined += haystack.len() as u64;
            *scanned = received.len() - tail;
            return None;
        };
        let at = *scanned + offset;
        *examined += (offset + 1 + tail) as u64;
        // Byte by byte: at most seven, fewer instructions than a call to memcmp.
        let matches = received
            .get(at..at + tail)
            .is_some_and(|before| before.iter().zip(needle.head).all(|(a, b)| a == b));
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
/// On 64-bit targets ([`TUNED_FOR_SPEED`](bytes::TUNED_FOR_SPEED)) the first [`WORD_SEARCH_LEN`] bytes are searched sixteen at a time as two `u64` words,
/// with the "has a zero byte" test on `word ^ needle`: `(x - 0x01..01) & !x & 0x80..80` sets
/// the high bit of every zero byte of `x`, and of no byte below the lowest zero byte (a false
/// mark needs a borrow, which only a zero byte starts), so its lowest mark is exact. A shorter
/// end is searched byte by byte; bytes past [`WORD_SEARCH_LEN`] go to memchr.
#[inline(always)]
fn find_byte(needle: u8, splat: u64, haystack: &[u8]) -> Option<usize> {
    if bytes::TUNED_FOR_SPEED {
        find_byte_by_words(needle, splat, haystack)
    } else {
        find_byte_by_bytes(needle, haystack)
    }
}

/// [`find_byte`] a byte at a time: the least code, for targets where flash is scarcer than
/// cycles.
#[inline(always)]
fn find_byte_by_bytes(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

/// [`find_byte`] a word at a time, then memchr, for targets where a `u64` is one register.
#[inline(always)]
fn find_byte_by_words(needle: u8, splat: u64, haystack: &[u8]) -> Option<usize> {
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
            let rest = haystack.get(offset..).unwrap_or_default();
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
    let rest = haystack.get(offset..).unwrap_or_default();
    memchr::memchr(needle, rest).map(|i| offset + i)
}

/// Splits a byte stream into lines, in a buffer of fixed capacity.
///
/// The buffer `B` is yours: an array (`[u8; 64]`), a borrowed slice, a `Box<[u8]>`. It must
/// hold the longest line plus its delimiter: `max_line + delimiter.len() <= capacity`.
///
/// ```
/// use chatecho_core::{Delimiter, Frame, Framer};
/// let mut framer = Framer::new([0u8; 64], Delimiter::new(b"\r\n")?, 16)?;
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
pub struct Framer<B> {
    buffer: B,
    scan: Scan,
    delimiter: Delimiter,
    max_line: usize,
    bytes_examined: u64,
}

impl<B: AsRef<[u8]> + AsMut<[u8]>> Framer<B> {
    /// Creates a framer over `buffer` for `delimiter` and lines of at most `max_line` bytes.
    ///
    /// Fails with [`ConfigError::ZeroMaxLine`] when `max_line` is 0, or
    /// [`ConfigError::InputTooSmall`] when a line at the limit plus its delimiter would not
    /// fit the buffer.
    pub fn new(buffer: B, delimiter: Delimiter, max_line: usize) -> Result<Self, ConfigError> {
        if max_line == 0 {
            return Err(ConfigError::ZeroMaxLine);
        }
        let needed = crate::capacity::input(max_line, delimiter.len());
        let capacity = buffer.as_ref().len();
        if needed > capacity {
            return Err(ConfigError::InputTooSmall { needed, capacity });
        }
        Ok(Self {
            buffer,
            scan: Scan::default(),
            delimiter,
            max_line,
            bytes_examined: 0,
        })
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
        self.scan.buffered()
    }

    /// How many bytes the delimiter search has looked at since creation. Linear in the bytes
    /// committed, whatever their chunking; exposed so that tests can count work instead of
    /// timing it.
    pub fn bytes_examined(&self) -> u64 {
        self.bytes_examined
    }

    /// Whether [`Framer::finish`] was called.
    pub fn is_finished(&self) -> bool {
        self.scan.has_ended()
    }

    /// The free space to read into, after the bytes already received. Empty when the buffer
    /// is full of frames not yet taken, or after [`Framer::finish`].
    pub fn space(&mut self) -> &mut [u8] {
        self.scan.space(self.buffer.as_mut())
    }

    /// Records that `n` bytes were written at the front of [`Framer::space`]. A count beyond
    /// that space is clamped to it.
    pub fn commit(&mut self, n: usize) {
        let capacity = self.buffer.as_ref().len();
        self.scan.commit(n, capacity);
    }

    /// Declares the end of input: the unterminated remainder, if not empty, becomes the last
    /// [`Frame::Line`] (or [`Frame::TooLong`]). Further input is refused.
    pub fn finish(&mut self) {
        self.scan.finish();
    }

    /// Takes the next frame, if one is complete.
    pub fn next_frame(&mut self) -> Option<Frame<'_>> {
        self.shown(Flow::TakeAndPause)
    }

    /// Shows the next frame without taking it: the same frame is shown until
    /// [`Framer::advance`] is called.
    pub fn peek(&mut self) -> Option<Frame<'_>> {
        self.shown(Flow::Hold)
    }

    /// Whether a frame shown by [`Framer::peek`] is waiting to be taken.
    pub fn has_pending_frame(&self) -> bool {
        self.scan.has_pending()
    }

    /// Takes the frame last shown by [`Framer::peek`]. Does nothing if none was shown.
    pub fn advance(&mut self) {
        self.scan.take_held(self.delimiter.len());
    }

    /// The next frame, then `flow` applied to it.
    fn shown(&mut self, flow: Flow) -> Option<Frame<'_>> {
        let needle = Needle::new(self.delimiter.as_bytes());
        let mut shown = None;
        self.scan.frames(
            self.buffer.as_ref(),
            &needle,
            self.max_line,
            &mut self.bytes_examined,
            |found| {
                shown = Some(found.frame());
                flow
            },
        );
        shown
    }

    /// The buffer back, for reuse.
    pub fn into_buffer(self) -> B {
        self.buffer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec as StdVec;

    fn framer<const N: usize>(delimiter: &[u8], max_line: usize) -> Framer<[u8; N]> {
        Framer::new([0; N], Delimiter::new(delimiter).unwrap(), max_line).unwrap()
    }

    /// Feeds `input` in chunks of `chunk` bytes and collects every frame, as owned values.
    fn frames<B: AsRef<[u8]> + AsMut<[u8]>>(
        f: &mut Framer<B>,
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
        // Both searches, whichever this target uses. Lengths around the word size and the
        // hand-over to memchr; every byte value, so that the word test's carries (0x80 and
        // 0x00 neighbours) are covered.
        let by_bytes = |needle, _splat, haystack: &[u8]| find_byte_by_bytes(needle, haystack);
        for find_byte in [find_byte_by_words, by_bytes] {
            for len in [0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 200] {
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
    fn finish_after_a_discarded_tail_still_frames_the_lines_behind_it() {
        let mut f = framer::<16>(b"\r\n", 4);
        assert_eq!(frames(&mut f, b"xxxxxxx", 64), [None]);
        let space = f.space();
        space[..8].copy_from_slice(b"x\r\nok\r\nz");
        f.commit(8);
        f.finish();
        assert_eq!(f.next_frame(), Some(Frame::Line(b"ok")));
        assert_eq!(f.next_frame(), Some(Frame::Line(b"z")));
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
    fn the_whole_free_space_is_offered() {
        let mut f = framer::<8192>(b"\n", 4096);
        assert_eq!(f.space().len(), 8192);
        f.commit(100);
        assert_eq!(f.space().len(), 8092);
    }

    #[test]
    fn commit_beyond_the_offered_space_is_clamped() {
        let mut f = framer::<8>(b"\n", 4);
        let offered = f.space().len();
        f.commit(usize::MAX);
        assert_eq!(f.buffered(), offered);
        f.commit(1);
        assert_eq!(f.buffered(), offered);
    }

    #[test]
    fn capacity_must_hold_a_line_at_the_limit_plus_its_delimiter() {
        let d = Delimiter::new(b"\r\n").unwrap();
        assert!(Framer::new([0u8; 10], d.clone(), 8).is_ok());
        assert_eq!(
            Framer::new([0u8; 10], d.clone(), 9).err(),
            Some(ConfigError::InputTooSmall {
                needed: 11,
                capacity: 10
            })
        );
        assert_eq!(
            Framer::new([0u8; 10], d, 0).err(),
            Some(ConfigError::ZeroMaxLine)
        );
    }

    #[test]
    fn a_full_buffer_of_one_line_at_the_limit_still_sees_its_delimiter() {
        // capacity = max_line + delimiter: the tightest legal buffer.
        let mut f = framer::<10>(b"\r\n", 8);
        assert_eq!(
            frames(&mut f, b"12345678\r\nabcdefgh\r\n", 3),
            [line(b"12345678"), line(b"abcdefgh")]
        );
    }

    #[test]
    fn a_borrowed_buffer_works_like_an_owned_one_and_comes_back() {
        let mut memory = [0u8; 32];
        let mut f = Framer::new(&mut memory[..], Delimiter::new(b"|").unwrap(), 8).unwrap();
        assert_eq!(frames(&mut f, b"ab|cd|", 2), [line(b"ab"), line(b"cd")]);
        assert_eq!(f.into_buffer().len(), 32);
    }
}
