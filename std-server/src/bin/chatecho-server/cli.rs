//! The server's command line: flags, their defaults and their meaning, and their translation
//! into the library's [`ServerBuilder`].

use crate::logging;
use chatecho_core::config::DEFAULT_MAX_LINE;
use chatecho_server::{
    Config, ConfigError, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_CONNECTIONS_PER_ADDRESS, DEFAULT_PROXY_HEADER_TIMEOUT, DEFAULT_SHUTDOWN_GRACE,
    Delimiter, IpNet, ProxyProtocol, ServerBuilder,
};
use clap::Parser;
use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::time::Duration;

/// Largest `--max-line` accepted: a busy connection holds about twice this in buffers, so the
/// limit bounds memory per connection.
pub const MAX_LINE_LIMIT: usize = 65536;

const AFTER_HELP: &str = "\
Protocol (docs/protocol.md): each line (bytes before the delimiter) is answered with
`You sent: <line>` and the delimiter; the line `.` closes the connection after the replies owed
are sent; a line over --max-line is answered once with `ERROR line too long (limit N bytes)`
and skipped. A connection the server closes on its own account is told why in one line, after
the replies it is owed: `ERROR server full (…)`, `ERROR server full for your address (…)`,
`ERROR idle timeout (…)`, `ERROR server shutting down`.

Once bound, the server prints `listening on <addr>` on stdout for every bound address, then
logs to stderr (RUST_LOG sets the level, default info): at info, start, stop and a summary every
--summary-interval seconds when something changed; at debug, every connection. Logging never
makes serving wait: when stderr does not keep up, log lines are dropped and their count is
logged once it does.

Behind a load balancer (HAProxy, nginx `stream`, Envoy, a cloud NLB), every connection comes
from the balancer's address, so --max-connections-per-ip counts the balancer, not its clients.
With --proxy-protocol and the balancer sending the PROXY protocol (HAProxy `send-proxy-v2` or
`send-proxy`, nginx `proxy_protocol on`), each connection from a --proxy-from range begins with
a header naming the client: the limit counts, and the log names, the client. A connection from
elsewhere, or without a valid header within --proxy-header-timeout, is closed unserved (counted
as refused_proxy in the summary, and logged at debug with the reason). A v2 LOCAL header (a
health check) is served as the balancer's own connection.

Under systemd: started by a socket unit (LISTEN_FDS and LISTEN_PID set), the server serves the
TCP listeners systemd passes instead of binding, and --host, --port and --reuse-port have no
effect (the log says so). With NOTIFY_SOCKET set (Type=notify), it sends READY=1 once serving,
STOPPING=1 when the drain begins, and the summary as STATUS= every --summary-interval seconds
(every 10 when summaries are off). The repository's dist/ has the unit files.

SIGINT or SIGTERM: stop accepting, let every connection send the replies it owes for the
complete lines it received (for up to --shutdown-grace seconds), then exit 0. A second signal
exits at once with status 128 + the signal number.

Exit status: 0 after a signal, 1 if the address cannot be resolved or bound (e.g. port in use)
or the sockets systemd passed cannot be served, 2 for bad flags.";

/// chatecho-server: the chat-echo line protocol over TCP.
#[derive(Debug, Parser)]
#[command(name = "chatecho-server", version, after_help = AFTER_HELP)]
pub struct Args {
    /// Host name or address to listen on; every address it resolves to is bound. No effect
    /// when systemd passes the listeners (socket activation).
    #[arg(long, default_value = "localhost")]
    pub host: String,

    /// TCP port; 0 picks a free one (the same for every address of --host). No effect when
    /// systemd passes the listeners.
    #[arg(long, short, default_value_t = 8007)]
    pub port: u16,

    /// Line delimiter, 1 to 8 bytes, with escapes \r \n \t \0 \\ \xNN.
    #[arg(long, default_value = r"\r\n")]
    pub delimiter: Delimiter,

