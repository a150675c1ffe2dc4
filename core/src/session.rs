//! The echo protocol as a sans-IO state machine: bytes in, replies out, nothing else.
//!
//! A [`Session`] owns one connection's memory: an input buffer of `IN` bytes (through its
//! [`Framer`]) and an output buffer of `OUT` bytes. The caller moves bytes between those
//! buffers and a socket; the session makes every protocol decision (see DESIGN.md):
//!
//! - each line `L` is answered with prefix + `L` + delimiter, in order;
//! - the quit line stops input; replies already queued are still sent, then [`State::Closed`];
//! - a line over the limit is answered once with the line-too-long reply and skipped;
//! - at end of input the unterminated last line is answered too;
//! - when the output has no room for the next reply, no more input is taken until the caller
//!   drains output (backpressure): memory never grows.
//!
//! It never does I/O, never blocks, never reads a clock, never allocates and never panics.

use crate::config::{Config, ConfigError};
use crate::framer::{Frame, Framer};
use crate::reply::{self, TooLongReply};
use heapless::Vec;

/// Default input buffer: the default line limit plus the longest delimiter.
pub const DEFAULT_INPUT_CAPACITY: usize =
    crate::config::DEFAULT_MAX_LINE + crate::config::MAX_DELIMITER_LEN;
/// Default output buffer: room for one longest reply and many short ones.
pub const DEFAULT_OUTPUT_CAPACITY: usize = 8192;

/// A session with the default buffers, which accept the default configuration.
pub type DefaultSession = Session<DEFAULT_INPUT_CAPACITY, DEFAULT_OUTPUT_CAPACITY>;

/// Where the conversation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum State {
    /// Taking input and answering it.
    Open,
    /// Input has ended (quit line, end of input or shutdown); replies are still owed. Send
    /// [`Session::output`] until the state becomes [`State::Closed`].
    Closing,
    /// Nothing more will be sent: close the connection.
    Closed,
}

/// Why input ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum EndReason {
    /// The peer sent the quit line.
    QuitLine,
    /// The peer finished sending ([`Session::input_eof`]).
    InputEnded,
    /// The caller stopped the session ([`Session::shutdown`]).
    Shutdown,
}

/// Counters of what a session has done, for logs and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
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

/// One connection's echo protocol, in `IN + OUT` bytes plus a few hundred of configuration.
///
/// ```
/// use chatecho_core::{Config, DefaultSession, State};
/// let mut session = DefaultSession::new(Config::default())?;
/// let input = b"hello\r\n.\r\nignored\r\n";
/// session.input_space()[..input.len()].copy_from_slice(input);
/// session.commit_input(input.len());
/// assert_eq!(session.output(), b"You sent: hello\r\n");
/// assert_eq!(session.state(), State::Closing);
/// let sent = session.output().len();
/// session.consume_output(sent);
/// assert_eq!(session.state(), State::Closed);
/// # Ok::<(), chatecho_core::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Session<const IN: usize, const OUT: usize> {
    config: Config,
    framer: Framer<IN>,
    too_long_reply: TooLongReply,
    /// Replies queued; `output[sent..queued]` is still to be sent. The vector's length is how
    /// much of the buffer has been written so far: it grows (doubling) as replies first need
    /// room, so that an idle connection's output is never written (nor, on a hosted OS, made
    /// resident), and replies are then copied into plain initialised bytes.
    output: Vec<u8, OUT>,
    sent: usize,
    queued: usize,
    ended: Option<EndReason>,
    stats: Stats,
}

impl<const IN: usize, const OUT: usize> Session<IN, OUT> {
    /// Creates a session, checking `config` against the buffer sizes: a line at the limit
    /// plus the delimiter must fit `IN`, and the largest reply must fit `OUT`.
    #[inline(always)]
    pub fn new(config: Config) -> Result<Self, ConfigError> {
        Self::check(&config)?;
        Ok(Self::checked(config))
    }

