//! What the log says while the server runs, at `info`: every `--summary-interval` seconds, and
//! only if something changed, one line with the connections open and what was counted since
//! the last summary ([`crate::counters`]); and, within a second of logging catching up, how
//! many log lines were dropped. Single connections are logged at `debug` only.

use crate::admission::Admission;
use crate::counters::{self, Totals};
use crate::logging::DroppedLines;
use std::sync::Arc;
use std::time::Duration;

/// The summary's state between the clock's ticks, which drive it ([`crate::clock`]).
pub struct Summary {
    /// Seconds between summaries; `None` for none.
    interval: Option<u64>,
    admission: Arc<Admission>,
    dropped: DroppedLines,
    last: Totals,
    last_open: usize,
    /// Seconds since the last summary.
    since: u64,
}

impl Summary {
    /// Summaries every `interval` (none if `None`) of what `admission` and the counters
    /// show, and reports of dropped log lines.
    pub fn new(
        interval: Option<Duration>,
        admission: Arc<Admission>,
        dropped: DroppedLines,
    ) -> Self {
        Self {
            interval: interval.map(|i| i.as_secs().max(1)),
            last_open: admission.open(),
            admission,
            dropped,
            last: counters::totals(),
            since: 0,
        }
    }

    /// One second has passed: reports dropped log lines, and logs a summary when one is due
    /// and something changed since the last.
    pub fn tick(&mut self) {
        self.dropped.report();
        self.since += 1;
        let Some(interval) = self.interval else {
            return;
        };
        if self.since < interval {
            return;
        }
        let now = counters::totals();
        let open = self.admission.open();
        let counted = now.since(self.last);
        if counted != Totals::default() || open != self.last_open {
            log(
                &format!("summary of the last {}s", self.since),
                open,
                counted,
            );
        }
        (self.last, self.last_open, self.since) = (now, open, 0);
    }
}

/// Logs `counts` at `info` with `message`, beside the connections `open` now.
pub fn log(message: &str, open: usize, counts: Totals) {
    tracing::info!(
        open,
        accepted = counts.accepted,
        closed = counts.closed,
        refused_full = counts.refused_full,
        refused_per_ip = counts.refused_address,
        closed_idle = counts.closed_idle,
        lines_answered = counts.lines,
        bytes_in = counts.bytes_in,
        bytes_out = counts.bytes_out,
        "{message}"
    );
}
