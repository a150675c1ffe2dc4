//! [`Client`]: one conversation with a chat-echo server, and [`ClientBuilder`], its settings.

use crate::Error;
use crate::replies::ReplyReader;
use crate::sender::LineSender;
use async_net::{AsyncToSocketAddrs, TcpStream};
use chatecho_core::config::MAX_DELIMITER_LEN;
use chatecho_core::{Delimiter, Framer};
use futures_lite::io::{AsyncRead, AsyncWrite};

/// The longest reply handed out unless set, delimiter not counted: chatecho-server's replies
/// are at most its largest line limit (65536) plus its prefix; the seed's have no limit, so
/// the client allows far more. The buffer is allocated whole, and only the pages a reply
/// reaches become resident.
pub const DEFAULT_MAX_REPLY: usize = 1 << 20;

/// The largest reply limit accepted: the client allocates a buffer of the limit's size.
pub const MAX_REPLY_LIMIT: usize = 1 << 30;

/// One conversation with a chat-echo server: send lines, read the replies, end the input.
///
/// ```
/// use chatecho_client::Client;
/// # let server = chatecho_server::Server::builder().bind("127.0.0.1:0").unwrap();
/// # let addr = server.local_addrs()[0];
/// # smol::spawn(server.run(chatecho_server::GlobalExecutor, std::future::pending())).detach();
///
/// # smol::block_on(async {
/// let mut client = Client::connect(addr).await?; // a chatecho-server, or the seed's
/// client.send_line(b"hello").await?;
/// assert_eq!(client.next_line().await?, Some(&b"You sent: hello"[..]));
/// client.finish().await?; // no more lines: the server answers what it holds, and closes
/// assert!(client.remaining_lines().await?.is_empty());
/// # Ok::<(), chatecho_client::Error>(())
/// # }).unwrap();
/// ```
///
/// Over a TCP connection (`async_net::TcpStream`, the default), a Unix socket
/// (`async_net::unix::UnixStream`), or any clonable async stream: a clone reads while the
/// other writes, so [`split`](Self::split) can hand the two halves to two tasks.
#[derive(Debug)]
pub struct Client<S = TcpStream> {
    sender: LineSender<S>,
    replies: ReplyReader<S>,
}

impl Client<TcpStream> {
    /// Connects to the server at `addr` (every address it resolves to is tried) with the
    /// default settings: delimiter `\r\n`, replies up to [`DEFAULT_MAX_REPLY`] bytes.
    ///
    /// # Errors
    ///
    /// [`Error::Connect`] when no address `addr` resolves to takes the connection.
    pub async fn connect(addr: impl AsyncToSocketAddrs) -> Result<Self, Error> {
        ClientBuilder::default().connect(addr).await
    }
}

impl<S: AsyncRead + AsyncWrite + Clone + Unpin> Client<S> {
    /// Sends `line` followed by the delimiter ([`LineSender::send_line`]).
    pub async fn send_line(&mut self, line: &[u8]) -> Result<(), Error> {
        self.sender.send_line(line).await
    }

    /// Sends `bytes` as they are ([`LineSender::send_raw`]).
    pub async fn send_raw(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.sender.send_raw(bytes).await
    }

    /// Ends the input with a half-close ([`LineSender::finish`]); replies can still be read.
    pub async fn finish(&mut self) -> Result<(), Error> {
        self.sender.finish().await
    }

    /// The next reply line, or `None` once the server has closed
    /// ([`ReplyReader::next_line`]).
    pub async fn next_line(&mut self) -> Result<Option<&[u8]>, Error> {
        self.replies.next_line().await
    }

    /// Every reply left until the server closes ([`ReplyReader::remaining_lines`]).
    pub async fn remaining_lines(&mut self) -> Result<Vec<Vec<u8>>, Error> {
        self.replies.remaining_lines().await
    }

    /// The two halves, for sending and reading from two tasks (or two branches of one).
    pub fn split(self) -> (LineSender<S>, ReplyReader<S>) {
        (self.sender, self.replies)
    }
}

impl<S> Client<S> {
    /// The stream the client talks over (for its addresses, or socket options).
    pub fn stream(&self) -> &S {
        self.sender.stream()
    }
}

/// The settings of a [`Client`].
///
/// ```
/// use chatecho_client::{ClientBuilder, Delimiter};
///
/// let (ours, theirs) = async_net::unix::UnixStream::pair()?;
/// let client = ClientBuilder::default()
///     .delimiter(Delimiter::new(b"\n")?)
///     .max_reply(4096)
///     .build(ours)?;
/// # drop((client, theirs));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    delimiter: Delimiter,
    max_reply: usize,
}

impl Default for ClientBuilder {
    /// Delimiter `\r\n`, replies up to [`DEFAULT_MAX_REPLY`] bytes.
    fn default() -> Self {
        Self {
            delimiter: Delimiter::default(),
            max_reply: DEFAULT_MAX_REPLY,
        }
    }
}

impl ClientBuilder {
    /// The delimiter that ends lines and replies; it must be the server's.
    pub fn delimiter(mut self, delimiter: Delimiter) -> Self {
        self.delimiter = delimiter;
        self
    }

    /// The longest reply handed out, delimiter not counted; a longer one is skipped with
    /// [`Error::ReplyTooLong`]. The client holds a buffer of this size; 1 to
    /// [`MAX_REPLY_LIMIT`].
    pub fn max_reply(mut self, bytes: usize) -> Self {
        self.max_reply = bytes;
        self
    }

    /// Connects to the server at `addr`, trying every address it resolves to, and sets
    /// `TCP_NODELAY` (lines are written whole, so Nagle's algorithm would only delay them).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] or [`Error::MaxReplyTooLarge`] for the reply limit, before
    /// connecting; [`Error::Connect`] when no address takes the connection.
    pub async fn connect(self, addr: impl AsyncToSocketAddrs) -> Result<Client<TcpStream>, Error> {
        let framer = self.framer()?;
        let stream = TcpStream::connect(addr).await.map_err(Error::Connect)?;
        // Not fatal: the conversation works without it, a little slower.
        let _ = stream.set_nodelay(true);
        Ok(self.client(stream, framer))
    }

    /// A client over a stream you already have: a socket you connected yourself, a Unix
    /// socket, any clonable async stream.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] or [`Error::MaxReplyTooLarge`] for the reply limit.
    pub fn build<S: AsyncRead + AsyncWrite + Clone + Unpin>(
        self,
        stream: S,
    ) -> Result<Client<S>, Error> {
        let framer = self.framer()?;
        Ok(self.client(stream, framer))
    }

    fn framer(&self) -> Result<Framer<Box<[u8]>>, Error> {
        if self.max_reply > MAX_REPLY_LIMIT {
            return Err(Error::MaxReplyTooLarge {
                given: self.max_reply,
                limit: MAX_REPLY_LIMIT,
            });
        }
        // Refused by the framer when 0, before anything is allocated.
        let size = if self.max_reply == 0 {
            0
        } else {
            self.max_reply + MAX_DELIMITER_LEN
        };
        let buffer = vec![0u8; size].into_boxed_slice();
        Framer::new(buffer, self.delimiter.clone(), self.max_reply).map_err(Error::Config)
    }

    fn client<S: Clone>(self, stream: S, framer: Framer<Box<[u8]>>) -> Client<S> {
        Client {
            sender: LineSender::new(stream.clone(), self.delimiter),
            replies: ReplyReader::new(stream, framer),
        }
    }
}
