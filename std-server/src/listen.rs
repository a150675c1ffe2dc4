//! The listening sockets: every address asked for bound on one port, with the socket options
//! a server needs (set through socket2 before `bind`, where std cannot reach), or listeners
//! bound elsewhere adopted as they are.

use crate::Error;
use async_io::Async;
use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};

/// Pending connections the kernel queues for us; generous so that bursts of connects are not
/// refused while the accept loop is busy.
const BACKLOG: i32 = 4096;

/// With port 0 and several addresses, the port picked for the first may be taken on another;
/// binding is retried with a fresh port this many times.
const PORT_ZERO_ATTEMPTS: usize = 16;

/// Binds every address of `addrs`, one port for all of them, and returns the listeners with
/// their actual addresses. An address whose family is unavailable (e.g. `::1` on a host
/// without IPv6) is skipped with a warning as long as another one binds; a port in use is
/// always an error. With port 0 and several addresses, the port the first picks may be taken
/// on another: binding is then retried with a fresh port.
pub fn bind_all(
    addrs: impl ToSocketAddrs,
    reuse_port: bool,
) -> Result<Vec<(Async<TcpListener>, SocketAddr)>, Error> {
    let mut unique: Vec<SocketAddr> = Vec::new();
    for addr in addrs.to_socket_addrs().map_err(Error::Resolve)? {
        if !unique.contains(&addr) {
            unique.push(addr);
        }
    }
    if unique.is_empty() {
        return Err(Error::NoAddress);
    }
    let any_port = unique.iter().all(|addr| addr.port() == 0);
    let mut attempt = 0;
    loop {
        attempt += 1;
        match bind_on_one_port(&unique, reuse_port, any_port) {
            Err(Error::Bind { source, .. })
                if any_port
                    && source.kind() == io::ErrorKind::AddrInUse
                    && attempt < PORT_ZERO_ATTEMPTS => {}
            result => return result,
        }
    }
}

/// Makes listeners someone else bound (a parent process, systemd) ready to serve, with their
/// addresses.
pub fn adopt(
    listeners: impl IntoIterator<Item = TcpListener>,
) -> Result<Vec<(Async<TcpListener>, SocketAddr)>, Error> {
    let adopted = listeners
        .into_iter()
        .map(|listener| {
            let local = listener.local_addr()?;
            // `Async::new` makes it non-blocking.
            Ok((Async::new(listener)?, local))
        })
        .collect::<io::Result<Vec<_>>>()
        .map_err(Error::Listener)?;
    if adopted.is_empty() {
        return Err(Error::NoListener);
    }
    Ok(adopted)
}

/// Binds `addrs` in order; when every port is 0, the first bind picks one and the others
/// take the same.
fn bind_on_one_port(
    addrs: &[SocketAddr],
    reuse_port: bool,
    any_port: bool,
) -> Result<Vec<(Async<TcpListener>, SocketAddr)>, Error> {
    let mut bound = Vec::new();
    let mut picked = 0;
    let mut skipped = Vec::new();
    for &addr in addrs {
        let mut addr = addr;
        if any_port {
            addr.set_port(picked);
        }
        match bind_one(addr, reuse_port) {
            Ok((listener, local)) => {
                picked = local.port();
                bound.push((listener, local));
            }
            Err(error) if is_unavailable_family(&error) => skipped.push((addr, error)),
            Err(source) => return Err(Error::Bind { addr, source }),
        }
    }
    if bound.is_empty() {
        // Nothing bound: report the first failure.
        let (addr, source) = skipped.remove(0);
        return Err(Error::Bind { addr, source });
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
            "reusing a port needs SO_REUSEPORT, which this platform lacks",
        ));
    }
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    let listener: TcpListener = socket.into();
    let local = listener.local_addr()?;
    // `Async::new` makes it non-blocking.
    Ok((Async::new(listener)?, local))
}
