//! The echo protocol as a sans-IO state machine: bytes in, replies out, nothing else.
//!
//! A [`Session`] is one connection's conversation. It borrows a shared [`Config`] and works in
//! storage the caller provides (see [`storage`](crate::storage)): an input buffer for bytes
//! received and an output buffer for replies. The caller moves bytes between those buffers
//! and a socket; the session makes every protocol decision (the [crate docs](crate) have the
//! protocol):
//!
//! - each line `L` is answered with prefix + `L` + delimiter, in order;
//! - the quit line stops input; replies already queued are still sent, then
//!   [`State::Closed`];
//! - a line over the limit is answered once with the line-too-long reply and skipped;
//! - at end of input the unterminated last line is answered too;
//! - when the output has no room for the next reply, no more input is taken until the caller
//!   drains output (backpressure): memory never grows.
//!
//! Between lines, when it holds nothing, a session can give its storage back and take it (or
//! other storage) again later; the conversation goes on as if nothing happened.
//!
//! It never does I/O, never blocks, never reads a clock, never allocates and never panics.

use crate::bytes;
use crate::config::{Config, ConfigError};
use crate::framer::{Flow, Found, Needle, Scan};
use crate::queue::Queue;
use crate::reply;
use crate::storage::{Buffers, Refused, Storage, StorageError};

/// A session over the desktop default buffers, inline:
/// [`DEFAULT_INPUT`](crate::capacity::DEFAULT_INPUT) and
/// [`DEFAULT_OUTPUT`](crate::capacity::DEFAULT_OUTPUT) bytes, which accept the default
/// configuration with any delimiter.
pub type DefaultSession<'c> = Session<'c, crate::storage::DefaultBuffers>;

/// Where the conversation is. Once input has ended the reason is part of the state, and it
/// never changes: `Closing(r)` is always followed by `Closed(r)` with the same `r`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum State {
    /// Taking input and answering it.
    Open,
    /// Input has ended; replies are still owed. Send [`Session::output`] until the state
    /// becomes [`State::Closed`].
    Closing(EndReason),
    /// Nothing more will be sent: close the connection.
    Closed(EndReason),
}

impl State {
    /// Why input ended, once it has.
    pub fn end_reason(self) -> Option<EndReason> {
        match self {
            Self::Open => None,
            Self::Closing(reason) | Self::Closed(reason) => Some(reason),
        }
    }

    /// Whether nothing more will be sent.
    pub fn is_closed(self) -> bool {
        matches!(self, Self::Closed(_))
    }
}

/// Why input ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum EndReason {
    /// The peer sent the quit line.
    QuitLine,
    /// The peer finished sending ([`Session::input_eof`]).
    InputEnded,
    /// The caller stopped the session ([`Session::shutdown`]).
    Shutdown,
}

impl core::fmt::Display for EndReason {
    /// The words logs use: `quit line`, `end of input`, `shutdown`.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::QuitLine => "quit line",
            Self::InputEnded => "end of input",
            Self::Shutdown => "shutdown",
        })
    }
}

/// Counters of what a session has done, for logs and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Stats {
    /// Bytes the caller committed as input.
    pub bytes_in: u64,
    /// Bytes the caller reported sent.
    pub bytes_out: u64,
    /// Lines answered with an echo.
    pub lines_echoed: u64,
    /// Lines answered with the line-too-long reply.
    pub lines_too_long: u64,
}

/// One connection's echo protocol, in storage `S` that the caller provides.
///
/// Its own state is a few dozen bytes (at most 64 on a 32-bit target): the framing and queue
/// indices, the end reason, the counters and a reference to the shared [`Config`].
///
/// ```
/// use chatecho_core::{Buffers, Config, EndReason, Session, State};
/// let config = Config::default();
/// let (mut rx, mut tx) = ([0u8; 4098], [0u8; 4108]);
/// let mut session = Session::new(&config, Buffers::borrowed(&mut rx, &mut tx))?;
/// session.feed(b"hello\r\n.\r\nignored\r\n");
/// assert_eq!(session.output(), b"You sent: hello\r\n");
/// assert_eq!(session.state(), State::Closing(EndReason::QuitLine));
/// let sent = session.output().len();
/// session.consume_output(sent);
/// assert_eq!(session.state(), State::Closed(EndReason::QuitLine));
/// # Ok::<(), chatecho_core::ConfigError>(())
/// ```
///
/// # What the caller's counts do
///
/// [`Session::commit_input`] and [`Session::consume_output`] take a count of bytes from the
/// caller. A count past what was offered ([`Session::input_space`]) or waiting
/// ([`Session::output`]) is clamped to it, and a commit while [`Session::wants_input`] is
/// false is ignored: bad counts cannot make the session read bytes that were never written or
/// send bytes twice. They are not reported; the counters ([`Session::stats`]) show what was
/// actually taken.
#[derive(Debug, Clone)]
pub struct Session<'c, S> {
    config: &'c Config,
    storage: Option<S>,
    scan: Scan,
    queue: Queue,
    /// Why input ended: set once, never changed.
    reason: Option<EndReason>,
    stats: Stats,
}

