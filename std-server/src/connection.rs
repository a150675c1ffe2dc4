//! One accepted connection, from accept to close: the core's session answers; this module
//! moves bytes between it and the socket, and adds only what an OS socket needs around it:
//! waiting for readiness, buffers held only while they are in use, the idle timeout, the
//! shutdown signal, a notice and a lingering close, counters and logs.
//!
//! A connection with nothing to say costs its socket and a small task: between reads, when
//! the session holds no partial line and owes no reply, its buffers go back to the thread's
//! pool ([`crate::buffers`]), and it takes buffers again only once the socket is readable.

use crate::buffers::{ConnectionBuffers, Sizes};
use crate::counters;
use crate::idle::{Idle, Watch};
use crate::settings::Settings;
use crate::shutdown::Stop;
use async_io::{Async, Timer};
use chatecho_core::{EndReason, Session, State, Stats};
use futures_lite::future::{self, FutureExt as _};
use futures_lite::AsyncReadExt as _;
use futures_lite::AsyncWriteExt as _;
use smol::Executor;
use std::fmt;
use std::future::Future;
use std::io::{self, Read as _, Write as _};
use std::net::{Shutdown, SocketAddr};
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

/// After the session ends, how long the peer gets to close its side while we discard what it
/// still sends. Closing a socket with unread input makes the kernel send a reset, which can
/// destroy replies the peer has not read yet; draining first avoids that.
const LINGER: Duration = Duration::from_secs(2);

/// How long a peer gets to take the one line the server says before closing on its own
/// account (a refusal, an idle timeout, a shutdown).
const NOTICE_WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// The socket as a bare `Async` handle: async-net's `TcpStream` carries 120 bytes of read and
/// write state that every connection would keep for life.
pub type Socket = Async<std::net::TcpStream>;

/// Why a connection ended, in the words the log uses.
#[derive(Debug)]
enum Ending {
    /// The session ended: the peer sent the quit line or finished sending, or the server
    /// shut down.
    Session(EndReason),
    /// Nothing was read or written for `--idle-timeout`.
    IdleTimeout,
    /// The peer reset the connection (or it broke under us).
    ResetByPeer,
    /// Any other socket error.
    Failed(io::Error),
}

impl fmt::Display for Ending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Session(reason) => reason.fmt(f),
            Self::IdleTimeout => f.write_str("idle timeout"),
            Self::ResetByPeer => f.write_str("reset by peer"),
            Self::Failed(error) => write!(f, "error: {error}"),
        }
    }
}

/// Spawns a connection's task, which serves it to the end. `ticket` is held for the
/// connection's whole life: it counts the connection against the connection limits and keeps
/// shutdown waiting for it.
pub fn spawn<Ticket: Send + 'static>(
    executor: &Executor<'static>,
    socket: Socket,
    peer: SocketAddr,
    settings: Arc<Settings>,
    idle: Arc<Idle>,
    stop: Stop,
    ticket: Ticket,
) {
    executor
        .spawn(serve(socket, peer, settings, idle, stop, ticket))
        .detach();
}

