//! chatecho-server behind a real HAProxy (Debian's `haproxy`), on loopback: HAProxy relays
//! each client to a chatecho-server backend with the PROXY protocol, version 2
//! (`send-proxy-v2`) and version 1 (`send-proxy`). Through it, the protocol's cases are
//! answered byte for byte as directly; the per-address limit counts the real clients
//! (127.0.0.1 and 127.0.0.2), not HAProxy; the debug log names the clients; and HAProxy's
//! health checks (a `LOCAL` header, or `PROXY UNKNOWN`) are served as HAProxy's own
//! connections.
//!
//! Where `haproxy` is not installed, each test says it skipped and passes; CI installs it.

#![cfg(target_os = "linux")]

use chatecho_tests::harness::{
    Guarded, PROCESS_TIMEOUT, Peer, Server, exchange, external_program, free_port, show,
};
use chatecho_tests::seed;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How HAProxy talks to the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SendProxy {
    /// `send-proxy-v2`.
    V2,
    /// `send-proxy` (version 1, text).
    V1,
    /// No PROXY protocol: the backend sees HAProxy's address.
    Off,
}

impl SendProxy {
    fn keyword(self) -> &'static str {
        match self {
            Self::V2 => "send-proxy-v2",
            Self::V1 => "send-proxy",
            Self::Off => "",
        }
    }
}

/// A running HAProxy with a frontend on loopback and one chatecho-server behind it.
struct Haproxy {
    _process: Guarded,
    /// The frontend's address, where clients connect.
    front: SocketAddr,
    _dir: TempDir,
}

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Haproxy {
    /// Starts `haproxy` with a frontend on a free loopback port relaying to `backend` as
    /// `send` says, with health checks every `check` when given, and waits until it listens.
    fn start(haproxy: &Path, backend: SocketAddr, send: SendProxy, check: Option<u32>) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "chatecho-haproxy-{}-{}",
            std::process::id(),
            backend.port()
        ));
        std::fs::create_dir_all(&dir).expect("cannot make a directory for HAProxy's config");
        let dir = TempDir(dir);
        let front = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let check = check.map_or(String::new(), |ms| format!("check inter {ms}ms"));
        let config = format!(
            "global\n    maxconn 256\n\
             defaults\n    mode tcp\n    timeout connect 10s\n    timeout client 120s\n    \
             timeout server 120s\n\
             frontend chatecho\n    bind {front}\n    default_backend chatecho\n\
             backend chatecho\n    server chatecho {backend} {} {check}\n",
            send.keyword()
        );
        let path = dir.0.join("haproxy.cfg");
        std::fs::write(&path, config).expect("cannot write HAProxy's config");
        let mut process = Guarded::new(
            Command::new(haproxy)
                // In the foreground; quiet unless it fails.
                .args(["-db", "-q", "-f"])
                .arg(&path)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("cannot start haproxy"),
        );
        let deadline = Instant::now() + PROCESS_TIMEOUT;
        // Probing by connecting would make HAProxy open a backend connection: read the
        // kernel's table of listening sockets instead.
        while !listening(front) {
            if let Some(status) = process.child().try_wait().expect("poll haproxy") {
                panic!("haproxy exited before listening: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "haproxy never listened on {front}"
            );
            thread::sleep(Duration::from_millis(20));
        }
        Self {
            _process: process,
            front,
            _dir: dir,
        }
    }
}

/// Whether a TCP socket listens on `addr` (IPv4), by `/proc/net/tcp`.
fn listening(addr: SocketAddr) -> bool {
    let SocketAddr::V4(v4) = addr else {
        panic!("IPv4 only");
    };
    // Addresses are written in the kernel's byte order, ports in hexadecimal.
    let local = format!(
        "{:08X}:{:04X}",
        u32::from_ne_bytes(v4.ip().octets()),
        v4.port()
    );
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    table.lines().skip(1).any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // State 0A is LISTEN.
        fields.get(1) == Some(&local.as_str()) && fields.get(3) == Some(&"0A")
    })
}

/// A chatecho-server that takes the PROXY protocol from loopback, with `args` added.
fn proxied_server(args: &[&str]) -> Server {
    let mut all = vec!["--proxy-protocol", "--proxy-from", "127.0.0.0/8"];
    all.extend_from_slice(args);
    Server::start(&all)
}

fn the_protocol_cases_pass_through(send: SendProxy) {
    let Some(haproxy) = external_program("haproxy") else {
        return;
    };
    let server = proxied_server(&[]);
    let balancer = Haproxy::start(&haproxy, server.addr(), send, None);
    let direct = Server::start(&[]);
    for case in seed::cases() {
        let recorded = seed::transcript(&case);
        let through = exchange(balancer.front, &case.chunk_slices());
        let straight = exchange(direct.addr(), &case.chunk_slices());
        assert!(
            through == straight && through == recorded.received,
            "{}: through HAProxy ({send:?}) {} but directly {}",
            case.name,
            show(&through),
            show(&straight)
        );
    }
    // Every connection came with a header of the version HAProxy was told to send.
    let version = if send == SendProxy::V2 { 2 } else { 1 };
    server.wait_for_log_count(&format!("version={version}"), seed::cases().len());
    assert!(
        !server.log().contains("connection refused"),
        "{}",
        server.log()
    );
}

