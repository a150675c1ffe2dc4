//! Where the shared end-to-end cases ([`crate::cases`]) send their connections: a
//! `chatecho-server` the harness starts for each case with the flags the case needs, or a
//! server that is already running at an address the harness did not start (the RISC-V
//! firmware under QEMU, a server on another port, anything that speaks the protocol).
//!
//! A running server has the configuration it was started with. A case that needs a flag it
//! does not have (a line limit of 10 bytes, another delimiter, an idle timeout) is skipped
//! against it, with one `skipped <case>: <why>` line; flags it does have (the firmware's 4
//! sessions are `--max-connections 4`) let the case run.
//!
//! `CHATECHO_TARGET=127.0.0.1:8007` points the shared cases of `tests/e2e_protocol.rs` at a
//! running server, and `CHATECHO_TARGET_FLAGS="--max-connections 4"` says which flags it was
//! started with:
//!
//! ```sh
//! bash tests/mcu/serve.sh 8007 &          # the firmware, or any server
//! CHATECHO_TARGET=127.0.0.1:8007 CHATECHO_TARGET_FLAGS="--max-connections 4" \
//!     cargo test -p chatecho-tests --test e2e_protocol shared
//! ```

use crate::harness::Server;
use std::io::Write;
use std::net::SocketAddr;

/// What the cases run against.
#[derive(Debug, Clone)]
pub enum Target {
    /// `chatecho-server`, started afresh for every case with the case's flags.
    Desktop,
    /// A server running at `addr`, started elsewhere with `flags` (flag and value pairs, as on
    /// chatecho-server's command line); `name` says what it is in skip lines.
    Running {
        /// What it is, for the output: `the firmware`, `CHATECHO_TARGET`.
        name: String,
        /// Where it listens.
        addr: SocketAddr,
        /// The flags it runs with, as chatecho-server would spell them; everything else is
        /// chatecho-server's default.
        flags: Vec<String>,
    },
}

/// A server a case may use, for as long as the value lives.
#[derive(Debug)]
pub struct Served {
    /// Where to connect.
    pub addr: SocketAddr,
    /// The server the harness started, kept running until the case is over.
    _server: Option<Server>,
}

/// The environment variable naming a running server's address.
pub const TARGET_VAR: &str = "CHATECHO_TARGET";
/// The environment variable naming the flags that server runs with.
pub const TARGET_FLAGS_VAR: &str = "CHATECHO_TARGET_FLAGS";

impl Target {
    /// The target [`TARGET_VAR`] and [`TARGET_FLAGS_VAR`] name, if the first is set.
    ///
    /// # Panics
    ///
    /// If [`TARGET_VAR`] is not a socket address: a test pointed at the wrong place must not
    /// pass by testing something else.
    pub fn from_env() -> Option<Self> {
        let addr = std::env::var(TARGET_VAR).ok()?;
        let addr = addr
            .parse()
            .unwrap_or_else(|e| panic!("{TARGET_VAR}={addr:?} is not an address: {e}"));
        let flags = std::env::var(TARGET_FLAGS_VAR).unwrap_or_default();
        Some(Self::Running {
            name: TARGET_VAR.to_owned(),
            addr,
            flags: flags.split_whitespace().map(str::to_owned).collect(),
        })
    }

    /// [`Target::from_env`], or else [`Target::Desktop`].
    pub fn from_env_or_desktop() -> Self {
        Self::from_env().unwrap_or(Self::Desktop)
    }

    /// What it is, for the output.
    pub fn name(&self) -> &str {
        match self {
            Self::Desktop => "chatecho-server",
            Self::Running { name, .. } => name,
        }
    }

    /// The connections a running server takes at once, if its flags say (the firmware's
    /// `--max-connections 4`); `None` for the desktop server, started afresh for each case.
    pub fn max_connections(&self) -> Option<usize> {
        let Self::Running { flags, .. } = self else {
            return None;
        };
        flags
            .windows(2)
            .step_by(2)
            .find(|pair| pair[0] == "--max-connections")
            .and_then(|pair| pair[1].parse().ok())
    }

    /// A server for a case that needs `flags`: chatecho-server started with them, or the
    /// running server if it has every one of them. Otherwise prints one
    /// `skipped <case>: <why>` line and returns `None`.
    pub fn serve(&self, case: &str, flags: &[&str]) -> Option<Served> {
        match self {
            Self::Desktop => {
                let server = Server::start(flags);
                Some(Served {
                    addr: server.addr(),
                    _server: Some(server),
                })
            }
            Self::Running {
                name,
                addr,
                flags: has,
            } => {
                let missing: Vec<String> = flags
                    .chunks(2)
                    .filter(|pair| !has.windows(2).step_by(2).any(|h| h == *pair))
                    .map(|pair| pair.join(" "))
                    .collect();
                if missing.is_empty() {
                    return Some(Served {
                        addr: *addr,
                        _server: None,
                    });
                }
                let _ = writeln!(
                    std::io::stderr(),
                    "skipped {case}: needs {}, which {name} does not run with",
                    missing.join(", ")
                );
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn firmware() -> Target {
        Target::Running {
            name: "the firmware".to_owned(),
            addr: "127.0.0.1:1".parse().unwrap(),
            flags: vec!["--max-connections".to_owned(), "4".to_owned()],
        }
    }

    #[test]
    fn a_running_server_serves_cases_whose_flags_it_has() {
        assert!(firmware().serve("plain", &[]).is_some());
        assert!(
            firmware()
                .serve("four", &["--max-connections", "4"])
                .is_some()
        );
    }

    #[test]
    fn a_running_server_skips_cases_whose_flags_it_lacks() {
        assert!(firmware().serve("ten", &["--max-line", "10"]).is_none());
        assert!(
            firmware()
                .serve("two", &["--max-connections", "2"])
                .is_none()
        );
        // A value must match its own flag, not a neighbour's.
        assert!(firmware().serve("odd", &["4", "--max-line"]).is_none());
    }
}
