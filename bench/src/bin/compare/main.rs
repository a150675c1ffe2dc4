//! chatecho-compare: the side-by-side benchmark. Starts chatecho-server, the peers
//! (peer-tokio-lines on tokio's multi-threaded runtime as `tokio-lines` and on its
//! current-thread runtime as `tokio-lines-ct`, and peer-raw-echo) and, when present, the
//! seed's Python server, each on a free loopback port; runs the same loads against each with
//! chatecho-bench, interleaved in rounds (every server once per load per round, so that slow
//! drifts of a shared machine hit all of them alike); prints a markdown table of medians with
//! ratios against chatecho. With `--plot DIR` it also draws the results as SVG charts in DIR
//! (see `charts`), with the table beside them as `DIR/summary.md`.
//!
//! Loads: pipelined 4 connections × 32-byte lines; pipelined 4 connections × 4 KiB lines;
//! lockstep 16 connections; churn, 16 at a time, a new connection for each line (what setting
//! a connection up costs); N idle connections each holding an unterminated line; and N
//! connections that each had one line answered and went quiet. For the last two, each
//! server's resident memory per connection is read from /proc/<pid>/status.
//! `bench/compare.sh` builds everything in release mode and runs this.
//!
//! With `--quick`, every load is a few dozen lines: a correctness smoke that checks every
//! server answers every load right, whose timings would be noise. It prints which runs
//! passed, and no timings or ratios.

mod charts;

use anyhow::{Context as _, Result, anyhow, bail};
use chatecho_bench::latency::Point;
use chatecho_bench::rounds::{self, Spread, median};
use clap::Parser;
use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server gets to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, Parser)]
#[command(
    name = "chatecho-compare",
    about = "chatecho side by side with its peers"
)]
struct Args {
    /// Seconds-long correctness smoke: few lines, small connection counts, one round; prints
    /// which runs passed (every reply checked), without timings or ratios.
    #[arg(long)]
    quick: bool,
    /// Rounds; the table shows medians.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Directory of the release binaries [default: this program's directory].
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// The seed's server; skipped when the file does not exist.
    #[arg(long, default_value = "../shared/reference/seed_server.py")]
    seed: PathBuf,
    /// Connections held open for the memory measurement.
    #[arg(long, default_value_t = 5000)]
    hold_connections: usize,
    /// Bytes of the unterminated line each held connection sends.
    #[arg(long, default_value_t = 4096)]
    hold_size: usize,
    /// Also draw the results as SVG charts in DIR (created if missing; files of the same
    /// names are replaced): throughput-<load>.svg per load, latency-lock16.svg (the lockstep
    /// latency distribution), memory.svg (per connection), and summary.md with the table.
    /// Refused with --quick, whose timings mean nothing.
    #[arg(long, value_name = "DIR", conflicts_with = "quick")]
    plot: Option<PathBuf>,
    /// The commit measured, named in every chart (bench/compare.sh passes
    /// `git rev-parse --short HEAD`, with `+uncommitted` when the code differs from it).
    #[arg(long, default_value = "unknown")]
    commit: String,
    /// The command named in every chart as the one that produced it [default: this
    /// program's command line] (bench/compare.sh passes its own).
    #[arg(long)]
    command: Option<String>,
    /// Also run this chatecho-server binary (a build of another commit, say), as
    /// `chatecho-baseline`, with the same flags and in the same rounds as `chatecho`: an A/B
    /// whose runs alternate, so that whatever else the machine does weighs on both alike.
    #[arg(long, value_name = "BINARY")]
    baseline: Option<PathBuf>,
    /// Only these servers (comma-separated), from chatecho, chatecho-baseline,
    /// chatecho-proxy, tokio-lines, tokio-lines-ct, raw-echo and seed [default: all there
    /// are, but chatecho-proxy]. chatecho-proxy is chatecho taking the PROXY protocol
    /// (`--proxy-protocol --proxy-from 127.0.0.0/8`), sent a v2 header at the start of every
    /// connection: beside chatecho, what the protocol costs.
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    servers: Option<Vec<String>>,
}

