//! Running the real programs for the end-to-end tests: our two binaries (built once per test
//! process with the same cargo and profile as the test itself) and the seed's Python server
//! and client, over loopback TCP.
//!
//! Everything here is bounded in time so that a broken build hangs no test: sockets have read
//! and write timeouts, waits on processes have deadlines, and every process started is killed
//! when its handle drops. The timeouts are generous, meant for a slow, loaded machine; no test
//! asserts how long anything took.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// Longest wait for any single socket read or write.
pub const IO_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest wait for a process to start listening or to exit.
pub const PROCESS_TIMEOUT: Duration = Duration::from_secs(60);

/// The workspace root (where `cargo build` runs, and the fixtures are).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The seed's reference programs, kept beside the repository in `../shared/reference`, and
/// `python3` to run them: `None` when either is missing, as in a plain clone.
///
/// Tests that run the seed live call this and, given `None`, skip with one line on stderr
/// ([`skip`]); everything else checks against the transcripts recorded from the seed
/// (`tests/fixtures/seed`).
pub fn reference_dir() -> Option<PathBuf> {
    static FOUND: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let found = FOUND.get_or_init(|| {
        let dir = workspace_root().join("../shared/reference");
        if !dir.join("seed_server.py").is_file() {
            return Err(format!(
                "the seed's reference programs are not in {}",
                dir.display()
            ));
        }
        match Command::new("python3")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
        {
            Ok(status) if status.success() => Ok(dir),
            _ => Err("python3 is not on the PATH".to_owned()),
        }
    });
    match found {
        Ok(dir) => Some(dir.clone()),
        Err(why) => {
            skip(why);
            None
        }
    }
}

/// Says on stderr, in one line, that the running test skipped its work and why. Written to
/// the stderr file itself, past the test runner's capture, so that it shows in the output of
/// a passing test.
pub fn skip(why: &str) {
    let test = thread::current()
        .name()
        .unwrap_or("a test")
        .rsplit("::")
        .next()
        .unwrap_or("a test")
        .to_owned();
    let _ = writeln!(std::io::stderr(), "skipped {test}: {why}");
}

/// Path of one of our binaries (`chatecho-server`, `chatecho-client`), built on first use.
pub fn binary(name: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(build_binaries)
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

/// Builds both binaries with the profile of the running test and returns their directory.
/// The test executable is `<target>/<profile dir>/deps/<name>`, which tells both.
fn build_binaries() -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its own path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test runs from <target>/<profile>/deps")
        .to_path_buf();
    let target_dir = profile_dir.parent().expect("<target>/<profile>");
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        // The `dev` and `test` profiles build into `debug`.
        Some("debug") => "dev".to_owned(),
        Some(name) => name.to_owned(),
        None => panic!("unexpected test path {}", exe.display()),
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(workspace_root())
        .args(["build", "-p", "chatecho-server", "-p", "chatecho-client"])
        .arg("--profile")
        .arg(&profile)
        .arg("--target-dir")
        .arg(target_dir)
        .status()
        .expect("cannot run cargo to build the binaries");
    assert!(status.success(), "building the binaries failed: {status}");
    profile_dir
}

/// Bytes shown as an escaped ASCII string, for assertion messages.
pub fn show(bytes: &[u8]) -> String {
    let shown = bytes.escape_ascii().to_string();
    if shown.len() > 400 {
        format!("{}… ({} bytes)", &shown[..400], bytes.len())
    } else {
        shown
    }
}

/// A child process that is killed when dropped, so that no test leaves one behind.
#[derive(Debug)]
pub struct Guarded(Option<Child>);

impl Guarded {
    /// Takes ownership of `child`.
    pub fn new(child: Child) -> Self {
        Self(Some(child))
    }

    /// The process.
    pub fn child(&mut self) -> &mut Child {
        self.0.as_mut().expect("the child is present until dropped")
    }

