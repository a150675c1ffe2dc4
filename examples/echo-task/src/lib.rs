//! chatecho's echo task for embassy-net: accept a connection, serve it with chatecho-core's
//! async driver ([`serve_until`](chatecho_core::driver::asynch::serve_until)), close it, and
//! accept the next one in the same memory.
//!
//! This is the body of every echo task of the board firmware in `examples/w5500-evb-pico`, and
//! the host run of embassy-net (`tests/examples/embassy_net.rs`) runs the very same code
//! between two embassy-net stacks in memory: one source, so what the host run checks is what
//! the board runs. What differs between the two is only what they hand in: the stack, the
//! memory, when to stop a conversation, and what to do with each connection's report
//! ([`Events`]: the board logs it with defmt, the host run checks it).
//!
//! What the task owns is fixed memory that the caller provides and that is reused for every
//! connection: the socket's buffers ([`SocketBuffers`]) and one [`Session`], reset in place
//! for each peer. Nothing is allocated.
//!
//! The core reads no clock, so time limits are the task's ([`Listen`]):
//!
//! - an *idle timeout*: a read that gets no byte, or a write or flush the peer does not take,
//!   for [`Listen::idle_timeout`] ends the conversation ([`idle`]);
//! - *keep-alive* and the socket's *timeout* (embassy-net's `set_keep_alive` and
//!   `set_timeout`): a quiet connection sends a keep-alive every [`Listen::keep_alive`], and a
//!   peer that answers nothing, not even those, for [`Listen::peer_timeout`] is gone and the
//!   socket resets the connection. This finds a peer that vanished (unplugged, rebooted) sooner
//!   than the idle timeout; a peer that is there but says nothing still answers keep-alives,
//!   which is why the idle timeout exists too.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod idle;

use chatecho_core::driver::asynch;
use chatecho_core::{EndReason, ServeError, Session, Stats, Storage};
use core::future::Future;
use embassy_net::tcp::{AcceptError, TcpSocket};
use embassy_net::{IpEndpoint, Stack};
use embassy_time::{Duration, with_timeout};

pub use idle::{IdleLimited, IoError};

/// How long a connection may make no progress before it is closed (as `chatecho-server`'s
/// `--idle-timeout` default).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// How long a quiet connection waits before it sends a TCP keep-alive.
pub const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(30);
/// How long a peer may send nothing at all, keep-alive answers included, before the
/// connection is reset: three keep-alives unanswered.
pub const DEFAULT_PEER_TIMEOUT: Duration = Duration::from_secs(90);
/// How long a reset may take to leave. It goes out on the stack's next poll, unless there is no
/// route to the peer any more (the link is down), and then waiting longer does not help.
const RESET_WAIT: Duration = Duration::from_secs(1);

/// Where every echo task listens, and its time limits. One value serves all tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Listen {
    /// The TCP port to accept connections on (not 0).
    pub port: u16,
    /// A read that gets no byte, or a write or a flush that the peer does not take, for this
    /// long ends the conversation: [`IoError::IdleTimeout`].
    pub idle_timeout: Duration,
    /// A connection with no traffic for this long sends a TCP keep-alive.
    pub keep_alive: Duration,
    /// A peer that sends no packet for this long (no data, no acknowledgement, no answer to a
    /// keep-alive) is taken to be gone, and the socket resets the connection. Longer than
    /// [`Listen::keep_alive`], or quiet peers are reset for being quiet.
    pub peer_timeout: Duration,
}

impl Listen {
    /// `port`, with the default time limits ([`DEFAULT_IDLE_TIMEOUT`], [`DEFAULT_KEEP_ALIVE`],
    /// [`DEFAULT_PEER_TIMEOUT`]).
    pub const fn on_port(port: u16) -> Self {
        Self {
            port,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            keep_alive: DEFAULT_KEEP_ALIVE,
            peer_timeout: DEFAULT_PEER_TIMEOUT,
        }
    }
}

/// A TCP socket's receive and transmit buffers, which `TcpSocket::new` borrows: `RX` bytes
/// is the most the peer can have in flight to us (the window), `TX` the most we can have
/// sent and not yet acknowledged.
#[derive(Debug)]
pub struct SocketBuffers<const RX: usize, const TX: usize> {
    rx: [u8; RX],
    tx: [u8; TX],
}

