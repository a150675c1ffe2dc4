//! One accepted connection, from accept to close: the core's async driver runs the session
//! over the socket; this module adds only what an OS socket needs around it: the idle timeout,
//! the shutdown signal, a lingering close, and logs.
//!
//! The session has its own allocation of about `IN + OUT` bytes (12 KiB with the default
//! buffers), written only as far as the session initialises it (see [`new_session`]), so
//! that buffer space is made resident only as it is used; the task future stays small.

use crate::server::Shared;
use async_io::{Async, Timer};
use async_net::TcpStream;
use chatecho_core::driver::asynch::serve_until;
use chatecho_core::{ServeError, Session, DEFAULT_INPUT_CAPACITY, DEFAULT_OUTPUT_CAPACITY};
use embedded_io_adapters::futures_03::FromFutures;
use embedded_io_async::{ErrorType, Read, Write};
use futures_lite::future::{self, FutureExt as _};
use futures_lite::AsyncReadExt as _;
use futures_lite::AsyncWriteExt as _;
use smol::Executor;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// After the session ends, how long the peer gets to close its side while we discard what it
/// still sends. Closing a socket with unread input makes the kernel send a reset, which can
/// destroy replies the peer has not read yet; draining first avoids that.
const LINGER: Duration = Duration::from_secs(2);

/// How long a refused connection gets to take its `server full` reply.
const REJECT_WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// Session buffer sizes, chosen from `--max-line` at startup. Capacities are const generics
/// of the core's `Session`, so a build offers a few sizes rather than any size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Buffers {
    /// The core's default buffers: lines up to 4096 bytes, 12 KiB per connection.
    Standard,
    /// Lines up to [`crate::cli::MAX_LINE_LIMIT`] bytes, 192 KiB per connection.
    Large,
}

const LARGE_IN: usize = crate::cli::MAX_LINE_LIMIT + chatecho_core::config::MAX_DELIMITER_LEN;
/// Room for the longest reply (prefix + line + delimiter) and as much again for pipelining.
const LARGE_OUT: usize = 2 * crate::cli::MAX_LINE_LIMIT;

impl Buffers {
    /// The smallest buffers that hold lines of `max_line` bytes.
    pub fn for_max_line(max_line: usize) -> Self {
        if max_line <= chatecho_core::config::DEFAULT_MAX_LINE {
            Self::Standard
        } else {
            Self::Large
        }
    }

    /// Checks that a session with these buffers accepts `config`, as each connection will
    /// need it to.
    pub fn check(self, config: &chatecho_core::Config) -> Result<(), chatecho_core::ConfigError> {
        match self {
            Self::Standard => {
                Session::<DEFAULT_INPUT_CAPACITY, DEFAULT_OUTPUT_CAPACITY>::new(config.clone())
                    .map(drop)
            }
            Self::Large => Session::<LARGE_IN, LARGE_OUT>::new(config.clone()).map(drop),
        }
    }
}

/// Spawns a connection's task, which serves it to the end with the session buffers
/// `shared.buffers` names. `slot` is held for the connection's whole life: it counts the
/// connection against `--max-connections` and keeps shutdown waiting for it.
///
/// Every connection's future is resident while the connection lives, so it is kept small:
/// one future type per buffer size rather than one wrapping both, and the socket as a bare
/// `Async` handle (async-net's `TcpStream` carries 120 bytes of read and write state).
pub fn spawn<Slot: Send + 'static>(
    executor: &Executor<'static>,
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    slot: Slot,
) {
    let socket: Arc<Async<std::net::TcpStream>> = stream.into();
    match shared.buffers {
        Buffers::Standard => {
            executor.spawn(serve::<DEFAULT_INPUT_CAPACITY, DEFAULT_OUTPUT_CAPACITY, _>(
                socket, peer, shared, slot,
            ))
        }
        Buffers::Large => {
            executor.spawn(serve::<LARGE_IN, LARGE_OUT, _>(socket, peer, shared, slot))
        }
    }
    .detach();
}

