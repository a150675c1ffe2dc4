//! Configuration of the echo protocol: delimiter, reply prefix, quit line, line limit and the
//! text of the line-too-long reply, with the defaults of the protocol's reference server.
//!
//! A [`Config`] is prepared once and shared: every [`Session`](crate::Session) borrows it, so
//! a thousand sessions cost one configuration, and what can be worked out in advance (the
//! line-too-long reply, the storage a session needs) is worked out when it is built, not per
//! session or per line.
//!
//! Every field has a fixed capacity (a named constant below), so a configuration needs no
//! allocator. Builders validate what they are given and return a [`ConfigError`] instead of
//! panicking; [`Config::check`] covers what depends on several fields, and checks that depend
//! on a session's buffers happen when the session gets them
//! ([`Session::new`](crate::Session::new)).

use crate::capacity;
use crate::reply::{self, TooLongReply};
use heapless::Vec;

/// Longest delimiter accepted, in bytes. Short enough to keep the framer's look-behind tiny.
pub const MAX_DELIMITER_LEN: usize = 8;
/// Longest reply prefix accepted, in bytes.
pub const MAX_PREFIX_LEN: usize = 64;
/// Longest quit line accepted, in bytes.
pub const MAX_QUIT_LINE_LEN: usize = 64;
/// Longest custom line-too-long reply accepted, in bytes (delimiter not counted).
pub const MAX_ERROR_TEXT_LEN: usize = 96;

/// The default delimiter, as in the seed: CR LF.
pub const DEFAULT_DELIMITER: &[u8] = b"\r\n";
/// The default reply prefix, as in the seed.
pub const DEFAULT_PREFIX: &[u8] = b"You sent: ";
/// The default quit line, as in the seed: a line holding only a full stop.
pub const DEFAULT_QUIT_LINE: &[u8] = b".";
/// The default line limit in bytes, delimiter not counted.
pub const DEFAULT_MAX_LINE: usize = 4096;

/// Why a configuration was refused. Returned by the [`Config`] builders and by
/// [`Session::new`](crate::Session::new) / [`Framer::new`](crate::Framer::new).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ConfigError {
    /// The delimiter was empty: lines could never be told apart.
    EmptyDelimiter,
    /// The delimiter was longer than [`MAX_DELIMITER_LEN`].
    DelimiterTooLong {
        /// Length that was asked for.
        len: usize,
    },
    /// The prefix was longer than [`MAX_PREFIX_LEN`].
    PrefixTooLong {
        /// Length that was asked for.
        len: usize,
    },
    /// The quit line was longer than [`MAX_QUIT_LINE_LEN`].
    QuitLineTooLong {
        /// Length that was asked for.
        len: usize,
    },
    /// The custom line-too-long text was longer than [`MAX_ERROR_TEXT_LEN`].
    ErrorTextTooLong {
        /// Length that was asked for.
        len: usize,
    },
    /// `max_line` was zero: no line but the empty one could ever be echoed.
    ZeroMaxLine,
    /// The quit line is longer than `max_line`, so it would be refused as too long and could
    /// never end the conversation.
    QuitLineOverMaxLine {
        /// Length of the quit line.
        len: usize,
        /// The configured limit.
        max_line: usize,
    },
    /// The input buffer cannot hold a line at the limit plus its delimiter, so such a line
    /// could never be seen whole.
    InputTooSmall {
        /// Bytes a line at the limit needs, delimiter included
        /// ([`Config::input_capacity`]).
        needed: usize,
        /// Bytes the input buffer has.
        capacity: usize,
    },
    /// The output buffer cannot hold the largest reply this configuration can produce, so
    /// such a reply could never be queued.
    OutputTooSmall {
        /// Bytes the largest reply needs.
        needed: usize,
        /// Bytes the output buffer has.
        capacity: usize,
    },
}