impl<'c, S: Storage> Session<'c, S> {
    /// Creates a session for `config` in `storage`, checking that the configuration is
    /// consistent ([`Config::check`]) and that the buffers are large enough
    /// ([`Config::input_capacity`], [`Config::output_capacity`]).
    pub fn new(config: &'c Config, storage: S) -> Result<Self, ConfigError> {
        let mut session = Self::without_storage(config)?;
        check_storage(config, &storage)?;
        session.storage = Some(storage);
        Ok(session)
    }

    /// Creates a session that holds no storage yet: it takes no input until
    /// [`Session::give_storage`]. A server makes every connection's session this way and
    /// gives it buffers only when the socket has bytes to read.
    pub fn without_storage(config: &'c Config) -> Result<Self, ConfigError> {
        config.check()?;
        Ok(Self {
            config,
            storage: None,
            scan: Scan::default(),
            queue: Queue::default(),
            reason: None,
            stats: Stats::default(),
        })
    }

    /// The configuration this session answers by.
    pub fn config(&self) -> &'c Config {
        self.config
    }

    /// Where the conversation is.
    pub fn state(&self) -> State {
        match self.reason {
            None => State::Open,
            Some(reason) if !self.queue.is_empty() || self.scan.has_pending() => {
                State::Closing(reason)
            }
            Some(reason) => State::Closed(reason),
        }
    }

    /// Why input ended, once it has: the same as `self.state().end_reason()`.
    pub fn end_reason(&self) -> Option<EndReason> {
        self.reason
    }

    /// Whether the session takes input now: open, holding storage, and not held back by a
    /// full output buffer. When false, [`Session::input_space`] is empty.
    pub fn wants_input(&self) -> bool {
        self.reason.is_none() && self.storage.is_some() && !self.scan.has_pending()
    }

    /// Free input space to read into. Empty when input has ended, when the session holds no
    /// storage, or when input is held back by backpressure (drain [`Session::output`] first).
    pub fn input_space(&mut self) -> &mut [u8] {
        if !self.wants_input() {
            return &mut [];
        }
        match self.storage.as_mut() {
            Some(storage) => self.scan.space(storage.buffers().0),
            None => &mut [],
        }
    }

    /// Records that `n` bytes were read into [`Session::input_space`], and answers every line
    /// they complete for which the output has room. See [what the caller's counts
    /// do](Session#what-the-callers-counts-do).
    pub fn commit_input(&mut self, n: usize) {
        if !self.wants_input() {
            return;
        }
        let capacity = self.storage.as_ref().map_or(0, |s| s.input().len());
        let taken = self.scan.commit(n, capacity);
        self.stats.bytes_in += taken as u64;
        self.answer();
    }

    /// Copies as much of `bytes` as the session takes now into its input and answers it, as
    /// [`Session::input_space`] and [`Session::commit_input`] would; returns how many bytes
    /// were taken. Fewer than `bytes.len()` means input is held back (drain
    /// [`Session::output`] and feed the rest) or has ended.
    pub fn feed(&mut self, bytes: &[u8]) -> usize {
        let mut taken = 0;
        loop {
            let rest = bytes.get(taken..).unwrap_or_default();
            let space = self.input_space();
            let n = space.len().min(rest.len());
            if n == 0 {
                return taken;
            }
            if let (Some(space), Some(rest)) = (space.get_mut(..n), rest.get(..n)) {
                space.copy_from_slice(rest);
            }
            self.commit_input(n);
            taken += n;
        }
    }

    /// The peer has finished sending. A non-empty unterminated last line is answered as if it
    /// were terminated; then the session closes once its output is sent.
    pub fn input_eof(&mut self) {
        if self.reason.is_none() {
            self.scan.finish();
            self.end_input(EndReason::InputEnded);
        }
    }

    /// Stops taking input, as a server does when shutting down: complete lines already
    /// received are still answered, an unterminated line is not, and the session closes once
    /// its output is sent.
    pub fn shutdown(&mut self) {
        if self.reason.is_none() {
            self.scan.cut();
            self.end_input(EndReason::Shutdown);
        }
    }

    /// Answers what is left after input ended and records why it ended: the quit line, if
    /// it is among the lines still to be answered, else `otherwise`.
    fn end_input(&mut self, otherwise: EndReason) {
        self.answer();
        if self.reason.is_none() {
            // Lines held back by backpressure may include the quit line, which would end
            // input before `otherwise` did: look for it now, so that the reason reported from
            // here on is the one the conversation ends with.
            self.reason = Some(if self.quit_line_ahead() {
                EndReason::QuitLine
            } else {
                otherwise
            });
        }
    }

    /// Whether the quit line is among the lines received and not yet answered. Walks a copy
    /// of the scan (at most one buffer's worth, once per conversation); the real scan and the
    /// buffers are left as they are.
    fn quit_line_ahead(&mut self) -> bool {
        if self.config.quit_line().is_none() {
            return false;
        }
        let scan = self.scan;
        let ahead = self.walk(Walk::LookForQuit);
        self.scan = scan;
        ahead
    }

    /// Replies ready to send, oldest first.
    pub fn output(&self) -> &[u8] {
        match &self.storage {
            Some(storage) => self.queue.waiting(storage.output()),
            None => &[],
        }
    }

    /// Records that the first `n` bytes of [`Session::output`] were sent, which may let
    /// held-back input be answered. See [what the caller's counts
    /// do](Session#what-the-callers-counts-do).
    pub fn consume_output(&mut self, n: usize) {
        let sent = self.queue.consume(n);
        self.stats.bytes_out += sent as u64;
        if self.scan.has_pending() {
            self.answer();
        }
    }

    /// Copies as much of [`Session::output`] as fits into `out` and consumes it; returns how
    /// many bytes were copied.
    pub fn read_output(&mut self, out: &mut [u8]) -> usize {
        let waiting = self.output();
        let n = waiting.len().min(out.len());
        if let (Some(out), Some(waiting)) = (out.get_mut(..n), waiting.get(..n)) {
            out.copy_from_slice(waiting);
        }
        self.consume_output(n);
        n
    }

    /// What the session has done so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Bytes of input received and not yet answered.
    pub fn buffered_input(&self) -> usize {
        self.scan.buffered()
    }

    /// Whether the session holds storage.
    pub fn has_storage(&self) -> bool {
        self.storage.is_some()
    }

    /// Whether the session holds no bytes: no input received and not yet answered, no reply
    /// waiting. Only then can its storage be taken out. A line over the limit that is being
    /// discarded holds no bytes once reported, so it does not count.
    pub fn holds_nothing(&self) -> bool {
        self.queue.is_empty() && self.scan.buffered() == 0
    }

    /// Takes the storage out, when the session holds nothing ([`Session::holds_nothing`]);
    /// give it back (or other storage) with [`Session::give_storage`] before the next input.
    /// The conversation goes on exactly as if the storage had stayed. Refused, with nothing
    /// changed, when there is no storage, input is buffered or output is waiting.
    pub fn take_storage(&mut self) -> Result<S, StorageError> {
        if self.storage.is_none() {
            return Err(StorageError::NoStorage);
        }
        if !self.queue.is_empty() {
            return Err(StorageError::OutputQueued);
        }
        if self.scan.buffered() > 0 {
            return Err(StorageError::InputBuffered);
        }
        // Nothing refers into the buffers any more: the next ones start at their fronts.
        self.scan.rebase();
        self.queue = Queue::default();
        self.storage.take().ok_or(StorageError::NoStorage)
    }

    /// Gives the session storage to work in: what [`Session::take_storage`] took, or any other
    /// storage large enough for the configuration. Refused, and handed back, when the session
    /// already holds storage or a buffer is too small.
    pub fn give_storage(&mut self, storage: S) -> Result<(), Refused<S>> {
        let error = if self.storage.is_some() {
            StorageError::HasStorage
        } else if let Err(error) = check_storage(self.config, &storage) {
            StorageError::TooSmall(error)
        } else {
            self.storage = Some(storage);
            return Ok(());
        };
        Err(Refused { storage, error })
    }

    /// Ends the session and returns its storage, whatever it held.
    pub fn into_storage(self) -> Option<S> {
        self.storage
    }

    /// Starts a new conversation in place, with the same configuration and storage: as a
    /// new session, counters included. What the old one held is dropped.
    pub fn reset(&mut self) {
        self.scan = Scan::default();
        self.queue = Queue::default();
        self.reason = None;
        self.stats = Stats::default();
    }

    /// Answers complete lines in order until none is left, the quit line comes, or the output
    /// has no room (the line then stays pending: backpressure).
    fn answer(&mut self) {
        if self.walk(Walk::Answer) {
            debug_assert!(matches!(self.reason, None | Some(EndReason::QuitLine)));
            self.reason = Some(EndReason::QuitLine);
        }
    }

    /// The one loop over the complete lines received, in order: answers them or only looks
    /// for the quit line ([`Walk`]); returns whether the quit line came. Both share it so that
    /// a microcontroller's flash holds one copy of the framing code, not two (about 500 bytes
    /// on a Cortex-M0).
    fn walk(&mut self, walk: Walk) -> bool {
        let Some(storage) = self.storage.as_mut() else {
            return false;
        };
        let (input, output) = storage.buffers();
        let config = self.config;
        let (prefix, delimiter) = (config.prefix(), config.delimiter().as_bytes());
        let (quit_line, max_line) = (config.quit_line(), config.max_line());
        let needle = Needle::new(delimiter);
        // Copies, written back once: the compiler keeps them in registers instead of
        // reloading them after every reply it writes.
        let (mut queue, mut stats) = (self.queue, self.stats);
        // Looking ahead answers into no room at all, so that every line but the quit line
        // takes the no-room branch below: answering pays for no extra test per line.
        let output = match walk {
            Walk::Answer => output,
            Walk::LookForQuit => {
                queue = Queue::default();
                &mut []
            }
        };
        let (mut examined, mut quit) = (0, false);
        self.scan
            .frames(input, &needle, max_line, &mut examined, |found| {
                let (needed, reply) = match found {
                    Found::Line { line, .. } if Some(line) == quit_line => {
                        quit = true;
                        return match walk {
                            // Bytes after the quit line are ignored: input stops here, for good.
                            Walk::Answer => Flow::Stop,
                            Walk::LookForQuit => Flow::Hold,
                        };
                    }
                    Found::Line { line, received } => {
                        (prefix.len() + line.len() + delimiter.len(), received)
                    }
                    Found::TooLong => (config.too_long_reply().len(), &[][..]),
                };
                let Some(room) = queue.push(output, needed) else {
                    return match walk {
                        // Backpressure: the frame waits until output is drained.
                        Walk::Answer => Flow::Hold,
                        // Not the quit line: passed over.
                        Walk::LookForQuit => Flow::Take,
                    };
                };
                if let Found::Line { .. } = found {
                    reply::write_echo(room, prefix, reply, delimiter);
                    stats.lines_echoed += 1;
                } else {
                    bytes::copy(room, config.too_long_reply());
                    stats.lines_too_long += 1;
                }
                Flow::Take
            });
        if walk == Walk::Answer {
            (self.queue, self.stats) = (queue, stats);
        }
        quit
    }
}

