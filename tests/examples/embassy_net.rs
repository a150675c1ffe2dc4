//! The board's echo task on the host: the firmware of `examples/w5500-evb-pico` serves every
//! connection with `chatecho_echo_task::serve_connections` (accept, serve with chatecho-core's
//! async driver on an embassy-net `TcpSocket`, close, reuse the task's memory), and this
//! program runs that same function, from the same crate (`examples/echo-task`), between two
//! embassy-net stacks joined by an in-memory link. Only what the board hands the task differs:
//! here the clock is embassy-time's std driver, the executor is `embassy_futures::block_on`,
//! and the task's reports are checked instead of logged.
//!
//! Two echo tasks share one `Config` on [`PORT`], with the board's time limits, and a third
//! listens on [`IDLE_PORT`] with a one-second idle timeout. Clients on the second stack check
//! every byte they receive and every report the tasks make:
//!
//! 1. a conversation held open while another is served: two tasks, two peers at once;
//! 2. the quit line (bytes after it ignored), and the end of input with an unterminated line;
//! 3. a third conversation on a task that has served one already (its memory reused), stopped
//!    from outside (`serve_until`'s stop): lines received are answered, then a FIN;
//! 4. a silent peer, closed by the idle timeout;
//! 5. a peer that resets the connection mid-line.
//!
//! ```text
//! cargo run -p chatecho-tests --example embassy_net     # what CI runs
//! ```

use chatecho_core::driver::asynch;
use chatecho_core::{Buffers, Config, EndReason, ServeError, Session, Stats, capacity};
use chatecho_echo_task::{
    Close, Connection, Events, IoError, Listen, SocketBuffers, serve_connections,
};
use embassy_futures::join::{join, join4};
use embassy_futures::select::{Either, select};
use embassy_net::tcp::{self, TcpSocket};
use embassy_net::{
    IpAddress, IpEndpoint, Ipv4Address, Ipv4Cidr, Stack, StackResources, StaticConfigV4,
};
use embassy_net_driver::{Capabilities, Driver, HardwareAddress, LinkState};
use embassy_sync::blocking_mutex::raw::NoopRawMutex;
use embassy_sync::channel::Channel;
use embassy_sync::signal::Signal;
use embassy_time::Duration;
use embedded_io_async::Write as _;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::ops::RangeInclusive;
use std::rc::Rc;
use std::task::{Context, Waker};

/// The board's port.
const PORT: u16 = 8007;
/// The port of the task with a short idle timeout.
const IDLE_PORT: u16 = 8008;
const SERVER: Ipv4Address = Ipv4Address::new(10, 0, 0, 1);
const CLIENT: Ipv4Address = Ipv4Address::new(10, 0, 0, 2);

/// Lines up to 120 bytes: the input holds a line and its delimiter, the output one longest
/// reply (10-byte prefix + line + delimiter).
const MAX_LINE: usize = 120;
const INPUT: usize = capacity::input(MAX_LINE, 2);
const OUTPUT: usize = capacity::output(MAX_LINE, 2, 10);
/// Each task's socket buffers.
const SOCKET_BUFFER: usize = 256;

/// The reports of every task, in the order connections close: (task, connection).
type Reports = Channel<NoopRawMutex, (usize, Connection), 4>;

/// What the board logs, the host run hands to the clients to check.
struct Report<'a> {
    task: usize,
    reports: &'a Reports,
}

impl Events for Report<'_> {
    fn accepted(&mut self, remote: Option<IpEndpoint>) {
        println!("task {}: connection from {remote:?}", self.task);
    }

    fn closed(&mut self, connection: &Connection) {
        println!("task {}: {connection:?}", self.task);
        if self.reports.try_send((self.task, *connection)).is_err() {
            panic!("more reports than the clients read");
        }
    }
}

/// One echo task's memory, as a board keeps it in a `static`.
struct TaskMemory {
    socket: SocketBuffers<SOCKET_BUFFER, SOCKET_BUFFER>,
    input: [u8; INPUT],
    output: [u8; OUTPUT],
}

impl TaskMemory {
    fn new() -> Self {
        Self {
            socket: SocketBuffers::new(),
            input: [0; INPUT],
            output: [0; OUTPUT],
        }
    }
}

