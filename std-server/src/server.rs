//! [`Server`]: listeners, the accept loop, the refusal of connections over the limits, and
//! graceful shutdown, on the caller's executor.
//!
//! Shutdown runs on two signals ([`crate::shutdown`]) that are fired, never sent:
//! - *stop*, when the shutdown future given to [`Server::run`] completes or
//!   [`Handle::shutdown`] is called: the accept loop stops and the listeners close, and every
//!   connection stops reading, answers the complete lines it holds, flushes, says why it
//!   closes, and closes;
//! - *abort*, when the grace period is over: the connections left are dropped.
//!
//! Between the two, `alive` tells when every connection is gone: each holds a sender of a
//! channel that is never sent to, and the receiver sees it close once all of them are gone.

use crate::admission::{Admission, Limits, Refusal, Ticket};
use crate::clock::{self, Duty};
use crate::connection;
use crate::counters::Counters;
use crate::echo::{EchoBuilder, count, notice};
use crate::listen;
use crate::proxy::{HeaderStage, Origin, ProxyProtocol, Rejection};
use crate::shutdown::{self, Stop, Trigger};
use crate::spawn::Spawn;
use crate::summary::{self, Summary};
use crate::transport::Registered;
use crate::{Config, Echo, Error};
use async_channel::Sender;
use async_io::{Async, Timer};
use futures_lite::future::{self, FutureExt as _};
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::num::NonZeroUsize;
use std::pin::pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

/// After a failed accept (out of file descriptors, a connection aborted before we took it…),
/// wait this long before the next, so that a persistent error does not spin a CPU.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// The connection limit unless set, as the server's `--max-connections`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;

/// The per-address limit unless set, as the server's `--max-connections-per-ip`: a tenth of
/// the default connection limit, so that one address (or a few) cannot take every place,
/// while a NAT gateway with many users behind it still gets plenty.
pub const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS: usize = 1000;

/// How long connections get to finish after shutdown begins, unless set, as the server's
/// `--shutdown-grace`.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A chat-echo server: listeners and an [`Echo`] for what they accept, with connection
/// limits in all and per address, run on your executor until you stop it.
///
/// ```
/// use chatecho_server::{Config, Server};
/// use std::io::{Read as _, Write as _};
///
/// let executor = smol::Executor::new();
/// let server = Server::builder().config(Config::default()).bind("127.0.0.1:0")?;
/// let addr = server.local_addrs()[0];
/// let handle = server.handle();
///
/// // A client on a thread of its own, which shuts the server down when it is done.
/// let client = std::thread::spawn(move || {
///     let talk = || -> std::io::Result<String> {
///         let mut stream = std::net::TcpStream::connect(addr)?;
///         stream.write_all(b"hello\r\n.\r\n")?;
///         let mut answer = String::new();
///         stream.read_to_string(&mut answer)?;
///         Ok(answer)
///     };
///     let answer = talk();
///     handle.shutdown();
///     answer
/// });
/// let ending = smol::block_on(executor.run(server.run(&executor, std::future::pending())));
/// assert_eq!(client.join().unwrap()?, "You sent: hello\r\n");
/// assert_eq!((ending.counters.accepted, ending.counters.lines), (1, 1));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Server {
    listeners: Vec<Async<TcpListener>>,
    shared: Arc<Shared>,
}

/// What a server's accept loop, connections and handles share.
struct Shared {
    echo: Echo,
    admission: Arc<Admission>,
    local_addrs: Vec<SocketAddr>,
    grace: Duration,
    /// Whether connections begin with a PROXY header, and who may send one.
    proxy: Option<HeaderStage>,
    /// The notices of refused connections.
    server_full: Vec<u8>,
    address_full: Vec<u8>,
    stop: Stop,
    trigger: Trigger,
    /// The periodic summary, run by the clock for as long as this lives.
    _summary: Option<Duty>,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("local_addrs", &self.local_addrs)
            .field("echo", &self.echo)
            .field("limits", &self.admission.limits())
            .field("grace", &self.grace)
            .field("proxy_protocol", &self.proxy)
            .field("summary", &self._summary.is_some())
            .field("shutting_down", &self.stop.has_fired())
            .finish()
    }
}