async fn serve<Ticket>(
    socket: Socket,
    peer: SocketAddr,
    settings: Arc<Settings>,
    idle: Arc<Idle>,
    stop: Stop,
    _ticket: Ticket,
) {
    let mut session = match Session::without_storage(&settings.config) {
        Ok(session) => session,
        Err(error) => {
            // Checked at startup, so this is not expected.
            tracing::error!(%peer, %error, "cannot create a session");
            return;
        }
    };
    tracing::debug!(%peer, "connection opened");
    let watch = idle.watch();
    let stop = pin!(stop.stopping().or(watch.expired()));
    let link = Link {
        socket: &socket,
        sizes: settings.sizes,
        watch: &watch,
    };
    let mut tally = Tally::default();
    let result = link.converse(&mut session, stop, &mut tally).await;
    let stats = session.stats();
    tally.update(stats);
    if let Some(buffers) = session.into_storage() {
        buffers.give_back();
    }
    let idle = watch.is_expired();
    let ending = match result {
        Ok(EndReason::Shutdown) => {
            // The server closed the session on its own account: the peer is told why, after
            // every reply it was owed.
            let notice = if idle {
                &settings.notices.idle_timeout
            } else {
                &settings.notices.shutting_down
            };
            if let Ok(n) = say_and_close(&socket, notice).await {
                tally.count_notice(n);
            }
            if idle {
                Ending::IdleTimeout
            } else {
                Ending::Session(EndReason::Shutdown)
            }
        }
        Ok(reason) => {
            linger_close(&socket).await;
            Ending::Session(reason)
        }
        // A peer that takes none of its replies for the idle timeout.
        Err(e) if e.kind() == io::ErrorKind::TimedOut => Ending::IdleTimeout,
        Err(e) if is_reset(&e) => Ending::ResetByPeer,
        Err(e) => Ending::Failed(e),
    };
    counters::closed(matches!(ending, Ending::IdleTimeout));
    let (lines_echoed, lines_too_long) = (stats.lines_echoed, stats.lines_too_long);
    if let Ending::Failed(_) = ending {
        tracing::warn!(%peer, reason = %ending, lines_echoed, lines_too_long, "connection closed");
    } else {
        tracing::debug!(
            %peer,
            reason = %ending,
            lines_echoed,
            lines_too_long,
            bytes_in = stats.bytes_in,
            bytes_out = stats.bytes_out + tally.notice_bytes,
            "connection closed"
        );
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

/// What of a session's counts has gone into the server's [`counters`] so far.
#[derive(Debug, Default)]
struct Tally {
    counted: Stats,
    /// Bytes of the closing notice, which the session does not count.
    notice_bytes: u64,
}

impl Tally {
    /// Adds to the server's counters what the session did since the last call.
    fn update(&mut self, now: Stats) {
        let was = self.counted;
        let lines =
            (now.lines_echoed + now.lines_too_long) - (was.lines_echoed + was.lines_too_long);
        if lines > 0 || now.bytes_in != was.bytes_in || now.bytes_out != was.bytes_out {
            counters::served(
                lines,
                now.bytes_in - was.bytes_in,
                now.bytes_out - was.bytes_out,
            );
            self.counted = now;
        }
    }

    fn count_notice(&mut self, bytes: usize) {
        self.notice_bytes += bytes as u64;
        counters::served(0, 0, bytes as u64);
    }
}

/// What a connection's loop works with: the socket and the server's settings for it.
struct Link<'a> {
    socket: &'a Socket,
    sizes: Sizes,
    /// The connection's activity, for the idle timeout.
    watch: &'a Watch,
}

impl Link<'_> {
    /// Runs the conversation until the session closes: writes every reply owed, then waits
    /// for input (or `stop`) and reads it into the session.
    ///
    /// After a read that filled the space offered, more input is likely waiting, so it reads
    /// again at once; after a shorter one, it waits for readiness first rather than make a
    /// read that would only say "nothing yet". Buffers are held across that wait only when
    /// the session holds something: a partial line, or replies the peer has not taken.
    async fn converse(
        &self,
        session: &mut Session<'_, ConnectionBuffers>,
        mut stop: Pin<&mut impl Future<Output = ()>>,
        tally: &mut Tally,
    ) -> io::Result<EndReason> {
        let mut read_again = false;
        loop {
            while !session.output().is_empty() {
                let n = self.write(session.output()).await?;
                session.consume_output(n);
            }
            // Once a turn, so that long-lived connections show in the summaries too.
            tally.update(session.stats());
            match session.state() {
                State::Closed(reason) => return Ok(reason),
                // Input has ended and every reply is written: the next turn finds it closed.
                State::Closing(_) => continue,
                State::Open => {}
            }
            if read_again {
                // A peer that keeps the socket full still sees a shutdown or its idle timeout.
                if future::poll_once(stop.as_mut()).await.is_some() {
                    session.shutdown();
                    continue;
                }
            } else {
                // The buffers wait in the pool; the session refuses, changing nothing, while it
                // holds a partial line or replies.
                if let Ok(buffers) = session.take_storage() {
                    buffers.give_back();
                }
                let readable = async { woken_for_input(self.socket).await.map(|()| true) };
                let stopping = async {
                    stop.as_mut().await;
                    Ok(false)
                };
                if !readable.or(stopping).await? {
                    session.shutdown();
                    continue;
                }
            }
            if !session.has_storage() {
                let buffers = ConnectionBuffers::take(self.sizes);
                if let Err(refused) = session.give_storage(buffers) {
                    // Checked at startup with the same sizes, so this is not expected.
                    return Err(io::Error::other(refused.error));
                }
            }
            let space = session.input_space();
            let offered = space.len();
            if offered == 0 {
                // Open, holding storage and owing nothing: the session always takes input.
                return Err(io::Error::other("the session refused input"));
            }
            match self.socket.get_ref().read(space) {
                Ok(0) => session.input_eof(),
                Ok(n) => {
                    self.watch.touch();
                    read_again = n == offered;
                    session.commit_input(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => read_again = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Writes some of `bytes`; fails if the peer takes none of them within the idle timeout.
    async fn write(&self, bytes: &[u8]) -> io::Result<usize> {
        let write = self.socket.write_with(|socket| (&*socket).write(bytes));
        let expired = async {
            self.watch.expired().await;
            Err(io::ErrorKind::TimedOut.into())
        };
        let n = write.or(expired).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        self.watch.touch();
        Ok(n)
    }
}

/// Completes once the task is woken after asking the reactor to say when `socket` is
/// readable: then a read is worth trying (a spurious wake-up costs one read that says "not
/// yet", after which the caller waits again).
///
/// Not `Async::readable`: it completes only for an event from a reactor turn that began
/// after the interest was registered, and ignores one from the turn already in progress on
/// another thread, re-arming interest and waiting for the next turn instead, which costs a
/// second `epoll_ctl` and a lost turn per wait (bench/RESULTS.md has the counts).
///
/// The first call to `poll_readable` may report the readiness that ended the previous wait,
/// which the last read has used up: it is asked again, which registers the interest anew
/// (and if bytes arrived meanwhile, the reactor reports them at once).
fn woken_for_input(socket: &Socket) -> impl Future<Output = io::Result<()>> + '_ {
    let mut asked = false;
    future::poll_fn(move |cx| {
        if asked {
            return Poll::Ready(Ok(()));
        }
        for _ in 0..2 {
            match socket.poll_readable(cx) {
                Poll::Pending => {
                    asked = true;
                    return Poll::Pending;
                }
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                Poll::Ready(Ok(())) => {}
            }
        }
        Poll::Ready(Ok(()))
    })
}

/// Sends `line`, the one thing the server says before it closes a connection on its own
/// account, then closes with [`linger_close`]. Returns the bytes sent; fails if the peer does
/// not take them within [`NOTICE_WRITE_TIMEOUT`] (then the connection is just closed).
pub async fn say_and_close(socket: &Socket, line: &[u8]) -> io::Result<usize> {
    let mut writer = socket;
    writer
        .write_all(line)
        .or(async {
            Timer::after(NOTICE_WRITE_TIMEOUT).await;
            Err(io::ErrorKind::TimedOut.into())
        })
        .await?;
    linger_close(socket).await;
    Ok(line.len())
}

/// Closes our side, then discards what the peer still sends until it closes too (or
/// [`LINGER`] passes), so that the kernel does not answer unread input with a reset.
async fn linger_close(socket: &Socket) {
    if socket.get_ref().shutdown(Shutdown::Write).is_err() {
        return;
    }
    let drain = async {
        let mut scrap = [0u8; 256];
        let mut reader = socket;
        while let Ok(1..) = reader.read(&mut scrap).await {}
    };
    drain
        .or(async {
            Timer::after(LINGER).await;
        })
        .await;
}
