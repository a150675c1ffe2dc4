//! chatecho-server under systemd's conventions: socket activation (`LISTEN_FDS`), run by
//! `systemd-socket-activate` as systemd would run it from `dist/chatecho-server.socket`; the
//! `sd_notify` notifications (`READY=1`, `STATUS=`, `STOPPING=1`) on a `NOTIFY_SOCKET` this
//! test listens on; and the unit files of `dist/`, checked by `systemd-analyze`.
//!
//! Where `systemd-socket-activate` or `systemd-analyze` is not installed, the tests that need
//! it say they skipped and pass; CI installs them.

#![cfg(target_os = "linux")]

use chatecho_tests::harness::{
    Guarded, IO_TIMEOUT, LOG_LEVELS, PROCESS_TIMEOUT, Server, binary, exchange, external_program,
    free_port, show, workspace_root,
};
use std::io::Read as _;
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// A directory of its own for one test, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("chatecho-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("cannot make a temporary directory");
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `systemd-socket-activate` listening on `addr` and running our server, with `args`, on the
/// first connection.
fn socket_activated(activate: &PathBuf, addr: SocketAddr, args: &[&str]) -> Command {
    let mut command = Command::new(activate);
    command
        .arg("--listen")
        .arg(addr.to_string())
        .arg(format!("--setenv=RUST_LOG={LOG_LEVELS}"))
        .arg(binary("chatecho-server"))
        .args(args);
    command
}

