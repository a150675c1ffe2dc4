//! chatecho-bench: a load generator for any line-echo server.
//!
//! It opens `--connections` connections (a bounded number of connects at a time, all held
//! open together), then drives them in one of three modes:
//! - `pipeline`: many lines in flight per connection, written in batches, read in big chunks;
//! - `lockstep`: one line at a time per connection, each round trip timed;
//! - `hold`: one unterminated line per connection, then the connections stay open (for
//!   measuring a server's memory per connection) until stdin closes or `--duration` passes;
//! - `idle`: one line per connection, answered, then the connections stay open and quiet
//!   until stdin closes or `--duration` passes, when each sends one more line and waits for
//!   its answer (the time to answer them all is the run's time);
//! - `churn`: each connection, in turn, has one line answered, sends the quit line, waits for
//!   the server to close, and connects again: `--lines` connections per `--connections` slot,
//!   each timed from its connect to its answer (what a connection costs to set up).
//!
//! With `--proxy-header v1|v2`, every connection begins with a PROXY protocol header naming
//! its own addresses, as a load balancer in front of the server would send
//! (`chatecho-server --proxy-protocol`).
//!
//! Every reply is checked against the line that caused it (see [`payload`]); a mismatch, a
//! lost reply or an early close stops the run with a message and exit status 1.
//! A progress bar goes to stderr when it is a terminal; one summary line (or `--json`) goes
//! to stdout.

mod load;
mod payload;

use anyhow::{Context as _, Result, bail};
use chatecho_bench::latency::{self, Point};
use clap::Parser;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use load::Shared;
use payload::Expect;
use std::io::{IsTerminal as _, Write as _};
use std::net::{SocketAddr, ToSocketAddrs as _};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt as _;
use tokio::task::JoinSet;

/// How each connection talks to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Many lines in flight per connection, batched writes, big reads.
    Pipeline,
    /// One line at a time per connection; round trips are timed.
    Lockstep,
    /// One unterminated line per connection, then hold the connections open.
    Hold,
    /// One line per connection, answered; hold the connections open and quiet; then one more
    /// line each, and the time until all are answered.
    Idle,
    /// A new connection for each line: connect, one line answered, the quit line, the
    /// server's close; each connect-to-answer timed.
    Churn,
}

/// The PROXY protocol header each connection begins with, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProxyHeader {
    /// None: the connection begins with its lines.
    None,
    /// Version 1, text.
    V1,
    /// Version 2, binary.
    V2,
}

/// Load generator for line-echo servers: every reply is checked against its line.
#[derive(Debug, Clone, Parser)]
#[command(name = "chatecho-bench", version)]
pub struct Options {
    /// Server address, HOST:PORT.
    #[arg(long, value_parser = parse_addr)]
    pub addr: SocketAddr,

    /// Concurrent connections, all open at once.
    #[arg(long, default_value_t = 1)]
    pub connections: usize,

    /// Lines per connection [default: 10000, or unlimited with --duration].
    #[arg(long)]
    pub lines: Option<u64>,

    /// Bytes per line, delimiter not counted (16 to 4096).
    #[arg(long, default_value_t = 32)]
    pub size: usize,

    #[arg(long, value_enum, default_value_t = Mode::Pipeline)]
    pub mode: Mode,

    /// What the server answers: `echo` = `You sent: <line>\r\n`, `raw` = `<line>\r\n`.
    #[arg(long, value_enum, default_value_t = Expect::Echo)]
    pub expect: Expect,

    /// Stop sending new lines after SECS seconds (then collect the replies owed). In hold
    /// mode: how long to hold the connections [default there: until stdin closes].
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,

    /// Print the summary as one JSON object.
    #[arg(long)]
    pub json: bool,

    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,

    /// Threads of the generator's runtime [default: number of CPUs].
    #[arg(long)]
    pub threads: Option<usize>,

    /// Pipeline mode: most bytes of lines outstanding (sent, not yet answered) per connection.
    #[arg(long, default_value_t = 256 * 1024)]
    pub window_bytes: usize,

    /// Local address to connect from, e.g. 127.0.0.2: each loopback address has its own
    /// ephemeral ports, so several generators can open more connections than one address has
    /// ports.
    #[arg(long, value_name = "IP")]
    pub bind: Option<std::net::IpAddr>,

    /// Begin every connection with a PROXY protocol header (v1 or v2) naming the
    /// connection's own addresses, as a load balancer would (for `chatecho-server
    /// --proxy-protocol`).
    #[arg(long, value_enum, default_value_t = ProxyHeader::None)]
    pub proxy_header: ProxyHeader,
}

fn parse_addr(text: &str) -> Result<SocketAddr, String> {
    text.to_socket_addrs()
        .map_err(|e| format!("cannot resolve `{text}`: {e}"))?
        .next()
        .ok_or_else(|| format!("`{text}` resolves to no address"))
}

