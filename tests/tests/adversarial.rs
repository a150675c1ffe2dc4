//! Hostile and broken peers against the real `chatecho-server` over loopback TCP: a line far
//! over the limit, a peer that sends 64 MiB and reads nothing, peers that reset mid-line,
//! half-close, say nothing or send one byte per write, more connections than the process has
//! file descriptors, and invalid configuration. Under all of it the server keeps running, its
//! memory stays fixed (and small for each connection: quiet ones hold no buffers at all), and
//! every reply it owes arrives whole and in order.
//!
//! Memory is measured from outside, as an operator would: the server's resident set and its
//! peak, from `/proc` (so this file runs on Linux only). Kernel socket buffers are not part of
//! either, which is the point: bytes a peer sends faster than it reads must wait there or in
//! the peer, not in the server.
//!
//! Neighbouring cases live with the features they test and are not repeated here:
//! `e2e_server.rs` has a reset after a complete line, an idle timeout with a partial line, a
//! peer that stops reading closed by the idle timeout, accept errors with 40 connections and
//! 24 descriptors, and the exit status for a wider set of bad flags; `e2e_protocol.rs` has
//! half-close after a short exchange, a 1 MiB line over a small limit, and a non-reading peer
//! whose 200 000 replies all arrive; `proxy_protocol.rs` has hostile PROXY protocol headers.

#![cfg(target_os = "linux")]

