//! `chatecho-client` as a user meets it, over real loopback TCP: at a terminal (a
//! pseudo-terminal) and piped; against our server, against scripted peers that half-close,
//! close first or reset; and, when the seed's programs are found beside the repository,
//! against the seed's Python server, with the seed's Python client against our server.

use chatecho_tests::harness::{
    Guarded, IO_TIMEOUT, PROCESS_TIMEOUT, SeedServer, Server, client_command, feed, free_port,
    reference_dir, run_binary, run_client, show, spawn_client,
};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// A scripted peer: accepts one connection on a free loopback port and runs `script` on it.
fn scripted_server(
    script: impl FnOnce(TcpStream) + Send + 'static,
) -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        script(stream);
    });
    (addr, handle)
}

/// A scripted peer that expects the lines `one` and `two`, and answers nothing until it has
/// seen the end of input, then answers both.
fn answering_only_at_end_of_input() -> (SocketAddr, JoinHandle<()>) {
    scripted_server(|mut stream| {
        let mut received = Vec::new();
        stream.read_to_end(&mut received).unwrap();
        assert_eq!(show(&received), show(b"one\r\ntwo\r\n"));
        stream
            .write_all(b"You sent: one\r\nYou sent: two\r\n")
            .unwrap();
    })
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

// Piped lines, every reply printed: `chatecho_client_prints_every_reply` in the shared cases
// (tests/src/cases.rs), run against chatecho-server by e2e_protocol.rs and against the firmware.

#[test]
fn many_piped_lines_stream_through_in_order() {
    let server = Server::start(&[]);
    let lines = 200_000;
    let input: String = (0..lines).map(|i| format!("{i}\n")).collect();
    let out = run_client(server.addr(), &[], input.as_bytes());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let mut count = 0;
    for (i, line) in stdout.lines().enumerate() {
        assert_eq!(line, format!("You sent: {i}"));
        count += 1;
    }
    assert_eq!(count, lines);
}

#[test]
fn at_end_of_stdin_the_client_half_closes_and_prints_replies_still_coming() {
    // This peer answers nothing until it has seen end of input, then answers everything:
    // only a client that shuts down its sending side and keeps reading sees the replies.
    let (addr, peer) = answering_only_at_end_of_input();
    let out = run_client(addr, &[], b"one\ntwo\n");
    peer.join().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "You sent: one\nYou sent: two\n");
}

#[test]
fn when_the_server_closes_first_the_client_prints_the_rest_and_exits_0() {
    let server = Server::start(&[]);
    let mut client = spawn_client(server.addr(), &[]);
    // Stdin stays open: the client ends because the server closed after the quit line.
    let mut stdin = client.child().stdin.take().unwrap();
    stdin.write_all(b"a\n.\nb\n").unwrap();
    stdin.flush().unwrap();
    let mut stdout = client.child().stdout.take().unwrap();
    let status = client.wait_exit(PROCESS_TIMEOUT);
    assert!(status.success(), "exit status {status}");
    let mut printed = String::new();
    stdout.read_to_string(&mut printed).unwrap();
    assert_eq!(printed, "You sent: a\n");
    drop(stdin);
}

#[test]
fn an_unterminated_last_reply_is_printed_too() {
    let (addr, peer) = scripted_server(|mut stream| {
        stream.write_all(b"You sent: x\r\nno delimiter").unwrap();
    });
    let mut client = spawn_client(addr, &[]);
    let stdin = client.child().stdin.take();
    let out = client.finish(PROCESS_TIMEOUT);
    drop(stdin);
    peer.join().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "You sent: x\nno delimiter\n");
}

#[test]
fn replies_show_up_before_stdin_ends() {
    // Interactive use: a reply is printed (flushed) while the user is still typing.
    let server = Server::start(&[]);
    let mut client = spawn_client(server.addr(), &[]);
    let mut stdin = client.child().stdin.take().unwrap();
    let stdout = client.child().stdout.take().unwrap();
    let (tx, lines) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                return;
            }
        }
    });
    for word in ["ping", "pong"] {
        writeln!(stdin, "{word}").unwrap();
        stdin.flush().unwrap();
        let line = lines.recv_timeout(IO_TIMEOUT).expect("reply printed");
        assert_eq!(line, format!("You sent: {word}"));
    }
    drop(stdin);
    assert!(client.wait_exit(PROCESS_TIMEOUT).success());
}

#[test]
fn a_configured_delimiter_is_used_both_ways() {
    let server = Server::start(&["--delimiter", r"\x00"]);
    let out = run_client(server.addr(), &["--delimiter", r"\0"], b"a\nb\r\n.\n");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "You sent: a\nYou sent: b\n");
}