/// What [`Session::walk`] does with the lines it finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Walk {
    /// Answers each, as far as the output has room.
    Answer,
    /// Answers none: only looks for the quit line.
    LookForQuit,
}

/// Checks that `storage`'s buffers are large enough for `config`.
fn check_storage<S: Storage>(config: &Config, storage: &S) -> Result<(), ConfigError> {
    let (needed, capacity) = (config.input_capacity(), storage.input().len());
    if needed > capacity {
        return Err(ConfigError::InputTooSmall { needed, capacity });
    }
    let (needed, capacity) = (config.output_capacity(), storage.output().len());
    if needed > capacity {
        return Err(ConfigError::OutputTooSmall { needed, capacity });
    }
    Ok(())
}

impl<'c> DefaultSession<'c> {
    /// A session for `config` in the default buffers, inline.
    pub fn with_default_buffers(config: &'c Config) -> Result<Self, ConfigError> {
        Self::new(config, Buffers::owned())
    }
}

// A session's own state, besides its storage, fits in 64 bytes on 32-bit targets (checked
// whenever the crate is built for one), and the storage slot costs nothing beyond the storage.
#[cfg(target_pointer_width = "32")]
const _: () = {
    type Borrowed = crate::storage::BorrowedBuffers<'static>;
    let own = core::mem::size_of::<Session<'static, Borrowed>>() - core::mem::size_of::<Borrowed>();
    assert!(own <= 64);
};

