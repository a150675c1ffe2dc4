//! The PROXY protocol (`--proxy-protocol`) against the real `chatecho-server` over loopback:
//! valid headers of both versions make the client they name the connection's peer (for the
//! per-address limit and in the log), and hostile or broken ones (from an untrusted address,
//! truncated, stalled mid-way, too long, with a bad signature, a wrong length or an unknown
//! family) close the connection unserved, counted and logged with the reason, while the
//! server goes on serving everyone else. A header split one byte per write, and one followed
//! by lines in the same segment, lose nothing.
//!
//! The headers are written here byte by byte from the specification (HAProxy's
//! `proxy-protocol.txt`), not with the parser the server uses. A real HAProxy in front of the
//! server is tested in `haproxy.rs`.

use chatecho_tests::harness::{Peer, Server, exchange, show};
use std::io::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::thread;
use std::time::Duration;

/// The version 2 signature.
const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";

/// The client the valid headers name.
const CLIENT: &str = "192.0.2.7:51000";

/// A version 2 header: the signature, the version and command byte, the family and protocol
/// byte, the length, then `rest`.
fn v2(ver_cmd: u8, fam: u8, rest: &[u8]) -> Vec<u8> {
    let mut header = V2_SIGNATURE.to_vec();
    header.extend([ver_cmd, fam]);
    header.extend((rest.len() as u16).to_be_bytes());
    header.extend_from_slice(rest);
    header
}

/// A version 2 PROXY header for a TCP connection from `client` (IPv4) to `server`.
fn v2_tcp4(client: SocketAddr, server: SocketAddr) -> Vec<u8> {
    let (IpAddr::V4(c), IpAddr::V4(s)) = (client.ip(), server.ip()) else {
        panic!("IPv4 addresses only");
    };
    let mut block = Vec::new();
    block.extend(c.octets());
    block.extend(s.octets());
    block.extend(client.port().to_be_bytes());
    block.extend(server.port().to_be_bytes());
    // PROXY command, version 2; TCP over IPv4.
    v2(0x21, 0x11, &block)
}

/// A version 1 PROXY header for a TCP connection from `client` (IPv4) to `server`.
fn v1_tcp4(client: SocketAddr, server: SocketAddr) -> Vec<u8> {
    format!(
        "PROXY TCP4 {} {} {} {}\r\n",
        client.ip(),
        server.ip(),
        client.port(),
        server.port()
    )
    .into_bytes()
}

fn client() -> SocketAddr {
    CLIENT.parse().unwrap()
}

/// A server that takes the PROXY protocol from loopback, with `args` added.
fn proxied_server(args: &[&str]) -> Server {
    let mut all = vec!["--proxy-protocol", "--proxy-from", "127.0.0.1/32"];
    all.extend_from_slice(args);
    Server::start(&all)
}

/// Checks that `server` still serves a well-behaved balancer: a header, a line, the quit line.
fn still_serves(server: &Server) {
    let mut input = v2_tcp4("198.51.100.1:4000".parse().unwrap(), server.addr());
    input.extend_from_slice(b"still here\r\n.\r\n");
    let got = exchange(server.addr(), &[&input]);
    assert_eq!(show(&got), show(b"You sent: still here\r\n"));
}

/// Sends `input` on a connection of its own and expects the server to close it unserved:
/// nothing comes back but the close (a reset counts, as the server may close with the input
/// unread), and the log says why.
fn expect_refused(server: &Server, input: &[u8], reason: &str) {
    let mut peer = server.connect();
    peer.send(input);
    let got = peer.read_until_gone();
    assert!(got.is_empty(), "expected a close, got {}", show(&got));
    server.wait_for_log(&format!(
        "connection refused peer=127.0.0.1:{}",
        local_port(&peer)
    ));
    server.wait_for_log(reason);
}

fn local_port(peer: &Peer) -> u16 {
    peer.stream().local_addr().unwrap().port()
}

