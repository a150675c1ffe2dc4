//! The core on a real no_std TCP/IP stack: two smoltcp interfaces joined by an in-memory link,
//! a server socket driven by `port::smoltcp::Server` and a client socket, in one process.
//!
//! Everything is deterministic: packets cross the link only when the test carries them, time
//! is a smoltcp `Instant` the test advances (1 ms per turn, or straight to the next timer when
//! nothing moved), and packet loss is a fixed pattern. Socket buffers are fixed arrays, most of
//! them 64 bytes, far smaller than the lines, so lines arrive in pieces and both the TCP window
//! and the session's backpressure come into play. Every answer is checked byte for byte against
//! the plain model of the protocol (`chatecho_tests::model`) and, for the simple cases, against
//! the literal bytes the seed would send.

use chatecho_core::port::smoltcp::{Event, Phase, Server};
use chatecho_core::{Buffers, Config, EndReason, OwnedBuffers, Session, Stats, Storage};
use chatecho_tests::model::{Ending, Protocol};
use smoltcp::iface::{Config as IfaceConfig, Interface, SocketSet, SocketStorage};
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
/// Turns of the loop after which a conversation that has not ended fails the test.
const MAX_TURNS: usize = 100_000;
/// Consecutive turns in which no packet crossed the link and no byte moved, after which the
/// test fails: time jumps to the next timer in such turns, so this means a stall.
const MAX_IDLE_TURNS: usize = 50;

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

/// Which packets the link loses: every `every`-th packet it carries, counting both directions.
#[derive(Debug, Clone, Copy)]
struct Loss {
    every: Option<usize>,
    carried: usize,
    dropped: usize,
}

impl Loss {
    fn none() -> Self {
        Self::every(None)
    }

    fn every(every: Option<usize>) -> Self {
        Self {
            every,
            carried: 0,
            dropped: 0,
        }
    }
}

/// Moves every packet waiting in `from`'s outbox to `to`'s inbox, except those `loss` drops.
/// Returns how many packets left `from`.
fn carry(from: &mut LinkEnd, to: &mut LinkEnd, loss: &mut Loss) -> usize {
    let mut moved = 0;
    while let Some(packet) = from.outbox.pop_front() {
        moved += 1;
        loss.carried += 1;
        if loss.every.is_some_and(|every| loss.carried % every == 0) {
            loss.dropped += 1;
        } else {
            to.inbox.push_back(packet);
        }
    }
    moved
}

fn interface(device: &mut LinkEnd, address: IpAddress, now: Instant) -> Interface {
    let mut iface = Interface::new(IfaceConfig::new(HardwareAddress::Ip), device, now);
    iface.update_ip_addrs(|addrs| {
        addrs.push(IpCidr::new(address, 24)).unwrap();
    });
    iface
}

/// How the client behaves in one conversation.
struct Client<'a> {
    /// Everything it sends.
    input: &'a [u8],
    /// The most it hands its socket per turn: 1 splits every delimiter across segments.
    chunk: usize,
    /// Shut its sending side after the input (end of input for the server).
    close_after_input: bool,
    /// The size of each of its socket buffers.
    buffer: usize,
}

/// What a conversation produced.
#[derive(Debug)]
struct Outcome {
    /// Every byte the client received, in order.
    received: Vec<u8>,
    /// Every event the server reported, in order.
    events: Vec<Event>,
    /// Packets the link carried, both ways, dropped ones included.
    carried: usize,
    /// Packets the link dropped.
    dropped: usize,
}

impl Outcome {
    /// The `Finished` event's reason and stats; fails if the conversation did not finish.
    fn finished(&self) -> (EndReason, Stats) {
        let finished = self.events.iter().find_map(|event| match *event {
            Event::Finished { reason, stats } => Some((reason, stats)),
            _ => None,
        });
        finished.unwrap_or_else(|| panic!("no Finished event in {:?}", self.events))
    }
}