/// A client connection on the second stack.
struct Client<'a> {
    socket: TcpSocket<'a>,
}

impl<'a> Client<'a> {
    async fn connect(stack: Stack<'a>, buffers: &'a mut ([u8; 256], [u8; 256]), port: u16) -> Self {
        let mut socket = TcpSocket::new(stack, &mut buffers.0, &mut buffers.1);
        socket.connect((SERVER, port)).await.expect("connect");
        Self { socket }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.socket.write_all(bytes).await.expect("write");
        self.socket.flush().await.expect("flush");
    }

    /// Exactly `n` bytes, waiting for them.
    async fn receive(&mut self, n: usize) -> Vec<u8> {
        let mut received = vec![0; n];
        let mut got = 0;
        while got < n {
            match self.socket.read(&mut received[got..]).await {
                Ok(0) => panic!("the server closed after {got} of {n} bytes"),
                Ok(k) => got += k,
                Err(e) => panic!("read: {e:?}"),
            }
        }
        received
    }

    /// Shuts our sending side if `eof`, then returns everything the server sends until its
    /// FIN, and closes.
    async fn finish(mut self, eof: bool) -> Vec<u8> {
        if eof {
            self.socket.close();
        }
        let mut received = Vec::new();
        let mut buf = [0u8; 64];
        loop {
            match self.socket.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
                Err(e) => panic!("read before the server's FIN: {e:?}"),
            }
        }
        self.socket.close();
        let _ = self.socket.flush().await;
        received
    }
}

