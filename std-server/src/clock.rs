//! The server's clock: one thread that ticks once a second, so that nothing in the reactor
//! waits on a timer in the steady state.
//!
//! It keeps a coarse count of seconds since start, which connections stamp their activity
//! with (a relaxed load per read or write, not a clock read), and runs the once-a-second
//! duties it is given: the idle sweep and the periodic summary. A timer in the reactor, by
//! contrast, gives every reactor wait a timeout, and each timeout costs system calls to arm
//! the reactor's timerfd (bench/RESULTS.md has the counts).

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// Seconds since the clock started; 0 until it has.
static SECONDS: AtomicU64 = AtomicU64::new(0);

/// How often the clock ticks.
pub const TICK: Duration = Duration::from_secs(1);

/// Whole seconds since the clock started.
pub fn now() -> u64 {
    SECONDS.load(Ordering::Relaxed)
}

/// Starts the clock's thread, which calls `every_tick` once a second, for the life of the
/// process.
pub fn start(mut every_tick: impl FnMut() + Send + 'static) -> io::Result<()> {
    thread::Builder::new()
        .name("chatecho-clock".into())
        .spawn(move || {
            let start = Instant::now();
            for second in 1.. {
                // Sleeping to the next whole second from the start, not for a second, so
                // that the count never falls behind real time.
                let next = start + TICK * second;
                thread::sleep(next.saturating_duration_since(Instant::now()));
                SECONDS.store(u64::from(second), Ordering::Relaxed);
                every_tick();
            }
        })
        .map(drop)
}
