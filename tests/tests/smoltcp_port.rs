//! The core on a real no_std TCP/IP stack: two smoltcp interfaces joined by an in-memory link,
//! a server socket driven by `port::smoltcp::Server` and a client socket, in one process.
//!
//! Everything is deterministic: packets cross the link only when the test carries them, time
//! is a smoltcp `Instant` the test advances (1 ms per turn, or straight to the next timer when
//! nothing moved), and packet loss is a fixed pseudo-random sequence. Socket buffers are 64
//! bytes, far smaller than the lines, so lines arrive in pieces and both the TCP window and
//! the session's backpressure come into play. The whole arrangement is a
//! `chatecho_model::Subject` (the client is the peer), so every conversation is run by
//! `chatecho_model::check` and every answer is checked byte for byte against the reference
//! model as it arrives; the simple cases also against the literal bytes the seed would send.

use chatecho_core::port::smoltcp::{Event, Phase, Server};
use chatecho_core::{Config, EndReason, OwnedBuffers, Session, State, Stats, Storage};
use chatecho_model::strategy::{self, SmallBuffers, cases};
use chatecho_model::{Ending, Experiment, Protocol, Report, Schedule, Subject, check};
use proptest::prelude::*;
use smoltcp::iface::SocketHandle;
use smoltcp::iface::{Config as IfaceConfig, Interface, SocketSet};
use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::socket::tcp;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};
use std::collections::VecDeque;

const SERVER_ADDRESS: IpAddress = IpAddress::v4(10, 0, 0, 1);
const CLIENT_ADDRESS: IpAddress = IpAddress::v4(10, 0, 0, 2);
const PORT: u16 = 7;
const CLIENT_PORT: u16 = 49152;
/// The link's MTU; with 64-byte socket buffers segments are far smaller anyway.
const MTU: usize = 1500;
/// The size of each socket buffer, the server's and the client's.
const SOCKET_BUFFER: usize = 64;
/// Turns after which a network that has not settled fails the test.
const MAX_TURNS: usize = 100_000;
/// The furthest a settling network jumps ahead to its next timer: past any retransmission
/// backoff this test's loss patterns cause. A network with no timer due sooner, in which
/// nothing moved, has settled.
const MAX_TIMER_JUMP: Duration = Duration::from_secs(120);

/// One end of the in-memory link: a network device with the IP medium (no link layer).
/// Packets it transmits wait in `outbox` until [`carry`] moves them to the other end's `inbox`.
#[derive(Default)]
struct LinkEnd {
    inbox: VecDeque<Vec<u8>>,
    outbox: VecDeque<Vec<u8>>,
}

struct RxToken(Vec<u8>);

struct TxToken<'a>(&'a mut VecDeque<Vec<u8>>);

impl phy::RxToken for RxToken {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut packet = vec![0; len];
        let result = f(&mut packet);
        self.0.push_back(packet);
        result
    }
}

impl Device for LinkEnd {
    type RxToken<'a> = RxToken;
    type TxToken<'a> = TxToken<'a>;

    fn receive(&mut self, _now: Instant) -> Option<(RxToken, TxToken<'_>)> {
        let packet = self.inbox.pop_front()?;
        Some((RxToken(packet), TxToken(&mut self.outbox)))
    }

    fn transmit(&mut self, _now: Instant) -> Option<TxToken<'_>> {
        Some(TxToken(&mut self.outbox))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = MTU;
        caps
    }
}

/// Which packets the link loses: about one in `one_in`, picked by a fixed pseudo-random
/// sequence. Not every `n`-th packet: a fixed period can fall in step with a retransmission
/// exchange of the same period, and lose the same packet of it every time, for ever.
#[derive(Debug, Clone, Copy)]
struct Loss {
    one_in: Option<u64>,
    state: u64,
    carried: usize,
    dropped: usize,
}

impl Loss {
    fn none() -> Self {
        Self::one_in(None, 0)
    }

    fn one_in(one_in: Option<u64>, seed: u64) -> Self {
        Self {
            one_in,
            // xorshift needs a state other than zero.
            state: seed | 1,
            carried: 0,
            dropped: 0,
        }
    }

    /// Whether the next packet is lost.
    fn drops(&mut self) -> bool {
        self.carried += 1;
        // xorshift64: deterministic, cheap, and without a period any exchange could match.
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        let drops = self.one_in.is_some_and(|n| self.state.is_multiple_of(n));
        self.dropped += usize::from(drops);
        drops
    }
}