#[test]
fn the_protocol_cases_pass_through_haproxy_with_send_proxy_v2() {
    the_protocol_cases_pass_through(SendProxy::V2);
}

#[test]
fn the_protocol_cases_pass_through_haproxy_with_send_proxy_v1() {
    the_protocol_cases_pass_through(SendProxy::V1);
}

/// Through `balancer`, with a per-address limit of 1: one connection from 127.0.0.1 is
/// served, then a second from 127.0.0.1 and one from 127.0.0.2 are served or refused as
/// `second_served` and `other_served` say.
fn per_address_limit(balancer: &Haproxy, second_served: bool, other_served: bool) {
    let serve = |peer: &mut Peer, line: &str, served: bool| {
        if served {
            peer.send(format!("{line}\r\n").as_bytes());
            peer.expect(format!("You sent: {line}\r\n").as_bytes());
        } else {
            let refused = peer.read_until_gone();
            assert_eq!(
                show(&refused),
                show(b"ERROR server full for your address (limit 1 connection per address)\r\n"),
                "{line}"
            );
        }
    };
    let mut first = Peer::connect_from(balancer.front, "127.0.0.1".parse().unwrap());
    serve(&mut first, "first", true);
    let mut second = Peer::connect_from(balancer.front, "127.0.0.1".parse().unwrap());
    serve(&mut second, "second", second_served);
    let mut other = Peer::connect_from(balancer.front, "127.0.0.2".parse().unwrap());
    serve(&mut other, "other", other_served);
}

#[test]
fn behind_haproxy_the_per_address_limit_counts_the_real_clients_and_the_log_names_them() {
    let Some(haproxy) = external_program("haproxy") else {
        return;
    };
    for send in [SendProxy::V2, SendProxy::V1] {
        let server = proxied_server(&["--max-connections-per-ip", "1"]);
        let balancer = Haproxy::start(&haproxy, server.addr(), send, None);
        let mut first = Peer::connect_from(balancer.front, "127.0.0.1".parse().unwrap());
        first.send(b"first\r\n");
        first.expect(b"You sent: first\r\n");
        // A second connection of the same client is over its limit of 1...
        let mut second = Peer::connect_from(balancer.front, "127.0.0.1".parse().unwrap());
        assert_eq!(
            show(&second.read_until_gone()),
            show(b"ERROR server full for your address (limit 1 connection per address)\r\n"),
            "{send:?}"
        );
        // ...while another client, through the same HAProxy, is served.
        let mut other = Peer::connect_from(balancer.front, "127.0.0.2".parse().unwrap());
        other.send(b"other\r\n");
        other.expect(b"You sent: other\r\n");
        // The log names the clients, by the addresses and ports they connected from, and
        // HAProxy only as the connection they came through.
        let port = |peer: &Peer| peer.stream().local_addr().unwrap().port();
        for (peer, ip) in [(&first, "127.0.0.1"), (&other, "127.0.0.2")] {
            server.wait_for_log(&format!("connection opened peer={ip}:{}", port(peer)));
        }
        server.wait_for_log(&format!(
            "connection refused peer=127.0.0.1:{} reason=server full for this address",
            port(&second)
        ));
        let log = server.log();
        let via: Vec<&str> = log
            .lines()
            .filter_map(|line| line.split(" via=").nth(1)?.split(' ').next())
            .collect();
        assert_eq!(via.len(), 3, "{log}");
        for haproxy_end in via {
            assert!(
                !log.contains(&format!("connection opened peer={haproxy_end}")),
                "the log names HAProxy's end {haproxy_end} as a peer:\n{log}"
            );
        }
    }
}

#[test]
fn without_the_proxy_protocol_every_client_behind_haproxy_counts_as_haproxy() {
    // What the PROXY protocol fixes: the same setup without it refuses the other client, as
    // its connection comes from HAProxy's address like the first.
    let Some(haproxy) = external_program("haproxy") else {
        return;
    };
    let server = Server::start(&["--max-connections-per-ip", "1"]);
    let balancer = Haproxy::start(&haproxy, server.addr(), SendProxy::Off, None);
    per_address_limit(&balancer, false, false);
}

#[test]
fn haproxy_health_checks_are_served_as_haproxys_own_connections() {
    let Some(haproxy) = external_program("haproxy") else {
        return;
    };
    for (send, version) in [(SendProxy::V2, 2), (SendProxy::V1, 1)] {
        let server = proxied_server(&[]);
        let _balancer = Haproxy::start(&haproxy, server.addr(), send, Some(200));
        // A check connects, sends a header that names no client (v2 LOCAL, v1 UNKNOWN) and
        // closes: the connection is HAProxy's own, its peer the address it came from.
        server.wait_for_log_count(&format!("version={version}"), 2);
        let log = server.log();
        let checks: Vec<&str> = log
            .lines()
            .filter(|line| line.contains("PROXY header read"))
            .collect();
        for line in &checks {
            let field = |name: &str| line.split(&format!(" {name}=")).nth(1)?.split(' ').next();
            assert_eq!(field("peer"), field("via"), "{send:?}: {line}");
        }
        assert!(!log.contains("connection refused"), "{log}");
    }
}
