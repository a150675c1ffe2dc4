//! The core on a Cortex-M3 (QEMU's LM3S6965 board): every driver, checked byte for byte, with
//! the stack each one needs. QEMU exits 0 only if every check passes.
//!
//! 1. The blocking driver over a scripted in-memory stream: binary bytes, an overlong line,
//!    the quit line split across three reads.
//! 2. Backpressure: an output buffer that holds a single reply.
//! 3. The async driver, on embassy-futures' `block_on`.
//! 4. `port::smoltcp` between two smoltcp interfaces inside the chip, with 64-byte socket
//!    buffers: the exchanges of tests/tests/smoltcp_port.rs, packet loss included.
//!
//! It prints the memory each piece takes (docs/porting.md's RAM table comes from here).
#![no_std]
#![no_main]

use chatecho_core::driver::{asynch, blocking};
use chatecho_core::port::smoltcp::{Event, Phase, Server};
use chatecho_core::{
    BorrowedBuffers, Buffers, Config, EndReason, Session, State, Stats, Storage, capacity,
};
use chatecho_mcu::link::{LinkEnd, Loss, carry, interface};
use chatecho_mcu::pipe::Pipe;
use chatecho_mcu::{platform, script, stack};
use core::mem::size_of;
use cortex_m_semihosting::hprintln;
use smoltcp::iface::{Interface, SocketSet, SocketStorage};
use smoltcp::socket::tcp;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::IpAddress;

/// Fails the firmware with a message: QEMU exits 1.
macro_rules! check {
    ($condition:expr_2021, $($message:tt)+) => {
        if !$condition {
            hprintln!("exchange: FAILED: {}", format_args!($($message)+));
            platform::exit(false);
        }
    };
}

#[cortex_m_rt::entry]
fn main() -> ! {
    hprintln!("exchange: chatecho-core on a Cortex-M3 (thumbv7m-none-eabi, QEMU lm3s6965evb)");
    hprintln!(
        "ram: Session over borrowed buffers {} B, Config {} B, port::smoltcp::Server {} B",
        size_of::<Session<'static, BorrowedBuffers<'static>>>(),
        size_of::<Config>(),
        size_of::<Server>()
    );
    blocking_exchange();
    backpressure();
    async_exchange();
    smoltcp_exchanges();
    hprintln!("exchange: every check passed");
    platform::exit(true)
}

fn script_config() -> Config {
    script::config().unwrap_or_else(|why| platform::finish(b"exchange", Err(why)))
}

fn session<'c>(
    config: &'c Config,
    rx: &'c mut [u8],
    tx: &'c mut [u8],
) -> Session<'c, BorrowedBuffers<'c>> {
    match Session::new(config, Buffers::borrowed(rx, tx)) {
        Ok(session) => session,
        Err(_) => {
            hprintln!("exchange: FAILED: the storage was refused");
            platform::exit(false)
        }
    }
}

/// 1. The script through the blocking driver, writes of at most 5 bytes.
fn blocking_exchange() {
    let config = script_config();
    let (mut rx, mut tx) = ([0u8; script::INPUT], [0u8; script::OUTPUT]);
    let mut session = session(&config, &mut rx, &mut tx);
    let mut pipe = Pipe::<256>::new(script::READS, 5);
    let (ended, stack) = stack::measure(|| blocking::serve(&mut pipe, &mut session));
    check!(
        ended == Ok(EndReason::QuitLine),
        "blocking: ended {:?}",
        ended
    );
    check!(
        pipe.output() == script::REPLIES,
        "blocking: replies {:?}",
        pipe.output()
    );
    check!(pipe.flushed, "blocking: not flushed");
    check!(
        session.state() == State::Closed(EndReason::QuitLine),
        "blocking: state {:?}",
        session.state()
    );
    let stats = session.stats();
    check!(
        stats.lines_echoed == 4 && stats.lines_too_long == 1,
        "blocking: stats {:?}",
        stats
    );
    hprintln!(
        "blocking driver: ok; peak stack of the exchange {} B",
        stack
    );
}