/// Moves every packet waiting in `from`'s outbox to `to`'s inbox, except those `loss` drops.
/// Returns how many packets left `from`.
fn carry(from: &mut LinkEnd, to: &mut LinkEnd, loss: &mut Loss) -> usize {
    let mut carried = 0;
    while let Some(packet) = from.outbox.pop_front() {
        carried += 1;
        if !loss.drops() {
            to.inbox.push_back(packet);
        }
    }
    carried
}

fn interface(device: &mut LinkEnd, address: IpAddress, now: Instant) -> Interface {
    let mut iface = Interface::new(IfaceConfig::new(HardwareAddress::Ip), device, now);
    iface.update_ip_addrs(|addrs| {
        addrs.push(IpCidr::new(address, 24)).unwrap();
    });
    iface
}

/// A TCP socket with two fresh buffers of `size` bytes.
fn socket(size: usize) -> tcp::Socket<'static> {
    tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0; size]),
        tcp::SocketBuffer::new(vec![0; size]),
    )
}

/// The server and a connected client on two interfaces, as one [`Subject`]: the client is the
/// peer, and every call runs the network until it has settled.
struct Network<'c, S: Storage> {
    now: Instant,
    server_end: LinkEnd,
    client_end: LinkEnd,
    server_iface: Interface,
    client_iface: Interface,
    server_sockets: SocketSet<'static>,
    client_sockets: SocketSet<'static>,
    server_socket: SocketHandle,
    client_socket: SocketHandle,
    server: Server,
    session: Session<'c, S>,
    loss: Loss,
    /// Every event the server reported, in order.
    events: Vec<Event>,
    /// Replies the client has read from its socket and not yet handed to the peer.
    inbox: VecDeque<u8>,
    /// Every byte handed to the peer, in order.
    received: Vec<u8>,
}

impl<'c, S: Storage> Network<'c, S> {
    /// Builds both ends, lets the server listen and the client connect.
    fn connect(session: Session<'c, S>, loss: Loss) -> Self {
        let now = Instant::ZERO;
        let mut server_end = LinkEnd::default();
        let mut client_end = LinkEnd::default();
        let server_iface = interface(&mut server_end, SERVER_ADDRESS, now);
        let client_iface = interface(&mut client_end, CLIENT_ADDRESS, now);
        let mut server_sockets = SocketSet::new(vec![]);
        let server_socket = server_sockets.add(socket(SOCKET_BUFFER));
        let mut client_sockets = SocketSet::new(vec![]);
        let mut client = socket(SOCKET_BUFFER);
        // Segments as small as the writes, so that tiny reads really cross the link one by
        // one.
        client.set_nagle_enabled(false);
        let client_socket = client_sockets.add(client);
        let mut network = Self {
            now,
            server_end,
            client_end,
            server_iface,
            client_iface,
            server_sockets,
            client_sockets,
            server_socket,
            client_socket,
            server: Server::new(PORT),
            session,
            loss,
            events: Vec::new(),
            inbox: VecDeque::new(),
            received: Vec::new(),
        };
        network.settle();
        assert_eq!(network.server.phase(), Phase::Listening);
        let context = network.client_iface.context();
        network
            .client_sockets
            .get_mut::<tcp::Socket>(client_socket)
            .connect(context, (SERVER_ADDRESS, PORT), CLIENT_PORT)
            .expect("connect");
        network.settle();
        assert_eq!(
            network.server.phase(),
            Phase::Serving,
            "{:?}",
            network.events
        );
        network
    }

