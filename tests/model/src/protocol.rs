//! The reference model of the echo protocol: what an implementation must answer to an input,
//! written with std and no cleverness.
//!
//! The model sees the whole input at once, splits it on the delimiter with the plainest
//! search there is and answers each piece by the rules of DESIGN.md. It never buffers,
//! never resumes a search, never applies backpressure: it cannot share a bug with an
//! implementation that must do all of that in fixed memory. What it works out, an
//! [`Expected`], also says *when* each reply is owed (after how many input bytes), so that a
//! checker can tell a late reply from a missing one, and when an implementation may give its
//! storage back.

use chatecho_core::config::{
    MAX_DELIMITER_LEN, MAX_ERROR_TEXT_LEN, MAX_PREFIX_LEN, MAX_QUIT_LINE_LEN,
};
use chatecho_core::{Config, ConfigError, EndReason};
use core::fmt;

/// Every parameter of the protocol, as plain owned values.
///
/// The fields may hold values the core refuses (an empty delimiter, a prefix over
/// [`MAX_PREFIX_LEN`]): [`Protocol::errors`] lists what the core must say about them, and
/// [`Protocol::config`] builds the core's [`Config`] when they are valid. Its `Debug` shows
/// the byte fields as escaped byte strings (`b"\r\n"`), as they would be written in a test.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Protocol {
    /// Bytes that end a line (1 to [`MAX_DELIMITER_LEN`]).
    pub delimiter: Vec<u8>,
    /// Bytes before each echoed line (at most [`MAX_PREFIX_LEN`]).
    pub prefix: Vec<u8>,
    /// The line that ends the conversation, if any (at most [`MAX_QUIT_LINE_LEN`] bytes and
    /// not longer than `max_line`).
    pub quit_line: Option<Vec<u8>>,
    /// The longest line echoed, delimiter not counted (at least 1).
    pub max_line: usize,
    /// The text of the line-too-long reply (at most [`MAX_ERROR_TEXT_LEN`] bytes); `None`
    /// for `ERROR line too long (limit N bytes)`.
    pub error_text: Option<Vec<u8>>,
}

/// Bytes shown as an escaped byte string literal.
pub(crate) struct Bytes<'a>(pub(crate) &'a [u8]);

impl fmt::Debug for Bytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b\"{}\"", self.0.escape_ascii())
    }
}

impl fmt::Debug for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Protocol")
            .field("delimiter", &Bytes(&self.delimiter))
            .field("prefix", &Bytes(&self.prefix))
            .field("quit_line", &self.quit_line.as_deref().map(Bytes))
            .field("max_line", &self.max_line)
            .field("error_text", &self.error_text.as_deref().map(Bytes))
            .finish()
    }
}

impl Default for Protocol {
    /// The seed's protocol: `\r\n`, `You sent: `, quit line `.`, lines up to 4096 bytes.
    fn default() -> Self {
        Self {
            delimiter: b"\r\n".to_vec(),
            prefix: b"You sent: ".to_vec(),
            quit_line: Some(b".".to_vec()),
            max_line: 4096,
            error_text: None,
        }
    }
}

/// How the input ends, after the last byte the peer sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ending {
    /// The peer stays connected: an unterminated last line is not (yet) a line.
    Open,
    /// The peer shuts its sending side (end of input): an unterminated last line counts.
    Eof,
    /// The implementation is told to stop (a server shutting down): complete lines are
    /// answered, an unterminated last line is dropped.
    Shutdown,
}

/// One reply the protocol gives, located in the input and in the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Reply {
    /// What kind of reply.
    pub kind: ReplyKind,
    /// Input bytes after which the reply is owed: the end of its line's delimiter, or, for a
    /// line over the limit, the byte that makes it certain that the line is too long. `None`
    /// for the last, unterminated line, owed only once input has ended.
    pub due: Option<usize>,
    /// Where the reply starts in [`Expected::output`].
    pub start: usize,
    /// Where the reply ends in [`Expected::output`].
    pub end: usize,
}

