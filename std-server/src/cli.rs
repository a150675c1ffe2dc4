//! The server's command line: flags, their defaults and their meaning, and their translation
//! into the core's [`Config`] plus the server's own settings (timeouts, limits, threads).

use chatecho_core::config::{DEFAULT_MAX_LINE, MAX_DELIMITER_LEN};
use chatecho_core::escape::unescape;
use chatecho_core::{Config, ConfigError, Delimiter};
use clap::Parser;
use std::num::NonZeroUsize;
use std::time::Duration;

/// Largest `--max-line` accepted: a busy connection holds about twice this in buffers
/// ([`crate::buffers::Sizes`]), so the limit bounds memory per connection.
pub const MAX_LINE_LIMIT: usize = 65536;

const AFTER_HELP: &str = "\
Protocol: each line (bytes before the delimiter) is answered with `You sent: <line>` and the
delimiter; the line `.` closes the connection after the replies owed are sent; a line over
--max-line is answered once with `ERROR line too long (limit N bytes)` and skipped.

Once bound, the server prints `listening on <addr>` on stdout for every bound address, then
logs to stderr (RUST_LOG sets the level, default info).

SIGINT or SIGTERM: stop accepting, let every connection send the replies it owes for the
complete lines it received (for up to --shutdown-grace seconds), then exit 0. A second signal
exits at once with status 128 + the signal number.

Exit status: 0 after a signal, 1 if the address cannot be resolved or bound (e.g. port in use),
2 for bad flags.";

/// chatecho-server: the chat-echo line protocol over TCP.
#[derive(Debug, Parser)]
#[command(name = "chatecho-server", version, after_help = AFTER_HELP)]
pub struct Args {
    /// Host name or address to listen on; every address it resolves to is bound.
    #[arg(long, default_value = "localhost")]
    pub host: String,

    /// TCP port; 0 picks a free one (the same for every address of --host).
    #[arg(long, short, default_value_t = 8007)]
    pub port: u16,

    /// Line delimiter, 1 to 8 bytes, with escapes \r \n \t \0 \\ \xNN.
    #[arg(long, default_value = r"\r\n", value_parser = parse_delimiter)]
    pub delimiter: Delimiter,

    /// Longest line answered, in bytes, delimiter not counted (1 to 65536 in this build).
    #[arg(long, default_value_t = DEFAULT_MAX_LINE, value_parser = parse_max_line)]
    pub max_line: usize,

    /// Close a connection that sends and reads nothing for SECS seconds, after flushing its
    /// replies; 0 turns the timeout off.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub idle_timeout: u64,

    /// Most connections served at once; a connection over the limit is answered
    /// `ERROR server full (limit N connections)` and closed.
    #[arg(long, value_name = "N", default_value_t = NonZeroUsize::new(10_000).expect("nonzero"))]
    pub max_connections: NonZeroUsize,

    /// Worker threads of the executor [default: number of CPUs].
    #[arg(long, value_name = "N")]
    pub threads: Option<NonZeroUsize>,

    /// Set SO_REUSEPORT, so that several processes can listen on the same port and the
    /// kernel spreads connections among them.
    #[arg(long)]
    pub reuse_port: bool,

    /// On SIGINT/SIGTERM, wait at most SECS seconds for connections to flush before exiting.
    #[arg(long, value_name = "SECS", default_value_t = 5)]
    pub shutdown_grace: u64,
}

impl Args {
    /// The protocol configuration these flags describe.
    pub fn config(&self) -> Result<Config, ConfigError> {
        Config::default()
            .with_delimiter(self.delimiter.as_bytes())?
            .with_max_line(self.max_line)
    }

    /// The idle timeout, `None` when turned off.
    pub fn idle_timeout(&self) -> Option<Duration> {
        (self.idle_timeout > 0).then(|| Duration::from_secs(self.idle_timeout))
    }

    /// Executor threads: the flag, else one per CPU.
    pub fn threads(&self) -> NonZeroUsize {
        self.threads
            .unwrap_or_else(|| std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN))
    }
}

/// Parses `--delimiter`: escapes resolved, then checked by the core.
pub fn parse_delimiter(text: &str) -> Result<Delimiter, String> {
    // Room for more than the longest delimiter, so that an overlong one is reported by the
    // core with its actual length.
    let bytes = unescape::<{ 8 * MAX_DELIMITER_LEN }>(text).map_err(|e| e.to_string())?;
    Delimiter::new(&bytes).map_err(|e| e.to_string())
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
    }

    #[test]
    fn delimiter_escapes_and_limits() {
        assert_eq!(parse_delimiter(r"\x00|").unwrap().as_bytes(), b"\0|");
        assert!(parse_delimiter("").is_err());
        assert!(parse_delimiter("123456789").is_err());
        assert!(parse_delimiter(r"\q").is_err());
    }

    #[test]
    fn max_line_is_bounded_by_the_build() {
        assert_eq!(parse_max_line("65536"), Ok(65536));
        assert!(parse_max_line("0").is_err());
        assert!(parse_max_line("65537").is_err());
        assert!(parse_max_line("-1").is_err());
    }
}
