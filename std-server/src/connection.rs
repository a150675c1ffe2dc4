//! One connection, from its first byte to its close: the core's session answers; this module
//! moves bytes between it and the stream, and adds only what a real stream needs around it:
//! waiting for input, buffers held only while they are in use, the idle timeout, the stop
//! signal, a notice and a lingering close, counters and logs.
//!
//! A connection with nothing to say costs its stream and a small task: between reads, when
//! the session holds no partial line and owes no reply, its buffers go back to the thread's
//! pool ([`crate::buffers`]), and it takes buffers again only to read.

use crate::buffers::ConnectionBuffers;
use crate::counters::Tally;
use crate::echo::Shared;
use crate::idle::Watch;
use crate::transport::Io;
use async_io::Timer;
use chatecho_core::{EndReason, Session, State, Stats};
use futures_lite::future::{self, FutureExt as _};
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// After the session ends, how long the peer gets to close its side while we discard what it
/// still sends. Closing a socket with unread input makes the kernel send a reset, which can
/// destroy replies the peer has not read yet; draining first avoids that.
const LINGER: Duration = Duration::from_secs(2);

/// How long a peer gets to take the one line the server says before closing on its own
/// account (a refusal, an idle timeout, a shutdown).
const NOTICE_WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// How one conversation went: why it ended, and what was said.
///
/// ```
/// # use chatecho_server::{AnyStream, Echo, End};
/// # smol::block_on(async {
/// let echo = Echo::new(chatecho_server::Config::default())?;
/// let stream = futures_lite::io::Cursor::new(b"hi\r\n.\r\n".to_vec());
/// let conversation = echo.serve(AnyStream::new(stream)).await;
/// assert_eq!(conversation.end, End::QuitLine);
/// assert_eq!((conversation.lines_echoed, conversation.bytes_out), (1, 14));
/// # Ok::<(), chatecho_server::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct Conversation {
    /// Why it ended.
    pub end: End,
    /// Lines answered with an echo.
    pub lines_echoed: u64,
    /// Lines answered with the line-too-long reply.
    pub lines_too_long: u64,
    /// Bytes received.
    pub bytes_in: u64,
    /// Bytes sent: the replies, and the closing notice if there was one.
    pub bytes_out: u64,
}

/// Why a conversation ended.
#[derive(Debug)]
#[non_exhaustive]
pub enum End {
    /// The peer sent the quit line; every reply owed was sent.
    QuitLine,
    /// The peer finished sending (end of input); every reply owed was sent.
    InputEnded,
    /// The conversation was asked to end (the stop future given to
    /// [`Echo::serve_until`](crate::Echo::serve_until), or the server shutting down): the
    /// complete lines received were answered, then `ERROR server shutting down` was said.
    Shutdown,
    /// Nothing was read or written for the idle timeout: the replies owed were flushed (if the
    /// peer took them), then `ERROR idle timeout (…)` was said.
    IdleTimeout,
    /// The peer reset the connection, or it broke under us.
    Reset,
    /// Reading or writing failed otherwise.
    Failed(io::Error),
}

impl End {
    /// Whether the protocol ended it (quit line, end of input) or it was asked to end, as
    /// opposed to a timeout or a failure.
    pub fn is_clean(&self) -> bool {
        matches!(self, Self::QuitLine | Self::InputEnded | Self::Shutdown)
    }
}

impl PartialEq for End {
    /// Failures are equal when their [`io::ErrorKind`]s are.
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Failed(a), Self::Failed(b)) => a.kind() == b.kind(),
            _ => std::mem::discriminant(self) == std::mem::discriminant(other),
        }
    }
}

impl fmt::Display for End {
    /// The words the log uses: `quit line`, `end of input`, `shutdown`, `idle timeout`,
    /// `reset by peer`, `error: …`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::QuitLine => EndReason::QuitLine.fmt(f),
            Self::InputEnded => EndReason::InputEnded.fmt(f),
            Self::Shutdown => EndReason::Shutdown.fmt(f),
            Self::IdleTimeout => f.write_str("idle timeout"),
            Self::Reset => f.write_str("reset by peer"),
            Self::Failed(error) => write!(f, "error: {error}"),
        }
    }
}

/// A peer's address in the log, `-` when the stream has none.
struct Peer(Option<SocketAddr>);

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(addr) => addr.fmt(f),
            None => f.write_str("-"),
        }
    }
}

/// Counts a connection as open for as long as it lives, and as closed when it goes, however
/// it goes (a server that gives up on it drops it mid-way).
struct Open<'a> {
    tally: &'a Tally,
    idle: bool,
}