    /// Longest line answered, in bytes, delimiter not counted (1 to 65536 in this build).
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_LINE, value_parser = parse_max_line)]
    pub max_line: usize,

    /// Close a connection that sends and reads nothing for SECS seconds, after flushing its
    /// replies and telling it why; 0 turns the timeout off.
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_IDLE_TIMEOUT.as_secs())]
    pub idle_timeout: u64,

    /// Most connections served at once; a connection over the limit is answered
    /// `ERROR server full (limit N connections)` and closed.
    #[arg(long, value_name = "N",
          default_value_t = NonZeroUsize::new(DEFAULT_MAX_CONNECTIONS).expect("nonzero"),
          value_parser = at_least_one("connection"))]
    pub max_connections: NonZeroUsize,

    /// Most connections served at once from one address (an IPv4 address, or an IPv6 /64);
    /// one more is answered `ERROR server full for your address (…)` and closed. 0 turns the
    /// limit off.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_CONNECTIONS_PER_ADDRESS)]
    pub max_connections_per_ip: usize,

    /// Worker threads of the executor [default: number of CPUs].
    #[arg(long, value_name = "N", value_parser = at_least_one("thread"))]
    pub threads: Option<NonZeroUsize>,

    /// Set SO_REUSEPORT, so that several processes can listen on the same port and the
    /// kernel spreads connections among them. No effect when systemd passes the listeners
    /// (its socket unit's ReusePort= is what counts then).
    #[arg(long)]
    pub reuse_port: bool,

    /// Take the PROXY protocol (v1 or v2) from load balancers: each connection must come from
    /// a --proxy-from range and begin with a PROXY header, and the client it names is what
    /// --max-connections-per-ip counts and the log shows. Other connections are closed.
    #[arg(long, requires = "proxy_from")]
    pub proxy_protocol: bool,

    /// With --proxy-protocol: an address range trusted to send PROXY headers (CIDR, e.g.
    /// 10.0.0.0/8 or 2001:db8::/64, or one address); repeat for several. Required with
    /// --proxy-protocol, with no default: a range that trusted everyone would let any client
    /// claim any address.
    #[arg(long, value_name = "CIDR", requires = "proxy_protocol", value_parser = parse_range)]
    pub proxy_from: Vec<IpNet>,

    /// With --proxy-protocol: close a connection whose PROXY header is not complete SECS
    /// seconds after it was accepted (checked once a second, so up to a second later).
    #[arg(long, value_name = "SECS",
          default_value_t = NonZeroUsize::new(DEFAULT_PROXY_HEADER_TIMEOUT.as_secs() as usize).expect("nonzero"),
          value_parser = at_least_one("second"))]
    pub proxy_header_timeout: NonZeroUsize,

    /// On SIGINT/SIGTERM, wait at most SECS seconds for connections to flush before exiting.
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_SHUTDOWN_GRACE.as_secs())]
    pub shutdown_grace: u64,

    /// How log lines are written to stderr.
    #[arg(long, value_enum, default_value_t = logging::Format::Text)]
    pub log_format: logging::Format,

    /// Log a summary (connections open, accepted, closed and refused, lines answered, bytes
    /// in and out) every SECS seconds when something changed; 0 turns it off.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub summary_interval: u64,
}

impl Args {
    /// The protocol configuration these flags describe.
    pub fn config(&self) -> Result<Config, ConfigError> {
        let config = Config::default()
            .with_delimiter(self.delimiter.as_bytes())?
            .with_max_line(self.max_line)?;
        // What a session would refuse is refused here, once, as a usage error.
        config.check()?;
        Ok(config)
    }

    /// The server these flags describe, serving `config`.
    pub fn server(&self, config: Config) -> ServerBuilder {
        ServerBuilder::default()
            .config(config)
            .idle_timeout(self.idle_timeout())
            .max_connections(self.max_connections.get())
            .max_connections_per_address(
                (self.max_connections_per_ip > 0).then_some(self.max_connections_per_ip),
            )
            .shutdown_grace(Duration::from_secs(self.shutdown_grace))
            .summary_interval(self.summary_interval())
            .reuse_port(self.reuse_port)
            .proxy_protocol(self.proxy_protocol())
    }

    /// The PROXY protocol's settings, `None` when it is off.
    pub fn proxy_protocol(&self) -> Option<ProxyProtocol> {
        self.proxy_protocol.then(|| {
            ProxyProtocol::trusting(self.proxy_from.iter().copied())
                .header_timeout(Duration::from_secs(self.proxy_header_timeout.get() as u64))
        })
    }

    /// The idle timeout, `None` when turned off.
    pub fn idle_timeout(&self) -> Option<Duration> {
        seconds_or_off(self.idle_timeout)
    }

    /// The summary interval, `None` when turned off.
    pub fn summary_interval(&self) -> Option<Duration> {
        seconds_or_off(self.summary_interval)
    }

    /// Executor threads: the flag, else one per CPU.
    pub fn threads(&self) -> NonZeroUsize {
        self.threads
            .unwrap_or_else(|| std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN))
    }
}

fn seconds_or_off(secs: u64) -> Option<Duration> {
    (secs > 0).then(|| Duration::from_secs(secs))
}

