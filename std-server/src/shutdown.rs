//! A one-way signal to many tasks: fired once, seen by every waiter at once.
//!
//! A server has two: *stop*, when shutdown begins (the accept loop stops accepting, and every
//! connection stops reading, answers the complete lines it holds, flushes, and closes), and
//! *abort*, when the shutdown grace period is over (the connections left are dropped).
//!
//! Every connection waits on a signal for its whole life, so a wait is small (32 bytes in
//! the connection's task) and cheap to poll again and again, which a connection does before
//! every read: it registers with the signal's event list only on its first poll and when its
//! waker changes (taking the list's lock, shared by every connection on every thread); any
//! other poll is one atomic load.

use event_listener::{Event, EventListener};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};

#[derive(Debug, Default)]
struct Signal {
    fired: AtomicBool,
    event: Event,
}

/// Fires the signal: every [`Stop`] completes.
#[derive(Debug)]
pub struct Trigger(Arc<Signal>);

impl Trigger {
    /// Fires the signal; firing again changes nothing.
    pub fn fire(&self) {
        // Set before notifying, so that a waiter that registers after this store sees it on
        // its second look, and one that registered before is notified.
        self.0.fired.store(true, Ordering::SeqCst);
        self.0.event.notify(usize::MAX);
    }
}

/// A task's view of the signal; cheap to clone.
#[derive(Debug, Clone)]
pub struct Stop(Arc<Signal>);

/// A new signal: the trigger, and the first of its waiters.
pub fn signal() -> (Trigger, Stop) {
    let signal = Arc::new(Signal::default());
    (Trigger(signal.clone()), Stop(signal))
}

impl Stop {
    /// Whether the signal has fired.
    pub fn has_fired(&self) -> bool {
        self.0.fired.load(Ordering::SeqCst)
    }

    /// Completes once the signal fires.
    pub fn stopping(&self) -> Stopping<'_> {
        Stopping {
            stop: self,
            listener: None,
            registered: None,
        }
    }
}

/// The future of [`Stop::stopping`].
#[derive(Debug)]
pub struct Stopping<'a> {
    stop: &'a Stop,
    /// The place in the event's list, taken on the first poll.
    listener: Option<EventListener>,
    /// The waker the listener last registered.
    registered: Option<Waker>,
}

impl Future for Stopping<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        if this.stop.has_fired() {
            return Poll::Ready(());
        }
        let listener = this
            .listener
            .get_or_insert_with(|| this.stop.0.event.listen());
        // Listening before this second look, so a fire between the two is not missed.
        if this.stop.has_fired() {
            return Poll::Ready(());
        }
        if this
            .registered
            .as_ref()
            .is_some_and(|waker| waker.will_wake(cx.waker()))
        {
            return Poll::Pending;
        }
        match Pin::new(listener).poll(cx) {
            Poll::Ready(()) => Poll::Ready(()),
            Poll::Pending => {
                this.registered = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_lite::future;
    use std::pin::pin;

    #[test]
    fn every_waiter_completes_once_fired_and_not_before() {
        let (trigger, stop) = signal();
        let other = stop.clone();
        let mut first = pin!(stop.stopping());
        let mut second = pin!(other.stopping());
        for _ in 0..3 {
            assert!(future::block_on(future::poll_once(first.as_mut())).is_none());
        }
        assert!(future::block_on(future::poll_once(second.as_mut())).is_none());
        trigger.fire();
        assert!(stop.has_fired());
        future::block_on(first);
        future::block_on(second);
        // Waiting after the fire completes at once.
        future::block_on(other.stopping());
    }

    #[test]
    fn a_waiter_on_another_thread_is_woken() {
        let (trigger, stop) = signal();
        let waiter = std::thread::spawn(move || future::block_on(stop.stopping()));
        std::thread::sleep(std::time::Duration::from_millis(20));
        trigger.fire();
        waiter.join().unwrap();
    }
}