/// 2. Two 11-byte lines in one read, and an output buffer that holds one reply (23 bytes of
///    44): the second waits until the first is sent.
fn backpressure() {
    let config = script_config();
    let (mut rx, mut tx) = ([0u8; script::INPUT], [0u8; script::OUTPUT]);
    let mut session = session(&config, &mut rx, &mut tx);
    let reply = b"You sent: hello world\r\n";
    check!(
        session.feed(b"hello world\r\nhello world\r\n") == 26,
        "backpressure: not all input taken"
    );
    check!(session.output() == reply, "backpressure: first reply");
    check!(!session.wants_input(), "backpressure: input not held back");
    session.consume_output(reply.len());
    check!(session.output() == reply, "backpressure: second reply");
    check!(session.wants_input(), "backpressure: input still held back");

    // Input ends while a line and the quit line wait behind a full output: the session looks
    // ahead and reports the quit line at once, and the reason never changes.
    session.reset();
    session.feed(b"hello world\r\nhello world\r\n.\r\n");
    session.input_eof();
    check!(
        session.state() == State::Closing(EndReason::QuitLine),
        "backpressure: look-ahead, {:?}",
        session.state()
    );
    for _ in 0..2 {
        check!(
            session.output() == reply,
            "backpressure: look-ahead replies"
        );
        session.consume_output(reply.len());
    }
    check!(
        session.state() == State::Closed(EndReason::QuitLine),
        "backpressure: look-ahead, then {:?}",
        session.state()
    );
    // Without the quit line among them, input ended.
    session.reset();
    session.feed(b"hello world\r\nhello world\r\n");
    session.input_eof();
    check!(
        session.state() == State::Closing(EndReason::InputEnded),
        "backpressure: no quit line ahead, {:?}",
        session.state()
    );

    // The same through the driver, whole lines per read: every reply is written before the
    // next one is made, so no write is larger than one reply.
    session.reset();
    let reads: &[&[u8]] = &[b"hello world\r\nhello world\r\n", b"hello world\r\n.\r\n"];
    let mut pipe = Pipe::<256>::new(reads, usize::MAX);
    let ended = blocking::serve(&mut pipe, &mut session);
    check!(
        ended == Ok(EndReason::QuitLine),
        "backpressure: ended {:?}",
        ended
    );
    check!(
        pipe.output().len() == 3 * reply.len()
            && pipe.output().chunks(reply.len()).all(|r| r == reply),
        "backpressure: replies {:?}",
        pipe.output()
    );
    check!(
        pipe.writes == 3,
        "backpressure: {} writes for 3 replies",
        pipe.writes
    );
    hprintln!("backpressure (output holds one reply): ok");
}

/// 3. The script through the async driver on `block_on`.
fn async_exchange() {
    let config = script_config();
    let (mut rx, mut tx) = ([0u8; script::INPUT], [0u8; script::OUTPUT]);
    let mut session = session(&config, &mut rx, &mut tx);
    let mut pipe = Pipe::<256>::new(script::READS, 5);
    let future_size = size_of_future(asynch::serve(&mut pipe, &mut session));
    session.reset();
    let (ended, stack) =
        stack::measure(|| embassy_futures::block_on(asynch::serve(&mut pipe, &mut session)));
    check!(ended == Ok(EndReason::QuitLine), "async: ended {:?}", ended);
    check!(
        pipe.output() == script::REPLIES,
        "async: replies {:?}",
        pipe.output()
    );
    hprintln!(
        "async driver: ok; the serve future {} B, peak stack of the exchange (future included) {} B",
        future_size,
        stack
    );
}

fn size_of_future<F: core::future::Future>(future: F) -> usize {
    core::mem::size_of_val(&future)
}

const SERVER_ADDRESS: IpAddress = IpAddress::v4(10, 0, 0, 1);
const CLIENT_ADDRESS: IpAddress = IpAddress::v4(10, 0, 0, 2);
const PORT: u16 = 7;
const CLIENT_PORT: u16 = 49152;
/// Turns after which a conversation that has not ended fails.
const MAX_TURNS: usize = 200_000;
/// Turns in a row in which nothing moved (time jumps to the next timer in those), after which
/// a conversation has stalled.
const MAX_IDLE_TURNS: usize = 50;
/// Lines up to 256 bytes: 258 bytes of input, 268 of output, so that the output holds one
/// longest reply and the session's own backpressure is exercised too.
const MAX_LINE: usize = 256;
const SOCKET_BUFFER: usize = 64;