impl<'a> Open<'a> {
    fn new(tally: &'a Tally) -> Self {
        tally.opened();
        Self { tally, idle: false }
    }
}

impl Drop for Open<'_> {
    fn drop(&mut self) {
        self.tally.closed(self.idle);
    }
}

/// Serves one connection over `io` until it ends, or until `stop` completes and it has ended
/// gracefully, and says how it went. `peer` is what the log names it by.
///
/// Every connection's task holds this future for its whole life, so its size is memory per
/// connection: the ending (a notice, a lingering close) is boxed, as it is brief, and would
/// otherwise set the size of the whole.
pub(crate) async fn serve<I: Io>(
    shared: &Shared,
    io: &mut I,
    peer: Option<SocketAddr>,
    stop: Pin<&mut impl Future<Output = ()>>,
) -> Conversation {
    let mut open = Open::new(&shared.tally);
    let mut session = match Session::without_storage(&shared.config) {
        Ok(session) => session,
        Err(error) => {
            // Checked when the Echo was built, so this is a bug.
            debug_assert!(false, "a checked configuration refused a session: {error}");
            return Conversation::from_stats(
                End::Failed(io::Error::other(error)),
                Stats::default(),
            );
        }
    };
    tracing::debug!(peer = %Peer(peer), "connection opened");
    let watch = shared.idle.watch();
    let mut link = Link {
        io,
        session: &mut session,
        stop,
        watch: &watch,
        shared,
        reported: Stats::default(),
    };
    let result = link.converse().await;
    link.report();
    let stats = session.stats();
    if let Some(buffers) = session.into_storage() {
        buffers.give_back();
    }
    let idle = watch.is_expired();
    drop(watch);
    let (end, notice_bytes) = Box::pin(end(shared, io, result, idle)).await;
    open.idle = end == End::IdleTimeout;
    drop(open);
    let mut conversation = Conversation::from_stats(end, stats);
    conversation.bytes_out += notice_bytes;
    conversation.log(peer);
    conversation
}

/// Ends the connection after its conversation: tells it why if the server ended it, closes,
/// and says how it ended and the bytes of the notice.
async fn end<I: Io>(
    shared: &Shared,
    io: &mut I,
    result: io::Result<EndReason>,
    idle: bool,
) -> (End, u64) {
    match result {
        Ok(EndReason::Shutdown) => {
            // The session was closed on the server's account: the peer is told why, after
            // every reply it was owed.
            let notice = if idle {
                &shared.notices.idle_timeout
            } else {
                &shared.notices.shutting_down
            };
            let mut sent = 0;
            if let Ok(n) = say_and_close(io, notice).await {
                sent = n as u64;
                shared.tally.served(0, 0, sent);
            }
            let end = if idle {
                End::IdleTimeout
            } else {
                End::Shutdown
            };
            (end, sent)
        }
        Ok(reason) => {
            linger_close(io).await;
            let end = match reason {
                EndReason::QuitLine => End::QuitLine,
                _ => End::InputEnded,
            };
            (end, 0)
        }
        // A peer that takes none of its replies for the idle timeout.
        Err(e) if e.kind() == io::ErrorKind::TimedOut => (End::IdleTimeout, 0),
        Err(e) if is_reset(&e) => (End::Reset, 0),
        Err(e) => (End::Failed(e), 0),
    }
}

impl Conversation {
    fn from_stats(end: End, stats: Stats) -> Self {
        Self {
            end,
            lines_echoed: stats.lines_echoed,
            lines_too_long: stats.lines_too_long,
            bytes_in: stats.bytes_in,
            bytes_out: stats.bytes_out,
        }
    }

    /// Logs the close: at `debug`, or at `warn` for a failure.
    fn log(&self, peer: Option<SocketAddr>) {
        let peer = Peer(peer);
        let Self {
            end,
            lines_echoed,
            lines_too_long,
            bytes_in,
            bytes_out,
        } = self;
        if let End::Failed(_) = end {
            tracing::warn!(%peer, reason = %end, lines_echoed, lines_too_long, "connection closed");
        } else {
            tracing::debug!(
                %peer,
                reason = %end,
                lines_echoed,
                lines_too_long,
                bytes_in,
                bytes_out,
                "connection closed"
            );
        }
    }
}

