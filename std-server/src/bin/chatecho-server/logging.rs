//! The server's log: `tracing` events on stderr, as text or JSON lines, through a writer that
//! never makes serving wait.
//!
//! Events are formatted on the thread that logs them and handed to one writer thread over a
//! bounded queue. When stderr is slow or stuck (a pipe nobody reads, a log collector that
//! stalls), the queue fills and further lines are dropped rather than queued without bound
//! or waited for; [`DroppedLines`] counts them, and a thread of its own logs the count once a
//! second when lines get through again.

use clap::ValueEnum;
use std::io::{self, IsTerminal as _};
use std::time::Duration;
use tracing_appender::non_blocking::{ErrorCounter, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

/// Lines the log queue holds while stderr is not taking them; beyond this they are dropped.
/// At a few hundred bytes a line, about a MiB at most: a burst of debug logging, while a
/// server at `info` logs a line every few seconds.
const QUEUED_LINES: usize = 4096;

/// How often dropped log lines are counted and reported.
const DROPPED_LINES_REPORT: Duration = Duration::from_secs(1);

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One line of text per event, for people.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// The running log: keep it until the end of `main`, so that queued lines are written before
/// the process exits.
pub struct Logging {
    /// The writer thread: dropping it writes what is queued, for a moment at most.
    pub writer: WorkerGuard,
    /// Lines dropped because the queue was full.
    pub dropped: DroppedLines,
}

/// Installs the log for the whole process: level from `RUST_LOG` (default `info`).
pub fn init(format: Format) -> Logging {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(QUEUED_LINES)
        .thread_name("chatecho-log")
        .finish(std::io::stderr());
    let dropped = DroppedLines {
        counter: writer.error_counter(),
        reported: 0,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match format {
        Format::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        Format::Json => builder.json().init(),
    }
    Logging {
        writer: guard,
        dropped,
    }
}

/// Reports dropped log lines within a second of logging catching up, for the life of the
/// process, from a thread of its own (a timer in the reactor would cost every wait of the
/// reactor system calls).
pub fn report_dropped_lines(mut dropped: DroppedLines) -> io::Result<()> {
    std::thread::Builder::new()
        .name("chatecho-log-report".into())
        .spawn(move || {
            loop {
                std::thread::sleep(DROPPED_LINES_REPORT);
                dropped.report();
            }
        })
        .map(drop)
}

/// The count of log lines dropped, and how much of it has been reported.
pub struct DroppedLines {
    counter: ErrorCounter,
    /// Drops already told in the log.
    reported: usize,
}

impl DroppedLines {
    /// Logs how many lines were dropped since the last report, if any were. The report is
    /// itself a log line and may be dropped too while the queue is still full: then the
    /// count goes on growing and the next call reports it all, so the first report that gets
    /// through has the whole count.
    pub fn report(&mut self) {
        let dropped = self.counter.dropped_lines();
        if dropped == self.reported {
            return;
        }
        tracing::warn!(
            dropped_lines = dropped - self.reported,
            "log lines dropped: stderr was not taking them"
        );
        // Unchanged if the report got through (a line dropped by another thread meanwhile
        // is then counted again next time, which errs on the side of telling).
        if self.counter.dropped_lines() == dropped {
            self.reported = dropped;
        }
    }
}