/// 4. Every exchange of tests/tests/smoltcp_port.rs, on the chip.
fn smoltcp_exchanges() {
    hprintln!(
        "ram: smoltcp Interface {} B, tcp::Socket {} B, SocketStorage {} B",
        size_of::<Interface>(),
        size_of::<tcp::Socket<'static>>(),
        size_of::<SocketStorage<'static>>()
    );
    let config = match Config::default().with_max_line(MAX_LINE) {
        Ok(config) => config,
        Err(_) => {
            hprintln!("exchange: FAILED: the configuration was refused");
            platform::exit(false)
        }
    };
    let mut rx = [0u8; capacity::input(MAX_LINE, 2)];
    let mut tx = [0u8; capacity::output(MAX_LINE, 2, 10)];
    let mut session = session(&config, &mut rx, &mut tx);
    let mut peak = 0;
    let mut run = |name: &str,
                   input: &mut dyn Iterator<Item = u8>,
                   expected: &mut dyn Iterator<Item = u8>,
                   client: Client,
                   loss: Option<usize>|
     -> (EndReason, Stats, Loss) {
        let outcome = converse(&mut session, input, expected, client, loss);
        peak = peak.max(outcome.stack);
        let Some((reason, stats)) = outcome.finished else {
            hprintln!("exchange: FAILED: smoltcp {}: no Finished event", name);
            platform::exit(false)
        };
        hprintln!(
            "smoltcp {}: ok ({} bytes echoed, {} packets, {} lost)",
            name,
            stats.bytes_out,
            outcome.loss.carried,
            outcome.loss.dropped
        );
        (reason, stats, outcome.loss)
    };
    let letters = |n: usize, b: u8| core::iter::repeat_n(b, n);
    let text = |t: &'static [u8]| t.iter().copied();

    let (reason, ..) = run(
        "a line and the quit line",
        &mut text(b"hello\r\n.\r\n"),
        &mut text(b"You sent: hello\r\n"),
        Client::default(),
        None,
    );
    check!(reason == EndReason::QuitLine, "reason {:?}", reason);

    let (reason, stats, _) = run(
        "300 pipelined lines through 64-byte socket buffers",
        &mut Pipeline::lines(300, b"").chain(text(b".\r\n")),
        &mut Pipeline::lines(300, b"You sent: "),
        Client::default(),
        None,
    );
    check!(
        reason == EndReason::QuitLine && stats.lines_echoed == 300,
        "{:?} {:?}",
        reason,
        stats
    );
    check!(
        stats.bytes_in == Pipeline::lines(300, b"").count() as u64 + 3,
        "bytes in {}",
        stats.bytes_in
    );

    let (_, _, loss) = run(
        "a delimiter split across segments",
        &mut text(b"split\r\nacross\r\nsegments\r\n.\r\n"),
        &mut text(b"You sent: split\r\nYou sent: across\r\nYou sent: segments\r\n"),
        Client {
            chunk: 1,
            ..Client::default()
        },
        None,
    );
    check!(loss.carried > 28, "only {} packets", loss.carried);

    run(
        "binary bytes",
        &mut (0..=255u8).chain(text(b"\r\na\nb\rc\r\n\xff\xfe\x00\r\n.\r\n")),
        &mut text(b"You sent: ")
            .chain(0..=255u8)
            .chain(text(b"\r\nYou sent: a\nb\rc\r\nYou sent: \xff\xfe\x00\r\n")),
        Client::default(),
        None,
    );

    let too_long = b"ERROR line too long (limit 256 bytes)\r\n";
    let (_, stats, _) = run(
        "too-long lines answered once and skipped",
        &mut letters(1000, b'x')
            .chain(text(b"\r\nnext\r\n"))
            .chain(letters(257, b'y'))
            .chain(text(b"\r\n"))
            .chain(letters(256, b'z'))
            .chain(text(b"\r\n.\r\n")),
        &mut text(too_long)
            .chain(text(b"You sent: next\r\n"))
            .chain(text(too_long))
            .chain(text(b"You sent: "))
            .chain(letters(256, b'z'))
            .chain(text(b"\r\n")),
        Client::default(),
        None,
    );
    check!(stats.lines_too_long == 2, "{:?}", stats);

    let (reason, ..) = run(
        "the quit line closes, later bytes ignored",
        &mut text(b"first\r\n.\r\nnever answered\r\n").chain(letters(500, b'!')),
        &mut text(b"You sent: first\r\n"),
        Client::default(),
        None,
    );
    check!(reason == EndReason::QuitLine, "reason {:?}", reason);

    let (reason, ..) = run(
        "end of input answers the unterminated last line",
        &mut text(b"one\r\ntwo\r\nunterminated"),
        &mut text(b"You sent: one\r\nYou sent: two\r\nYou sent: unterminated\r\n"),
        Client {
            close_after_input: true,
            ..Client::default()
        },
        None,
    );
    check!(reason == EndReason::InputEnded, "reason {:?}", reason);

    let (reason, ..) = run(
        "end of input with a long pipeline",
        &mut Pipeline::lines(200, b"").chain(text(b"last words")),
        &mut Pipeline::lines(200, b"You sent: ").chain(text(b"You sent: last words\r\n")),
        Client {
            close_after_input: true,
            ..Client::default()
        },
        None,
    );
    check!(reason == EndReason::InputEnded, "reason {:?}", reason);

    let (_, _, loss) = run(
        "every 7th packet lost",
        &mut Pipeline::lines(150, b"").chain(text(b".\r\n")),
        &mut Pipeline::lines(150, b"You sent: "),
        Client::default(),
        Some(7),
    );
    check!(loss.dropped > 10, "only {} packets lost", loss.dropped);

    hprintln!(
        "smoltcp port: ok; peak stack of the server side (interface poll, Server::poll) {} B",
        peak
    );
}

