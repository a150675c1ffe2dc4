//! `chatecho-server` as an operator meets it, over real loopback TCP: its command line and
//! its messages, the connection limits (in all and per address), the idle timeout, signals,
//! peers that reset, SO_REUSEPORT, accept errors, and its log (levels, summary, JSON, and a
//! stderr nobody reads).

use chatecho_tests::harness::{
    LogPipe, PROCESS_TIMEOUT, Peer, Server, eventually, exchange, reset, run_binary, show,
    wait_until_stalled,
};
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
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
        "--max-connections-per-ip",
        "--log-format",
        "--summary-interval",
        "--proxy-protocol",
        "--proxy-from",
        "--proxy-header-timeout",
        "LISTEN_FDS",
        "NOTIFY_SOCKET",
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

/// Runs the server with `args`, which must be refused as bad flags, and returns its stderr.
fn bad_flags_report(args: &[&str]) -> String {
    let out = run_binary("chatecho-server", args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    stderr
}

#[test]
fn a_mistyped_flag_is_reported_by_clap_with_a_suggestion_and_a_pointer_to_help() {
    let stderr = bad_flags_report(&["--max-lines", "5"]);
    assert!(
        stderr.starts_with("error: unexpected argument '--max-lines' found"),
        "{stderr}"
    );
    assert!(
        stderr.contains("tip: a similar argument exists: '--max-line'"),
        "{stderr}"
    );
    assert!(
        stderr
            .trim_end()
            .ends_with("For more information, try '--help'."),
        "{stderr}"
    );
}

#[test]
fn value_checks_say_in_words_what_is_needed() {
    for (args, says) in [
        (&["--threads", "0"][..], "at least 1 thread is needed"),
        (
            &["--max-connections", "0"],
            "at least 1 connection is needed",
        ),
        (&["--threads", "two"], "`two` is not a number of threads"),
        (&["--max-line", "0"], "must be between 1 and 65536"),
        (&["--delimiter", r"\q"], r"unknown escape \q"),
        (&["--log-format", "xml"], "[possible values: text, json]"),
    ] {
        let stderr = bad_flags_report(args);
        let first = stderr.lines().next().unwrap_or_default();
        assert!(
            first.starts_with(&format!("error: invalid value '{}'", args[1])),
            "{args:?}: {stderr}"
        );
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(!first.contains("non-zero"), "{args:?}: {stderr}");
    }
}

#[test]
fn a_port_in_use_is_a_clear_error_with_exit_1() {
    let first = Server::start(&[]);
    let port = first.addr().port().to_string();
    let failure = Server::try_start(&["--port", &port], 1).expect_err("second bind succeeded");
    assert_eq!(failure.status.code(), Some(1), "{failure:?}");
    assert!(failure.stdout.is_empty(), "{failure:?}");
    // One line says what went wrong, in the style of clap's reports (the other lines, if
    // any, are the debug log the harness asks for).
    let errors: Vec<&str> = failure
        .stderr
        .lines()
        .filter(|line| line.starts_with("error: "))
        .collect();
    assert_eq!(errors.len(), 1, "{}", failure.stderr);
    let error = errors[0];
    assert!(error.contains(&format!("127.0.0.1:{port}")), "{error}");
    assert!(error.contains("in use"), "{error}");
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
    // One connection, in the singular.
    assert_eq!(
        show(&got),
        show(b"ERROR server full (limit 1 connection)\n")
    );
}

#[test]
fn an_idle_connection_is_closed_after_its_replies_and_a_partial_line_is_dropped() {
    let server = Server::start(&["--idle-timeout", "1"]);
    let mut peer = server.connect();
    peer.send(b"hi\r\npartial");
    peer.expect(b"You sent: hi\r\n");
    // Nothing more is sent: the server says why it closes and closes (cleanly, no reset)
    // without answering the unterminated line, as at shutdown.
    peer.expect(b"ERROR idle timeout (limit 1 second)\r\n");
    peer.expect_closed();
    server.wait_for_log("reason=idle timeout");
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
    server.wait_for_log("reason=idle timeout");
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
    server.wait_for_log("reason=reset by peer");

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
        .filter(|line| line.contains("connection closed") && line.contains(&needle))
        .find_map(|line| {
            let rest = line.split("lines_echoed=").nth(1)?;
            rest.split_whitespace().next()?.parse().ok()
        })
}

#[test]
fn sigterm_delivers_the_replies_owed_then_exits_0() {
    let mut server = Server::start(&[]);

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
    // Each is told why the server closes, after the replies it is owed (none for the
    // unterminated line).
    idle.expect(b"ERROR server shutting down\r\n");
    idle.expect_closed();
    partial.expect(b"ERROR server shutting down\r\n");
    partial.expect_closed();
    let got = busy.read_to_close();
    let status = server.wait_exit();
    assert!(status.success(), "exit status {status}");
    sender.join().unwrap();

    // Whole replies, in order, for a prefix of the lines sent, then the notice...
    let text = String::from_utf8(got).expect("replies are ASCII");
    let text = text
        .strip_suffix("ERROR server shutting down\r\n")
        .unwrap_or_else(|| panic!("no notice at the end of {}", &text[text.len() - 100..]));
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

#[test]
fn one_address_gets_at_most_its_share_and_another_address_is_still_served() {
    let server = Server::start(&["--max-connections", "10", "--max-connections-per-ip", "2"]);
    let addr = server.addr();
    let here = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
    let there = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let mut first = Peer::connect_from(addr, here);
    let mut second = Peer::connect_from(addr, here);
    for (i, peer) in [&mut first, &mut second].into_iter().enumerate() {
        peer.send(format!("here {i}\r\n").as_bytes());
        peer.expect(format!("You sent: here {i}\r\n").as_bytes());
    }
    // A third from the same address is told and closed, though the server has room...
    let got = Peer::connect_from(addr, here).read_to_close();
    assert_eq!(
        show(&got),
        show(b"ERROR server full for your address (limit 2 connections per address)\r\n")
    );
    // ...which another address gets.
    let mut other = Peer::connect_from(addr, there);
    other.send(b"there\r\n");
    other.expect(b"You sent: there\r\n");
    server.wait_for_log("reason=server full for this address");

    // A place given back is taken again.
    first.send(b".\r\n");
    first.expect_closed();
    eventually("the address has a place again", || {
        let mut peer = Peer::connect_from(addr, here);
        peer.send(b"again\r\n.\r\n");
        (peer.read_to_close() == b"You sent: again\r\n").then_some(())
    });
    second.send(b"still here\r\n");
    second.expect(b"You sent: still here\r\n");
}

#[test]
fn the_per_address_limit_is_on_by_default_and_turns_off_with_0() {
    let help = run_binary("chatecho-server", &["--help"]);
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("--max-connections-per-ip <N>") && help.contains("[default: 1000]"),
        "{help}"
    );
    // Off: one address may take every place.
    let server = Server::start(&["--max-connections", "3", "--max-connections-per-ip", "0"]);
    let mut peers: Vec<Peer> = (0..3).map(|_| server.connect()).collect();
    for (i, peer) in peers.iter_mut().enumerate() {
        peer.send(format!("{i}\r\n").as_bytes());
        peer.expect(format!("You sent: {i}\r\n").as_bytes());
    }
    assert_eq!(
        show(&server.connect().read_to_close()),
        show(b"ERROR server full (limit 3 connections)\r\n")
    );
}

/// Connections that each send a line and the quit line, from `threads` threads at once;
/// panics unless every one is answered exactly.
fn answered_connections(addr: SocketAddr, connections: usize, threads: usize) {
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            thread::spawn(move || {
                for i in (t..connections).step_by(threads) {
                    let line = format!("connection {i}\r\n.\r\n");
                    let got = exchange(addr, &[line.as_bytes()]);
                    let expected = format!("You sent: connection {i}\r\n");
                    assert_eq!(show(&got), show(expected.as_bytes()));
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("a connection was not answered");
    }
}

/// Regression: logging wrote to stderr on the executor threads, so once a pipe that nobody
/// reads was full (64 KiB, a few hundred connections' log lines), every thread blocked in
/// `write` and the server stopped answering.
#[test]
fn with_a_stderr_nobody_reads_5000_connections_are_all_answered() {
    let (held, stderr) = mpsc::channel();
    // Every connection logs at debug: far more than the pipe and the log's queue hold.
    let server = Server::launch_with_log(Server::command(&[]), 1, LogPipe::Unread(held))
        .expect("server starts");
    let mut stderr = stderr.recv().expect("the stderr pipe");
    answered_connections(server.addr(), 5000, 8);

    // Read now: the log catches up and says how many lines it had to drop.
    let (tx, lines) = mpsc::channel();
    thread::spawn(move || {
        let mut log = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = stderr.read(&mut buf) {
            log.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&log);
            if let Some(line) = text.lines().find(|l| l.contains("log lines dropped")) {
                let _ = tx.send(line.to_owned());
                return;
            }
        }
    });
    let line = lines
        .recv_timeout(PROCESS_TIMEOUT)
        .expect("no report of dropped log lines");
    let dropped: u64 = line
        .split("dropped_lines=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {line:?}"));
    assert!(dropped > 0, "{line}");
}

/// Starts the server with `args` and the log at its default level, `info`, and waits for
/// its start line.
fn start_logging_at_info(args: &[&str]) -> Server {
    let mut command = Server::command(args);
    command.env("RUST_LOG", "info");
    let server = Server::launch(command, 1).expect("server starts");
    server.wait_for_log("started");
    server
}

/// The sum of `field` over the summary lines of `log`.
fn summed(log: &str, field: &str) -> u64 {
    log.lines()
        .filter(|line| line.contains("summary of the last"))
        .filter_map(|line| {
            let rest = line.split(&format!(" {field}=")).nth(1)?;
            rest.split_whitespace().next()?.parse::<u64>().ok()
        })
        .sum()
}

#[test]
fn at_info_the_log_has_start_summary_and_stop_and_no_line_per_connection() {
    let mut server = start_logging_at_info(&["--summary-interval", "1"]);
    answered_connections(server.addr(), 3, 1);
    // A peer that resets is its own business, not an event at info.
    let mut peer = server.connect();
    peer.send(b"half a li");
    reset(peer.stream().try_clone().unwrap());
    drop(peer);
    // Every connection shows in the summaries: the counts add up to what was done.
    eventually("every connection is in a summary", || {
        let log = server.log();
        (summed(&log, "accepted") == 4
            && summed(&log, "closed") == 4
            && summed(&log, "lines_answered") == 3)
            .then_some(())
    });
    server.signal("TERM");
    assert!(server.wait_exit().success());
    let log = server.log();
    // The last line has the totals of the whole run.
    let stopped = log.lines().last().unwrap_or_default();
    assert!(stopped.contains("stopped"), "{log}");
    assert!(stopped.contains(" accepted=4 "), "{stopped}");
    assert!(stopped.contains(" lines_answered=3 "), "{stopped}");
    for quiet in [
        "connection opened",
        "connection closed",
        "reset",
        "WARN",
        "ERROR",
    ] {
        assert!(!log.contains(quiet), "{quiet:?} at info:\n{log}");
    }
}

#[test]
fn log_format_json_writes_one_json_object_per_line() {
    let mut server = start_logging_at_info(&["--log-format", "json"]);
    server.signal("TERM");
    assert!(server.wait_exit().success());
    let log = server.log();
    let events: Vec<serde_json::Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let started = events
        .iter()
        .find(|event| event["fields"]["message"] == "started")
        .unwrap_or_else(|| panic!("no start event:\n{log}"));
    assert_eq!(started["level"], "INFO");
    assert_eq!(
        started["fields"]["listening"],
        server.addr().to_string().as_str()
    );
    assert!(
        events.iter().any(|e| e["fields"]["message"] == "stopped"),
        "{log}"
    );
}