    fn client(&mut self) -> &mut tcp::Socket<'static> {
        self.client_sockets.get_mut(self.client_socket)
    }

    /// One turn: both interfaces, the server as firmware runs it (after the interface, and
    /// again with the interface while it reports activity), then the link. Returns whether
    /// anything moved: a packet, bytes into or out of the session or the client's buffers, a
    /// server event, a client state change.
    fn turn(&mut self) -> bool {
        let client = self.client();
        let before = (client.state(), client.send_queue(), client.recv_queue());
        self.client_iface
            .poll(self.now, &mut self.client_end, &mut self.client_sockets);
        self.server_iface
            .poll(self.now, &mut self.server_end, &mut self.server_sockets);
        let mut moved = 0;
        for _ in 0..1_000 {
            let socket = self
                .server_sockets
                .get_mut::<tcp::Socket>(self.server_socket);
            let activity = self.server.poll(socket, &mut self.session).expect("listen");
            self.events.extend(activity.event);
            moved += activity.received + activity.sent + usize::from(activity.event.is_some());
            if activity.is_idle() {
                break;
            }
            self.server_iface
                .poll(self.now, &mut self.server_end, &mut self.server_sockets);
        }
        moved += carry(&mut self.client_end, &mut self.server_end, &mut self.loss);
        moved += carry(&mut self.server_end, &mut self.client_end, &mut self.loss);
        // The client reads its socket as soon as bytes arrive; the peer takes them from the
        // inbox at its own pace. (A smoltcp receiver that a slow reader let fill announces
        // the reopened window only once it has doubled, and a sender that filled a window
        // that was not announced as zero does not probe it: reading a few bytes at a time
        // from the socket itself can leave both waiting for good.)
        let client = self
            .client_sockets
            .get_mut::<tcp::Socket>(self.client_socket);
        let mut chunk = [0u8; SOCKET_BUFFER];
        while let Ok(n @ 1..) = client.recv_slice(&mut chunk) {
            self.inbox.extend(&chunk[..n]);
            moved += n;
        }
        let client = self.client();
        let after = (client.state(), client.send_queue(), client.recv_queue());
        moved > 0 || before != after
    }

    /// Runs turns until nothing moves any more and no timer that could move something is
    /// due.
    fn settle(&mut self) {
        for _ in 0..MAX_TURNS {
            if self.turn() {
                self.now += Duration::from_millis(1);
                continue;
            }
            // Nothing moved: only a timer (delayed ACK, retransmission) can change anything.
            let next = [
                self.client_iface.poll_at(self.now, &self.client_sockets),
                self.server_iface.poll_at(self.now, &self.server_sockets),
            ]
            .into_iter()
            .flatten()
            .min();
            match next.filter(|&at| at < self.now + MAX_TIMER_JUMP) {
                Some(at) => self.now = at.max(self.now + Duration::from_millis(1)),
                None => return,
            }
        }
        let client = self.client_sockets.get::<tcp::Socket>(self.client_socket);
        let server = self.server_sockets.get::<tcp::Socket>(self.server_socket);
        panic!(
            "never settled: client {}, server {}, events {:?}",
            client.state(),
            server.state(),
            self.events
        );
    }

    /// The `Finished` event's reason and stats, once the conversation has finished.
    fn finished(&self) -> Option<(EndReason, Stats)> {
        self.events.iter().find_map(|event| match *event {
            Event::Finished { reason, stats } => Some((reason, stats)),
            _ => None,
        })
    }

    /// After the conversation: the client closes its side, and the server must be
    /// listening again for the next connection.
    fn hang_up(&mut self) {
        self.client().close();
        self.settle();
        assert!(!self.client().is_open(), "{:?}", self.client().state());
        assert_eq!(self.server.phase(), Phase::Listening, "{:?}", self.events);
    }
}

impl<S: Storage> Subject for Network<'_, S> {
    fn send(&mut self, bytes: &[u8]) -> usize {
        let client = self.client();
        let sent = if client.may_send() {
            client.send_slice(bytes).expect("send")
        } else {
            0
        };
        self.settle();
        sent
    }

    fn receive(&mut self, buffer: &mut [u8]) -> usize {
        if self.inbox.len() < buffer.len() {
            // Let everything that can still arrive arrive.
            self.settle();
        }
        let got = buffer.len().min(self.inbox.len());
        for (slot, byte) in buffer.iter_mut().zip(self.inbox.drain(..got)) {
            *slot = byte;
        }
        self.received.extend_from_slice(&buffer[..got]);
        got
    }

    fn end_input(&mut self) {
        self.client().close();
        self.settle();
    }

    fn shutdown(&mut self) {
        self.server.shutdown(&mut self.session);
        self.settle();
    }

    fn state(&mut self) -> State {
        assert!(
            !self.events.iter().any(|e| matches!(e, Event::Lost { .. })),
            "connection lost: {:?}",
            self.events
        );
        self.finished()
            .map_or(State::Open, |(reason, _)| State::Closed(reason))
    }
}

/// Runs `experiment` through a session in `S` served on the network, checked against the
/// model; fails the test with the divergence.
fn converse<'c, S: Storage>(
    session: Session<'c, S>,
    experiment: &Experiment,
    loss: Loss,
) -> (Network<'c, S>, Report) {
    let mut network = Network::connect(session, loss);
    match check(&mut network, experiment) {
        Ok(report) => (network, report),
        Err(divergence) => panic!("{divergence}\nevents {:?}", network.events),
    }
}

/// The protocol for lines up to 256 bytes: input 258, output 268 bytes, so that the output
/// holds one longest reply and the session's own backpressure is exercised too.
fn protocol_256() -> Protocol {
    Protocol {
        max_line: 256,
        ..Protocol::default()
    }
}

