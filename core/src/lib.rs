//! chatecho-core: the chat-echo line protocol for any byte stream, in fixed memory.
//!
//! Lines end with a delimiter (default `\r\n`); each line `L` is answered with
//! `You sent: L\r\n`; the line `.` ends the conversation; a line over the limit is answered
//! once with `ERROR line too long (limit N bytes)` and skipped. The whole protocol is
//! specified in the repository's `docs/protocol.md`.
//!
//! The crate is `#![no_std]`, needs no allocator, has no `unsafe`, and is fully deterministic:
//! it contains no networking code, reads no clock and never blocks. It runs on desktops and on
//! microcontrollers alike: CI builds it for Cortex-M0+ (`thumbv6m-none-eabi`, no
//! compare-and-swap atomics), Cortex-M3, Cortex-M4F and ESP32-C3-class RISC-V
//! (`riscv32imc-unknown-none-elf`), and runs it on an emulated Cortex-M3, where it takes
//! about 3 KB of flash. It is built in layers:
//!
//! - [`config`]: the protocol's parameters, prepared once and shared by every session;
//! - [`storage`]: the buffers a session works in, which the caller provides;
//! - [`framer`]: finds lines in a fixed-capacity buffer, delimiters split across reads included;
//! - [`session`]: the echo rules as a bytes-in / bytes-out state machine with backpressure;
//! - [`driver`]: loops that run a session over `embedded-io` (blocking) or
//!   `embedded-io-async` streams, on a desktop socket or a microcontroller's TCP stack alike;
//! - [`port`]: glue for stacks whose sockets are polled instead, such as smoltcp.
//!
//! # On your platform
//!
//! The session needs a byte stream and nothing else; pick the glue that matches your stack:
//!
//! | your stack | use | feature |
//! |------------|-----|---------|
//! | a UART, USB CDC-ACM, a blocking TCP stack (`embedded_io::{Read, Write}`) | [`driver::blocking::serve`] | none |
//! | embassy-net's `TcpSocket`, or any `embedded_io_async::{Read, Write}` stream | `driver::asynch::serve` | `async` (default) |
//! | smoltcp, polled by your main loop | `port::smoltcp::Server` | `smoltcp` |
//!
//! | feature | what it adds |
//! |---------|--------------|
//! | `async` (default) | `driver::asynch::{serve, serve_until}`, over embedded-io-async 0.7 |
//! | `smoltcp` | `port::smoltcp::Server`: a session on a smoltcp 0.13 TCP socket (Rust 1.91 or later) |
//! | `defmt` | `defmt::Format` on every public type, for logging on microcontrollers |
//!
//! The crate builds with Rust 1.88 or later, and with the `smoltcp` feature with 1.91 or later
//! (smoltcp 0.13's own minimum); CI builds both with exactly those versions.
//!
//! The crate is not published on crates.io: depend on it by path, or by git from wherever
//! your copy of the repository lives (`chatecho-core = { path = "../chatecho/core" }`).
//! The porting guide, `docs/porting.md` in the repository, walks through storage sizes, both
//! drivers, embassy-net, smoltcp and defmt with compiled examples, and has the measured flash,
//! RAM and stack figures for each target ("Building for your chip"); `tests/mcu/` is firmware
//! that runs all of it under QEMU.
//!
//! ```
//! use chatecho_core::{Buffers, Config, EndReason, Session, State};
//!
//! // One configuration, shared by every session.
//! let config = Config::default();
//! // Storage is the caller's: here two arrays on the stack, sized for the configuration.
//! let (mut rx, mut tx) = ([0u8; 4098], [0u8; 8192]);
//! let mut session = Session::new(&config, Buffers::borrowed(&mut rx, &mut tx))?;
//!
//! // What a driver does: hand the session what arrived, send what it answers.
//! let mut received: &[u8] = b"hello\r\nwor";
//! while !received.is_empty() {
//!     let taken = session.feed(received); // as much as fits; the rest after draining
//!     received = &received[taken..];
//!     let answer = session.output().len();
//!     session.consume_output(answer);
//! }
//! session.feed(b"ld\r\n.\r\n");
//! assert_eq!(session.output(), b"You sent: world\r\n");
//! assert_eq!(session.state(), State::Closing(EndReason::QuitLine)); // flush, then close
//! session.consume_output(session.output().len());
//! assert_eq!(session.state(), State::Closed(EndReason::QuitLine));
//! # Ok::<(), chatecho_core::ConfigError>(())
//! ```
//!
//! # Invariants
//!
//! A broken internal invariant (an index past a buffer, a frame that cannot exist) is a bug in
//! this crate, checked with `debug_assert!`: it panics in debug builds, where the property
//! tests and the fuzz targets run, and takes a safe fallback in release builds (the session
//! answers nothing more rather than panicking). Nothing is absorbed quietly in debug builds.
//! What a caller's bad argument does, such as a count past the space offered, is part of each
//! method's documentation and is tested.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// Feature badges on docs.rs (whose nightly rustdoc sets `docsrs`, see Cargo.toml); stable
// rustdoc builds the same docs without them.
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(test)]
extern crate std;

mod bytes;
pub mod capacity;
pub mod config;
pub mod driver;
pub mod escape;
pub mod framer;
pub mod port;
mod queue;
mod reply;
pub mod session;
pub mod storage;

pub use config::{Config, ConfigError, Delimiter};
pub use driver::{ServeError, ServeResult};
pub use framer::{Frame, Framer};
pub use reply::MAX_ERROR_REPLY_LEN;
pub use session::{DefaultSession, EndReason, Session, State, Stats};
pub use storage::{
    BorrowedBuffers, Buffers, DefaultBuffers, OwnedBuffers, Refused, Storage, StorageError,
};

/// The crate's README (what crates.io shows), whose example is compiled and run as a doctest so
/// that it cannot drift from the code.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