    /// The checks of [`Session::new`], without building anything.
    fn check(config: &Config) -> Result<(), ConfigError> {
        if let Some(quit) = config.quit_line() {
            if quit.len() > config.max_line() {
                return Err(ConfigError::QuitLineOverMaxLine {
                    len: quit.len(),
                    max_line: config.max_line(),
                });
            }
        }
        Framer::<IN>::check(config.delimiter(), config.max_line())?;
        let needed = reply::echo_len(config, config.max_line()).max(reply::too_long_len(config));
        if needed > OUT {
            return Err(ConfigError::OutputTooSmall {
                needed,
                capacity: OUT,
            });
        }
        Ok(())
    }

    /// Builds a session whose configuration passed [`Session::check`]. Infallible and always
    /// inlined, to give the compiler the chance to build the buffers in place inside whatever
    /// holds the session: a move writes every byte of them and, on a hosted OS, makes that
    /// memory resident even for an idle connection.
    #[inline(always)]
    fn checked(config: Config) -> Self {
        let delimiter = config.delimiter().clone();
        let max_line = config.max_line();
        let too_long_reply = reply::too_long_reply(&config);
        Self {
            framer: Framer::checked(delimiter, max_line),
            too_long_reply,
            config,
            output: Vec::new(),
            sent: 0,
            queued: 0,
            ended: None,
            stats: Stats::default(),
        }
    }

    /// The configuration this session answers by.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Where the conversation is.
    pub fn state(&self) -> State {
        match self.ended {
            None => State::Open,
            Some(_) if !self.output().is_empty() || self.framer.has_pending_frame() => {
                State::Closing
            }
            Some(_) => State::Closed,
        }
    }

    /// Why input ended, once it has.
    pub fn end_reason(&self) -> Option<EndReason> {
        self.ended
    }

    /// Whether the session takes input now: open and not held back by a full output buffer.
    /// When false, [`Session::input_space`] is empty.
    pub fn wants_input(&self) -> bool {
        self.ended.is_none() && !self.framer.has_pending_frame()
    }

    /// Free input space to read into. Empty when input has ended or is held back by
    /// backpressure (drain [`Session::output`] first).
    pub fn input_space(&mut self) -> &mut [u8] {
        if !self.wants_input() {
            return &mut [];
        }
        self.framer.space()
    }

    /// Records that `n` bytes were read into [`Session::input_space`], and answers every line
    /// they complete for which the output has room.
    pub fn commit_input(&mut self, n: usize) {
        if !self.wants_input() {
            return;
        }
        let before = self.framer.buffered();
        self.framer.commit(n);
        self.stats.bytes_in += (self.framer.buffered() - before) as u64;
        self.answer();
    }

    /// The peer has finished sending. A non-empty unterminated last line is answered as if it
    /// were terminated; then the session closes once its output is sent.
    pub fn input_eof(&mut self) {
        if self.ended.is_some() {
            return;
        }
        self.ended = Some(EndReason::InputEnded);
        self.framer.finish();
        self.answer();
    }

    /// Stops taking input, as a server does when shutting down: complete lines already
    /// received are still answered, an unterminated line is not, and the session closes once
    /// its output is sent.
    pub fn shutdown(&mut self) {
        if self.ended.is_some() {
            return;
        }
        self.ended = Some(EndReason::Shutdown);
        self.answer();
    }

    /// Replies ready to send, oldest first.
    pub fn output(&self) -> &[u8] {
        self.output.get(self.sent..self.queued).unwrap_or(&[])
    }

    /// Records that the first `n` bytes of [`Session::output`] were sent (clamped to its
    /// length), which may let held-back input be answered.
    pub fn consume_output(&mut self, n: usize) {
        let n = n.min(self.queued - self.sent);
        self.sent += n;
        self.stats.bytes_out += n as u64;
        if self.sent == self.queued {
            self.sent = 0;
            self.queued = 0;
        }
        self.answer();
    }

    /// What the session has done so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Bytes of input received and not yet answered.
    pub fn buffered_input(&self) -> usize {
        self.framer.buffered()
    }

    /// How many bytes the delimiter search has examined; see [`Framer::bytes_examined`].
    pub fn bytes_examined(&self) -> u64 {
        self.framer.bytes_examined()
    }