/// A cheap, clonable handle on a [`Server`]: its counters while it runs, and a way to shut
/// it down from anywhere.
#[derive(Debug, Clone)]
pub struct Handle {
    shared: Arc<Shared>,
}

/// How a server's [`run`](Server::run) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Ending {
    /// The whole run's counters, taken as it ended.
    pub counters: Counters,
    /// Connections still open when the grace period ran out, which were then dropped
    /// without finishing; 0 when every connection finished.
    pub unfinished: u64,
}

impl Ending {
    /// Whether every connection finished within the grace period.
    pub fn is_complete(&self) -> bool {
        self.unfinished == 0
    }
}

impl Server {
    /// Settings to build a server from, starting from the defaults.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    /// The addresses the server listens on: what it bound (with the port picked when 0 was
    /// asked for) or the listeners it was given.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.shared.local_addrs
    }

    /// A handle on this server, for its counters and to shut it down.
    pub fn handle(&self) -> Handle {
        Handle {
            shared: self.shared.clone(),
        }
    }

    /// The service that answers the connections.
    pub fn echo(&self) -> &Echo {
        &self.shared.echo
    }

    /// Serves until `shutdown` completes (or [`Handle::shutdown`] is called), then shuts down
    /// gracefully: closes the listeners, lets every connection answer the complete lines it
    /// holds and flush, for up to the grace period, drops the connections left, and returns
    /// how it ended.
    ///
    /// Each connection runs as a task of its own, started with `spawner` (any of smol's
    /// executors, see [`Spawn`]); the accept loop runs in the returned future. Dropping
    /// that future drops every connection at once.
    pub async fn run<S: Spawn>(self, spawner: S, shutdown: impl Future<Output = ()>) -> Ending {
        let Server { listeners, shared } = self;
        let (abort_trigger, abort) = shutdown::signal();
        // A run dropped midway leaves no connection behind.
        let _abort_if_dropped = FireOnDrop([&shared.trigger, &abort_trigger]);
        let (alive, all_gone) = async_channel::bounded::<Infallible>(1);

        let accepting = AcceptLoop {
            listeners: &listeners,
            shared: &shared,
            spawner: &spawner,
            alive: &alive,
            abort: &abort,
        };
        let asked = async {
            shutdown.or(shared.stop.stopping()).await;
        };
        accepting.run().or(asked).await;
        shared.trigger.fire();
        // No new connections: the kernel refuses them from now on.
        drop(listeners);
        drop(alive);
        let grace = shared.grace;
        tracing::info!(
            open_connections = shared.echo.counters().open,
            grace_secs = grace.as_secs_f64(),
            "shutting down: no new connections; flushing the replies owed"
        );

        let finished = async {
            // Never sent to: returns when every connection is gone.
            let _ = all_gone.recv().await;
            true
        };
        let grace_over = async {
            Timer::after(grace).await;
            false
        };
        let unfinished = if finished.or(grace_over).await {
            0
        } else {
            let open = shared.admission.open();
            tracing::warn!(
                open_connections = open,
                "grace period over; closing the connections left"
            );
            open as u64
        };
        abort_trigger.fire();
        let counters = Counters {
            open: unfinished,
            ..shared.echo.counters()
        };
        // The whole run's counts; connections still open when the grace period ran out count
        // as open.
        summary::log("stopped", counters);
        Ending {
            counters,
            unfinished,
        }
    }
}

/// Fires its triggers when dropped.
struct FireOnDrop<'a, const N: usize>([&'a Trigger; N]);

impl<const N: usize> Drop for FireOnDrop<'_, N> {
    fn drop(&mut self) {
        for trigger in self.0 {
            trigger.fire();
        }
    }
}

impl Handle {
    /// What the server has done so far, and the connections it serves now.
    pub fn counters(&self) -> Counters {
        self.shared.echo.counters()
    }