/// How the client behaves in one conversation.
#[derive(Clone, Copy)]
struct Client {
    /// The most it hands its socket per turn: 1 splits every delimiter across segments.
    chunk: usize,
    /// Shut its sending side after the input (end of input for the server).
    close_after_input: bool,
}

impl Default for Client {
    fn default() -> Self {
        Self {
            chunk: usize::MAX,
            close_after_input: false,
        }
    }
}

/// What a conversation produced.
struct Outcome {
    /// The `Finished` event's reason and stats.
    finished: Option<(EndReason, Stats)>,
    loss: Loss,
    /// The most stack the server side used: an interface poll and a server poll.
    stack: usize,
}

/// Pipelined lines of every length from 0 to 250 (line `i` has `i * 37 % 251` letters), as the
/// client sends them (`prefix` empty) or as the server answers them: the host test's input,
/// made a byte at a time instead of held in memory.
struct Pipeline {
    lines: usize,
    prefix: &'static [u8],
    line: usize,
    at: usize,
}

impl Pipeline {
    fn lines(lines: usize, prefix: &'static [u8]) -> Self {
        Self {
            lines,
            prefix,
            line: 0,
            at: 0,
        }
    }
}

impl Iterator for Pipeline {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        while self.line < self.lines {
            let len = self.line * 37 % 251;
            let at = self.at;
            self.at += 1;
            let (prefix, delimiter) = (self.prefix.len(), self.prefix.len() + len);
            if at < prefix {
                return Some(self.prefix[at]);
            }
            if at < delimiter {
                return Some(b'a' + ((self.line + at - prefix) % 26) as u8);
            }
            if at < delimiter + 2 {
                return Some(b"\r\n"[at - delimiter]);
            }
            self.line += 1;
            self.at = 0;
        }
        None
    }
}

