//! chatecho-server: the chat-echo protocol of chatecho-core served over TCP.
//!
//! This binary is an adapter: it owns sockets, threads, time, signals and the command line,
//! and hands every byte to the core's async driver, which makes every protocol decision.
//!
//! - [`cli`]: flags and their translation into a core `Config`;
//! - [`listen`]: binding every address of the host, with the socket options a server needs;
//! - [`server`]: accept loops, the connection limit, graceful shutdown;
//! - [`connection`]: one connection's life around the core's session;
//! - [`buffers`]: session storage, held only by connections that are using it.
#![forbid(unsafe_code)]

mod buffers;
mod cli;
mod connection;
mod listen;
mod server;

use async_signal::{Signal, Signals};
use chatecho_core::Session;
use clap::{CommandFactory as _, Parser as _};
use smol::Executor;
use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let args = match cli::Args::try_parse() {
        Ok(args) => args,
        Err(error) => bad_flags(error),
    };
    let config = match args.config() {
        Ok(config) => config,
        Err(error) => usage_error(&error.to_string()),
    };
    // Every connection makes its session this way; a configuration it refuses is refused
    // here, once, as a usage error.
    let sizes = buffers::Sizes::for_config(&config);
    if let Err(error) = Session::new(&config, buffers::ConnectionBuffers::take(sizes)) {
        usage_error(&error.to_string());
    }

    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

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

    let (stop, stopped) = async_channel::bounded(1);
    let shared = Arc::new(server::Shared::new(
        config,
        args.idle_timeout(),
        args.max_connections.get(),
        stopped,
    ));
    let executor = Arc::new(Executor::new());
    // The main thread runs the executor too, so it makes one of the threads asked for.
    for index in 1..args.threads().get() {
        let executor = executor.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("chatecho-worker-{index}"))
            .spawn(move || smol::block_on(executor.run(smol::future::pending::<()>())));
        if let Err(error) = spawned {
            return fatal(&format!("cannot start worker thread: {error}"));
        }
    }
    let listeners = listeners
        .into_iter()
        .map(|(listener, _)| listener)
        .collect();
    let grace = Duration::from_secs(args.shutdown_grace);
    let run = server::run(executor.clone(), listeners, shared, stop, signals, grace);
    match smol::block_on(executor.run(run)) {
        server::Ending::Graceful => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        server::Ending::Forced(signal) => {
            tracing::warn!(?signal, "second signal: exiting at once");
            // The shell's convention for "ended by a signal".
            ExitCode::from(128 + signal as u8)
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
fn announce<'a>(addrs: impl Iterator<Item = &'a std::net::SocketAddr>) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    for addr in addrs {
        writeln!(stdout, "listening on {addr}")?;
    }
    stdout.flush()
}

/// Reports a value that parsed but does not make a valid configuration the way a bad flag
/// is reported: one line on stderr, exit status 2.
fn usage_error(message: &str) -> ! {
    bad_flags(cli::Args::command().error(clap::error::ErrorKind::ValueValidation, message))
}

/// `--help` and `--version` print as usual; a bad flag is one line on stderr (clap's own
/// message, without its "For more information" hint) and exit status 2.
fn bad_flags(error: clap::Error) -> ! {
    if !error.use_stderr() {
        error.exit();
    }
    let rendered = error.render().to_string();
    eprintln!("{}", rendered.lines().next().unwrap_or("error: bad flags"));
    std::process::exit(2)
}

/// Reports a runtime failure on one line; exit status 1.
fn fatal(message: &str) -> ExitCode {
    eprintln!("chatecho-server: error: {message}");
    ExitCode::FAILURE
}