impl core::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Self::EmptyDelimiter => f.write_str("the delimiter must not be empty"),
            Self::DelimiterTooLong { len } => write!(
                f,
                "the delimiter is {len} bytes; at most {MAX_DELIMITER_LEN} are allowed"
            ),
            Self::PrefixTooLong { len } => write!(
                f,
                "the reply prefix is {len} bytes; at most {MAX_PREFIX_LEN} are allowed"
            ),
            Self::QuitLineTooLong { len } => write!(
                f,
                "the quit line is {len} bytes; at most {MAX_QUIT_LINE_LEN} are allowed"
            ),
            Self::ErrorTextTooLong { len } => write!(
                f,
                "the line-too-long text is {len} bytes; at most {MAX_ERROR_TEXT_LEN} are allowed"
            ),
            Self::ZeroMaxLine => f.write_str("the maximum line length must be at least 1"),
            Self::QuitLineOverMaxLine { len, max_line } => write!(
                f,
                "the quit line is {len} bytes, longer than the maximum line length {max_line}"
            ),
            Self::InputTooSmall { needed, capacity } => write!(
                f,
                "the input buffer holds {capacity} bytes but a line at the limit needs {needed} \
                 with its delimiter"
            ),
            Self::OutputTooSmall { needed, capacity } => write!(
                f,
                "the output buffer holds {capacity} bytes but the largest reply needs {needed}"
            ),
        }
    }
}

impl core::error::Error for ConfigError {}

/// The bytes that end a line: 1 to [`MAX_DELIMITER_LEN`] bytes, any values.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Delimiter(Vec<u8, MAX_DELIMITER_LEN>);

impl Delimiter {
    /// Checks and copies `bytes` as a delimiter.
    pub fn new(bytes: &[u8]) -> Result<Self, ConfigError> {
        if bytes.is_empty() {
            return Err(ConfigError::EmptyDelimiter);
        }
        Vec::from_slice(bytes)
            .map(Self)
            .map_err(|_| ConfigError::DelimiterTooLong { len: bytes.len() })
    }

    /// The delimiter's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The delimiter's length, 1 to [`MAX_DELIMITER_LEN`].
    #[allow(clippy::len_without_is_empty)] // a delimiter is never empty
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl AsRef<[u8]> for Delimiter {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl TryFrom<&[u8]> for Delimiter {
    type Error = ConfigError;

    /// As [`Delimiter::new`].
    fn try_from(bytes: &[u8]) -> Result<Self, ConfigError> {
        Self::new(bytes)
    }
}

impl Default for Delimiter {
    fn default() -> Self {
        let mut bytes = Vec::new();
        // DEFAULT_DELIMITER is 2 bytes, well within capacity; the result is ignored only
        // because the constant is known to fit.
        let _ = bytes.extend_from_slice(DEFAULT_DELIMITER);
        Self(bytes)
    }
}

/// Everything that decides what the echo session answers. Build it from [`Config::default`]
/// and the `with_*` methods:
///
/// ```
/// use chatecho_core::Config;
/// let config = Config::default()
///     .with_delimiter(b"\n")?
///     .with_prefix(b"> ")?
///     .with_max_line(80)?;
/// assert_eq!(config.delimiter().as_bytes(), b"\n");
/// # Ok::<(), chatecho_core::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Config {
    delimiter: Delimiter,
    prefix: Vec<u8, MAX_PREFIX_LEN>,
    quit_line: Option<Vec<u8, MAX_QUIT_LINE_LEN>>,
    max_line: usize,
    error_text: Option<Vec<u8, MAX_ERROR_TEXT_LEN>>,
    /// The whole line-too-long reply, delimiter included, rebuilt by every builder that
    /// changes it, so that sessions copy it and never compose it.
    too_long_reply: TooLongReply,
}

impl Default for Config {
    /// The seed's protocol: `\r\n`, `You sent: `, quit line `.`, lines up to 4096 bytes.
    fn default() -> Self {
        let mut prefix = Vec::new();
        let mut quit = Vec::new();
        // Both constants are far below their capacities.
        let _ = prefix.extend_from_slice(DEFAULT_PREFIX);
        let _ = quit.extend_from_slice(DEFAULT_QUIT_LINE);
        let mut config = Self {
            delimiter: Delimiter::default(),
            prefix,
            quit_line: Some(quit),
            max_line: DEFAULT_MAX_LINE,
            error_text: None,
            too_long_reply: TooLongReply::new(),
        };
        config.prepare_reply();
        config
    }
}

impl Config {
    /// Rebuilds the line-too-long reply from the fields it depends on.
    fn prepare_reply(&mut self) {
        self.too_long_reply = reply::too_long_reply(
            self.error_text.as_deref(),
            self.max_line,
            self.delimiter.as_bytes(),
        );
    }

