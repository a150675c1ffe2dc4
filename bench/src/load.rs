//! Driving connections: the connect phase, then pipelined, lockstep or holding traffic on
//! each connection, with every reply checked against the line that caused it.
//!
//! Each connection is one tokio task. Pipelined connections keep up to a window of lines
//! outstanding and move data in large batches: a write carries many lines, a read takes
//! whatever the kernel holds (up to [`READ_CHUNK`]), so the generator costs a few syscalls per
//! batch rather than per line. Reading goes on while writing, so a server that stops reading
//! until its replies drain (backpressure) never deadlocks with us.

use crate::Options;
use crate::payload::{Lines, show};
use anyhow::{Context as _, Result, anyhow, bail};
use hdrhistogram::Histogram;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _, Interest};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{Barrier, Semaphore};

/// Largest single read.
const READ_CHUNK: usize = 256 * 1024;
/// Largest batch of lines given to one write.
const WRITE_BATCH: usize = 64 * 1024;
/// Connects in flight at once: bounded so that a burst of thousands does not overflow the
/// server's accept backlog (which the kernel answers by dropping SYNs and retrying seconds
/// later).
pub const CONNECT_CONCURRENCY: usize = 256;
/// Round trips a lockstep connection collects before recording them into the shared
/// histogram: one lock per batch rather than per line. Not a histogram per connection: with
/// three significant digits over the round trips seen at 9000 connections (up to about a
/// second in nanoseconds), each is about 170 KiB, and thousands of them cost the generator
/// page faults and cache misses that grow with the connection count, on the cores the server
/// under test shares.
const LATENCY_BATCH: usize = 64;
/// A connect that fails for another reason than a refusal (a reset, a timeout, no ephemeral
/// port free yet) is retried this many times before the run fails.
const CONNECT_ATTEMPTS: u32 = 5;

/// What every connection task shares.
pub struct Shared {
    pub options: Options,
    /// Lines answered and checked, over all connections (for progress and the summary).
    pub done: AtomicU64,
    /// Round trips in nanoseconds, in lockstep mode. Connections collect samples in a small
    /// buffer and record a batch at a time (see [`LATENCY_BATCH`]).
    pub latency: std::sync::Mutex<Histogram<u64>>,
    /// Set once the deadline of `--duration` has passed: stop sending new lines.
    pub time_up: AtomicBool,
    /// When the first connection started its traffic, after all were open.
    pub started: std::sync::OnceLock<Instant>,
    /// When the last connection finished its traffic.
    pub ended: std::sync::Mutex<Option<Instant>>,
}

/// Opens connection `id` from `bind` (any local address if `None`), retrying connects the
/// kernel refuses under a burst.
async fn connect(addr: SocketAddr, bind: Option<IpAddr>, id: usize) -> Result<TcpStream> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let connected = match bind {
            None => TcpStream::connect(addr).await,
            Some(ip) => connect_from(addr, ip).await,
        };
        match connected {
            Ok(stream) => {
                // Lines are sent in batches already; Nagle would only delay the last one.
                stream.set_nodelay(true)?;
                return Ok(stream);
            }
            // Refused means nothing listens there: retrying would only delay the error.
            Err(e)
                if attempt < CONNECT_ATTEMPTS
                    && e.kind() != std::io::ErrorKind::ConnectionRefused =>
            {
                tracing_retry(id, &e);
                tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
            }
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("connection {id}: cannot connect to {addr}"));
            }
        }
    }
}

/// Connects to `addr` from `ip`, with an ephemeral port of that address.
async fn connect_from(addr: SocketAddr, ip: IpAddr) -> std::io::Result<TcpStream> {
    let socket = match ip {
        IpAddr::V4(_) => TcpSocket::new_v4()?,
        IpAddr::V6(_) => TcpSocket::new_v6()?,
    };
    // Lets bind pick a port still in TIME-WAIT from an earlier run's connections: the
    // connection's 4-tuple is new whatever the port, and without it a second run from the
    // same address can find every port taken.
    socket.set_reuseaddr(true)?;
    socket.bind(SocketAddr::new(ip, 0))?;
    socket.connect(addr).await
}

