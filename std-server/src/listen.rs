//! Binding the listening sockets: every address the host resolves to, one port for all of
//! them, with the socket options a server needs (set through socket2 before `bind`, where
//! std cannot reach).

use async_io::Async;
use socket2::{Domain, Protocol, Socket, Type};
use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};

/// Pending connections the kernel queues for us; generous so that bursts of connects are not
/// refused while the accept loop is busy.
const BACKLOG: i32 = 4096;

/// With `--port 0` and several addresses, the port picked for the first may be taken on
/// another; binding is retried with a fresh port this many times.
const PORT_ZERO_ATTEMPTS: usize = 16;

/// Why the server could not listen.
#[derive(Debug)]
pub enum ListenError {
    /// The host name did not resolve.
    Resolve { host: String, error: io::Error },
    /// The host resolved to no address.
    NoAddress { host: String },
    /// An address could not be bound or listened on.
    Bind { addr: SocketAddr, error: io::Error },
}

impl fmt::Display for ListenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Resolve { host, error } => write!(f, "cannot resolve host `{host}`: {error}"),
            Self::NoAddress { host } => write!(f, "host `{host}` resolves to no address"),
            Self::Bind { addr, error } => write!(f, "cannot listen on {addr}: {error}"),
        }
    }
}

/// Binds every address `host` resolves to on `port` and returns the listeners with their
/// actual addresses. An address whose family is unavailable (e.g. `::1` on a host without
/// IPv6) is skipped with a warning as long as another one binds; a port in use is always an
/// error.
pub fn bind_all(
    host: &str,
    port: u16,
    reuse_port: bool,
) -> Result<Vec<(Async<TcpListener>, SocketAddr)>, ListenError> {
    let mut addrs: Vec<SocketAddr> = Vec::new();
    let resolved = (host, port)
        .to_socket_addrs()
        .map_err(|error| ListenError::Resolve {
            host: host.to_owned(),
            error,
        })?;
    for addr in resolved {
        if !addrs.contains(&addr) {
            addrs.push(addr);
        }
    }
    if addrs.is_empty() {
        return Err(ListenError::NoAddress {
            host: host.to_owned(),
        });
    }
    let mut attempt = 0;
    loop {
        attempt += 1;
        match bind_on_one_port(&addrs, reuse_port) {
            Err(ListenError::Bind { error, .. })
                if port == 0
                    && error.kind() == io::ErrorKind::AddrInUse
                    && attempt < PORT_ZERO_ATTEMPTS => {}
            result => return result,
        }
    }
}

/// Binds `addrs` in order; when the port is 0, the first bind picks it and the others reuse it.
fn bind_on_one_port(
    addrs: &[SocketAddr],
    reuse_port: bool,
) -> Result<Vec<(Async<TcpListener>, SocketAddr)>, ListenError> {
    let mut bound = Vec::new();
    let mut port = addrs[0].port();
    let mut skipped = Vec::new();
    for &addr in addrs {
        let mut addr = addr;
        addr.set_port(port);
        match bind_one(addr, reuse_port) {
            Ok((listener, local)) => {
                port = local.port();
                bound.push((listener, local));
            }
            Err(error) if is_unavailable_family(&error) => skipped.push((addr, error)),
            Err(error) => return Err(ListenError::Bind { addr, error }),
        }
    }
    if bound.is_empty() {
        // Nothing bound: report the first failure.
        let (addr, error) = skipped.remove(0);
        return Err(ListenError::Bind { addr, error });
    }
    for (addr, error) in skipped {
        tracing::warn!(%addr, %error, "skipping an address that cannot be bound");
    }
    Ok(bound)
}

/// Errors that mean "this machine has no such address", not "something is wrong".
fn is_unavailable_family(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::AddrNotAvailable | io::ErrorKind::Unsupported
    ) || error.raw_os_error() == Some(EAFNOSUPPORT)
}

/// `EAFNOSUPPORT` on Linux and the BSDs alike has no `io::ErrorKind` of its own.
#[cfg(target_os = "linux")]
const EAFNOSUPPORT: i32 = 97;
#[cfg(not(target_os = "linux"))]
const EAFNOSUPPORT: i32 = 47;

fn bind_one(addr: SocketAddr, reuse_port: bool) -> io::Result<(Async<TcpListener>, SocketAddr)> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        // Each family gets its own socket, so `::` must not also claim the IPv4 port.
        socket.set_only_v6(true)?;
    }
    // Lets a restarted server bind while old connections linger in TIME_WAIT; it does not let
    // two listeners share a port (that is SO_REUSEPORT).
    socket.set_reuse_address(true)?;
    #[cfg(unix)]
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    #[cfg(not(unix))]
    if reuse_port {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "--reuse-port needs SO_REUSEPORT, which this platform lacks",
        ));
    }
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    let listener: TcpListener = socket.into();
    let local = listener.local_addr()?;
    // `Async::new` makes it non-blocking.
    Ok((Async::new(listener)?, local))
}
