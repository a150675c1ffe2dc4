//! What an [`Echo`](crate::Echo) (and the [`Server`](crate::Server) around it) has done: the
//! [`Counters`] its handles give, and the [`Tally`] they are read from.
//!
//! Connections count on every turn of their loop, from every executor thread, so the tally is
//! split into stripes, one per thread as far as there are stripes, each on its own cache
//! line: counting is a few uncontended atomic adds, and no cache line moves between threads.
//! A snapshot adds the stripes up.

use crossbeam_utils::CachePadded;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Stripes of a tally: more than the executor threads of most machines that run this.
const STRIPES: usize = 16;

/// A snapshot of what a server or an [`Echo`](crate::Echo) has done since it was built, and
/// the connections it serves now: what the server's summary line logs.
///
/// ```
/// # use chatecho_server::Counters;
/// let before = Counters::default();
/// let now = Counters { lines: 5, ..before };
/// assert_eq!(now.since(&before).lines, 5);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Counters {
    /// Connections served now.
    pub open: u64,
    /// Connections a [`Server`](crate::Server) accepted, whether it then served or refused
    /// them (always 0 for an `Echo`).
    pub accepted: u64,
    /// Connections refused because the server's connection limit was reached.
    pub refused_full: u64,
    /// Connections refused because the per-address limit of their address was reached.
    pub refused_per_address: u64,
    /// Connections closed unserved by a server that takes the PROXY protocol
    /// ([`ServerBuilder::proxy_protocol`](crate::ServerBuilder::proxy_protocol)): from an
    /// address not trusted to send its header, or without a valid header within its limits
    /// of size and time.
    pub refused_proxy: u64,
    /// Connections served that have ended.
    pub closed: u64,
    /// Of those, the ones the idle timeout closed.
    pub closed_idle: u64,
    /// Lines answered, echoes and line-too-long errors alike.
    pub lines: u64,
    /// Bytes received from peers.
    pub bytes_in: u64,
    /// Bytes sent to peers.
    pub bytes_out: u64,
}

impl Counters {
    /// What was counted between `earlier` and this snapshot; `open` stays as it is now.
    pub fn since(&self, earlier: &Counters) -> Counters {
        Counters {
            open: self.open,
            accepted: self.accepted.saturating_sub(earlier.accepted),
            refused_full: self.refused_full.saturating_sub(earlier.refused_full),
            refused_per_address: self
                .refused_per_address
                .saturating_sub(earlier.refused_per_address),
            refused_proxy: self.refused_proxy.saturating_sub(earlier.refused_proxy),
            closed: self.closed.saturating_sub(earlier.closed),
            closed_idle: self.closed_idle.saturating_sub(earlier.closed_idle),
            lines: self.lines.saturating_sub(earlier.lines),
            bytes_in: self.bytes_in.saturating_sub(earlier.bytes_in),
            bytes_out: self.bytes_out.saturating_sub(earlier.bytes_out),
        }
    }
}

/// One stripe: the counts of the threads that map to it.
#[derive(Debug, Default)]
struct Stripe {
    accepted: AtomicU64,
    refused_full: AtomicU64,
    refused_per_address: AtomicU64,
    refused_proxy: AtomicU64,
    closed: AtomicU64,
    closed_idle: AtomicU64,
    lines: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
}

/// The running counts of one `Echo` and its server.
#[derive(Debug)]
pub(crate) struct Tally {
    stripes: Box<[CachePadded<Stripe>]>,
    open: AtomicUsize,
}

impl Default for Tally {
    fn default() -> Self {
        Self {
            stripes: (0..STRIPES).map(|_| CachePadded::default()).collect(),
            open: AtomicUsize::new(0),
        }
    }
}

/// Spreads threads over the stripes in the order they first count.
fn stripe_index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static INDEX: usize = NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES;
    }
    INDEX.with(|index| *index)
}

