//! The async driver on embassy-net: an embassy-net `TcpSocket` implements
//! `embedded_io_async::{Read, Write}` (embedded-io-async 0.7, as the core's driver), so it is
//! handed to `chatecho_core::driver::asynch::serve` as it is, with no adapter.
//!
//! [`echo_server`] is the part that goes into firmware unchanged (as an
//! `#[embassy_executor::task]` taking a `Stack<'static>`). The rest makes it run on the host:
//! two embassy-net stacks joined by an in-memory driver ([`LinkEnd`]), embassy-time's std
//! clock, and `embassy_futures::block_on` instead of an executor. A client on the second stack
//! holds two conversations with the server and checks every byte of the replies.
//!
//! ```text
//! cargo build -p chatecho-tests --example embassy_net   # what CI checks
//! cargo run -p chatecho-tests --example embassy_net     # runs both conversations
//! ```

use chatecho_core::driver::asynch;
use chatecho_core::{capacity, Buffers, Config, EndReason, Session};
use embassy_futures::join::join;
use embassy_futures::select::{select, Either};
use embassy_net::tcp::TcpSocket;
use embassy_net::{Ipv4Address, Ipv4Cidr, Stack, StackResources, StaticConfigV4};
use embassy_net_driver::{Capabilities, Driver, HardwareAddress, LinkState};
use embassy_time::Duration;
use embedded_io_async::Write as _;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::task::{Context, Waker};

const PORT: u16 = 7;
const SERVER: Ipv4Address = Ipv4Address::new(10, 0, 0, 1);
const CLIENT: Ipv4Address = Ipv4Address::new(10, 0, 0, 2);

/// Lines up to 120 bytes: the input holds a line and its delimiter, the output one longest
/// reply (10-byte prefix + line + delimiter).
const MAX_LINE: usize = 120;
const INPUT: usize = capacity::input(MAX_LINE, 2);
const OUTPUT: usize = capacity::output(MAX_LINE, 2, 10);

/// The firmware's echo task: accept a connection, run the protocol on it with the async
/// driver, close, and accept the next one. Everything is fixed memory owned by the task:
/// 2 × 256 bytes of socket buffers, the session's 122 + 132 bytes and one session, reset in
/// place for each connection. Returns how each conversation ended.
async fn echo_server(stack: Stack<'_>, connections: usize) -> Vec<Result<EndReason, String>> {
    let mut rx_buffer = [0u8; 256];
    let mut tx_buffer = [0u8; 256];
    let (mut input, mut output) = ([0u8; INPUT], [0u8; OUTPUT]);
    let config = Config::default()
        .with_max_line(MAX_LINE)
        .expect("a valid limit");
    let storage = Buffers::borrowed(&mut input, &mut output);
    let mut session = Session::new(&config, storage).expect("capacities fit the config");
    let mut ends = Vec::new();
    for _ in 0..connections {
        let mut socket = TcpSocket::new(stack, &mut rx_buffer, &mut tx_buffer);
        // The core reads no clock: idle peers are the socket's business.
        socket.set_timeout(Some(Duration::from_secs(60)));
        if let Err(e) = socket.accept(PORT).await {
            ends.push(Err(format!("accept: {e:?}")));
            continue;
        }
        session.reset();
        // The whole hand-over: the socket is the driver's `Read + Write`.
        let end = asynch::serve(&mut socket, &mut session).await;
        // The driver has flushed every reply; close our half and wait for the FIN to go out.
        socket.close();
        let _ = socket.flush().await;
        ends.push(end.map_err(|e| e.to_string()));
    }
    ends
}

/// A client on the other stack: connects, sends `input`, shuts its sending side if `eof`, and
/// returns everything the server sent until it closed. (It writes everything before reading,
/// which is fine for inputs smaller than the socket buffers, as here.)
async fn client(stack: Stack<'_>, input: &[u8], eof: bool) -> Vec<u8> {
    let mut rx_buffer = [0u8; 256];
    let mut tx_buffer = [0u8; 256];
    let mut socket = TcpSocket::new(stack, &mut rx_buffer, &mut tx_buffer);
    socket.connect((SERVER, PORT)).await.expect("connect");
    socket.write_all(input).await.expect("write");
    if eof {
        socket.close();
    }
    let mut received = Vec::new();
    let mut buf = [0u8; 64];
    // Until the server's FIN (Ok(0)), or a reset once it has gone.
    while let Ok(n @ 1..) = socket.read(&mut buf).await {
        received.extend_from_slice(&buf[..n]);
    }
    socket.close();
    let _ = socket.flush().await;
    received
}

/// The packets in flight one way across the link, and who to wake when one arrives.
#[derive(Default)]
struct Lane {
    packets: VecDeque<Vec<u8>>,
    waker: Option<Waker>,
}

