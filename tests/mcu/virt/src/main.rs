//! chatecho on a RISC-V board: the echo protocol for up to four TCP clients at once, on a
//! virtio-net NIC, with smoltcp and an address from DHCP. `bash tests/mcu/serve.sh PORT` runs
//! it under QEMU with host port PORT forwarded to it; docs/porting.md, "A complete network
//! firmware", walks through it.
//!
//! Memory is all static and fixed: one shared [`Config`], and per session the core's storage
//! and a TCP socket with its two buffers. A fifth client is told `ERROR server full (limit 4
//! connections)` and closed ([`Refusal`]), as chatecho-server tells a client beyond
//! `--max-connections 4`.
//!
//! Typing `exit` on the console prints the figures (the painted peak stack among them) and
//! ends QEMU with status 0; a panic (`panic` on the console makes one) or an unexpected trap
//! ends it with a failure status.
#![no_std]
#![no_main]

use chatecho_core::port::smoltcp::{Event, Phase, Server};
use chatecho_core::{BorrowedBuffers, Buffers, Config, Session, capacity};
use chatecho_virt::console::{Request, Requests};
use chatecho_virt::network::{Change, Network};
use chatecho_virt::platform::{self, Console, Nic};
use chatecho_virt::refusal::{LINGER_TICKS, Refusal};
use chatecho_virt::{fail, say};
use smoltcp::iface::{SocketHandle, SocketSet, SocketStorage};
use smoltcp::socket::tcp;
use smoltcp::time::Duration;
use static_cell::{ConstStaticCell, StaticCell};

/// The port the sessions listen on: chatecho-server's default.
const PORT: u16 = 8007;
/// Clients served at once: one session and one TCP socket each.
const SESSIONS: usize = 4;
/// What a client beyond [`SESSIONS`] is told, in chatecho-server's words.
const SERVER_FULL: &[u8] = b"ERROR server full (limit 4 connections)\r\n";
const _: () = assert!(SESSIONS == 4, "SERVER_FULL names the limit");

/// The desktop server's protocol: lines up to 4096 bytes, `\r\n`, `You sent: `. The session
/// needs room for one longest line in and one longest reply out; a small chip would take a
/// smaller `MAX_LINE` (docs/porting.md says how).
const MAX_LINE: usize = 4096;
const INPUT: usize = capacity::input(MAX_LINE, 2);
const OUTPUT: usize = capacity::output(MAX_LINE, 2, 10);
/// Each TCP socket's receive and transmit buffers: the receive window, and what may be in
/// flight unacknowledged.
const SOCKET_BUFFER: usize = 4096;
/// The refusal socket's buffers: the notice out, nothing kept in.
const REFUSAL_BUFFER: usize = 64;

/// A peer silent for this long while the socket waits for it is gone (smoltcp aborts).
const TIMEOUT: Duration = Duration::from_secs(60);
/// Keep-alive probes on a quiet connection, so that a vanished peer meets [`TIMEOUT`].
const KEEP_ALIVE: Duration = Duration::from_secs(20);

type Storage = ([u8; INPUT], [u8; OUTPUT]);
static CONFIG: StaticCell<Config> = StaticCell::new();
static STORAGE: ConstStaticCell<[Storage; SESSIONS]> =
    ConstStaticCell::new([([0; INPUT], [0; OUTPUT]); SESSIONS]);
static SOCKET_BUFFERS: ConstStaticCell<[[u8; SOCKET_BUFFER]; 2 * SESSIONS]> =
    ConstStaticCell::new([[0; SOCKET_BUFFER]; 2 * SESSIONS]);
static REFUSAL_BUFFERS: ConstStaticCell<[[u8; REFUSAL_BUFFER]; 2]> =
    ConstStaticCell::new([[0; REFUSAL_BUFFER]; 2]);