/// Runs one whole conversation: the server listens with `session`, the client connects, sends
/// its input, reads every reply until the server's FIN, and closes. Ends when both sockets are
/// closed and the server listens again.
fn converse<S: Storage, const SERVER_BUFFER: usize>(
    session: &mut Session<'_, S>,
    client: &Client,
    mut loss: Loss,
) -> Outcome {
    let mut now = Instant::ZERO;
    let mut server_end = LinkEnd::default();
    let mut client_end = LinkEnd::default();
    let mut server_iface = interface(&mut server_end, SERVER_ADDRESS, now);
    let mut client_iface = interface(&mut client_end, CLIENT_ADDRESS, now);

    // The server's memory, as firmware would have it: fixed arrays.
    let mut server_rx = [0u8; SERVER_BUFFER];
    let mut server_tx = [0u8; SERVER_BUFFER];
    let mut server_storage = [SocketStorage::EMPTY];
    let mut server_sockets = SocketSet::new(&mut server_storage[..]);
    let server_handle = server_sockets.add(tcp::Socket::new(
        tcp::SocketBuffer::new(&mut server_rx[..]),
        tcp::SocketBuffer::new(&mut server_tx[..]),
    ));
    let mut server = Server::new(PORT);

    let mut client_rx = vec![0u8; client.buffer];
    let mut client_tx = vec![0u8; client.buffer];
    let mut client_storage = [SocketStorage::EMPTY];
    let mut client_sockets = SocketSet::new(&mut client_storage[..]);
    let mut client_socket = tcp::Socket::new(
        tcp::SocketBuffer::new(&mut client_rx[..]),
        tcp::SocketBuffer::new(&mut client_tx[..]),
    );
    // Segments as small as the writes, so that tiny chunks really cross the link one by one.
    client_socket.set_nagle_enabled(false);
    let client_handle = client_sockets.add(client_socket);

    let mut to_send = client.input;
    let mut received = Vec::new();
    let mut events = Vec::new();
    let mut connected = false;
    let mut idle_turns = 0;

    for _ in 0..MAX_TURNS {
        let mut moved = 0;
        client_iface.poll(now, &mut client_end, &mut client_sockets);
        server_iface.poll(now, &mut server_end, &mut server_sockets);

        // The server side, exactly as firmware runs it: poll the server after the interface,
        // and again (with the interface) while it reports activity.
        for _ in 0..1_000 {
            let socket = server_sockets.get_mut::<tcp::Socket>(server_handle);
            let activity = server.poll(socket, session).expect("listen");
            events.extend(activity.event);
            moved += activity.received + activity.sent;
            if activity.is_idle() {
                break;
            }
            server_iface.poll(now, &mut server_end, &mut server_sockets);
        }

        let socket = client_sockets.get_mut::<tcp::Socket>(client_handle);
        if !connected && server.phase() == Phase::Listening {
            socket
                .connect(client_iface.context(), (SERVER_ADDRESS, PORT), CLIENT_PORT)
                .expect("connect");
            connected = true;
        }
        if socket.can_send() && !to_send.is_empty() {
            let chunk = &to_send[..to_send.len().min(client.chunk)];
            let n = socket.send_slice(chunk).expect("send");
            to_send = &to_send[n..];
            moved += n;
        }
        while socket.can_recv() {
            moved += socket
                .recv(|buf| {
                    received.extend_from_slice(buf);
                    (buf.len(), buf.len())
                })
                .expect("recv");
        }
        // Close once everything is sent: at once when told to (end of input), else when the
        // server has closed and every reply has been read.
        let server_closed = socket.state() == tcp::State::CloseWait && !socket.may_recv();
        if connected
            && to_send.is_empty()
            && socket.may_send()
            && (client.close_after_input || server_closed)
        {
            socket.close();
        }

        let finished = events
            .iter()
            .any(|e| matches!(e, Event::Finished { .. } | Event::Lost { .. }));
        if connected && finished && !socket.is_open() && server.phase() == Phase::Listening {
            return Outcome {
                received,
                events,
                carried: loss.carried,
                dropped: loss.dropped,
            };
        }

        moved += carry(&mut client_end, &mut server_end, &mut loss);
        moved += carry(&mut server_end, &mut client_end, &mut loss);
        if moved == 0 {
            idle_turns += 1;
            assert!(
                idle_turns <= MAX_IDLE_TURNS,
                "stalled: server {:?}, client {}, {} bytes received, events {events:?}",
                server.phase(),
                client_sockets.get::<tcp::Socket>(client_handle).state(),
                received.len()
            );
            // Nothing moved: only a timer (delayed ACK, retransmission) can change anything.
            let next = [
                client_iface.poll_at(now, &client_sockets),
                server_iface.poll_at(now, &server_sockets),
            ]
            .into_iter()
            .flatten()
            .min();
            now = next
                .filter(|&at| at > now)
                .unwrap_or(now + Duration::from_millis(1));
        } else {
            idle_turns = 0;
            now += Duration::from_millis(1);
        }
    }
    panic!("no end after {MAX_TURNS} turns; events {events:?}");
}