impl<const RX: usize, const TX: usize> SocketBuffers<RX, TX> {
    /// Zeroed buffers. `const`, so that they can live in a `static`.
    pub const fn new() -> Self {
        Self {
            rx: [0; RX],
            tx: [0; TX],
        }
    }
}

impl<const RX: usize, const TX: usize> Default for SocketBuffers<RX, TX> {
    fn default() -> Self {
        Self::new()
    }
}

/// How one connection went: what [`Events::closed`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Connection {
    /// The peer's address and port.
    pub remote: Option<IpEndpoint>,
    /// Why the conversation ended ([`EndReason`]), or what failed: a reset, the idle timeout.
    pub end: Result<EndReason, ServeError<IoError>>,
    /// What the session did: bytes in and out, lines answered.
    pub stats: Stats,
    /// How the connection was closed.
    pub close: Close,
}

/// How a connection was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Close {
    /// Every reply and our FIN were acknowledged by the peer.
    Graceful,
    /// The connection was reset: the peer had reset it, or did not take what we sent within
    /// the idle timeout, or a read or write failed.
    Reset,
}

/// What the caller learns from an echo task: the board logs it, the host run checks it.
pub trait Events {
    /// A peer connected and is about to be served.
    fn accepted(&mut self, remote: Option<IpEndpoint>);
    /// A connection is over and its socket closed: the task's memory is free for the next one.
    fn closed(&mut self, connection: &Connection);
}

/// The echo task: accepts a connection on `listen.port`, serves it with
/// [`asynch::serve_until`] over `session`, closes it, reports it, and does it again, for ever.
///
/// - `socket_buffers` and `session` are the task's memory, reused for every connection: the
///   session is [`reset`](Session::reset) for each, so a session that does not fit its
///   configuration is refused once, by [`Session::new`], before any task starts.
/// - `stop` is called once per connection: when the future it returns completes, the
///   conversation shuts down ([`Session::shutdown`]): complete lines already received are
///   answered, then the connection closes. The board stops when it loses its address;
///   `|| core::future::pending()` never stops.
/// - The conversation's end decides the close: after the session closed by itself (quit line,
///   end of input, `stop`) or after an idle read (a peer silent for the idle timeout is owed
///   nothing: replies are always written before the next read), a FIN follows the last reply;
///   after any other failure, a reset.
///
/// Returns only if the socket cannot listen: a port of 0.
pub async fn serve_connections<const RX: usize, const TX: usize, S, F, E>(
    stack: Stack<'_>,
    listen: &Listen,
    socket_buffers: &mut SocketBuffers<RX, TX>,
    session: &mut Session<'_, S>,
    mut stop: impl FnMut() -> F,
    events: &mut E,
) -> AcceptError
where
    S: Storage,
    F: Future<Output = ()>,
    E: Events,
{
    loop {
        let mut socket = TcpSocket::new(stack, &mut socket_buffers.rx, &mut socket_buffers.tx);
        socket.set_keep_alive(Some(listen.keep_alive));
        socket.set_timeout(Some(listen.peer_timeout));
        if let Err(error) = socket.accept(listen.port).await {
            return error;
        }
        let remote = socket.remote_endpoint();
        events.accepted(remote);

        session.reset();
        let mut io = IdleLimited::new(&mut socket, listen.idle_timeout);
        let end = asynch::serve_until(&mut io, session, stop()).await;
        let close = close(&mut socket, &end, listen.idle_timeout).await;
        // The socket gives its slot in the stack and its buffers back before the report, so
        // that the task is ready for the next peer once the caller has heard of this one.
        drop(socket);
        events.closed(&Connection {
            remote,
            end,
            stats: session.stats(),
            close,
        });
    }
}

/// Closes `socket` after a conversation that ended with `end`: a FIN after everything sent
/// when the conversation ended well, a reset otherwise or when the peer does not acknowledge
/// the FIN within `limit`.
async fn close(
    socket: &mut TcpSocket<'_>,
    end: &Result<EndReason, ServeError<IoError>>,
    limit: Duration,
) -> Close {
    let graceful = matches!(end, Ok(_) | Err(ServeError::Read(IoError::IdleTimeout)));
    if graceful {
        socket.close();
        // Waits until the peer has acknowledged every byte and the FIN.
        if let Ok(Ok(())) = with_timeout(limit, socket.flush()).await {
            return Close::Graceful;
        }
    }
    socket.abort();
    // Waits for the reset to leave, so that the peer hears of it.
    let _ = with_timeout(RESET_WAIT, socket.flush()).await;
    Close::Reset
}