impl Tally {
    fn mine(&self) -> &Stripe {
        &self.stripes[stripe_index()]
    }

    /// A connection was accepted (whether it is then served or refused).
    pub fn accepted(&self) {
        self.mine().accepted.fetch_add(1, Ordering::Relaxed);
    }

    /// A connection was refused: over the per-address limit if `per_address`, else over the
    /// connection limit.
    pub fn refused(&self, per_address: bool) {
        let stripe = self.mine();
        let counter = if per_address {
            &stripe.refused_per_address
        } else {
            &stripe.refused_full
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// A connection was closed unserved for the PROXY protocol (untrusted, no valid header).
    pub fn refused_proxy(&self) {
        self.mine().refused_proxy.fetch_add(1, Ordering::Relaxed);
    }

    /// A connection is being served; it counts as open until `closed`.
    pub fn opened(&self) {
        self.open.fetch_add(1, Ordering::Relaxed);
    }

    /// A connection served has ended; `idle` when the idle timeout ended it.
    pub fn closed(&self, idle: bool) {
        let stripe = self.mine();
        stripe.closed.fetch_add(1, Ordering::Relaxed);
        if idle {
            stripe.closed_idle.fetch_add(1, Ordering::Relaxed);
        }
        self.open.fetch_sub(1, Ordering::Relaxed);
    }

    /// A connection answered `lines` lines, took `bytes_in` bytes and sent `bytes_out`.
    pub fn served(&self, lines: u64, bytes_in: u64, bytes_out: u64) {
        let stripe = self.mine();
        stripe.lines.fetch_add(lines, Ordering::Relaxed);
        stripe.bytes_in.fetch_add(bytes_in, Ordering::Relaxed);
        stripe.bytes_out.fetch_add(bytes_out, Ordering::Relaxed);
    }

    /// Connections served now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// Every stripe added up.
    pub fn snapshot(&self) -> Counters {
        let mut counters = Counters {
            open: self.open() as u64,
            ..Counters::default()
        };
        for stripe in self.stripes.iter() {
            let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
            counters.accepted += get(&stripe.accepted);
            counters.refused_full += get(&stripe.refused_full);
            counters.refused_per_address += get(&stripe.refused_per_address);
            counters.refused_proxy += get(&stripe.refused_proxy);
            counters.closed += get(&stripe.closed);
            counters.closed_idle += get(&stripe.closed_idle);
            counters.lines += get(&stripe.lines);
            counters.bytes_in += get(&stripe.bytes_in);
            counters.bytes_out += get(&stripe.bytes_out);
        }
        counters
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_from_every_thread_add_up() {
        let tally = Tally::default();
        tally.accepted();
        tally.opened();
        std::thread::scope(|scope| {
            for _ in 0..3 {
                scope.spawn(|| {
                    tally.accepted();
                    tally.refused(true);
                    tally.served(3, 30, 60);
                });
            }
        });
        tally.refused(false);
        tally.refused_proxy();
        tally.closed(true);
        let counted = tally.snapshot();
        assert_eq!(counted.accepted, 4);
        assert_eq!(
            (
                counted.refused_full,
                counted.refused_per_address,
                counted.refused_proxy
            ),
            (1, 3, 1)
        );
        assert_eq!(
            (counted.closed, counted.closed_idle, counted.open),
            (1, 1, 0)
        );
        assert_eq!(
            (counted.lines, counted.bytes_in, counted.bytes_out),
            (9, 90, 180)
        );
    }

    #[test]
    fn since_subtracts_all_but_open() {
        let earlier = Counters {
            open: 7,
            accepted: 2,
            lines: 10,
            ..Counters::default()
        };
        let now = Counters {
            open: 3,
            accepted: 5,
            lines: 11,
            ..Counters::default()
        };
        let delta = now.since(&earlier);
        assert_eq!((delta.open, delta.accepted, delta.lines), (3, 3, 1));
    }
}
