//! The reference model against chatecho-server over loopback TCP: `chatecho_model::tcp`'s
//! subject runs `strategy::over_tcp` experiments (sends, receives, end of input, nothing a
//! peer cannot do) on fresh connections, with the server's defaults and with a small limit
//! and another delimiter, where overlong lines are common. The firmware's test runs the same
//! against the RISC-V board (`tests/firmware.rs`).
//!
//! Case counts are small (each experiment waits out a quiet interval after every receive
//! that comes up short); `PROPTEST_CASES=200 cargo test -p chatecho-tests --test
//! model_over_tcp` runs more.

use chatecho_model::tcp::TcpSubject;
use chatecho_model::{Protocol, check, strategy};
use chatecho_tests::harness::Server;
use proptest::prelude::*;
use std::net::SocketAddr;

/// Runs `cases` experiments for `protocol` against the server at `addr`.
fn model_over_tcp(addr: SocketAddr, protocol: Protocol, cases: u32) {
    proptest!(strategy::cases(cases), |(e in strategy::over_tcp(protocol.clone()))| {
        let mut subject = TcpSubject::connect(addr).expect("connect");
        if let Err(divergence) = check(&mut subject, &e) {
            panic!("{divergence}");
        }
    });
}

#[test]
fn chatecho_server_with_its_defaults_agrees_with_the_model() {
    let server = Server::start(&[]);
    model_over_tcp(server.addr(), Protocol::default(), 12);
}

#[test]
fn chatecho_server_with_a_small_limit_and_another_delimiter_agrees_with_the_model() {
    let server = Server::start(&["--max-line", "16", "--delimiter", r"\n"]);
    let protocol = Protocol {
        delimiter: b"\n".to_vec(),
        max_line: 16,
        ..Protocol::default()
    };
    model_over_tcp(server.addr(), protocol, 12);
}
