//! What the server has done since it started, counted for the periodic summary in the log:
//! connections accepted, refused and closed, lines answered, bytes in and out.
//!
//! Every thread counts into its own set of counters, which only it writes, so counting costs
//! a few uncontended atomic adds and no cache line moves between threads; the summary adds
//! the sets up. A leaf: it depends on no other module of the server.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// One thread's counters.
#[derive(Debug, Default)]
struct Counters {
    accepted: AtomicU64,
    refused_full: AtomicU64,
    refused_address: AtomicU64,
    closed: AtomicU64,
    closed_idle: AtomicU64,
    lines: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
}

/// Every thread's counters, for [`totals`]. A thread's set stays after the thread ends, so
/// nothing counted is lost.
static ALL: Mutex<Vec<Arc<Counters>>> = Mutex::new(Vec::new());

thread_local! {
    static MINE: Arc<Counters> = {
        let mine = Arc::new(Counters::default());
        ALL.lock().unwrap_or_else(PoisonError::into_inner).push(mine.clone());
        mine
    };
}

fn add(pick: impl FnOnce(&Counters) -> &AtomicU64, n: u64) {
    // Only this thread writes its counters: a relaxed add is exact.
    MINE.with(|mine| pick(mine).fetch_add(n, Ordering::Relaxed));
}

/// A connection was accepted (whether it is then served or refused).
pub fn accepted() {
    add(|c| &c.accepted, 1);
}

/// A connection was refused because `--max-connections` were open.
pub fn refused_full() {
    add(|c| &c.refused_full, 1);
}

/// A connection was refused because `--max-connections-per-ip` were open from its address.
pub fn refused_address() {
    add(|c| &c.refused_address, 1);
}

/// A served connection closed; `idle` when the idle timeout closed it.
pub fn closed(idle: bool) {
    add(|c| &c.closed, 1);
    if idle {
        add(|c| &c.closed_idle, 1);
    }
}

/// A connection answered `lines` lines, took `bytes_in` bytes and sent `bytes_out`.
pub fn served(lines: u64, bytes_in: u64, bytes_out: u64) {
    MINE.with(|mine| {
        mine.lines.fetch_add(lines, Ordering::Relaxed);
        mine.bytes_in.fetch_add(bytes_in, Ordering::Relaxed);
        mine.bytes_out.fetch_add(bytes_out, Ordering::Relaxed);
    });
}

/// Every thread's counts added up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Connections accepted.
    pub accepted: u64,
    /// Connections refused as over `--max-connections`.
    pub refused_full: u64,
    /// Connections refused as over `--max-connections-per-ip`.
    pub refused_address: u64,
    /// Served connections that closed.
    pub closed: u64,
    /// Of those, the ones the idle timeout closed.
    pub closed_idle: u64,
    /// Lines answered (echoes and line-too-long errors).
    pub lines: u64,
    /// Bytes received.
    pub bytes_in: u64,
    /// Bytes sent.
    pub bytes_out: u64,
}

impl Totals {
    /// What was counted since `earlier`.
    pub fn since(self, earlier: Totals) -> Totals {
        Totals {
            accepted: self.accepted - earlier.accepted,
            refused_full: self.refused_full - earlier.refused_full,
            refused_address: self.refused_address - earlier.refused_address,
            closed: self.closed - earlier.closed,
            closed_idle: self.closed_idle - earlier.closed_idle,
            lines: self.lines - earlier.lines,
            bytes_in: self.bytes_in - earlier.bytes_in,
            bytes_out: self.bytes_out - earlier.bytes_out,
        }
    }
}

/// The counts of every thread so far.
pub fn totals() -> Totals {
    let all = ALL.lock().unwrap_or_else(PoisonError::into_inner);
    let mut totals = Totals::default();
    for counters in all.iter() {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        totals.accepted += get(&counters.accepted);
        totals.refused_full += get(&counters.refused_full);
        totals.refused_address += get(&counters.refused_address);
        totals.closed += get(&counters.closed);
        totals.closed_idle += get(&counters.closed_idle);
        totals.lines += get(&counters.lines);
        totals.bytes_in += get(&counters.bytes_in);
        totals.bytes_out += get(&counters.bytes_out);
    }
    totals
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_from_every_thread_add_up() {
        let before = totals();
        accepted();
        std::thread::spawn(|| {
            accepted();
            closed(true);
            served(3, 30, 60);
        })
        .join()
        .unwrap();
        served(1, 2, 3);
        let counted = totals().since(before);
        assert_eq!(counted.accepted, 2);
        assert_eq!((counted.closed, counted.closed_idle), (1, 1));
        assert_eq!(
            (counted.lines, counted.bytes_in, counted.bytes_out),
            (4, 32, 63)
        );
    }
}
