//! The PROXY protocol (HAProxy's `proxy-protocol.txt`: version 1 in text, version 2 in
//! binary): a load balancer in front of the server opens each connection it relays with a
//! header that names the client, so that the server counts and logs the client rather than
//! the balancer. [`ProxyProtocol`] is the setting (which addresses are trusted to send a
//! header, and the header's limits of size and time); [`HeaderStage::read_header`] takes the
//! header off a new connection, between accept and the conversation, which it leaves untouched.
//!
//! The header's deadline is kept as the idle timeout is ([`crate::idle`]): by one sweep a
//! second on the clock's thread, not by a timer per connection in the reactor (whose every
//! registration costs the reactor a wake-up).
//!
//! Only the header's own bytes are taken from the socket: the stage peeks at what has
//! arrived, asks the parser whether and where the header ends, and reads exactly that far
//! (or, while the header is incomplete, exactly what it peeked). What the client sent after
//! the header, in the same segment or later, stays in the socket for the conversation to
//! read, so nothing is lost and the conversation's loop is the same with the protocol as
//! without it.
//!
//! The parser is the `ppp` crate. Of the two well-kept parsers, `ppp` and `proxy-header`,
//! ppp says why a header is invalid (which the debug log shows: an unknown address family,
//! a bad signature, a length too short for the addresses), and tells a version 2 header that
//! needs more bytes from one that never can be valid at every byte (so a wrong signature is
//! refused at once rather than at the deadline); proxy-header reports every fault as one
//! `Invalid` and looks at a version 2 signature only once 16 bytes are in. A version 1
//! header is one line, framed here (its end found, its 107 bytes kept) and then parsed by
//! ppp, whose verdict on a line cut short is not reliable.

use crate::Error;
use crate::idle::Swept;
use async_io::Async;
use futures_lite::future::{self, FutureExt as _};
use ipnet::IpNet;
use ppp::{PartialResult as _, v1, v2};
use std::fmt;
use std::io::{self, Read as _};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::ops::RangeInclusive;
use std::time::Duration;

/// How long a connection gets to send its whole PROXY header unless set, as the server's
/// `--proxy-header-timeout`: a balancer sends it with its first segment, so a few seconds is
/// plenty, and a peer that sends half a header and stalls holds its place no longer.
pub const DEFAULT_PROXY_HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// The largest PROXY header taken unless set: a version 1 header (at most 107 bytes), or a
/// version 2 header with room for the TLVs balancers add (a unique id, the authority, TLS
/// details).
pub const DEFAULT_PROXY_HEADER_LIMIT: usize = 1024;

/// The longest version 1 header, `\r\n` included, as the specification fixes it.
const V1_LIMIT: usize = 107;

/// A version 2 header's fixed part: the signature, version and command, family and
/// protocol, and the length of what follows.
const V2_FIXED: usize = 16;

/// Taking the PROXY protocol from a load balancer: every connection must come from one of
/// the trusted address ranges and begin with a valid header (version 1 or 2) within the size
/// limit and the timeout. The client the header names is then the connection's peer: what
/// the per-address limit counts and what the log shows. A version 2 `LOCAL` header (a
/// balancer's health check), a version 1 `UNKNOWN` one, or addresses the protocol says to
/// ignore (unspecified, Unix sockets) make the connection the balancer's own, served as
/// from the balancer's address.
///
/// Any other connection is closed unserved, without a word (its peer is a balancer that
/// broke the protocol, or not a balancer at all): counted in
/// [`Counters::refused_proxy`](crate::Counters::refused_proxy) and logged at `debug` with
/// the reason.
///
/// ```
/// use chatecho_server::{ProxyProtocol, Server};
/// use std::io::{Read as _, Write as _};
///
/// let executor = smol::Executor::new();
/// let server = Server::builder()
///     .proxy_protocol(Some(ProxyProtocol::trusting(["127.0.0.1/32".parse()?])))
///     .bind("127.0.0.1:0")?;
/// let addr = server.local_addrs()[0];
/// let handle = server.handle();
///
/// // A balancer on 127.0.0.1 relays a client of 192.0.2.7: the header, then its lines.
/// let balancer = std::thread::spawn(move || {
///     let talk = || -> std::io::Result<String> {
///         let mut stream = std::net::TcpStream::connect(addr)?;
///         let header = format!("PROXY TCP4 192.0.2.7 {} 51000 {}\r\n", addr.ip(), addr.port());
///         stream.write_all(header.as_bytes())?;
///         stream.write_all(b"hello\r\n.\r\n")?;
///         let mut answer = String::new();
///         stream.read_to_string(&mut answer)?;
///         Ok(answer)
///     };
///     let answer = talk();
///     handle.shutdown();
///     answer
/// });
/// let ending = smol::block_on(executor.run(server.run(&executor, std::future::pending())));
/// assert_eq!(balancer.join().unwrap()?, "You sent: hello\r\n");
/// assert_eq!((ending.counters.lines, ending.counters.refused_proxy), (1, 0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProxyProtocol {
    trusted: Vec<IpNet>,
    header_timeout: Duration,
    header_limit: usize,
}

