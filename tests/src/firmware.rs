//! The RISC-V network firmware (`tests/mcu/virt`) under QEMU, as a server the tests can reach:
//! started with `bash tests/mcu/serve.sh PORT` on a free loopback port, a [`Target`] for the
//! shared cases, stopped by typing `exit` on its console, which makes it print its figures
//! (the painted peak stack among them) and leave QEMU with status 0.
//!
//! The firmware runs only where QEMU can run it and it has been built
//! (`bash tests/mcu/virt/check.sh` builds and tests it, as CI does); elsewhere
//! [`Firmware::start`] prints one `skipped …` line and returns `None`, so that a plain
//! `cargo test --workspace` stays quick and green. With `CHATECHO_FIRMWARE=required` (CI) a
//! firmware that cannot run fails the test instead.

use crate::harness::{LogPipe, Server, StartFailure, skip, workspace_root};
use crate::target::Target;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

/// Longest wait for the firmware to be built (when its sources changed since the last build),
/// booted and addressed by DHCP, and for it to exit when asked: generous, for a slow machine.
pub const FIRMWARE_TIMEOUT: Duration = Duration::from_secs(600);

/// The environment variable that turns a skip into a failure: CI sets it to `required`.
pub const REQUIRED_VAR: &str = "CHATECHO_FIRMWARE";

/// Which virtio-mmio transport QEMU offers the firmware's NIC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mmio {
    /// Version 1, QEMU's default.
    Legacy,
    /// Version 2 (`-global virtio-mmio.force-legacy=false`, `serve.sh --modern`).
    Modern,
}

/// The firmware, running under QEMU.
#[derive(Debug)]
pub struct Firmware {
    server: Server,
    mmio: Mmio,
}

/// What the firmware reports when it exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Figures {
    /// The deepest its stack went over the whole run, measured by painting, in bytes.
    pub peak_stack: usize,
    /// Connections it served.
    pub connections: u64,
    /// Connections refused as full.
    pub refused: u64,
}

/// The firmware image `serve.sh` runs.
pub fn image() -> PathBuf {
    workspace_root()
        .join("tests/mcu/virt/target/riscv32imac-unknown-none-elf/release/chatecho-virt")
}

/// Why the firmware cannot run here, if it cannot.
pub fn unavailable() -> Option<String> {
    let qemu = Command::new("qemu-system-riscv32")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !qemu.is_ok_and(|status| status.success()) {
        return Some("qemu-system-riscv32 is not on the PATH (Debian: qemu-system-misc)".into());
    }
    if !image().is_file() {
        return Some(format!(
            "the firmware is not built ({} is missing; bash tests/mcu/virt/check.sh builds and \
             tests it)",
            image().display()
        ));
    }
    None
}

impl Firmware {
    /// Starts the firmware with its NIC on `mmio`, or says why it cannot (one `skipped` line)
    /// and returns `None`; with [`REQUIRED_VAR`]` = required`, fails instead.
    pub fn start(mmio: Mmio) -> Option<Self> {
        if let Some(why) = unavailable() {
            if std::env::var(REQUIRED_VAR).is_ok_and(|v| v == "required") {
                panic!("{REQUIRED_VAR}=required, but {why}");
            }
            skip(&why);
            return None;
        }
        let port = crate::harness::free_port();
        let mut command = Command::new("bash");
        command.arg(workspace_root().join("tests/mcu/serve.sh"));
        if mmio == Mmio::Modern {
            command.arg("--modern");
        }
        command.arg(port.to_string());
        let server =
            Server::launch_with(command, 1, LogPipe::Read, Stdio::piped(), FIRMWARE_TIMEOUT)
                .unwrap_or_else(|failure: StartFailure| {
                    panic!("the firmware did not start: {failure:?}")
                });
        Some(Self { server, mmio })
    }

    /// Where it is reached: the host port QEMU forwards to it.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The firmware as a target for the shared cases: it runs with chatecho-server's defaults
    /// and four sessions, which is `--max-connections 4`.
    pub fn target(&self) -> Target {
        Target::Running {
            name: format!("the firmware ({:?} virtio-mmio)", self.mmio),
            addr: self.addr(),
            flags: vec!["--max-connections".to_owned(), "4".to_owned()],
        }
    }

    /// What its console has printed so far.
    pub fn log(&self) -> String {
        self.server.log()
    }

    /// Waits until its console has printed `needle` `count` times (bounded).
    pub fn wait_for_log_count(&self, needle: &str, count: usize) {
        self.server.wait_for_log_count(needle, count);
    }

    /// Types `exit` on its console and waits for QEMU to end; returns QEMU's exit status and,
    /// if the firmware said them, its figures.
    pub fn exit(self) -> (ExitStatus, Option<Figures>) {
        let (status, log) = self.request("exit");
        (status, figures(&log))
    }

    /// Types `panic` on its console, which makes the firmware panic as a bug would, and waits
    /// for QEMU to end; returns QEMU's exit status and the console's log.
    pub fn panic(self) -> (ExitStatus, String) {
        self.request("panic")
    }

    /// Types `request` on its console and waits for QEMU to end (bounded).
    fn request(mut self, request: &str) -> (ExitStatus, String) {
        if let Some(stdin) = self.server.child().stdin.as_mut() {
            let _ = writeln!(stdin, "{request}");
            let _ = stdin.flush();
        }
        let status = self.server.wait_exit();
        // The last console lines reach the log through a pipe and a thread.
        std::thread::sleep(Duration::from_millis(200));
        (status, self.server.log())
    }
}

/// The figures in the firmware's last words:
/// `exit: N connections (L lost), R refused, X lines; peak stack S bytes`.
pub fn figures(log: &str) -> Option<Figures> {
    let line = log.lines().rev().find_map(|l| l.split_once("exit: "))?.1;
    let number = |before: &str| -> Option<u64> {
        let (head, _) = line.split_once(before)?;
        head.rsplit(|c: char| !c.is_ascii_digit())
            .find(|s| !s.is_empty())?
            .parse()
            .ok()
    };
    Some(Figures {
        connections: number(" connections")?,
        refused: number(" refused")?,
        peak_stack: number(" bytes")? as usize,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exit_line_gives_the_figures() {
        let log = "chatecho-virt: listening on 10.0.2.15:8007\n\
                   chatecho-virt: exit: 612 connections (9 lost), 3 refused, 9000 lines; \
                   peak stack 3120 bytes\n";
        assert_eq!(
            figures(log),
            Some(Figures {
                peak_stack: 3120,
                connections: 612,
                refused: 3
            })
        );
        assert_eq!(figures("chatecho-virt: listening\n"), None);
    }
}