/// The two kinds of reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReplyKind {
    /// Prefix, line, delimiter.
    Echo,
    /// The line-too-long reply.
    TooLong,
}

/// Everything the protocol answers to one input, and when.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Expected {
    /// Every byte of every reply, in order.
    pub output: Vec<u8>,
    /// The replies in order, each with the input offset at which it is owed.
    pub replies: Vec<Reply>,
    /// Input offsets just past each delimiter, up to and including the quit line's: where
    /// one line ends and the next begins.
    pub line_ends: Vec<usize>,
    /// Lines echoed.
    pub lines_echoed: u64,
    /// Lines answered with the line-too-long reply.
    pub lines_too_long: u64,
    /// Whether the quit line was seen.
    pub quit: bool,
    /// Why input ended, or `None` if it has not ([`Ending::Open`] and no quit line).
    pub reason: Option<EndReason>,
}

/// What the protocol says about taking an implementation's storage out at some point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StorageRule {
    /// It holds nothing: no partial line, no reply owed. Taking the storage out must work.
    Allowed,
    /// It holds bytes it still needs (a partial line, or replies not yet sent): taking the
    /// storage out must be refused.
    Refused,
    /// A line over the limit is being discarded: an implementation may keep the last few
    /// bytes, which could start a delimiter, or not. Either answer is right.
    EitherWay,
}

impl Protocol {
    /// The same parameters as the core's [`Config`], or the first error its builders report.
    pub fn config(&self) -> Result<Config, ConfigError> {
        let config = Config::default()
            .with_delimiter(&self.delimiter)?
            .with_prefix(&self.prefix)?
            .with_quit_line(self.quit_line.as_deref())?
            .with_max_line(self.max_line)?;
        let config = match &self.error_text {
            Some(text) => config.with_error_text(text)?,
            None => config,
        };
        config.check()?;
        Ok(config)
    }

    /// The line-too-long reply, delimiter included.
    pub fn too_long_reply(&self) -> Vec<u8> {
        let mut reply = match &self.error_text {
            Some(text) => text.clone(),
            None => format!("ERROR line too long (limit {} bytes)", self.max_line).into_bytes(),
        };
        reply.extend_from_slice(&self.delimiter);
        reply
    }

    /// The smallest input buffer that holds a line at the limit with its delimiter.
    pub fn input_capacity(&self) -> usize {
        self.max_line + self.delimiter.len()
    }

    /// The smallest output buffer that holds the longest reply: the echo of a line at the
    /// limit or the line-too-long reply, whichever is longer.
    pub fn output_capacity(&self) -> usize {
        let echo = self.prefix.len() + self.max_line + self.delimiter.len();
        echo.max(self.too_long_reply().len())
    }

