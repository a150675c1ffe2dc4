//! What can go wrong talking to a chat-echo server.

use chatecho_core::ConfigError;
use std::fmt;
use std::io;

/// Why a [`Client`](crate::Client) call failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The client's settings are invalid (a reply limit of 0).
    Config(ConfigError),
    /// The reply limit is larger than the client will allocate a buffer for.
    MaxReplyTooLarge {
        /// The limit asked for.
        given: usize,
        /// The largest accepted ([`MAX_REPLY_LIMIT`](crate::MAX_REPLY_LIMIT)).
        limit: usize,
    },
    /// Connecting to the server failed: it is not listening there, or cannot be reached.
    Connect(io::Error),
    /// The connection failed while talking (reset by the server, for one).
    Io(io::Error),
    /// The server refused the connection for want of room: its first line was
    /// `ERROR server full …` (the whole line is here, delimiter removed). Try again later, or
    /// from an address with fewer connections open.
    Refused {
        /// The server's line.
        notice: Vec<u8>,
    },
    /// A reply longer than the client's limit arrived; it was skipped, and the next call goes
    /// on with the reply after it. Raise the limit with
    /// [`ClientBuilder::max_reply`](crate::ClientBuilder::max_reply) to see such replies.
    ReplyTooLong {
        /// The limit, in bytes, delimiter not counted.
        limit: usize,
    },
    /// The line given contains the delimiter, so the server would take it for more than one
    /// line: split it, or send it with [`Client::send_raw`](crate::Client::send_raw) if that
    /// is what you mean.
    LineContainsDelimiter,
}

impl Error {
    /// Whether this is the server's refusal of the connection as full.
    pub fn is_refused(&self) -> bool {
        matches!(self, Self::Refused { .. })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(error) => write!(f, "invalid client settings: {error}"),
            Self::MaxReplyTooLarge { given, limit } => write!(
                f,
                "a reply limit of {given} bytes is more than the {limit} the client allows"
            ),
            Self::Connect(error) => write!(f, "cannot connect: {error}"),
            Self::Io(error) => write!(f, "the connection failed: {error}"),
            Self::Refused { notice } => write!(
                f,
                "the server refused the connection: {}",
                String::from_utf8_lossy(notice)
            ),
            Self::ReplyTooLong { limit } => {
                write!(f, "skipped a reply longer than {limit} bytes")
            }
            Self::LineContainsDelimiter => f.write_str(
                "the line contains the delimiter, so it would be sent as more than one line",
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Config(error) => Some(error),
            Self::Connect(error) | Self::Io(error) => Some(error),
            Self::MaxReplyTooLarge { .. }
            | Self::Refused { .. }
            | Self::ReplyTooLong { .. }
            | Self::LineContainsDelimiter => None,
        }
    }
}
