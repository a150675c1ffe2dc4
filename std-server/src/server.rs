//! The running server: accept loops, the refusal of connections over the limits, and graceful
//! shutdown on signals.
//!
//! Shutdown runs on two channels that are never sent to, only closed:
//! - the [`shutdown`](crate::shutdown) signal, closed on the first signal: accept loops stop
//!   accepting and every connection stops reading, answers the complete lines it holds,
//!   flushes, says why it closes, and closes;
//! - `alive`: every accept loop and connection holds a sender; the receiver sees the channel
//!   close once all of them are gone, which is when the server can exit.

use crate::admission::{Admission, Refusal};
use crate::clock;
use crate::connection::{self, Socket};
use crate::counters;
use crate::idle::Idle;
use crate::logging::DroppedLines;
use crate::settings::Settings;
use crate::shutdown::{self, Stop};
use crate::summary::Summary;
use async_channel::Sender;
use async_io::{Async, Timer};
use async_signal::{Signal, Signals};
use futures_lite::{FutureExt as _, StreamExt as _};
use smol::Executor;
use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

/// After a failed accept (out of file descriptors, a connection aborted before we took it…),
/// wait this long before the next, so that a persistent error does not spin a CPU.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// How the server ended, which decides its exit status.
pub enum Ending {
    /// Every connection finished, or the grace period ran out with `open` connections left.
    Graceful {
        /// Connections still open.
        open: usize,
    },
    /// A second signal arrived during the grace period.
    Forced(Signal),
}

/// What the server runs with besides its listeners.
pub struct Run {
    /// The executor every task runs on.
    pub executor: Arc<Executor<'static>>,
    /// The server's settings.
    pub settings: Arc<Settings>,
    /// SIGINT and SIGTERM.
    pub signals: Signals,
    /// `--shutdown-grace`.
    pub grace: Duration,
    /// `--summary-interval`, `None` when off.
    pub summary_interval: Option<Duration>,
    /// The log's count of dropped lines, reported as logging catches up.
    pub dropped_lines: DroppedLines,
}

/// Serves `listeners` until a signal arrives, then shuts down as described in the module docs.
pub async fn run(listeners: Vec<Async<TcpListener>>, run: Run) -> Ending {
    let Run {
        executor,
        settings,
        mut signals,
        grace,
        summary_interval,
        dropped_lines,
    } = run;
    let admission = Arc::new(Admission::new(settings.limits));
    let idle = Arc::new(Idle::new(settings.idle_timeout));
    let mut summary = Summary::new(summary_interval, admission.clone(), dropped_lines);
    let sweeping = idle.clone();
    if let Err(error) = clock::start(move || {
        sweeping.sweep(clock::now());
        summary.tick();
    }) {
        // Without the clock there is no idle timeout and no summary, but serving goes on.
        tracing::error!(%error, "cannot start the clock thread");
    }
    let (trigger, stop) = shutdown::signal();
    let (alive, all_done) = async_channel::bounded::<Infallible>(1);
    for listener in listeners {
        let accepting = AcceptLoop {
            listener,
            settings: settings.clone(),
            admission: admission.clone(),
            idle: idle.clone(),
            stop: stop.clone(),
            executor: executor.clone(),
            alive: alive.clone(),
        };
        executor.spawn(accepting.run()).detach();
    }
    drop(alive);

    let signal = next_signal(&mut signals).await;
    tracing::info!(
        ?signal,
        open_connections = admission.open(),
        grace_secs = grace.as_secs_f64(),
        "shutting down: no new connections; flushing the replies owed"
    );
    trigger.fire();

    let finished = async {
        // Never sent to: returns when every sender (accept loops, connections) is gone.
        let _ = all_done.recv().await;
        None
    };
    let grace_over = async {
        Timer::after(grace).await;
        tracing::warn!(
            open_connections = admission.open(),
            "grace period over; closing the connections left"
        );
        None
    };
    let second = async { Some(next_signal(&mut signals).await) };
    let forced = finished.or(grace_over).or(second).await;
    match forced {
        Some(signal) => Ending::Forced(signal),
        None => Ending::Graceful {
            open: admission.open(),
        },
    }
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

/// One listener's loop: accepts, admits or refuses, and spawns each admitted connection.
struct AcceptLoop {
    listener: Async<TcpListener>,
    settings: Arc<Settings>,
    admission: Arc<Admission>,
    idle: Arc<Idle>,
    stop: Stop,
    executor: Arc<Executor<'static>>,
    alive: Sender<Infallible>,
}

/// What an admitted connection holds for its whole life: its place under the limits, and
/// its part in keeping shutdown waiting.
struct Held {
    _ticket: crate::admission::Ticket,
    _alive: Sender<Infallible>,
}

impl AcceptLoop {
    async fn run(self) {
        let stopped = async {
            self.stop.stopping().await;
            None
        };
        let mut stopped = std::pin::pin!(stopped);
        loop {
            let accepted = async { Some(self.listener.accept().await) }
                .or(stopped.as_mut())
                .await;
            let Some(accepted) = accepted else {
                return;
            };
            let (socket, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accept failed; retrying shortly");
                    Timer::after(ACCEPT_BACKOFF).await;
                    continue;
                }
            };
            counters::accepted();
            // Replies are written in batches by the driver, so Nagle's algorithm only adds
            // delay.
            if let Err(error) = socket.get_ref().set_nodelay(true) {
                tracing::debug!(%peer, %error, "cannot set TCP_NODELAY");
            }
            match self.admission.admit(peer.ip()) {
                Ok(ticket) => {
                    let held = Held {
                        _ticket: ticket,
                        _alive: self.alive.clone(),
                    };
                    connection::spawn(
                        &self.executor,
                        socket,
                        peer,
                        self.settings.clone(),
                        self.idle.clone(),
                        self.stop.clone(),
                        held,
                    );
                }
                Err(refusal) => {
                    let settings = self.settings.clone();
                    self.executor
                        .spawn(async move { refuse(socket, peer, refusal, &settings).await })
                        .detach();
                }
            }
        }
    }
}

/// Tells a connection over the limits why it is not served, and closes it.
async fn refuse(socket: Socket, peer: SocketAddr, refusal: Refusal, settings: &Settings) {
    let notice = match refusal {
        Refusal::ServerFull => {
            counters::refused_full();
            &settings.notices.server_full
        }
        Refusal::AddressFull => {
            counters::refused_address();
            &settings.notices.address_full
        }
    };
    tracing::debug!(%peer, reason = %refusal, "connection refused");
    // A peer that does not take the notice is closed all the same.
    let _ = connection::say_and_close(&socket, notice).await;
}