use chatecho_tests::harness::{
    Guarded, Memory, PROCESS_TIMEOUT, Peer, Server, binary, eventually, exchange, reset, show,
    wait_until_stalled,
};
use std::io::{BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

const MIB: u64 = 1 << 20;

/// How much a server's resident memory may grow while one adversarial peer does its worst.
/// A busy connection's memory is its session's buffers (12 KiB with the defaults, taken from
/// a pool while it reads or owes replies); the rest of the process does not grow with input.
/// So anything near this bound means input or replies are being buffered in the process,
/// and 1 MiB is a tenth of the 10 MiB line and a sixty-fourth of the 64 MiB stream.
const MEMORY_GROWTH_BOUND: u64 = MIB;

/// Flags for the servers whose memory is measured. The first time an executor thread polls a
/// connection it makes part of its stack resident (a few MiB in a debug build): a one-off cost
/// per thread, not per input, but one that would land inside a measurement whenever a thread
/// first met the connection after the baseline. With one thread, warmed up before the
/// baseline, it cannot.
const MEASURED: &[&str] = &["--threads", "1"];

/// Asserts that the server's peak memory since `baseline` was taken (with the peak reset)
/// stayed within [`MEMORY_GROWTH_BOUND`] of it.
fn assert_memory_stayed_flat(server: &mut Server, baseline: Memory, during: &str) {
    let now = server.memory();
    let growth = now.peak.saturating_sub(baseline.resident);
    assert!(
        growth < MEMORY_GROWTH_BOUND,
        "{during}: the server's resident memory grew by {growth} bytes (from {} to a peak of \
         {}), over the bound of {MEMORY_GROWTH_BOUND}",
        baseline.resident,
        now.peak
    );
}

/// Opens `count` connections at once and has each answered, so that all of them hold a slot
/// together; `None` if any is refused as over `--max-connections`.
fn all_served_at_once(addr: SocketAddr, count: usize) -> Option<()> {
    let mut peers: Vec<Peer> = (0..count).map(|_| Peer::connect(addr)).collect();
    for (i, peer) in peers.iter_mut().enumerate() {
        peer.send(format!("together {i}\r\n").as_bytes());
    }
    for (i, peer) in peers.iter_mut().enumerate() {
        let expected = format!("You sent: together {i}\r\n");
        let mut got = vec![0u8; expected.len()];
        peer.stream()
            .read_exact(&mut got)
            .expect("reading a reply failed");
        if got.starts_with(b"ERROR server full") {
            return None;
        }
        assert_eq!(show(&got), show(expected.as_bytes()));
    }
    Some(())
}

#[test]
fn a_10_mib_line_gets_one_error_and_the_server_memory_stays_flat() {
    let mut server = Server::start(MEASURED);
    let mut peer = server.connect();
    // The connection's session exists before the baseline.
    peer.send(b"warm up\r\n");
    peer.expect(b"You sent: warm up\r\n");
    server.reset_peak_memory();
    let baseline = server.memory();

    // Bare CR and LF, each ordinary data, everywhere but never as CR LF: the delimiter search
    // is kept busy for all 10 MiB, and chunk edges (LF then CR) form no delimiter either.
    let chunk = b"\rx\n".repeat(21_846);
    let mut sent = 0;
    while sent < 10 * MIB as usize {
        peer.send(&chunk);
        sent += chunk.len();
    }
    peer.send(b"\r\nnext\r\n");
    // The error is sent as soon as the line passes the limit; by the time `next` is answered,
    // every byte of the long line has gone through the server.
    peer.expect(b"ERROR line too long (limit 4096 bytes)\r\n");
    peer.expect(b"You sent: next\r\n");
    assert_memory_stayed_flat(&mut server, baseline, "a 10 MiB line");

    // Nothing else was sent: exactly one error for the whole line.
    peer.send(b".\r\n");
    peer.expect_closed();
}

/// Connections opened at once for the per-connection memory tests: enough that the fixed
/// costs around them (the first connection's page faults, an allocator's slack) are small
/// next to what they cost together, and few enough for the usual 1024 open files.
const MEASURED_CONNECTIONS: usize = 800;

/// Opens [`MEASURED_CONNECTIONS`] connections to `server`, has each do `start`, and returns
/// them with the server's resident memory growth divided by their number.
fn memory_per_connection(
    server: &mut Server,
    start: impl Fn(usize, &mut Peer),
) -> (Vec<Peer>, u64) {
    memory_per_connection_opened(server, Server::connect, start)
}

/// [`memory_per_connection`], with each connection opened by `open`.
fn memory_per_connection_opened(
    server: &mut Server,
    open: impl Fn(&Server) -> Peer,
    start: impl Fn(usize, &mut Peer),
) -> (Vec<Peer>, u64) {
    // A first connection through a full exchange: the thread's one-off costs come first.
    let mut first = open(server);
    first.send(b"warm up\r\n");
    first.expect(b"You sent: warm up\r\n");
    thread::sleep(Duration::from_millis(200));
    let baseline = server.memory();
    let mut peers: Vec<Peer> = Vec::with_capacity(MEASURED_CONNECTIONS);
    for i in 0..MEASURED_CONNECTIONS {
        let mut peer = open(server);
        start(i, &mut peer);
        peers.push(peer);
    }
    // What a connection holds once the server has taken what it was sent.
    thread::sleep(Duration::from_millis(500));
    let now = server.memory();
    let per_connection =
        now.resident.saturating_sub(baseline.resident) / MEASURED_CONNECTIONS as u64;
    println!(
        "{per_connection} resident bytes per connection (from {} to {})",
        baseline.resident, now.resident
    );
    peers.push(first);
    (peers, per_connection)
}

/// Most resident memory a connection that has had its answer and went quiet may cost the
/// server (issue 10's target): its socket's registration and its task, not its session's
/// buffers (12 KiB), which went back to the pool. Measured: about 1650 bytes, in debug and
/// release builds alike.
const QUIET_CONNECTION_BOUND: u64 = 2000;

#[test]
fn connections_that_went_quiet_after_their_answer_hold_no_buffers() {
    let mut server = Server::start(MEASURED);
    let (mut peers, per_connection) = memory_per_connection(&mut server, |i, peer| {
        // A 10-byte line, as in issue 10's measurement.
        let line = format!("line {i:05}\r\n");
        peer.send(line.as_bytes());
        peer.expect(format!("You sent: {line}").as_bytes());
    });
    assert!(
        per_connection <= QUIET_CONNECTION_BOUND,
        "each quiet connection costs {per_connection} resident bytes, over the bound of \
         {QUIET_CONNECTION_BOUND}: are buffers kept while idle?"
    );
    // Each conversation goes on exactly where it was, in buffers taken again.
    for (i, peer) in peers.iter_mut().enumerate().take(MEASURED_CONNECTIONS) {
        let line = format!("again {i}\r\n");
        peer.send(line.as_bytes());
        peer.expect(format!("You sent: {line}").as_bytes());
    }
}

#[test]
fn behind_a_balancer_connections_that_went_quiet_hold_no_more() {
    // Each connection begins with a PROXY header naming its own addresses, as a balancer
    // relaying it would send; the header's stage must leave nothing behind.
    let mut args = MEASURED.to_vec();
    args.extend(["--proxy-protocol", "--proxy-from", "127.0.0.1"]);
    let mut server = Server::start(&args);
    let through_a_balancer = |server: &Server| {
        let mut peer = server.connect();
        let (client, ours) = (peer.stream().local_addr().unwrap(), server.addr());
        let header = format!(
            "PROXY TCP4 {} {} {} {}\r\n",
            client.ip(),
            ours.ip(),
            client.port(),
            ours.port()
        );
        peer.send(header.as_bytes());
        peer
    };
    let (_peers, per_connection) =
        memory_per_connection_opened(&mut server, through_a_balancer, |i, peer| {
            let line = format!("line {i:05}\r\n");
            peer.send(line.as_bytes());
            peer.expect(format!("You sent: {line}").as_bytes());
        });
    assert!(
        per_connection <= QUIET_CONNECTION_BOUND,
        "each quiet connection behind a balancer costs {per_connection} resident bytes, over \
         the bound of {QUIET_CONNECTION_BOUND}"
    );
    server.wait_for_log_count("PROXY header read", MEASURED_CONNECTIONS + 1);
}

/// Most resident memory a connection holding a 4096-byte partial line may cost the server:
/// the pages of input the line fills (one, plus part of a neighbour) and the task, not the
/// output buffer it has not written. Measured: about 5.75 KB, in debug and release builds
/// alike; 10 KB was the figure when every connection owned its buffers for life.
const PARTIAL_LINE_BOUND: u64 = 10_000;

#[test]
fn a_connection_holding_a_partial_line_keeps_only_the_buffer_pages_it_wrote() {
    let mut server = Server::start(MEASURED);
    let partial = vec![b'p'; 4096];
    let (mut peers, per_connection) = memory_per_connection(&mut server, |_, peer| {
        peer.send(&partial);
    });
    assert!(
        per_connection <= PARTIAL_LINE_BOUND,
        "each connection holding a 4 KiB partial line costs {per_connection} resident \
         bytes, over the bound of {PARTIAL_LINE_BOUND}"
    );
    // The partial lines were kept, not lost: each is answered once it ends.
    let mut expected = b"You sent: ".to_vec();
    expected.extend_from_slice(&partial);
    expected.extend_from_slice(b"\r\n");
    for peer in peers.iter_mut().take(3) {
        peer.send(b"\r\n");
        peer.expect(&expected);
    }
}

/// Bytes per line in the slow reader's stream, delimiter included.
const SLOW_LINE: usize = 1024;
/// Lines in the slow reader's stream: 64 MiB.
const SLOW_LINES: usize = 64 * MIB as usize / SLOW_LINE;

/// Line `i` of the slow reader's stream, without its delimiter: its number (so that a lost,
/// repeated or reordered reply shows), then one letter repeated (so that a torn one shows).
fn slow_line(i: usize, line: &mut Vec<u8>) {
    line.clear();
    write!(line, "{i:08}:").unwrap();
    line.resize(SLOW_LINE - 2, b'a' + (i % 26) as u8);
}

#[test]
fn a_slow_reader_of_64_mib_is_held_back_while_others_are_served_and_gets_every_reply() {
    let mut server = Server::start(MEASURED);
    let mut slow = server.connect();
    let mut other = server.connect();
    slow.send(b"hello\r\n");
    slow.expect(b"You sent: hello\r\n");
    other.send(b"hello\r\n");
    other.expect(b"You sent: hello\r\n");
    server.reset_peak_memory();
    let baseline = server.memory();

    let total = (SLOW_LINES * SLOW_LINE) as u64;
    let written = Arc::new(AtomicU64::new(0));
    let mut writer = slow.stream().try_clone().unwrap();
    let progress = written.clone();
    let sender = thread::spawn(move || {
        let mut batch = Vec::with_capacity(64 * SLOW_LINE);
        let mut line = Vec::with_capacity(SLOW_LINE);
        for first in (0..SLOW_LINES).step_by(64) {
            batch.clear();
            for i in first..(first + 64).min(SLOW_LINES) {
                slow_line(i, &mut line);
                batch.extend_from_slice(&line);
                batch.extend_from_slice(b"\r\n");
            }
            writer.write_all(&batch).expect("sending the 64 MiB failed");
            progress.fetch_add(batch.len() as u64, Ordering::Relaxed);
        }
        writer
            .write_all(b".\r\n")
            .expect("sending the quit line failed");
    });

    // Read nothing until the sender is stuck: the socket buffers both ways are full and the
    // server has stopped reading (backpressure).
    let started = Instant::now();
    wait_until_stalled("the slow reader's sender stalls", &written);
    // Meanwhile, and for a few seconds more of not reading, another client is served.
    let mut round = 0;
    while round < 10 || started.elapsed() < Duration::from_secs(3) {
        let line = format!("meanwhile {round}\r\n");
        other.send(line.as_bytes());
        other.expect(format!("You sent: {line}").as_bytes());
        thread::sleep(Duration::from_millis(100));
        round += 1;
    }
    let stalled_at = written.load(Ordering::Relaxed);
    // The socket buffers on this path hold a few MiB (about 7 where this was written; under
    // 64 even with Linux's default ceilings of 32 MiB to receive and 4 MiB to send, as the
    // client's receive side does not grow while it reads nothing), so a sender that got all
    // 64 MiB out would mean the server swallowed them.
    assert!(
        stalled_at < total,
        "all {total} bytes were taken while nothing was read"
    );
    assert_memory_stayed_flat(&mut server, baseline, "a stalled 64 MiB sender");

    // Now read: every reply, whole and in order, checked one at a time as it streams in.
    let mut replies = BufReader::with_capacity(1 << 16, slow.stream());
    let mut line = Vec::with_capacity(SLOW_LINE);
    let mut expected = Vec::with_capacity(SLOW_LINE + 16);
    let mut got = vec![0u8; b"You sent: ".len() + SLOW_LINE];
    for i in 0..SLOW_LINES {
        slow_line(i, &mut line);
        expected.clear();
        expected.extend_from_slice(b"You sent: ");
        expected.extend_from_slice(&line);
        expected.extend_from_slice(b"\r\n");
        if let Err(e) = replies.read_exact(&mut got) {
            panic!("reply {i} of {SLOW_LINES} did not arrive: {e}");
        }
        assert!(
            got == expected,
            "reply {i}: got {}, expected {}",
            show(&got),
            show(&expected)
        );
    }
    let mut rest = Vec::new();
    replies
        .read_to_end(&mut rest)
        .expect("reading to the close failed");
    assert!(rest.is_empty(), "after the last reply: {}", show(&rest));
    sender.join().expect("sender thread");
    assert_memory_stayed_flat(&mut server, baseline, "delivering 64 MiB of replies");

    other.send(b"after\r\n");
    other.expect(b"You sent: after\r\n");
}

#[test]
fn peers_that_reset_mid_line_even_while_owed_replies_free_their_slots() {
    const RESETTERS: usize = 32;
    // One slot for the bystander, one for the stuck peer, one per quick resetter.
    let limit = (RESETTERS + 2).to_string();
    let mut server = Server::start(&["--max-connections", &limit]);
    let mut bystander = server.connect();
    bystander.send(b"before\r\n");
    bystander.expect(b"You sent: before\r\n");

    // A peer that sends lines without reading until nothing more goes out: the server is then
    // blocked writing the replies it owes, with input waiting behind them. Non-blocking
    // writes end wherever the buffers fill, most likely mid-line; then the reset.
    let stuck = TcpStream::connect(server.addr()).unwrap();
    stuck.set_nonblocking(true).unwrap();
    let lines = b"a line that will never be read in full\r\n".repeat(1024);
    let mut idle_rounds = 0;
    let stall = Instant::now();
    while idle_rounds < 10 {
        match (&stuck).write(&lines) {
            Ok(_) => idle_rounds = 0,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                idle_rounds += 1;
                thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("the stuck peer's send failed: {e}"),
        }
        assert!(
            stall.elapsed() < PROCESS_TIMEOUT,
            "the stuck peer never filled its buffers"
        );
    }
    reset(stuck);

    // Quick peers: a partial line, or complete lines whose replies they never read, then reset.
    for i in 0..RESETTERS {
        let mut peer = server.connect();
        if i % 2 == 0 {
            peer.send(b"half a li");
        } else {
            peer.send(b"one\r\ntwo\r\nthr");
        }
        // Reset once the server has taken the connection (the bystander and the stuck peer
        // were the first two), so that each reset meets a session, not the listen queue.
        server.wait_for_log_count("connection opened", i + 3);
        reset(peer.stream().try_clone().unwrap());
    }

    bystander.send(b"during\r\n");
    bystander.expect(b"You sent: during\r\n");
    server.wait_for_log_count("connection closed", RESETTERS + 1);
    assert!(server.is_running());

    // Every slot came back: as many connections as the resetters and the stuck peer held are
    // served together, beside the bystander.
    eventually("every slot is free again", || {
        all_served_at_once(server.addr(), RESETTERS + 1)
    });
    bystander.send(b"after\r\n");
    bystander.expect(b"You sent: after\r\n");
}

/// Sends `input` on a thread, then half-closes, while reading every reply until the server
/// closes; the reading side fails on a reset, so the close must be clean.
fn send_then_half_close(addr: SocketAddr, input: Vec<u8>) -> Vec<u8> {
    let mut peer = Peer::connect(addr);
    let writer = peer.stream().try_clone().unwrap();
    let sender = thread::spawn(move || {
        let mut writer = writer;
        writer.write_all(&input).expect("send failed");
        writer.shutdown(Shutdown::Write).expect("half-close failed");
    });
    let got = peer.read_to_close();
    sender.join().expect("sender thread");
    got
}

#[test]
fn a_half_closing_peer_gets_every_reply_and_its_last_line_then_a_clean_close() {
    let server = Server::start(&[]);

    // Far more replies than the buffers hold, so the end of input arrives while the server
    // is held back by backpressure; the unterminated last line still gets its reply.
    let lines = 50_000;
    let mut input = Vec::new();
    let mut expected = Vec::new();
    for i in 0..lines {
        write!(input, "line {i}\r\n").unwrap();
        write!(expected, "You sent: line {i}\r\n").unwrap();
    }
    input.extend_from_slice(b"last, unterminated");
    expected.extend_from_slice(b"You sent: last, unterminated\r\n");
    let got = send_then_half_close(server.addr(), input);
    assert_eq!(got.len(), expected.len());
    assert!(got == expected, "replies differ from the lines sent");

    // An unterminated last line over the limit gets the error, once.
    let got = send_then_half_close(server.addr(), vec![b'y'; 5000]);
    assert_eq!(
        show(&got),
        show(b"ERROR line too long (limit 4096 bytes)\r\n")
    );

    // A half-close with nothing sent: nothing owed, a clean close.
    let got = send_then_half_close(server.addr(), Vec::new());
    assert_eq!(show(&got), "");
}

#[test]
fn silent_peers_are_closed_by_the_idle_timeout_and_their_slots_come_back() {
    const SILENT: usize = 8;
    let limit = SILENT.to_string();
    let server = Server::start(&["--idle-timeout", "1", "--max-connections", &limit]);
    // They connect, take every slot, and say nothing.
    let mut silent: Vec<Peer> = (0..SILENT).map(|_| server.connect()).collect();
    for peer in &mut silent {
        // Told why, then a clean close (no reset): there was nothing else to answer.
        peer.expect(b"ERROR idle timeout (limit 1 second)\r\n");
        peer.expect_closed();
    }
    drop(silent);
    server.wait_for_log_count("reason=idle timeout", SILENT);
    eventually("every slot is free again", || {
        all_served_at_once(server.addr(), SILENT)
    });
}

#[test]
fn one_byte_per_write_is_answered_exactly() {
    // Each byte its own write, with TCP_NODELAY (set by `Peer`) and a pause between writes,
    // so that each is its own segment and, most likely, its own read on the server.
    let cases: [(&[&str], &[u8], &[u8]); 2] = [
        (
            &["--max-line", "8"],
            b"hello\r\n\r\nbare\rcr\r\nbare\nlf\r\n12345678\r\n123456789\r\nok\r\n.\r\nignored\r\n",
            b"You sent: hello\r\nYou sent: \r\nYou sent: bare\rcr\r\nYou sent: bare\nlf\r\n\
              You sent: 12345678\r\nERROR line too long (limit 8 bytes)\r\nYou sent: ok\r\n",
        ),
        (
            // A three-byte delimiter, with its prefixes and its pieces inside lines.
            &["--delimiter", r"<\x00>"],
            b"a<b<\0c<\0>\0>>d<\0><<\0>.<\0>",
            b"You sent: a<b<\0c<\0>You sent: \0>>d<\0>You sent: <<\0>",
        ),
    ];
    for (args, input, expected) in cases {
        let server = Server::start(args);
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        let got = exchange(server.addr(), &bytes);
        assert_eq!(show(&got), show(expected), "with {args:?}");
    }
}

#[test]
fn more_connections_than_file_descriptors_do_not_stop_the_server() {
    // Few enough that the connections waiting for a descriptor fit in the listen queue even
    // where the kernel caps it at 128 (the old `somaxconn` default), so no connect stalls.
    const DESCRIPTORS: usize = 32;
    let server_bin = Server::command(&[]).get_program().to_owned();
    // `ulimit -n` in the shell sets the soft and the hard limit, so the server cannot raise
    // its own; `exec` keeps the process id, so the server is the process the harness watches.
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(format!("ulimit -n {DESCRIPTORS} && exec \"$0\" \"$@\""))
        .arg(server_bin)
        .args(["--host", "127.0.0.1", "--port", "0"])
        .env("RUST_LOG", "info");
    let mut server = Server::launch(command, 1).expect("server starts");

    let mut early = server.connect();
    early.send(b"before\r\n");
    early.expect(b"You sent: before\r\n");

    // Three times as many connections as descriptors: the kernel completes them all (the
    // listen backlog is far larger), the server accepts until it runs out of descriptors.
    let flood: Vec<Peer> = (0..3 * DESCRIPTORS)
        .map(|i| {
            let mut peer = server.connect();
            peer.send(format!("flood {i}\r\n").as_bytes());
            peer
        })
        .collect();
    // Its log shows accept failing with EMFILE: out of descriptors, as intended.
    server.wait_for_log("(os error 24)");
    assert!(
        server.is_running(),
        "the server exited when out of descriptors"
    );
    // A connection it already had is served as before.
    early.send(b"during\r\n");
    early.expect(b"You sent: during\r\n");

    // Once the flood is gone (closed with replies unread, so mostly reset), descriptors come
    // back and a new connection is served normally; the queued ones go first.
    drop(flood);
    let got = exchange(server.addr(), &[b"after\r\n.\r\n"]);
    assert_eq!(show(&got), show(b"You sent: after\r\n"));
    assert!(server.is_running(), "the server exited");
    early.send(b".\r\n");
    early.expect_closed();
}

#[test]
fn invalid_configuration_is_one_clear_error_line_and_exit_2() {
    // Each case: the flags, then what the error line must say (besides naming the flag).
    let cases: &[(&[&str], &[&str])] = &[
        (&["--delimiter", ""], &["must not be empty"]),
        (&["--delimiter", "123456789"], &["9 bytes", "at most 8"]),
        // Nine bytes once its escapes are resolved, though typed as eighteen characters.
        (
            &["--delimiter", r"\r\n\r\n\r\n\r\n\r"],
            &["9 bytes", "at most 8"],
        ),
        (&["--max-line", "65537"], &["65537", "65536"]),
        (&["--max-line", "18446744073709551616"], &["not a number"]),
        (&["--max-line", "lots"], &["lots"]),
        (&["--port", "70000"], &["70000", "65535"]),
        (&["--port=-1"], &["-1"]),
        (&["--port", "http"], &["http"]),
        (&["--idle-timeout", "soon"], &["soon"]),
        (&["--max-connections", "many"], &["many"]),
        (&["--threads", "two"], &["two"]),
        (&["--shutdown-grace", "1.5"], &["1.5"]),
    ];
    for &(args, says) in cases {
        let flag = args[0].split('=').next().unwrap();
        let child = Command::new(binary("chatecho-server"))
            .args(args)
            // Even with backtraces asked for, a usage error must not print one.
            .env("RUST_BACKTRACE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start chatecho-server");
        let out = Guarded::new(child).finish(PROCESS_TIMEOUT);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?} printed to stdout");
        assert!(
            !stderr.contains("panicked") && !stderr.contains("backtrace"),
            "{args:?}: {stderr}"
        );
        // One line says what is wrong; the rest is clap's pointer to --help.
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(
            lines.last().copied(),
            Some("For more information, try '--help'."),
            "{args:?}: {stderr}"
        );
        let error = lines[0];
        assert!(error.starts_with("error: "), "{args:?}: {error}");
        assert!(error.contains(flag), "{args:?}: {error}");
        for said in says {
            assert!(
                error.contains(said),
                "{args:?}: {error} does not say {said:?}"
            );
        }
    }
}