    /// Begins the graceful shutdown, as the shutdown future given to [`Server::run`]
    /// completing does. Calling it again, or before `run`, changes nothing more.
    pub fn shutdown(&self) {
        self.shared.trigger.fire();
    }

    /// Whether the shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.shared.stop.has_fired()
    }

    /// The addresses the server listens on.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.shared.local_addrs
    }
}

/// The settings of a [`Server`]: its [`Echo`]'s, and its own. Each has the default of the
/// `chatecho-server` flag of the same name, but the summary, which is off.
///
/// ```
/// use chatecho_server::{Config, Server};
/// use std::time::Duration;
///
/// let server = Server::builder()
///     .config(Config::default().with_max_line(512)?)
///     .max_connections(100)
///     .max_connections_per_address(Some(10))
///     .idle_timeout(Some(Duration::from_secs(60)))
///     .shutdown_grace(Duration::from_secs(2))
///     .bind(("127.0.0.1", 0))?;
/// assert_eq!(server.local_addrs().len(), 1);
///
/// // Settings that cannot be served are errors here, never panics later.
/// let error = Server::builder().max_connections(0).bind("127.0.0.1:0").unwrap_err();
/// assert_eq!(
///     error.to_string(),
///     "max_connections is 0, so no connection could ever be served: give at least 1"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct ServerBuilder {
    echo: EchoBuilder,
    max_connections: usize,
    max_per_address: Option<usize>,
    grace: Duration,
    summary_interval: Option<Duration>,
    reuse_port: bool,
    proxy: Option<ProxyProtocol>,
}

impl Default for ServerBuilder {
    fn default() -> Self {
        Self {
            echo: EchoBuilder::default(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_per_address: Some(DEFAULT_MAX_CONNECTIONS_PER_ADDRESS),
            grace: DEFAULT_SHUTDOWN_GRACE,
            summary_interval: None,
            reuse_port: false,
            proxy: None,
        }
    }
}

impl ServerBuilder {
    /// The protocol ([`EchoBuilder::config`]).
    pub fn config(mut self, config: Config) -> Self {
        self.echo = self.echo.config(config);
        self
    }

    /// The idle timeout ([`EchoBuilder::idle_timeout`]); `None` turns it off.
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.echo = self.echo.idle_timeout(timeout);
        self
    }

    /// Bytes of each busy connection's input buffer ([`EchoBuilder::input_buffer`]).
    pub fn input_buffer(mut self, bytes: usize) -> Self {
        self.echo = self.echo.input_buffer(bytes);
        self
    }

    /// Bytes of each busy connection's output buffer ([`EchoBuilder::output_buffer`]).
    pub fn output_buffer(mut self, bytes: usize) -> Self {
        self.echo = self.echo.output_buffer(bytes);
        self
    }

