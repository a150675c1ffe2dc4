//! Drivers: run one [`Session`](crate::Session) over a byte stream until it closes.
//!
//! A driver is the only place where the core touches I/O traits, and it holds no protocol
//! logic: it reads into [`Session::input_space`](crate::Session::input_space), writes
//! [`Session::output`](crate::Session::output), and reports end of input. Replies are always
//! written out before the next read, so every read is followed by at most one batch of writes.
//!
//! - [`blocking::serve`] over [`embedded_io::Read`] + [`embedded_io::Write`];
//! - [`asynch::serve`] over `embedded_io_async::{Read, Write}` (feature `async`), which also
//!   offers [`asynch::serve_until`] for graceful shutdown.

pub mod blocking;

#[cfg(feature = "async")]
pub mod asynch;

use crate::session::EndReason;

/// Why a driver stopped before the session closed by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ServeError<E> {
    /// Reading from the peer failed.
    Read(E),
    /// Writing to the peer failed.
    Write(E),
    /// The peer accepted no bytes of a write: the replies owed cannot be delivered.
    WriteZero,
}

impl<E: core::fmt::Debug> core::fmt::Display for ServeError<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Read(e) => write!(f, "read failed: {e:?}"),
            Self::Write(e) => write!(f, "write failed: {e:?}"),
            Self::WriteZero => f.write_str("write accepted no bytes"),
        }
    }
}

impl<E: core::fmt::Debug> core::error::Error for ServeError<E> {}

/// How a driver run ended without an I/O error.
pub type ServeResult<E> = Result<EndReason, ServeError<E>>;