    /// Every error the core may rightly give for this protocol in storage of
    /// `input_capacity` and `output_capacity` bytes; empty when it must accept it. The core
    /// reports one of them, whichever it checks first.
    pub fn errors(&self, input_capacity: usize, output_capacity: usize) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        let len = self.delimiter.len();
        if len == 0 {
            errors.push(ConfigError::EmptyDelimiter);
        } else if len > MAX_DELIMITER_LEN {
            errors.push(ConfigError::DelimiterTooLong { len });
        }
        if self.prefix.len() > MAX_PREFIX_LEN {
            let len = self.prefix.len();
            errors.push(ConfigError::PrefixTooLong { len });
        }
        if let Some(quit) = &self.quit_line {
            if quit.len() > MAX_QUIT_LINE_LEN {
                errors.push(ConfigError::QuitLineTooLong { len: quit.len() });
            } else if quit.len() > self.max_line {
                let (len, max_line) = (quit.len(), self.max_line);
                errors.push(ConfigError::QuitLineOverMaxLine { len, max_line });
            }
        }
        if self.max_line == 0 {
            errors.push(ConfigError::ZeroMaxLine);
        }
        if let Some(text) = &self.error_text
            && text.len() > MAX_ERROR_TEXT_LEN
        {
            errors.push(ConfigError::ErrorTextTooLong { len: text.len() });
        }
        let needed = self.input_capacity();
        if needed > input_capacity {
            let capacity = input_capacity;
            errors.push(ConfigError::InputTooSmall { needed, capacity });
        }
        let needed = self.output_capacity();
        if needed > output_capacity {
            let capacity = output_capacity;
            errors.push(ConfigError::OutputTooSmall { needed, capacity });
        }
        errors
    }

    /// Everything the protocol answers to `input`, ended as `ending` says.
    pub fn expected(&self, input: &[u8], ending: Ending) -> Expected {
        let mut expected = Expected::default();
        let mut start = 0;
        while let Some(at) = find(&input[start..], &self.delimiter) {
            let end = start + at + self.delimiter.len();
            expected.line_ends.push(end);
            if !self.answer(&input[start..start + at], start, Some(end), &mut expected) {
                expected.reason = Some(EndReason::QuitLine);
                return expected;
            }
            start = end;
        }
        let rest = &input[start..];
        let certain = self.certainly_too_long(start, rest.len());
        match ending {
            Ending::Eof if !rest.is_empty() => {
                if !self.answer(rest, start, certain, &mut expected) {
                    expected.reason = Some(EndReason::QuitLine);
                    return expected;
                }
            }
            // Still open, or cut off: a partial line already longer than the limit by more
            // than a possible delimiter is known to be too long, and answered at once.
            _ => {
                if certain.is_some() {
                    self.reply(ReplyKind::TooLong, rest, certain, &mut expected);
                }
            }
        }
        expected.reason = match ending {
            Ending::Open => None,
            Ending::Eof => Some(EndReason::InputEnded),
            Ending::Shutdown => Some(EndReason::Shutdown),
        };
        expected
    }

    /// The input offset after which a line that starts at `start` and has `len` bytes so far
    /// (no delimiter among them) is certainly over the limit: once it is `max_line` plus a
    /// whole delimiter long, no delimiter can end it within the limit.
    fn certainly_too_long(&self, start: usize, len: usize) -> Option<usize> {
        let certain = self.max_line + self.delimiter.len();
        (len >= certain).then_some(start + certain)
    }

    /// Answers the line `line`, which starts at input offset `start` and is owed at `due`;
    /// false when it is the quit line.
    fn answer(
        &self,
        line: &[u8],
        start: usize,
        due: Option<usize>,
        expected: &mut Expected,
    ) -> bool {
        if self.quit_line.as_deref() == Some(line) {
            expected.quit = true;
            return false;
        }
        if line.len() > self.max_line {
            // Owed as soon as it is certain, before its delimiter has fully arrived: once
            // `max_line` bytes and a whole delimiter's worth more are in without a delimiter.
            let due = match due {
                Some(_) => Some(start + self.max_line + self.delimiter.len()),
                None => self.certainly_too_long(start, line.len()),
            };
            self.reply(ReplyKind::TooLong, line, due, expected);
        } else {
            self.reply(ReplyKind::Echo, line, due, expected);
        }
        true
    }

    fn reply(&self, kind: ReplyKind, line: &[u8], due: Option<usize>, expected: &mut Expected) {
        let start = expected.output.len();
        match kind {
            ReplyKind::Echo => {
                expected.output.extend_from_slice(&self.prefix);
                expected.output.extend_from_slice(line);
                expected.output.extend_from_slice(&self.delimiter);
                expected.lines_echoed += 1;
            }
            ReplyKind::TooLong => {
                expected.output.extend_from_slice(&self.too_long_reply());
                expected.lines_too_long += 1;
            }
        }
        let end = expected.output.len();
        expected.replies.push(Reply {
            kind,
            due,
            start,
            end,
        });
    }

    /// The lines (`Some`) and too-long lines (`None`) a framer must produce for `input`.
    /// [`Ending::Shutdown`] frames as [`Ending::Open`]: the partial line is dropped.
    pub fn frames(&self, input: &[u8], ending: Ending) -> Vec<Option<Vec<u8>>> {
        let mut frames = Vec::new();
        let mut start = 0;
        let classify = |line: &[u8]| (line.len() <= self.max_line).then(|| line.to_vec());
        while let Some(at) = find(&input[start..], &self.delimiter) {
            frames.push(classify(&input[start..start + at]));
            start += at + self.delimiter.len();
        }
        let rest = &input[start..];
        match ending {
            Ending::Eof if !rest.is_empty() => frames.push(classify(rest)),
            _ if self.certainly_too_long(start, rest.len()).is_some() => frames.push(None),
            _ => {}
        }
        frames
    }
}

