//! The protocol of docs/protocol.md, over real loopback TCP against the `chatecho-server`
//! binary.
//!
//! For streams of complete lines ending with the quit line, the seed's Python server is the
//! specification: our replies must be byte-identical to its replies, as recorded in the
//! transcripts of `tests/fixtures/seed` (`chatecho_tests::seed`), and as it answers live
//! when its programs are found beside the repository. Where the specification and the seed
//! part ways (bytes after the quit line in the same read, an unterminated last line at end of
//! input, the line limit), the rule is tested on its own.

use chatecho_tests::harness::{exchange, reference_dir, show, Peer, SeedServer, Server};
use chatecho_tests::seed::{self, every_byte, many_lengths_lines};
use std::collections::HashSet;
use std::net::{SocketAddr, ToSocketAddrs};
use std::thread;
use std::time::Duration;

/// What the seed answers to `lines` (none of them `.`), then the quit line.
fn echoes(lines: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for line in lines {
        out.extend_from_slice(b"You sent: ");
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Sends the case `name` to our server, checks the replies are byte-identical to the seed's
/// recorded ones and returns them.
fn same_as_seed(name: &str) -> Vec<u8> {
    let case = seed::case(name);
    let recorded = seed::transcript(&case);
    let ours = Server::start(&[]);
    let got = exchange(ours.addr(), &case.chunk_slices());
    assert_eq!(
        show(&got),
        show(&recorded.received),
        "our replies differ from the seed's"
    );
    got
}

#[test]
fn the_transcripts_are_what_the_seed_answers() {
    let Some(reference) = reference_dir() else {
        return;
    };
    let server = SeedServer::start(&reference);
    for case in seed::cases() {
        let recorded = seed::transcript(&case);
        let live = exchange(server.addr, &case.chunk_slices());
        assert!(
            live == recorded.received,
            "the seed now answers {} otherwise than recorded: {}",
            case.name,
            show(&live)
        );
    }
}

#[test]
fn pipelined_lines_match_the_seed() {
    let got = same_as_seed("pipelined");
    assert_eq!(got, echoes(&[b"hello", b"world", b"third line"]));
}

#[test]
fn lines_split_across_reads_match_the_seed() {
    // Delimiters split between writes, a line spread over several writes, one byte at a time.
    let got = same_as_seed("split_across_reads");
    assert_eq!(got, echoes(&[b"hello", b"world", b"ab", b"c"]));
}

#[test]
fn binary_bytes_match_the_seed() {
    // Every byte value, ascending (so no "\r\n" pair forms), NUL and invalid UTF-8 included;
    // then lone CR and LF inside a line.
    let got = same_as_seed("binary_bytes");
    assert_eq!(got, echoes(&[&every_byte(), b"a\rb\nc", b"\xff\xfe\x00"]));
}

#[test]
fn empty_lines_match_the_seed() {
    let got = same_as_seed("empty_lines");
    assert_eq!(got, echoes(&[b"", b"", b"x", b""]));
}

#[test]
fn lines_that_merely_contain_a_full_stop_match_the_seed() {
    // Only a line that is exactly "." quits; these are ordinary lines in the middle of the
    // stream, and the real quit line comes last.
    let got = same_as_seed("lines_with_full_stops");
    assert_eq!(got, echoes(&[b"..", b" .", b". ", b"x.", b".x"]));
}

/// A conversation: a line, its reply awaited, then the quit line, which closes.
fn converse_then_quit(addr: SocketAddr) {
    let mut peer = Peer::connect(addr);
    peer.send(b"first\r\n");
    peer.expect(b"You sent: first\r\n");
    peer.send(b".\r\n");
    peer.expect_closed();
}

#[test]
fn the_quit_line_mid_conversation_closes_like_the_seed() {
    converse_then_quit(Server::start(&[]).addr());
    if let Some(reference) = reference_dir() {
        converse_then_quit(SeedServer::start(&reference).addr);
    }
}

#[test]
fn many_pipelined_lines_of_many_lengths_match_the_seed() {
    let got = same_as_seed("many_lengths");
    let lines = many_lengths_lines();
    let refs: Vec<&[u8]> = lines.iter().map(Vec::as_slice).collect();
    assert_eq!(got, echoes(&refs));
}

#[test]
fn a_line_at_the_default_limit_matches_the_seed() {
    let got = same_as_seed("line_at_the_default_limit");
    assert_eq!(got, echoes(&[&vec![b'x'; 4096]]));
}

// Rules of docs/protocol.md where the seed is not the reference.

#[test]
fn bytes_after_the_quit_line_are_ignored() {
    let server = Server::start(&[]);
    let mut peer = server.connect();
    peer.send(b"a\r\n.\r\nb\r\nc\r\n");
    peer.expect(b"You sent: a\r\n");
    peer.expect_closed();
}

#[test]
fn end_of_input_answers_the_unterminated_last_line_then_closes() {
    let server = Server::start(&[]);
    let mut peer = server.connect();
    peer.send(b"one\r\ntwo");
    peer.shutdown_write();
    peer.expect(b"You sent: one\r\nYou sent: two\r\n");
    peer.expect_closed();

    // With nothing unterminated, end of input just closes after the replies.
    let mut peer = server.connect();
    peer.send(b"one\r\n");
    peer.shutdown_write();
    peer.expect(b"You sent: one\r\n");
    peer.expect_closed();
}

#[test]
fn a_line_over_the_limit_gets_one_error_and_the_next_line_is_answered() {
    let server = Server::start(&["--max-line", "10"]);
    let mut peer = server.connect();
    peer.send(b"0123456789\r\n0123456789A\r\nok\r\n");
    peer.expect(b"You sent: 0123456789\r\n");
    peer.expect(b"ERROR line too long (limit 10 bytes)\r\n");
    peer.expect(b"You sent: ok\r\n");

    // A huge line over many writes: still one error, memory stays fixed, the stream goes on.
    let chunk = vec![b'z'; 64 * 1024];
    for _ in 0..16 {
        peer.send(&chunk);
    }
    peer.send(b"\r\nafter\r\n.\r\n");
    peer.expect(b"ERROR line too long (limit 10 bytes)\r\nYou sent: after\r\n");
    peer.expect_closed();
}

#[test]
fn the_large_buffers_serve_lines_up_to_the_build_limit() {
    let server = Server::start(&["--max-line", "65536"]);
    let line = vec![b'q'; 65536];
    let mut stream = line.clone();
    stream.extend_from_slice(b"\r\n");
    stream.extend_from_slice(&vec![b'q'; 65537]);
    stream.extend_from_slice(b"\r\n.\r\n");
    let got = exchange(server.addr(), &[&stream]);
    let mut expected = echoes(&[&line]);
    expected.extend_from_slice(b"ERROR line too long (limit 65536 bytes)\r\n");
    assert_eq!(show(&got), show(&expected));
}

#[test]
fn a_configured_delimiter_is_used_both_ways_and_found_across_reads() {
    let server = Server::start(&["--delimiter", r"<\x00>"]);
    let got = exchange(server.addr(), &[b"a\r\nb<", b"\0", b">c<\0>.<\0>"]);
    assert_eq!(show(&got), show(b"You sent: a\r\nb<\0>You sent: c<\0>"));

    let server = Server::start(&["--delimiter", r"\n"]);
    let got = exchange(server.addr(), &[b"x\r\ny\n.\n"]);
    assert_eq!(show(&got), show(b"You sent: x\r\nYou sent: y\n"));
}

#[test]
fn replies_owed_to_a_peer_that_does_not_read_are_all_delivered() {
    // The peer sends far more than the socket buffers and the session's output hold before
    // it reads anything: the server must stop reading (backpressure), not drop or grow.
    let server = Server::start(&[]);
    let lines = 200_000usize;
    let mut stream = Vec::new();
    for i in 0..lines {
        stream.extend_from_slice(format!("line {i}\r\n").as_bytes());
    }
    stream.extend_from_slice(b".\r\n");
    let mut peer = server.connect();
    let mut writer = peer.stream().try_clone().unwrap();
    let sender = thread::spawn(move || {
        use std::io::Write;
        writer.write_all(&stream).expect("send");
    });
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

#[test]
fn ipv6_loopback_is_served() {
    let server = Server::start(&["--host", "::1"]);
    assert!(server.addr().is_ipv6(), "listening on {}", server.addr());
    let got = exchange(server.addr(), &[b"six\r\n.\r\n"]);
    assert_eq!(show(&got), show(b"You sent: six\r\n"));
}

#[test]
fn every_address_of_the_host_is_served_on_one_port() {
    // `localhost` resolves to 127.0.0.1 and, where configured, ::1: one line each, one port.
    let resolved: HashSet<SocketAddr> = ("localhost", 0).to_socket_addrs().unwrap().collect();
    let server = Server::start_listening(&["--host", "localhost"], resolved.len());
    assert_eq!(server.addrs.len(), resolved.len());
    let port = server.addr().port();
    for &addr in &server.addrs {
        assert!(addr.ip().is_loopback(), "{addr}");
        assert_eq!(addr.port(), port, "all addresses share the port");
        let got = exchange(addr, &[b"hi\r\n.\r\n"]);
        assert_eq!(show(&got), show(b"You sent: hi\r\n"));
    }
}