    /// Most connections served at once; one more is told
    /// `ERROR server full (limit N connections)` and closed. At least 1.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n;
        self
    }

    /// Most connections served at once from one address (an IPv4 address, or an IPv6 /64,
    /// which one host usually has whole); one more is told
    /// `ERROR server full for your address (…)` and closed. `None` for no limit but
    /// [`max_connections`](Self::max_connections).
    pub fn max_connections_per_address(mut self, n: Option<usize>) -> Self {
        self.max_per_address = n;
        self
    }

    /// How long connections get to finish once shutdown begins, before they are dropped.
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Logs a summary at `info` (connections open, accepted, closed and refused, lines
    /// answered, bytes in and out) every `interval` (whole seconds) when something changed;
    /// `None`, the default, logs none.
    pub fn summary_interval(mut self, interval: Option<Duration>) -> Self {
        self.summary_interval = interval.filter(|i| !i.is_zero());
        self
    }

    /// Sets `SO_REUSEPORT` on the sockets [`bind`](Self::bind) makes, so that several
    /// processes can listen on one port and the kernel spreads connections among them.
    pub fn reuse_port(mut self, reuse: bool) -> Self {
        self.reuse_port = reuse;
        self
    }

    /// Takes the PROXY protocol from load balancers ([`ProxyProtocol`]: which addresses are
    /// trusted to send it, the header's limits): each connection must begin with a header,
    /// and the client it names is the connection's peer, for the per-address limit and in
    /// the log. `None`, the default, serves connections as they come.
    ///
    /// The connection limit counts a connection from its accept; the per-address limit
    /// counts it once its header has named the client.
    pub fn proxy_protocol(mut self, proxy: Option<ProxyProtocol>) -> Self {
        self.proxy = proxy;
        self
    }

    /// Checks the settings, then binds every address `addrs` resolves to (as
    /// `("localhost", 8007)` resolves to `127.0.0.1` and `::1`), and builds the server. When
    /// every port is 0, one free port is picked for all of them.
    ///
    /// # Errors
    ///
    /// A setting that cannot be served ([`Error::Config`], [`Error::BufferTooSmall`],
    /// [`Error::ZeroLimit`], the PROXY protocol's), before anything is bound; then
    /// [`Error::Resolve`] or [`Error::NoAddress`] for `addrs`, and [`Error::Bind`] for an
    /// address in use or not this machine's.
    pub fn bind(self, addrs: impl ToSocketAddrs) -> Result<Server, Error> {
        let ready = self.check()?;
        let listeners = listen::bind_all(addrs, self.reuse_port)?;
        Ok(ready.serving(listeners))
    }

    /// Checks the settings and builds a server of listeners bound elsewhere (by a parent
    /// process, or passed by systemd), as they are.
    ///
    /// # Errors
    ///
    /// A setting that cannot be served, as for [`bind`](Self::bind); [`Error::NoListener`]
    /// when there are none, and [`Error::Listener`] when one cannot be made non-blocking or
    /// asked its address.
    pub fn listen_on(
        self,
        listeners: impl IntoIterator<Item = TcpListener>,
    ) -> Result<Server, Error> {
        let ready = self.check()?;
        let listeners = listen::adopt(listeners)?;
        Ok(ready.serving(listeners))
    }

    fn check(&self) -> Result<Checked, Error> {
        let max_connections = NonZeroUsize::new(self.max_connections).ok_or(Error::ZeroLimit {
            setting: "max_connections",
        })?;
        let max_per_address = match self.max_per_address {
            None => None,
            Some(n) => Some(NonZeroUsize::new(n).ok_or(Error::ZeroLimit {
                setting: "max_connections_per_address",
            })?),
        };
        if let Some(proxy) = &self.proxy {
            proxy.check()?;
        }
        let echo = self.echo.clone().build()?;
        Ok(Checked {
            echo,
            limits: Limits {
                max_connections,
                max_per_address,
            },
            grace: self.grace,
            summary_interval: self.summary_interval,
            proxy: self.proxy.clone(),
        })
    }
}

/// Settings that passed the checks, waiting for listeners.
struct Checked {
    echo: Echo,
    limits: Limits,
    grace: Duration,
    summary_interval: Option<Duration>,
    proxy: Option<ProxyProtocol>,
}

impl Checked {
    fn serving(self, listeners: Vec<(Async<TcpListener>, SocketAddr)>) -> Server {
        let (listeners, local_addrs) = listeners.into_iter().unzip();
        let config = self.echo.config();
        let connections = |n: NonZeroUsize| count(n.get() as u64, "connection");
        let per_address = self
            .limits
            .max_per_address
            .map_or(String::new(), connections);
        let server_full = notice(
            config,
            &format!(
                "ERROR server full (limit {})",
                connections(self.limits.max_connections)
            ),
        );
        let address_full = notice(
            config,
            &format!("ERROR server full for your address (limit {per_address} per address)"),
        );
        let summary = self.summary_interval.map(|interval| {
            let summary = Mutex::new(Summary::new(interval, self.echo.clone()));
            let duty: Duty = Arc::new(move || {
                summary
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .tick()
            });
            if let Err(error) = clock::every_second(&duty) {
                tracing::error!(%error, "no summaries: cannot start the clock");
            }
            duty
        });
        let (trigger, stop) = shutdown::signal();
        Server {
            listeners,
            shared: Arc::new(Shared {
                echo: self.echo,
                admission: Arc::new(Admission::new(self.limits)),
                local_addrs,
                grace: self.grace,
                proxy: self.proxy.map(HeaderStage::new),
                server_full,
                address_full,
                stop,
                trigger,
                _summary: summary,
            }),
        }
    }
}