/// A server under test.
struct Server {
    name: &'static str,
    /// Line protocol (`echo`) or byte echo (`raw`).
    raw: bool,
    /// The PROXY header chatecho-bench begins each connection with (`--proxy-header`).
    proxy_header: &'static str,
    addr: SocketAddr,
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One load: the chatecho-bench flags, and how many lines the slow seed gets instead.
struct Load {
    key: &'static str,
    title: &'static str,
    connections: usize,
    size: usize,
    mode: &'static str,
    lines: u64,
    seed_lines: u64,
    /// Raw echo is only a meaningful peer for pipelined throughput (its ceiling).
    with_raw: bool,
}

impl Load {
    /// The load's headline figure: the summary's metric and how the table and charts name
    /// its unit.
    fn headline(&self) -> (&'static str, &'static str) {
        if self.mode == "lockstep" {
            ("lines_per_sec", "round trips/s")
        } else if self.mode == "churn" {
            ("lines_per_sec", "connections/s")
        } else if self.size >= 1024 {
            ("mb_per_sec", "MB/s")
        } else {
            ("lines_per_sec", "lines/s")
        }
    }
}

/// Measurements over rounds, by (load, metric, server).
type Samples = BTreeMap<(&'static str, &'static str, &'static str), Vec<f64>>;

/// Lockstep latency distributions over rounds, by (load, server): one per round.
type Distributions = BTreeMap<(&'static str, &'static str), Vec<Vec<Point>>>;

fn main() {
    if let Err(error) = run(Args::parse()) {
        eprintln!("chatecho-compare: error: {error:#}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<()> {
    let bin_dir = match &args.bin_dir {
        Some(dir) => dir.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("this program has no directory")?
            .to_path_buf(),
    };
    let bench = bin_dir.join("chatecho-bench");
    let (rounds, scale, hold_connections) = if args.quick {
        (1, 0.002, args.hold_connections.min(200))
    } else {
        (args.rounds.max(1), 1.0, args.hold_connections)
    };
    let scaled = |n: u64| ((n as f64 * scale) as u64).max(20);
    let loads = [
        Load {
            key: "pipe32",
            title: "pipelined, 4 conns × 32 B lines",
            connections: 4,
            size: 32,
            mode: "pipeline",
            lines: scaled(1_000_000),
            seed_lines: scaled(25_000),
            with_raw: true,
        },
        Load {
            key: "pipe4k",
            title: "pipelined, 4 conns × 4 KiB lines",
            connections: 4,
            size: 4096,
            mode: "pipeline",
            lines: scaled(25_000),
            seed_lines: scaled(2_500),
            with_raw: true,
        },
        Load {
            key: "lock16",
            title: "lockstep, 16 conns × 32 B lines",
            connections: 16,
            size: 32,
            mode: "lockstep",
            lines: scaled(5_000),
            seed_lines: scaled(1_000),
            with_raw: false,
        },
        Load {
            key: "churn16",
            title: "churn, 16 at a time, 1 line per conn",
            connections: 16,
            size: 32,
            mode: "churn",
            // Per slot: 16 000 connections in all.
            lines: scaled(1_000),
            seed_lines: scaled(200),
            with_raw: false,
        },
    ];

    let seed = args.seed.is_file().then_some(args.seed.as_path());
    if seed.is_none() {
        eprintln!(
            "chatecho-compare: {} not found; the seed is left out",
            args.seed.display()
        );
    }
    if let Some(asked) = &args.servers
        && let Some(unknown) = asked.iter().find(|name| !SERVERS.contains(&name.as_str()))
    {
        bail!("--servers: no server is called `{unknown}`; the servers are {SERVERS:?}");
    }
    let binaries = Binaries {
        dir: bin_dir.clone(),
        baseline: args.baseline.clone(),
        seed: seed.map(Path::to_path_buf),
    };
    let mut servers = Vec::new();
    for name in SERVERS {
        let asked = match &args.servers {
            Some(asked) => asked.iter().any(|a| a == name),
            // Only when asked for: it measures the PROXY protocol, not the others.
            None => name != "chatecho-proxy",
        };
        let there = match name {
            "seed" => seed.is_some(),
            "chatecho-baseline" => args.baseline.is_some(),
            _ => true,
        };
        if asked && there {
            servers.push(start(name, &binaries)?);
        }
    }

    let mut samples: Samples = BTreeMap::new();
    let mut distributions: Distributions = BTreeMap::new();
    for round in 1..=rounds {
        eprintln!("round {round} of {rounds}");
        for load in &loads {
            for server in &servers {
                if server.raw && !load.with_raw {
                    continue;
                }
                let lines = if server.name == "seed" {
                    load.seed_lines
                } else {
                    load.lines
                };
                let summary = bench_run(&bench, server, load, lines)
                    .with_context(|| format!("{} against {}", load.title, server.name))?;
                let f = |k: &str| summary.get(k).and_then(serde_json::Value::as_f64);
                for metric in ["lines_per_sec", "mb_per_sec", "p50_us", "p99_us"] {
                    record(&mut samples, load.key, metric, server.name, f(metric));
                }
                if let Some(points) = summary.get("latency_percentiles")
                    && !points.is_null()
                {
                    let points: Vec<Point> = serde_json::from_value(points.clone())
                        .context("malformed latency_percentiles in the summary")?;
                    distributions
                        .entry((load.key, server.name))
                        .or_default()
                        .push(points);
                }
                if args.quick {
                    eprintln!("  {:<34} {:<14} ok", load.title, server.name);
                    continue;
                }
                eprintln!(
                    "  {:<34} {:<14} {:>12.0} lines/s {:>8.1} MB/s{}",
                    load.title,
                    server.name,
                    f("lines_per_sec").unwrap_or(0.0),
                    f("mb_per_sec").unwrap_or(0.0),
                    f("p99_us").map_or(String::new(), |p| format!("  p99 {p:.0} µs")),
                );
            }
        }
        for server in &servers {
            if server.raw {
                continue;
            }
            for (mode, size, what) in [
                ("hold", args.hold_size, "partial line"),
                ("idle", QUIET_LINE, "quiet after a line"),
            ] {
                // A fresh server for each measurement: memory that a process freed after
                // earlier loads is reused without growing its RSS, which would hide the cost.
                let fresh = start(server.name, &binaries)?;
                let per_conn = rss_per_connection(&bench, &fresh, mode, hold_connections, size)
                    .with_context(|| format!("memory, {what}, on {}", server.name))?;
                record(
                    &mut samples,
                    mode,
                    "rss_per_conn",
                    server.name,
                    Some(per_conn),
                );
                let title = format!("{hold_connections} conns, {what}");
                if args.quick {
                    eprintln!("  {:<34} {:<14} ok", title, server.name);
                    continue;
                }
                eprintln!(
                    "  {:<34} {:<14} {:>10.0} bytes RSS per connection",
                    title, server.name, per_conn
                );
            }
        }
    }

    if args.quick {
        print_smoke(&loads, &servers, &samples, hold_connections);
        return Ok(());
    }
    let table = table(
        &loads,
        &servers,
        &samples,
        rounds,
        hold_connections,
        args.hold_size,
    );
    print!("{table}");
    if let Some(dir) = &args.plot {
        let provenance = charts::Provenance {
            commit: args.commit.clone(),
            command: args
                .command
                .clone()
                .unwrap_or_else(|| std::env::args().collect::<Vec<_>>().join(" ")),
        };
        let names: Vec<&str> = servers.iter().map(|s| s.name).collect();
        let results = Results {
            samples,
            distributions,
            rounds,
        };
        let hold = (hold_connections, args.hold_size);
        plot(dir, &provenance, &loads, &names, &results, hold)?;
        std::fs::write(
            dir.join("summary.md"),
            format!(
                "# chatecho-compare results\n\nCommit {}, `{}`.\n\n{table}",
                provenance.commit, provenance.command
            ),
        )
        .context("writing summary.md")?;
        eprintln!("charts written to {}", dir.display());
    }
    Ok(())
}

/// Everything a full run measured.
struct Results {
    samples: Samples,
    distributions: Distributions,
    rounds: usize,
}

/// Draws the charts into `dir`: `throughput-<load>.svg` for each load, `latency-<load>.svg`
/// for the lockstep load, `memory.svg` for both memory loads (`hold` is the connections and
/// the partial line's bytes of the first).
fn plot(
    dir: &Path,
    provenance: &charts::Provenance,
    loads: &[Load],
    servers: &[&'static str],
    results: &Results,
    (hold_connections, hold_size): (usize, usize),
) -> Result<()> {
    let Results {
        samples,
        distributions,
        rounds,
    } = results;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let write = |name: &str, svg: String| {
        let path = dir.join(name);
        std::fs::write(&path, svg).with_context(|| format!("writing {}", path.display()))
    };
    let spread = |load, metric, server| {
        samples
            .get(&(load, metric, server))
            .and_then(|v| Spread::of(v))
    };
    let note = format!("bars: median of {rounds} round(s); whiskers: lowest to highest round");
    for load in loads {
        let (metric, unit) = load.headline();
        // Only the servers that ran this load (raw echo has no lockstep figures).
        let ran: Vec<&str> = servers
            .iter()
            .copied()
            .filter(|s| spread(load.key, metric, s).is_some())
            .collect();
        let bars = charts::Bars {
            title: format!("{}: {unit} (higher is better)", load.title),
            unit,
            servers: &ran,
            series: vec![(
                unit.to_owned(),
                ran.iter().map(|s| spread(load.key, metric, s)).collect(),
            )],
            format: if metric == "mb_per_sec" {
                |v| format!("{v:.0}")
            } else {
                charts::si
            },
            note: note.clone(),
        };
        write(
            &format!("throughput-{}.svg", load.key),
            charts::bar_chart(&bars, provenance)?,
        )?;

        let curves: Vec<(&str, Vec<Point>)> = servers
            .iter()
            .filter_map(|s| {
                let curve = rounds::median_by_percentile(distributions.get(&(load.key, *s))?);
                (!curve.is_empty()).then_some((*s, curve))
            })
            .collect();
        if !curves.is_empty() {
            let percentiles = charts::Percentiles {
                title: format!(
                    "{}: round-trip latency by percentile, µs (lower is better)",
                    load.title
                ),
                curves,
                note: format!(
                    "each point: median over {rounds} round(s) of the latency at that percentile"
                ),
            };
            write(
                &format!("latency-{}.svg", load.key),
                charts::percentile_chart(&percentiles, provenance)?,
            )?;
        }
    }
    let kib = |load, server| {
        spread(load, "rss_per_conn", server).map(|s| Spread {
            median: s.median / 1024.0,
            min: s.min / 1024.0,
            max: s.max / 1024.0,
        })
    };
    let measured: Vec<&str> = servers
        .iter()
        .copied()
        .filter(|s| kib("hold", s).is_some() || kib("idle", s).is_some())
        .collect();
    let bars = charts::Bars {
        title: format!(
            "memory per connection, {hold_connections} conns: KiB of RSS (lower is better)"
        ),
        unit: "KiB of server RSS per connection",
        servers: &measured,
        series: vec![
            (
                format!("held: a {hold_size} B partial line each"),
                measured.iter().map(|s| kib("hold", s)).collect(),
            ),
            (
                format!("quiet after one {QUIET_LINE} B line answered"),
                measured.iter().map(|s| kib("idle", s)).collect(),
            ),
        ],
        format: |v| format!("{v:.1}"),
        note,
    };
    write("memory.svg", charts::bar_chart(&bars, provenance)?)
}

/// Prints what `--quick` showed: which server passed which load. A load that failed stopped
/// the run with an error before this, so every cell is `ok` or `–` (not run against that
/// server); the timings of such short runs are left out on purpose.
fn print_smoke(loads: &[Load], servers: &[Server], samples: &Samples, hold_connections: usize) {
    let mut out = String::from(
        "Correctness smoke (--quick): every reply of every run checked. These runs are too \
         short for their timings to mean anything, so none are shown; run without --quick to \
         compare speed and memory.\n\n| load |",
    );
    for s in servers {
        out += &format!(" {} |", s.name);
    }
    out += "\n|---|";
    out += &"---|".repeat(servers.len());
    out += "\n";
    let hold = format!("{hold_connections} conns held with a partial line");
    let quiet = format!("{hold_connections} conns quiet after one answer");
    let rows = loads
        .iter()
        .map(|load| (load.title, load.key, "lines_per_sec"))
        .chain([
            (hold.as_str(), "hold", "rss_per_conn"),
            (quiet.as_str(), "idle", "rss_per_conn"),
        ]);
    for (title, key, metric) in rows {
        out += &format!("| {title} |");
        for s in servers {
            let ran = samples.contains_key(&(key, metric, s.name));
            out += if ran { " ok |" } else { " – |" };
        }
        out += "\n";
    }
    print!("{out}");
}

fn record(
    samples: &mut Samples,
    load: &'static str,
    metric: &'static str,
    server: &'static str,
    value: Option<f64>,
) {
    if let Some(value) = value {
        samples
            .entry((load, metric, server))
            .or_default()
            .push(value);
    }
}

fn get(
    samples: &Samples,
    load: &'static str,
    metric: &'static str,
    server: &'static str,
) -> Option<f64> {
    samples
        .get(&(load, metric, server))
        .and_then(|values| median(values))
}

fn human(value: f64) -> String {
    if value >= 10e6 {
        format!("{:.1} M", value / 1e6)
    } else if value >= 10e3 {
        format!("{:.0} k", value / 1e3)
    } else {
        format!("{value:.0}")
    }
}

/// The markdown table: one row per load and metric, one column per server, each peer's cell
/// with the ratio chatecho ÷ peer.
fn table(
    loads: &[Load],
    servers: &[Server],
    samples: &Samples,
    rounds: usize,
    hold_connections: usize,
    hold_size: usize,
) -> String {
    let mut out = String::new();
    out += &format!("Medians of {rounds} round(s); in each peer's cell, (chatecho ÷ peer).\n\n");
    out += "| load | metric |";
    for s in servers {
        out += &format!(" {} |", s.name);
    }
    out += "\n|---|---|";
    for _ in servers {
        out += "---|";
    }
    out += "\n";
    let mut row = |title: &str,
                   label: &str,
                   load: &'static str,
                   metric: &'static str,
                   fmt: &dyn Fn(f64) -> String| {
        let base = get(samples, load, metric, "chatecho");
        let mut line = format!("| {title} | {label} |");
        for s in servers {
            match get(samples, load, metric, s.name) {
                None => line += " – |",
                Some(v) if s.name == "chatecho" => line += &format!(" {} |", fmt(v)),
                Some(v) => match base {
                    Some(b) if v > 0.0 => line += &format!(" {} ({:.2}×) |", fmt(v), b / v),
                    _ => line += &format!(" {} |", fmt(v)),
                },
            }
        }
        out += &line;
        out += "\n";
    };
    for load in loads {
        let (metric, unit) = load.headline();
        if metric == "mb_per_sec" {
            row(load.title, unit, load.key, metric, &|v| format!("{v:.0}"));
        } else {
            row(load.title, unit, load.key, metric, &human);
        }
        if load.mode == "lockstep" || load.mode == "churn" {
            row(load.title, "p50 µs", load.key, "p50_us", &|v| {
                format!("{v:.0}")
            });
            row(load.title, "p99 µs", load.key, "p99_us", &|v| {
                format!("{v:.0}")
            });
        }
    }
    let title = format!("{hold_connections} idle conns, {hold_size} B partial line each");
    row(&title, "RSS bytes/conn", "hold", "rss_per_conn", &|v| {
        format!("{v:.0}")
    });
    let title = format!("{hold_connections} conns quiet after one {QUIET_LINE} B line answered");
    row(&title, "RSS bytes/conn", "idle", "rss_per_conn", &|v| {
        format!("{v:.0}")
    });
    out
}

/// Bytes of the line each quiet connection has answered before the memory is read: the
/// shortest line chatecho-bench sends.
const QUIET_LINE: usize = 16;

/// Every server compared, chatecho first (the ratios are against it).
const SERVERS: [&str; 7] = [
    "chatecho",
    "chatecho-baseline",
    "chatecho-proxy",
    "tokio-lines",
    "tokio-lines-ct",
    "raw-echo",
    "seed",
];

/// Where the servers' programs are.
struct Binaries {
    /// The release binaries of this workspace.
    dir: PathBuf,
    /// `--baseline`.
    baseline: Option<PathBuf>,
    /// The seed's server, when found.
    seed: Option<PathBuf>,
}

/// Starts server `name` on a free loopback port.
fn start(name: &'static str, binaries: &Binaries) -> Result<Server> {
    let bin_dir = &binaries.dir;
    let chatecho = match (name, &binaries.baseline) {
        ("chatecho-baseline", Some(baseline)) => baseline.clone(),
        _ => bin_dir.join("chatecho-server"),
    };
    let mut chatecho = Command::new(chatecho);
    chatecho
        .args(["--host", "127.0.0.1", "--port", "0"])
        // Every load comes from one address, and the memory load holds thousands.
        .args(["--max-connections-per-ip", "0"])
        // Per-connection logs would be a cost the peers do not pay.
        .env("RUST_LOG", "warn");
    match name {
        "chatecho" | "chatecho-baseline" => start_announced(name, false, &mut chatecho),
        "chatecho-proxy" => {
            chatecho.args(["--proxy-protocol", "--proxy-from", "127.0.0.0/8"]);
            let mut server = start_announced(name, false, &mut chatecho)?;
            server.proxy_header = "v2";
            Ok(server)
        }
        "tokio-lines" => start_announced(
            name,
            false,
            &mut Command::new(bin_dir.join("peer-tokio-lines")),
        ),
        "tokio-lines-ct" => start_announced(
            name,
            false,
            Command::new(bin_dir.join("peer-tokio-lines")).arg("--current-thread"),
        ),
        "raw-echo" => start_announced(name, true, &mut Command::new(bin_dir.join("peer-raw-echo"))),
        _ => start_seed(
            binaries
                .seed
                .as_deref()
                .context("the seed's server is missing")?,
        ),
    }
}

/// Starts a server that prints `listening on <addr>` and returns once it has.
fn start_announced(name: &'static str, raw: bool, command: &mut Command) -> Result<Server> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("cannot start {name} ({:?})", command.get_program()))?;
    let stdout = child.stdout.take().context("no stdout")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(first_address(stdout));
    });
    let addr = match rx.recv_timeout(START_TIMEOUT) {
        Ok(Ok(addr)) => addr,
        Ok(Err(e)) => {
            let _ = child.kill();
            return Err(e.context(format!("{name} did not announce its address")));
        }
        Err(_) => {
            let _ = child.kill();
            bail!("{name} did not start listening within {START_TIMEOUT:?}");
        }
    };
    Ok(Server {
        name,
        raw,
        proxy_header: "none",
        addr,
        child,
    })
}

fn first_address(stdout: ChildStdout) -> Result<SocketAddr> {
    let mut lines = BufReader::new(stdout).lines();
    let line = lines.next().context("stdout closed")??;
    let addr = line
        .strip_prefix("listening on ")
        .with_context(|| format!("unexpected first line {line:?}"))?;
    let addr = addr.parse()?;
    // Keep reading so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Ok(addr)
}

/// The seed takes a port but does not say which it bound, so a free one is picked here (the
/// seed binds with SO_REUSEADDR/SO_REUSEPORT, so a port just released is fine), and the
/// server counts as started once it accepts a connection.
fn start_seed(path: &Path) -> Result<Server> {
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let child = Command::new("python3")
        .arg(path)
        .args(["127.0.0.1", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .context("cannot start python3 for the seed")?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let server = Server {
        name: "seed",
        raw: false,
        proxy_header: "none",
        addr,
        child,
    };
    let deadline = Instant::now() + START_TIMEOUT;
    while TcpStream::connect(addr).is_err() {
        if Instant::now() > deadline {
            bail!("the seed did not start listening on {addr}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(server)
}

/// Runs one load with chatecho-bench and returns its JSON summary.
fn bench_run(
    bench: &Path,
    server: &Server,
    load: &Load,
    lines: u64,
) -> Result<serde_json::Map<String, serde_json::Value>> {
    let output = Command::new(bench)
        .args(["--addr", &server.addr.to_string()])
        .args(["--connections", &load.connections.to_string()])
        .args(["--lines", &lines.to_string()])
        .args(["--size", &load.size.to_string()])
        .args(["--mode", load.mode])
        .args(["--expect", if server.raw { "raw" } else { "echo" }])
        .args(["--proxy-header", server.proxy_header])
        .args(["--json", "--quiet"])
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {}", bench.display()))?;
    if !output.status.success() {
        bail!(
            "chatecho-bench failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let text = String::from_utf8(output.stdout)?;
    match serde_json::from_str(text.trim())? {
        serde_json::Value::Object(map) => Ok(map),
        other => Err(anyhow!("unexpected summary {other}")),
    }
}

/// VmRSS of `pid`, in bytes.
fn rss(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("cannot read /proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .context("no VmRSS in /proc/<pid>/status")?;
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .context("malformed VmRSS")?
        .parse()?;
    Ok(kib * 1024)
}

/// Holds `connections` connections open on `server` with chatecho-bench's `mode` (`hold`: an
/// unterminated line of `size` bytes each; `idle`: one line of `size` bytes answered, then
/// quiet), and returns the growth of the server's RSS divided by `connections`.
fn rss_per_connection(
    bench: &Path,
    server: &Server,
    mode: &str,
    connections: usize,
    size: usize,
) -> Result<f64> {
    // Let connections of earlier loads finish closing first.
    std::thread::sleep(Duration::from_millis(500));
    let before = rss(server.child.id())?;
    let mut hold = Command::new(bench)
        .args(["--addr", &server.addr.to_string()])
        .args(["--connections", &connections.to_string()])
        .args(["--size", &size.to_string()])
        .args(["--mode", mode, "--quiet"])
        .args(["--proxy-header", server.proxy_header])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start chatecho-bench --mode {mode}"))?;
    let stdin = hold.stdin.take().context("no stdin")?;
    let stdout = hold.stdout.take().context("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let announced = lines.next().transpose()?;
    if !announced.is_some_and(|l| l.starts_with("holding")) {
        let status = hold.wait()?;
        bail!("chatecho-bench --mode {mode} ended before holding ({status})");
    }
    // The last connections' bytes may still be on their way through the server.
    std::thread::sleep(Duration::from_millis(500));
    let after = rss(server.child.id())?;
    // Closing stdin releases the connections.
    drop(stdin);
    let status = hold.wait()?;
    if !status.success() {
        bail!("chatecho-bench --mode {mode} failed ({status})");
    }
    let _ = std::io::stderr().flush();
    Ok((after as f64 - before as f64) / connections as f64)
}