async fn serve<const IN: usize, const OUT: usize, Slot>(
    socket: Arc<Async<std::net::TcpStream>>,
    peer: SocketAddr,
    shared: Arc<Shared>,
    _slot: Slot,
) {
    let mut session = match new_session::<IN, OUT>(shared.config.clone()) {
        Ok(session) => session,
        Err(error) => {
            // Checked at startup with the same buffers, so this is not expected.
            tracing::error!(%peer, %error, "cannot create a session");
            return;
        }
    };
    tracing::info!(%peer, "connection opened");
    let activity = Activity::new();
    let mut io = Watched {
        io: FromFutures::new(&*socket),
        activity: &activity,
        idle: shared.idle_timeout,
    };
    let stop = shared.stopping().or(activity.idle_for(shared.idle_timeout));
    // Pinned here and passed by reference, so that the driver's future does not hold a
    // second copy of it.
    let result = serve_until(&mut io, &mut *session, pin!(stop)).await;
    let stats = session.stats();
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
        Err(ServeError::Write(e)) if e.kind() == io::ErrorKind::TimedOut => {
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

/// The session in its own allocation, of which only the bytes the session initialises are
/// written, so that an idle connection's unused buffer space never becomes resident.
///
/// Not `Box::new(Session::new(..))`, nor writing `Session::new(..)` into the allocation: the
/// compiler merges the zero stores of the fields around the uninitialised output buffer into
/// one `memset` over the whole buffer (seen in the disassembly: 8248 bytes per connection),
/// which kept about 15 KB resident per idle connection. Built on the stack (whose pages are
/// resident anyway) and cloned into the allocation, the `heapless` buffers copy only their
/// initialised bytes: about 10 KB per idle connection, task included (bench/RESULTS.md).
#[inline(never)]
fn new_session<const IN: usize, const OUT: usize>(
    config: chatecho_core::Config,
) -> Result<Box<Session<IN, OUT>>, chatecho_core::ConfigError> {
    let mut slot = Box::<Session<IN, OUT>>::new_uninit();
    clone_into(&mut slot, config)?;
    // SAFETY: `clone_into` returned Ok, which it does only after writing the session.
    Ok(unsafe { slot.assume_init() })
}

/// Writes a session for `config` into `slot` by cloning one built on the stack; see
/// [`new_session`]. Not inlined: inlined into its caller, the compiler is free to build the
/// value in place again, with the `memset`.
#[inline(never)]
fn clone_into<const IN: usize, const OUT: usize>(
    slot: &mut std::mem::MaybeUninit<Session<IN, OUT>>,
    config: chatecho_core::Config,
) -> Result<(), chatecho_core::ConfigError> {
    let built = Session::<IN, OUT>::new(config)?;
    slot.write(built.clone());
    Ok(())
}

/// Answers a connection over `--max-connections` with `reply` and closes it.
pub async fn reject(stream: TcpStream, peer: SocketAddr, reply: &[u8]) {
    tracing::warn!(%peer, "connection refused: server full");
    let socket: Arc<Async<std::net::TcpStream>> = stream.into();
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
async fn linger_close(socket: &Async<std::net::TcpStream>) {
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

/// The socket as the driver sees it: records progress for the idle timeout, and fails a
/// write that the peer does not take within the idle timeout.
struct Watched<'a> {
    io: FromFutures<&'a Async<std::net::TcpStream>>,
    activity: &'a Activity,
    idle: Option<Duration>,
}

impl ErrorType for Watched<'_> {
    type Error = io::Error;
}

impl Read for Watched<'_> {
    async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.io.read(buf).await?;
        self.activity.touch();
        Ok(n)
    }
}

impl Write for Watched<'_> {
    async fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut write = pin!(self.io.write(buf));
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
        self.activity.touch();
        Ok(n)
    }

    async fn flush(&mut self) -> io::Result<()> {
        self.io.flush().await
    }
}