/// One whole conversation: the server listens with `session`, the client connects, sends
/// `input`, reads every reply until the server's FIN (checking each byte against `expected`),
/// and closes. Ends when both sockets are closed and the server listens again.
fn converse<S: Storage>(
    session: &mut Session<'_, S>,
    input: &mut dyn Iterator<Item = u8>,
    expected: &mut dyn Iterator<Item = u8>,
    client: Client,
    every: Option<usize>,
) -> Outcome {
    let mut now = Instant::ZERO;
    let mut loss = Loss {
        every,
        ..Loss::default()
    };
    let (mut server_end, mut client_end) = (LinkEnd::new(), LinkEnd::new());
    let mut server_iface = interface(&mut server_end, SERVER_ADDRESS, now);
    let mut client_iface = interface(&mut client_end, CLIENT_ADDRESS, now);

    let (mut server_rx, mut server_tx) = ([0u8; SOCKET_BUFFER], [0u8; SOCKET_BUFFER]);
    let mut server_storage = [SocketStorage::EMPTY];
    let mut server_sockets = SocketSet::new(&mut server_storage[..]);
    let server_handle = server_sockets.add(tcp::Socket::new(
        tcp::SocketBuffer::new(&mut server_rx[..]),
        tcp::SocketBuffer::new(&mut server_tx[..]),
    ));
    let mut server = Server::new(PORT);

    let (mut client_rx, mut client_tx) = ([0u8; SOCKET_BUFFER], [0u8; SOCKET_BUFFER]);
    let mut client_storage = [SocketStorage::EMPTY];
    let mut client_sockets = SocketSet::new(&mut client_storage[..]);
    let mut client_socket = tcp::Socket::new(
        tcp::SocketBuffer::new(&mut client_rx[..]),
        tcp::SocketBuffer::new(&mut client_tx[..]),
    );
    // Segments as small as the writes, so that tiny chunks really cross the link one by one.
    client_socket.set_nagle_enabled(false);
    let client_handle = client_sockets.add(client_socket);

    let mut input = input.peekable();
    let mut received = 0usize;
    let mut finished = None;
    let mut connected = false;
    let mut idle_turns = 0;
    let mut stack = 0;

    for _ in 0..MAX_TURNS {
        let mut moved = 0;
        client_iface.poll(now, &mut client_end, &mut client_sockets);

        // The server side, as firmware runs it: poll the interface, then the server, and
        // again both while the server reports activity. Its stack is measured.
        let (served, used) = stack::measure(|| {
            let mut moved = 0;
            let mut finished = None;
            server_iface.poll(now, &mut server_end, &mut server_sockets);
            for _ in 0..1_000 {
                let socket = server_sockets.get_mut::<tcp::Socket>(server_handle);
                let Ok(activity) = server.poll(socket, session) else {
                    return Err("the server could not listen");
                };
                match activity.event {
                    Some(Event::Finished { reason, stats }) => finished = Some((reason, stats)),
                    Some(Event::Lost { .. }) => return Err("the connection was lost"),
                    _ => {}
                }
                moved += activity.received + activity.sent;
                if activity.is_idle() {
                    break;
                }
                server_iface.poll(now, &mut server_end, &mut server_sockets);
            }
            Ok((moved, finished))
        });
        stack = stack.max(used);
        match served {
            Ok((server_moved, server_finished)) => {
                moved += server_moved;
                finished = finished.or(server_finished);
            }
            Err(why) => {
                hprintln!("exchange: FAILED: smoltcp: {}", why);
                platform::exit(false)
            }
        }

        let socket = client_sockets.get_mut::<tcp::Socket>(client_handle);
        if !connected && server.phase() == Phase::Listening {
            check!(
                socket
                    .connect(client_iface.context(), (SERVER_ADDRESS, PORT), CLIENT_PORT)
                    .is_ok(),
                "smoltcp: connect"
            );
            connected = true;
        }
        if socket.can_send() && input.peek().is_some() {
            let sent = socket.send(|buf| {
                let mut n = 0;
                while n < buf.len().min(client.chunk) {
                    let Some(byte) = input.next() else { break };
                    buf[n] = byte;
                    n += 1;
                }
                (n, n)
            });
            moved += sent.unwrap_or(0);
        }
        while socket.can_recv() {
            let got = socket.recv(|buf| {
                for &byte in buf.iter() {
                    let want = expected.next();
                    check!(
                        want == Some(byte),
                        "smoltcp: byte {} is {:#04x}, expected {:?}",
                        received,
                        byte,
                        want
                    );
                    received += 1;
                }
                (buf.len(), buf.len())
            });
            moved += got.unwrap_or(0);
        }
        // Close once everything is sent: at once when told to (end of input), else when the
        // server has closed and every reply has been read.
        let server_closed = socket.state() == tcp::State::CloseWait && !socket.may_recv();
        if connected
            && input.peek().is_none()
            && socket.may_send()
            && (client.close_after_input || server_closed)
        {
            socket.close();
        }

        if connected
            && finished.is_some()
            && !socket.is_open()
            && server.phase() == Phase::Listening
        {
            check!(
                expected.next().is_none(),
                "smoltcp: replies missing after byte {}",
                received
            );
            return Outcome {
                finished,
                loss,
                stack,
            };
        }

        moved += carry(&mut client_end, &mut server_end, &mut loss);
        moved += carry(&mut server_end, &mut client_end, &mut loss);
        if moved == 0 {
            idle_turns += 1;
            check!(
                idle_turns <= MAX_IDLE_TURNS,
                "smoltcp: stalled, server {:?}, {} bytes received",
                server.phase(),
                received
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
    hprintln!(
        "exchange: FAILED: smoltcp: no end after {} turns",
        MAX_TURNS
    );
    platform::exit(false)
}
