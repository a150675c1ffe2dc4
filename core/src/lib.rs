//! chatecho-core: the chat-echo line protocol for any byte stream, in fixed memory.
//!
//! Lines end with a delimiter (default `\r\n`); each line `L` is answered with
//! `You sent: L\r\n`; the line `.` ends the conversation; a line over the limit is answered
//! once with `ERROR line too long (limit N bytes)` and skipped. DESIGN.md has the full rules.
//!
//! The crate is `#![no_std]`, needs no allocator, has no `unsafe`, and is fully deterministic:
//! it contains no networking code, reads no clock and never blocks. It is built in layers:
//!
//! - [`framer`]: finds lines in a fixed `N`-byte buffer, delimiters split across reads included;
//! - [`session`]: the echo rules as a bytes-in / bytes-out state machine with backpressure;
//! - [`driver`]: loops that run a session over `embedded-io` (blocking) or
//!   `embedded-io-async` streams, on a desktop socket or a microcontroller's TCP stack alike.
//!
//! ```
//! use chatecho_core::{Config, Session, State};
//!
//! // Capacities are part of the type: 4104 bytes of input, 8192 of output.
//! let mut session: Session<4104, 8192> = Session::new(Config::default())?;
//!
//! // What a driver does: read into the session, send what it answers.
//! let received = b"hello\r\nwor";
//! session.input_space()[..received.len()].copy_from_slice(received);
//! session.commit_input(received.len());
//! assert_eq!(session.output(), b"You sent: hello\r\n");
//! session.consume_output(session.output().len());
//!
//! let received = b"ld\r\n.\r\n";
//! session.input_space()[..received.len()].copy_from_slice(received);
//! session.commit_input(received.len());
//! assert_eq!(session.output(), b"You sent: world\r\n");
//! assert_eq!(session.state(), State::Closing); // the quit line: flush, then close
//! session.consume_output(session.output().len());
//! assert_eq!(session.state(), State::Closed);
//! # Ok::<(), chatecho_core::ConfigError>(())
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(test)]
extern crate std;

pub mod config;
pub mod driver;
pub mod escape;
pub mod framer;
#[cfg(feature = "smoltcp")]
pub mod port;
mod reply;
pub mod session;

pub use config::{Config, ConfigError, Delimiter};
pub use driver::{ServeError, ServeResult};
pub use framer::{Frame, Framer};
pub use reply::MAX_ERROR_REPLY_LEN;
pub use session::{
    DefaultSession, EndReason, Session, State, Stats, DEFAULT_INPUT_CAPACITY,
    DEFAULT_OUTPUT_CAPACITY,
};
