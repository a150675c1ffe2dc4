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
use crate::reply::{self, MAX_ERROR_REPLY_LEN};
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
    too_long_reply: Vec<u8, MAX_ERROR_REPLY_LEN>,
    /// Replies queued; `output[sent..]` is still to be sent.
    output: Vec<u8, OUT>,
    sent: usize,
    ended: Option<EndReason>,
    stats: Stats,
}

impl<const IN: usize, const OUT: usize> Session<IN, OUT> {
    /// Creates a session, checking `config` against the buffer sizes: a line at the limit
    /// plus the delimiter must fit `IN`, and the largest reply must fit `OUT`.
    pub fn new(config: Config) -> Result<Self, ConfigError> {
        let framer = Framer::new(config.delimiter().clone(), config.max_line())?;
        let too_long_reply = reply::too_long_reply(&config);
        let needed = reply::echo_len(&config, config.max_line()).max(too_long_reply.len());
        if needed > OUT {
            return Err(ConfigError::OutputTooSmall {
                needed,
                capacity: OUT,
            });
        }
        Ok(Self {
            config,
            framer,
            too_long_reply,
            output: Vec::new(),
            sent: 0,
            ended: None,
            stats: Stats::default(),
        })
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
        &self.output[self.sent..]
    }

    /// Records that the first `n` bytes of [`Session::output`] were sent (clamped to its
    /// length), which may let held-back input be answered.
    pub fn consume_output(&mut self, n: usize) {
        let n = n.min(self.output.len() - self.sent);
        self.sent += n;
        self.stats.bytes_out += n as u64;
        if self.sent == self.output.len() {
            self.output.clear();
            self.sent = 0;
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
        while self.ended != Some(EndReason::QuitLine) {
            let Some(frame) = self.framer.peek() else {
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
            if !make_room(&mut self.output, &mut self.sent, needed) {
                // Backpressure: the frame stays pending until output is drained.
                return;
            }
            // Room was made above, so these appends succeed.
            let _ = match frame {
                Frame::Line(line) => {
                    self.stats.lines_echoed += 1;
                    reply::write_echo(&mut self.output, &self.config, line)
                }
                Frame::TooLong => {
                    self.stats.lines_too_long += 1;
                    self.output.extend_from_slice(&self.too_long_reply)
                }
            };
            self.framer.advance();
        }
    }
}

/// Ensures `needed` free bytes at the back of `output`, moving unsent bytes to the front when
/// that reclaims at least as much as it moves (so moving stays linear in bytes sent).
fn make_room<const OUT: usize>(output: &mut Vec<u8, OUT>, sent: &mut usize, needed: usize) -> bool {
    if OUT - output.len() >= needed {
        return true;
    }
    let unsent = output.len() - *sent;
    if *sent >= unsent && OUT - unsent >= needed {
        output.copy_within(*sent.., 0);
        output.truncate(unsent);
        *sent = 0;
        return true;
    }
    false
}