/// The sessions' sockets, the refusal socket, and DHCP's.
static SOCKETS: ConstStaticCell<[SocketStorage<'static>; SESSIONS + 2]> =
    ConstStaticCell::new([SocketStorage::EMPTY; SESSIONS + 2]);

/// One client's place: its socket, the core's server and session on it, and since when it has
/// been closing (to stop waiting for a peer that never closes its side).
struct Slot {
    socket: SocketHandle,
    server: Server,
    session: Session<'static, BorrowedBuffers<'static>>,
    closing_since: Option<u64>,
}

/// What the firmware did, for the report at exit.
#[derive(Default)]
struct Counters {
    connections: u64,
    refused: u64,
    lost: u64,
    lines: u64,
}

#[riscv_rt::entry]
fn main() -> ! {
    platform::paint_stack();
    say!("chatecho-core on riscv32imac (QEMU virt), {SESSIONS} sessions on port {PORT}");
    let nic = Nic::find().unwrap_or_else(|why| fail(why));
    let mut sockets = SocketSet::new(&mut SOCKETS.take()[..]);
    let mut network = Network::new(nic, &mut sockets);

    let config: &'static Config = CONFIG.init(Config::default());
    let mut buffers = SOCKET_BUFFERS.take().iter_mut();
    let mut slots = STORAGE.take().each_mut().map(|(input, output)| {
        let (Some(rx), Some(tx)) = (buffers.next(), buffers.next()) else {
            fail("fewer socket buffers than sessions")
        };
        let mut socket = tcp::Socket::new(
            tcp::SocketBuffer::new(&mut rx[..]),
            tcp::SocketBuffer::new(&mut tx[..]),
        );
        socket.set_timeout(Some(TIMEOUT));
        socket.set_keep_alive(Some(KEEP_ALIVE));
        let session =
            Session::new(config, Buffers::borrowed(input, output)).unwrap_or_else(|why| fail(why));
        Slot {
            socket: sockets.add(socket),
            server: Server::new(PORT),
            session,
            closing_since: None,
        }
    });
    let [rx, tx] = REFUSAL_BUFFERS.take();
    let refusal_socket = sockets.add(tcp::Socket::new(
        tcp::SocketBuffer::new(&mut rx[..]),
        tcp::SocketBuffer::new(&mut tx[..]),
    ));
    let mut refusal = Refusal::new(PORT, SERVER_FULL);

    let mut counters = Counters::default();
    let mut requests = Requests::default();
    let mut announced = None;
    loop {
        let change = network.poll(&mut sockets);
        for (i, slot) in slots.iter_mut().enumerate() {
            serve(i, slot, &mut network, &mut sockets, &mut counters);
        }
        // The sessions listen from their first poll: with an address, a client can be
        // answered from now on.
        if network.address() != announced {
            announced = network.address();
            if let Some(address) = announced {
                say!("listening on {address}:{PORT}");
            }
        }
        let now = platform::now();
        if let Some(client) = refusal.poll(sockets.get_mut(refusal_socket), now) {
            counters.refused += 1;
            say!("refused {client}: all {SESSIONS} sessions busy");
        }
        let request = requests.poll(&mut Console);
        if request == Some(Request::Panic) {
            panic!("asked to on the console");
        }
        if request == Some(Request::Exit) {
            say!(
                "exit: {} connections ({} lost), {} refused, {} lines; peak stack {} bytes",
                counters.connections,
                counters.lost,
                counters.refused,
                counters.lines,
                platform::peak_stack()
            );
            platform::exit(Ok(()));
        }
        if change == Change::None {
            network.sleep(&sockets);
        }
    }
}

/// Runs one slot's server until it has nothing more to do, polling the interface between
/// turns so that what it queued goes out and what that lets in comes in.
fn serve(
    i: usize,
    slot: &mut Slot,
    network: &mut Network,
    sockets: &mut SocketSet<'_>,
    counters: &mut Counters,
) {
    loop {
        let socket = sockets.get_mut::<tcp::Socket>(slot.socket);
        let activity = slot
            .server
            .poll(socket, &mut slot.session)
            .unwrap_or_else(|why| fail(why));
        match activity.event {
            Some(Event::Connected { remote }) => {
                counters.connections += 1;
                match remote {
                    Some(remote) => say!("session {i}: connection from {remote}"),
                    None => say!("session {i}: connection"),
                }
            }
            Some(Event::Finished { reason, stats }) => {
                counters.lines += stats.lines_echoed + stats.lines_too_long;
                say!(
                    "session {i}: closed, {reason} ({} lines, {} bytes in, {} out)",
                    stats.lines_echoed + stats.lines_too_long,
                    stats.bytes_in,
                    stats.bytes_out
                );
            }
            Some(Event::Lost { stats }) => {
                counters.lost += 1;
                counters.lines += stats.lines_echoed + stats.lines_too_long;
                say!(
                    "session {i}: lost, reset by peer or timed out ({} bytes in)",
                    stats.bytes_in
                );
            }
            Some(Event::Listening | Event::Stopped) | None => {}
        }
        if activity.is_idle() {
            break;
        }
        network.poll(sockets);
    }
    // A peer that never closes its side after ours would hold the session: after the same
    // linger as chatecho-server's, the socket is dropped (reset) and listens again.
    let now = platform::now();
    match (slot.server.phase(), slot.closing_since) {
        (Phase::Closing, None) => slot.closing_since = Some(now),
        (Phase::Closing, Some(since)) if now.saturating_sub(since) > LINGER_TICKS => {
            sockets.get_mut::<tcp::Socket>(slot.socket).abort();
            slot.closing_since = None;
        }
        (Phase::Closing, Some(_)) => {}
        _ => slot.closing_since = None,
    }
}
