//! The idle timeout: a TCP socket whose every read, write and flush must complete within a
//! time limit.
//!
//! chatecho-core reads no clock, and embassy-net's own socket timeout does not end a quiet
//! connection whose peer is still there (it answers keep-alives). So the echo task hands the
//! core's driver the socket through [`IdleLimited`]: a read that gets no byte (a silent peer)
//! or a write or flush that the peer does not take (a peer that stopped reading) for the limit
//! fails with [`IoError::IdleTimeout`], and the driver returns it. Any progress restarts the
//! clock, since each operation has the whole limit.

use embassy_net::tcp::{self, TcpSocket};
use embassy_time::{Duration, with_timeout};
use embedded_io_async::{ErrorKind, ErrorType, Read, Write};

/// Why a read, write or flush of an [`IdleLimited`] socket failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum IoError {
    /// The socket failed: the connection was reset, by the peer or by the socket's own timeout.
    Tcp(tcp::Error),
    /// Nothing moved for the idle limit.
    IdleTimeout,
}

impl core::fmt::Display for IoError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Tcp(error) => write!(f, "{error:?}"),
            Self::IdleTimeout => f.write_str("idle timeout"),
        }
    }
}

impl core::error::Error for IoError {}

impl embedded_io_async::Error for IoError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Tcp(error) => error.kind(),
            Self::IdleTimeout => ErrorKind::TimedOut,
        }
    }
}

/// A borrowed [`TcpSocket`] as an `embedded_io_async` stream whose operations each fail with
/// [`IoError::IdleTimeout`] after `limit` without completing.
pub struct IdleLimited<'s, 'a> {
    socket: &'s mut TcpSocket<'a>,
    limit: Duration,
}

impl<'s, 'a> IdleLimited<'s, 'a> {
    /// `socket`, each read, write and flush limited to `limit`.
    pub fn new(socket: &'s mut TcpSocket<'a>, limit: Duration) -> Self {
        Self { socket, limit }
    }
}

impl ErrorType for IdleLimited<'_, '_> {
    type Error = IoError;
}

impl Read for IdleLimited<'_, '_> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, IoError> {
        within(self.limit, self.socket.read(buf)).await
    }
}

impl Write for IdleLimited<'_, '_> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, IoError> {
        within(self.limit, self.socket.write(buf)).await
    }

    async fn flush(&mut self) -> Result<(), IoError> {
        within(self.limit, self.socket.flush()).await
    }
}

/// `operation`'s result, or [`IoError::IdleTimeout`] if it takes longer than `limit`.
async fn within<T>(
    limit: Duration,
    operation: impl core::future::Future<Output = Result<T, tcp::Error>>,
) -> Result<T, IoError> {
    match with_timeout(limit, operation).await {
        Ok(result) => result.map_err(IoError::Tcp),
        Err(_) => Err(IoError::IdleTimeout),
    }
}