impl ProxyProtocol {
    /// The sizes [`header_limit`](Self::header_limit) accepts: at least a version 2 header
    /// with the largest address block (two Unix socket paths, 216 bytes) and no TLV, at most
    /// what version 2's 16-bit length can say.
    pub const HEADER_LIMITS: RangeInclusive<usize> = V2_FIXED + 216..=V2_FIXED + 65535;

    /// Headers accepted from connections whose address is in one of `ranges` (an address of
    /// its own is a /32 or /128 range), with the default timeout
    /// ([`DEFAULT_PROXY_HEADER_TIMEOUT`]) and size limit ([`DEFAULT_PROXY_HEADER_LIMIT`]).
    /// No range means no connection could be served: building the server then fails.
    ///
    /// An IPv4 peer on an IPv6 socket (`::ffff:a.b.c.d`) is matched as the IPv4 address.
    pub fn trusting(ranges: impl IntoIterator<Item = IpNet>) -> Self {
        Self {
            trusted: ranges.into_iter().collect(),
            header_timeout: DEFAULT_PROXY_HEADER_TIMEOUT,
            header_limit: DEFAULT_PROXY_HEADER_LIMIT,
        }
    }

    /// How long a connection gets, from its accept, to send its whole header; then it is
    /// closed. Not zero. Counted in whole seconds (rounded up) and checked once a second, so
    /// the connection is closed up to a second later.
    pub fn header_timeout(mut self, timeout: Duration) -> Self {
        self.header_timeout = timeout;
        self
    }

    /// The largest header taken, in bytes, within [`HEADER_LIMITS`](Self::HEADER_LIMITS); a
    /// longer one closes the connection as soon as its length shows. Version 1 headers keep
    /// their own limit of 107 bytes.
    pub fn header_limit(mut self, bytes: usize) -> Self {
        self.header_limit = bytes;
        self
    }

    /// The address ranges trusted to send a header.
    pub fn trusted(&self) -> &[IpNet] {
        &self.trusted
    }

    /// Whether a connection from `ip` may send a header.
    ///
    /// ```
    /// # use chatecho_server::ProxyProtocol;
    /// let proxy = ProxyProtocol::trusting(["10.1.0.0/16".parse()?, "2001:db8::/32".parse()?]);
    /// assert!(proxy.trusts("10.1.2.3".parse()?));
    /// assert!(proxy.trusts("::ffff:10.1.2.3".parse()?));
    /// assert!(!proxy.trusts("10.2.0.1".parse()?));
    /// assert!(proxy.trusts("2001:db8::7".parse()?));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.trusted.iter().any(|range| range.contains(&ip))
    }

    /// Settings that could serve no connection are errors.
    pub(crate) fn check(&self) -> Result<(), Error> {
        if self.trusted.is_empty() {
            return Err(Error::NoTrustedProxy);
        }
        if self.header_timeout.is_zero() {
            return Err(Error::ZeroProxyHeaderTimeout);
        }
        if !Self::HEADER_LIMITS.contains(&self.header_limit) {
            return Err(Error::ProxyHeaderLimit {
                given: self.header_limit,
            });
        }
        Ok(())
    }
}

/// What a valid header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    /// 1 or 2.
    pub version: u8,
    pub origin: Origin,
}

/// Whose connection it is, by its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A client's, relayed: the client's address and port.
    Client(SocketAddr),
    /// The balancer's own (a health check, or addresses to ignore): served as from the
    /// balancer.
    Balancer,
}

