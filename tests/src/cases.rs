//! The end-to-end cases that every target must pass, in one list: chatecho-server runs them in
//! `tests/e2e_protocol.rs`, the RISC-V firmware under QEMU in `tests/firmware.rs`, and any
//! server at an address through `CHATECHO_TARGET` ([`crate::target`]).
//!
//! Each case connects to the address it is given and checks what comes back, over real TCP:
//! every rule of docs/protocol.md (against the seed's recorded transcripts where the seed is
//! the reference), pipelining, `chatecho-client`, and the stress a small server must survive
//! (a slow reader of 1 MiB, four clients at once, resets mid-line, 500 conversations one after
//! the other, a client beyond the connection limit). A case lists the server flags it needs;
//! a target that cannot have them skips it with a printed reason.

use crate::harness::{
    PROCESS_TIMEOUT, Peer, eventually, exchange, reset, run_client, show, wait_until_stalled,
};
use crate::seed::{self, every_byte, many_lengths_lines};
use crate::target::Target;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

/// One case: what it is called, the server flags it needs, and what it does.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    /// Its name, as a test would be named.
    pub name: &'static str,
    /// chatecho-server flags it needs (flag, value, flag, value...).
    pub flags: &'static [&'static str],
    /// The case, against a server at the address.
    pub run: fn(SocketAddr),
}

/// Every shared case, in the order they run.
pub const CASES: &[Case] = &[
    case("pipelined_lines_match_the_seed", &[], pipelined),
    case(
        "lines_split_across_reads_match_the_seed",
        &[],
        split_across_reads,
    ),
    case("binary_bytes_match_the_seed", &[], binary_bytes),
    case("empty_lines_match_the_seed", &[], empty_lines),
    case(
        "lines_that_merely_contain_a_full_stop_match_the_seed",
        &[],
        full_stops,
    ),
    case(
        "many_pipelined_lines_of_many_lengths_match_the_seed",
        &[],
        many_lengths,
    ),
    case(
        "a_line_at_the_default_limit_matches_the_seed",
        &[],
        at_the_limit,
    ),
    case(
        "the_quit_line_mid_conversation_closes",
        &[],
        converse_then_quit,
    ),
    case(
        "bytes_after_the_quit_line_are_ignored",
        &[],
        after_the_quit_line,
    ),
    case(
        "end_of_input_answers_the_unterminated_last_line_then_closes",
        &[],
        end_of_input,
    ),
    case(
        "a_line_over_the_default_limit_gets_one_error_and_the_stream_goes_on",
        &[],
        over_the_default_limit,
    ),
    case(
        "a_line_over_the_limit_gets_one_error_and_the_next_line_is_answered",
        &["--max-line", "10"],
        over_a_small_limit,
    ),
    case(
        "the_large_buffers_serve_lines_up_to_the_build_limit",
        &["--max-line", "65536"],
        large_buffers,
    ),
    case(
        "a_configured_delimiter_is_used_both_ways_and_found_across_reads",
        &["--delimiter", r"<\x00>"],
        configured_delimiter,
    ),
    case(
        "replies_owed_to_a_peer_that_does_not_read_are_all_delivered",
        &[],
        peer_that_does_not_read,
    ),
    case("chatecho_client_prints_every_reply", &[], client_piped),
    case(
        "chatecho_client_refused_as_full_shows_the_server_s_line_and_exits_3",
        &["--max-connections", "4"],
        client_refused,
    ),
    case(
        "a_slow_reader_of_1_mib_is_held_back_and_gets_every_reply",
        &[],
        slow_reader_of_1_mib,
    ),
    case(
        "four_clients_at_once_are_each_answered_in_turn",
        &[],
        four_at_once,
    ),
    case(
        "peers_that_reset_mid_line_leave_the_server_serving",
        &[],
        resets_mid_line,
    ),
    case(
        "500_conversations_one_after_another_leak_nothing",
        &[],
        five_hundred_conversations,
    ),
    case(
        "a_fifth_client_is_told_the_server_is_full_and_the_others_go_on",
        &["--max-connections", "4"],
        fifth_client,
    ),
];

