//! The protocol of docs/protocol.md, over real loopback TCP against the `chatecho-server`
//! binary.
//!
//! The cases every server must pass are one list, `chatecho_tests::cases::CASES`, shared with
//! the RISC-V firmware's test (`tests/firmware.rs`): here each runs against a chatecho-server
//! started with the flags it needs, or against the server `CHATECHO_TARGET` names
//! (`chatecho_tests::target`). For streams of complete lines ending with the quit line, the
//! seed's Python server is the specification: the replies must be byte-identical to its
//! replies, as recorded in the transcripts of `tests/fixtures/seed`, and as it answers live
//! when its programs are found beside the repository (below). What concerns only the desktop
//! server's addresses (IPv6, every address of a name) is tested here alone.

use chatecho_tests::cases::{self, converse_then_quit};
use chatecho_tests::harness::{SeedServer, Server, exchange, reference_dir, show};
use chatecho_tests::seed;
use chatecho_tests::target::Target;
use std::collections::HashSet;
use std::net::{SocketAddr, ToSocketAddrs};

#[test]
fn shared_cases_against_chatecho_server_or_chatecho_target() {
    let target = Target::from_env_or_desktop();
    let summary = cases::run_all(&target);
    if matches!(target, Target::Desktop) {
        // The desktop server has every flag: it runs the whole list.
        assert!(summary.skipped.is_empty(), "{summary:?}");
        assert_eq!(summary.passed.len(), cases::CASES.len());
    }
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
fn the_quit_line_mid_conversation_closes_like_the_seed() {
    let Some(reference) = reference_dir() else {
        return;
    };
    converse_then_quit(SeedServer::start(&reference).addr);
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