/// One end of an in-memory, IP-medium link: an embassy-net driver that transmits into one
/// lane and receives from the other.
struct LinkEnd {
    tx: Rc<RefCell<Lane>>,
    rx: Rc<RefCell<Lane>>,
}

/// A pair of connected link ends.
fn link() -> (LinkEnd, LinkEnd) {
    let a_to_b = Rc::new(RefCell::new(Lane::default()));
    let b_to_a = Rc::new(RefCell::new(Lane::default()));
    let a = LinkEnd {
        tx: a_to_b.clone(),
        rx: b_to_a.clone(),
    };
    let b = LinkEnd {
        tx: b_to_a,
        rx: a_to_b,
    };
    (a, b)
}

struct RxToken(Vec<u8>);

struct TxToken(Rc<RefCell<Lane>>);

impl embassy_net_driver::RxToken for RxToken {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(mut self, f: F) -> R {
        f(&mut self.0)
    }
}

impl embassy_net_driver::TxToken for TxToken {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut packet = vec![0; len];
        let result = f(&mut packet);
        let mut lane = self.0.borrow_mut();
        lane.packets.push_back(packet);
        if let Some(waker) = lane.waker.take() {
            waker.wake();
        }
        result
    }
}

impl Driver for LinkEnd {
    type RxToken<'a> = RxToken;
    type TxToken<'a> = TxToken;

    fn receive(&mut self, cx: &mut Context) -> Option<(RxToken, TxToken)> {
        let mut rx = self.rx.borrow_mut();
        match rx.packets.pop_front() {
            Some(packet) => Some((RxToken(packet), TxToken(self.tx.clone()))),
            None => {
                rx.waker = Some(cx.waker().clone());
                None
            }
        }
    }

    fn transmit(&mut self, _cx: &mut Context) -> Option<TxToken> {
        Some(TxToken(self.tx.clone()))
    }

    fn link_state(&mut self, _cx: &mut Context) -> LinkState {
        LinkState::Up
    }

    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::default();
        caps.max_transmission_unit = 1500;
        caps
    }

    fn hardware_address(&self) -> HardwareAddress {
        HardwareAddress::Ip
    }
}

fn ip_config(address: Ipv4Address) -> embassy_net::Config {
    embassy_net::Config::ipv4_static(StaticConfigV4 {
        address: Ipv4Cidr::new(address, 24),
        gateway: None,
        dns_servers: Default::default(),
    })
}

fn main() {
    let (server_end, client_end) = link();
    let mut server_resources = StackResources::<1>::new();
    let mut client_resources = StackResources::<1>::new();
    let (server_stack, mut server_runner) =
        embassy_net::new(server_end, ip_config(SERVER), &mut server_resources, 1);
    let (client_stack, mut client_runner) =
        embassy_net::new(client_end, ip_config(CLIENT), &mut client_resources, 2);

    let conversations = join(echo_server(server_stack, 2), async {
        let first = client(client_stack, b"hello\r\nworld\r\n.\r\nignored\r\n", false).await;
        let second = client(client_stack, b"no quit line, just an end", true).await;
        (first, second)
    });
    let stacks = join(server_runner.run(), client_runner.run());
    let (ends, (first, second)) = match embassy_futures::block_on(select(stacks, conversations)) {
        Either::First((never, _)) => match never {},
        Either::Second(done) => done,
    };

    println!("server: {ends:?}");
    println!("client 1 received {:?}", String::from_utf8_lossy(&first));
    println!("client 2 received {:?}", String::from_utf8_lossy(&second));
    assert_eq!(ends, [Ok(EndReason::QuitLine), Ok(EndReason::InputEnded)]);
    assert_eq!(first, b"You sent: hello\r\nYou sent: world\r\n");
    assert_eq!(second, b"You sent: no quit line, just an end\r\n");

    // What the driver costs on embassy-net: its future, which the task holds across awaits,
    // with embassy-net's read and write futures inside it.
    let mut rx_buffer = [0u8; 64];
    let mut tx_buffer = [0u8; 64];
    let mut socket = TcpSocket::new(server_stack, &mut rx_buffer, &mut tx_buffer);
    let config = Config::default().with_max_line(MAX_LINE).unwrap();
    let (mut input, mut output) = ([0u8; INPUT], [0u8; OUTPUT]);
    let mut session = Session::new(&config, Buffers::borrowed(&mut input, &mut output))
        .expect("capacities fit the config");
    let future = asynch::serve(&mut socket, &mut session);
    println!(
        "asynch::serve future over an embassy-net TcpSocket: {} bytes",
        core::mem::size_of_val(&future)
    );
}