const fn case(name: &'static str, flags: &'static [&'static str], run: fn(SocketAddr)) -> Case {
    Case { name, flags, run }
}

/// What a run of the list did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Cases that ran and passed (a failure panics).
    pub passed: Vec<&'static str>,
    /// Cases the target could not run.
    pub skipped: Vec<&'static str>,
}

/// Runs every case of [`CASES`] against `target`, one after another, saying which on stderr.
/// A failing case panics with its name.
pub fn run_all(target: &Target) -> Summary {
    let mut summary = Summary::default();
    for case in CASES {
        let Some(served) = target.serve(case.name, case.flags) else {
            summary.skipped.push(case.name);
            continue;
        };
        // A server that has few sessions gets them back between cases: a session is free
        // again only once the peer of the last case has closed its side too.
        if let Some(sessions) = target.max_connections() {
            eventually("the target has every session back", || {
                served_at_once(served.addr, sessions)
            });
        }
        let started = std::time::Instant::now();
        let outcome = std::panic::catch_unwind(|| (case.run)(served.addr));
        if let Err(panic) = outcome {
            let _ = writeln!(
                std::io::stderr(),
                "case {} FAILED against {}",
                case.name,
                target.name()
            );
            std::panic::resume_unwind(panic);
        }
        let _ = writeln!(
            std::io::stderr(),
            "case {}: ok against {} ({:.1} s)",
            case.name,
            target.name(),
            started.elapsed().as_secs_f64()
        );
        summary.passed.push(case.name);
    }
    summary
}