#[test]
fn a_header_of_either_version_makes_its_client_the_peer_and_the_lines_after_it_are_answered() {
    let server = proxied_server(&[]);
    for header in [
        v1_tcp4(client(), server.addr()),
        v2_tcp4(client(), server.addr()),
    ] {
        // Header and lines in one write: one segment, most likely one read on the server.
        let mut input = header.clone();
        input.extend_from_slice(b"one\r\ntwo\r\n.\r\n");
        let got = exchange(server.addr(), &[&input]);
        assert_eq!(show(&got), show(b"You sent: one\r\nYou sent: two\r\n"));
    }
    // The client is the peer the log names, and the balancer's address is named beside it.
    server.wait_for_log_count(&format!("connection opened peer={CLIENT}"), 2);
    server.wait_for_log_count(
        &format!("connection closed peer={CLIENT} reason=quit line"),
        2,
    );
    server.wait_for_log(&format!("PROXY header read peer={CLIENT} via=127.0.0.1:"));
    assert!(server.log().contains("version=1") && server.log().contains("version=2"));
}

#[test]
fn a_header_split_one_byte_per_write_is_read_whole_and_nothing_after_it_is_lost() {
    let server = proxied_server(&[]);
    for header in [
        v1_tcp4(client(), server.addr()),
        v2_tcp4(client(), server.addr()),
    ] {
        let mut input = header;
        input.extend_from_slice(b"byte by byte\r\n.\r\n");
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        let got = exchange(server.addr(), &bytes);
        assert_eq!(show(&got), show(b"You sent: byte by byte\r\n"));
    }
    server.wait_for_log_count(
        &format!("connection closed peer={CLIENT} reason=quit line"),
        2,
    );
}

#[test]
fn a_header_and_pipelined_lines_in_one_segment_lose_no_byte() {
    let server = proxied_server(&[]);
    // Many lines, of many lengths, straight after the header: the header's stage must take
    // the header's bytes and not one more.
    let mut lines = Vec::new();
    let mut expected = Vec::new();
    for i in 0..200usize {
        let line = "x".repeat(i * 7 % 90);
        lines.extend_from_slice(format!("{i} {line}\r\n").as_bytes());
        expected.extend_from_slice(format!("You sent: {i} {line}\r\n").as_bytes());
    }
    lines.extend_from_slice(b".\r\n");
    for header in [
        v1_tcp4(client(), server.addr()),
        v2_tcp4(client(), server.addr()),
    ] {
        let mut input = header;
        input.extend_from_slice(&lines);
        let got = exchange(server.addr(), &[&input]);
        assert_eq!(show(&got), show(&expected));
    }
}

#[test]
fn a_v2_header_with_long_tlvs_is_read_whole_up_to_the_limit() {
    let server = proxied_server(&[]);
    // The IPv4 addresses, then TLVs: a unique id (type 5) of 100 bytes and a NOOP (type 4)
    // that pads the header to 1024 bytes, the default limit.
    let mut block = v2_tcp4(client(), server.addr())[16..].to_vec();
    block.extend([0x05, 0, 100]);
    block.extend([b'u'; 100]);
    let padding = 1024 - 16 - block.len() - 3;
    block.extend([0x04, (padding >> 8) as u8, padding as u8]);
    block.resize(1024 - 16, 0);
    let header = v2(0x21, 0x11, &block);
    assert_eq!(header.len(), 1024);
    let mut input = header.clone();
    input.extend_from_slice(b"after the TLVs\r\n.\r\n");
    for chunks in [
        input.chunks(input.len()).collect::<Vec<_>>(),
        input.chunks(97).collect(),
    ] {
        let got = exchange(server.addr(), &chunks);
        assert_eq!(show(&got), show(b"You sent: after the TLVs\r\n"));
    }
    server.wait_for_log_count(&format!("connection opened peer={CLIENT}"), 2);
    // One byte more is over the limit.
    let mut over = v2(0x21, 0x11, &[block.as_slice(), &[0]].concat());
    over.extend_from_slice(b"hello\r\n");
    expect_refused(&server, &over, "reason=PROXY header over 1024 bytes");
}

