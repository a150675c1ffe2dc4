//! [`LineSender`]: the sending half of a conversation: lines out, each ended by the
//! delimiter, and the end of input.

use crate::Error;
use chatecho_core::Delimiter;
use futures_lite::io::{AsyncWrite, AsyncWriteExt as _};

/// Sends lines to a chat-echo server: the sending half of a [`Client`](crate::Client), from
/// [`Client::split`](crate::Client::split).
#[derive(Debug)]
pub struct LineSender<S> {
    stream: S,
    delimiter: Delimiter,
    /// The line and its delimiter, so that each goes out in one write.
    outgoing: Vec<u8>,
}

impl<S> LineSender<S> {
    pub(crate) fn new(stream: S, delimiter: Delimiter) -> Self {
        Self {
            stream,
            delimiter,
            outgoing: Vec::new(),
        }
    }

    /// The stream lines are sent over.
    pub fn stream(&self) -> &S {
        &self.stream
    }

    /// The delimiter lines are sent with.
    pub fn delimiter(&self) -> &Delimiter {
        &self.delimiter
    }
}

impl<S: AsyncWrite + Unpin> LineSender<S> {
    /// Sends `line` followed by the delimiter, as one line. Fails with
    /// [`Error::LineContainsDelimiter`], sending nothing, if the server would read those
    /// bytes as more than one line.
    ///
    /// # Errors
    ///
    /// [`Error::LineContainsDelimiter`] as above; [`Error::Io`] if the connection fails.
    pub async fn send_line(&mut self, line: &[u8]) -> Result<(), Error> {
        self.outgoing.clear();
        self.outgoing.extend_from_slice(line);
        self.outgoing.extend_from_slice(self.delimiter.as_bytes());
        // The server ends the line at the first delimiter it finds: that must be ours. (A
        // self-overlapping delimiter can also begin inside the line and end inside ours.)
        if memchr::memmem::find(&self.outgoing, self.delimiter.as_bytes()) != Some(line.len()) {
            return Err(Error::LineContainsDelimiter);
        }
        self.stream
            .write_all(&self.outgoing)
            .await
            .map_err(Error::Io)
    }

    /// Sends `bytes` as they are: lines already ended by the delimiter, a line in pieces,
    /// anything.
    pub async fn send_raw(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.stream.write_all(bytes).await.map_err(Error::Io)
    }

    /// Ends the input: flushes, then shuts down the sending side (a TCP half-close). The
    /// server then answers what it holds and closes; the replies can still be read.
    pub async fn finish(&mut self) -> Result<(), Error> {
        self.stream.flush().await.map_err(Error::Io)?;
        self.stream.close().await.map_err(Error::Io)
    }
}
