//! chatecho-client: talk to a chat-echo server from your own smol program, and the
//! `chatecho-client` binary built on it. The protocol is specified in the repository's
//! `docs/protocol.md`: each line sent is answered `You sent: <line>`, the line `.` ends the
//! conversation.
//!
//! A [`Client`] connects, sends lines ([`Client::send_line`]), reads each reply line
//! ([`Client::next_line`], framed by chatecho-core's `Framer`), ends its input with a
//! half-close ([`Client::finish`]) and reads what is left ([`Client::remaining_lines`]).
//! [`Client::split`] gives a [`LineSender`] and a [`ReplyReader`] for sending and reading
//! at once. Errors are typed ([`Error`]); a server's `ERROR server full …` refusal is
//! [`Error::Refused`].
//!
//! ```
//! use chatecho_client::{Client, Error};
//! use chatecho_server::{Config, Server};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A server to talk to, on smol's global executor.
//! let server = Server::builder().config(Config::default()).bind("127.0.0.1:0")?;
//! let addr = server.local_addrs()[0];
//! smol::spawn(server.run(chatecho_server::GlobalExecutor, std::future::pending())).detach();
//!
//! smol::block_on(async {
//!     let mut client = Client::connect(addr).await?;
//!     client.send_line(b"hello").await?;
//!     assert_eq!(client.next_line().await?, Some(&b"You sent: hello"[..]));
//!     client.send_line(b"world").await?;
//!     client.finish().await?;
//!     assert_eq!(client.remaining_lines().await?, [b"You sent: world".to_vec()]);
//!     Ok::<(), Error>(())
//! })?;
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// Feature badges on docs.rs (whose nightly rustdoc sets `docsrs`, see Cargo.toml); stable
// rustdoc builds the same docs without them.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod client;
mod error;
mod replies;
mod sender;

pub use chatecho_core::Delimiter;
pub use client::{Client, ClientBuilder, DEFAULT_MAX_REPLY, MAX_REPLY_LIMIT};
pub use error::Error;
pub use replies::ReplyReader;
pub use sender::LineSender;

/// The crate's README (what crates.io shows), whose example is compiled and run as a doctest so
/// that it cannot drift from the code.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