/// Errors that mean the peer reset or abandoned the connection: its business, not ours.
fn is_reset(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

/// What a conversation works with: the stream, the session, the signal to stop, the idle
/// timeout's watch, and what of the session's counts is in the tally so far.
struct Link<'a, 'c, I, S> {
    io: &'a mut I,
    session: &'a mut Session<'c, ConnectionBuffers>,
    stop: Pin<&'a mut S>,
    watch: &'a Watch,
    shared: &'a Shared,
    reported: Stats,
}

impl<I: Io, S: Future<Output = ()>> Link<'_, '_, I, S> {
    /// Adds to the tally what the session did since the last call.
    fn report(&mut self) {
        let (was, now) = (self.reported, self.session.stats());
        let lines =
            (now.lines_echoed + now.lines_too_long) - (was.lines_echoed + was.lines_too_long);
        if lines > 0 || now.bytes_in != was.bytes_in || now.bytes_out != was.bytes_out {
            self.shared.tally.served(
                lines,
                now.bytes_in - was.bytes_in,
                now.bytes_out - was.bytes_out,
            );
            self.reported = now;
        }
    }

    /// Whether the conversation must end: `stop` completed, or the idle timeout passed.
    fn poll_stop(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.stop.as_mut().poll(cx).is_ready() {
            return Poll::Ready(());
        }
        self.watch.poll_expired(cx)
    }

    /// Runs the conversation until the session closes: writes every reply owed, then waits
    /// for input (or the end of the conversation) and reads it into the session.
    ///
    /// After a read that filled the space offered, more input is likely waiting, so it reads
    /// again at once; after a shorter one, it waits for input first (on a socket: for the
    /// reactor to say so, holding no buffers). A read holds the buffers only while it is
    /// being polled, unless the session holds something in them.
    async fn converse(&mut self) -> io::Result<EndReason> {
        let mut read_again = false;
        loop {
            while !self.session.output().is_empty() {
                let n = self.write().await?;
                self.session.consume_output(n);
            }
            // Once a turn, so that long-lived connections show in the summaries too.
            self.report();
            match self.session.state() {
                State::Closed(reason) => return Ok(reason),
                // Input has ended and every reply is written: the next turn finds it closed.
                State::Closing(_) => continue,
                State::Open => {}
            }
            if !read_again {
                give_back_if_quiet(self.session);
                let mut asked = false;
                let input = future::poll_fn(|cx| {
                    if self.poll_stop(cx).is_ready() {
                        return Poll::Ready(Ok(false));
                    }
                    self.io.poll_input(cx, &mut asked).map_ok(|()| true)
                })
                .await?;
                if !input {
                    self.session.shutdown();
                    continue;
                }
            }
            match future::poll_fn(|cx| self.poll_read(cx)).await {
                None => self.session.shutdown(),
                Some(Ok((0, _))) => self.session.input_eof(),
                Some(Ok((n, offered))) => {
                    self.watch.touch();
                    read_again = n == offered;
                    self.session.commit_input(n);
                }
                Some(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Some(Err(e)) => return Err(e),
            }
        }
    }

    /// Reads into the session's input space, taking buffers for the read and giving them
    /// back while it waits; `None` if the conversation must end first. Says how many bytes
    /// were read, and how many were offered.
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<(usize, usize)>>> {
        // A peer that keeps the socket full still sees a shutdown or its idle timeout.
        if self.poll_stop(cx).is_ready() {
            return Poll::Ready(None);
        }
        if !self.session.has_storage() {
            let buffers = ConnectionBuffers::take(self.shared.sizes);
            if let Err(refused) = self.session.give_storage(buffers) {
                // Checked when the Echo was built with the same sizes.
                return Poll::Ready(Some(Err(io::Error::other(refused.error))));
            }
        }
        let space = self.session.input_space();
        let offered = space.len();
        if offered == 0 {
            // Open, holding storage and owing nothing: the session always takes input.
            return Poll::Ready(Some(Err(io::Error::other("the session refused input"))));
        }
        match self.io.poll_read(cx, space) {
            Poll::Ready(result) => Poll::Ready(Some(result.map(|n| (n, offered)))),
            Poll::Pending => {
                give_back_if_quiet(self.session);
                Poll::Pending
            }
        }
    }

    /// Writes some of the replies owed; fails if the peer takes none of them within the idle
    /// timeout.
    async fn write(&mut self) -> io::Result<usize> {
        let n = future::poll_fn(|cx| {
            if let Poll::Ready(result) = self.io.poll_write(cx, self.session.output()) {
                return Poll::Ready(result);
            }
            self.watch
                .poll_expired(cx)
                .map(|()| Err(io::ErrorKind::TimedOut.into()))
        })
        .await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        self.watch.touch();
        Ok(n)
    }
}

/// Gives the session's buffers back to the pool if it holds nothing in them; otherwise (a
/// partial line, replies owed) the session refuses, changing nothing.
fn give_back_if_quiet(session: &mut Session<'_, ConnectionBuffers>) {
    if let Ok(buffers) = session.take_storage() {
        buffers.give_back();
    }
}

/// Sends `line`, the one thing the server says before it closes a connection on its own
/// account, then closes with [`linger_close`]. Returns the bytes sent; fails if the peer does
/// not take them within [`NOTICE_WRITE_TIMEOUT`] (then the connection is just closed).
pub(crate) async fn say_and_close<I: Io>(io: &mut I, line: &[u8]) -> io::Result<usize> {
    let write_all = async {
        let mut rest = line;
        while !rest.is_empty() {
            let n = future::poll_fn(|cx| io.poll_write(cx, rest)).await?;
            if n == 0 {
                return Err(io::Error::from(io::ErrorKind::WriteZero));
            }
            rest = &rest[n..];
        }
        Ok(())
    };
    write_all
        .or(async {
            Timer::after(NOTICE_WRITE_TIMEOUT).await;
            Err(io::ErrorKind::TimedOut.into())
        })
        .await?;
    linger_close(io).await;
    Ok(line.len())
}

/// Closes our side, then discards what the peer still sends until it closes too (or
/// [`LINGER`] passes), so that the kernel does not answer unread input with a reset.
async fn linger_close<I: Io>(io: &mut I) {
    let drain = async {
        if future::poll_fn(|cx| io.poll_close_write(cx)).await.is_err() {
            return;
        }
        let mut scrap = [0u8; 256];
        while let Ok(1..) = future::poll_fn(|cx| io.poll_read(cx, &mut scrap)).await {}
    };
    drain
        .or(async {
            Timer::after(LINGER).await;
        })
        .await;
}

#[cfg(test)]
mod tests {
    //! The conversation loop over a stream that is never ready unless told: what it holds
    //! while it waits.
    use super::*;
    use crate::Echo;
    use crate::buffers::pooled;
    use crate::transport::AnyStream;
    use chatecho_core::Config;
    use futures_lite::io::{AsyncRead, AsyncWrite};
    use std::cell::RefCell;
    use std::rc::Rc;

    /// A peer driven by the test: reads return what it was given, else wait; writes are kept.
    #[derive(Default)]
    struct Scripted {
        incoming: Vec<u8>,
        ended: bool,
        outgoing: Vec<u8>,
    }

    #[derive(Clone, Default)]
    struct Pipe(Rc<RefCell<Scripted>>);

    impl AsyncRead for Pipe {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            let mut peer = self.0.borrow_mut();
            if peer.incoming.is_empty() && !peer.ended {
                // The test polls again itself; no waker is needed.
                return Poll::Pending;
            }
            let n = buf.len().min(peer.incoming.len());
            buf[..n].copy_from_slice(&peer.incoming[..n]);
            peer.incoming.drain(..n);
            Poll::Ready(Ok(n))
        }
    }

    impl AsyncWrite for Pipe {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.0.borrow_mut().outgoing.extend_from_slice(buf);
            Poll::Ready(Ok(buf.len()))
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    /// Polls `fut` once, on this thread.
    fn poll_once<F: Future>(fut: Pin<&mut F>) -> Option<F::Output> {
        future::block_on(future::poll_once(fut))
    }

    #[test]
    fn a_waiting_stream_holds_buffers_only_while_a_line_is_partial() {
        let echo = Echo::new(Config::default()).unwrap();
        let pipe = Pipe::default();
        let serving = echo.serve(AnyStream::new(pipe.clone()));
        let mut serving = std::pin::pin!(serving);
        let before = pooled();

        // Waiting with nothing said: the buffers lent for the read are back in the pool.
        assert!(poll_once(serving.as_mut()).is_none());
        assert_eq!(pooled(), before + 1);

        // A partial line is held in the session's buffers, so they stay out of the pool.
        pipe.0
            .borrow_mut()
            .incoming
            .extend_from_slice(b"hello\r\nwor");
        assert!(poll_once(serving.as_mut()).is_none());
        assert_eq!(pipe.0.borrow().outgoing, b"You sent: hello\r\n");
        assert_eq!(pooled(), before);

        // The line completed and answered: quiet again, buffers back.
        pipe.0.borrow_mut().incoming.extend_from_slice(b"ld\r\n");
        assert!(poll_once(serving.as_mut()).is_none());
        assert_eq!(pooled(), before + 1);

        pipe.0.borrow_mut().ended = true;
        let conversation = poll_once(serving.as_mut()).expect("ended with the input");
        assert_eq!(conversation.end, End::InputEnded);
        assert_eq!(conversation.lines_echoed, 2);
        assert_eq!(
            pipe.0.borrow().outgoing,
            b"You sent: hello\r\nYou sent: world\r\n"
        );
    }
}