    /// Answers complete lines in order until none is left or the output has no room.
    fn answer(&mut self) {
        if self.ended == Some(EndReason::QuitLine) {
            return;
        }
        // The hot path: ordinary lines, echoed straight from the framer's buffer. It stops at
        // anything else (the quit line, a line over the limit, the end of input, a full
        // output), which stays pending for the general loop below.
        // What every reply needs, read once into locals rather than through `self.config`
        // after each reply is written.
        let prefix = self.config.prefix();
        let delimiter = self.config.delimiter().as_bytes();
        let quit_line = self.config.quit_line();
        let (output, sent, queued) = (&mut self.output, &mut self.sent, &mut self.queued);
        let stats = &mut self.stats;
        self.framer.take_lines(|line, received| {
            if Some(line) == quit_line {
                return false;
            }
            let needed = prefix.len() + line.len() + delimiter.len();
            let Some(room) = make_room(output, sent, queued, needed) else {
                return false;
            };
            *queued += reply::write_echo(room, prefix, delimiter, line, received);
            stats.lines_echoed += 1;
            true
        });
        while self.ended != Some(EndReason::QuitLine) {
            let Some((frame, received)) = self.framer.peek_received() else {
                return;
            };
            if let Frame::Line(line) = frame {
                if Some(line) == self.config.quit_line() {
                    // Bytes after the quit line are ignored: input stops here, for good.
                    self.ended = Some(EndReason::QuitLine);
                    self.framer.advance();
                    return;
                }
            }
            let needed = match frame {
                Frame::Line(line) => reply::echo_len(&self.config, line.len()),
                Frame::TooLong => self.too_long_reply.len(),
            };
            let Some(room) = make_room(&mut self.output, &mut self.sent, &mut self.queued, needed)
            else {
                // Backpressure: the frame stays pending until output is drained.
                return;
            };
            self.queued += match frame {
                Frame::Line(line) => {
                    self.stats.lines_echoed += 1;
                    let delimiter = self.config.delimiter().as_bytes();
                    reply::write_echo(room, self.config.prefix(), delimiter, line, received)
                }
                Frame::TooLong => {
                    self.stats.lines_too_long += 1;
                    reply::copy(room, &self.too_long_reply);
                    self.too_long_reply.len()
                }
            };
            self.framer.advance();
        }
    }
}

/// Bytes of output memory written before the first reply: enough for a burst of short
/// replies, one page at most. It doubles up to `OUT` as replies need more.
const INITIAL_OUTPUT: usize = 1024;

/// Finds `needed` free bytes after the queued replies `output[sent..queued]` and returns
/// them. Unsent bytes move to the front only when that reclaims at least as much as it moves
/// (so moving stays linear in bytes sent); the buffer is written further, by doubling, only
/// when the replies first reach that far. `None` when there is no room until more is sent.
#[inline(always)]
fn make_room<'a, const OUT: usize>(
    output: &'a mut Vec<u8, OUT>,
    sent: &mut usize,
    queued: &mut usize,
    needed: usize,
) -> Option<&'a mut [u8]> {
    let end = *queued + needed;
    if end > output.len() && !make_room_slowly(output, sent, queued, needed) {
        return None;
    }
    output.get_mut(*queued..*queued + needed)
}

/// [`make_room`] when the bytes already written after the queue are too few: compacts or
/// writes further. Apart from the inlined common case, which is one comparison per reply.
#[cold]
#[inline(never)]
fn make_room_slowly<const OUT: usize>(
    output: &mut Vec<u8, OUT>,
    sent: &mut usize,
    queued: &mut usize,
    needed: usize,
) -> bool {
    if OUT - *queued < needed {
        let unsent = *queued - *sent;
        if *sent < unsent || OUT - unsent < needed {
            return false;
        }
        if let Some(written) = output.get_mut(..*queued) {
            written.copy_within(*sent.., 0);
        }
        *sent = 0;
        *queued = unsent;
    }
    let end = *queued + needed;
    if output.len() < end {
        let grown = (output.len() * 2).max(end).max(INITIAL_OUTPUT).min(OUT);
        // `grown <= OUT`, so this cannot fail.
        let _ = output.resize(grown, 0);
    }
    true
}

