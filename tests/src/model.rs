//! An obviously-correct model of the echo protocol, written with std and no cleverness: split
//! the whole input on the delimiter, answer each piece. The property tests and the fuzz targets
//! compare the real session against it, however the input is chunked and the output drained.

use chatecho_core::Config;

/// The protocol's parameters, as plain owned values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protocol {
    /// Bytes that end a line (1 to 8).
    pub delimiter: Vec<u8>,
    /// Bytes before each echoed line.
    pub prefix: Vec<u8>,
    /// The line that ends the conversation, if any.
    pub quit_line: Option<Vec<u8>>,
    /// The longest line echoed, delimiter not counted.
    pub max_line: usize,
}

impl Default for Protocol {
    fn default() -> Self {
        Self {
            delimiter: b"\r\n".to_vec(),
            prefix: b"You sent: ".to_vec(),
            quit_line: Some(b".".to_vec()),
            max_line: 4096,
        }
    }
}

/// How the input stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The peer is still connected: an unterminated last line is not (yet) a line.
    Open,
    /// The peer shut its sending side: an unterminated last line counts.
    Eof,
}

/// What the session must have produced for an input.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expected {
    /// Every byte of every reply, in order.
    pub output: Vec<u8>,
    /// Lines echoed.
    pub lines_echoed: u64,
    /// Lines answered with the line-too-long reply.
    pub lines_too_long: u64,
    /// Whether the quit line was seen.
    pub quit: bool,
}

impl Protocol {
    /// The same parameters as a core [`Config`].
    pub fn config(&self) -> Result<Config, chatecho_core::ConfigError> {
        Config::default()
            .with_delimiter(&self.delimiter)?
            .with_prefix(&self.prefix)?
            .with_quit_line(self.quit_line.as_deref())?
            .with_max_line(self.max_line)
    }

    /// The line-too-long reply, delimiter included.
    pub fn too_long_reply(&self) -> Vec<u8> {
        let mut reply = format!("ERROR line too long (limit {} bytes)", self.max_line).into_bytes();
        reply.extend_from_slice(&self.delimiter);
        reply
    }

    /// Everything the protocol answers to `input`.
    pub fn expected(&self, input: &[u8], ending: Ending) -> Expected {
        self.expected_replying(input, ending, &self.too_long_reply())
    }

    /// Everything the protocol answers to `input` when a custom line-too-long text was
    /// configured (`Config::with_error_text`): that text plus the delimiter replaces the
    /// default reply, and nothing else changes.
    pub fn expected_with_error_text(&self, input: &[u8], ending: Ending, text: &[u8]) -> Expected {
        self.expected_replying(input, ending, &[text, &self.delimiter].concat())
    }

    fn expected_replying(&self, input: &[u8], ending: Ending, too_long_reply: &[u8]) -> Expected {
        let mut expected = Expected::default();
        let mut rest = input;
        while let Some(at) = find(rest, &self.delimiter) {
            if !self.answer(&rest[..at], too_long_reply, &mut expected) {
                return expected;
            }
            rest = &rest[at + self.delimiter.len()..];
        }
        match ending {
            Ending::Eof if !rest.is_empty() => {
                self.answer(rest, too_long_reply, &mut expected);
            }
            // Still open: a partial line already longer than the limit by more than a
            // possible delimiter prefix is known to be too long and answered at once.
            Ending::Open if rest.len() >= self.max_line + self.delimiter.len() => {
                expected.output.extend_from_slice(too_long_reply);
                expected.lines_too_long += 1;
            }
            _ => {}
        }
        expected
    }

    /// Answers one line; false when it was the quit line.
    fn answer(&self, line: &[u8], too_long_reply: &[u8], expected: &mut Expected) -> bool {
        if self.quit_line.as_deref() == Some(line) {
            expected.quit = true;
            return false;
        }
        if line.len() > self.max_line {
            expected.output.extend_from_slice(too_long_reply);
            expected.lines_too_long += 1;
        } else {
            expected.output.extend_from_slice(&self.prefix);
            expected.output.extend_from_slice(line);
            expected.output.extend_from_slice(&self.delimiter);
            expected.lines_echoed += 1;
        }
        true
    }

    /// The lines (`Some`) and too-long lines (`None`) a framer must produce for `input`.
    pub fn frames(&self, input: &[u8], ending: Ending) -> Vec<Option<Vec<u8>>> {
        let mut frames = Vec::new();
        let mut rest = input;
        let classify = |line: &[u8]| (line.len() <= self.max_line).then(|| line.to_vec());
        while let Some(at) = find(rest, &self.delimiter) {
            frames.push(classify(&rest[..at]));
            rest = &rest[at + self.delimiter.len()..];
        }
        match ending {
            Ending::Eof if !rest.is_empty() => frames.push(classify(rest)),
            Ending::Open if rest.len() >= self.max_line + self.delimiter.len() => frames.push(None),
            _ => {}
        }
        frames
    }
}

/// The first occurrence of `needle` in `haystack`: the plainest search there is.
pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_answers_the_seed_example() {
        let expected = Protocol::default().expected(b"hi\r\n.\r\nlost\r\n", Ending::Eof);
        assert_eq!(expected.output, b"You sent: hi\r\n");
        assert!(expected.quit);
    }

    #[test]
    fn model_counts_an_open_overlong_partial_line_only_once_it_is_certain() {
        let p = Protocol {
            max_line: 3,
            ..Protocol::default()
        };
        assert_eq!(p.expected(b"abcd", Ending::Open).lines_too_long, 0);
        assert_eq!(p.expected(b"abcde", Ending::Open).lines_too_long, 1);
        assert_eq!(p.expected(b"abcd", Ending::Eof).lines_too_long, 1);
    }

    #[test]
    fn model_answers_an_overlong_line_with_a_custom_error_text() {
        let p = Protocol {
            max_line: 3,
            ..Protocol::default()
        };
        let expected = p.expected_with_error_text(b"abcd\r\nok\r\n", Ending::Open, b"no");
        assert_eq!(expected.output, b"no\r\nYou sent: ok\r\n");
        assert_eq!(expected.lines_too_long, 1);
    }
}