/// Checks a task's report: who, how it ended, how it closed, what the session counted.
fn check(
    (task, connection): (usize, Connection),
    end: Result<EndReason, ServeError<IoError>>,
    close: Close,
    lines_echoed: u64,
    bytes_in: RangeInclusive<u64>,
) -> usize {
    let remote = connection.remote.expect("a connected peer has an address");
    assert_eq!(remote.addr, IpAddress::Ipv4(CLIENT));
    assert_eq!(connection.end, end);
    assert_eq!(connection.close, close);
    let Stats {
        lines_echoed: echoed,
        bytes_in: taken,
        ..
    } = connection.stats;
    assert_eq!(echoed, lines_echoed);
    assert!(
        bytes_in.contains(&taken),
        "{taken} bytes in, not {bytes_in:?}"
    );
    task
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
    let mut server_resources = StackResources::<3>::new();
    let mut client_resources = StackResources::<2>::new();
    let (server_stack, mut server_runner) =
        embassy_net::new(server_end, ip_config(SERVER), &mut server_resources, 1);
    let (client_stack, mut client_runner) =
        embassy_net::new(client_end, ip_config(CLIENT), &mut client_resources, 2);

    // What the board has: one Config for every task, each task's memory, one Listen.
    let config = Config::default()
        .with_max_line(MAX_LINE)
        .expect("a valid limit");
    let listen = Listen::on_port(PORT);
    let idle = Listen {
        idle_timeout: Duration::from_secs(1),
        ..Listen::on_port(IDLE_PORT)
    };
    let mut memory = [TaskMemory::new(), TaskMemory::new(), TaskMemory::new()];
    let reports = Reports::new();
    let stop = Signal::<NoopRawMutex, ()>::new();

    let [m0, m1, m2] = &mut memory;
    let mut sessions = [m0, m1, m2].map(|m| {
        let storage = Buffers::borrowed(&mut m.input, &mut m.output);
        let session = Session::new(&config, storage).expect("capacities fit the config");
        (&mut m.socket, session)
    });
    let [(s0, session0), (s1, session1), (s2, session2)] = &mut sessions;
    let mut events = [0, 1, 2].map(|task| Report {
        task,
        reports: &reports,
    });
    let [e0, e1, e2] = &mut events;
    let tasks = join4(
        serve_connections(server_stack, &listen, s0, session0, || stop.wait(), e0),
        serve_connections(server_stack, &listen, s1, session1, || stop.wait(), e1),
        serve_connections(server_stack, &idle, s2, session2, core::future::pending, e2),
        async {
            server_runner.run().await;
        },
    );

    let clients = async {
        let mut a_buffers = ([0u8; 256], [0u8; 256]);
        let mut b_buffers = ([0u8; 256], [0u8; 256]);
        // 1. A is answered, and holds its connection open while B is served.
        let mut a = Client::connect(client_stack, &mut a_buffers, PORT).await;
        a.send(b"hello\r\n").await;
        assert_eq!(a.receive(17).await, b"You sent: hello\r\n");

        // 2. B, on the other task: the quit line, and what follows it is ignored (read or
        //    not, depending on how the bytes arrive).
        let mut b = Client::connect(client_stack, &mut b_buffers, PORT).await;
        b.send(b"world\r\n.\r\nignored\r\n").await;
        assert_eq!(b.finish(false).await, b"You sent: world\r\n");
        let task_b = check(
            reports.receive().await,
            Ok(EndReason::QuitLine),
            Close::Graceful,
            1,
            10..=19,
        );

        // A ends its input with an unterminated line, which is answered too.
        a.send(b"no quit line, just an end").await;
        assert_eq!(
            a.finish(true).await,
            b"You sent: no quit line, just an end\r\n"
        );
        let task_a = check(
            reports.receive().await,
            Ok(EndReason::InputEnded),
            Close::Graceful,
            2,
            32..=32,
        );
        assert_ne!(task_a, task_b, "two peers at once are two tasks");

        // 3. C, on a task that has served a conversation already, is stopped from outside
        //    once its complete lines are answered; the partial line is dropped.
        let mut c = Client::connect(client_stack, &mut a_buffers, PORT).await;
        c.send(b"one\r\ntwo\r\nthr").await;
        assert_eq!(c.receive(30).await, b"You sent: one\r\nYou sent: two\r\n");
        stop.signal(());
        assert_eq!(c.finish(false).await, b"");
        let task_c = check(
            reports.receive().await,
            Ok(EndReason::Shutdown),
            Close::Graceful,
            2,
            10..=13,
        );
        assert!(task_c == task_a || task_c == task_b);

        // 4. D says a few bytes and then nothing: the idle timeout ends it with a FIN.
        let mut d = Client::connect(client_stack, &mut b_buffers, IDLE_PORT).await;
        d.send(b"partial").await;
        assert_eq!(d.finish(false).await, b"");
        let task_d = check(
            reports.receive().await,
            Err(ServeError::Read(IoError::IdleTimeout)),
            Close::Graceful,
            0,
            7..=7,
        );
        assert_eq!(task_d, 2);

        // 5. E resets its connection in the middle of a line: the task resets its side too.
        let mut e = Client::connect(client_stack, &mut a_buffers, PORT).await;
        e.send(b"half a li").await;
        e.socket.abort();
        let _ = e.socket.flush().await;
        drop(e);
        check(
            reports.receive().await,
            Err(ServeError::Read(IoError::Tcp(tcp::Error::ConnectionReset))),
            Close::Reset,
            0,
            0..=9,
        );
    };
    let stacks = async {
        client_runner.run().await;
    };
    match embassy_futures::block_on(select(join(tasks, stacks), clients)) {
        Either::First(_) => unreachable!("the tasks and the stacks run for ever"),
        Either::Second(()) => {}
    }
    println!("every conversation and every report as expected");

    // What the task costs besides its memory: its future, which an embassy executor keeps in
    // the task's static storage, and the driver's future inside it.
    let mut buffers = SocketBuffers::<64, 64>::new();
    let (mut input, mut output) = ([0u8; INPUT], [0u8; OUTPUT]);
    let mut session = Session::new(&config, Buffers::borrowed(&mut input, &mut output))
        .expect("capacities fit the config");
    let mut events = Report {
        task: 0,
        reports: &reports,
    };
    let task = serve_connections(
        server_stack,
        &listen,
        &mut buffers,
        &mut session,
        move || async move { server_stack.wait_config_down().await },
        &mut events,
    );
    println!(
        "serve_connections future (an echo task, its memory borrowed): {} bytes",
        core::mem::size_of_val(&task)
    );
    drop(task);
    let mut rx_buffer = [0u8; 64];
    let mut tx_buffer = [0u8; 64];
    let mut socket = TcpSocket::new(server_stack, &mut rx_buffer, &mut tx_buffer);
    let future = asynch::serve(&mut socket, &mut session);
    println!(
        "asynch::serve future over an embassy-net TcpSocket: {} bytes",
        core::mem::size_of_val(&future)
    );
}