#[cfg(test)]
mod tests {
    //! One test per rule of DESIGN.md's protocol section, in its order.
    use super::*;
    use std::vec::Vec as StdVec;

    type Small = Session<72, 128>;

    fn session() -> DefaultSession {
        DefaultSession::new(Config::default()).unwrap()
    }

    /// Feeds `input` as far as the session takes it, draining nothing. Returns bytes taken.
    fn feed<const I: usize, const O: usize>(s: &mut Session<I, O>, input: &[u8]) -> usize {
        let mut taken = 0;
        while taken < input.len() {
            let space = s.input_space();
            if space.is_empty() {
                break;
            }
            let n = space.len().min(input.len() - taken);
            space[..n].copy_from_slice(&input[taken..taken + n]);
            s.commit_input(n);
            taken += n;
        }
        taken
    }

    fn drain<const I: usize, const O: usize>(s: &mut Session<I, O>) -> StdVec<u8> {
        let out = s.output().to_vec();
        s.consume_output(out.len());
        out
    }

    // Rule 1: lines end at the delimiter, even split across reads; bare CR / LF are data.
    #[test]
    fn each_line_is_answered_with_prefix_line_delimiter() {
        let mut s = session();
        feed(&mut s, b"hello\r\n\r\n");
        assert_eq!(drain(&mut s), b"You sent: hello\r\nYou sent: \r\n");
    }

    #[test]
    fn delimiter_split_across_reads_is_found() {
        let mut s = session();
        feed(&mut s, b"hel");
        feed(&mut s, b"lo\r");
        assert_eq!(s.output(), b"");
        feed(&mut s, b"\n");
        assert_eq!(drain(&mut s), b"You sent: hello\r\n");
    }

    #[test]
    fn bare_cr_and_lf_are_ordinary_data() {
        let mut s = session();
        feed(&mut s, b"a\rb\nc\r\n");
        assert_eq!(drain(&mut s), b"You sent: a\rb\nc\r\n");
    }

    #[test]
    fn configured_delimiter_is_used_for_lines_and_replies() {
        let config = Config::default().with_delimiter(b"|").unwrap();
        let mut s = DefaultSession::new(config).unwrap();
        feed(&mut s, b"a|b\r\n|");
        assert_eq!(drain(&mut s), b"You sent: a|You sent: b\r\n|");
    }

    // Rule 2: the quit line.
    #[test]
    fn quit_line_flushes_queued_replies_then_closes_and_ignores_the_rest() {
        let mut s = session();
        feed(&mut s, b"one\r\n.\r\ntwo\r\n");
        assert_eq!(s.state(), State::Closing);
        assert_eq!(s.end_reason(), Some(EndReason::QuitLine));
        assert!(s.input_space().is_empty());
        assert_eq!(drain(&mut s), b"You sent: one\r\n");
        assert_eq!(s.state(), State::Closed);
        s.commit_input(5);
        s.input_eof();
        assert_eq!(s.output(), b"");
        assert_eq!(s.end_reason(), Some(EndReason::QuitLine));
    }

    #[test]
    fn quit_line_split_across_reads_still_quits() {
        let mut s = session();
        feed(&mut s, b".");
        feed(&mut s, b"\r");
        assert_eq!(s.state(), State::Open);
        feed(&mut s, b"\n");
        assert_eq!(s.state(), State::Closed);
    }

    #[test]
    fn a_line_that_only_starts_with_the_quit_line_is_echoed() {
        let mut s = session();
        feed(&mut s, b"..\r\n .\r\n");
        assert_eq!(drain(&mut s), b"You sent: ..\r\nYou sent:  .\r\n");
        assert_eq!(s.state(), State::Open);
    }