fn tracing_retry(id: usize, error: &std::io::Error) {
    if std::env::var_os("CHATECHO_BENCH_DEBUG").is_some() {
        eprintln!("connection {id}: connect failed ({error}); retrying");
    }
}

/// One connection's whole life: connect (under `connecting`), wait for every other connection
/// (`all_open`), then run the mode's traffic.
pub async fn run_connection(
    shared: Arc<Shared>,
    id: usize,
    connecting: Arc<Semaphore>,
    all_open: Arc<Barrier>,
    release: tokio::sync::watch::Receiver<bool>,
) -> Result<()> {
    let lines = Lines::new(id, shared.options.size, shared.options.expect)?;
    let stream = {
        let _permit = connecting.acquire().await?;
        match connect(shared.options.addr, shared.options.bind, id).await {
            // A balancer sends the header as soon as it has connected.
            Ok(mut stream) => send_proxy_header(&shared, &mut stream)
                .await
                .map(|()| stream),
            Err(error) => Err(error),
        }
    };
    // Even a failed connection must reach the barrier, or the others would wait forever.
    all_open.wait().await;
    let mut stream = stream?;
    shared.started.get_or_init(Instant::now);
    let result = match shared.options.mode {
        crate::Mode::Pipeline => pipeline(&shared, &mut stream, &lines).await,
        crate::Mode::Lockstep => lockstep(&shared, &mut stream, &lines).await,
        crate::Mode::Hold => hold(&shared, &mut stream, &lines, release).await,
        crate::Mode::Idle => idle(&shared, &mut stream, &lines, release).await,
        crate::Mode::Churn => churn(&shared, stream, &lines, id).await,
    };
    let result = result.with_context(|| format!("connection {id}"));
    if let Ok(mut ended) = shared.ended.lock() {
        let now = Instant::now();
        *ended = Some(ended.map_or(now, |e| e.max(now)));
    }
    result
}

/// Sends the PROXY protocol header `--proxy-header` asks for, naming the connection's own
/// addresses (the client's, then the server's), as a load balancer relaying it would.
async fn send_proxy_header(shared: &Shared, stream: &mut TcpStream) -> Result<()> {
    let (client, server) = (stream.local_addr()?, stream.peer_addr()?);
    let header = match shared.options.proxy_header {
        crate::ProxyHeader::None => return Ok(()),
        crate::ProxyHeader::V1 => {
            let family = if client.is_ipv4() { "TCP4" } else { "TCP6" };
            format!(
                "PROXY {family} {} {} {} {}\r\n",
                client.ip(),
                server.ip(),
                client.port(),
                server.port()
            )
            .into_bytes()
        }
        crate::ProxyHeader::V2 => {
            // The signature, version 2 with the PROXY command, TCP over the family, the
            // length of the addresses, then the addresses and ports.
            let mut header = b"\r\n\r\n\0\r\nQUIT\n\x21".to_vec();
            let addresses: Vec<u8> = match (client.ip(), server.ip()) {
                (IpAddr::V4(c), IpAddr::V4(s)) => {
                    header.push(0x11);
                    [c.octets(), s.octets()].concat()
                }
                (IpAddr::V6(c), IpAddr::V6(s)) => {
                    header.push(0x21);
                    [c.octets(), s.octets()].concat()
                }
                _ => bail!("the client's and the server's addresses are of two families"),
            };
            header.extend(((addresses.len() + 4) as u16).to_be_bytes());
            header.extend(addresses);
            header.extend(client.port().to_be_bytes());
            header.extend(server.port().to_be_bytes());
            header
        }
    };
    stream
        .write_all(&header)
        .await
        .context("sending the PROXY header failed")
}