    /// Sets the line delimiter (1 to [`MAX_DELIMITER_LEN`] bytes).
    pub fn with_delimiter(mut self, delimiter: &[u8]) -> Result<Self, ConfigError> {
        self.delimiter = Delimiter::new(delimiter)?;
        self.prepare_reply();
        Ok(self)
    }

    /// Sets the bytes put before each echoed line (at most [`MAX_PREFIX_LEN`], may be empty).
    pub fn with_prefix(mut self, prefix: &[u8]) -> Result<Self, ConfigError> {
        self.prefix = Vec::from_slice(prefix)
            .map_err(|_| ConfigError::PrefixTooLong { len: prefix.len() })?;
        Ok(self)
    }

    /// Sets the line that ends the conversation, or `None` for no quit line.
    pub fn with_quit_line(mut self, quit_line: Option<&[u8]>) -> Result<Self, ConfigError> {
        self.quit_line = match quit_line {
            None => None,
            Some(line) => Some(
                Vec::from_slice(line)
                    .map_err(|_| ConfigError::QuitLineTooLong { len: line.len() })?,
            ),
        };
        Ok(self)
    }

    /// Sets the longest line answered, in bytes, delimiter not counted. Longer lines get the
    /// line-too-long reply. Must be at least 1; the upper bound is the session's input buffer,
    /// checked when a session gets it ([`Session::new`](crate::Session::new)).
    pub fn with_max_line(mut self, max_line: usize) -> Result<Self, ConfigError> {
        if max_line == 0 {
            return Err(ConfigError::ZeroMaxLine);
        }
        self.max_line = max_line;
        self.prepare_reply();
        Ok(self)
    }

    /// Replaces the line-too-long reply (delimiter excluded; it is appended). Without this the
    /// reply is `ERROR line too long (limit N bytes)`.
    pub fn with_error_text(mut self, text: &[u8]) -> Result<Self, ConfigError> {
        self.error_text = Some(
            Vec::from_slice(text).map_err(|_| ConfigError::ErrorTextTooLong { len: text.len() })?,
        );
        self.prepare_reply();
        Ok(self)
    }

    /// Checks what depends on several fields, and so on the order the builders ran in: the
    /// quit line must not be longer than `max_line`, or it would be refused as too long and
    /// could never end the conversation. Every session constructor calls this.
    pub fn check(&self) -> Result<(), ConfigError> {
        match self.quit_line() {
            Some(quit) if quit.len() > self.max_line => Err(ConfigError::QuitLineOverMaxLine {
                len: quit.len(),
                max_line: self.max_line,
            }),
            _ => Ok(()),
        }
    }

    /// The smallest input buffer a session needs: a line at the limit plus the delimiter
    /// ([`capacity::input`]).
    pub fn input_capacity(&self) -> usize {
        capacity::input(self.max_line, self.delimiter.len())
    }

    /// The smallest output buffer a session needs: room for the longest reply, an echo of a
    /// line at the limit or the line-too-long reply, whichever is longer. A larger buffer lets
    /// more replies queue before the session stops reading.
    pub fn output_capacity(&self) -> usize {
        let echo = self
            .prefix
            .len()
            .saturating_add(self.max_line)
            .saturating_add(self.delimiter.len());
        echo.max(self.too_long_reply.len())
    }

    /// The complete reply to a line over the limit, delimiter included.
    pub fn too_long_reply(&self) -> &[u8] {
        &self.too_long_reply
    }

    /// The line delimiter.
    pub fn delimiter(&self) -> &Delimiter {
        &self.delimiter
    }

    /// The bytes put before each echoed line.
    pub fn prefix(&self) -> &[u8] {
        &self.prefix
    }

    /// The line that ends the conversation, if any.
    pub fn quit_line(&self) -> Option<&[u8]> {
        self.quit_line.as_deref()
    }

    /// The longest line answered, in bytes, delimiter not counted.
    pub fn max_line(&self) -> usize {
        self.max_line
    }

    /// A custom line-too-long text, if one was set.
    pub fn error_text(&self) -> Option<&[u8]> {
        self.error_text.as_deref()
    }
}