/// The configuration of [`protocol_256`], shared by every session of the test process.
static CONFIG_256: std::sync::LazyLock<Config> =
    std::sync::LazyLock::new(|| protocol_256().config().unwrap());

/// A session for [`protocol_256`] in 258 + 268 bytes.
fn session_256() -> Session<'static, OwnedBuffers<258, 268>> {
    Session::new(&CONFIG_256, OwnedBuffers::owned()).unwrap()
}

/// `input` sent in writes as large as the client's socket takes, replies read as they come,
/// input ended as `ending` says.
fn experiment_256(input: &[u8], ending: Ending) -> Experiment {
    Experiment {
        protocol: protocol_256(),
        input: input.to_vec(),
        schedule: Schedule {
            ending,
            ..Schedule::default()
        },
    }
}

/// Pipelined lines of every length from 0 to 250 (cycling), with varied bytes, then the quit.
fn pipelined_input(lines: usize) -> Vec<u8> {
    let mut input = Vec::new();
    for i in 0..lines {
        let len = (i * 37) % 251;
        input.extend((0..len).map(|j| b'a' + ((i + j) % 26) as u8));
        input.extend_from_slice(b"\r\n");
    }
    input.extend_from_slice(b".\r\n");
    input
}

#[test]
fn a_line_is_echoed_and_the_quit_line_closes() {
    let session = session_256();
    let experiment = experiment_256(b"hello\r\n.\r\n", Ending::Open);
    let (mut network, report) = converse(session, &experiment, Loss::none());
    assert_eq!(network.received, b"You sent: hello\r\n");
    assert_eq!(report.reason, Some(EndReason::QuitLine));
    network.hang_up();
    assert!(matches!(
        network.events[..],
        [
            Event::Listening,
            Event::Connected { .. },
            Event::Finished { .. },
            Event::Listening
        ]
    ));
}

#[test]
fn pipelined_lines_through_64_byte_socket_buffers() {
    let input = pipelined_input(300);
    let session = session_256();
    let experiment = experiment_256(&input, Ending::Open);
    let (network, report) = converse(session, &experiment, Loss::none());
    let (reason, stats) = network.finished().unwrap();
    assert_eq!(reason, EndReason::QuitLine);
    assert_eq!(stats.lines_echoed, 300);
    // Every byte up to and including the quit line went through the 64-byte buffers.
    assert_eq!(stats.bytes_in, input.len() as u64);
    assert_eq!(stats.bytes_out, report.received as u64);
}

#[test]
fn a_delimiter_split_across_segments_is_found() {
    // One byte per segment: every "\r\n" arrives as "\r" then "\n".
    let input = b"split\r\nacross\r\nsegments\r\n.\r\n";
    let session = session_256();
    let experiment = Experiment {
        schedule: Schedule {
            reads: vec![1],
            ..Schedule::default()
        },
        ..experiment_256(input, Ending::Open)
    };
    let (network, _) = converse(session, &experiment, Loss::none());
    assert!(
        network.loss.carried > input.len(),
        "{} packets",
        network.loss.carried
    );
    assert_eq!(
        network.received,
        b"You sent: split\r\nYou sent: across\r\nYou sent: segments\r\n"
    );
}

#[test]
fn binary_bytes_are_echoed_unchanged() {
    // Every byte value, NUL and invalid UTF-8 included, in one 256-byte line (no "\r\n" in
    // it: 13 is followed by 14), then a lone "\n" and a lone "\r" inside a line.
    let mut input: Vec<u8> = (0..=255u8).collect();
    input.extend_from_slice(b"\r\na\nb\rc\r\n\xff\xfe\x00\r\n.\r\n");
    let session = session_256();
    let (network, _) = converse(session, &experiment_256(&input, Ending::Open), Loss::none());
    let mut expected = b"You sent: ".to_vec();
    expected.extend(0..=255u8);
    expected.extend_from_slice(b"\r\nYou sent: a\nb\rc\r\nYou sent: \xff\xfe\x00\r\n");
    assert_eq!(network.received, expected);
}