impl Expected {
    /// Output bytes owed once `delivered` input bytes have been taken while input is still
    /// open: the replies due by then, and only those.
    pub fn owed_by(&self, delivered: usize) -> usize {
        let due = self
            .replies
            .partition_point(|reply| reply.due.is_some_and(|due| due <= delivered));
        self.replies.get(due.wrapping_sub(1)).map_or(0, |r| r.end)
    }

    /// Whether an implementation may give its storage back after taking `delivered` input
    /// bytes and sending `sent` output bytes. `ended` says whether input has ended (end of
    /// input, shutdown or the quit line); then only replies still owed hold anything.
    pub fn storage_rule(
        &self,
        protocol: &Protocol,
        delivered: usize,
        sent: usize,
        ended: bool,
    ) -> StorageRule {
        let owed = if ended {
            self.output.len()
        } else {
            self.owed_by(delivered)
        };
        if sent < owed {
            return StorageRule::Refused;
        }
        if ended {
            return StorageRule::Allowed;
        }
        let line_start = match self.line_ends.partition_point(|&end| end <= delivered) {
            0 => 0,
            n => self.line_ends[n - 1],
        };
        match delivered - line_start {
            0 => StorageRule::Allowed,
            partial if partial < protocol.input_capacity() => StorageRule::Refused,
            _ => StorageRule::EitherWay,
        }
    }
}

