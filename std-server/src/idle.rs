//! The idle timeout, kept by one sweep a second instead of one timer per connection.
//!
//! Every connection registers a [`Watch`] and stamps it with the coarse [`clock`] whenever it
//! reads or writes; once a second the clock's thread [`sweep`](Idle::sweep)s the registry and
//! wakes every connection whose last stamp is older than the timeout. A connection is never
//! closed before `--idle-timeout` has passed without activity, and at most a second after.
//! The registry is split into shards so that connections opening and closing on different
//! threads rarely wait for the same lock.

use crate::clock::{self, Duty};
use atomic_waker::AtomicWaker;
use slab::Slab;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

/// Shards of the registry.
const SHARDS: usize = 16;

/// The connections under the idle timeout.
#[derive(Debug)]
pub struct Idle {
    /// Whole seconds; a connection idle for more than this is expired.
    timeout: u64,
    shards: [Mutex<Slab<Arc<Watch>>>; SHARDS],
    /// Spreads registrations over the shards.
    next_shard: AtomicUsize,
}

/// An [`Idle`] registry that the [`clock`] sweeps once a second for as long as this lives:
/// what an `Echo` keeps for its idle timeout, and a server for its PROXY headers' deadline.
pub struct Swept {
    idle: Arc<Idle>,
    /// The sweep, held by the clock weakly; `None` when the timeout is off.
    _sweep: Option<Duty>,
}

impl Swept {
    /// A registry for `timeout` ([`Idle::new`]), swept from now on. If the clock cannot start,
    /// nothing ever expires, and the log says so, naming the timeout as `what`.
    pub fn new(timeout: Option<Duration>, what: &str) -> Self {
        let idle = Arc::new(Idle::new(timeout));
        let sweep = timeout.map(|_| {
            let sweeping = idle.clone();
            let duty: Duty = Arc::new(move || sweeping.sweep(clock::now()));
            if let Err(error) = clock::every_second(&duty) {
                tracing::error!(%error, "no {what}: cannot start the clock");
            }
            duty
        });
        Self {
            idle,
            _sweep: sweep,
        }
    }
}

impl std::ops::Deref for Swept {
    type Target = Idle;

    fn deref(&self) -> &Idle {
        &self.idle
    }
}

/// One connection's activity, as the sweep sees it.
#[derive(Debug, Default)]
pub struct Watch {
    /// [`clock::now`] at the last read or write.
    last: AtomicU64,
    /// Set by the sweep; never cleared.
    expired: AtomicBool,
    /// The connection's task, woken when it expires.
    waker: AtomicWaker,
}

/// A connection's place in the registry; leaves it when dropped.
#[derive(Debug)]
pub struct Watched<'a> {
    idle: &'a Idle,
    shard: usize,
    key: usize,
    watch: Arc<Watch>,
}

impl Idle {
    /// A registry for `timeout` (rounded up to whole seconds); `None` turns the timeout off,
    /// and then nothing is registered or swept.
    pub fn new(timeout: Option<Duration>) -> Self {
        let timeout = timeout.map_or(u64::MAX, |t| t.as_secs() + u64::from(t.subsec_nanos() > 0));
        Self {
            timeout,
            shards: std::array::from_fn(|_| Mutex::new(Slab::new())),
            next_shard: AtomicUsize::new(0),
        }
    }

    /// The timeout in whole seconds (rounded up), `None` when off.
    pub fn timeout_secs(&self) -> Option<u64> {
        (self.timeout != u64::MAX).then_some(self.timeout)
    }

