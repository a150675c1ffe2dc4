//! The socket behind the sessions: when every session is busy, a new client is told so in one
//! line and closed, as chatecho-server tells a client beyond `--max-connections`
//! (`ERROR server full (limit 4 connections)`), instead of being left to time out.
//!
//! It listens on the same port as the sessions' sockets, and smoltcp hands a new connection to
//! the first listening socket in the socket set: add this one after the sessions' sockets, and
//! it only ever gets the clients they have no room for. While it is busy telling one client, a
//! further one finds no listening socket and is reset.

use crate::platform::TICKS_PER_SECOND;
use smoltcp::socket::tcp::{self, State};
use smoltcp::wire::IpEndpoint;

/// How long a refused client gets to close its side after the notice, while what it sends is
/// discarded (closing on unread input would reset the connection and could destroy the
/// notice); chatecho-server lingers as long.
pub const LINGER_TICKS: u64 = 2 * TICKS_PER_SECOND;

/// Where the refusal socket is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Listening (or about to).
    Listening,
    /// A client is connected: the notice is being sent; `sent` bytes of it so far.
    Telling { sent: usize },
    /// The notice is sent and the socket closed, since the tick given.
    Closing { since: u64 },
}

/// The refusal socket's owner.
pub struct Refusal {
    port: u16,
    notice: &'static [u8],
    phase: Phase,
}

impl Refusal {
    /// Refuses clients on `port` with `notice` (the line and its delimiter).
    pub const fn new(port: u16, notice: &'static [u8]) -> Self {
        Self {
            port,
            notice,
            phase: Phase::Listening,
        }
    }

    /// Does what the socket's state calls for, after an interface poll; `now` in ticks.
    /// Returns the client it has just started to refuse.
    pub fn poll(&mut self, socket: &mut tcp::Socket<'_>, now: u64) -> Option<IpEndpoint> {
        let mut refused = None;
        if self.phase == Phase::Listening {
            match socket.state() {
                State::Closed | State::TimeWait => {
                    // Fails only for port 0, which the firmware does not use.
                    let _ = socket.listen(self.port);
                }
                State::Listen | State::SynReceived => {}
                _ => {
                    refused = socket.remote_endpoint();
                    self.phase = Phase::Telling { sent: 0 };
                }
            }
        }
        if let Phase::Telling { sent } = self.phase {
            let rest = self.notice.get(sent..).unwrap_or_default();
            let sent = sent + socket.send_slice(rest).unwrap_or(0);
            self.phase = Phase::Telling { sent };
            if sent == self.notice.len() || !socket.may_send() {
                // The FIN follows the notice; acknowledge the client's FIN at once, so that
                // the socket reaches TIME-WAIT (and listens again) promptly.
                socket.set_ack_delay(None);
                socket.close();
                self.phase = Phase::Closing { since: now };
            }
        }
        if let Phase::Closing { since } = self.phase {
            while let Ok(1..) = socket.recv(|buf| (buf.len(), buf.len())) {}
            if now.saturating_sub(since) > LINGER_TICKS {
                socket.abort();
            }
            if !socket.is_open() {
                socket.set_ack_delay(Some(smoltcp::time::Duration::from_millis(10)));
                let _ = socket.listen(self.port);
                self.phase = Phase::Listening;
            }
        }
        refused
    }
}
