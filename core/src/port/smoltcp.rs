//! The echo protocol served on a [`smoltcp`] TCP socket, for firmware that polls
//! its network stack from a main loop (feature `smoltcp`).
//!
//! smoltcp sockets are not streams: the application polls the interface, then looks at each
//! socket. A [`Server`] is what the application does with one `tcp::Socket` after each
//! interface poll: it listens on a port, takes the connection when it is established, moves
//! bytes between the socket's ring buffers and a [`Session`] through the socket's
//! `recv(|buf| …)` / `send(|buf| …)` closures (no buffer of its own, one copy each way, since
//! the session's buffers and the socket's are distinct memory), reports end of input when the
//! peer's FIN has been read, closes the socket when the session is done, and listens again.
//!
//! | socket state                   | what [`Server::poll`] does                             |
//! |--------------------------------|--------------------------------------------------------|
//! | `Closed`, `TimeWait`           | listens on the port ([`Event::Listening`])             |
//! | `Listen`, `SynReceived`        | waits for the handshake                                |
//! | `Established`                  | serves ([`Event::Connected`] the first time)           |
//! | `CloseWait` (peer sent FIN)    | reads what is left, then ends input: the unterminated last line is answered, replies are sent |
//! | session closed                 | `close()`: FIN after the queued replies ([`Event::Finished`]) |
//! | `FinWait*`, `LastAck`, `Closing` | drops what the peer still sends, waits for the socket to close, listens again |
//! | `TimeWait` after our close     | listens again at once (see below)                      |
//! | reset or timeout while serving | [`Event::Lost`], listens again                         |
//!
//! Memory is fixed: the session's storage, the socket's two ring buffers (yours, any size:
//! the session applies backpressure by not reading when its output is full, which closes the
//! TCP window) and a [`Server`] of a few bytes. Between connections the server resets the
//! session in place ([`Session::reset`]); nothing is built on the stack. The server never allocates, never
//! panics and never reads a clock; timeouts are the socket's own
//! ([`tcp::Socket::set_timeout`], [`tcp::Socket::set_keep_alive`]). One socket serves one
//! connection at a time; for `N` at once, use `N` sockets listening on the same port, each with
//! its own session and server.
//!
//! After the quit line the server closes first, which leaves the socket in TIME-WAIT for 10 s.
//! A one-socket server cannot wait that long, so the server turns off the socket's delayed ACK
//! while it closes (the peer's FIN is then acknowledged in the interface poll that receives it)
//! and listens again as soon as TIME-WAIT is reached, restoring the ACK delay. The cost: if
//! that last ACK is lost, the peer's retransmitted FIN meets a listening socket and is answered
//! with a reset; by then the peer has received every reply.
//!
//! # Example
//!
//! One interface over smoltcp's loopback device, a server socket driven by [`Server::poll`] and
//! a client socket in the same loop. On a microcontroller the device is your Ethernet or Wi-Fi
//! driver, `now` comes from your clock, and the client is on the other end of the wire.
//!
//! ```
//! use chatecho_core::port::smoltcp::{Event, Server};
//! use chatecho_core::{capacity, Buffers, Config, EndReason, Session};
//! use smoltcp::iface::{Config as IfaceConfig, Interface, SocketSet, SocketStorage};
//! use smoltcp::phy::{Loopback, Medium};
//! use smoltcp::socket::tcp;
//! use smoltcp::time::{Duration, Instant};
//! use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr, Ipv4Address};
//!
//! // Lines up to 120 bytes: 122 bytes of input, 132 of output (a 120-byte line's reply).
//! const IN: usize = capacity::input(120, 2);
//! const OUT: usize = capacity::output(120, 2, 10);
//! let config = Config::default().with_max_line(120)?;
//! let (mut input, mut output) = ([0u8; IN], [0u8; OUT]);
//! let mut session = Session::new(&config, Buffers::borrowed(&mut input, &mut output))?;
//! let mut server = Server::new(7);
//!
//! let mut device = Loopback::new(Medium::Ip);
//! let mut now = Instant::ZERO;
//! let mut iface = Interface::new(IfaceConfig::new(HardwareAddress::Ip), &mut device, now);
//! iface.update_ip_addrs(|addrs| {
//!     let _ = addrs.push(IpCidr::new(IpAddress::v4(10, 0, 0, 1), 24));
//! });
//!
//! // Socket buffers are plain arrays: no allocator needed.
//! let (mut server_rx, mut server_tx) = ([0u8; 256], [0u8; 256]);
//! let (mut client_rx, mut client_tx) = ([0u8; 256], [0u8; 256]);
//! let mut storage: [SocketStorage; 2] = Default::default();
//! let mut sockets = SocketSet::new(&mut storage[..]);
//! let server_socket = sockets.add(tcp::Socket::new(
//!     tcp::SocketBuffer::new(&mut server_rx[..]),
//!     tcp::SocketBuffer::new(&mut server_tx[..]),
//! ));
//! let client_socket = sockets.add(tcp::Socket::new(
//!     tcp::SocketBuffer::new(&mut client_rx[..]),
//!     tcp::SocketBuffer::new(&mut client_tx[..]),
//! ));
//!
//! let mut request: &[u8] = b"hello\r\n.\r\n";
//! let mut reply = Vec::new();
//! let mut finished = None;
//! for step in 0..1000 {
//!     iface.poll(now, &mut device, &mut sockets);
//!
//!     // The whole server side: one call per interface poll.
//!     let activity = server.poll(sockets.get_mut(server_socket), &mut session)?;
//!     if let Some(Event::Finished { reason, .. }) = activity.event {
//!         finished = Some(reason);
//!     }
//!
//!     let client = sockets.get_mut::<tcp::Socket>(client_socket);
//!     if step == 1 {
//!         client.connect(iface.context(), (Ipv4Address::new(10, 0, 0, 1), 7), 49152)?;
//!     }
//!     if client.can_send() && !request.is_empty() {
//!         let n = client.send_slice(request)?;
//!         request = &request[n..];
//!     }
//!     while client.can_recv() {
//!         client.recv(|buf| {
//!             reply.extend_from_slice(buf);
//!             (buf.len(), ())
//!         })?;
//!     }
//!     if finished.is_some() && !client.may_recv() {
//!         break; // the server's FIN arrived after its replies
//!     }
//!     now += Duration::from_millis(1);
//! }
//! assert_eq!(reply, b"You sent: hello\r\n");
//! assert_eq!(finished, Some(EndReason::QuitLine));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::session::{EndReason, Session, State as SessionState, Stats};
use crate::storage::Storage;
use ::smoltcp::socket::tcp::{self, ListenError, RecvError, State as TcpState};
use ::smoltcp::time::Duration;
use ::smoltcp::wire::{IpEndpoint, IpListenEndpoint};

