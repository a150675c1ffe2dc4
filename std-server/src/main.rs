//! chatecho-server: the chat-echo protocol of chatecho-core served over TCP. The protocol is
//! specified in the repository's `docs/protocol.md`.
//!
//! This binary is an adapter: it owns sockets, threads, time, signals and the command line,
//! and hands every byte to the core's session, which makes every protocol decision.
//!
//! - [`cli`]: flags and their translation into the server's settings;
//! - [`settings`]: what the flags decided, read by every task (a leaf);
//! - [`logging`]: the log on stderr, through a writer that never makes serving wait;
//! - [`listen`]: binding every address of the host, with the socket options a server needs;
//! - [`server`]: accept loops, refusals over the limits, graceful shutdown;
//! - [`admission`]: the connection limits, in all and per address;
//! - [`shutdown`]: the shutdown signal as tasks see it;
//! - [`connection`]: one connection's life around the core's session;
//! - [`buffers`]: session storage, held only by connections that are using it;
//! - [`counters`] and [`summary`]: what the server did, and the periodic line that says it;
//! - [`clock`] and [`idle`]: a once-a-second tick, and the idle timeout's sweep on it.
#![forbid(unsafe_code)]

mod admission;
mod buffers;
mod cli;
mod clock;
mod connection;
mod counters;
mod idle;
mod listen;
mod logging;
mod server;
mod settings;
mod shutdown;
mod summary;

use async_signal::{Signal, Signals};
use clap::{CommandFactory as _, Parser as _};
use smol::Executor;
use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

fn main() -> ExitCode {
    // Bad flags: clap's own report (with its suggestions and its pointer to --help) and exit
    // status 2; --help and --version print and exit 0.
    let args = cli::Args::parse();
    let config = match args.config() {
        Ok(config) => config,
        Err(error) => usage_error(&error.to_string()),
    };
    let settings = args.settings(config);

    let logging = logging::init(args.log_format);
    raise_open_files_limit();

    // Registered before binding, so that a signal that arrives once we are reachable is
    // always handled gracefully rather than by the default action.
    let signals = match Signals::new([Signal::Int, Signal::Term]) {
        Ok(signals) => signals,
        Err(error) => return fatal(&format!("cannot listen for signals: {error}")),
    };
    let listeners = match listen::bind_all(&args.host, args.port, args.reuse_port) {
        Ok(listeners) => listeners,
        Err(error) => return fatal(&error.to_string()),
    };
    if let Err(error) = announce(listeners.iter().map(|(_, addr)| addr)) {
        return fatal(&format!("cannot write to stdout: {error}"));
    }

    let executor = Arc::new(Executor::new());
    let threads = args.threads();
    // The main thread runs the executor too, so it makes one of the threads asked for.
    for index in 1..threads.get() {
        let executor = executor.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("chatecho-worker-{index}"))
            .spawn(move || smol::block_on(executor.run(smol::future::pending::<()>())));
        if let Err(error) = spawned {
            return fatal(&format!("cannot start worker thread: {error}"));
        }
    }
    let addrs: Vec<String> = listeners.iter().map(|(_, a)| a.to_string()).collect();
    let limits = settings.limits;
    tracing::info!(
        listening = addrs.join(" "),
        threads,
        max_connections = limits.max_connections,
        max_connections_per_ip = limits.max_per_address.map_or(0, |n| n.get()),
        idle_timeout_secs = args.idle_timeout,
        "started"
    );
    let run = server::Run {
        executor: executor.clone(),
        settings: Arc::new(settings),
        signals,
        grace: Duration::from_secs(args.shutdown_grace),
        summary_interval: args.summary_interval(),
        dropped_lines: logging.dropped,
    };
    let listeners = listeners.into_iter().map(|(l, _)| l).collect();
    let ending = smol::block_on(executor.run(server::run(listeners, run)));
    let status = match ending {
        server::Ending::Graceful { open } => {
            // The whole run's counts; connections still open when the grace period ran out
            // count as open.
            summary::log("stopped", open, counters::totals());
            ExitCode::SUCCESS
        }
        server::Ending::Forced(signal) => {
            tracing::warn!(?signal, "second signal: exiting at once");
            // The shell's convention for "ended by a signal".
            ExitCode::from(128 + signal as u8)
        }
    };
    // The log's writer thread writes what is queued (for a moment at most) as it ends.
    drop(logging.writer);
    status
}

/// Raises the open-files soft limit to the hard limit: every connection is a descriptor, the
/// default `--max-connections` is 10000, and the usual soft limit is 1024. Failure is not
/// fatal (the server then serves as many connections as it has descriptors); the result is
/// logged at debug level.
fn raise_open_files_limit() {
    let before = rlimit::getrlimit(rlimit::Resource::NOFILE).map(|(soft, _hard)| soft);
    match (before, rlimit::increase_nofile_limit(u64::MAX)) {
        (Ok(from), Ok(to)) => tracing::debug!(from, to, "open-files limit"),
        (_, Err(error)) | (Err(error), _) => {
            tracing::debug!(%error, "cannot raise the open-files limit")
        }
    }
}

/// Prints the one line per address that tells callers (and tests) where we listen.
fn announce<'a>(addrs: impl Iterator<Item = &'a std::net::SocketAddr>) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    for addr in addrs {
        writeln!(stdout, "listening on {addr}")?;
    }
    stdout.flush()
}

/// Reports a value that parsed but does not make a valid configuration the way clap reports
/// a bad flag, exit status 2.
fn usage_error(message: &str) -> ! {
    cli::Args::command()
        .error(clap::error::ErrorKind::ValueValidation, message)
        .exit()
}

/// Reports a runtime failure in clap's style (`error: …` on stderr); exit status 1.
fn fatal(message: &str) -> ExitCode {
    let _ = clap::Error::raw(clap::error::ErrorKind::Io, format!("{message}\n")).print();
    ExitCode::FAILURE
}
