//! The server's settings: what the command line decided, prepared once and read by the accept
//! loops and every connection. A leaf: it depends on no other module of the server but the
//! buffer sizes.

use crate::buffers::Sizes;
use chatecho_core::Config;
use std::num::NonZeroUsize;
use std::time::Duration;

/// Everything a connection and the accept loops need to know, fixed for the server's life.
#[derive(Debug)]
pub struct Settings {
    /// The protocol every session speaks.
    pub config: Config,
    /// Session buffer sizes for `config`.
    pub sizes: Sizes,
    /// `--idle-timeout`, `None` when off.
    pub idle_timeout: Option<Duration>,
    /// `--max-connections` and `--max-connections-per-ip`.
    pub limits: Limits,
    /// The lines the server says on its own account, delimiter included.
    pub notices: Notices,
}

impl Settings {
    /// Settings for serving `config` with these limits and idle timeout.
    pub fn new(config: Config, idle_timeout: Option<Duration>, limits: Limits) -> Self {
        let notices = Notices::new(&config, idle_timeout, limits);
        Self {
            sizes: Sizes::for_config(&config),
            config,
            idle_timeout,
            limits,
            notices,
        }
    }
}

/// How many connections are served at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most connections in all.
    pub max_connections: NonZeroUsize,
    /// Most connections from one address (an IPv4 address, or an IPv6 /64); `None` for no
    /// limit but `max_connections`.
    pub max_per_address: Option<NonZeroUsize>,
}

/// What the server tells a peer when it closes the connection for its own reasons: one line,
/// after every reply owed, then the close. Each starts with `ERROR ` like the core's
/// line-too-long reply, so that no notice can be taken for the echo of a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notices {
    /// To a connection over `--max-connections`, instead of being served.
    pub server_full: Vec<u8>,
    /// To a connection over `--max-connections-per-ip`, instead of being served.
    pub address_full: Vec<u8>,
    /// To a connection closed by `--idle-timeout`.
    pub idle_timeout: Vec<u8>,
    /// To a connection closed because the server is shutting down.
    pub shutting_down: Vec<u8>,
}

impl Notices {
    fn new(config: &Config, idle_timeout: Option<Duration>, limits: Limits) -> Self {
        let line = |text: String| {
            let mut line = text.into_bytes();
            line.extend_from_slice(config.delimiter().as_bytes());
            line
        };
        let connections = |n: NonZeroUsize| count(n.get() as u64, "connection");
        let per_address = limits.max_per_address.map_or(String::new(), connections);
        let idle_secs = idle_timeout.map_or(0, |t| t.as_secs());
        Self {
            server_full: line(format!(
                "ERROR server full (limit {})",
                connections(limits.max_connections)
            )),
            address_full: line(format!(
                "ERROR server full for your address (limit {per_address} per address)"
            )),
            idle_timeout: line(format!(
                "ERROR idle timeout (limit {})",
                count(idle_secs, "second")
            )),
            shutting_down: line("ERROR server shutting down".to_owned()),
        }
    }
}

/// `n` and the noun, plural unless `n` is 1: `1 connection`, `2 connections`.
pub fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(total: usize, per_address: usize) -> Limits {
        Limits {
            max_connections: NonZeroUsize::new(total).unwrap(),
            max_per_address: NonZeroUsize::new(per_address),
        }
    }

    #[test]
    fn notices_count_in_words_and_end_with_the_delimiter() {
        let config = Config::default().with_delimiter(b"\n").unwrap();
        let one = Settings::new(config.clone(), Some(Duration::from_secs(1)), limits(1, 1));
        assert_eq!(
            one.notices.server_full,
            b"ERROR server full (limit 1 connection)\n"
        );
        assert_eq!(
            one.notices.address_full,
            b"ERROR server full for your address (limit 1 connection per address)\n"
        );
        assert_eq!(
            one.notices.idle_timeout,
            b"ERROR idle timeout (limit 1 second)\n"
        );
        let many = Settings::new(config, Some(Duration::from_secs(300)), limits(10, 4));
        assert_eq!(
            many.notices.server_full,
            b"ERROR server full (limit 10 connections)\n"
        );
        assert_eq!(
            many.notices.address_full,
            b"ERROR server full for your address (limit 4 connections per address)\n"
        );
        assert_eq!(
            many.notices.idle_timeout,
            b"ERROR idle timeout (limit 300 seconds)\n"
        );
        assert_eq!(many.notices.shutting_down, b"ERROR server shutting down\n");
    }
}