/// A session and protocol for lines up to 256 bytes: input 258, output 268 bytes, so that the
/// output holds one longest reply and the session's own backpressure is exercised too.
type Session256 = Session<'static, OwnedBuffers<258, 268>>;

/// The configuration of [`protocol_256`], shared by every session of the test process.
static CONFIG_256: std::sync::LazyLock<Config> =
    std::sync::LazyLock::new(|| protocol_256().config().unwrap());

fn protocol_256() -> Protocol {
    Protocol {
        max_line: 256,
        ..Protocol::default()
    }
}

fn session_256() -> Session256 {
    Session::new(&CONFIG_256, Buffers::owned()).unwrap()
}

/// A client with 64-byte socket buffers that writes as much as its socket takes.
fn client(input: &[u8], close_after_input: bool) -> Client<'_> {
    Client {
        input,
        chunk: usize::MAX,
        close_after_input,
        buffer: 64,
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

/// Checks the client received exactly what the model answers to everything it sent.
fn assert_matches_model(protocol: &Protocol, input: &[u8], ending: Ending, outcome: &Outcome) {
    let expected = protocol.expected(input, ending);
    assert!(
        outcome.received == expected.output,
        "received {} bytes, expected {}; first difference at {:?}",
        outcome.received.len(),
        expected.output.len(),
        outcome
            .received
            .iter()
            .zip(&expected.output)
            .position(|(a, b)| a != b)
    );
    let (_, stats) = outcome.finished();
    assert_eq!(stats.lines_echoed, expected.lines_echoed);
    assert_eq!(stats.lines_too_long, expected.lines_too_long);
}

#[test]
fn a_line_is_echoed_and_the_quit_line_closes() {
    let mut session = session_256();
    let outcome = converse::<_, 1024>(
        &mut session,
        &client(b"hello\r\n.\r\n", false),
        Loss::none(),
    );
    assert_eq!(outcome.received, b"You sent: hello\r\n");
    assert_eq!(outcome.finished().0, EndReason::QuitLine);
    assert!(matches!(
        outcome.events[..],
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
    let mut session = session_256();
    let outcome = converse::<_, 64>(&mut session, &client(&input, false), Loss::none());
    assert_matches_model(&protocol_256(), &input, Ending::Open, &outcome);
    let (reason, stats) = outcome.finished();
    assert_eq!(reason, EndReason::QuitLine);
    assert_eq!(stats.lines_echoed, 300);
    // Every byte up to and including the quit line went through the 64-byte buffers.
    assert_eq!(stats.bytes_in, input.len() as u64);
    assert_eq!(stats.bytes_out, outcome.received.len() as u64);
}

#[test]
fn a_delimiter_split_across_segments_is_found() {
    // One byte per segment: every "\r\n" arrives as "\r" then "\n".
    let input = b"split\r\nacross\r\nsegments\r\n.\r\n";
    let mut session = session_256();
    let one_byte_writes = Client {
        chunk: 1,
        ..client(input, false)
    };
    let outcome = converse::<_, 64>(&mut session, &one_byte_writes, Loss::none());
    assert!(outcome.carried > input.len(), "{} packets", outcome.carried);
    assert_eq!(
        outcome.received,
        b"You sent: split\r\nYou sent: across\r\nYou sent: segments\r\n"
    );
}

#[test]
fn binary_bytes_are_echoed_unchanged() {
    // Every byte value, NUL and invalid UTF-8 included, in one 256-byte line (no "\r\n" in
    // it: 13 is followed by 14), then a lone "\n" and a lone "\r" inside a line.
    let mut input: Vec<u8> = (0..=255u8).collect();
    input.extend_from_slice(b"\r\na\nb\rc\r\n\xff\xfe\x00\r\n.\r\n");
    let mut session = session_256();
    let outcome = converse::<_, 64>(&mut session, &client(&input, false), Loss::none());
    let mut expected = b"You sent: ".to_vec();
    expected.extend(0..=255u8);
    expected.extend_from_slice(b"\r\nYou sent: a\nb\rc\r\nYou sent: \xff\xfe\x00\r\n");
    assert_eq!(outcome.received, expected);
    assert_matches_model(&protocol_256(), &input, Ending::Open, &outcome);
}

#[test]
fn a_too_long_line_is_answered_once_and_skipped() {
    let mut input = vec![b'x'; 1000];
    input.extend_from_slice(b"\r\nnext\r\n");
    input.extend(vec![b'y'; 257]);
    input.extend_from_slice(b"\r\n");
    input.extend(vec![b'z'; 256]);
    input.extend_from_slice(b"\r\n.\r\n");
    let mut session = session_256();
    let outcome = converse::<_, 64>(&mut session, &client(&input, false), Loss::none());
    let mut expected = b"ERROR line too long (limit 256 bytes)\r\nYou sent: next\r\n".to_vec();
    expected.extend_from_slice(b"ERROR line too long (limit 256 bytes)\r\nYou sent: ");
    expected.extend(vec![b'z'; 256]);
    expected.extend_from_slice(b"\r\n");
    assert_eq!(outcome.received, expected);
    let (_, stats) = outcome.finished();
    assert_eq!(stats.lines_too_long, 2);
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
    let mut session = chatecho_core::DefaultSession::with_default_buffers(&config).unwrap();
    let outcome = converse::<_, 64>(&mut session, &client(&input, false), Loss::none());
    assert_matches_model(&Protocol::default(), &input, Ending::Open, &outcome);
    assert!(outcome
        .received
        .ends_with(b"ERROR line too long (limit 4096 bytes)\r\n"));
}

#[test]
fn the_quit_line_closes_and_later_bytes_are_ignored() {
    let mut input = b"first\r\n.\r\nnever answered\r\n".to_vec();
    input.extend(vec![b'!'; 500]);
    let mut session = session_256();
    let outcome = converse::<_, 64>(&mut session, &client(&input, false), Loss::none());
    assert_eq!(outcome.received, b"You sent: first\r\n");
    assert_eq!(outcome.finished().0, EndReason::QuitLine);
}

#[test]
fn end_of_input_answers_the_unterminated_last_line() {
    let input = b"one\r\ntwo\r\nunterminated";
    let mut session = session_256();
    let outcome = converse::<_, 64>(&mut session, &client(input, true), Loss::none());
    assert_eq!(
        outcome.received,
        b"You sent: one\r\nYou sent: two\r\nYou sent: unterminated\r\n"
    );
    assert_eq!(outcome.finished().0, EndReason::InputEnded);
    assert_matches_model(&protocol_256(), input, Ending::Eof, &outcome);
}

#[test]
fn end_of_input_with_a_long_pipeline_loses_nothing() {
    // Many replies still owed when the FIN arrives: all are sent before the server closes.
    let mut input = pipelined_input(200);
    input.truncate(input.len() - b".\r\n".len());
    input.extend_from_slice(b"last words");
    let mut session = session_256();
    let outcome = converse::<_, 64>(&mut session, &client(&input, true), Loss::none());
    assert_matches_model(&protocol_256(), &input, Ending::Eof, &outcome);
    assert_eq!(outcome.finished().0, EndReason::InputEnded);
}

#[test]
fn a_lossy_link_still_delivers_every_reply_in_order() {
    // Every 7th packet lost: retransmission and out-of-order reassembly in smoltcp, with the
    // session none the wiser.
    let input = pipelined_input(150);
    let mut session = session_256();
    let outcome = converse::<_, 64>(&mut session, &client(&input, false), Loss::every(Some(7)));
    assert!(
        outcome.dropped > 10,
        "only {} packets dropped",
        outcome.dropped
    );
    assert_matches_model(&protocol_256(), &input, Ending::Open, &outcome);
}