/// Where a [`Server`] is in its cycle of listen, serve, close, listen again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Phase {
    /// Not listening yet: the next poll calls `listen`.
    Idle,
    /// The socket listens (or is in the middle of a handshake).
    Listening,
    /// A connection is established and the session is running on it.
    Serving,
    /// The session is done and the socket was told to close; waiting for it to finish closing.
    Closing,
    /// [`Server::shutdown`] completed: the socket is closed and will not listen again.
    Stopped,
}

/// Something a poll changed that the application may want to log or act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Event {
    /// The socket listens for the next connection.
    Listening,
    /// A connection was established; the session runs on it from now on.
    Connected {
        /// The peer's address and port, as the socket reports it.
        remote: Option<IpEndpoint>,
    },
    /// The conversation ended normally: every reply is in the socket's transmit buffer and the
    /// socket was closed, so its FIN follows them. The session was reset for the next
    /// connection; `stats` are those of the conversation that ended.
    Finished {
        /// Why input ended.
        reason: EndReason,
        /// What the session did during the conversation.
        stats: Stats,
    },
    /// The connection was reset by the peer or timed out before the conversation ended; replies
    /// not yet in the socket were dropped. The session was reset for the next connection.
    Lost {
        /// What the session did before the connection was lost.
        stats: Stats,
    },
    /// After [`Server::shutdown`]: the socket is closed for good.
    Stopped,
}

/// What one [`Server::poll`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Activity {
    /// Bytes moved from the socket into the session.
    pub received: usize,
    /// Bytes of replies moved from the session into the socket.
    pub sent: usize,
    /// The state change this poll made, if any. A poll makes at most one.
    pub event: Option<Event>,
}

impl Activity {
    /// Whether the poll did nothing. Otherwise poll the interface (to transmit what was queued)
    /// and the server again before waiting: a poll stops after one [`Event`], and bytes moved
    /// may have opened a window or freed room that lets more move.
    pub fn is_idle(&self) -> bool {
        self.received == 0 && self.sent == 0 && self.event.is_none()
    }
}

