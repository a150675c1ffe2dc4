//! What a connection is served over: the streams [`Echo::serve`](crate::Echo::serve) takes,
//! and the few operations the conversation loop needs from them.
//!
//! There are two kinds, one loop ([`crate::connection`]) for both:
//! - **sockets registered with async-io's reactor** (`async_net::TcpStream`,
//!   `Async<std::net::TcpStream>` and their Unix-socket twins): the loop waits for readiness
//!   *without* a buffer, and reads only once the reactor says input is there, so a quiet
//!   connection holds no buffers and a wait costs no read that says "nothing yet";
//! - **any other byte stream** (`AsyncRead + AsyncWrite + Unpin`, wrapped in [`AnyStream`]):
//!   a TLS stream, an in-memory pipe. It cannot be asked for readiness, so the loop lends it
//!   the session's buffers for the length of each `poll_read` and takes them back when the
//!   read is pending: the same buffer handling, at the cost of one read attempt per wait.

use async_io::Async;
use futures_lite::io::{AsyncRead, AsyncWrite};
use std::io::{self, Read as _, Write as _};
use std::net::{Shutdown, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

/// A stream a connection can be served over: a socket registered with async-io's reactor
/// (`async_net::TcpStream`, `async_io::Async<std::net::TcpStream>`, `async_net::unix::UnixStream`,
/// `async_io::Async<std::os::unix::net::UnixStream>`), or any `AsyncRead + AsyncWrite + Unpin`
/// stream wrapped in [`AnyStream`].
///
/// Sealed: the conversation loop relies on how each kind waits for input (module
/// `transport`'s docs); wrap a stream of your own in [`AnyStream`].
pub trait Transport: sealed::Sealed {}

pub(crate) mod sealed {
    /// The conversion into the stream the conversation loop drives.
    pub trait Sealed {
        /// The stream the loop drives.
        type Io: super::Io;
        /// Converts into it.
        fn into_io(self) -> Self::Io;
    }
}

/// What the conversation loop needs from a stream. Every `poll_*` that returns `Pending` has
/// arranged for the task to be woken.
pub trait Io: Unpin {
    /// Completes when a read is worth trying, holding no buffer while it waits. `asked` is the
    /// wait's state, `false` when a wait begins.
    fn poll_input(&mut self, cx: &mut Context<'_>, asked: &mut bool) -> Poll<io::Result<()>>;
    /// Reads into `buf`.
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>>;
    /// Writes some of `buf`.
    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>>;
    /// Ends our sending side (a TCP half-close); the peer may still send.
    fn poll_close_write(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
    /// The peer's address, for the log, when the stream has one.
    fn peer(&self) -> Option<SocketAddr>;
}

/// Any `AsyncRead + AsyncWrite + Unpin` stream, served by [`Echo::serve`](crate::Echo::serve):
/// a TLS stream, a pipe, a socket of a reactor other than async-io's.
///
/// ```
/// use chatecho_server::{AnyStream, Echo, End};
/// use futures_lite::io::Cursor;
///
/// # smol::block_on(async {
/// let echo = Echo::new(chatecho_server::Config::default())?;
/// // A stream that yields two lines, then ends; what is written to it is kept.
/// let stream = Cursor::new(b"hello\r\nworld\r\n".to_vec());
/// let conversation = echo.serve(AnyStream::new(stream)).await;
/// assert_eq!(conversation.end, End::InputEnded);
/// assert_eq!(conversation.lines_echoed, 2);
/// # Ok::<(), chatecho_server::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct AnyStream<T>(T);

impl<T> AnyStream<T> {
    /// Wraps `stream` for serving.
    pub fn new(stream: T) -> Self {
        Self(stream)
    }

    /// The stream.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> Transport for AnyStream<T> {}

impl<T: AsyncRead + AsyncWrite + Unpin> sealed::Sealed for AnyStream<T> {
    type Io = Self;

    fn into_io(self) -> Self {
        self
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> Io for AnyStream<T> {
    fn poll_input(&mut self, _: &mut Context<'_>, _: &mut bool) -> Poll<io::Result<()>> {
        // No readiness to ask for: try the read, which waits if it must.
        Poll::Ready(Ok(()))
    }

    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_close_write(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_close(cx)
    }

    fn peer(&self) -> Option<SocketAddr> {
        None
    }
}

/// An OS socket that async-io can register: what [`Registered`] needs of it besides
/// readiness.
pub trait OsSocket {
    fn read_now(&self, buf: &mut [u8]) -> io::Result<usize>;
    fn write_now(&self, buf: &[u8]) -> io::Result<usize>;
    fn close_write(&self) -> io::Result<()>;
    fn peer(&self) -> Option<SocketAddr>;
}

/// Implements [`OsSocket`] for a std socket type, whose `&T` reads and writes.
macro_rules! os_socket {
    ($type:ty, peer: $peer:expr) => {
        impl OsSocket for $type {
            fn read_now(&self, buf: &mut [u8]) -> io::Result<usize> {
                (&*self).read(buf)
            }

            fn write_now(&self, buf: &[u8]) -> io::Result<usize> {
                (&*self).write(buf)
            }

            fn close_write(&self) -> io::Result<()> {
                self.shutdown(Shutdown::Write)
            }

            fn peer(&self) -> Option<SocketAddr> {
                $peer(self)
            }
        }
    };
}

os_socket!(std::net::TcpStream, peer: |s: &std::net::TcpStream| s.peer_addr().ok());
// A Unix socket's peer has no IP address to log.
#[cfg(unix)]
os_socket!(std::os::unix::net::UnixStream, peer: |_| None);

/// A socket registered with async-io's reactor, owned (`Async<T>`, what the server accepts)
/// or shared (`Arc<Async<T>>`, what async-net's streams hold).
#[derive(Debug)]
pub struct Registered<S>(pub S);

/// Owned or shared access to an `Async<T>`.
pub trait AsAsync {
    type Socket: OsSocket;
    fn as_async(&self) -> &Async<Self::Socket>;
}

impl<T: OsSocket> AsAsync for Async<T> {
    type Socket = T;
    fn as_async(&self) -> &Async<T> {
        self
    }
}

impl<T: OsSocket> AsAsync for Arc<Async<T>> {
    type Socket = T;
    fn as_async(&self) -> &Async<T> {
        self
    }
}

impl<S: AsAsync + Unpin> Io for Registered<S> {
    /// Completes once the task is woken after asking the reactor to say when the socket is
    /// readable: then a read is worth trying (a spurious wake-up costs one read that says "not
    /// yet", after which the loop waits again).
    ///
    /// Not `Async::readable`: that completes only for an event from a reactor turn that began
    /// after the interest was registered, and ignores one from the turn already in progress on
    /// another thread, re-arming interest and waiting for the next turn instead, which costs a
    /// second `epoll_ctl` and a lost turn per wait (bench/RESULTS.md has the counts).
    ///
    /// The first call to `poll_readable` may report the readiness that ended the previous
    /// wait, which the last read has used up: it is asked again, which registers the interest
    /// anew (and if bytes arrived meanwhile, the reactor reports them at once).
    fn poll_input(&mut self, cx: &mut Context<'_>, asked: &mut bool) -> Poll<io::Result<()>> {
        if *asked {
            return Poll::Ready(Ok(()));
        }
        for _ in 0..2 {
            match self.0.as_async().poll_readable(cx) {
                Poll::Pending => {
                    *asked = true;
                    return Poll::Pending;
                }
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                Poll::Ready(Ok(())) => {}
            }
        }
        Poll::Ready(Ok(()))
    }

    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        loop {
            match self.0.as_async().get_ref().read_now(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                result => return Poll::Ready(result),
            }
            // Nothing there after all: wait as `poll_input` does, then read again.
            ready!(self.poll_input(cx, &mut false))?;
        }
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let socket = self.0.as_async();
        loop {
            match socket.get_ref().write_now(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                result => return Poll::Ready(result),
            }
            ready!(socket.poll_writable(cx))?;
        }
    }

    fn poll_close_write(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.0.as_async().get_ref().close_write())
    }

    fn peer(&self) -> Option<SocketAddr> {
        self.0.as_async().get_ref().peer()
    }
}

/// Implements [`Transport`] for a socket type that converts into a [`Registered`] one.
macro_rules! registered {
    ($type:ty, $held:ty, $convert:expr) => {
        impl Transport for $type {}

        impl sealed::Sealed for $type {
            type Io = Registered<$held>;

            fn into_io(self) -> Self::Io {
                Registered($convert(self))
            }
        }
    };
}

registered!(
    Async<std::net::TcpStream>,
    Async<std::net::TcpStream>,
    |s| s
);
registered!(
    async_net::TcpStream,
    Arc<Async<std::net::TcpStream>>,
    Into::into
);
#[cfg(unix)]
registered!(
    Async<std::os::unix::net::UnixStream>,
    Async<std::os::unix::net::UnixStream>,
    |s| s
);
#[cfg(unix)]
registered!(
    async_net::unix::UnixStream,
    Arc<Async<std::os::unix::net::UnixStream>>,
    Into::into
);
