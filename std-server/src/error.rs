//! What can go wrong before serving starts: a configuration that cannot be served, and
//! listening sockets that cannot be had. Once serving, nothing fails as a whole: each
//! connection's end is reported on its own ([`crate::End`]).

use chatecho_core::ConfigError;
use std::fmt;
use std::io;
use std::net::SocketAddr;

/// Why an [`Echo`](crate::Echo) or a [`Server`](crate::Server) could not be built.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The protocol configuration cannot be served (see [`ConfigError`]).
    Config(ConfigError),
    /// A buffer size set on the builder is smaller than the configuration needs.
    BufferTooSmall {
        /// `"input"` or `"output"`.
        buffer: &'static str,
        /// The least the configuration needs, in bytes.
        needed: usize,
        /// What was set.
        given: usize,
    },
    /// A connection limit was set to 0.
    ZeroLimit {
        /// The builder method that was given 0.
        setting: &'static str,
    },
    /// The addresses to listen on could not be resolved.
    Resolve(io::Error),
    /// The addresses to listen on resolved to no address at all.
    NoAddress,
    /// An address could not be bound or listened on.
    Bind {
        /// The address.
        addr: SocketAddr,
        /// What the system said.
        source: io::Error,
    },
    /// No listener was given to serve.
    NoListener,
    /// The PROXY protocol was asked for with no address range trusted to send its header,
    /// so every connection would be refused.
    NoTrustedProxy,
    /// The PROXY header's timeout is zero, so no header could ever arrive in time.
    ZeroProxyHeaderTimeout,
    /// The PROXY header's size limit is outside
    /// [`ProxyProtocol::HEADER_LIMITS`](crate::ProxyProtocol::HEADER_LIMITS).
    ProxyHeaderLimit {
        /// What was set.
        given: usize,
    },
    /// A listener given could not be used (made non-blocking, or asked its address).
    Listener(io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(error) => write!(f, "invalid protocol configuration: {error}"),
            Self::BufferTooSmall {
                buffer,
                needed,
                given,
            } => write!(
                f,
                "the {buffer} buffer of {given} bytes is too small for this configuration: \
                 it needs at least {needed} bytes (leave it unset for the size it needs)"
            ),
            Self::ZeroLimit { setting } => write!(
                f,
                "{setting} is 0, so no connection could ever be served: give at least 1"
            ),
            Self::Resolve(error) => write!(f, "cannot resolve the address to listen on: {error}"),
            Self::NoAddress => f.write_str("the address to listen on resolves to no address"),
            Self::Bind { addr, source } => write!(f, "cannot listen on {addr}: {source}"),
            Self::NoListener => f.write_str("no listener to serve: give at least one"),
            Self::NoTrustedProxy => f.write_str(
                "the PROXY protocol trusts no address, so every connection would be refused: \
                 give the address ranges of the load balancers that send its header",
            ),
            Self::ZeroProxyHeaderTimeout => f.write_str(
                "the PROXY header timeout is 0, so no header could arrive in time: give more",
            ),
            Self::ProxyHeaderLimit { given } => {
                let limits = crate::ProxyProtocol::HEADER_LIMITS;
                write!(
                    f,
                    "a PROXY header limit of {given} bytes is outside what the protocol allows: \
                     give {} to {} bytes",
                    limits.start(),
                    limits.end()
                )
            }
            Self::Listener(error) => write!(f, "cannot use the listener given: {error}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Config(error) => Some(error),
            Self::Resolve(error) | Self::Listener(error) => Some(error),
            Self::Bind { source, .. } => Some(source),
            Self::BufferTooSmall { .. } | Self::ZeroLimit { .. } | Self::NoAddress => None,
            Self::NoListener
            | Self::NoTrustedProxy
            | Self::ZeroProxyHeaderTimeout
            | Self::ProxyHeaderLimit { .. } => None,
        }
    }
}

impl From<ConfigError> for Error {
    fn from(error: ConfigError) -> Self {
        Self::Config(error)
    }
}