/// The accept loop: accepts from every listener, admits or refuses, and starts a task for
/// each connection.
struct AcceptLoop<'a, S> {
    listeners: &'a [Async<TcpListener>],
    shared: &'a Arc<Shared>,
    spawner: &'a S,
    alive: &'a Sender<Infallible>,
    abort: &'a Stop,
}

/// What an admitted connection holds for its whole life: its place under the limits, and
/// its part in keeping shutdown waiting.
struct Held {
    _ticket: Ticket,
    _alive: Sender<Infallible>,
}

impl<S: Spawn> AcceptLoop<'_, S> {
    /// Accepts until dropped.
    async fn run(self) {
        let mut next = 0;
        loop {
            let accepted = future::poll_fn(|cx| poll_accept(self.listeners, &mut next, cx)).await;
            let (stream, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accept failed; retrying shortly");
                    Timer::after(ACCEPT_BACKOFF).await;
                    continue;
                }
            };
            self.shared.echo.shared().tally.accepted();
            let proxied = self.shared.proxy.as_ref();
            if proxied.is_some_and(|proxy| !proxy.trusts(peer.ip())) {
                // Closed at once, unregistered and unread.
                reject(self.shared, peer, &Rejection::Untrusted);
                continue;
            }
            // Replies are written in batches, so Nagle's algorithm only adds delay.
            if let Err(error) = stream.set_nodelay(true) {
                tracing::debug!(%peer, %error, "cannot set TCP_NODELAY");
            }
            let socket = match Async::new(stream) {
                Ok(socket) => socket,
                Err(error) => {
                    tracing::warn!(%peer, %error, "cannot register a connection; closing it");
                    continue;
                }
            };
            let admitted = match proxied {
                None => self.shared.admission.admit(peer.ip()),
                // The client's address comes with the header.
                Some(_) => self.shared.admission.admit_unaddressed(),
            };
            match admitted {
                Ok(ticket) if proxied.is_some() => self.serve_proxied(socket, peer, ticket),
                Ok(ticket) => self.serve(socket, peer, ticket),
                Err(refusal) => {
                    let shared = self.shared.clone();
                    self.spawner
                        .spawn_task(async move { refuse(socket, peer, refusal, &shared).await });
                }
            }
        }
    }

    /// Starts the task that serves an admitted connection to its end, or until the abort.
    fn serve(&self, socket: Async<TcpStream>, peer: SocketAddr, ticket: Ticket) {
        let held = Held {
            _ticket: ticket,
            _alive: self.alive.clone(),
        };
        self.spawner.spawn_task(converse(
            self.shared.echo.clone(),
            self.shared.stop.clone(),
            self.abort.clone(),
            Registered(socket),
            peer,
            held,
        ));
    }

    /// Starts the task that reads a connection's PROXY header, then serves it as from the
    /// client the header names (or refuses it), to its end or until the abort.
    ///
    /// The header's stage is a future of its own, boxed, which hands the conversation what
    /// it needs: its buffer, deadline and waits are freed when it ends, and the task holds
    /// the conversation's future (as [`serve`](Self::serve)'s does) and a pointer. (A
    /// refusal, rare, is boxed in turn, so as not to make every stage as large as it.)
    fn serve_proxied(&self, socket: Async<TcpStream>, balancer: SocketAddr, mut ticket: Ticket) {
        let shared = self.shared.clone();
        let alive = self.alive.clone();
        let abort = self.abort.clone();
        let header_stage = Box::pin(async move {
            let Some(stage) = &shared.proxy else {
                debug_assert!(
                    false,
                    "a proxied connection on a server without the protocol"
                );
                return None;
            };
            let header = async { Some(stage.read_header(&socket).await) }
                .or(async {
                    abort.stopping().await;
                    None
                })
                .await;
            let header = match header {
                Some(Ok(header)) => header,
                Some(Err(rejection)) => {
                    reject(&shared, balancer, &rejection);
                    return None;
                }
                // The grace period is over: dropped with the others.
                None => return None,
            };
            let peer = match header.origin {
                Origin::Client(client) => client,
                Origin::Balancer => balancer,
            };
            tracing::debug!(
                %peer,
                via = %balancer,
                version = header.version,
                "PROXY header read"
            );
            if let Err(refusal) = ticket.claim_address(peer.ip()) {
                drop((ticket, alive));
                Box::pin(refuse(socket, peer, refusal, &shared)).await;
                return None;
            }
            let held = Held {
                _ticket: ticket,
                _alive: alive,
            };
            let (echo, stop) = (shared.echo.clone(), shared.stop.clone());
            Some((echo, stop, abort, Registered(socket), peer, held))
        });
        self.spawner.spawn_task(async move {
            // Bound by a `let`, so that nothing of the stage's result is kept in the task
            // while it converses.
            let Some((echo, stop, abort, io, peer, held)) = header_stage.await else {
                return;
            };
            converse(echo, stop, abort, io, peer, held).await;
        });
    }
}