/// Why a connection was closed unserved.
#[derive(Debug)]
pub(crate) enum Rejection {
    /// Its address is not in a trusted range.
    Untrusted,
    /// The peer closed before the header was complete.
    Closed,
    /// The header is not a valid PROXY header (the parser's reason).
    Invalid(String),
    /// The header is longer than the limit.
    TooLarge { limit: usize },
    /// The header was not complete within the timeout.
    Late { timeout: Duration },
    /// Reading the socket failed.
    Failed(io::Error),
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Untrusted => f.write_str("not a trusted source of PROXY headers"),
            Self::Closed => f.write_str("closed before its PROXY header was complete"),
            Self::Invalid(why) => write!(f, "invalid PROXY header: {why}"),
            Self::TooLarge { limit } => write!(f, "PROXY header over {limit} bytes"),
            Self::Late { timeout } => write!(
                f,
                "no complete PROXY header within {}s",
                timeout.as_secs_f64()
            ),
            Self::Failed(error) => write!(f, "reading the PROXY header failed: {error}"),
        }
    }
}

/// A server's PROXY protocol: its settings, and the deadlines of the headers being read.
pub(crate) struct HeaderStage {
    settings: ProxyProtocol,
    /// The headers' deadlines, swept by the clock.
    deadlines: Swept,
}

impl fmt::Debug for HeaderStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.settings.fmt(f)
    }
}

impl HeaderStage {
    /// The stage for `settings`, which have passed [`ProxyProtocol::check`].
    pub fn new(settings: ProxyProtocol) -> Self {
        // If the clock cannot start, headers are still read, without a deadline.
        let deadlines = Swept::new(Some(settings.header_timeout), "PROXY header timeout");
        Self {
            settings,
            deadlines,
        }
    }

    /// Whether a connection from `ip` may send a header.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.settings.trusts(ip)
    }

    /// Reads the PROXY header off `socket`, a connection just accepted from a trusted
    /// address, taking exactly the header's bytes from it, within the limits of size and
    /// time.
    pub async fn read_header(&self, socket: &Async<TcpStream>) -> Result<Header, Rejection> {
        // Stamped now and never again: the deadline runs from the accept.
        let deadline = self.deadlines.watch();
        let timeout = self.settings.header_timeout;
        reading(socket, self.settings.header_limit)
            .or(async {
                future::poll_fn(|cx| deadline.poll_expired(cx)).await;
                Err(Rejection::Late { timeout })
            })
            .await
    }
}

async fn reading(socket: &Async<TcpStream>, limit: usize) -> Result<Header, Rejection> {
    // Heap memory for the length of the header's stage only, never the conversation's:
    // enough for any version 1 header, and for version 2's fixed part and IP addresses;
    // grown, up to `limit`, only for a version 2 header that announces more.
    let mut buf = vec![0u8; V1_LIMIT];
    // Bytes of the header read so far, at the front of `buf`.
    let mut have = 0;
    loop {
        let seen = match socket.get_ref().peek(&mut buf[have..]) {
            Ok(0) => return Err(Rejection::Closed),
            Ok(n) => have + n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                readable(socket).await?;
                continue;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Rejection::Failed(e)),
        };
        match parse(&buf[..seen], limit) {
            Parsed::Complete { header, len } if len >= have => {
                take(socket, &mut buf[have..len]).await?;
                return Ok(header);
            }
            Parsed::Complete { .. } => {
                // What was taken as the header's beginning cannot be longer than the header.
                debug_assert!(false, "a header shorter than the bytes taken for it");
                return Err(Rejection::Invalid("inconsistent length".to_owned()));
            }
            // Everything peeked belongs to the header: take it, so that the next wait is
            // for bytes not seen yet.
            Parsed::Incomplete { len } => {
                take(socket, &mut buf[have..seen]).await?;
                have = seen;
                if let Some(len) = len.filter(|&len| len > buf.len()) {
                    buf.resize(len, 0);
                }
                if have == buf.len() {
                    // The parser says when a header cannot fit: it has a bug if this happens.
                    debug_assert!(false, "an incomplete header fills its buffer");
                    return Err(Rejection::TooLarge { limit: have });
                }
            }
            Parsed::Rejected(rejection) => return Err(rejection),
        }
    }
}