#[test]
fn connection_refused_is_one_line_naming_the_address() {
    // Nothing listens on a port that was just free.
    let port = free_port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let out = run_client(addr, &[], b"hello\n");
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains(&format!("127.0.0.1:{port}")), "{stderr}");
    assert!(stderr.to_lowercase().contains("refused"), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn a_reset_by_the_server_is_reported_with_the_address() {
    let (addr, peer) = scripted_server(|mut stream| {
        let mut line = [0u8; 7];
        stream.read_exact(&mut line).unwrap();
        assert_eq!(&line, b"hello\r\n");
        stream.write_all(b"You sent: hello\r\n").unwrap();
        chatecho_tests::harness::reset(stream);
    });
    let mut client = spawn_client(addr, &[]);
    // Stdin stays open, so only the reset can end the client.
    let mut stdin = client.child().stdin.take().unwrap();
    stdin.write_all(b"hello\n").unwrap();
    stdin.flush().unwrap();
    let out = client.finish(PROCESS_TIMEOUT);
    drop(stdin);
    peer.join().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains(&addr.to_string()), "{stderr}");
    assert!(stderr.to_lowercase().contains("reset"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn bad_flags_exit_2_with_clap_s_report_and_help_describes_the_flags() {
    for (args, says) in [
        (&["--bogus"][..], "unexpected argument '--bogus'"),
        (&["--port", "-1"], "-1"),
        (&["--delimiter", ""], "the delimiter must not be empty"),
        (&["--delimiter", r"\"], "lone backslash"),
    ] {
        let out = run_binary("chatecho-client", args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
        assert!(
            stderr.lines().next().unwrap().contains(says),
            "{args:?}: {stderr}"
        );
        assert!(
            stderr
                .trim_end()
                .ends_with("For more information, try '--help'."),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    // A near miss is pointed at the flag meant.
    let out = run_binary("chatecho-client", &["--delimeter", "|"]);
    assert!(
        text(&out.stderr).contains("a similar argument exists: '--delimiter'"),
        "{}",
        text(&out.stderr)
    );
    let help = run_binary("chatecho-client", &["--help"]);
    assert!(help.status.success());
    let help = text(&help.stdout);
    for flag in ["--host", "--port", "--delimiter", "--help", "--version"] {
        assert!(help.contains(flag), "--help lacks {flag}:\n{help}");
    }
    assert!(help.contains("3 if the server was full"), "{help}");
}

#[test]
fn refused_as_full_the_client_shows_the_server_s_line_and_exits_3() {
    let server = Server::start(&["--max-connections", "1"]);
    let mut first = server.connect();
    first.send(b"in\r\n");
    first.expect(b"You sent: in\r\n");
    let out = run_client(server.addr(), &[], b"hello\n");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        format!(
            "error: {} refused the connection: ERROR server full (limit 1 connection)",
            server.addr()
        )
    );
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
}

/// A pseudo-terminal: the client's stdin, stdout and stderr are its terminal side, and the
/// test types and reads on the other, as a user at a terminal would.
struct Terminal {
    /// The user's side: what is written is typed.
    keyboard: File,
    /// Everything the terminal has shown so far (echoed typing and the program's output,
    /// with the terminal's `\n` to `\r\n` translation).
    screen: Arc<Mutex<Vec<u8>>>,
}

impl Terminal {
    /// Starts `command` at a new terminal.
    fn run(mut command: Command) -> (Self, Guarded) {
        use rustix::fs::{Mode, OFlags};
        use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
        let user = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)
            .expect("cannot open a pseudo-terminal");
        grantpt(&user).expect("grantpt");
        unlockpt(&user).expect("unlockpt");
        let name = ptsname(&user, Vec::new()).expect("ptsname");
        let program: OwnedFd = rustix::fs::open(
            name.as_c_str(),
            OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .expect("cannot open the terminal's program side");
        let stdio = || Stdio::from(program.try_clone().expect("dup"));
        let child = command
            .stdin(stdio())
            .stdout(stdio())
            .stderr(stdio())
            .spawn()
            .expect("cannot start the program");
        // Only the program holds its side now, so the screen ends when it exits.
        drop(program);
        let user = File::from(user);
        let mut display = user.try_clone().expect("dup");
        let screen = Arc::new(Mutex::new(Vec::new()));
        let shown = screen.clone();
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // Fails (EIO) once the program's side is closed.
            while let Ok(n @ 1..) = display.read(&mut buf) {
                shown.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        let terminal = Self {
            keyboard: user,
            screen,
        };
        (terminal, Guarded::new(child))
    }

    fn type_keys(&mut self, keys: &[u8]) {
        self.keyboard.write_all(keys).expect("typing failed");
    }

    fn screen(&self) -> String {
        text(&self.screen.lock().unwrap())
    }

    /// Waits until the screen shows `needle` (bounded).
    fn wait_for(&self, needle: &str) {
        let deadline = Instant::now() + PROCESS_TIMEOUT;
        while !self.screen().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "the terminal never showed {needle:?}; it shows:\n{}",
                self.screen()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Regression: stdin went through `smol::Unblock`, which reads on until a read returns
/// nothing, then hands over what it has; a terminal reports Ctrl-D as one empty read, once,
/// so the first Ctrl-D after a line was lost and only a second one ended the input.
#[test]
fn at_a_terminal_one_ctrl_d_ends_the_input_and_the_replies_still_due_are_shown() {
    // A peer that answers nothing until it sees end of input: only a client that
    // half-closes on the first Ctrl-D gets the replies, and only then exits.
    let (addr, peer) = answering_only_at_end_of_input();
    let (mut terminal, mut client) = Terminal::run(client_command(addr, &[]));
    // Once connected, one line says where, and how to finish.
    terminal.wait_for(&format!(
        "connected to {addr} ({addr}); type lines, Ctrl-D to finish"
    ));
    terminal.type_keys(b"one\n");
    terminal.wait_for("one\r\n");
    terminal.type_keys(b"two\n");
    terminal.wait_for("two\r\n");
    // Ctrl-D, once, at the start of a line: end of input.
    terminal.type_keys(&[0x04]);
    let status = client.wait_exit(PROCESS_TIMEOUT);
    peer.join().unwrap();
    assert!(
        status.success(),
        "exit status {status}:\n{}",
        terminal.screen()
    );
    terminal.wait_for("You sent: one\r\nYou sent: two\r\n");
}

#[test]
fn piped_the_client_says_nothing_on_stderr() {
    // The line that says where it is connected is for people at a terminal only.
    let server = Server::start(&[]);
    let out = run_client(server.addr(), &[], b"x\n");
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), "You sent: x\n");
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
}

#[test]
fn our_client_against_the_seed_server_prints_what_it_prints_against_ours() {
    let input = b"x\ny\r\n\n..\n.\n";
    let expected = "You sent: x\nYou sent: y\nYou sent: \nYou sent: ..\n";
    let ours = Server::start(&[]);
    let against_ours = run_client(ours.addr(), &[], input);
    assert!(against_ours.status.success(), "{against_ours:?}");
    assert_eq!(text(&against_ours.stdout), expected);
    let Some(reference) = reference_dir() else {
        return;
    };
    let seed = SeedServer::start(&reference);
    let against_seed = run_client(seed.addr, &[], input);
    assert!(against_seed.status.success(), "{against_seed:?}");
    assert_eq!(text(&against_seed.stdout), expected);
}

#[test]
fn the_seed_client_works_against_our_server() {
    let Some(reference) = reference_dir() else {
        return;
    };
    let server = Server::start(&[]);
    let addr = server.addr();
    let mut seed_client = Guarded::new(
        Command::new("python3")
            .arg(reference.join("seed_client.py"))
            .arg(addr.ip().to_string())
            .arg(addr.port().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start python3 (needed to run the seed's reference client)"),
    );
    // The seed client sends a line, waits for its reply, sends the next; `.` ends it.
    feed(&mut seed_client, b"hello\nsecond line\n.\n");
    let out = seed_client.finish(PROCESS_TIMEOUT);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "You sent: hello\nYou sent: second line\n"
    );
}

/// Runs `conversation` with a library `Client` connected to `addr`, bounded in time.
fn with_library_client<T>(
    addr: SocketAddr,
    conversation: impl AsyncFnOnce(&mut chatecho_client::Client) -> Result<T, chatecho_client::Error>,
) -> Result<T, chatecho_client::Error> {
    use futures_lite::FutureExt as _;
    smol::block_on(
        async {
            let mut client = chatecho_client::Client::connect(addr).await?;
            conversation(&mut client).await
        }
        .or(async {
            smol::Timer::after(IO_TIMEOUT).await;
            panic!("the library client's conversation took over {IO_TIMEOUT:?}");
        }),
    )
}

#[test]
fn the_client_library_converses_with_the_server_binary_and_the_seed() {
    let talk = async |client: &mut chatecho_client::Client| {
        client.send_line(b"first").await?;
        let first = client.next_line().await?.map(<[u8]>::to_vec);
        client.send_line(b"\xff binary \x00").await?;
        client.send_line(b".").await?;
        let rest = client.remaining_lines().await?;
        Ok((first, rest))
    };
    let expected = (
        Some(b"You sent: first".to_vec()),
        vec![b"You sent: \xff binary \x00".to_vec()],
    );
    let ours = Server::start(&[]);
    assert_eq!(with_library_client(ours.addr(), talk).unwrap(), expected);
    let Some(reference) = reference_dir() else {
        return;
    };
    let seed = SeedServer::start(&reference);
    assert_eq!(with_library_client(seed.addr, talk).unwrap(), expected);
}

#[test]
fn the_client_library_reports_the_binary_s_refusal_as_its_own_error() {
    let server = Server::start(&["--max-connections", "1"]);
    let mut first = server.connect();
    first.send(b"hold\r\n");
    first.expect(b"You sent: hold\r\n");
    let refused = with_library_client(server.addr(), async |client| {
        client
            .next_line()
            .await
            .map(|line| line.map(<[u8]>::to_vec))
    });
    match refused {
        Err(chatecho_client::Error::Refused { notice }) => {
            assert_eq!(
                show(&notice),
                show(b"ERROR server full (limit 1 connection)")
            );
        }
        other => panic!("expected the refusal, got {other:?}"),
    }
}