/// Serves an admitted connection to its end, or until the abort; what it `held` is given
/// back as it ends. Every connection's task is this future for the connection's whole life,
/// so its size is memory per connection. (A function that returns an async block, not an
/// `async fn`, whose arguments would be stored twice.)
#[allow(clippy::manual_async_fn)]
fn converse(
    echo: Echo,
    stop: Stop,
    abort: Stop,
    mut io: Registered<Async<TcpStream>>,
    peer: SocketAddr,
    held: Held,
) -> impl Future<Output = ()> + Send + 'static {
    async move {
        let mut stopping = pin!(stop.stopping());
        let serving = connection::serve(echo.shared(), &mut io, Some(peer), stopping.as_mut());
        let mut serving = pin!(serving);
        // Polled only once shutdown has begun, so that a connection waits on the abort only
        // from then on.
        let mut aborted = pin!(abort.stopping());
        future::poll_fn(|cx| {
            if serving.as_mut().poll(cx).is_ready() {
                return Poll::Ready(());
            }
            if stop.has_fired() {
                return aborted.as_mut().poll(cx);
            }
            Poll::Pending
        })
        .await;
        drop(held);
    }
}

/// Accepts a connection from whichever listener has one, beginning after the one that
/// last did, so that a busy listener does not starve the others.
fn poll_accept(
    listeners: &[Async<TcpListener>],
    next: &mut usize,
    cx: &mut Context<'_>,
) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
    for turn in 0..listeners.len() {
        let index = (*next + turn) % listeners.len();
        let listener = &listeners[index];
        loop {
            match listener.get_ref().accept() {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                result => {
                    *next = index + 1;
                    return Poll::Ready(result);
                }
            }
            match listener.poll_readable(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                Poll::Pending => break,
            }
        }
    }
    Poll::Pending
}

/// Counts and logs a connection closed unserved for the PROXY protocol (its socket is
/// dropped by the caller).
fn reject(shared: &Shared, peer: SocketAddr, rejection: &Rejection) {
    shared.echo.shared().tally.refused_proxy();
    tracing::debug!(%peer, reason = %rejection, "connection refused");
}

/// Tells a connection over the limits why it is not served, and closes it.
async fn refuse(socket: Async<TcpStream>, peer: SocketAddr, refusal: Refusal, shared: &Shared) {
    let per_address = refusal == Refusal::AddressFull;
    shared.echo.shared().tally.refused(per_address);
    let notice = if per_address {
        &shared.address_full
    } else {
        &shared.server_full
    };
    tracing::debug!(%peer, reason = %refusal, "connection refused");
    // A peer that does not take the notice is closed all the same.
    let _ = connection::say_and_close(&mut Registered(socket), notice).await;
}