/// What the seed answers to `lines` (none of them `.`).
pub fn echoes(lines: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for line in lines {
        out.extend_from_slice(b"You sent: ");
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Sends the seed case `name`, checks that the replies are byte-identical to the seed's
/// recorded ones, and returns them.
fn same_as_seed(addr: SocketAddr, name: &str) -> Vec<u8> {
    let case = seed::case(name);
    let recorded = seed::transcript(&case);
    let got = exchange(addr, &case.chunk_slices());
    assert_eq!(
        show(&got),
        show(&recorded.received),
        "the replies differ from the seed's"
    );
    got
}

fn pipelined(addr: SocketAddr) {
    let got = same_as_seed(addr, "pipelined");
    assert_eq!(got, echoes(&[b"hello", b"world", b"third line"]));
}

fn split_across_reads(addr: SocketAddr) {
    // Delimiters split between writes, a line spread over several writes, one byte at a time.
    let got = same_as_seed(addr, "split_across_reads");
    assert_eq!(got, echoes(&[b"hello", b"world", b"ab", b"c"]));
}

fn binary_bytes(addr: SocketAddr) {
    // Every byte value, ascending (so no "\r\n" pair forms), NUL and invalid UTF-8 included;
    // then lone CR and LF inside a line.
    let got = same_as_seed(addr, "binary_bytes");
    assert_eq!(got, echoes(&[&every_byte(), b"a\rb\nc", b"\xff\xfe\x00"]));
}

fn empty_lines(addr: SocketAddr) {
    let got = same_as_seed(addr, "empty_lines");
    assert_eq!(got, echoes(&[b"", b"", b"x", b""]));
}

fn full_stops(addr: SocketAddr) {
    // Only a line that is exactly "." quits; these are ordinary lines, the quit line is last.
    let got = same_as_seed(addr, "lines_with_full_stops");
    assert_eq!(got, echoes(&[b"..", b" .", b". ", b"x.", b".x"]));
}

fn many_lengths(addr: SocketAddr) {
    let got = same_as_seed(addr, "many_lengths");
    let lines = many_lengths_lines();
    let refs: Vec<&[u8]> = lines.iter().map(Vec::as_slice).collect();
    assert_eq!(got, echoes(&refs));
}

fn at_the_limit(addr: SocketAddr) {
    let got = same_as_seed(addr, "line_at_the_default_limit");
    assert_eq!(got, echoes(&[&vec![b'x'; 4096]]));
}

/// A conversation: a line, its reply awaited, then the quit line, which closes.
pub fn converse_then_quit(addr: SocketAddr) {
    let mut peer = Peer::connect(addr);
    peer.send(b"first\r\n");
    peer.expect(b"You sent: first\r\n");
    peer.send(b".\r\n");
    peer.expect_closed();
}

fn after_the_quit_line(addr: SocketAddr) {
    let mut peer = Peer::connect(addr);
    peer.send(b"a\r\n.\r\nb\r\nc\r\n");
    peer.expect(b"You sent: a\r\n");
    peer.expect_closed();
}

fn end_of_input(addr: SocketAddr) {
    let mut peer = Peer::connect(addr);
    peer.send(b"one\r\ntwo");
    peer.shutdown_write();
    peer.expect(b"You sent: one\r\nYou sent: two\r\n");
    peer.expect_closed();

    // With nothing unterminated, end of input just closes after the replies.
    let mut peer = Peer::connect(addr);
    peer.send(b"one\r\n");
    peer.shutdown_write();
    peer.expect(b"You sent: one\r\n");
    peer.expect_closed();
}

fn over_the_default_limit(addr: SocketAddr) {
    let mut peer = Peer::connect(addr);
    let mut input = vec![b'y'; 4097];
    input.extend_from_slice(b"\r\nok\r\n");
    peer.send(&input);
    peer.expect(b"ERROR line too long (limit 4096 bytes)\r\nYou sent: ok\r\n");
    a_mebibyte_line_is_one_error(peer, b"ERROR line too long (limit 4096 bytes)\r\n");
}

/// A 1 MiB line over many writes: still one error (`error`), memory stays fixed, and the
/// conversation goes on to its quit line.
fn a_mebibyte_line_is_one_error(mut peer: Peer, error: &[u8]) {
    let chunk = vec![b'z'; 64 * 1024];
    for _ in 0..16 {
        peer.send(&chunk);
    }
    peer.send(b"\r\nafter\r\n.\r\n");
    peer.expect(error);
    peer.expect(b"You sent: after\r\n");
    peer.expect_closed();
}

fn over_a_small_limit(addr: SocketAddr) {
    let mut peer = Peer::connect(addr);
    peer.send(b"0123456789\r\n0123456789A\r\nok\r\n");
    peer.expect(b"You sent: 0123456789\r\n");
    peer.expect(b"ERROR line too long (limit 10 bytes)\r\n");
    peer.expect(b"You sent: ok\r\n");
    a_mebibyte_line_is_one_error(peer, b"ERROR line too long (limit 10 bytes)\r\n");
}

fn large_buffers(addr: SocketAddr) {
    let line = vec![b'q'; 65536];
    let mut stream = line.clone();
    stream.extend_from_slice(b"\r\n");
    stream.extend_from_slice(&vec![b'q'; 65537]);
    stream.extend_from_slice(b"\r\n.\r\n");
    let got = exchange(addr, &[&stream]);
    let mut expected = echoes(&[&line]);
    expected.extend_from_slice(b"ERROR line too long (limit 65536 bytes)\r\n");
    assert_eq!(show(&got), show(&expected));
}

fn configured_delimiter(addr: SocketAddr) {
    let got = exchange(addr, &[b"a\r\nb<", b"\0", b">c<\0>.<\0>"]);
    assert_eq!(show(&got), show(b"You sent: a\r\nb<\0>You sent: c<\0>"));
}

fn peer_that_does_not_read(addr: SocketAddr) {
    // The peer sends far more than the socket buffers and the session's output hold before
    // it reads anything: the server must stop reading (backpressure), not drop or grow.
    let lines = 200_000usize;
    let mut stream = Vec::new();
    for i in 0..lines {
        stream.extend_from_slice(format!("line {i}\r\n").as_bytes());
    }
    stream.extend_from_slice(b".\r\n");
    let mut peer = Peer::connect(addr);
    let mut writer = peer.stream().try_clone().unwrap();
    let sender = thread::spawn(move || writer.write_all(&stream).expect("send"));
    // Let the buffers fill up before reading.
    thread::sleep(Duration::from_millis(300));
    let got = peer.read_to_close();
    sender.join().unwrap();
    let mut expected = Vec::new();
    for i in 0..lines {
        expected.extend_from_slice(format!("You sent: line {i}\r\n").as_bytes());
    }
    assert_eq!(got.len(), expected.len());
    assert!(got == expected, "replies differ from the lines sent");
}

fn client_piped(addr: SocketAddr) {
    let out = run_client(addr, &[], b"hello\nworld\r\n\xff\xfe ok\n\na\rb\nlast");
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        text(&out.stdout),
        "You sent: hello\nYou sent: world\nYou sent: \u{FFFD}\u{FFFD} ok\nYou sent: \n\
         You sent: a\rb\nYou sent: last\n"
    );
    assert!(out.stderr.is_empty(), "stderr: {}", text(&out.stderr));
}

/// `count` peers connected at once, each answered once (so the server has taken each).
fn occupy(addr: SocketAddr, count: usize) -> Vec<Peer> {
    let mut peers: Vec<Peer> = (0..count).map(|_| Peer::connect(addr)).collect();
    for (i, peer) in peers.iter_mut().enumerate() {
        peer.send(format!("in {i}\r\n").as_bytes());
        peer.expect(format!("You sent: in {i}\r\n").as_bytes());
    }
    peers
}

fn client_refused(addr: SocketAddr) {
    let _occupants = occupy(addr, 4);
    let out = run_client(addr, &[], b"hello\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        format!("error: {addr} refused the connection: ERROR server full (limit 4 connections)")
    );
    assert!(out.stdout.is_empty());
}

/// Lines of 60 bytes with their number in them: `count` of them, then the quit line.
fn numbered_lines(count: usize) -> (Vec<u8>, Vec<u8>) {
    let (mut input, mut expected) = (Vec::new(), Vec::new());
    for i in 0..count {
        let line = format!("{i:>10} {}", "n".repeat(47));
        write!(input, "{line}\r\n").unwrap();
        write!(expected, "You sent: {line}\r\n").unwrap();
    }
    input.extend_from_slice(b".\r\n");
    (input, expected)
}

fn slow_reader_of_1_mib(addr: SocketAddr) {
    // 1 MiB of lines, sent while nothing is read until the sender is held back (or done):
    // the server must stop reading, and its TCP window closes on the sender. Then the peer
    // reads slowly, 4 KiB at a time, and gets every reply in order.
    let (input, expected) = numbered_lines((1 << 20) / 62);
    let peer = Peer::connect(addr);
    let mut writer = peer.stream().try_clone().unwrap();
    let written = Arc::new(AtomicU64::new(0));
    let progress = written.clone();
    let sender = thread::spawn(move || {
        for chunk in input.chunks(4096) {
            writer.write_all(chunk).expect("send");
            progress.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        }
    });
    wait_until_stalled("the sender is held back or done", &written);
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match peer.stream().read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => panic!("reading failed after {} bytes: {e}", got.len()),
        }
        thread::sleep(Duration::from_millis(1));
    }
    sender.join().expect("sender");
    assert_eq!(got.len(), expected.len());
    assert!(got == expected, "replies differ from the lines sent");
}

