//! chatecho-server: the chat-echo protocol of chatecho-core served over TCP. The protocol is
//! specified in the repository's `docs/protocol.md`.
//!
//! The binary is `main` over the chatecho-server library: it parses the command line, installs
//! the log and the signal handlers, starts the executor's threads, runs the library's
//! [`Server`] until a signal, and maps how it ended to an exit status.
//!
//! - [`cli`]: flags, and their translation into the library's settings;
//! - [`logging`]: the log on stderr, through a writer that never makes serving wait;
//! - [`systemd`]: the listeners systemd passes, and the notifications it asks for.
#![forbid(unsafe_code)]

mod cli;
mod logging;
mod systemd;

use async_signal::{Signal, Signals};
use chatecho_server::{Error, Server};
use clap::parser::ValueSource;
use clap::{CommandFactory as _, FromArgMatches as _};
use futures_lite::{FutureExt as _, StreamExt as _};
use smol::Executor;
use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;

fn main() -> ExitCode {
    // Bad flags: clap's own report (with its suggestions and its pointer to --help) and exit
    // status 2; --help and --version print and exit 0.
    let matches = cli::Args::command().get_matches();
    let args = cli::Args::from_arg_matches(&matches).unwrap_or_else(|error| error.exit());
    let config = match args.config() {
        Ok(config) => config,
        Err(error) => usage_error(&error.to_string()),
    };
    // Before any thread starts, as it changes the environment.
    let passed = match systemd::passed_listeners() {
        Ok(passed) => passed,
        Err(error) => return fatal(&error),
    };
    let notifier = systemd::Notifier::from_env();

    let logging = logging::init(args.log_format);
    raise_open_files_limit();

    // Registered before binding, so that a signal that arrives once we are reachable is
    // always handled gracefully rather than by the default action.
    let mut signals = match Signals::new([Signal::Int, Signal::Term]) {
        Ok(signals) => signals,
        Err(error) => return fatal(&format!("cannot listen for signals: {error}")),
    };
    let activated = passed.is_some();
    let built = match passed {
        Some(listeners) => args.server(config).listen_on(listeners),
        None => args.server(config).bind((args.host.as_str(), args.port)),
    };
    let server = match built {
        Ok(server) => server,
        Err(error) => return fatal(&describe(&error, &args.host)),
    };
    if let Err(error) = announce(server.local_addrs()) {
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
    if let Err(error) = logging::report_dropped_lines(logging.dropped) {
        tracing::warn!(%error, "cannot start the thread that reports dropped log lines");
    }
    if activated {
        log_activation(&matches, server.local_addrs().len());
    }
    log_start(&args, &server, threads.get());

    let handle = server.handle();
    notifier.ready(handle.counters());
    let status_interval = args.summary_interval().unwrap_or(STATUS_INTERVAL);
    if let Err(error) = notifier.report_status(handle.clone(), status_interval) {
        tracing::warn!(%error, "cannot start the thread that reports the status to systemd");
    }
    // The first signal begins the graceful shutdown; a second ends the process at once.
    let signalled = async {
        let signal = next_signal(&mut signals).await;
        tracing::info!(?signal, "signal received");
        notifier.stopping(handle.counters());
        handle.shutdown();
        Err(next_signal(&mut signals).await)
    };
    let serving = async { Ok(server.run(&*executor, smol::future::pending()).await) };
    let status = match smol::block_on(executor.run(serving.or(signalled))) {
        // The library has logged the whole run's counts.
        Ok(ending) => {
            notifier.stopped(ending.counters);
            ExitCode::SUCCESS
        }
        Err(signal) => {
            tracing::warn!(?signal, "second signal: exiting at once");
            // The shell's convention for "ended by a signal".
            ExitCode::from(128 + signal as u8)
        }
    };
    // The log's writer thread writes what is queued (for a moment at most) as it ends.
    drop(logging.writer);
    status
}

/// How often systemd is sent the status when summaries are off.
const STATUS_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);

/// Logs the server's start at `info`, with the settings an operator looks for.
fn log_start(args: &cli::Args, server: &Server, threads: usize) {
    let addrs: Vec<String> = server.local_addrs().iter().map(|a| a.to_string()).collect();
    let proxy_from: Vec<String> = args.proxy_from.iter().map(|r| r.to_string()).collect();
    tracing::info!(
        listening = addrs.join(" "),
        threads,
        max_connections = args.max_connections.get(),
        max_connections_per_ip = args.max_connections_per_ip,
        idle_timeout_secs = args.idle_timeout,
        proxy_protocol = args.proxy_protocol,
        proxy_from = proxy_from.join(" "),
        "started"
    );
}

/// Says that the listeners are systemd's, and that the flags that would have made them have
/// no effect: at `warn` when some were given, else at `info`.
fn log_activation(matches: &clap::ArgMatches, listeners: usize) {
    let given: Vec<String> = ["host", "port", "reuse_port"]
        .into_iter()
        .filter(|id| matches.value_source(id) == Some(ValueSource::CommandLine))
        .map(|id| format!("--{}", id.replace('_', "-")))
        .collect();
    if given.is_empty() {
        tracing::info!(
            listeners,
            "socket activation: serving the listeners systemd passed; --host, --port and \
             --reuse-port have no effect"
        );
    } else {
        tracing::warn!(
            listeners,
            ignored = given.join(" "),
            "socket activation: serving the listeners systemd passed; --host, --port and \
             --reuse-port have no effect"
        );
    }
}

/// The one line that says why the server cannot listen, naming the host as typed.
fn describe(error: &Error, host: &str) -> String {
    match error {
        Error::Resolve(error) => format!("cannot resolve host `{host}`: {error}"),
        Error::NoAddress => format!("host `{host}` resolves to no address"),
        error => error.to_string(),
    }
}

/// Waits for SIGINT or SIGTERM.
async fn next_signal(signals: &mut Signals) -> Signal {
    loop {
        match signals.next().await {
            Some(Ok(signal)) => return signal,
            Some(Err(error)) => tracing::warn!(%error, "reading signals failed"),
            // The stream never ends; if it did, no signal could ever stop us.
            None => return futures_lite::future::pending().await,
        }
    }
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
fn announce(addrs: &[std::net::SocketAddr]) -> std::io::Result<()> {
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
