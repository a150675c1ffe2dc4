//! `TcpSubject` catches a server that is wrong over the network, and passes one that is right.
//!
//! The servers here are test doubles on loopback: each answers from the model itself (all
//! input so far through `Protocol::expected`, sending the replies owed by now), so the one
//! without a planted bug is right by construction, and each planted bug is the only thing
//! that can make `check` fail. Over a real connection, through real sockets and timeouts.

use chatecho_model::tcp::TcpSubject;
use chatecho_model::{DivergenceKind, Ending, Experiment, Protocol, Schedule, check, strategy};
use proptest::prelude::*;
use proptest::test_runner::{TestCaseError, TestRunner};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

/// What a double gets wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bug {
    /// Nothing: the model's answers, byte for byte, when they are owed.
    None,
    /// Frames each read on its own, forgetting a partial line at the end of a read: a
    /// delimiter split across two reads is never found.
    FramesEachReadAlone,
    /// At end of input, drops an unterminated last line instead of answering it.
    DropsTheLastLine,
}

/// A server on a free loopback port that answers `protocol` with `bug`, one thread per
/// connection, for as long as the test process lives.
fn double(protocol: Protocol, bug: Bug) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let protocol = protocol.clone();
            thread::spawn(move || serve(stream, &protocol, bug));
        }
    });
    addr
}

fn serve(mut stream: TcpStream, protocol: &Protocol, bug: Bug) {
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let (mut input, mut framed, mut sent) = (Vec::new(), Vec::new(), 0);
    let mut buf = [0u8; 8192];
    let output = loop {
        let n = match stream.read(&mut buf) {
            Ok(n) => n,
            Err(_) => return,
        };
        if n == 0 {
            let ending = match bug {
                Bug::DropsTheLastLine => Ending::Open,
                _ => Ending::Eof,
            };
            let expected = protocol.expected(&framed, ending);
            break expected.output[sent.min(expected.output.len())..].to_vec();
        }
        input.extend_from_slice(&buf[..n]);
        match bug {
            // Only this read's bytes, as if nothing came before.
            Bug::FramesEachReadAlone => {
                framed = buf[..n].to_vec();
                sent = 0;
            }
            _ => framed = input.clone(),
        }
        let expected = protocol.expected(&framed, Ending::Open);
        let owed = if expected.quit {
            expected.output.len()
        } else {
            expected.owed_by(framed.len())
        };
        if stream
            .write_all(&expected.output[sent.min(owed)..owed])
            .is_err()
        {
            return;
        }
        sent = sent.max(owed);
        if expected.quit {
            break Vec::new();
        }
    };
    let _ = stream.write_all(&output);
    // Close cleanly: our side, then whatever the peer still sends.
    let _ = stream.shutdown(Shutdown::Write);
    while let Ok(1..) = stream.read(&mut buf) {}
}

fn experiment(input: &[u8], reads: Vec<usize>, ending: Ending) -> Experiment {
    Experiment {
        protocol: Protocol::default(),
        input: input.to_vec(),
        schedule: Schedule {
            reads,
            drains: vec![usize::MAX],
            storage: Vec::new(),
            ending,
        },
    }
}

fn run(addr: SocketAddr, e: &Experiment) -> Result<(), Box<chatecho_model::Divergence>> {
    let mut subject = TcpSubject::connect(addr).unwrap();
    check(&mut subject, e).map(|_| ())
}

#[test]
fn a_right_server_passes_what_the_buggy_ones_fail() {
    let right = double(Protocol::default(), Bug::None);
    // The delimiter split across two sends, and an unterminated last line at end of input.
    let split = experiment(b"one\r\ntwo\r", vec![9, 0], Ending::Open);
    let split = Experiment {
        input: b"one\r\ntwo\r\nthree\r\n".to_vec(),
        ..split
    };
    let last = experiment(b"one\r\ntwo", vec![0], Ending::Eof);
    let quit = experiment(b"one\r\n.\r\nignored\r\n", vec![3, 0], Ending::Eof);
    for e in [&split, &last, &quit] {
        if let Err(divergence) = run(right, e) {
            panic!("the right server diverged on {e:?}:\n{divergence}");
        }
    }

    let divergence = run(
        double(Protocol::default(), Bug::FramesEachReadAlone),
        &split,
    )
    .expect_err("a delimiter split across reads went unnoticed");
    // "two\r" ends the first read; the second starts with "\n": the line it answers is wrong.
    assert!(
        matches!(divergence.kind, DivergenceKind::Output { offset: 25, .. }),
        "{divergence}"
    );
    let divergence = run(double(Protocol::default(), Bug::DropsTheLastLine), &last)
        .expect_err("a dropped last line went unnoticed");
    assert!(
        matches!(divergence.kind, DivergenceKind::Owed { .. }),
        "{divergence}"
    );
    // The end reason is not compared over TCP, but the close is: the buggy server closes
    // without the last reply.
    assert!(
        divergence.to_string().contains("You sent: two"),
        "{divergence}"
    );
}

/// Runs `over_tcp` experiments against `addr` until one fails or `cases` pass; returns the
/// failure, shrunk.
fn search(addr: SocketAddr, cases: u32) -> Result<(), String> {
    let mut runner = TestRunner::new(ProptestConfig {
        cases,
        failure_persistence: None,
        // Each experiment takes a second or so over TCP: shrink a little, not for minutes.
        max_shrink_iters: 16,
        ..ProptestConfig::default()
    });
    runner
        .run(&strategy::over_tcp(Protocol::default()), |e| {
            run(addr, &e).map_err(|d| TestCaseError::fail(d.to_string()))
        })
        .map_err(|failure| failure.to_string())
}

#[test]
fn the_strategy_finds_a_planted_bug_and_passes_the_right_server() {
    let cases = 16;
    search(double(Protocol::default(), Bug::None), cases)
        .unwrap_or_else(|failure| panic!("the right server failed: {failure}"));
    let failure = search(double(Protocol::default(), Bug::FramesEachReadAlone), cases)
        .expect_err("16 experiments did not find a delimiter split across reads");
    assert!(failure.contains("diverged from the model"), "{failure}");
}