/// The first occurrence of `needle` in `haystack`: the plainest search there is. An empty
/// needle is found nowhere (the core refuses an empty delimiter).
pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(max_line: usize) -> Protocol {
        Protocol {
            max_line,
            ..Protocol::default()
        }
    }

    #[test]
    fn the_seed_example() {
        let expected = Protocol::default().expected(b"hi\r\n.\r\nlost\r\n", Ending::Eof);
        assert_eq!(expected.output, b"You sent: hi\r\n");
        assert!(expected.quit);
        assert_eq!(expected.reason, Some(EndReason::QuitLine));
        assert_eq!(expected.line_ends, [4, 7]);
    }

    #[test]
    fn an_open_overlong_partial_line_is_answered_only_once_it_is_certain() {
        let p = limit(3);
        assert_eq!(p.expected(b"abcd", Ending::Open).lines_too_long, 0);
        assert_eq!(p.expected(b"abcde", Ending::Open).lines_too_long, 1);
        assert_eq!(p.expected(b"abcde", Ending::Open).replies[0].due, Some(5));
        assert_eq!(p.expected(b"abcd", Ending::Eof).lines_too_long, 1);
        assert_eq!(p.expected(b"abcd", Ending::Eof).replies[0].due, None);
        assert_eq!(p.expected(b"abcd", Ending::Shutdown).lines_too_long, 0);
    }

    #[test]
    fn a_custom_error_text_replaces_the_default_reply() {
        let p = Protocol {
            error_text: Some(b"no".to_vec()),
            ..limit(3)
        };
        let expected = p.expected(b"abcd\r\nok\r\n", Ending::Open);
        assert_eq!(expected.output, b"no\r\nYou sent: ok\r\n");
        assert_eq!(expected.lines_too_long, 1);
    }

    #[test]
    fn replies_are_owed_when_their_line_ends() {
        let expected = limit(3).expected(b"a\r\nbcdefg\r\nh", Ending::Eof);
        let due: Vec<_> = expected.replies.iter().map(|r| r.due).collect();
        // "bcdefg" is certainly too long after "bcdef" (3 + 2 bytes), at offset 8, and a
        // line one byte over the limit once its delimiter has started: "ijkl\r" at 16.
        assert_eq!(due, [Some(3), Some(8), None]);
        let one_over = limit(3).expected(b"a\r\nbcdefg\r\nijkl\r\n", Ending::Open);
        assert_eq!(one_over.replies[2].due, Some(16));
        assert_eq!(expected.owed_by(2), 0);
        assert_eq!(expected.owed_by(3), 13);
        assert_eq!(expected.owed_by(100), expected.output.len() - 13);
    }

    #[test]
    fn the_reason_follows_the_ending_unless_the_quit_line_came_first() {
        let p = Protocol::default();
        assert_eq!(p.expected(b"a\r\n", Ending::Open).reason, None);
        let eof = p.expected(b"a\r\n", Ending::Eof).reason;
        assert_eq!(eof, Some(EndReason::InputEnded));
        let shutdown = p.expected(b"a\r\nb", Ending::Shutdown);
        assert_eq!(shutdown.reason, Some(EndReason::Shutdown));
        assert_eq!(shutdown.output, b"You sent: a\r\n");
        let quit = p.expected(b".", Ending::Eof).reason;
        assert_eq!(quit, Some(EndReason::QuitLine));
    }

    #[test]
    fn storage_may_go_only_between_lines_with_nothing_owed() {
        let p = limit(3);
        let e = p.expected(b"ab\r\ncdefghij", Ending::Open);
        assert_eq!(e.storage_rule(&p, 0, 0, false), StorageRule::Allowed);
        assert_eq!(e.storage_rule(&p, 1, 0, false), StorageRule::Refused);
        // A line answered but its reply not sent yet.
        assert_eq!(e.storage_rule(&p, 4, 0, false), StorageRule::Refused);
        assert_eq!(e.storage_rule(&p, 4, 14, false), StorageRule::Allowed);
        assert_eq!(e.storage_rule(&p, 8, 14, false), StorageRule::Refused);
        // "cdefg" makes the line certainly too long: its reply owed, then discarding.
        assert_eq!(e.storage_rule(&p, 9, 14, false), StorageRule::Refused);
        let sent = e.output.len();
        assert_eq!(e.storage_rule(&p, 9, sent, false), StorageRule::EitherWay);
        assert_eq!(e.storage_rule(&p, 12, sent, true), StorageRule::Allowed);
    }

    #[test]
    fn errors_are_every_limit_the_core_checks() {
        let p = Protocol {
            delimiter: vec![],
            prefix: vec![b'p'; 65],
            quit_line: Some(b"..".to_vec()),
            max_line: 1,
            error_text: Some(vec![b'e'; 97]),
        };
        assert_eq!(
            p.errors(100, 200),
            [
                ConfigError::EmptyDelimiter,
                ConfigError::PrefixTooLong { len: 65 },
                ConfigError::QuitLineOverMaxLine {
                    len: 2,
                    max_line: 1
                },
                ConfigError::ErrorTextTooLong { len: 97 },
            ]
        );
        assert!(Protocol::default().errors(4098, 4108).is_empty());
        assert_eq!(
            Protocol::default().errors(4097, 4108),
            [ConfigError::InputTooSmall {
                needed: 4098,
                capacity: 4097
            }]
        );
    }

    #[test]
    fn the_config_has_every_parameter() {
        let p = Protocol {
            delimiter: b"|".to_vec(),
            prefix: b"> ".to_vec(),
            quit_line: None,
            max_line: 9,
            error_text: Some(b"long".to_vec()),
        };
        let config = p.config().unwrap();
        assert_eq!(config.delimiter().as_bytes(), b"|");
        assert_eq!(config.prefix(), b"> ");
        assert_eq!(config.quit_line(), None);
        assert_eq!(config.max_line(), 9);
        assert_eq!(config.too_long_reply(), p.too_long_reply());
        assert_eq!(config.input_capacity(), p.input_capacity());
        assert_eq!(config.output_capacity(), p.output_capacity());
    }
}
