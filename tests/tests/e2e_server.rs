//! `chatecho-server` as an operator meets it, over real loopback TCP: its command line, the
//! connection limit, the idle timeout, signals, peers that reset, SO_REUSEPORT, accept errors.

use chatecho_tests::harness::{
    eventually, exchange, reset, run_binary, show, wait_until_stalled, Peer, Server,
};
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

#[test]
fn help_describes_every_flag_and_version_prints() {
    let help = run_binary("chatecho-server", &["--help"]);
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--host",
        "--port",
        "--delimiter",
        "--max-line",
        "--idle-timeout",
        "--max-connections",
        "--threads",
        "--reuse-port",
        "--shutdown-grace",
        "listening on",
        "SIGTERM",
    ] {
        assert!(
            text.contains(flag),
            "--help does not mention {flag}:\n{text}"
        );
    }
    let version = run_binary("chatecho-server", &["--version"]);
    assert!(version.status.success());
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("chatecho-server {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn bad_flags_exit_2_with_a_message_and_no_panic() {
    for args in [
        &["--bogus"][..],
        &["--port", "70000"],
        &["--max-line", "0"],
        &["--max-line", "65537"],
        &["--delimiter", ""],
        &["--delimiter", "123456789"],
        &["--delimiter", r"\q"],
        &["--delimiter", r"\x4"],
        &["--threads", "0"],
        &["--max-connections", "0"],
        &["--idle-timeout", "soon"],
    ] {
        let out = run_binary("chatecho-server", args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?} printed to stdout");
    }
}