#[cfg(test)]
mod tests {
    //! One test per rule of the protocol (docs/protocol.md), in its order, then storage.
    use super::*;
    use crate::storage::{BorrowedBuffers, OwnedBuffers};
    use std::vec::Vec as StdVec;

    type Small<'c> = Session<'c, OwnedBuffers<72, 128>>;

    fn small(config: &Config) -> Small<'_> {
        Session::new(config, Buffers::owned()).unwrap()
    }

    fn session(config: &Config) -> DefaultSession<'_> {
        DefaultSession::with_default_buffers(config).unwrap()
    }

    /// Feeds `input` as far as the session takes it, draining nothing. Returns bytes taken.
    fn feed<S: Storage>(s: &mut Session<'_, S>, input: &[u8]) -> usize {
        s.feed(input)
    }

    fn drain<S: Storage>(s: &mut Session<'_, S>) -> StdVec<u8> {
        let out = s.output().to_vec();
        s.consume_output(out.len());
        out
    }

    // Rule 1: lines end at the delimiter, even split across reads; bare CR / LF are data.
    #[test]
    fn each_line_is_answered_with_prefix_line_delimiter() {
        let config = Config::default();
        let mut s = session(&config);
        feed(&mut s, b"hello\r\n\r\n");
        assert_eq!(drain(&mut s), b"You sent: hello\r\nYou sent: \r\n");
    }

    #[test]
    fn delimiter_split_across_reads_is_found() {
        let config = Config::default();
        let mut s = session(&config);
        feed(&mut s, b"hel");
        feed(&mut s, b"lo\r");
        assert_eq!(s.output(), b"");
        feed(&mut s, b"\n");
        assert_eq!(drain(&mut s), b"You sent: hello\r\n");
    }

    #[test]
    fn bare_cr_and_lf_are_ordinary_data() {
        let config = Config::default();
        let mut s = session(&config);
        feed(&mut s, b"a\rb\nc\r\n");
        assert_eq!(drain(&mut s), b"You sent: a\rb\nc\r\n");
    }

    #[test]
    fn configured_delimiter_is_used_for_lines_and_replies() {
        let config = Config::default().with_delimiter(b"|").unwrap();
        let mut s = session(&config);
        feed(&mut s, b"a|b\r\n|");
        assert_eq!(drain(&mut s), b"You sent: a|You sent: b\r\n|");
    }

    // Rule 2: the quit line.
    #[test]
    fn quit_line_flushes_queued_replies_then_closes_and_ignores_the_rest() {
        let config = Config::default();
        let mut s = session(&config);
        feed(&mut s, b"one\r\n.\r\ntwo\r\n");
        assert_eq!(s.state(), State::Closing(EndReason::QuitLine));
        assert!(s.input_space().is_empty());
        assert_eq!(drain(&mut s), b"You sent: one\r\n");
        assert_eq!(s.state(), State::Closed(EndReason::QuitLine));
        s.commit_input(5);
        s.input_eof();
        assert_eq!(s.output(), b"");
        assert_eq!(s.state(), State::Closed(EndReason::QuitLine));
        // Nothing is held after the quit line: the storage can go.
        assert!(s.take_storage().is_ok());
    }

    #[test]
    fn quit_line_split_across_reads_still_quits() {
        let config = Config::default();
        let mut s = session(&config);
        feed(&mut s, b".");
        feed(&mut s, b"\r");
        assert_eq!(s.state(), State::Open);
        feed(&mut s, b"\n");
        assert_eq!(s.state(), State::Closed(EndReason::QuitLine));
    }

    #[test]
    fn a_line_that_only_starts_with_the_quit_line_is_echoed() {
        let config = Config::default();
        let mut s = session(&config);
        feed(&mut s, b"..\r\n .\r\n");
        assert_eq!(drain(&mut s), b"You sent: ..\r\nYou sent:  .\r\n");
        assert_eq!(s.state(), State::Open);
    }

    #[test]
    fn without_a_quit_line_the_full_stop_is_echoed() {
        let config = Config::default().with_quit_line(None).unwrap();
        let mut s = session(&config);
        feed(&mut s, b".\r\n");
        assert_eq!(drain(&mut s), b"You sent: .\r\n");
    }

    // Rule 3: lines are bytes; replies keep the order of lines.
    #[test]
    fn any_bytes_are_echoed_unchanged_and_in_order() {
        let config = Config::default();
        let mut s = session(&config);
        let mut input = StdVec::new();
        let mut expected = StdVec::new();
        for b in 0..=255u8 {
            if b == b'\r' {
                continue;
            }
            let line = [b, 0, 0xff, b];
            input.extend_from_slice(&line);
            input.extend_from_slice(b"\r\n");
            expected.extend_from_slice(b"You sent: ");
            expected.extend_from_slice(&line);
            expected.extend_from_slice(b"\r\n");
        }
        let mut got = StdVec::new();
        let mut rest = &input[..];
        while !rest.is_empty() {
            let n = feed(&mut s, rest);
            rest = &rest[n..];
            got.extend(drain(&mut s));
        }
        assert_eq!(got, expected);
        assert_eq!(s.stats().lines_echoed, 255);
    }

    // Rule 4: lines over the limit.
    #[test]
    fn overlong_line_gets_one_error_and_the_next_line_is_echoed() {
        let config = Config::default().with_max_line(4).unwrap();
        let mut s = small(&config);
        feed(&mut s, b"abcd\r\nabcde\r\nok\r\n");
        assert_eq!(
            drain(&mut s),
            b"You sent: abcd\r\nERROR line too long (limit 4 bytes)\r\nYou sent: ok\r\n"
        );
        assert_eq!(s.stats().lines_too_long, 1);
    }

    #[test]
    fn endless_line_is_reported_once_in_fixed_memory() {
        let config = Config::default().with_max_line(8).unwrap();
        let mut s = small(&config);
        let mut out = StdVec::new();
        for _ in 0..1000 {
            assert_eq!(feed(&mut s, &[b'x'; 50]), 50);
            out.extend(drain(&mut s));
            assert!(s.buffered_input() <= 72);
        }
        feed(&mut s, b"\r\nafter\r\n");
        out.extend(drain(&mut s));
        assert_eq!(
            out,
            b"ERROR line too long (limit 8 bytes)\r\nYou sent: after\r\n"
        );
    }

    #[test]
    fn custom_error_text_is_used() {
        let config = Config::default()
            .with_max_line(2)
            .unwrap()
            .with_error_text(b"too long")
            .unwrap();
        let mut s = small(&config);
        feed(&mut s, b"abc\r\n");
        assert_eq!(drain(&mut s), b"too long\r\n");
    }

    // Rule 5: end of input.
    #[test]
    fn eof_answers_the_unterminated_last_line_then_closes() {
        let config = Config::default();
        let mut s = session(&config);
        feed(&mut s, b"a\r\nlast");
        s.input_eof();
        assert_eq!(s.state(), State::Closing(EndReason::InputEnded));
        assert_eq!(drain(&mut s), b"You sent: a\r\nYou sent: last\r\n");
        assert_eq!(s.state(), State::Closed(EndReason::InputEnded));
    }

    #[test]
    fn eof_after_a_complete_line_adds_nothing() {
        let config = Config::default();
        let mut s = session(&config);
        feed(&mut s, b"a\r\n");
        s.input_eof();
        assert_eq!(drain(&mut s), b"You sent: a\r\n");
        assert_eq!(s.state(), State::Closed(EndReason::InputEnded));
    }

    #[test]
    fn eof_with_an_unterminated_quit_line_quits() {
        let config = Config::default();
        let mut s = session(&config);
        feed(&mut s, b".");
        s.input_eof();
        assert_eq!(s.output(), b"");
        assert_eq!(s.state(), State::Closed(EndReason::QuitLine));
    }

    /// Regression: the reason read `InputEnded` at end of input and became `QuitLine` once the
    /// lines held back by backpressure reached the quit line.
    #[test]
    fn the_end_reason_is_final_when_first_reported_even_under_backpressure() {
        let config = Config::default().with_max_line(60).unwrap();
        let mut s = Session::new(&config, Buffers::<[u8; 72], [u8; 80]>::owned()).unwrap();
        let line = [b'y'; 60];
        let input = [&line[..], b"\r\n", &line, b"\r\n", b".\r\n"].concat();
        assert_eq!(feed(&mut s, &input), input.len());
        // One reply fits; the second line and the quit line wait behind it.
        assert_eq!(s.output().len(), 72);
        s.input_eof();
        assert_eq!(s.state(), State::Closing(EndReason::QuitLine));
        drain(&mut s);
        assert_eq!(s.state(), State::Closing(EndReason::QuitLine));
        drain(&mut s);
        assert_eq!(s.state(), State::Closed(EndReason::QuitLine));

        // The same for a shutdown: the quit line among complete lines wins.
        let mut s = Session::new(&config, Buffers::<[u8; 72], [u8; 80]>::owned()).unwrap();
        feed(&mut s, &input);
        s.shutdown();
        assert_eq!(s.state(), State::Closing(EndReason::QuitLine));
    }

    /// Regression: a partial line certainly over the limit, seen while output was full, lost
    /// its line-too-long reply when the session was shut down before the output drained;
    /// with room it would have been answered before the shutdown.
    #[test]
    fn a_certainly_too_long_partial_line_held_back_is_still_answered_after_shutdown() {
        let config = Config::default().with_max_line(1).unwrap();
        let mut s = Session::new(&config, Buffers::<[u8; 16], [u8; 40]>::owned()).unwrap();
        // One reply fits; the one to "cc" waits, and "aaa" (certainly too long once its
        // third byte is in) behind it.
        assert_eq!(feed(&mut s, b"bb\r\ncc\r\naaa"), 11);
        assert_eq!(s.output(), b"ERROR line too long (limit 1 bytes)\r\n");
        s.shutdown();
        let mut out = drain(&mut s);
        out.extend(drain(&mut s));
        out.extend(drain(&mut s));
        assert_eq!(
            out,
            [&b"ERROR line too long (limit 1 bytes)\r\n"[..]; 3].concat()
        );
        assert_eq!(s.state(), State::Closed(EndReason::Shutdown));
    }

    // Rule 6: fixed memory and backpressure.
    #[test]
    fn full_output_holds_input_back_until_drained() {
        let config = Config::default().with_max_line(60).unwrap();
        let mut s = Session::new(&config, Buffers::<[u8; 72], [u8; 80]>::owned()).unwrap();
        let line = [b'y'; 60];
        let mut input = StdVec::new();
        for _ in 0..3 {
            input.extend_from_slice(&line);
            input.extend_from_slice(b"\r\n");
        }
        let taken = feed(&mut s, &input);
        assert!(
            taken < input.len(),
            "input must be refused while output is full"
        );
        assert!(!s.wants_input());
        assert!(s.input_space().is_empty());
        assert_eq!(s.output().len(), 72);
        let mut out = drain(&mut s);
        let mut rest = &input[taken..];
        while !rest.is_empty() || !s.output().is_empty() {
            let n = feed(&mut s, rest);
            rest = &rest[n..];
            out.extend(drain(&mut s));
        }
        assert_eq!(out.len(), 3 * 72);
        assert_eq!(s.stats().lines_echoed, 3);
    }

    #[test]
    fn partial_drains_keep_bytes_in_order() {
        let config = Config::default();
        let mut s = session(&config);
        feed(&mut s, b"abc\r\n");
        let first = s.output()[..3].to_vec();
        s.consume_output(3);
        feed(&mut s, b"def\r\n");
        let mut out = first;
        out.extend(drain(&mut s));
        assert_eq!(out, b"You sent: abc\r\nYou sent: def\r\n");
    }

    // The caller's bad counts: clamped, documented on `Session`.
    #[test]
    fn consume_beyond_output_is_clamped() {
        let config = Config::default();
        let mut s = session(&config);
        feed(&mut s, b"a\r\n");
        s.consume_output(usize::MAX);
        assert_eq!(s.output(), b"");
        assert_eq!(s.stats().bytes_out, 13);
        s.consume_output(1);
        assert_eq!(s.stats().bytes_out, 13);
    }

    #[test]
    fn commit_beyond_the_space_offered_is_clamped_and_a_commit_without_space_ignored() {
        let config = Config::default().with_max_line(8).unwrap();
        let mut s = Session::new(&config, Buffers::<[u8; 10], [u8; 64]>::owned()).unwrap();
        let offered = s.input_space().len();
        assert_eq!(offered, 10);
        s.commit_input(usize::MAX);
        // Ten bytes without a delimiter are over the limit: dropped, but for one that could
        // still start a "\r\n".
        assert_eq!(s.buffered_input(), 1);
        assert_eq!(s.stats().bytes_in, 10);
        assert_eq!(drain(&mut s), b"ERROR line too long (limit 8 bytes)\r\n");

        // Input ended: a commit is ignored.
        s.shutdown();
        s.commit_input(4);
        assert_eq!(s.stats().bytes_in, 10);
    }

    // Shutdown, as a server does on SIGTERM.
    #[test]
    fn shutdown_answers_complete_lines_but_not_a_partial_one() {
        let config = Config::default();
        let mut s = session(&config);
        feed(&mut s, b"a\r\npart");
        s.shutdown();
        assert!(s.input_space().is_empty());
        assert_eq!(drain(&mut s), b"You sent: a\r\n");
        assert_eq!(s.state(), State::Closed(EndReason::Shutdown));
        // The partial line was dropped: nothing is held.
        assert!(s.holds_nothing());
    }

    // Configuration is checked against the buffers, with typed errors.
    #[test]
    fn invalid_configuration_is_a_typed_error() {
        assert_eq!(
            Config::default().with_delimiter(b"").err(),
            Some(ConfigError::EmptyDelimiter)
        );
        assert_eq!(
            Config::default().with_delimiter(b"123456789").err(),
            Some(ConfigError::DelimiterTooLong { len: 9 })
        );
        assert_eq!(
            Config::default().with_max_line(0).err(),
            Some(ConfigError::ZeroMaxLine)
        );
        let config = Config::default();
        assert_eq!(
            Session::new(&config, Buffers::<[u8; 72], [u8; 128]>::owned()).err(),
            Some(ConfigError::InputTooSmall {
                needed: 4098,
                capacity: 72
            })
        );
        let config = Config::default().with_max_line(70).unwrap();
        assert_eq!(
            Session::new(&config, Buffers::<[u8; 72], [u8; 64]>::owned()).err(),
            Some(ConfigError::OutputTooSmall {
                needed: 82,
                capacity: 64
            })
        );
        let config = Config::default()
            .with_max_line(2)
            .unwrap()
            .with_quit_line(Some(b"..."))
            .unwrap();
        assert_eq!(
            Session::<OwnedBuffers<72, 128>>::without_storage(&config).err(),
            Some(ConfigError::QuitLineOverMaxLine {
                len: 3,
                max_line: 2
            })
        );
        assert!(Config::default().with_prefix(&[b'p'; 65]).is_err());
        assert!(Config::default().with_quit_line(Some(&[b'q'; 65])).is_err());
        assert!(Config::default().with_error_text(&[b'e'; 97]).is_err());
    }

    #[test]
    fn a_custom_error_text_longer_than_any_echo_sizes_the_output() {
        let config = Config::default()
            .with_max_line(2)
            .unwrap()
            .with_prefix(b"")
            .unwrap()
            .with_error_text(&[b'e'; 40])
            .unwrap();
        assert_eq!(config.output_capacity(), 42);
        assert!(Session::new(&config, Buffers::<[u8; 4], [u8; 41]>::owned()).is_err());
        assert!(Session::new(&config, Buffers::<[u8; 4], [u8; 42]>::owned()).is_ok());
    }

    #[test]
    fn errors_explain_themselves() {
        let text = std::format!(
            "{}",
            ConfigError::InputTooSmall {
                needed: 9002,
                capacity: 4096
            }
        );
        assert_eq!(
            text,
            "the input buffer holds 4096 bytes but a line at the limit needs 9002 with its \
             delimiter"
        );
        assert_eq!(std::format!("{}", EndReason::InputEnded), "end of input");
    }

    // Storage the caller provides.
    #[test]
    fn borrowed_and_owned_storage_answer_alike() {
        let config = Config::default().with_max_line(20).unwrap();
        let (mut rx, mut tx) = ([0u8; 22], [0u8; 40]);
        let mut borrowed = Session::new(&config, Buffers::borrowed(&mut rx, &mut tx)).unwrap();
        let mut owned = Session::new(&config, Buffers::<[u8; 22], [u8; 40]>::owned()).unwrap();
        feed(&mut borrowed, b"hi\r\n");
        feed(&mut owned, b"hi\r\n");
        assert_eq!(drain(&mut borrowed), drain(&mut owned));
    }

    #[test]
    fn storage_comes_out_only_when_the_session_holds_nothing() {
        let config = Config::default();
        let mut s = session(&config);
        feed(&mut s, b"partial");
        assert_eq!(s.take_storage().err(), Some(StorageError::InputBuffered));
        feed(&mut s, b"\r\n");
        assert_eq!(s.take_storage().err(), Some(StorageError::OutputQueued));
        // Refusals changed nothing.
        assert_eq!(drain(&mut s), b"You sent: partial\r\n");
        let storage = s.take_storage().unwrap();
        assert_eq!(s.take_storage().err(), Some(StorageError::NoStorage));
        assert!(s.input_space().is_empty());
        assert!(!s.wants_input());
        assert_eq!(s.feed(b"x"), 0);
        s.give_storage(storage).unwrap();
        feed(&mut s, b"again\r\n");
        assert_eq!(drain(&mut s), b"You sent: again\r\n");
    }

    #[test]
    fn other_storage_of_enough_capacity_carries_the_conversation_on() {
        let config = Config::default()
            .with_max_line(4)
            .unwrap()
            .with_delimiter(b"|")
            .unwrap();
        let (mut a_in, mut a_out) = ([0u8; 6], [0u8; 40]);
        let (mut b_in, mut b_out) = ([0u8; 50], [0u8; 80]);
        let mut s: Session<'_, BorrowedBuffers<'_>> =
            Session::new(&config, Buffers::borrowed(&mut a_in, &mut a_out)).unwrap();
        // An overlong line, reported and being discarded: no bytes held.
        feed(&mut s, b"abcdef");
        assert_eq!(drain(&mut s), b"ERROR line too long (limit 4 bytes)|");
        let first = s.take_storage().unwrap();
        // Too small, or a second storage: refused and handed back.
        let (mut tiny_in, mut tiny_out) = ([0u8; 4], [0u8; 40]);
        let refused = s
            .give_storage(Buffers::borrowed(&mut tiny_in, &mut tiny_out))
            .unwrap_err();
        assert!(matches!(refused.error, StorageError::TooSmall(_)));
        s.give_storage(Buffers::borrowed(&mut b_in, &mut b_out))
            .unwrap();
        let refused = s.give_storage(first).unwrap_err();
        assert_eq!(refused.error, StorageError::HasStorage);
        // The rest of the discarded line is still discarded, in the new storage.
        feed(&mut s, b"gh|ok|");
        assert_eq!(drain(&mut s), b"You sent: ok|");
    }

    #[test]
    fn reset_starts_a_new_conversation_in_the_same_storage() {
        let config = Config::default();
        let mut s = session(&config);
        feed(&mut s, b"a\r\n.\r\n");
        assert_eq!(s.state(), State::Closing(EndReason::QuitLine));
        s.reset();
        assert_eq!(s.state(), State::Open);
        assert_eq!(s.stats(), Stats::default());
        assert_eq!(s.output(), b"");
        feed(&mut s, b"b\r\n");
        assert_eq!(drain(&mut s), b"You sent: b\r\n");
    }

    #[test]
    fn read_output_copies_what_fits_and_consumes_it() {
        let config = Config::default();
        let mut s = session(&config);
        feed(&mut s, b"abc\r\n");
        let mut out = [0u8; 4];
        assert_eq!(s.read_output(&mut out), 4);
        assert_eq!(&out, b"You ");
        let mut rest = [0u8; 64];
        let n = s.read_output(&mut rest);
        assert_eq!(&rest[..n], b"sent: abc\r\n");
        assert_eq!(s.read_output(&mut rest), 0);
    }
}