/// Serves the echo protocol on one smoltcp TCP socket, one connection after another.
///
/// The server holds only the port and its [`Phase`]; the socket and the session are passed to
/// each [`Server::poll`], so they can live wherever the application keeps them (a
/// `SocketSet`, a `static`). Give it a fresh session the first time; after each connection
/// it resets the session itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Server {
    endpoint: IpListenEndpoint,
    phase: Phase,
    stopping: bool,
    /// The socket's own ACK delay, set aside while it closes (see [`Server::poll`]) and given
    /// back before it listens again.
    saved_ack_delay: Option<Option<Duration>>,
}

impl Server {
    /// A server that will listen on `endpoint`: a port (`Server::new(7)`) or an address and a
    /// port. It does nothing until the first [`Server::poll`].
    pub fn new(endpoint: impl Into<IpListenEndpoint>) -> Self {
        Self {
            endpoint: endpoint.into(),
            phase: Phase::Idle,
            stopping: false,
            saved_ack_delay: None,
        }
    }

    /// Where the server listens.
    pub fn endpoint(&self) -> IpListenEndpoint {
        self.endpoint
    }

    /// Where the server is in its cycle.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Stops serving: a conversation in progress stops taking input (complete lines already
    /// received are answered, see [`Session::shutdown`]), its replies are sent and the socket
    /// closes; no connection is accepted after that. Keep polling until [`Event::Stopped`].
    pub fn shutdown<S: Storage>(&mut self, session: &mut Session<'_, S>) {
        self.stopping = true;
        if self.phase == Phase::Serving {
            session.shutdown();
        }
    }

    /// Does what the socket's state calls for, right after the interface was polled: listen,
    /// accept, move bytes both ways as far as the buffers allow, close, or listen again.
    ///
    /// Fails only when the socket cannot listen: [`ListenError::Unaddressable`] for port 0,
    /// [`ListenError::InvalidState`] when the socket is already in use for something else.
    pub fn poll<S: Storage>(
        &mut self,
        socket: &mut tcp::Socket<'_>,
        session: &mut Session<'_, S>,
    ) -> Result<Activity, ListenError> {
        let mut activity = Activity::default();
        match self.phase {
            Phase::Idle => {
                if self.stopping {
                    socket.close();
                    self.phase = Phase::Stopped;
                    activity.event = Some(Event::Stopped);
                } else {
                    socket.listen(self.endpoint)?;
                    self.phase = Phase::Listening;
                    activity.event = Some(Event::Listening);
                }
            }
            Phase::Listening => match socket.state() {
                TcpState::Listen if self.stopping => {
                    socket.close();
                    self.phase = Phase::Stopped;
                    activity.event = Some(Event::Stopped);
                }
                TcpState::Listen | TcpState::SynReceived => {}
                // Someone else closed or aborted the socket: listen again.
                TcpState::Closed | TcpState::TimeWait => self.phase = Phase::Idle,
                // Established, or further along if the whole conversation happened between two
                // polls: serving from here handles every one of those states.
                _ => {
                    if self.stopping {
                        session.shutdown();
                    }
                    self.phase = Phase::Serving;
                    activity.event = Some(Event::Connected {
                        remote: socket.remote_endpoint(),
                    });
                }
            },
            Phase::Serving => {
                exchange(socket, session, &mut activity);
                if let SessionState::Closed(reason) = session.state() {
                    // We close first, so the socket will end in TIME-WAIT, from which we
                    // listen again at once rather than after its 10 s. Its one remaining duty
                    // is to acknowledge the peer's FIN; without a delayed ACK that goes out in
                    // the same interface poll that receives the FIN, before we listen.
                    self.saved_ack_delay = Some(socket.ack_delay());
                    socket.set_ack_delay(None);
                    // Every reply is in the socket: its FIN goes out after them.
                    socket.close();
                    self.phase = Phase::Closing;
                    activity.event = Some(Event::Finished {
                        reason,
                        stats: session.stats(),
                    });
                    session.reset();
                } else if !socket.may_send() {
                    // Only our own close() leads out of Established / CloseWait without a
                    // reset or timeout, and we have not closed: the connection is gone.
                    if socket.is_open() {
                        socket.abort();
                    }
                    self.phase = Phase::Idle;
                    activity.event = Some(Event::Lost {
                        stats: session.stats(),
                    });
                    session.reset();
                }
            }
            Phase::Closing => {
                discard_input(socket);
                if !socket.is_open() {
                    // Closed, or TimeWait with the last ACK sent: listen() may start over.
                    if let Some(ack_delay) = self.saved_ack_delay.take() {
                        socket.set_ack_delay(ack_delay);
                    }
                    self.phase = Phase::Idle;
                }
            }
            Phase::Stopped => {}
        }
        Ok(activity)
    }
}