/// Waits until the socket may have bytes to read. Through the socket's one waker slot
/// (`poll_readable`), as the conversation waits: `Async::readable` would keep a list of
/// wakers in the socket for the connection's whole life.
async fn readable(socket: &Async<TcpStream>) -> Result<(), Rejection> {
    future::poll_fn(|cx| socket.poll_readable(cx))
        .await
        .map_err(Rejection::Failed)
}

/// Reads exactly `into.len()` bytes, which were peeked and so are waiting in the socket.
async fn take(socket: &Async<TcpStream>, mut into: &mut [u8]) -> Result<(), Rejection> {
    while !into.is_empty() {
        match socket.get_ref().read(into) {
            Ok(0) => return Err(Rejection::Closed),
            Ok(n) => into = &mut into[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => readable(socket).await?,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Rejection::Failed(e)),
        }
    }
    Ok(())
}

/// What the bytes received so far make.
#[derive(Debug)]
enum Parsed {
    /// A header, the first `len` bytes.
    Complete { header: Header, len: usize },
    /// The beginning of a header, possibly valid with more bytes: `len` bytes in all, when
    /// that is known yet.
    Incomplete { len: Option<usize> },
    /// Never a valid header, however many bytes follow.
    Rejected(Rejection),
}

/// Parses the beginning of a connection's bytes (not empty) as a PROXY header of either
/// version, of at most `limit` bytes.
fn parse(bytes: &[u8], limit: usize) -> Parsed {
    // Version 2's signature begins with CR, version 1's with `P`.
    if bytes.first() == v2::PROTOCOL_PREFIX.first() {
        parse_v2(bytes, limit)
    } else {
        parse_v1(bytes)
    }
}

/// A version 1 header is one line: it is parsed once its end is there. (ppp's own verdict on
/// a line cut short is not reliable: a line cut right after a space before the last port
/// reads as an invalid port.)
fn parse_v1(bytes: &[u8]) -> Parsed {
    const PREFIX: &[u8] = b"PROXY ";
    if !bytes.starts_with(&PREFIX[..bytes.len().min(PREFIX.len())]) {
        return Parsed::Rejected(Rejection::Invalid(
            "neither a version 1 nor a version 2 header".to_owned(),
        ));
    }
    // The line ends at its first CR, which must be followed by LF.
    let end = match bytes.iter().position(|&b| b == b'\r') {
        Some(cr) if cr + 2 > V1_LIMIT => None,
        Some(cr) if cr + 1 < bytes.len() => Some(cr + 2),
        Some(_) => return Parsed::Incomplete { len: None },
        None if bytes.len() < V1_LIMIT => return Parsed::Incomplete { len: None },
        None => None,
    };
    let Some(end) = end else {
        return Parsed::Rejected(Rejection::TooLarge { limit: V1_LIMIT });
    };
    let header = match v1::Header::try_from(&bytes[..end]) {
        Ok(header) => header,
        Err(e) => return Parsed::Rejected(Rejection::Invalid(e.to_string())),
    };
    let origin = match header.addresses {
        v1::Addresses::Tcp4(a) => {
            Origin::Client(SocketAddr::new(a.source_address.into(), a.source_port))
        }
        v1::Addresses::Tcp6(a) => {
            Origin::Client(SocketAddr::new(a.source_address.into(), a.source_port))
        }
        // "PROXY UNKNOWN": the specification says to use the connection's own addresses.
        v1::Addresses::Unknown => Origin::Balancer,
    };
    Parsed::Complete {
        header: Header { version: 1, origin },
        len: header.header.len(),
    }
}