/// A parser for a count of `noun`s that must be at least 1, saying so in words.
fn at_least_one(noun: &'static str) -> impl Fn(&str) -> Result<NonZeroUsize, String> + Clone {
    move |text| {
        let n: usize = text
            .parse()
            .map_err(|_| format!("`{text}` is not a number of {noun}s"))?;
        NonZeroUsize::new(n).ok_or_else(|| format!("at least 1 {noun} is needed"))
    }
}

/// An address range in CIDR notation, or one address (a range of its own).
fn parse_range(text: &str) -> Result<IpNet, String> {
    if let Ok(range) = text.parse::<IpNet>() {
        return Ok(range);
    }
    match text.parse::<IpAddr>() {
        Ok(ip) => Ok(IpNet::from(ip)),
        Err(_) => Err(format!(
            "`{text}` is not an address range (CIDR, e.g. 10.0.0.0/8 or 2001:db8::/64) or an \
             address"
        )),
    }
}

fn parse_max_line(text: &str) -> Result<usize, String> {
    let n: usize = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number of bytes"))?;
    if !(1..=MAX_LINE_LIMIT).contains(&n) {
        return Err(format!(
            "must be between 1 and {MAX_LINE_LIMIT} (this build's largest line buffer)"
        ));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Args::command().debug_assert();
    }

    #[test]
    fn defaults_are_the_seeds() {
        let args = Args::try_parse_from(["chatecho-server"]).unwrap();
        assert_eq!(args.host, "localhost");
        assert_eq!(args.port, 8007);
        assert_eq!(args.config().unwrap(), Config::default());
        assert_eq!(args.idle_timeout(), Some(Duration::from_secs(300)));
        assert_eq!(
            args.max_connections_per_ip,
            DEFAULT_MAX_CONNECTIONS_PER_ADDRESS
        );
        assert_eq!(args.summary_interval(), Some(Duration::from_secs(10)));
    }

    #[test]
    fn the_flags_make_a_server_that_binds() {
        for per_ip in ["0", "3"] {
            let args = Args::try_parse_from([
                "chatecho-server",
                "--max-connections-per-ip",
                per_ip,
                "--idle-timeout",
                "0",
            ])
            .unwrap();
            let server = args
                .server(args.config().unwrap())
                .bind("127.0.0.1:0")
                .unwrap();
            assert_eq!(server.echo().idle_timeout(), None);
        }
    }

    #[test]
    fn counts_of_at_least_one_say_so_in_words() {
        let threads = at_least_one("thread");
        assert_eq!(threads("2"), Ok(NonZeroUsize::new(2).unwrap()));
        assert_eq!(threads("0"), Err("at least 1 thread is needed".to_owned()));
        assert_eq!(
            threads("two"),
            Err("`two` is not a number of threads".to_owned())
        );
    }

    #[test]
    fn the_proxy_protocol_needs_trusted_ranges_and_they_need_it() {
        let parse = |args: &[&str]| Args::try_parse_from([&["chatecho-server"], args].concat());
        assert_eq!(parse(&[]).unwrap().proxy_protocol(), None);
        let missing = parse(&["--proxy-protocol"]).unwrap_err().to_string();
        assert!(missing.contains("--proxy-from <CIDR>"), "{missing}");
        let alone = parse(&["--proxy-from", "10.0.0.0/8"])
            .unwrap_err()
            .to_string();
        assert!(alone.contains("--proxy-protocol"), "{alone}");
        let args = parse(&[
            "--proxy-protocol",
            "--proxy-from",
            "10.0.0.0/8",
            "--proxy-from",
            "::1",
            "--proxy-header-timeout",
            "2",
        ])
        .unwrap();
        let proxy = args.proxy_protocol().unwrap();
        assert_eq!(
            proxy.trusted(),
            ["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()]
        );
        assert_eq!(
            proxy,
            ProxyProtocol::trusting(proxy.trusted().iter().copied())
                .header_timeout(Duration::from_secs(2))
        );
        let bad = parse(&["--proxy-protocol", "--proxy-from", "10.0.0.0/33"]).unwrap_err();
        assert!(bad.to_string().contains("is not an address range"), "{bad}");
    }

    #[test]
    fn max_line_is_bounded_by_the_build() {
        assert_eq!(parse_max_line("65536"), Ok(65536));
        assert!(parse_max_line("0").is_err());
        assert!(parse_max_line("65537").is_err());
        assert!(parse_max_line("-1").is_err());
    }
}