#[test]
fn a_v2_local_header_is_served_as_the_balancers_own_connection() {
    let server = proxied_server(&[]);
    let mut peer = server.connect();
    // LOCAL command (a health check), no addresses; then a line.
    peer.send(&v2(0x20, 0x00, &[]));
    peer.send(b"health\r\n");
    peer.expect(b"You sent: health\r\n");
    let own = format!("127.0.0.1:{}", local_port(&peer));
    server.wait_for_log(&format!("connection opened peer={own}"));
    // A version 1 UNKNOWN header too.
    let mut peer = server.connect();
    peer.send(b"PROXY UNKNOWN\r\nunknown\r\n");
    peer.expect(b"You sent: unknown\r\n");
    server.wait_for_log(&format!(
        "connection opened peer=127.0.0.1:{}",
        local_port(&peer)
    ));
}

#[test]
fn a_header_from_an_untrusted_address_is_refused_and_trusted_ones_are_served() {
    // Only 127.0.0.2 may send headers.
    let server = Server::start(&["--proxy-protocol", "--proxy-from", "127.0.0.2"]);
    let mut header = v2_tcp4(client(), server.addr());
    header.extend_from_slice(b"hello\r\n");
    expect_refused(
        &server,
        &header,
        "reason=not a trusted source of PROXY headers",
    );
    let mut trusted = Peer::connect_from(server.addr(), "127.0.0.2".parse().unwrap());
    trusted.send(&header);
    trusted.expect(b"You sent: hello\r\n");
    server.wait_for_log(&format!("connection opened peer={CLIENT}"));
}

#[test]
fn a_connection_without_a_header_is_refused() {
    let server = proxied_server(&[]);
    expect_refused(
        &server,
        b"hello\r\n",
        "reason=invalid PROXY header: neither a version 1 nor a version 2 header",
    );
    still_serves(&server);
}

#[test]
fn a_truncated_header_is_refused_when_the_peer_ends_it() {
    let server = proxied_server(&[]);
    for header in [
        v1_tcp4(client(), server.addr()),
        v2_tcp4(client(), server.addr()),
    ] {
        let mut peer = server.connect();
        peer.send(&header[..header.len() - 3]);
        peer.shutdown_write();
        let got = peer.read_until_gone();
        assert!(got.is_empty(), "expected a close, got {}", show(&got));
    }
    server.wait_for_log_count("reason=closed before its PROXY header was complete", 2);
    still_serves(&server);
}

#[test]
fn a_header_that_stalls_mid_way_is_closed_at_its_deadline_while_others_are_served() {
    let mut server = proxied_server(&["--proxy-header-timeout", "1"]);
    let header = v2_tcp4(client(), server.addr());
    let mut stalled = server.connect();
    stalled.send(&header[..10]);
    // While it stalls, others are served.
    still_serves(&server);
    // The deadline closes it; it sent nothing more.
    let got = stalled.read_until_gone();
    assert!(got.is_empty(), "expected a close, got {}", show(&got));
    server.wait_for_log("reason=no complete PROXY header within 1s");
    still_serves(&server);
    // Counted in the summary as refused for the PROXY protocol.
    server.signal("TERM");
    assert!(server.wait_exit().success());
    server.wait_for_log("refused_proxy=1 ");
}

#[test]
fn a_v1_header_over_107_bytes_is_refused() {
    let server = proxied_server(&[]);
    // No end of line within the 107 bytes version 1 allows.
    let mut long = b"PROXY UNKNOWN ".to_vec();
    long.resize(120, b'x');
    expect_refused(&server, &long, "reason=PROXY header over 107 bytes");
    // An end of line past them does not make it valid.
    long.extend_from_slice(b"\r\nhello\r\n");
    expect_refused(&server, &long, "reason=PROXY header over 107 bytes");
    still_serves(&server);
}