#[test]
fn a_too_long_line_is_answered_once_and_skipped() {
    let mut input = vec![b'x'; 1000];
    input.extend_from_slice(b"\r\nnext\r\n");
    input.extend(vec![b'y'; 257]);
    input.extend_from_slice(b"\r\n");
    input.extend(vec![b'z'; 256]);
    input.extend_from_slice(b"\r\n.\r\n");
    let session = session_256();
    let (network, _) = converse(session, &experiment_256(&input, Ending::Open), Loss::none());
    let mut expected = b"ERROR line too long (limit 256 bytes)\r\nYou sent: next\r\n".to_vec();
    expected.extend_from_slice(b"ERROR line too long (limit 256 bytes)\r\nYou sent: ");
    expected.extend(vec![b'z'; 256]);
    expected.extend_from_slice(b"\r\n");
    assert_eq!(network.received, expected);
    assert_eq!(network.finished().unwrap().1.lines_too_long, 2);
}

#[test]
fn the_default_limit_holds_with_default_capacities_over_small_buffers() {
    // The desktop configuration (4096-byte lines) over 64-byte socket buffers: a line at the
    // limit is echoed, one byte more is refused.
    let mut input = vec![b'a'; 4096];
    input.extend_from_slice(b"\r\n");
    input.extend(vec![b'b'; 4097]);
    input.extend_from_slice(b"\r\n.\r\n");
    let config = Config::default();
    let session = chatecho_core::DefaultSession::with_default_buffers(&config).unwrap();
    let experiment = Experiment {
        protocol: Protocol::default(),
        input,
        schedule: Schedule::default(),
    };
    let (network, _) = converse(session, &experiment, Loss::none());
    assert!(
        network
            .received
            .ends_with(b"ERROR line too long (limit 4096 bytes)\r\n")
    );
}

#[test]
fn the_quit_line_closes_and_later_bytes_are_ignored() {
    let mut input = b"first\r\n.\r\nnever answered\r\n".to_vec();
    input.extend(vec![b'!'; 500]);
    let session = session_256();
    let (mut network, report) =
        converse(session, &experiment_256(&input, Ending::Open), Loss::none());
    assert_eq!(network.received, b"You sent: first\r\n");
    assert_eq!(report.reason, Some(EndReason::QuitLine));
    network.hang_up();
}

#[test]
fn end_of_input_answers_the_unterminated_last_line() {
    let input = b"one\r\ntwo\r\nunterminated";
    let session = session_256();
    let (network, report) = converse(session, &experiment_256(input, Ending::Eof), Loss::none());
    assert_eq!(
        network.received,
        b"You sent: one\r\nYou sent: two\r\nYou sent: unterminated\r\n"
    );
    assert_eq!(report.reason, Some(EndReason::InputEnded));
}

#[test]
fn end_of_input_with_a_long_pipeline_loses_nothing() {
    // Many replies still owed when the FIN arrives: all are sent before the server closes.
    let mut input = pipelined_input(200);
    input.truncate(input.len() - b".\r\n".len());
    input.extend_from_slice(b"last words");
    let session = session_256();
    let experiment = Experiment {
        schedule: Schedule {
            // The peer reads slowly: replies pile up in both socket buffers and the session.
            drains: vec![0, 0, 7],
            ending: Ending::Eof,
            ..Schedule::default()
        },
        ..experiment_256(&input, Ending::Eof)
    };
    let (_, report) = converse(session, &experiment, Loss::none());
    assert_eq!(report.reason, Some(EndReason::InputEnded));
}

#[test]
fn a_lossy_link_still_delivers_every_reply_in_order() {
    // About one packet in 7 lost: retransmission and out-of-order reassembly in smoltcp, with
    // the session none the wiser.
    let input = pipelined_input(150);
    let session = session_256();
    let experiment = experiment_256(&input, Ending::Open);
    let (network, _) = converse(session, &experiment, Loss::one_in(Some(7), 7));
    assert!(
        network.loss.dropped > 10,
        "only {} packets dropped",
        network.loss.dropped
    );
}

proptest! {
    #![proptest_config(cases(24))]

    /// Any protocol, input, split into writes, drain schedule and ending, through the port,
    /// over a lossless link and a lossy one: exactly the model's answer. (The storage stays
    /// in: the port holds the session between polls.)
    #[test]
    fn the_port_answers_exactly_what_the_model_does(
        e in strategy::experiment(),
        loss in prop_oneof![Just(None), (3..12u64).prop_map(Some)],
        seed in any::<u64>(),
    ) {
        let config = e.protocol.config().unwrap();
        let session = Session::new(&config, SmallBuffers::owned()).unwrap();
        let mut network = Network::connect(session, Loss::one_in(loss, seed));
        if let Err(divergence) = check(&mut network, &e) {
            return Err(TestCaseError::fail(format!("{divergence}\nevents {:?}", network.events)));
        }
    }
}