/// Moves bytes between `socket` and `session` until neither way can move any more.
fn exchange<S: Storage>(
    socket: &mut tcp::Socket<'_>,
    session: &mut Session<'_, S>,
    activity: &mut Activity,
) {
    // Each pass moves at least one byte or ends input (once), so the loop ends when the
    // socket's buffers are full or empty.
    loop {
        let mut moved = false;
        // Replies first: sending frees output, which can release input held back by
        // backpressure. The ring buffer hands out contiguous pieces, hence the loop.
        while !session.output().is_empty() && socket.can_send() {
            let output = session.output();
            let n = socket
                .send(|buf| {
                    let n = copy(buf, output);
                    (n, n)
                })
                .unwrap_or(0);
            if n == 0 {
                break;
            }
            session.consume_output(n);
            activity.sent += n;
            moved = true;
        }
        if session.wants_input() {
            let space = session.input_space();
            match socket.recv(|buf| {
                let n = copy(space, buf);
                (n, n)
            }) {
                Ok(0) => {}
                Ok(n) => {
                    session.commit_input(n);
                    activity.received += n;
                    moved = true;
                }
                // smoltcp reports Finished only once every byte before the FIN was read, so
                // nothing the peer sent is lost to the unterminated-last-line rule.
                Err(RecvError::Finished) => {
                    session.input_eof();
                    moved = true;
                }
                // Not readable (reset, or not yet established): the caller checks the state.
                Err(_) => {}
            }
        } else if session.end_reason().is_some() {
            moved |= discard_input(socket);
        }
        if !moved {
            return;
        }
    }
}

/// Drops whatever the peer sends after input ended (quit line or shutdown: those bytes are
/// ignored by the protocol), so that its window does not stay shut while we close.
fn discard_input(socket: &mut tcp::Socket<'_>) -> bool {
    let mut dropped = false;
    while let Ok(1..) = socket.recv(|buf| (buf.len(), buf.len())) {
        dropped = true;
    }
    dropped
}