fn four_at_once(addr: SocketAddr) {
    let mut peers = occupy(addr, 4);
    for round in 0..10 {
        for (i, peer) in peers.iter_mut().enumerate() {
            peer.send(format!("peer {i} round {round}\r\n").as_bytes());
        }
        for (i, peer) in peers.iter_mut().enumerate() {
            peer.expect(format!("You sent: peer {i} round {round}\r\n").as_bytes());
        }
    }
    for peer in &mut peers {
        peer.send(b".\r\n");
        peer.expect_closed();
    }
}

/// Whether `count` peers are served at the same time, each with one line; `None` when the
/// server is not ready for that many yet (a peer refused as full, or closed, or reset).
fn served_at_once(addr: SocketAddr, count: usize) -> Option<()> {
    let mut peers = Vec::new();
    for i in 0..count {
        let mut stream = TcpStream::connect(addr).ok()?;
        stream.set_read_timeout(Some(PROCESS_TIMEOUT)).ok()?;
        stream
            .write_all(format!("together {i}\r\n").as_bytes())
            .ok()?;
        peers.push(stream);
    }
    for (i, stream) in peers.iter_mut().enumerate() {
        let expected = format!("You sent: together {i}\r\n");
        let mut got = vec![0u8; expected.len()];
        stream.read_exact(&mut got).ok()?;
        if got.starts_with(b"ERROR server full") {
            return None;
        }
        assert_eq!(show(&got), show(expected.as_bytes()));
    }
    // The quit line and our end of input together: by the time the server's close arrives,
    // it has ours, and its sessions are free for whatever comes next.
    for stream in &mut peers {
        stream.write_all(b".\r\n").ok()?;
        stream.shutdown(Shutdown::Write).ok()?;
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).ok()?;
    }
    Some(())
}