/// The summary of a run, as printed with `--json`.
#[derive(Debug, serde::Serialize)]
struct Summary {
    addr: String,
    mode: Mode,
    expect: Expect,
    connections: usize,
    size: usize,
    /// Lines answered and checked, all connections together.
    lines: u64,
    seconds: f64,
    lines_per_sec: f64,
    /// Line payload bytes (delimiter not counted) answered per second, in 10^6 bytes.
    mb_per_sec: f64,
    /// Round-trip latencies in microseconds (lockstep only).
    p50_us: Option<f64>,
    p99_us: Option<f64>,
    max_us: Option<f64>,
    /// The round trips' distribution (lockstep only): latency at percentiles evenly spaced in
    /// nines, from 0 % to the last one the count resolves (see `chatecho_bench::latency`).
    latency_percentiles: Option<Vec<Point>>,
}

fn main() -> ExitCode {
    let options = Options::parse();
    match run(options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("chatecho-bench: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Raises the open-files soft limit to the hard limit: thousands of connections need
/// thousands of descriptors, and the usual soft default is 1024. Returns the new soft limit.
fn raise_nofile_limit() -> Result<u64> {
    rlimit::increase_nofile_limit(u64::MAX).context("raising the open-files limit (RLIMIT_NOFILE)")
}

fn run(mut options: Options) -> Result<()> {
    if options.connections == 0 {
        bail!("--connections must be at least 1");
    }
    if let Some(d) = options.duration
        && !(d.is_finite() && d > 0.0)
    {
        bail!("--duration must be a positive number of seconds");
    }
    let holds = matches!(options.mode, Mode::Hold | Mode::Idle);
    if options.lines.is_none() && (options.duration.is_none() || holds) {
        options.lines = Some(10_000);
    }
    // Fail before connecting if the sizes are wrong.
    payload::Lines::new(0, options.size, options.expect)?;
    if options.mode == Mode::Churn && options.expect == Expect::Raw {
        bail!("--mode churn ends each connection with the quit line, which raw echo lacks");
    }
    let nofile = raise_nofile_limit()?;
    // Each connection needs a descriptor; leave a few for the runtime and stdio.
    if options.connections as u64 + 16 > nofile {
        bail!(
            "{} connections need more open files than this process may have ({nofile}); \
             raise the hard limit (ulimit -Hn)",
            options.connections
        );
    }
    let threads = options.threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    let summary = runtime.block_on(drive(options.clone()))?;
    // Connections still lingering in the runtime are not waited for.
    runtime.shutdown_background();
    let mut stdout = std::io::stdout().lock();
    if options.json {
        writeln!(stdout, "{}", serde_json::to_string(&summary)?)?;
    } else {
        writeln!(stdout, "{}", describe(&summary))?;
    }
    Ok(())
}

/// The one-line human summary.
fn describe(s: &Summary) -> String {
    let mode = format!("{:?} {:?}", s.mode, s.expect).to_lowercase();
    if s.mode == Mode::Hold {
        return format!(
            "{mode}: held {} connections with a {}-byte partial line for {:.1} s",
            s.connections, s.size, s.seconds
        );
    }
    if s.mode == Mode::Churn {
        return format!(
            "{mode}: {} slots, {} connections each answered once in {:.3} s: {:.0} \
             connections/s, connect to answer p50 {:.1} µs, p99 {:.1} µs",
            s.connections,
            s.lines,
            s.seconds,
            s.lines_per_sec,
            s.p50_us.unwrap_or(0.0),
            s.p99_us.unwrap_or(0.0)
        );
    }
    if s.mode == Mode::Idle {
        return format!(
            "{mode}: {} idle connections each answered once more in {:.3} s",
            s.connections, s.seconds
        );
    }
    let mut line = format!(
        "{mode}: {} conns, {} lines of {} B in {:.3} s: {:.0} lines/s, {:.1} MB/s",
        s.connections, s.lines, s.size, s.seconds, s.lines_per_sec, s.mb_per_sec
    );
    if let (Some(p50), Some(p99), Some(max)) = (s.p50_us, s.p99_us, s.max_us) {
        line += &format!(", round trip p50 {p50:.1} µs, p99 {p99:.1} µs, max {max:.1} µs");
    }
    line
}

fn progress_bar(options: &Options) -> ProgressBar {
    let total = match (options.mode, options.lines) {
        (Mode::Hold, _) => Some(options.connections as u64),
        (Mode::Idle, _) => Some(2 * options.connections as u64),
        (_, Some(n)) if options.duration.is_none() => Some(n * options.connections as u64),
        _ => None,
    };
    let bar = match total {
        Some(total) => ProgressBar::new(total).with_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} lines {per_sec} {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        ),
        None => ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{spinner} {pos} lines {per_sec} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        ),
    };
    if options.quiet || !std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar
}

async fn drive(options: Options) -> Result<Summary> {
    let n = options.connections;
    let shared = Arc::new(Shared {
        options: options.clone(),
        done: Default::default(),
        latency: std::sync::Mutex::new(
            hdrhistogram::Histogram::new(3).context("latency histogram")?,
        ),
        time_up: Default::default(),
        started: Default::default(),
        ended: Default::default(),
    });
    let connecting = Arc::new(tokio::sync::Semaphore::new(load::CONNECT_CONCURRENCY));
    let all_open = Arc::new(tokio::sync::Barrier::new(n + 1));
    let (release, released) = tokio::sync::watch::channel(false);
    let mut tasks = JoinSet::new();
    for id in 0..n {
        tasks.spawn(load::run_connection(
            shared.clone(),
            id,
            connecting.clone(),
            all_open.clone(),
            released.clone(),
        ));
    }
    drop(released);
    all_open.wait().await;
    // The connection tasks may run before this task is polled again; they record when they
    // started and ended, and the first start and last end make the measured span.
    let started = *shared.started.get_or_init(Instant::now);
    let bar = progress_bar(&options);

    let holds = matches!(options.mode, Mode::Hold | Mode::Idle);
    if !holds && let Some(secs) = options.duration {
        let shared = shared.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs_f64(secs)).await;
            shared.time_up.store(true, Ordering::Relaxed);
        });
    }

    let mut ticker = tokio::time::interval(Duration::from_millis(100));
    let mut announced = false;
    let mut hold_deadline: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = None;
    let mut stdin_closed = Box::pin(async {
        let mut stdin = tokio::io::stdin();
        let mut scrap = [0u8; 256];
        while let Ok(1..) = stdin.read(&mut scrap).await {}
    });
    let mut finished_at = None;
    let mut released_at = None;
    let mut stdin_done = false;
    loop {
        tokio::select! {
            joined = tasks.join_next() => match joined {
                None => break,
                Some(Ok(Ok(()))) => {}
                Some(Ok(Err(error))) => {
                    bar.abandon();
                    tasks.abort_all();
                    return Err(error);
                }
                Some(Err(error)) => {
                    bar.abandon();
                    tasks.abort_all();
                    bail!("a connection task failed: {error}");
                }
            },
            _ = ticker.tick() => {
                let done = shared.done.load(Ordering::Relaxed);
                bar.set_position(done);
                if holds && !announced && done == n as u64 {
                    announced = true;
                    finished_at = Some(Instant::now());
                    println!("holding {n} connections");
                    std::io::stdout().flush()?;
                    if let Some(secs) = options.duration {
                        hold_deadline = Some(Box::pin(tokio::time::sleep(Duration::from_secs_f64(secs))));
                    }
                }
            },
            _ = async { hold_deadline.as_mut().expect("guarded").await }, if hold_deadline.is_some() => {
                hold_deadline = None;
                released_at = Some(Instant::now());
                let _ = release.send(true);
            },
            _ = &mut stdin_closed, if announced && !stdin_done && options.duration.is_none() => {
                stdin_done = true;
                released_at = Some(Instant::now());
                let _ = release.send(true);
            },
        }
    }
    bar.finish_and_clear();
    let last_end = || {
        shared
            .ended
            .lock()
            .ok()
            .and_then(|e| *e)
            .unwrap_or_else(Instant::now)
    };
    let seconds = match (options.mode, finished_at, released_at) {
        // From the release to the last answer of the second round.
        (Mode::Idle, _, Some(at)) => last_end().duration_since(at).as_secs_f64(),
        (_, Some(at), _) => Instant::now().duration_since(at).as_secs_f64(),
        _ => {
            let started = *shared.started.get().unwrap_or(&started);
            last_end().duration_since(started).as_secs_f64()
        }
    };
    let lines = shared.done.load(Ordering::Relaxed);
    let latency = shared
        .latency
        .lock()
        .map_err(|_| anyhow::anyhow!("a connection panicked while adding its latencies"))?;
    // Nanoseconds to microseconds; nothing when no round trip was timed.
    let timed = matches!(options.mode, Mode::Lockstep | Mode::Churn) && !latency.is_empty();
    let us = |nanos: u64| timed.then(|| nanos as f64 / 1e3);
    Ok(Summary {
        addr: options.addr.to_string(),
        mode: options.mode,
        expect: options.expect,
        connections: n,
        size: options.size,
        lines,
        seconds,
        lines_per_sec: lines as f64 / seconds,
        mb_per_sec: lines as f64 * options.size as f64 / seconds / 1e6,
        p50_us: us(latency.value_at_quantile(0.5)),
        p99_us: us(latency.value_at_quantile(0.99)),
        max_us: us(latency.max()),
        latency_percentiles: timed.then(|| latency::distribution(&latency)),
    })
}