    /// Waits for the process to exit, killing it and failing the test after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            match self.child().try_wait().expect("cannot wait for child") {
                Some(status) => return status,
                None if Instant::now() >= deadline => {
                    let _ = self.child().kill();
                    panic!("process did not exit within {timeout:?}");
                }
                None => thread::sleep(Duration::from_millis(20)),
            }
        }
    }

    /// Closes stdin, then collects stdout and stderr until the process exits (bounded).
    pub fn finish(mut self, timeout: Duration) -> Output {
        let mut child = self.0.take().expect("the child is present until dropped");
        drop(child.stdin.take());
        let stdout = child.stdout.take().map(collect);
        let stderr = child.stderr.take().map(collect);
        let mut guard = Guarded::new(child);
        let status = guard.wait_exit(timeout);
        let take =
            |collector: Option<Collector>| collector.map(|c| c.wait(timeout)).unwrap_or_default();
        Output {
            status,
            stdout: take(stdout),
            stderr: take(stderr),
        }
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Reads a pipe to its end on a thread.
struct Collector(mpsc::Receiver<Vec<u8>>);

fn collect(mut pipe: impl Read + Send + 'static) -> Collector {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        let _ = tx.send(bytes);
    });
    Collector(rx)
}

impl Collector {
    fn wait(self, timeout: Duration) -> Vec<u8> {
        self.0
            .recv_timeout(timeout)
            .expect("a pipe stayed open after its process exited")
    }
}

/// `RUST_LOG` for the servers the tests start: the server's own debug events (one per
/// connection opened and closed), everything else at info.
pub const LOG_LEVELS: &str = "info,chatecho_server=debug";

/// A running `chatecho-server`.
#[derive(Debug)]
pub struct Server {
    process: Guarded,
    /// The addresses it printed, in order.
    pub addrs: Vec<SocketAddr>,
    log: Arc<Mutex<Vec<u8>>>,
}

/// What becomes of a server's stderr pipe.
#[derive(Debug)]
pub enum LogPipe {
    /// Read on a thread, into [`Server::log`].
    Read,
    /// Never read: the read end is handed over on this channel, to be held open (so that the
    /// server's writes fill the pipe and then wait) or read later.
    Unread(mpsc::Sender<std::process::ChildStderr>),
}

/// How a server failed to start: its exit status and stderr.
#[derive(Debug)]
pub struct StartFailure {
    /// Exit status.
    pub status: ExitStatus,
    /// Everything it wrote to stderr.
    pub stderr: String,
    /// Everything it wrote to stdout.
    pub stdout: String,
}

impl Server {
    /// Starts the server on `127.0.0.1`, port 0, with `args` added (which may override the
    /// host and port), and waits for its `listening on` line.
    pub fn start(args: &[&str]) -> Self {
        Self::start_listening(args, 1)
    }

    /// Like [`Server::start`], waiting for `listeners` `listening on` lines.
    pub fn start_listening(args: &[&str], listeners: usize) -> Self {
        match Self::try_start(args, listeners) {
            Ok(server) => server,
            Err(failure) => panic!("server did not start: {failure:?}"),
        }
    }

    /// Starts the server, or reports how it exited instead of listening.
    pub fn try_start(args: &[&str], listeners: usize) -> Result<Self, StartFailure> {
        Self::launch(Self::command(args), listeners)
    }

    /// The command [`Server::start`] runs: our server on `127.0.0.1`, port 0, logging every
    /// connection (debug), with `args` added (which may override the host and port).
    pub fn command(args: &[&str]) -> Command {
        let mut command = Command::new(binary("chatecho-server"));
        for (flag, default) in [("--host", "127.0.0.1"), ("--port", "0")] {
            if !args.contains(&flag) {
                command.args([flag, default]);
            }
        }
        command.args(args);
        // Connection logs (at debug) are part of what the tests look at.
        command.env("RUST_LOG", LOG_LEVELS);
        command
    }

    /// Runs `command` (a server, possibly wrapped) and waits for `listeners` `listening on`
    /// lines, or reports how it exited instead.
    pub fn launch(command: Command, listeners: usize) -> Result<Self, StartFailure> {
        Self::launch_with_log(command, listeners, LogPipe::Read)
    }

    /// Like [`Server::launch`], with the server's stderr a pipe that is read as `log` says.
    pub fn launch_with_log(
        command: Command,
        listeners: usize,
        log_pipe: LogPipe,
    ) -> Result<Self, StartFailure> {
        Self::launch_with(command, listeners, log_pipe, Stdio::null(), PROCESS_TIMEOUT)
    }

