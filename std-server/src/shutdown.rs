//! The shutdown signal, as every task sees it: a channel that is never sent to, only closed
//! (closing wakes every waiter at once).
//!
//! The server closes it on the first SIGINT or SIGTERM; accept loops then stop accepting,
//! and every connection stops reading, answers the complete lines it holds, flushes, and
//! closes.

use async_channel::{Receiver, Sender};
use futures_lite::future::{self, Future as _};
use std::convert::Infallible;
use std::pin::pin;
use std::task::{Poll, Waker};

/// Closes the shutdown channel: every [`Stop`] completes.
#[derive(Debug)]
pub struct Trigger(Sender<Infallible>);

impl Trigger {
    /// Starts the shutdown.
    pub fn fire(&self) {
        self.0.close();
    }
}

/// A task's view of the shutdown signal; cheap to clone.
#[derive(Debug, Clone)]
pub struct Stop(Receiver<Infallible>);

/// A new shutdown signal: the trigger, and the first of its waiters.
pub fn signal() -> (Trigger, Stop) {
    let (sender, receiver) = async_channel::bounded(1);
    (Trigger(sender), Stop(receiver))
}

impl Stop {
    /// Completes once the server shuts down.
    ///
    /// Cheap to poll again and again, which a connection does before every read: polling
    /// the channel's `recv` takes the lock of its listener list, one lock shared by every
    /// connection on every executor thread. Here the channel is polled only to register the
    /// task's waker, and again only if the waker changes; any other poll is one atomic load.
    pub async fn stopping(&self) {
        let mut recv = pin!(self.0.recv());
        let mut registered: Option<Waker> = None;
        future::poll_fn(|cx| {
            // `close` sets this before it wakes the listeners, so a woken task sees it.
            if self.0.is_closed() {
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