/// A new connection for each line: one line answered, the quit line, the server's close;
/// then connect again. The first connection is the one opened with the others (so its time
/// runs from the start of the traffic, not from its connect and header); each later one is
/// timed from its connect to its answer.
async fn churn(shared: &Shared, first: TcpStream, lines: &Lines, id: usize) -> Result<()> {
    let mut round_trip = RoundTrip::new(lines);
    let mut round_trips = Vec::with_capacity(LATENCY_BATCH);
    let mut next = Some(first);
    let mut seq = 0;
    let mut scrap = [0u8; 64];
    while more_to_send(shared, seq) {
        let start = Instant::now();
        let mut stream = match next.take() {
            Some(stream) => stream,
            None => {
                let mut stream = connect(shared.options.addr, shared.options.bind, id).await?;
                send_proxy_header(shared, &mut stream).await?;
                stream
            }
        };
        round_trip.run(&mut stream, seq).await?;
        round_trips.push(u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX));
        stream.write_all(b".\r\n").await.context("write failed")?;
        // The server closes first, after the quit line: its close is the end.
        match stream.read(&mut scrap).await {
            Ok(0) => {}
            Ok(n) => bail!("server sent after the quit line: {}", show(&scrap[..n])),
            Err(e) => return Err(e).context("waiting for the server's close failed"),
        }
        seq += 1;
        shared.done.fetch_add(1, Ordering::Relaxed);
        if round_trips.len() == LATENCY_BATCH {
            record(shared, &mut round_trips)?;
        }
    }
    record(shared, &mut round_trips)
}

/// Whether line `seq` should still be sent.
fn more_to_send(shared: &Shared, seq: u64) -> bool {
    match shared.options.lines {
        Some(n) => seq < n && !shared.time_up.load(Ordering::Relaxed),
        None => !shared.time_up.load(Ordering::Relaxed),
    }
}

/// Many lines in flight: batched writes, big reads, a bounded window.
async fn pipeline(shared: &Shared, stream: &mut TcpStream, lines: &Lines) -> Result<()> {
    let window = (shared.options.window_bytes / lines.request_len()).max(1) as u64;
    let reply_len = lines.reply_len();
    let mut sent: u64 = 0;
    let mut received: u64 = 0;
    let mut out: Vec<u8> = Vec::with_capacity(WRITE_BATCH + lines.request_len());
    let mut out_at = 0;
    let mut input = vec![0u8; READ_CHUNK + reply_len];
    let mut have = 0;
    let mut scratch = Vec::with_capacity(reply_len);
    let mut sending = true;
    loop {
        // Refill the write batch when the last one is gone.
        if out_at == out.len() && sending {
            out.clear();
            out_at = 0;
            while out.len() < WRITE_BATCH && sent - received < window && more_to_send(shared, sent)
            {
                lines.push_request(sent, &mut out);
                sent += 1;
            }
            if out.is_empty() && !more_to_send(shared, sent) {
                sending = false;
            }
        }
        if !sending && received == sent {
            return Ok(());
        }
        let interest = if out_at < out.len() {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        };
        let ready = stream.ready(interest).await?;
        if ready.is_writable() && out_at < out.len() {
            match stream.try_write(&out[out_at..]) {
                Ok(n) => out_at += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e).context("write failed"),
            }
        }
        if ready.is_readable() || ready.is_read_closed() {
            match stream.try_read(&mut input[have..]) {
                Ok(0) => bail!("server closed the connection after {received} of {sent} replies"),
                Ok(n) => {
                    have += n;
                    let whole = have / reply_len;
                    if received + whole as u64 > sent {
                        bail!(
                            "server sent more than was asked: {} bytes after reply {}: {}",
                            have - (sent - received) as usize * reply_len,
                            sent,
                            show(&input[(sent - received) as usize * reply_len..have])
                        );
                    }
                    for record in input[..whole * reply_len].chunks_exact(reply_len) {
                        lines.check_reply(received, record, &mut scratch)?;
                        received += 1;
                    }
                    input.copy_within(whole * reply_len..have, 0);
                    have -= whole * reply_len;
                    shared.done.fetch_add(whole as u64, Ordering::Relaxed);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e).context(format!("read failed after {received} replies")),
            }
        }
    }
}

/// One line at a time; each round trip timed.
async fn lockstep(shared: &Shared, stream: &mut TcpStream, lines: &Lines) -> Result<()> {
    let mut round_trip = RoundTrip::new(lines);
    let mut round_trips = Vec::with_capacity(LATENCY_BATCH);
    let mut seq = 0;
    while more_to_send(shared, seq) {
        let start = Instant::now();
        round_trip.run(stream, seq).await?;
        round_trips.push(u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX));
        seq += 1;
        shared.done.fetch_add(1, Ordering::Relaxed);
        if round_trips.len() == LATENCY_BATCH {
            record(shared, &mut round_trips)?;
        }
    }
    record(shared, &mut round_trips)
}