#[test]
fn v2_headers_with_a_bad_signature_a_wrong_length_or_an_unknown_family_are_refused() {
    let server = proxied_server(&[]);
    let good = v2_tcp4(client(), server.addr());
    let mut bad_signature = good.clone();
    bad_signature[9] = b'X';
    expect_refused(&server, &bad_signature, "reason=invalid PROXY header");
    // A length too short for the IPv4 addresses the family announces.
    let mut short = good.clone();
    short[14..16].copy_from_slice(&4u16.to_be_bytes());
    expect_refused(&server, &short, "reason=invalid PROXY header");
    // A length over the size limit (1024 bytes by default): refused on sight, before the
    // bytes it announces.
    let mut long = good.clone();
    long[14..16].copy_from_slice(&4000u16.to_be_bytes());
    expect_refused(&server, &long, "reason=PROXY header over 1024 bytes");
    // Family 4 does not exist.
    let mut unknown_family = good.clone();
    unknown_family[13] = 0x41;
    expect_refused(&server, &unknown_family, "reason=invalid PROXY header");
    // Each was refused for its own reason, and all were counted.
    let log = server.log();
    assert!(log.contains("Invalid Address Family 40"), "{log}");
    assert!(log.contains("cannot store the 12 bytes required"), "{log}");
    assert!(log.contains("prefix of"), "{log}");
    still_serves(&server);
}

#[test]
fn the_per_address_limit_counts_the_clients_the_headers_name() {
    let server = proxied_server(&["--max-connections-per-ip", "1"]);
    let talk = |client: &str| {
        let mut peer = server.connect();
        peer.send(&v2_tcp4(client.parse().unwrap(), server.addr()));
        peer
    };
    let mut first = talk("192.0.2.7:1000");
    first.send(b"first\r\n");
    first.expect(b"You sent: first\r\n");
    // Another connection of the same client, through the same balancer: over its limit.
    let mut second = talk("192.0.2.7:1001");
    let refused = second.read_until_gone();
    assert_eq!(
        show(&refused),
        show(b"ERROR server full for your address (limit 1 connection per address)\r\n")
    );
    server.wait_for_log("connection refused peer=192.0.2.7:1001 reason=server full for this");
    // Another client through the same balancer is served.
    let mut other = talk("192.0.2.8:1000");
    other.send(b"other\r\n");
    other.expect(b"You sent: other\r\n");
    // The first client's place comes back when it leaves.
    first.send(b".\r\n");
    first.expect_closed();
    server.wait_for_log("connection closed peer=192.0.2.7:1000");
    let mut again = talk("192.0.2.7:1002");
    again.send(b"again\r\n");
    again.expect(b"You sent: again\r\n");
}

#[test]
fn hostile_headers_one_after_another_leave_the_server_serving_and_holding_nothing() {
    let mut server = proxied_server(&["--proxy-header-timeout", "1", "--threads", "1"]);
    let good = v2_tcp4(client(), server.addr());
    // Many connections each doing one hostile thing, some at once.
    let mut stalled = Vec::new();
    for i in 0..50 {
        let mut peer = server.connect();
        match i % 5 {
            0 => peer.send(&good[..i % good.len()]),
            1 => peer.send(b"GET / HTTP/1.1\r\n\r\n"),
            2 => peer.send(&[0xff; 300]),
            3 => {
                let mut bad = good.clone();
                bad[12] = 0x2f;
                peer.send(&bad);
            }
            _ => {
                let _ = peer.stream().write_all(&good[..5]);
            }
        }
        stalled.push(peer);
    }
    for mut peer in stalled {
        let got = peer.read_until_gone();
        assert!(got.is_empty(), "expected a close, got {}", show(&got));
    }
    still_serves(&server);
    thread::sleep(Duration::from_millis(100));
    server.signal("TERM");
    assert!(server.wait_exit().success());
    // Every hostile connection refused and counted; only the good one served; nothing left
    // open.
    server.wait_for_log("refused_proxy=50 ");
    server.wait_for_log("stopped open=0 accepted=51 closed=1 ");
}