#[test]
fn a_port_in_use_is_a_clear_error_with_exit_1() {
    let first = Server::start(&[]);
    let port = first.addr().port().to_string();
    let failure = Server::try_start(&["--port", &port], 1).expect_err("second bind succeeded");
    assert_eq!(failure.status.code(), Some(1), "{failure:?}");
    assert!(failure.stdout.is_empty(), "{failure:?}");
    let stderr = failure.stderr.trim();
    assert!(stderr.contains(&format!("127.0.0.1:{port}")), "{stderr}");
    assert!(stderr.contains("in use"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn over_max_connections_a_newcomer_is_told_and_closed_and_the_others_go_on() {
    let server = Server::start(&["--max-connections", "2"]);
    let mut first = server.connect();
    let mut second = server.connect();
    // An answer proves the server took the connection (and counted it).
    first.send(b"one\r\n");
    first.expect(b"You sent: one\r\n");
    second.send(b"two\r\n");
    second.expect(b"You sent: two\r\n");

    let mut third = server.connect();
    let got = third.read_to_close();
    assert_eq!(
        show(&got),
        show(b"ERROR server full (limit 2 connections)\r\n")
    );

    first.send(b"still here\r\n");
    first.expect(b"You sent: still here\r\n");
    first.send(b".\r\n");
    first.expect_closed();

    // The slot is given back when the connection's task ends, shortly after the close.
    eventually("a slot is free again", || {
        let got = exchange(server.addr(), &[b"four\r\n.\r\n"]);
        (got == b"You sent: four\r\n").then_some(())
    });
    second.send(b"two again\r\n");
    second.expect(b"You sent: two again\r\n");
}

#[test]
fn the_server_full_reply_uses_the_configured_delimiter() {
    let server = Server::start(&["--max-connections", "1", "--delimiter", r"\n"]);
    let mut first = server.connect();
    first.send(b"a\n");
    first.expect(b"You sent: a\n");
    let got = server.connect().read_to_close();
    assert_eq!(
        show(&got),
        show(b"ERROR server full (limit 1 connections)\n")
    );
}

#[test]
fn an_idle_connection_is_closed_after_its_replies_and_a_partial_line_is_dropped() {
    let server = Server::start(&["--idle-timeout", "1"]);
    let mut peer = server.connect();
    peer.send(b"hi\r\npartial");
    peer.expect(b"You sent: hi\r\n");
    // Nothing more is sent: the server closes (cleanly, no reset) without answering the
    // unterminated line, as at shutdown.
    peer.expect_closed();
    server.wait_for_log("idle timeout");
    // Other connections are unaffected.
    assert_eq!(
        exchange(server.addr(), &[b"x\r\n.\r\n"]),
        b"You sent: x\r\n"
    );
}

#[test]
fn a_peer_that_stops_reading_is_closed_by_the_idle_timeout() {
    let server = Server::start(&["--idle-timeout", "1", "--max-connections", "1"]);
    let peer = server.connect();
    let mut writer = peer.stream().try_clone().unwrap();
    // Far more replies than the socket buffers hold, and never read: the server's writes
    // stall, and the stall counts as idleness.
    let sender = thread::spawn(move || {
        let lines = b"x\r\n".repeat(1 << 20);
        for _ in 0..64 {
            if writer.write_all(&lines).is_err() {
                return;
            }
        }
    });
    server.wait_for_log("peer stopped reading");
    // The slot is free again (the only one): a new connection is served.
    eventually("a slot is free again", || {
        let got = exchange(server.addr(), &[b"y\r\n.\r\n"]);
        (got == b"You sent: y\r\n").then_some(())
    });
    drop(peer);
    sender.join().unwrap();
}

#[test]
fn a_peer_that_resets_mid_line_does_not_disturb_the_server() {
    let server = Server::start(&["--max-connections", "1"]);
    let mut peer = server.connect();
    peer.send(b"done\r\nhalf a li");
    peer.expect(b"You sent: done\r\n");
    reset(peer.stream().try_clone().unwrap());
    drop(peer);
    server.wait_for_log("reset");

    // The reset connection's slot comes back and the server serves on.
    eventually("a slot is free again", || {
        let got = exchange(server.addr(), &[b"next\r\n.\r\n"]);
        (got == b"You sent: next\r\n").then_some(())
    });
}

#[test]
fn reuse_port_lets_two_servers_share_a_port() {
    let first = Server::start(&["--reuse-port"]);
    let port = first.addr().port().to_string();
    let second = Server::start(&["--reuse-port", "--port", &port]);
    assert_eq!(second.addr(), first.addr());

    // Without the flag the port is taken.
    let failure = Server::try_start(&["--port", &port], 1).expect_err("bind without reuse");
    assert_eq!(failure.status.code(), Some(1), "{failure:?}");

    for i in 0..8 {
        let line = format!("conn {i}\r\n.\r\n");
        let got = exchange(first.addr(), &[line.as_bytes()]);
        assert_eq!(
            show(&got),
            show(format!("You sent: conn {i}\r\n").as_bytes())
        );
    }
    // Either process alone serves the port.
    let addr = first.addr();
    drop(first);
    let got = exchange(addr, &[b"after\r\n.\r\n"]);
    assert_eq!(show(&got), show(b"You sent: after\r\n"));
    drop(second);
}

/// The `lines_echoed` count the server logged (at debug) for the connection from `peer`.
fn lines_echoed(log: &str, peer: SocketAddr) -> Option<u64> {
    let needle = format!("peer={peer} ");
    log.lines()
        .filter(|line| line.contains("connection stats") && line.contains(&needle))
        .find_map(|line| {
            let rest = line.split("lines_echoed=").nth(1)?;
            rest.split_whitespace().next()?.parse().ok()
        })
}

#[test]
fn sigterm_delivers_the_replies_owed_then_exits_0() {
    let mut command = Server::command(&[]);
    command.env("RUST_LOG", "info,chatecho_server=debug");
    let mut server = Server::launch(command, 1).expect("server starts");

    // An idle connection, a connection with an unterminated line, and a busy one that has
    // sent many lines and read none of the replies.
    let mut idle = server.connect();
    idle.send(b"hello\r\n");
    idle.expect(b"You sent: hello\r\n");
    let mut partial = server.connect();
    partial.send(b"no delimiter yet");
    let mut busy = server.connect();
    busy.send(b"first\r\n");
    busy.expect(b"You sent: first\r\n");
    let busy_addr = busy.stream().local_addr().unwrap();
    let mut writer = busy.stream().try_clone().unwrap();
    let lines = 300_000usize;
    let sender = thread::spawn(move || {
        let mut stream = Vec::new();
        for i in 0..lines {
            stream.extend_from_slice(format!("line {i}\r\n").as_bytes());
        }
        // The server stops reading at shutdown, so the end of this may never be taken.
        if writer.write_all(&stream).is_ok() {
            let _ = writer.shutdown(std::net::Shutdown::Write);
        }
    });
    // Let the busy connection's buffers fill, so that replies are owed at the signal.
    thread::sleep(Duration::from_millis(300));

    server.signal("TERM");
    server.wait_for_log("shutting down");
    idle.expect_closed();
    partial.expect_closed();
    let got = busy.read_to_close();
    let status = server.wait_exit();
    assert!(status.success(), "exit status {status}");
    sender.join().unwrap();

    // Whole replies, in order, for a prefix of the lines sent...
    let text = String::from_utf8(got).expect("replies are ASCII");
    let mut count = 0u64;
    for (i, reply) in text.split_terminator("\r\n").enumerate() {
        assert_eq!(reply, format!("You sent: line {i}"));
        count += 1;
    }
    assert!(text.is_empty() || text.ends_with("\r\n"), "a reply was cut");
    // ...and every one the server answered reached the peer.
    let log = server.log();
    let echoed = lines_echoed(&log, busy_addr).expect("stats logged for the busy connection");
    assert_eq!(
        count + 1,
        echoed,
        "replies counted by the server vs received"
    );

    // Not listening any more.
    assert!(TcpStream::connect(server.addr()).is_err());
}

#[test]
fn sigint_with_no_connections_exits_0() {
    let mut server = Server::start(&[]);
    server.signal("INT");
    let status = server.wait_exit();
    assert!(status.success(), "exit status {status}");
}

#[test]
fn a_second_signal_exits_at_once() {
    let mut server = Server::start(&["--shutdown-grace", "600"]);
    // A connection that cannot finish: it owes far more replies than the socket buffers
    // hold, and its peer never reads them.
    let peer = server.connect();
    let mut writer = peer.stream().try_clone().unwrap();
    let written = Arc::new(AtomicU64::new(0));
    let progress = written.clone();
    let sender = thread::spawn(move || {
        let lines = b"x\r\n".repeat(1 << 16);
        for _ in 0..1024 {
            if writer.write_all(&lines).is_err() {
                return;
            }
            progress.fetch_add(lines.len() as u64, Ordering::Relaxed);
        }
    });
    // Each 3-byte line owes a 13-byte reply: once the sender makes no progress, the
    // server is stuck writing replies nobody reads.
    wait_until_stalled("the sender stalls", &written);

    server.signal("TERM");
    server.wait_for_log("shutting down");
    server.signal("TERM");
    let status = server.wait_exit();
    assert_eq!(status.code(), Some(128 + 15), "exit status {status}");
    drop(peer);
    sender.join().unwrap();
}

#[test]
fn accept_errors_are_survived() {
    // With few file descriptors, the pending connections beyond them make accept fail
    // (EMFILE); the server must back off, retry, and serve them once descriptors free up.
    let server_bin = Server::command(&[]).get_program().to_owned();
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg("ulimit -n 24 && exec \"$0\" \"$@\"")
        .arg(server_bin)
        .args(["--host", "127.0.0.1", "--port", "0", "--threads", "1"])
        .env("RUST_LOG", "info");
    let server = Server::launch(command, 1).expect("server starts");
    let mut peers: Vec<Peer> = (0..40).map(|_| server.connect()).collect();
    server.wait_for_log("accept failed");
    for (i, peer) in peers.iter_mut().enumerate() {
        peer.send(format!("peer {i}\r\n.\r\n").as_bytes());
    }
    for (i, peer) in peers.iter_mut().enumerate() {
        peer.expect(format!("You sent: peer {i}\r\n").as_bytes());
        peer.expect_closed();
    }
}

#[test]
fn connections_are_served_concurrently_on_several_threads() {
    let server = Server::start(&["--threads", "4"]);
    let handles: Vec<_> = (0..16)
        .map(|t| {
            let addr = server.addr();
            thread::spawn(move || {
                let mut input = Vec::new();
                let mut expected = Vec::new();
                for i in 0..2000 {
                    input.extend_from_slice(format!("t{t} l{i}\r\n").as_bytes());
                    expected.extend_from_slice(format!("You sent: t{t} l{i}\r\n").as_bytes());
                }
                input.extend_from_slice(b".\r\n");
                let got = exchange(addr, &[&input]);
                assert!(got == expected, "thread {t}: replies differ");
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
}