    /// Like [`Server::launch_with_log`], with `stdin` for the server's standard input (take a
    /// piped one with [`Server::child`]) and `timeout` for its `listening on` lines: for a
    /// server that is built or booted first, such as the firmware under QEMU.
    pub fn launch_with(
        mut command: Command,
        listeners: usize,
        log_pipe: LogPipe,
        stdin: Stdio,
        timeout: Duration,
    ) -> Result<Self, StartFailure> {
        let mut process = Guarded::new(
            command
                .stdin(stdin)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("cannot start the server"),
        );
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut stderr = process.child().stderr.take().expect("piped");
        let sink = log.clone();
        match log_pipe {
            LogPipe::Read => {
                thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    while let Ok(n @ 1..) = stderr.read(&mut buf) {
                        sink.lock().unwrap().extend_from_slice(&buf[..n]);
                    }
                });
            }
            LogPipe::Unread(held) => {
                let _ = held.send(stderr);
            }
        }
        let stdout = process.child().stdout.take().expect("piped");
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut addrs = Vec::new();
        let mut printed = Vec::new();
        let deadline = Instant::now() + timeout;
        while addrs.len() < listeners {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) => {
                    let addr = line
                        .strip_prefix("listening on ")
                        .and_then(|a| a.parse().ok())
                        .unwrap_or_else(|| panic!("unexpected stdout line {line:?}"));
                    addrs.push(addr);
                    printed.push(line);
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = process.wait_exit(PROCESS_TIMEOUT);
                    // Give the stderr thread a moment to take the last bytes.
                    thread::sleep(Duration::from_millis(100));
                    let stderr = String::from_utf8_lossy(&log.lock().unwrap()).into_owned();
                    return Err(StartFailure {
                        status,
                        stderr,
                        stdout: printed.join("\n"),
                    });
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    panic!("server printed no `listening on` line within {timeout:?}")
                }
            }
        }
        Ok(Self {
            process,
            addrs,
            log,
        })
    }

    /// The first address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    /// A new connection to it.
    pub fn connect(&self) -> Peer {
        Peer::connect(self.addr())
    }

    /// The process, for its pipes.
    pub fn child(&mut self) -> &mut Child {
        self.process.child()
    }

    /// Process id, for signals.
    pub fn pid(&mut self) -> u32 {
        self.process.child().id()
    }

    /// Sends `signal` (`"TERM"`, `"INT"`, …) with the `kill` command.
    pub fn signal(&mut self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("cannot run kill");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Waits for the process to exit (bounded).
    pub fn wait_exit(&mut self) -> ExitStatus {
        self.process.wait_exit(PROCESS_TIMEOUT)
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.process
            .child()
            .try_wait()
            .expect("cannot poll child")
            .is_none()
    }

    /// What it has logged so far.
    pub fn log(&self) -> String {
        String::from_utf8_lossy(&self.log.lock().unwrap()).into_owned()
    }

    /// Waits until its log contains `needle` (bounded), for events that have no other sign.
    pub fn wait_for_log(&self, needle: &str) {
        self.wait_for_log_count(needle, 1);
    }

    /// Waits until its log contains `needle` at least `count` times (bounded), e.g. one
    /// `connection closed` per connection a test ended.
    pub fn wait_for_log_count(&self, needle: &str, count: usize) {
        let deadline = Instant::now() + PROCESS_TIMEOUT;
        while self.log().matches(needle).count() < count {
            assert!(
                Instant::now() < deadline,
                "server log never contained {needle:?} {count} times:\n{}",
                self.log()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Its memory use now, and its peak since start or the last [`Server::reset_peak_memory`].
    pub fn memory(&mut self) -> Memory {
        Memory::of(self.pid())
    }

    /// Makes the peak of [`Server::memory`] start again from what is resident now.
    pub fn reset_peak_memory(&mut self) {
        Memory::reset_peak(self.pid());
    }
}

/// A process's memory as the kernel accounts it (`/proc/<pid>/status`, so Linux only): what
/// an operator watching the process sees. Kernel socket buffers are not part of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    /// Bytes resident now (`VmRSS`).
    pub resident: u64,
    /// Most bytes ever resident at once (`VmHWM`), since start or the last reset.
    pub peak: u64,
}

impl Memory {
    /// Reads the memory of process `pid`.
    pub fn of(pid: u32) -> Self {
        let path = format!("/proc/{pid}/status");
        let status =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
        let field = |name: &str| -> u64 {
            let kib = status
                .lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
                .and_then(|rest| rest.trim().strip_suffix(" kB"))
                .and_then(|n| n.trim().parse::<u64>().ok())
                .unwrap_or_else(|| panic!("no {name} in {path}:\n{status}"));
            kib * 1024
        };
        Self {
            resident: field("VmRSS"),
            peak: field("VmHWM"),
        }
    }

    /// Resets the peak (`VmHWM`) of process `pid` to what is resident now, so that a test
    /// measures the peak of what it did rather than of the process's start.
    pub fn reset_peak(pid: u32) {
        let path = format!("/proc/{pid}/clear_refs");
        // "5" resets the peak resident set size (Linux 4.0 and later; see proc(5)).
        std::fs::write(&path, "5").unwrap_or_else(|e| panic!("cannot write {path}: {e}"));
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if thread::panicking() {
            eprintln!("--- chatecho-server log ---\n{}", self.log());
        }
    }
}

/// The seed's Python server, running on a free loopback port.
#[derive(Debug)]
pub struct SeedServer {
    _process: Guarded,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl SeedServer {
    /// Starts `seed_server.py` from `reference` ([`reference_dir`]) and waits until it
    /// accepts connections.
    pub fn start(reference: &Path) -> Self {
        let script = reference.join("seed_server.py");
        let port = free_port();
        let mut process = Guarded::new(
            Command::new("python3")
                .arg(&script)
                .args(["127.0.0.1", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("cannot start python3 (needed to run the seed's reference server)"),
        );
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + PROCESS_TIMEOUT;
        // The seed prints nothing when ready: probe until it accepts.
        while TcpStream::connect(addr).is_err() {
            if let Some(status) = process.child().try_wait().expect("poll child") {
                panic!("the seed server exited before listening: {status}");
            }
            assert!(Instant::now() < deadline, "the seed server never listened");
            thread::sleep(Duration::from_millis(50));
        }
        Self {
            _process: process,
            addr,
        }
    }
}

/// A loopback port that was free a moment ago (for programs that cannot pick their own).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("cannot find a free port")
        .port()
}

/// The command that runs `chatecho-client` against `addr` with `args` added.
pub fn client_command(addr: SocketAddr, args: &[&str]) -> Command {
    let mut command = Command::new(binary("chatecho-client"));
    command
        .arg("--host")
        .arg(addr.ip().to_string())
        .arg("--port")
        .arg(addr.port().to_string())
        .args(args);
    command
}

/// Starts `chatecho-client` against `addr` with `args` added, all pipes open.
pub fn spawn_client(addr: SocketAddr, args: &[&str]) -> Guarded {
    Guarded::new(
        client_command(addr, args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start chatecho-client"),
    )
}

/// Runs `chatecho-client` against `addr` with `input` on stdin, to its exit (bounded).
pub fn run_client(addr: SocketAddr, args: &[&str], input: &[u8]) -> Output {
    let mut client = spawn_client(addr, args);
    feed(&mut client, input);
    client.finish(PROCESS_TIMEOUT)
}

/// Writes `input` to the process's stdin on a thread (so that a full pipe cannot block the
/// test while the process waits for us to read its output) and closes it.
pub fn feed(process: &mut Guarded, input: &[u8]) {
    let mut stdin = process.child().stdin.take().expect("stdin is piped");
    let input = input.to_vec();
    thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
}

/// A plain test peer: a blocking loopback connection with timeouts.
#[derive(Debug)]
pub struct Peer {
    stream: TcpStream,
}

impl Peer {
    /// Connects to `addr`.
    pub fn connect(addr: SocketAddr) -> Self {
        let stream =
            TcpStream::connect(addr).unwrap_or_else(|e| panic!("cannot connect to {addr}: {e}"));
        Self::from_stream(stream)
    }

    /// Connects to `addr` from the local address `from` (port picked by the system), e.g.
    /// from `127.0.0.2` to a server on `127.0.0.1`, to be a second peer address on loopback.
    pub fn connect_from(addr: SocketAddr, from: std::net::IpAddr) -> Self {
        use socket2::{Domain, Socket, Type};
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)
            .expect("cannot make a socket");
        socket
            .bind(&SocketAddr::new(from, 0).into())
            .unwrap_or_else(|e| panic!("cannot bind to {from}: {e}"));
        socket
            .connect(&addr.into())
            .unwrap_or_else(|e| panic!("cannot connect from {from} to {addr}: {e}"));
        Self::from_stream(socket.into())
    }

    fn from_stream(stream: TcpStream) -> Self {
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_nodelay(true).unwrap();
        Self { stream }
    }

    /// The socket, for options the helpers do not cover.
    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// Sends all of `bytes`.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send failed");
    }

    /// Ends our sending side (the server sees end of input).
    pub fn shutdown_write(&mut self) {
        self.stream
            .shutdown(Shutdown::Write)
            .expect("shutdown failed");
    }

    /// Reads exactly `expected.len()` bytes and checks they are `expected`.
    pub fn expect(&mut self, expected: &[u8]) {
        let mut got = vec![0u8; expected.len()];
        if let Err(e) = self.stream.read_exact(&mut got) {
            panic!("expected {} but reading failed: {e}", show(expected));
        }
        assert_eq!(show(&got), show(expected));
    }

    /// Reads everything until the peer closes; a reset or timeout fails the test.
    pub fn read_to_close(&mut self) -> Vec<u8> {
        let mut got = Vec::new();
        if let Err(e) = self.stream.read_to_end(&mut got) {
            panic!("reading until close failed after {}: {e}", show(&got));
        }
        got
    }

    /// Checks that the server closes the connection without sending anything more.
    pub fn expect_closed(&mut self) {
        let rest = self.read_to_close();
        assert!(rest.is_empty(), "expected close, got {}", show(&rest));
    }

    /// Reads until close, accepting a reset as a close, and returns what arrived.
    pub fn read_until_gone(&mut self) -> Vec<u8> {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => return got,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return got,
                Err(e) => panic!("reading failed after {}: {e}", show(&got)),
            }
        }
    }
}

/// Sends `chunks` to `addr` one write at a time (pausing briefly between them, so that the
/// server likely sees separate reads), then reads everything until the server closes.
pub fn exchange(addr: SocketAddr, chunks: &[&[u8]]) -> Vec<u8> {
    let mut peer = Peer::connect(addr);
    let writer = peer.stream.try_clone().expect("clone socket");
    let chunks: Vec<Vec<u8>> = chunks.iter().map(|c| c.to_vec()).collect();
    // Writing on a thread lets replies flow back while we send, so large inputs cannot
    // deadlock on full socket buffers.
    let sender = thread::spawn(move || {
        let mut writer = writer;
        for (i, chunk) in chunks.iter().enumerate() {
            if i > 0 {
                thread::sleep(Duration::from_millis(2));
            }
            if writer.write_all(chunk).is_err() {
                // The server closed (after the quit line); the rest is not for it.
                return;
            }
        }
    });
    let got = peer.read_to_close();
    sender.join().expect("sender thread");
    got
}

/// Runs one of our binaries with `args` and no input, to its exit (bounded): for `--help`,
/// bad flags and other runs that never get as far as the network.
pub fn run_binary(name: &str, args: &[&str]) -> Output {
    let child = Command::new(binary(name))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
    Guarded::new(child).finish(PROCESS_TIMEOUT)
}

/// Resets `stream` instead of closing it: SO_LINGER 0 makes the kernel send RST on close.
pub fn reset(stream: TcpStream) {
    socket2::SockRef::from(&stream)
        .set_linger(Some(Duration::ZERO))
        .expect("set SO_LINGER");
    drop(stream);
}

/// Retries `attempt` every 50 ms until it returns `Some`; fails the test (panics) once
/// [`PROCESS_TIMEOUT`] has passed, so that a condition that never comes cannot hang it.
pub fn eventually<T>(what: &str, mut attempt: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + PROCESS_TIMEOUT;
    loop {
        if let Some(value) = attempt() {
            return value;
        }
        assert!(Instant::now() < deadline, "never happened: {what}");
        thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until a writer is stuck: `written` (bytes it has sent so far) stays the same over
/// half a second, which on loopback means the socket buffers are full both ways and the
/// server has stopped reading (backpressure). Fails after [`PROCESS_TIMEOUT`].
pub fn wait_until_stalled(what: &str, written: &AtomicU64) {
    let mut last = u64::MAX;
    eventually(what, || {
        thread::sleep(Duration::from_millis(500));
        let now = written.load(Ordering::Relaxed);
        let stalled = now == last;
        last = now;
        stalled.then_some(())
    });
}

/// The path of `name`, an external program a test needs (`haproxy`,
/// `systemd-socket-activate`, …), found on the PATH; `None` when it is not there, after
/// saying that the running test skipped and why ([`skip`]). CI installs such programs
/// (`.ci/run`); a plain clone without them still passes.
pub fn external_program(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    });
    if found.is_none() {
        skip(&format!("{name} is not on the PATH"));
    }
    found
}