/// Connects to `addr` once something listens there (bounded).
fn connect_when_listening(addr: SocketAddr) -> TcpStream {
    let deadline = Instant::now() + PROCESS_TIMEOUT;
    loop {
        match TcpStream::connect(addr) {
            Ok(stream) => return stream,
            Err(error) => {
                assert!(
                    Instant::now() < deadline,
                    "nothing listens on {addr}: {error}"
                );
                thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

#[test]
fn socket_activated_the_server_serves_the_listener_it_is_passed_and_ignores_host_and_port() {
    let Some(activate) = external_program("systemd-socket-activate") else {
        return;
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    // Port 1 and SO_REUSEPORT would be refused or mean something: they are not used.
    let command = socket_activated(&activate, addr, &["--port", "1", "--reuse-port"]);
    // systemd-socket-activate runs the server on the first connection: it starts listening
    // (and prints its address) only then.
    let launching = thread::spawn(move || Server::launch(command, 1));
    let mut first = connect_when_listening(addr);
    std::io::Write::write_all(&mut first, b"first\r\n.\r\n").unwrap();
    first.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut answer = Vec::new();
    first.read_to_end(&mut answer).unwrap();
    assert_eq!(show(&answer), show(b"You sent: first\r\n"));
    let mut server = match launching.join().unwrap() {
        Ok(server) => server,
        Err(failure) => panic!("the socket-activated server did not start: {failure:?}"),
    };
    assert_eq!(server.addrs, [addr]);
    let got = exchange(addr, &[b"second\r\n.\r\n"]);
    assert_eq!(show(&got), show(b"You sent: second\r\n"));
    server.wait_for_log(
        "socket activation: serving the listeners systemd passed; --host, --port and \
         --reuse-port have no effect listeners=1 ignored=\"--port --reuse-port\"",
    );
    server.signal("TERM");
    assert!(server.wait_exit().success(), "{}", server.log());
}

#[test]
fn socket_activated_with_accept_yes_the_server_says_it_needs_a_listener() {
    let Some(activate) = external_program("systemd-socket-activate") else {
        return;
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    // One server per connection, passed the connection: what Accept=yes does.
    let mut command = Command::new(activate);
    command
        .args(["--accept", "--listen"])
        .arg(addr.to_string())
        .arg(binary("chatecho-server"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut process = Guarded::new(command.spawn().expect("cannot run systemd-socket-activate"));
    let mut stderr = process.child().stderr.take().expect("piped");
    let said = Arc::new(Mutex::new(Vec::new()));
    let sink = said.clone();
    thread::spawn(move || {
        let mut buf = [0u8; 1024];
        while let Ok(n @ 1..) = stderr.read(&mut buf) {
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    let _connection = connect_when_listening(addr);
    let deadline = Instant::now() + PROCESS_TIMEOUT;
    let expected = "error: socket 1 of the 1 that systemd passed is not listening: the socket \
                    unit needs Accept=no (the default)";
    loop {
        let text = String::from_utf8_lossy(&said.lock().unwrap()).into_owned();
        if text.contains(expected) {
            break;
        }
        assert!(Instant::now() < deadline, "no clear error; stderr:\n{text}");
        thread::sleep(Duration::from_millis(20));
    }
}

/// Receives the next notification on `socket` as text (bounded).
fn notification(socket: &UnixDatagram) -> String {
    let mut buf = vec![0u8; 4096];
    let n = socket
        .recv(&mut buf)
        .expect("no notification arrived in time");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[test]
fn ready_status_and_stopping_arrive_on_the_notify_socket() {
    let dir = TempDir::new("notify");
    let path = dir.0.join("notify.sock");
    let socket = UnixDatagram::bind(&path).expect("cannot bind the notify socket");
    socket.set_read_timeout(Some(PROCESS_TIMEOUT)).unwrap();
    let mut command = Server::command(&["--summary-interval", "1"]);
    command.env("NOTIFY_SOCKET", &path);
    let mut server = match Server::launch(command, 1) {
        Ok(server) => server,
        Err(failure) => panic!("server did not start: {failure:?}"),
    };
    let ready = notification(&socket);
    assert!(
        ready.starts_with("READY=1\nSTATUS=0 open; since start 0 accepted"),
        "{ready}"
    );
    let got = exchange(server.addr(), &[b"hello\r\n.\r\n"]);
    assert_eq!(show(&got), show(b"You sent: hello\r\n"));
    // The summary reaches systemd as the status, once it counts the line.
    let deadline = Instant::now() + PROCESS_TIMEOUT;
    loop {
        let status = notification(&socket);
        assert!(status.starts_with("STATUS="), "{status}");
        if status.contains("1 accepted, 1 closed") && status.contains("1 lines answered") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the status never counted the line"
        );
    }
    server.signal("TERM");
    // The periodic status, sent around the signal, may come between the others: skip it.
    let next = || loop {
        let next = notification(&socket);
        if !next.starts_with("STATUS=0 open") {
            break next;
        }
    };
    let stopping = next();
    assert!(
        stopping.starts_with("STOPPING=1\nSTATUS=stopping: draining 0 connection(s)"),
        "{stopping}"
    );
    let stopped = next();
    assert!(stopped.starts_with("STATUS=stopped; 0 open"), "{stopped}");
    assert!(server.wait_exit().success());
}

/// The unit files of `dist/`, copied into `dir` with the binary's path set to the one built
/// here (so that `systemd-analyze verify` finds it where the unit says it is).
fn units_in(dir: &TempDir) -> (PathBuf, PathBuf) {
    let built = binary("chatecho-server");
    let mut paths = Vec::new();
    for name in ["chatecho-server.socket", "chatecho-server.service"] {
        let unit = std::fs::read_to_string(workspace_root().join("dist").join(name))
            .unwrap_or_else(|e| panic!("cannot read dist/{name}: {e}"));
        let installed = "/usr/local/bin/chatecho-server";
        if name.ends_with(".service") {
            assert!(unit.contains(&format!("ExecStart={installed}")), "{unit}");
        }
        let path = dir.0.join(name);
        std::fs::write(&path, unit.replace(installed, &built.to_string_lossy())).unwrap();
        paths.push(path);
    }
    (paths.remove(0), paths.remove(0))
}

#[test]
fn the_unit_files_pass_systemd_analyze_verify_and_their_exposure_is_ok() {
    let Some(analyze) = external_program("systemd-analyze") else {
        return;
    };
    let dir = TempDir::new("units");
    let (socket, service) = units_in(&dir);
    let verify = Command::new(&analyze)
        .arg("verify")
        .args([&socket, &service])
        .output()
        .expect("cannot run systemd-analyze");
    let said = String::from_utf8_lossy(&verify.stderr);
    assert!(
        verify.status.success(),
        "systemd-analyze verify failed:\n{said}"
    );
    // Warnings do not fail verify: none may be about our units.
    assert!(
        !said.contains("chatecho-server"),
        "systemd-analyze verify warns:\n{said}"
    );

    let security = Command::new(&analyze)
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(&service)
        .output()
        .expect("cannot run systemd-analyze");
    let report = String::from_utf8_lossy(&security.stdout);
    assert!(
        security.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&security.stderr)
    );
    let overall = report
        .lines()
        .find_map(|line| {
            line.split("Overall exposure level for chatecho-server.service: ")
                .nth(1)
        })
        .unwrap_or_else(|| panic!("no overall exposure level in:\n{report}"));
    let level = overall.split_whitespace().nth(1).unwrap_or_default();
    assert!(
        ["SAFE", "OK"].contains(&level),
        "the service's exposure is {overall}, worse than OK:\n{report}"
    );
}
