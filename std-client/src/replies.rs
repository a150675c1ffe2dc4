//! [`ReplyReader`]: the receiving half of a conversation: the server's replies, line by
//! line, split by the core's `Framer`.

use crate::Error;
use chatecho_core::{Frame, Framer};
use futures_lite::io::{AsyncRead, AsyncReadExt as _};

/// How a server that refuses a connection for want of room begins its one line.
pub(crate) const REFUSAL: &[u8] = b"ERROR server full";

/// Reads a chat-echo server's replies, line by line: the receiving half of a
/// [`Client`](crate::Client), from [`Client::split`](crate::Client::split).
#[derive(Debug)]
pub struct ReplyReader<S> {
    stream: S,
    framer: Framer<Box<[u8]>>,
    /// Whether a reply has been handed out (a refusal can only be the first).
    answered: bool,
}

impl<S> ReplyReader<S> {
    pub(crate) fn new(stream: S, framer: Framer<Box<[u8]>>) -> Self {
        Self {
            stream,
            framer,
            answered: false,
        }
    }

    /// The longest reply handed out, delimiter not counted.
    pub fn max_reply(&self) -> usize {
        self.framer.max_line()
    }
}

impl<S: AsyncRead + Unpin> ReplyReader<S> {
    /// The next reply line, without its delimiter; `None` once the server has closed the
    /// connection and every reply was read. An unterminated last reply is a line too.
    ///
    /// Fails with [`Error::Refused`] if the server's first line refuses the connection as
    /// full, with [`Error::ReplyTooLong`] for a reply over the limit (skipped: the next call
    /// goes on after it), and with [`Error::Io`] if the connection fails.
    pub async fn next_line(&mut self) -> Result<Option<&[u8]>, Error> {
        while self.framer.peek().is_none() {
            if self.framer.is_finished() {
                return Ok(None);
            }
            let space = self.framer.space();
            debug_assert!(!space.is_empty(), "no room for a reply though none is held");
            let n = self.stream.read(space).await.map_err(Error::Io)?;
            if n == 0 {
                // The server closed: an unterminated last reply is still a reply.
                self.framer.finish();
            } else {
                self.framer.commit(n);
            }
        }
        let first = !self.answered;
        self.answered = true;
        let limit = self.framer.max_line();
        match self.framer.next_frame() {
            Some(Frame::Line(line)) if first && line.starts_with(REFUSAL) => Err(Error::Refused {
                notice: line.to_vec(),
            }),
            Some(Frame::Line(line)) => Ok(Some(line)),
            Some(Frame::TooLong) => Err(Error::ReplyTooLong { limit }),
            None => {
                debug_assert!(false, "the frame peeked at is gone");
                Ok(None)
            }
        }
    }

    /// Every reply left until the server closes the connection.
    pub async fn remaining_lines(&mut self) -> Result<Vec<Vec<u8>>, Error> {
        let mut lines = Vec::new();
        while let Some(line) = self.next_line().await? {
            lines.push(line.to_vec());
        }
        Ok(lines)
    }
}
