//! The server under systemd: the listeners a socket unit passes (socket activation,
//! `LISTEN_FDS`), and the notifications a `Type=notify` service sends (`READY=1`,
//! `STOPPING=1`, `STATUS=`). Both are systemd's conventions as sd_listen_fds(3) and
//! sd_notify(3) describe them, through the `listenfd` and `sd-notify` crates; outside systemd
//! (neither `LISTEN_FDS` nor `NOTIFY_SOCKET` set) nothing here does anything.

use chatecho_server::{Counters, Handle};
use listenfd::ListenFd;
use sd_notify::NotifyState;
use std::net::TcpListener;
use std::time::Duration;

/// The TCP listeners systemd passed, in order, or `None` when it passed none (no
/// `LISTEN_FDS`, or `LISTEN_PID` names another process).
///
/// Call it before any thread starts: it removes `LISTEN_FDS` and `LISTEN_PID` from the
/// environment, so that a child process would not take the sockets for its own.
pub fn passed_listeners() -> Result<Option<Vec<TcpListener>>, String> {
    let mut passed = ListenFd::from_env();
    if passed.len() == 0 {
        return Ok(None);
    }
    let mut listeners = Vec::with_capacity(passed.len());
    for index in 0..passed.len() {
        let listener = match passed.take_tcp_listener(index) {
            Ok(Some(listener)) => listener,
            Ok(None) => continue,
            Err(error) => {
                return Err(format!(
                    "socket {} of the {} that systemd passed is not a TCP socket ({error}): \
                     the socket unit needs ListenStream= with an address or a port",
                    index + 1,
                    passed.len()
                ));
            }
        };
        // Accept=yes passes each connection rather than the listener.
        if !socket2::SockRef::from(&listener)
            .is_listener()
            .unwrap_or(false)
        {
            return Err(format!(
                "socket {} of the {} that systemd passed is not listening: the socket unit \
                 needs Accept=no (the default)",
                index + 1,
                passed.len()
            ));
        }
        listeners.push(listener);
    }
    Ok(Some(listeners))
}

/// Notifications to systemd, sent only when it asked for them (`NOTIFY_SOCKET` set).
#[derive(Debug, Clone, Copy)]
pub struct Notifier {
    asked: bool,
}

impl Notifier {
    /// Notifications if the environment asks for them.
    pub fn from_env() -> Self {
        Self {
            asked: std::env::var_os("NOTIFY_SOCKET").is_some(),
        }
    }

    fn send(&self, states: &[NotifyState<'_>]) {
        if !self.asked {
            return;
        }
        if let Err(error) = sd_notify::notify(states) {
            tracing::warn!(%error, "cannot notify systemd");
        }
    }

    /// Serving has begun.
    pub fn ready(&self, counters: Counters) {
        self.send(&[NotifyState::Ready, NotifyState::Status(&status(counters))]);
    }

    /// The graceful shutdown has begun: connections are draining.
    pub fn stopping(&self, counters: Counters) {
        let status = format!(
            "stopping: draining {} connection(s); {}",
            counters.open,
            status(counters)
        );
        self.send(&[NotifyState::Stopping, NotifyState::Status(&status)]);
    }

    /// The server stopped; `counters` are the whole run's.
    pub fn stopped(&self, counters: Counters) {
        let status = format!("stopped; {}", status(counters));
        self.send(&[NotifyState::Status(&status)]);
    }

    /// Sends the summary as `STATUS=` every `interval` from a thread of its own, for the life
    /// of the process (a timer in the reactor would cost every wait of the reactor system
    /// calls). Nothing when systemd did not ask for notifications.
    pub fn report_status(self, handle: Handle, interval: Duration) -> std::io::Result<()> {
        if !self.asked {
            return Ok(());
        }
        std::thread::Builder::new()
            .name("chatecho-notify".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(interval);
                    if handle.is_shutting_down() {
                        return;
                    }
                    self.send(&[NotifyState::Status(&status(handle.counters()))]);
                }
            })
            .map(drop)
    }
}

/// The summary in the words of `systemctl status`.
fn status(c: Counters) -> String {
    format!(
        "{} open; since start {} accepted, {} closed, refused {} (server full) {} (per address) \
         {} (PROXY protocol), {} lines answered, {} bytes in, {} bytes out",
        c.open,
        c.accepted,
        c.closed,
        c.refused_full,
        c.refused_per_address,
        c.refused_proxy,
        c.lines,
        c.bytes_in,
        c.bytes_out
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_names_every_count() {
        let counters = Counters {
            open: 1,
            accepted: 2,
            closed: 3,
            refused_full: 4,
            refused_per_address: 5,
            refused_proxy: 6,
            lines: 7,
            bytes_in: 8,
            bytes_out: 9,
            ..Counters::default()
        };
        assert_eq!(
            status(counters),
            "1 open; since start 2 accepted, 3 closed, refused 4 (server full) 5 (per address) \
             6 (PROXY protocol), 7 lines answered, 8 bytes in, 9 bytes out"
        );
    }
}