    /// Registers a new connection, active now.
    pub fn watch(&self) -> Watched<'_> {
        let watch = Arc::new(Watch::default());
        watch.touch();
        if self.timeout == u64::MAX {
            return Watched {
                idle: self,
                shard: SHARDS,
                key: 0,
                watch,
            };
        }
        let shard = self.next_shard.fetch_add(1, Ordering::Relaxed) % SHARDS;
        let key = lock(&self.shards[shard]).insert(watch.clone());
        Watched {
            idle: self,
            shard,
            key,
            watch,
        }
    }

    /// Wakes every connection idle for longer than the timeout at second `now` of the
    /// [`clock`]. Called once a second.
    pub fn sweep(&self, now: u64) {
        if self.timeout == u64::MAX {
            return;
        }
        for shard in &self.shards {
            for (_, watch) in lock(shard).iter() {
                // A stamp of second `s` means activity somewhere in `s..s + 1`: more than
                // `timeout` whole seconds later, the connection has been idle at least that.
                let last = watch.last.load(Ordering::Relaxed);
                if now.saturating_sub(last) > self.timeout
                    && !watch.expired.swap(true, Ordering::AcqRel)
                {
                    watch.waker.wake();
                }
            }
        }
    }

    /// Connections registered now.
    #[cfg(test)]
    fn watched(&self) -> usize {
        self.shards.iter().map(|shard| lock(shard).len()).sum()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding a shard leaves it consistent: insert and remove are atomic.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Watch {
    /// Records activity now.
    pub fn touch(&self) {
        self.last.store(clock::now(), Ordering::Relaxed);
    }

    /// Whether the sweep found the connection idle for longer than the timeout.
    pub fn is_expired(&self) -> bool {
        self.expired.load(Ordering::Acquire)
    }

    /// Whether the sweep has found the connection idle for longer than the timeout; if not,
    /// the task of `cx` is woken when it does.
    pub fn poll_expired(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.is_expired() {
            return Poll::Ready(());
        }
        self.waker.register(cx.waker());
        // Registered before this second look, so an expiry between the two is not missed.
        if self.is_expired() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl std::ops::Deref for Watched<'_> {
    type Target = Watch;

    fn deref(&self) -> &Watch {
        &self.watch
    }
}

impl Drop for Watched<'_> {
    fn drop(&mut self) {
        if let Some(shard) = self.idle.shards.get(self.shard) {
            lock(shard).try_remove(self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    //! The clock's thread does not run in unit tests, so every stamp is second 0 and each
    //! test sweeps at the second it needs.
    use super::*;
    use futures_lite::future;

    #[test]
    fn a_connection_expires_only_once_more_than_its_timeout_has_passed() {
        let idle = Idle::new(Some(Duration::from_secs(3)));
        let watched = idle.watch();
        // Stamped in second 0: by second 3 it may have been idle for only a little over 2.
        for now in 0..=3 {
            idle.sweep(now);
            assert!(!watched.is_expired(), "expired at second {now}");
        }
        idle.sweep(4);
        assert!(watched.is_expired());
    }

    #[test]
    fn the_sweep_wakes_the_connection_and_it_stays_registered_until_it_goes() {
        let idle = Idle::new(Some(Duration::from_secs(1)));
        let watched = idle.watch();
        assert_eq!(idle.watched(), 1);
        {
            let mut expired = std::pin::pin!(std::future::poll_fn(|cx| watched.poll_expired(cx)));
            assert!(future::block_on(future::poll_once(expired.as_mut())).is_none());
            idle.sweep(5);
            assert!(future::block_on(future::poll_once(expired.as_mut())).is_some());
        }
        idle.sweep(6);
        assert_eq!(idle.watched(), 1);
        drop(watched);
        assert_eq!(idle.watched(), 0);
    }

    #[test]
    fn with_the_timeout_off_nothing_is_registered_or_expired() {
        let idle = Idle::new(None);
        assert_eq!(idle.timeout_secs(), None);
        let watched = idle.watch();
        idle.sweep(u64::MAX);
        assert!(!watched.is_expired());
        assert_eq!(idle.watched(), 0);
    }

    #[test]
    fn a_part_second_timeout_rounds_up() {
        let idle = Idle::new(Some(Duration::from_millis(1500)));
        assert_eq!(idle.timeout_secs(), Some(2));
        let watched = idle.watch();
        idle.sweep(2);
        assert!(!watched.is_expired());
        idle.sweep(3);
        assert!(watched.is_expired());
    }
}
