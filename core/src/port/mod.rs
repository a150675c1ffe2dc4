//! Ports: glue that runs a [`Session`](crate::Session) on a particular TCP/IP stack whose
//! sockets do not speak `embedded-io`, so the [`driver`](crate::driver)s cannot be used.
//!
//! A stack whose sockets implement `embedded_io_async::{Read, Write}` (embassy-net's
//! `TcpSocket`, `async-net` through `embedded-io-adapters`) needs no port: hand the socket to
//! [`driver::asynch::serve`](crate::driver). A port exists for stacks that are polled instead,
//! where the application owns the loop:
//!
//! - `smoltcp` (feature `smoltcp`): a server over one `smoltcp::socket::tcp::Socket`,
//!   moving bytes through the socket's `recv` / `send` closures without a buffer of its own.
//!   Enable the feature to see it here.

#[cfg(feature = "smoltcp")]
#[cfg_attr(docsrs, doc(cfg(feature = "smoltcp")))]
pub mod smoltcp;