fn resets_mid_line(addr: SocketAddr) {
    let mut bystander = Peer::connect(addr);
    bystander.send(b"before\r\n");
    bystander.expect(b"You sent: before\r\n");
    for i in 0..8 {
        let mut peer = Peer::connect(addr);
        peer.send(format!("line {i}\r\nhalf a li").as_bytes());
        peer.expect(format!("You sent: line {i}\r\n").as_bytes());
        let stream = peer.stream().try_clone().unwrap();
        drop(peer);
        reset(stream);
        // The reset reaches the server a little later; a small server (four sessions, one of
        // them the bystander's) has the reset one back once it has.
        eventually("the reset peer's session is back", || {
            served_at_once(addr, 3)
        });
    }
    bystander.send(b"during\r\n");
    bystander.expect(b"You sent: during\r\n");
    bystander.send(b".\r\n");
    bystander.expect_closed();
    // Every session came back: four are served together.
    eventually("four served together after the resets", || {
        served_at_once(addr, 4)
    });
}

fn five_hundred_conversations(addr: SocketAddr) {
    for i in 0..500 {
        let mut peer = Peer::connect(addr);
        peer.send(format!("conversation {i}\r\n").as_bytes());
        peer.expect(format!("You sent: conversation {i}\r\n").as_bytes());
        peer.send(b".\r\n");
        peer.expect_closed();
    }
    // The 501st, and as many at once as a small server has sessions: nothing leaked.
    converse_then_quit(addr);
    eventually("four served together after 500 conversations", || {
        served_at_once(addr, 4)
    });
}

fn fifth_client(addr: SocketAddr) {
    let mut peers = occupy(addr, 4);
    let mut fifth = Peer::connect(addr);
    let got = fifth.read_until_gone();
    assert_eq!(
        show(&got),
        show(b"ERROR server full (limit 4 connections)\r\n")
    );
    for peer in &mut peers[1..] {
        peer.send(b"still here\r\n");
        peer.expect(b"You sent: still here\r\n");
    }
    peers[0].send(b".\r\n");
    peers[0].expect_closed();
    // The slot comes back once the first has closed.
    eventually("a slot is free again", || served_at_once(addr, 1));
    for peer in &mut peers[1..] {
        peer.send(b".\r\n");
        peer.expect_closed();
    }
}
