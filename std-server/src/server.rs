//! The running server: accept loops, the connection limit, and graceful shutdown on signals.
//!
//! Shutdown is two channels that are never sent to, only closed (closing wakes every waiter):
//! - `stop`: the server closes it on the first signal; accept loops stop accepting and every
//!   connection's driver stops reading, answers the complete lines it holds, flushes, closes;
//! - `alive`: every accept loop and connection holds a sender; the receiver sees the channel
//!   close once all of them are gone, which is when the server can exit.

use crate::buffers::Sizes;
use crate::connection;
use async_channel::{Receiver, Sender};
use async_io::Timer;
use async_net::TcpListener;
use async_signal::{Signal, Signals};
use chatecho_core::Config;
use futures_lite::{future, FutureExt as _, StreamExt as _};
use smol::Executor;
use std::convert::Infallible;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::time::Duration;

/// After a failed accept (out of file descriptors, a connection aborted before we took it…),
/// wait this long before the next, so that a persistent error does not spin a CPU.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// What every connection task shares.
pub struct Shared {
    /// The protocol every session speaks.
    pub config: Config,
    /// Session buffer sizes for `config`.
    pub sizes: Sizes,
    /// `--idle-timeout`, `None` when off.
    pub idle_timeout: Option<Duration>,
    /// Closed when the server shuts down.
    pub stop: Receiver<Infallible>,
    /// `--max-connections`.
    pub max_connections: usize,
    /// Connections being served now.
    active: AtomicUsize,
    /// What a connection over the limit is told, delimiter included.
    full_reply: Vec<u8>,
}

impl Shared {
    /// Shared state for connections; `stop` is the receiving side of the shutdown channel.
    pub fn new(
        config: Config,
        idle_timeout: Option<Duration>,
        max_connections: usize,
        stop: Receiver<Infallible>,
    ) -> Self {
        let mut full_reply =
            format!("ERROR server full (limit {max_connections} connections)").into_bytes();
        full_reply.extend_from_slice(config.delimiter().as_bytes());
        Self {
            sizes: Sizes::for_config(&config),
            config,
            idle_timeout,
            stop,
            max_connections,
            active: AtomicUsize::new(0),
            full_reply,
        }
    }

    /// Completes once the server shuts down (`stop` closes).
    ///
    /// Cheap to poll again and again, which the core's driver does before every read: polling
    /// the channel's `recv` takes the lock of its listener list, one lock shared by every
    /// connection on every executor thread. Here the channel is polled only to register the
    /// task's waker, and again only if the waker changes; any other poll is one atomic load.
    pub async fn stopping(&self) {
        let mut recv = pin!(self.stop.recv());
        let mut registered: Option<Waker> = None;
        future::poll_fn(|cx| {
            // `close` sets this before it wakes the listeners, so a woken task sees it.
            if self.stop.is_closed() {
                return Poll::Ready(());
            }
            if registered.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                return Poll::Pending;
            }
            if recv.as_mut().poll(cx).is_ready() {
                return Poll::Ready(());
            }
            registered = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }
}

/// A connection's place under `--max-connections`, and in the `alive` count; given back on
/// drop, however the connection ends.
struct Slot {
    shared: Arc<Shared>,
    _alive: Sender<Infallible>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.shared.active.fetch_sub(1, Ordering::AcqRel);
    }
}

/// How the server ended, which decides its exit status.
pub enum Ending {
    /// Every connection finished, or the grace period ran out.
    Graceful,
    /// A second signal arrived during the grace period.
    Forced(Signal),
}

/// Serves `listeners` until a signal arrives, then shuts down as described in the module docs.
pub async fn run(
    executor: Arc<Executor<'static>>,
    listeners: Vec<TcpListener>,
    shared: Arc<Shared>,
    stop: Sender<Infallible>,
    mut signals: Signals,
    grace: Duration,
) -> Ending {
    let (alive, all_done) = async_channel::bounded::<Infallible>(1);
    for listener in listeners {
        let task = accept_loop(listener, shared.clone(), executor.clone(), alive.clone());
        executor.spawn(task).detach();
    }
    drop(alive);

    let signal = next_signal(&mut signals).await;
    let open = shared.active.load(Ordering::Acquire);
    tracing::info!(
        ?signal,
        open_connections = open,
        grace_secs = grace.as_secs_f64(),
        "shutting down: no new connections; flushing the replies owed"
    );
    stop.close();

    let finished = async {
        // Never sent to: returns when every sender (accept loops, connections) is gone.
        let _ = all_done.recv().await;
        Ending::Graceful
    };
    let grace_over = async {
        Timer::after(grace).await;
        let open = shared.active.load(Ordering::Acquire);
        tracing::warn!(
            open_connections = open,
            "grace period over; closing the connections left"
        );
        Ending::Graceful
    };
    let second = async { Ending::Forced(next_signal(&mut signals).await) };
    finished.or(grace_over).or(second).await
}

/// Waits for SIGINT or SIGTERM.
async fn next_signal(signals: &mut Signals) -> Signal {
    loop {
        match signals.next().await {
            Some(Ok(signal)) => return signal,
            Some(Err(error)) => tracing::warn!(%error, "reading signals failed"),
            // The stream never ends; if it did, no signal could ever stop us.
            None => return futures_lite::future::pending().await,
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    executor: Arc<Executor<'static>>,
    alive: Sender<Infallible>,
) {
    let stopped = async {
        shared.stopping().await;
        None
    };
    let mut stopped = std::pin::pin!(stopped);
    loop {
        let accepted = async { Some(listener.accept().await) }
            .or(stopped.as_mut())
            .await;
        let Some(accepted) = accepted else {
            return;
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "accept failed; retrying shortly");
                Timer::after(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        // Replies are written in batches by the driver, so Nagle's algorithm only adds delay.
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%peer, %error, "cannot set TCP_NODELAY");
        }
        let shared = shared.clone();
        if shared.active.fetch_add(1, Ordering::AcqRel) >= shared.max_connections {
            shared.active.fetch_sub(1, Ordering::AcqRel);
            executor
                .spawn(async move { connection::reject(stream, peer, &shared.full_reply).await })
                .detach();
            continue;
        }
        let slot = Slot {
            shared: shared.clone(),
            _alive: alive.clone(),
        };
        connection::spawn(&executor, stream, peer, shared, slot);
    }
}