/// Copies as many bytes as both slices hold and returns how many: zipped, so there is no length
/// check that could panic.
fn copy(dst: &mut [u8], src: &[u8]) -> usize {
    let mut n = 0;
    for (d, s) in dst.iter_mut().zip(src) {
        *d = *s;
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    //! The server over smoltcp's loopback device: one interface, a server socket and a client
    //! socket. The whole protocol over small buffers is in `tests/tests/smoltcp_port.rs`; these
    //! check the socket life cycle: listen, serve, close, listen again, reset, shutdown.

    use super::*;
    use crate::{Buffers, Config, OwnedBuffers};
    use ::smoltcp::iface::{Config as IfaceConfig, Interface, SocketHandle, SocketSet};
    use ::smoltcp::phy::{Loopback, Medium};
    use ::smoltcp::time::{Duration, Instant};
    use ::smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};
    use std::vec;
    use std::vec::Vec;

    const PORT: u16 = 7;
    const ADDRESS: IpAddress = IpAddress::v4(10, 0, 0, 1);
    /// Steps after which a test that is still waiting fails instead of spinning.
    const MAX_STEPS: usize = 5_000;

    /// Lines up to 64 bytes.
    type Small = Session<'static, OwnedBuffers<66, 76>>;

    struct Net {
        iface: Interface,
        device: Loopback,
        sockets: SocketSet<'static>,
        now: Instant,
        server_socket: SocketHandle,
        client_socket: SocketHandle,
        server: Server,
        session: Small,
        events: Vec<Event>,
        /// What the client still has to send.
        to_send: Vec<u8>,
        /// Close the client's sending side once `to_send` is sent.
        close_after_send: bool,
        /// What the client received.
        received: Vec<u8>,
    }

    impl Net {
        fn new(server_buffers: usize) -> Self {
            let mut device = Loopback::new(Medium::Ip);
            let now = Instant::ZERO;
            let mut iface = Interface::new(IfaceConfig::new(HardwareAddress::Ip), &mut device, now);
            iface.update_ip_addrs(|addrs| {
                addrs.push(IpCidr::new(ADDRESS, 24)).unwrap();
            });
            let mut sockets = SocketSet::new(vec![]);
            let socket = |size: usize| {
                tcp::Socket::new(
                    tcp::SocketBuffer::new(vec![0; size]),
                    tcp::SocketBuffer::new(vec![0; size]),
                )
            };
            let server_socket = sockets.add(socket(server_buffers));
            let client_socket = sockets.add(socket(1024));
            // Tests may leak: every session of a test process can share it for 'static.
            let config = std::boxed::Box::leak(std::boxed::Box::new(
                Config::default().with_max_line(64).unwrap(),
            ));
            let session = Small::new(config, Buffers::owned()).unwrap();
            Self {
                iface,
                device,
                sockets,
                now,
                server_socket,
                client_socket,
                server: Server::new(PORT),
                session,
                events: Vec::new(),
                to_send: Vec::new(),
                close_after_send: false,
                received: Vec::new(),
            }
        }

        fn client(&mut self) -> &mut tcp::Socket<'static> {
            self.sockets.get_mut(self.client_socket)
        }

        fn server_socket(&mut self) -> &mut tcp::Socket<'static> {
            self.sockets.get_mut(self.server_socket)
        }

        fn connect(&mut self, local_port: u16, input: &[u8], close_after_send: bool) {
            self.received.clear();
            self.to_send = input.to_vec();
            self.close_after_send = close_after_send;
            let client = self.sockets.get_mut::<tcp::Socket>(self.client_socket);
            client
                .connect(self.iface.context(), (ADDRESS, PORT), local_port)
                .unwrap();
        }

        /// One turn of the application's loop: poll the interface, the server until it is
        /// idle, then let the client send and receive; simulated time moves 1 ms.
        fn step(&mut self) {
            self.iface
                .poll(self.now, &mut self.device, &mut self.sockets);
            for _ in 0..100 {
                let socket = self.sockets.get_mut(self.server_socket);
                let activity = self.server.poll(socket, &mut self.session).unwrap();
                self.events.extend(activity.event);
                if activity.is_idle() {
                    break;
                }
                self.iface
                    .poll(self.now, &mut self.device, &mut self.sockets);
            }
            let client = self.sockets.get_mut::<tcp::Socket>(self.client_socket);
            if client.can_send() && !self.to_send.is_empty() {
                let n = client.send_slice(&self.to_send).unwrap();
                self.to_send.drain(..n);
            }
            while client.can_recv() {
                let received = &mut self.received;
                client
                    .recv(|buf| {
                        received.extend_from_slice(buf);
                        (buf.len(), ())
                    })
                    .unwrap();
            }
            // Once everything is sent, close when told to, or when the server has closed and
            // every reply has arrived.
            let server_done = !client.may_recv() && client.state() == TcpState::CloseWait;
            if self.to_send.is_empty() && (self.close_after_send || server_done) {
                client.close();
            }
            self.now += Duration::from_millis(1);
        }

        fn run_until(&mut self, what: &str, done: impl Fn(&mut Self) -> bool) {
            for _ in 0..MAX_STEPS {
                if done(self) {
                    return;
                }
                self.step();
            }
            panic!(
                "no {what} after {MAX_STEPS} steps; server {:?} {}, client {} queue {} to send {}, events {:?}",
                self.server.phase(),
                self.server_socket().state(),
                self.client().state(),
                self.client().send_queue(),
                self.to_send.len(),
                self.events
            );
        }

        /// Runs until the client's connection is closed and the server listens again.
        fn run_conversation(&mut self) {
            self.run_until("end of conversation", |net| {
                !net.client().is_open() && net.server.phase() == Phase::Listening
            });
        }
    }

    #[test]
    fn port_zero_is_refused() {
        let mut net = Net::new(256);
        net.server = Server::new(0);
        let socket = net.sockets.get_mut(net.server_socket);
        assert_eq!(
            net.server.poll(socket, &mut net.session),
            Err(ListenError::Unaddressable)
        );
    }

    #[test]
    fn serves_connections_one_after_another_with_a_fresh_session_each() {
        let mut net = Net::new(256);
        net.step();
        assert_eq!(net.events, [Event::Listening]);
        for round in 0..3 {
            net.events.clear();
            net.connect(49152 + round, b"hi\r\nthere\r\n.\r\nignored\r\n", false);
            let start = net.now;
            net.run_conversation();
            // Promptly: no step waits for a timer (retransmission >= 1 s, TIME-WAIT 10 s).
            assert!(
                net.now - start < Duration::from_millis(100),
                "round {round}"
            );
            assert_eq!(net.received, b"You sent: hi\r\nYou sent: there\r\n");
            // Stats start from zero each time: the session was reset between connections.
            assert!(
                matches!(
                    net.events[..],
                    [
                        Event::Connected { remote: Some(_) },
                        Event::Finished {
                            reason: EndReason::QuitLine,
                            stats: Stats {
                                lines_echoed: 2,
                                bytes_out: 31,
                                ..
                            },
                        },
                        Event::Listening,
                    ]
                ),
                "round {round}: {:?}",
                net.events
            );
            assert_eq!(net.session.stats(), Stats::default());
        }
    }

    #[test]
    fn end_of_input_answers_the_unterminated_last_line() {
        let mut net = Net::new(256);
        net.connect(49152, b"one\r\ntwo", true);
        net.run_conversation();
        assert_eq!(net.received, b"You sent: one\r\nYou sent: two\r\n");
        assert!(net.events.iter().any(|e| matches!(
            e,
            Event::Finished {
                reason: EndReason::InputEnded,
                ..
            }
        )));
    }

    #[test]
    fn a_reset_connection_is_lost_and_the_server_listens_again() {
        let mut net = Net::new(256);
        net.connect(49152, b"partial line", false);
        net.run_until("partial line received", |net| {
            net.session.buffered_input() == b"partial line".len()
        });
        net.client().abort();
        net.run_until("listening again", |net| {
            net.server.phase() == Phase::Listening
                && net.events.contains(&Event::Listening)
                && net.events.len() > 2
        });
        assert!(
            matches!(
                net.events[..],
                [
                    Event::Listening,
                    Event::Connected { .. },
                    Event::Lost {
                        stats: Stats { bytes_in: 12, .. }
                    },
                    Event::Listening,
                ]
            ),
            "{:?}",
            net.events
        );
        assert_eq!(net.session.buffered_input(), 0);

        // And the next connection is served.
        net.connect(49153, b"again\r\n.\r\n", false);
        net.run_conversation();
        assert_eq!(net.received, b"You sent: again\r\n");
    }

    #[test]
    fn input_after_the_quit_line_is_drained_and_the_close_is_clean() {
        // Far more than the server's 64-byte receive buffer follows the quit line: unless the
        // server drops it, the peer's window stays shut and it never finishes sending. The
        // peer's last data segment carries its FIN, whose ACK smoltcp would delay: unless the
        // server sends it before listening again, the peer retransmits into a reset and ends
        // with unacknowledged bytes in its queue.
        let mut input = b"a\r\n.\r\n".to_vec();
        input.extend(core::iter::repeat_n(b'x', 2000));
        let mut net = Net::new(64);
        net.connect(49152, &input, true);
        net.run_until("everything sent and the conversation over", |net| {
            net.to_send.is_empty()
                && net.client().send_queue() == 0
                && !net.client().is_open()
                && net.server.phase() == Phase::Listening
        });
        assert_eq!(net.received, b"You sent: a\r\n");
    }

    #[test]
    fn shutdown_while_serving_answers_complete_lines_then_stops() {
        let mut net = Net::new(256);
        net.connect(49152, b"one\r\ntwo", false);
        net.run_until("input received", |net| net.session.buffered_input() == 3);
        net.server.shutdown(&mut net.session);
        net.run_until("stopped", |net| net.events.contains(&Event::Stopped));
        assert_eq!(net.received, b"You sent: one\r\n");
        assert!(net.events.iter().any(|e| matches!(
            e,
            Event::Finished {
                reason: EndReason::Shutdown,
                ..
            }
        )));
        assert_eq!(net.server.phase(), Phase::Stopped);
        assert!(!net.server_socket().is_open());
    }

    #[test]
    fn shutdown_while_listening_stops_at_once() {
        let mut net = Net::new(256);
        net.step();
        assert_eq!(net.server.phase(), Phase::Listening);
        net.server.shutdown(&mut net.session);
        net.step();
        assert_eq!(net.events, [Event::Listening, Event::Stopped]);
        assert_eq!(net.server_socket().state(), TcpState::Closed);
    }
}
