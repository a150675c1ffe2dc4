//! chatecho-server: the chat-echo line protocol of [`chatecho_core`], served over TCP (or any
//! byte stream) on smol, as a library for your own smol program and as the `chatecho-server`
//! binary built on it. The protocol is specified in the repository's `docs/protocol.md`:
//! each line is answered `You sent: <line>`, the line `.` ends the conversation.
//!
//! Two entry points:
//! - [`Server`]: binds addresses (or takes listeners you already have), accepts, refuses
//!   connections over its limits (in all and per address), closes idle ones, and runs on
//!   *your* executor until the future you give it completes, then shuts down gracefully.
//!   A [`Handle`] reads its [`Counters`] and shuts it down from anywhere. Behind a load
//!   balancer, it takes the PROXY protocol from the addresses you trust ([`ProxyProtocol`]),
//!   so that its limits count, and its log names, the clients rather than the balancer.
//! - [`Echo`]: serves one connection you already have, to completion, over an async-net or
//!   async-io socket or any `AsyncRead + AsyncWrite` stream ([`AnyStream`]), with the
//!   server's buffer handling; [`Echo::serve_until`] ends it gracefully on your signal.
//!
//! ```
//! use chatecho_server::{Config, Server};
//!
//! let executor = smol::Executor::new();
//! let server = Server::builder().config(Config::default()).bind("127.0.0.1:0")?;
//! println!("listening on {:?}", server.local_addrs());
//! let (stop, stopped) = async_channel::bounded::<()>(1);
//! stop.close(); // your own shutdown trigger; here, at once
//! let ending = smol::block_on(executor.run(server.run(&executor, async move {
//!     let _ = stopped.recv().await;
//! })));
//! assert!(ending.is_complete());
//! # Ok::<(), chatecho_server::Error>(())
//! ```
//!
//! # What it costs
//!
//! A connection holds session buffers only while it reads or owes replies; a quiet one costs
//! its socket and a small task (about 1.2 KB in all, measured in the repository's
//! `bench/compare.sh`). Buffers go back to a small pool per executor thread. Counting is a
//! few uncontended atomic adds per turn. Idle timeouts and summaries run on one clock thread
//! for the whole process (started by the first that needs it), so no timer sits in the
//! reactor while connections are served.
//!
//! # What it never does
//!
//! It never installs a logger or a signal handler, never creates an executor, never exits
//! the process, and has no `unsafe`. It reports through return values ([`Conversation`],
//! [`Ending`]) and through [`tracing`] events: at `info` the shutdown and the end of a run
//! (and summaries if asked for), at `warn` failed accepts and failed connections, at `debug`
//! each connection opened, refused and closed, with its peer, end reason and counts.
//!
//! # The polling patch
//!
//! This repository builds chatecho-server with polling 3.11.0 plus smol-rs/polling#250
//! (merged upstream, not yet released), through `[patch.crates-io]` in its workspace (see
//! `vendor/README.md` there). A `[patch]` applies only to the workspace that declares it: a
//! crate that depends on chatecho-server from crates.io, or by path from another workspace,
//! gets polling as released. What that changes is one thing, and only speed: released
//! polling arms its timerfd on every reactor wait, timeout or not, so each wait costs a
//! `timerfd_settime` (and its `epoll_ctl`) that the patched one skips when nothing in the
//! reactor waits on a timer, which is how this server runs (its idle timeouts and summaries
//! tick on a thread of their own). Measured with the repository's `bench/compare.sh`, lockstep
//! round trips: 0.115 `timerfd_settime` per round trip released, against 0.005 patched, and
//! 210 k against 214 k round trips per second, inside the spread of the rounds
//! (`bench/RESULTS.md`). Behaviour, answers and memory are the same. To get the patch in your
//! own workspace, add the same `[patch.crates-io]` entry to it.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// Feature badges on docs.rs (whose nightly rustdoc sets `docsrs`, see Cargo.toml); stable
// rustdoc builds the same docs without them.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod admission;
mod buffers;
mod clock;
mod connection;
mod counters;
mod echo;
mod error;
mod idle;
mod listen;
mod proxy;
mod server;
mod shutdown;
mod spawn;
mod summary;
mod transport;

pub use chatecho_core;
pub use chatecho_core::{Config, ConfigError, Delimiter};
pub use connection::{Conversation, End};
pub use counters::Counters;
pub use echo::{DEFAULT_IDLE_TIMEOUT, Echo, EchoBuilder};
pub use error::Error;
pub use ipnet::{self, IpNet};
pub use proxy::{DEFAULT_PROXY_HEADER_LIMIT, DEFAULT_PROXY_HEADER_TIMEOUT, ProxyProtocol};
pub use server::{
    DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_ADDRESS, DEFAULT_SHUTDOWN_GRACE, Ending,
    Handle, Server, ServerBuilder,
};
pub use spawn::{GlobalExecutor, Spawn};
pub use transport::{AnyStream, Transport};

/// The crate's README (what crates.io shows), whose example is compiled and run as a doctest so
/// that it cannot drift from the code.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
