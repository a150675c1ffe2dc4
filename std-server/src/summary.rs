//! What the log says about a server as a whole, at `info`: every summary interval, and only if
//! something changed, one line with the connections open and what was counted since the last
//! summary ([`crate::counters`]); and the whole run's counts when it stops. Single connections
//! are logged at `debug` only.

use crate::Echo;
use crate::counters::Counters;
use std::time::Duration;

/// The periodic summary's state between the clock's ticks, which drive it
/// ([`crate::clock`]).
pub struct Summary {
    /// Seconds between summaries.
    interval: u64,
    echo: Echo,
    last: Counters,
    /// Seconds since the last summary.
    since: u64,
}

impl Summary {
    /// Summaries every `interval` (in whole seconds, at least one) of what `echo` counts.
    pub fn new(interval: Duration, echo: Echo) -> Self {
        Self {
            interval: interval.as_secs().max(1),
            last: echo.counters(),
            echo,
            since: 0,
        }
    }

    /// One second has passed: logs a summary when one is due and something changed since
    /// the last.
    pub fn tick(&mut self) {
        self.since += 1;
        if self.since < self.interval {
            return;
        }
        let now = self.echo.counters();
        let counted = now.since(&self.last);
        let quiet = Counters {
            open: self.last.open,
            ..Counters::default()
        };
        // Something was counted, or connections opened or closed.
        if counted != quiet {
            log(&format!("summary of the last {}s", self.since), counted);
        }
        (self.last, self.since) = (now, 0);
    }
}

/// Logs `counts` at `info` with `message`; `counts.open` is the connections open now.
pub fn log(message: &str, counts: Counters) {
    tracing::info!(
        open = counts.open,
        accepted = counts.accepted,
        closed = counts.closed,
        refused_full = counts.refused_full,
        refused_per_ip = counts.refused_per_address,
        refused_proxy = counts.refused_proxy,
        closed_idle = counts.closed_idle,
        lines_answered = counts.lines,
        bytes_in = counts.bytes_in,
        bytes_out = counts.bytes_out,
        "{message}"
    );
}