/// One line sent and its reply read and checked, with the buffers it needs.
struct RoundTrip<'a> {
    lines: &'a Lines,
    out: Vec<u8>,
    /// One byte more than a reply, so that extra bytes from the server are noticed.
    input: Vec<u8>,
    scratch: Vec<u8>,
}

impl<'a> RoundTrip<'a> {
    fn new(lines: &'a Lines) -> Self {
        Self {
            lines,
            out: Vec::with_capacity(lines.request_len()),
            input: vec![0u8; lines.reply_len() + 1],
            scratch: Vec::with_capacity(lines.reply_len()),
        }
    }

    /// Sends line `seq` and waits for its reply, which must be exactly the expected one.
    async fn run(&mut self, stream: &mut TcpStream, seq: u64) -> Result<()> {
        let reply_len = self.lines.reply_len();
        self.out.clear();
        self.lines.push_request(seq, &mut self.out);
        stream.write_all(&self.out).await.context("write failed")?;
        let mut have = 0;
        while have < reply_len {
            let n = stream
                .read(&mut self.input[have..])
                .await
                .with_context(|| format!("read failed after {seq} replies"))?;
            if n == 0 {
                bail!("server closed the connection after {seq} replies");
            }
            have += n;
        }
        if have > reply_len {
            bail!(
                "server sent more than was asked after reply {seq}: {}",
                show(&self.input[..have])
            );
        }
        self.lines
            .check_reply(seq, &self.input[..reply_len], &mut self.scratch)
    }
}

/// Moves `round_trips` (nanoseconds) into the shared latency histogram.
fn record(shared: &Shared, round_trips: &mut Vec<u64>) -> Result<()> {
    let mut latency = shared
        .latency
        .lock()
        .map_err(|_| anyhow!("a connection panicked while recording its latencies"))?;
    for nanos in round_trips.drain(..) {
        latency.record(nanos).context("recording a round trip")?;
    }
    Ok(())
}

/// One line, answered; then quiet until `release`; then one more line, answered.
async fn idle(
    shared: &Shared,
    stream: &mut TcpStream,
    lines: &Lines,
    mut release: tokio::sync::watch::Receiver<bool>,
) -> Result<()> {
    let mut round_trip = RoundTrip::new(lines);
    round_trip.run(stream, 0).await?;
    shared.done.fetch_add(1, Ordering::Relaxed);
    let mut scrap = [0u8; 256];
    tokio::select! {
        // An error means the sender is gone, which also means "stop holding".
        _ = release.wait_for(|go| *go) => {}
        read = stream.read(&mut scrap) => return match read {
            Ok(0) => Err(anyhow!("server closed an idle connection")),
            Ok(n) => Err(anyhow!("server sent to an idle connection: {}", show(&scrap[..n]))),
            Err(e) => Err(e).context("idle connection failed"),
        },
    }
    round_trip.run(stream, 1).await?;
    shared.done.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// Sends one unterminated line of `--size` bytes, so that the server holds a line's worth of
/// state for this connection, then waits for `release` with the connection open. The server
/// must not answer an unterminated line.
async fn hold(
    shared: &Shared,
    stream: &mut TcpStream,
    lines: &Lines,
    mut release: tokio::sync::watch::Receiver<bool>,
) -> Result<()> {
    let mut out = Vec::new();
    lines.push_request(0, &mut out);
    out.truncate(shared.options.size);
    stream.write_all(&out).await.context("write failed")?;
    shared.done.fetch_add(1, Ordering::Relaxed);
    let mut scrap = [0u8; 256];
    tokio::select! {
        // An error means the sender is gone, which also means "stop holding".
        _ = release.wait_for(|go| *go) => Ok(()),
        read = stream.read(&mut scrap) => match read {
            Ok(0) => Err(anyhow!("server closed a held connection")),
            Ok(n) => Err(anyhow!("server answered an unterminated line: {}", show(&scrap[..n]))),
            Err(e) => Err(e).context("held connection failed"),
        },
    }
}
