//! One accepted connection, from accept to close: the core's session answers; this module
//! moves bytes between it and the socket, and adds only what an OS socket needs around it:
//! waiting for readiness, buffers held only while they are in use, the idle timeout, the
//! shutdown signal, a lingering close, and logs.
//!
//! A connection with nothing to say costs its socket and a small task: between reads, when
//! the session holds no partial line and owes no reply, its buffers go back to the thread's
//! pool ([`crate::buffers`]), and it takes buffers again only once the socket is readable.

use crate::buffers::{ConnectionBuffers, Sizes};
use crate::server::Shared;
use async_io::{Async, Timer};
use async_net::TcpStream;
use chatecho_core::{EndReason, Session, State};
use futures_lite::future::{self, FutureExt as _};
use futures_lite::AsyncReadExt as _;
use futures_lite::AsyncWriteExt as _;
use smol::Executor;
use std::future::Future;
use std::io::{self, Read as _, Write as _};
use std::net::{Shutdown, SocketAddr};
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// After the session ends, how long the peer gets to close its side while we discard what it
/// still sends. Closing a socket with unread input makes the kernel send a reset, which can
/// destroy replies the peer has not read yet; draining first avoids that.
const LINGER: Duration = Duration::from_secs(2);

/// How long a refused connection gets to take its `server full` reply.
const REJECT_WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// The socket as a bare `Async` handle: async-net's `TcpStream` carries 120 bytes of read and
/// write state that every connection would keep for life.
type Socket = Async<std::net::TcpStream>;

/// Spawns a connection's task, which serves it to the end. `slot` is held for the
/// connection's whole life: it counts the connection against `--max-connections` and keeps
/// shutdown waiting for it.
pub fn spawn<Slot: Send + 'static>(
    executor: &Executor<'static>,
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    slot: Slot,
) {
    let socket: Arc<Socket> = stream.into();
    executor.spawn(serve(socket, peer, shared, slot)).detach();
}

async fn serve<Slot>(socket: Arc<Socket>, peer: SocketAddr, shared: Arc<Shared>, _slot: Slot) {
    let mut session = match Session::without_storage(&shared.config) {
        Ok(session) => session,
        Err(error) => {
            // Checked at startup, so this is not expected.
            tracing::error!(%peer, %error, "cannot create a session");
            return;
        }
    };
    tracing::info!(%peer, "connection opened");
    let activity = Activity::new();
    let stop = pin!(shared.stopping().or(activity.idle_for(shared.idle_timeout)));
    let link = Link {
        socket: &socket,
        sizes: shared.sizes,
        idle: shared.idle_timeout,
        activity: &activity,
    };
    let result = link.converse(&mut session, stop).await;
    let stats = session.stats();
    if let Some(buffers) = session.into_storage() {
        buffers.give_back();
    }
    let idle = activity.timed_out.load(Ordering::Relaxed);
    match result {
        Ok(reason) => {
            linger_close(&socket).await;
            let reason = if idle {
                "idle timeout".into()
            } else {
                format!("{reason:?}")
            };
            tracing::info!(%peer, %reason, "connection closed");
        }
        Err(e) if e.kind() == io::ErrorKind::TimedOut => {
            tracing::info!(%peer, "connection closed: idle timeout (peer stopped reading)");
        }
        Err(error) => tracing::info!(%peer, %error, "connection closed"),
    }
    tracing::debug!(
        %peer,
        lines_echoed = stats.lines_echoed,
        lines_too_long = stats.lines_too_long,
        bytes_in = stats.bytes_in,
        bytes_out = stats.bytes_out,
        "connection stats"
    );
}

/// What a connection's loop works with: the socket and the server's settings for it.
struct Link<'a> {
    socket: &'a Socket,
    sizes: Sizes,
    idle: Option<Duration>,
    activity: &'a Activity,
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
    ) -> io::Result<EndReason> {
        let mut read_again = false;
        loop {
            while !session.output().is_empty() {
                let n = self.write(session.output()).await?;
                session.consume_output(n);
            }
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
                if session.holds_nothing() {
                    if let Ok(buffers) = session.take_storage() {
                        buffers.give_back();
                    }
                }
                let readable = async { self.socket.readable().await.map(|()| true) };
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
                    self.activity.touch();
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
        let mut write = pin!(self.socket.write_with(|socket| (&*socket).write(bytes)));
        // Most writes complete at once; only a blocked one needs a timer.
        let n = match (future::poll_once(write.as_mut()).await, self.idle) {
            (Some(result), _) => result?,
            (None, None) => write.await?,
            (None, Some(timeout)) => {
                write
                    .or(async {
                        Timer::after(timeout).await;
                        Err(io::ErrorKind::TimedOut.into())
                    })
                    .await?
            }
        };
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        self.activity.touch();
        Ok(n)
    }
}

/// Answers a connection over `--max-connections` with `reply` and closes it.
pub async fn reject(stream: TcpStream, peer: SocketAddr, reply: &[u8]) {
    tracing::warn!(%peer, "connection refused: server full");
    let socket: Arc<Socket> = stream.into();
    let written = (&*socket)
        .write_all(reply)
        .or(async {
            Timer::after(REJECT_WRITE_TIMEOUT).await;
            Err(io::ErrorKind::TimedOut.into())
        })
        .await;
    if written.is_ok() {
        linger_close(&socket).await;
    }
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

/// When the connection last made progress, for the idle timeout.
struct Activity {
    start: Instant,
    /// Nanoseconds from `start` to the last read or write.
    last: AtomicU64,
    /// Set when the idle timeout ended the connection, for the log.
    timed_out: AtomicBool,
}

impl Activity {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            last: AtomicU64::new(0),
            timed_out: AtomicBool::new(false),
        }
    }

    fn touch(&self) {
        // u64 nanoseconds last 584 years.
        let now = self.start.elapsed().as_nanos() as u64;
        self.last.store(now, Ordering::Relaxed);
    }

    /// Completes once nothing happened for `timeout`; never when `timeout` is `None`.
    async fn idle_for(&self, timeout: Option<Duration>) {
        let Some(timeout) = timeout else {
            return future::pending().await;
        };
        loop {
            let last = self.start + Duration::from_nanos(self.last.load(Ordering::Relaxed));
            let deadline = last + timeout;
            if Instant::now() >= deadline {
                self.timed_out.store(true, Ordering::Relaxed);
                return;
            }
            // One timer per idle period, re-armed only when it fires: traffic costs a clock
            // read per read or write, not a timer.
            Timer::at(deadline).await;
        }
    }
}
