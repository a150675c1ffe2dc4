//! Configuration of the echo protocol: delimiter, reply prefix, quit line, line limit and the
//! text of the line-too-long reply, with the defaults of the seed and DESIGN.md.
//!
//! Every field has a fixed capacity (a named constant below), so a [`Config`] is a small `Copy`
//! value that needs no allocator. Builders validate what they are given and return a
//! [`ConfigError`] instead of panicking; checks that depend on a session's buffer sizes happen
//! in [`Session::new`](crate::Session::new).

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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    /// `max_line` plus the delimiter does not fit the input buffer, so a line at the limit
    /// could never be seen whole.
    MaxLineOverCapacity {
        /// The configured limit.
        max_line: usize,
        /// The largest limit this input buffer supports with this delimiter.
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
            Self::MaxLineOverCapacity { max_line, capacity } => write!(
                f,
                "the maximum line length {max_line} exceeds this build's capacity of {capacity} bytes"
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
#[derive(Debug, Clone, PartialEq, Eq)]
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
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Config {
    delimiter: Delimiter,
    prefix: Vec<u8, MAX_PREFIX_LEN>,
    quit_line: Option<Vec<u8, MAX_QUIT_LINE_LEN>>,
    max_line: usize,
    error_text: Option<Vec<u8, MAX_ERROR_TEXT_LEN>>,
}

impl Default for Config {
    /// The seed's protocol: `\r\n`, `You sent: `, quit line `.`, lines up to 4096 bytes.
    fn default() -> Self {
        let mut prefix = Vec::new();
        let mut quit = Vec::new();
        // Both constants are far below their capacities.
        let _ = prefix.extend_from_slice(DEFAULT_PREFIX);
        let _ = quit.extend_from_slice(DEFAULT_QUIT_LINE);
        Self {
            delimiter: Delimiter::default(),
            prefix,
            quit_line: Some(quit),
            max_line: DEFAULT_MAX_LINE,
            error_text: None,
        }
    }
}

impl Config {
    /// Sets the line delimiter (1 to [`MAX_DELIMITER_LEN`] bytes).
    pub fn with_delimiter(mut self, delimiter: &[u8]) -> Result<Self, ConfigError> {
        self.delimiter = Delimiter::new(delimiter)?;
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
    /// line-too-long reply. Must be at least 1; the upper bound is the session's input buffer
    /// and is checked by [`Session::new`](crate::Session::new).
    pub fn with_max_line(mut self, max_line: usize) -> Result<Self, ConfigError> {
        if max_line == 0 {
            return Err(ConfigError::ZeroMaxLine);
        }
        self.max_line = max_line;
        Ok(self)
    }

    /// Replaces the line-too-long reply (delimiter excluded; it is appended). Without this the
    /// reply is `ERROR line too long (limit N bytes)`.
    pub fn with_error_text(mut self, text: &[u8]) -> Result<Self, ConfigError> {
        self.error_text = Some(
            Vec::from_slice(text).map_err(|_| ConfigError::ErrorTextTooLong { len: text.len() })?,
        );
        Ok(self)
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