    #[test]
    fn without_a_quit_line_the_full_stop_is_echoed() {
        let config = Config::default().with_quit_line(None).unwrap();
        let mut s = DefaultSession::new(config).unwrap();
        feed(&mut s, b".\r\n");
        assert_eq!(drain(&mut s), b"You sent: .\r\n");
    }

    // Rule 3: lines are bytes; replies keep the order of lines.
    #[test]
    fn any_bytes_are_echoed_unchanged_and_in_order() {
        let mut s = session();
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
        let mut s = Small::new(config).unwrap();
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
        let mut s = Small::new(config).unwrap();
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
        let mut s = Small::new(config).unwrap();
        feed(&mut s, b"abc\r\n");
        assert_eq!(drain(&mut s), b"too long\r\n");
    }

    // Rule 5: end of input.
    #[test]
    fn eof_answers_the_unterminated_last_line_then_closes() {
        let mut s = session();
        feed(&mut s, b"a\r\nlast");
        s.input_eof();
        assert_eq!(s.state(), State::Closing);
        assert_eq!(s.end_reason(), Some(EndReason::InputEnded));
        assert_eq!(drain(&mut s), b"You sent: a\r\nYou sent: last\r\n");
        assert_eq!(s.state(), State::Closed);
    }

    #[test]
    fn eof_after_a_complete_line_adds_nothing() {
        let mut s = session();
        feed(&mut s, b"a\r\n");
        s.input_eof();
        assert_eq!(drain(&mut s), b"You sent: a\r\n");
        assert_eq!(s.state(), State::Closed);
    }

    #[test]
    fn eof_with_an_unterminated_quit_line_quits() {
        let mut s = session();
        feed(&mut s, b".");
        s.input_eof();
        assert_eq!(s.output(), b"");
        assert_eq!(s.end_reason(), Some(EndReason::QuitLine));
        assert_eq!(s.state(), State::Closed);
    }

    // Rule 6: fixed memory and backpressure.
    #[test]
    fn full_output_holds_input_back_until_drained() {
        let config = Config::default().with_max_line(60).unwrap();
        let mut s = Session::<72, 80>::new(config).unwrap();
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
        let mut s = session();
        feed(&mut s, b"abc\r\n");
        let first = s.output()[..3].to_vec();
        s.consume_output(3);
        feed(&mut s, b"def\r\n");
        let mut out = first;
        out.extend(drain(&mut s));
        assert_eq!(out, b"You sent: abc\r\nYou sent: def\r\n");
    }

    #[test]
    fn consume_beyond_output_is_clamped() {
        let mut s = session();
        feed(&mut s, b"a\r\n");
        s.consume_output(usize::MAX);
        assert_eq!(s.output(), b"");
        assert_eq!(s.stats().bytes_out, 13);
    }

    // Shutdown, as a server does on SIGTERM.
    #[test]
    fn shutdown_answers_complete_lines_but_not_a_partial_one() {
        let mut s = session();
        feed(&mut s, b"a\r\npart");
        s.shutdown();
        assert!(s.input_space().is_empty());
        assert_eq!(drain(&mut s), b"You sent: a\r\n");
        assert_eq!(s.state(), State::Closed);
        assert_eq!(s.end_reason(), Some(EndReason::Shutdown));
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
        assert_eq!(
            Small::new(Config::default()).err(),
            Some(ConfigError::MaxLineOverCapacity {
                max_line: 4096,
                capacity: 70
            })
        );
        let config = Config::default().with_max_line(70).unwrap();
        assert_eq!(
            Session::<72, 64>::new(config).err(),
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
            Small::new(config).err(),
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
    fn errors_explain_themselves() {
        let text = std::format!(
            "{}",
            ConfigError::MaxLineOverCapacity {
                max_line: 9000,
                capacity: 4096
            }
        );
        assert_eq!(
            text,
            "the maximum line length 9000 exceeds this build's capacity of 4096 bytes"
        );
    }

    #[test]
    fn default_session_accepts_the_default_configuration() {
        let s = session();
        assert_eq!(s.config().max_line(), 4096);
        assert_eq!(s.state(), State::Open);
        assert!(s.wants_input());
    }
}
