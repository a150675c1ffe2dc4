//! What the log says while the server runs, at `info`: every `--summary-interval` seconds, and
//! only if something changed, one line with the connections open and what was counted since
//! the last summary ([`crate::counters`]); and, within a second of logging catching up, how
//! many log lines were dropped. Single connections are logged at `debug` only.

use crate::admission::Admission;
use crate::counters::{self, Totals};
use crate::logging::DroppedLines;
use async_io::Timer;
use std::time::Duration;

/// How often dropped log lines are looked for.
const DROPPED_LINES_CHECK: Duration = Duration::from_secs(1);

/// Runs until the future is dropped: summaries every `interval` (none if `None`), and
/// reports of dropped log lines.
pub async fn run(interval: Option<Duration>, admission: &Admission, mut dropped: DroppedLines) {
    let mut last = counters::totals();
    let mut last_open = admission.open();
    let mut since_summary = Duration::ZERO;
    loop {
        Timer::after(DROPPED_LINES_CHECK).await;
        dropped.report();
        since_summary += DROPPED_LINES_CHECK;
        let Some(interval) = interval else { continue };
        if since_summary < interval {
            continue;
        }
        let now = counters::totals();
        let open = admission.open();
        let counted = now.since(last);
        if counted != Totals::default() || open != last_open {
            let period = format!("summary of the last {}s", since_summary.as_secs());
            log(&period, open, counted);
        }
        (last, last_open, since_summary) = (now, open, Duration::ZERO);
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