fn parse_v2(bytes: &[u8], limit: usize) -> Parsed {
    let header = match v2::Header::try_from(bytes) {
        Ok(header) => header,
        Err(v2::ParseError::Partial(_, length)) if V2_FIXED + length > limit => {
            return Parsed::Rejected(Rejection::TooLarge { limit });
        }
        Err(v2::ParseError::Partial(_, length)) => {
            return Parsed::Incomplete {
                len: Some(V2_FIXED + length),
            };
        }
        Err(e) if e.is_incomplete() => return Parsed::Incomplete { len: None },
        Err(e) => return Parsed::Rejected(Rejection::Invalid(e.to_string())),
    };
    let origin = match (header.command, header.protocol, header.addresses) {
        // A health check, or a connection the balancer makes on its own account.
        (v2::Command::Local, _, _) => Origin::Balancer,
        (_, v2::Protocol::Datagram, _) => {
            return Parsed::Rejected(Rejection::Invalid(
                "a datagram (UDP) header on a stream connection".to_owned(),
            ));
        }
        (_, _, v2::Addresses::IPv4(a)) => {
            Origin::Client(SocketAddr::new(a.source_address.into(), a.source_port))
        }
        (_, _, v2::Addresses::IPv6(a)) => {
            Origin::Client(SocketAddr::new(a.source_address.into(), a.source_port))
        }
        // Unspecified or Unix addresses: the specification says to use the connection's.
        (_, _, v2::Addresses::Unspecified | v2::Addresses::Unix(_)) => Origin::Balancer,
    };
    Parsed::Complete {
        header: Header { version: 2, origin },
        len: header.len(),
    }
}

#[cfg(test)]
mod tests {
    //! The header's parse on its own; the stage over real sockets, against hostile peers,
    //! is tested end to end (tests/tests/proxy_protocol.rs).
    use super::*;

    const LIMIT: usize = DEFAULT_PROXY_HEADER_LIMIT;

    /// A version 2 header: the signature, then `ver_cmd`, `fam`, the length and `rest`.
    fn v2(ver_cmd: u8, fam: u8, rest: &[u8]) -> Vec<u8> {
        let mut bytes = v2::PROTOCOL_PREFIX.to_vec();
        bytes.extend([ver_cmd, fam]);
        bytes.extend((rest.len() as u16).to_be_bytes());
        bytes.extend_from_slice(rest);
        bytes
    }

    /// The address block of a TCP over IPv4 header: 192.0.2.7:51000 to 10.0.0.1:8007.
    const TCP4_BLOCK: [u8; 12] = [192, 0, 2, 7, 10, 0, 0, 1, 0xc7, 0x38, 0x1f, 0x47];

    fn client(text: &str) -> Origin {
        Origin::Client(text.parse().unwrap())
    }

    fn complete(parsed: Parsed) -> (Header, usize) {
        match parsed {
            Parsed::Complete { header, len } => (header, len),
            other => panic!("not complete: {other:?}"),
        }
    }

    fn rejected(parsed: Parsed) -> String {
        match parsed {
            Parsed::Rejected(rejection) => rejection.to_string(),
            other => panic!("not rejected: {other:?}"),
        }
    }

    #[test]
    fn a_v1_header_names_the_client_and_ends_at_its_crlf() {
        let bytes = b"PROXY TCP4 192.0.2.7 10.0.0.1 51000 8007\r\nhello\r\n";
        let (header, len) = complete(parse(bytes, LIMIT));
        assert_eq!(header.origin, client("192.0.2.7:51000"));
        assert_eq!((header.version, &bytes[len..]), (1, &b"hello\r\n"[..]));
        let bytes = b"PROXY TCP6 2001:db8::7 2001:db8::1 51000 8007\r\n";
        let (header, len) = complete(parse(bytes, LIMIT));
        assert_eq!(header.origin, client("[2001:db8::7]:51000"));
        assert_eq!(len, bytes.len());
        let (header, _) = complete(parse(b"PROXY UNKNOWN\r\n", LIMIT));
        assert_eq!(header.origin, Origin::Balancer);
    }

    #[test]
    fn a_v2_header_names_the_client_and_local_is_the_balancers_own() {
        let mut bytes = v2(0x21, 0x11, &TCP4_BLOCK);
        let header_len = bytes.len();
        bytes.extend_from_slice(b"hello\r\n");
        let (header, len) = complete(parse(&bytes, LIMIT));
        assert_eq!((header.version, len), (2, header_len));
        assert_eq!(header.origin, client("192.0.2.7:51000"));
        // LOCAL, with or without addresses; PROXY with unspecified addresses.
        for bytes in [
            v2(0x20, 0x00, &[]),
            v2(0x20, 0x11, &TCP4_BLOCK),
            v2(0x21, 0x00, &[]),
        ] {
            assert_eq!(complete(parse(&bytes, LIMIT)).0.origin, Origin::Balancer);
        }
        // TLVs after the addresses are part of the header (a NOOP TLV of 3 bytes).
        let mut with_tlv = TCP4_BLOCK.to_vec();
        with_tlv.extend([0x04, 0, 3, 1, 2, 3]);
        let bytes = v2(0x21, 0x11, &with_tlv);
        assert_eq!(complete(parse(&bytes, LIMIT)).1, bytes.len());
    }

