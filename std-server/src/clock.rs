//! A coarse clock for the whole process: one thread that ticks once a second, so that nothing
//! in the reactor waits on a timer in the steady state.
//!
//! It keeps a count of seconds since it started, which connections stamp their activity with
//! (a relaxed load per read or write, not a clock read), and runs the once-a-second duties
//! that idle sweeps and summaries register. A timer in the reactor, by contrast, gives every
//! reactor wait a timeout, and each timeout costs system calls to arm the reactor's timerfd
//! (bench/RESULTS.md has the counts).
//!
//! The thread starts with the first duty and lives as long as the process, as async-io's own
//! thread does; a duty is held weakly, and goes when its owner drops it.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};
use std::thread;
use std::time::{Duration, Instant};

/// Seconds since the clock started; 0 until it has.
static SECONDS: AtomicU64 = AtomicU64::new(0);

/// What runs on every tick, held weakly.
static DUTIES: Mutex<Vec<Weak<dyn Fn() + Send + Sync>>> = Mutex::new(Vec::new());

/// How often the clock ticks.
pub const TICK: Duration = Duration::from_secs(1);

/// Something to do once a second, for as long as its owner keeps this.
pub type Duty = Arc<dyn Fn() + Send + Sync>;

/// Whole seconds since the clock started.
pub fn now() -> u64 {
    SECONDS.load(Ordering::Relaxed)
}

/// Runs `duty` once a second from now until the last clone of it is dropped. Fails only if
/// the clock's thread cannot be started.
pub fn every_second(duty: &Duty) -> io::Result<()> {
    start()?;
    lock().push(Arc::downgrade(duty));
    Ok(())
}

fn lock() -> std::sync::MutexGuard<'static, Vec<Weak<dyn Fn() + Send + Sync>>> {
    // The list is consistent after every statement that changes it.
    DUTIES.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Starts the clock's thread, once.
fn start() -> io::Result<()> {
    static STARTED: OnceLock<Result<(), io::ErrorKind>> = OnceLock::new();
    let started = STARTED.get_or_init(|| {
        thread::Builder::new()
            .name("chatecho-clock".into())
            .spawn(tick_forever)
            .map(drop)
            .map_err(|error| error.kind())
    });
    started.map_err(|kind| io::Error::new(kind, "cannot start the clock thread"))
}

fn tick_forever() {
    let start = Instant::now();
    for second in 1u32.. {
        // Sleeping to the next whole second from the start, not for a second, so that the
        // count never falls behind real time.
        let next = start + TICK * second;
        thread::sleep(next.saturating_duration_since(Instant::now()));
        SECONDS.store(u64::from(second), Ordering::Relaxed);
        let due: Vec<Duty> = {
            let mut duties = lock();
            duties.retain(|duty| duty.strong_count() > 0);
            duties.iter().filter_map(Weak::upgrade).collect()
        };
        // Outside the lock, so that a duty may register another.
        for duty in due {
            duty();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn a_duty_runs_every_second_until_dropped() {
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        let duty: Duty = Arc::new(move || {
            counted.fetch_add(1, Ordering::Relaxed);
        });
        every_second(&duty).unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while runs.load(Ordering::Relaxed) < 2 {
            assert!(Instant::now() < deadline, "the duty did not run twice");
            thread::sleep(Duration::from_millis(50));
        }
        assert!(now() >= 2);
        drop(duty);
        // The tick after the drop forgets it; none runs it again.
        let at_drop = runs.load(Ordering::Relaxed);
        thread::sleep(TICK * 3);
        assert!(runs.load(Ordering::Relaxed) <= at_drop + 1);
    }
}
