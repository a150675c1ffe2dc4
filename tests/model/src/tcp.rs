//! A live server at a socket address, as a [`Subject`] (feature `tcp`): the model checks a
//! whole server (chatecho-server, a board on the network) through the one thing a peer has, a
//! TCP connection. std's blocking `TcpStream`, with timeouts; no async runtime.
//!
//! A peer over TCP can send, receive and end its input; it cannot move a server's storage or
//! shut it down, so [`strategy::over_tcp`](crate::strategy::over_tcp) makes experiments of
//! the first kind only (and [`TcpSubject::shutdown`] panics if asked). Nor can it see why the
//! server closed: once it has ended its own input, a close after the quit line and a close
//! after end of input look the same. So the subject reports `Open` until the server has
//! closed and `Closed` after, and says ([`Subject::knows_end_reason`]) that the reason is not
//! to be compared.
//!
//! **Settled**, over TCP, is a judgement about time. A short [`Subject::receive`] must mean
//! "nothing more is coming until I send more"; the subject decides it when nothing has arrived
//! for [`TcpSubject::quiet`] after everything it sent was handed to the kernel. A server that
//! answers later than that is reported as one that owes a reply, so the quiet interval must
//! be generous for the server and the machine: 100 ms by default, more for a server behind an
//! emulator. That is the cost: every receive that comes up short waits the whole interval, so
//! an experiment costs at least its number of short receives times the interval (about a
//! second for the experiments of `over_tcp`, which keep their steps few).
//!
//! ```no_run
//! use chatecho_model::tcp::TcpSubject;
//! use chatecho_model::{check, strategy, Protocol};
//! use proptest::prelude::*;
//!
//! let server = "127.0.0.1:8007".parse().unwrap();
//! proptest!(strategy::cases(16), |(e in strategy::over_tcp(Protocol::default()))| {
//!     let mut subject = TcpSubject::connect(server).unwrap();
//!     if let Err(divergence) = check(&mut subject, &e) {
//!         panic!("{divergence}");
//!     }
//! });
//! ```

use crate::subject::Subject;
use chatecho_core::{EndReason, State};
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

/// The default quiet interval: nothing arriving for this long means nothing more is coming.
pub const QUIET: Duration = Duration::from_millis(100);
/// The longest a send may wait for the kernel to take bytes before it reports what it took.
const SEND_TIMEOUT: Duration = Duration::from_millis(50);

/// One connection to a live server, as a [`Subject`].
#[derive(Debug)]
pub struct TcpSubject {
    stream: TcpStream,
    quiet: Duration,
    /// We shut our sending side.
    ended_input: bool,
    /// The server closed (its FIN, or a reset, arrived).
    closed: bool,
}

impl TcpSubject {
    /// Connects to the server at `addr`, with the default quiet interval ([`QUIET`]).
    pub fn connect(addr: SocketAddr) -> io::Result<Self> {
        Self::connect_with_quiet(addr, QUIET)
    }

    /// Connects to the server at `addr`; a receive decides that nothing more is coming when
    /// nothing has arrived for `quiet`.
    pub fn connect_with_quiet(addr: SocketAddr, quiet: Duration) -> io::Result<Self> {
        let stream = TcpStream::connect(addr)?;
        // Each send is its own segment: read boundaries at the server follow the schedule's.
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            quiet,
            ended_input: false,
            closed: false,
        })
    }

    /// The quiet interval.
    pub fn quiet(&self) -> Duration {
        self.quiet
    }
}

impl Subject for TcpSubject {
    /// Hands `bytes` to the kernel, as far as it takes them without waiting long: a server
    /// that has stopped reading (backpressure) closes its TCP window, and the kernel's buffer
    /// fills. Nothing is taken once the server has closed or the connection failed.
    fn send(&mut self, bytes: &[u8]) -> usize {
        if self.closed || self.ended_input || bytes.is_empty() {
            return 0;
        }
        if self.stream.set_write_timeout(Some(SEND_TIMEOUT)).is_err() {
            return 0;
        }
        let mut taken = 0;
        while taken < bytes.len() {
            match self.stream.write(&bytes[taken..]) {
                Ok(0) => break,
                Ok(n) => taken += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                // WouldBlock / TimedOut: the buffers are full; anything else: the connection
                // is gone, which a receive will find.
                Err(_) => break,
            }
        }
        taken
    }

    /// Reads until `buffer` is full, the server closes, or nothing arrives for the quiet
    /// interval.
    fn receive(&mut self, buffer: &mut [u8]) -> usize {
        if self.closed || buffer.is_empty() {
            return 0;
        }
        if self.stream.set_read_timeout(Some(self.quiet)).is_err() {
            self.closed = true;
            return 0;
        }
        let mut got = 0;
        while got < buffer.len() {
            match self.stream.read(&mut buffer[got..]) {
                Ok(0) => {
                    self.closed = true;
                    break;
                }
                Ok(n) => got += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
                // A reset: what it destroyed is missing from the output, which the checker
                // reports.
                Err(_) => {
                    self.closed = true;
                    break;
                }
            }
        }
        got
    }

    fn end_input(&mut self) {
        if !self.ended_input {
            self.ended_input = true;
            let _ = self.stream.shutdown(Shutdown::Write);
        }
    }

    /// A peer cannot shut a server down.
    ///
    /// # Panics
    ///
    /// Always: experiments ending in [`Ending::Shutdown`](crate::Ending::Shutdown) are not
    /// for a subject over TCP ([`strategy::over_tcp`](crate::strategy::over_tcp) makes none).
    fn shutdown(&mut self) {
        panic!(
            "a peer over TCP cannot shut the server down: this experiment is not for TcpSubject"
        );
    }

    /// `Open` until the server has closed, then `Closed`, with the reason a peer would guess
    /// (input ended if we ended it, else the quit line); see [`Subject::knows_end_reason`].
    fn state(&mut self) -> State {
        match (self.closed, self.ended_input) {
            (false, _) => State::Open,
            (true, true) => State::Closed(EndReason::InputEnded),
            (true, false) => State::Closed(EndReason::QuitLine),
        }
    }

    fn knows_end_reason(&self) -> bool {
        false
    }
}