    #[test]
    fn every_proper_prefix_of_a_valid_header_is_incomplete() {
        let v1 = b"PROXY TCP4 192.0.2.7 10.0.0.1 51000 8007\r\n".to_vec();
        for header in [v1, v2(0x21, 0x11, &TCP4_BLOCK)] {
            for end in 1..header.len() {
                assert!(
                    matches!(parse(&header[..end], LIMIT), Parsed::Incomplete { .. }),
                    "{:?}",
                    &header[..end]
                );
            }
        }
    }

    #[test]
    fn a_v2_header_says_its_length_once_its_fixed_part_is_in() {
        let header = v2(
            0x21,
            0x11,
            &[TCP4_BLOCK.as_slice(), &[0x04, 0, 200], &[0; 200]].concat(),
        );
        for end in 1..16 {
            assert!(matches!(
                parse(&header[..end], LIMIT),
                Parsed::Incomplete { len: None }
            ));
        }
        for end in 16..header.len() {
            assert!(matches!(
                parse(&header[..end], LIMIT),
                Parsed::Incomplete { len: Some(len) } if len == header.len()
            ));
        }
        assert_eq!(complete(parse(&header, LIMIT)).1, header.len());
    }

    #[test]
    fn what_can_never_be_a_header_is_rejected_as_soon_as_it_shows() {
        // Not a header at all: the first byte says so.
        assert!(rejected(parse(b"h", LIMIT)).starts_with("invalid PROXY header"));
        assert!(rejected(parse(b"\r\n\r\n\0\r\nQUIX", LIMIT)).starts_with("invalid"));
        // Version 2 with an unknown family, a wrong version, a length too short for its
        // addresses, and a datagram.
        for bytes in [
            v2(0x21, 0x41, &TCP4_BLOCK),
            v2(0x31, 0x11, &TCP4_BLOCK),
            v2(0x21, 0x11, &TCP4_BLOCK[..8]),
            v2(0x21, 0x12, &TCP4_BLOCK),
        ] {
            assert!(rejected(parse(&bytes, LIMIT)).starts_with("invalid PROXY header"));
        }
        // Version 1 with a bad address, or over its 107 bytes with no end in sight.
        assert!(rejected(parse(b"PROXY TCP4 1.2.3 4.5.6.7 1 2\r\n", LIMIT)).starts_with("inv"));
        let long = [b"PROXY UNKNOWN ".as_slice(), &[b'x'; 100]].concat();
        assert_eq!(rejected(parse(&long, LIMIT)), "PROXY header over 107 bytes");
    }

    #[test]
    fn a_v2_length_over_the_limit_is_rejected_before_its_bytes_arrive() {
        let announced = v2(0x21, 0x11, &vec![0; 2000]);
        assert_eq!(
            rejected(parse(&announced[..20], LIMIT)),
            format!("PROXY header over {LIMIT} bytes")
        );
    }

    #[test]
    fn trust_is_by_range_and_settings_that_serve_nobody_are_errors() {
        let proxy = ProxyProtocol::trusting(["127.0.0.0/8".parse().unwrap()]);
        assert!(proxy.trusts("127.0.0.2".parse().unwrap()));
        assert!(!proxy.trusts("::1".parse().unwrap()));
        assert!(proxy.check().is_ok());
        assert!(matches!(
            ProxyProtocol::trusting([]).check(),
            Err(Error::NoTrustedProxy)
        ));
        assert!(matches!(
            proxy.clone().header_timeout(Duration::ZERO).check(),
            Err(Error::ZeroProxyHeaderTimeout)
        ));
        for limit in [231, 65552] {
            assert!(matches!(
                proxy.clone().header_limit(limit).check(),
                Err(Error::ProxyHeaderLimit { given }) if given == limit
            ));
        }
    }
}
