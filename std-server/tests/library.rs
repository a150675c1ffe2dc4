//! chatecho-server as a library, as a smol program uses it: servers on the caller's
//! executor (one or several, stopped by their own futures or handles), one connection served
//! over TCP, a Unix socket or any stream, and settings that are refused when built.
//!
//! Every wait is bounded ([`within`]), so a broken server fails a test instead of hanging it;
//! nothing asserts how long anything took.

use async_net::TcpStream;
use async_net::unix::UnixStream;
use chatecho_server::{
    AnyStream, Config, Counters, Echo, End, Error, GlobalExecutor, ProxyProtocol, Server, Spawn,
};
use futures_lite::future::{self, FutureExt as _};
use futures_lite::{AsyncReadExt as _, AsyncWriteExt as _};
use smol::{Executor, LocalExecutor, Timer};
use std::future::Future;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

/// The longest any step may take before the test fails: generous, for a slow shared machine.
const PATIENCE: Duration = Duration::from_secs(60);

/// `fut`, or a failure naming `what` once [`PATIENCE`] has passed.
async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    fut.or(async {
        Timer::after(PATIENCE).await;
        panic!("{what}: no result within {PATIENCE:?}");
    })
    .await
}

/// Sends `input` on a new connection to `addr`, ends the input, and returns every byte the
/// server sends until it closes.
async fn converse(addr: SocketAddr, input: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(input).await.expect("send");
    stream.close().await.expect("half-close");
    let mut received = Vec::new();
    stream.read_to_end(&mut received).await.expect("receive");
    received
}

/// Waits until `handle`'s counters satisfy `done`, and returns them.
async fn counters_when(
    handle: &chatecho_server::Handle,
    done: impl Fn(&Counters) -> bool,
) -> Counters {
    within("the counters", async {
        loop {
            let counters = handle.counters();
            if done(&counters) {
                return counters;
            }
            Timer::after(Duration::from_millis(10)).await;
        }
    })
    .await
}

#[test]
fn two_servers_on_one_executor_one_stopped_by_its_future_while_the_other_serves_on() {
    let crlf = Server::builder()
        .config(Config::default())
        .bind("127.0.0.1:0")
        .unwrap();
    let lf = Server::builder()
        .config(
            Config::default()
                .with_delimiter(b"\n")
                .unwrap()
                .with_max_line(8)
                .unwrap(),
        )
        .bind("127.0.0.1:0")
        .unwrap();
    let (crlf_addr, lf_addr) = (crlf.local_addrs()[0], lf.local_addrs()[0]);
    let (crlf_handle, lf_handle) = (crlf.handle(), lf.handle());
    // One executor, shared as the connections' spawner by both servers.
    let executor = Arc::new(Executor::new());
    let (stop_crlf, crlf_stopped) = async_channel::bounded::<()>(1);
    let crlf_run = executor.spawn(crlf.run(executor.clone(), async move {
        let _ = crlf_stopped.recv().await;
    }));
    let lf_run = executor.spawn(lf.run(executor.clone(), future::pending()));

    smol::block_on(executor.run(async {
        // Each answers in its own protocol.
        assert_eq!(
            converse(crlf_addr, b"one\r\ntwo\n\r\n").await,
            b"You sent: one\r\nYou sent: two\n\r\n"
        );
        assert_eq!(
            converse(lf_addr, b"one\ntoo long a line\n").await,
            b"You sent: one\nERROR line too long (limit 8 bytes)\n"
        );
        let crlf_counted = counters_when(&crlf_handle, |c| c.closed == 1).await;
        assert_eq!(
            (crlf_counted.accepted, crlf_counted.lines, crlf_counted.open),
            (1, 2, 0)
        );

        // The CRLF server is stopped by its own shutdown future; its run says how it went.
        stop_crlf.close();
        let ending = within("the stopped server's run", crlf_run).await;
        assert!(ending.is_complete());
        assert_eq!(ending.counters.accepted, 1);
        assert_eq!(ending.counters.lines, 2);
        assert!(crlf_handle.is_shutting_down());
        assert!(
            TcpStream::connect(crlf_addr).await.is_err(),
            "still listening"
        );

        // The other serves on, and counts only its own connections.
        assert_eq!(converse(lf_addr, b"again\n").await, b"You sent: again\n");
        let lf_counted = counters_when(&lf_handle, |c| c.closed == 2).await;
        assert_eq!(
            (lf_counted.accepted, lf_counted.lines, lf_counted.bytes_in),
            (2, 3, 26)
        );
        assert!(!lf_handle.is_shutting_down());
        assert_eq!(crlf_handle.counters().accepted, 1);

        lf_handle.shutdown();
        let ending = within("the other server's run", lf_run).await;
        assert_eq!(ending.counters.closed, 2);
    }));
}

#[test]
fn a_unix_socket_pair_is_served_through_any_stream_and_as_a_registered_socket() {
    let echo = Echo::new(Config::default()).unwrap();
    for registered in [false, true] {
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        let serving = {
            let echo = echo.clone();
            smol::spawn(async move {
                if registered {
                    echo.serve(ours).await
                } else {
                    echo.serve(AnyStream::new(ours)).await
                }
            })
        };
        let conversation = smol::block_on(within("a conversation", async {
            // A delimiter split across writes, binary bytes, and a last line without one.
            for piece in [&b"hel"[..], b"lo\r", b"\n\x00\xff\r\nlast"] {
                theirs.write_all(piece).await.unwrap();
                Timer::after(Duration::from_millis(5)).await;
            }
            theirs.close().await.unwrap();
            let mut received = Vec::new();
            theirs.read_to_end(&mut received).await.unwrap();
            assert_eq!(
                received, b"You sent: hello\r\nYou sent: \x00\xff\r\nYou sent: last\r\n",
                "registered: {registered}"
            );
            serving.await
        }));
        assert_eq!(conversation.end, End::InputEnded);
        assert_eq!(conversation.lines_echoed, 3);
        assert_eq!(conversation.bytes_in, 15);
        assert_eq!(conversation.bytes_out, 47);
    }
    let counters = echo.counters();
    assert_eq!((counters.closed, counters.lines, counters.open), (2, 6, 0));
}

#[test]
fn serve_until_answers_the_complete_lines_then_says_why_it_closes() {
    let echo = Echo::new(Config::default()).unwrap();
    let (ours, mut theirs) = UnixStream::pair().unwrap();
    let (stop, stopped) = async_channel::bounded::<()>(1);
    let serving = {
        let echo = echo.clone();
        smol::spawn(async move {
            echo.serve_until(AnyStream::new(ours), async move {
                let _ = stopped.recv().await;
            })
            .await
        })
    };
    let conversation = smol::block_on(within("a stopped conversation", async {
        theirs.write_all(b"one\r\npart").await.unwrap();
        let mut answer = [0u8; 15];
        theirs.read_exact(&mut answer).await.unwrap();
        assert_eq!(&answer, b"You sent: one\r\n");
        stop.close();
        let mut rest = Vec::new();
        theirs.read_to_end(&mut rest).await.unwrap();
        assert_eq!(rest, b"ERROR server shutting down\r\n");
        serving.await
    }));
    assert_eq!(conversation.end, End::Shutdown);
    assert_eq!(conversation.bytes_out, 15 + 28);
}

#[test]
fn an_idle_connection_is_told_and_closed_after_the_idle_timeout() {
    let echo = Echo::builder()
        .idle_timeout(Some(Duration::from_secs(1)))
        .build()
        .unwrap();
    let (ours, mut theirs) = UnixStream::pair().unwrap();
    let serving = {
        let echo = echo.clone();
        smol::spawn(async move { echo.serve(ours).await })
    };
    let conversation = smol::block_on(within("an idle conversation", async {
        theirs.write_all(b"hi\r\n").await.unwrap();
        let mut received = Vec::new();
        theirs.read_to_end(&mut received).await.unwrap();
        assert_eq!(
            received,
            b"You sent: hi\r\nERROR idle timeout (limit 1 second)\r\n"
        );
        serving.await
    }));
    assert_eq!(conversation.end, End::IdleTimeout);
    assert_eq!(echo.counters().closed_idle, 1);
}

#[test]
fn a_local_executor_and_the_global_one_run_servers_too() {
    let server = Server::builder().bind("127.0.0.1:0").unwrap();
    let addr = server.local_addrs()[0];
    let handle = server.handle();
    let local = Rc::new(LocalExecutor::new());
    let ending = smol::block_on(local.run(async {
        let run = local.spawn(server.run(local.clone(), future::pending()));
        assert_eq!(converse(addr, b"local\r\n").await, b"You sent: local\r\n");
        handle.shutdown();
        within("the local server's run", run).await
    }));
    assert_eq!(ending.counters.lines, 1);

    let server = Server::builder().bind("127.0.0.1:0").unwrap();
    let addr = server.local_addrs()[0];
    let handle = server.handle();
    let run = smol::spawn(server.run(GlobalExecutor, future::pending()));
    smol::block_on(async {
        assert_eq!(converse(addr, b"global\r\n").await, b"You sent: global\r\n");
        handle.shutdown();
        let ending = within("the global server's run", run).await;
        assert_eq!(ending.counters.lines, 1);
    });
}

#[test]
fn connections_over_the_limits_are_refused_and_counted() {
    let server = Server::builder()
        .max_connections(1)
        .bind("127.0.0.1:0")
        .unwrap();
    let addr = server.local_addrs()[0];
    let handle = server.handle();
    let run = smol::spawn(server.run(GlobalExecutor, future::pending()));
    smol::block_on(within("refusals", async {
        let mut first = TcpStream::connect(addr).await.unwrap();
        first.write_all(b"hold\r\n").await.unwrap();
        let mut answer = [0u8; 16];
        first.read_exact(&mut answer).await.unwrap();
        let refused = converse(addr, b"").await;
        assert_eq!(refused, b"ERROR server full (limit 1 connection)\r\n");
        let counted = counters_when(&handle, |c| c.refused_full == 1).await;
        assert_eq!((counted.accepted, counted.open), (2, 1));
        drop(first);
        handle.shutdown();
        run.await
    }));
}

#[test]
fn connections_left_when_the_grace_period_ends_are_dropped_and_reported() {
    let server = Server::builder()
        .shutdown_grace(Duration::from_millis(500))
        .bind("127.0.0.1:0")
        .unwrap();
    let addr = server.local_addrs()[0];
    let handle = server.handle();
    let run = smol::spawn(server.run(GlobalExecutor, future::pending()));
    smol::block_on(within("a forced end", async {
        // A peer that sends far more than it reads: its replies fill every buffer, and the
        // server cannot finish it within the grace period.
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let lines = b"a line to answer\r\n".repeat(64 * 1024);
        let writer = {
            let mut stream = stream.clone();
            smol::spawn(async move { stream.write_all(&lines).await })
        };
        counters_when(&handle, |c| c.lines > 0).await;
        handle.shutdown();
        let ending = run.await;
        assert_eq!(ending.unfinished, 1);
        assert!(!ending.is_complete());
        // The connection is gone: the writer fails, and reading ends.
        let _ = writer.await;
        let mut sink = Vec::new();
        let _ = stream.read_to_end(&mut sink).await;
        assert_eq!(handle.counters().open, 0);
    }));
}

#[test]
fn a_server_shut_down_before_it_runs_ends_at_once() {
    let server = Server::builder().bind("127.0.0.1:0").unwrap();
    server.handle().shutdown();
    let ending = smol::block_on(within(
        "a run after shutdown",
        server.run(GlobalExecutor, future::pending()),
    ));
    assert!(ending.is_complete());
    assert_eq!(ending.counters, Counters::default());
}

#[test]
fn listeners_bound_elsewhere_are_served_as_they_are() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Server::builder().listen_on([listener]).unwrap();
    assert_eq!(server.local_addrs(), [addr]);
    let handle = server.handle();
    let run = smol::spawn(server.run(GlobalExecutor, future::pending()));
    smol::block_on(within("a given listener", async {
        assert_eq!(converse(addr, b"given\r\n").await, b"You sent: given\r\n");
        handle.shutdown();
        run.await
    }));
}

#[test]
fn settings_that_cannot_be_served_are_errors_when_built() {
    let zero = Server::builder().max_connections(0).bind("127.0.0.1:0");
    assert!(matches!(
        zero,
        Err(Error::ZeroLimit {
            setting: "max_connections"
        })
    ));
    let zero = Server::builder()
        .max_connections_per_address(Some(0))
        .bind("127.0.0.1:0");
    assert!(matches!(zero, Err(Error::ZeroLimit { .. })));
    let small = Server::builder().output_buffer(10).bind("127.0.0.1:0");
    assert!(matches!(
        small,
        Err(Error::BufferTooSmall {
            buffer: "output",
            given: 10,
            ..
        })
    ));
    let invalid = Config::default()
        .with_max_line(1)
        .unwrap()
        .with_quit_line(Some(b"quit"));
    if let Ok(config) = invalid {
        assert!(matches!(Echo::new(config), Err(Error::Config(_))));
    }
    assert!(matches!(
        Server::builder().listen_on([]),
        Err(Error::NoListener)
    ));
    let proxy = |proxy: ProxyProtocol| Server::builder().proxy_protocol(Some(proxy));
    let nobody = proxy(ProxyProtocol::trusting([])).bind("127.0.0.1:0");
    assert!(matches!(nobody, Err(Error::NoTrustedProxy)));
    let loopback = ProxyProtocol::trusting(["127.0.0.0/8".parse().unwrap()]);
    let never = proxy(loopback.clone().header_timeout(Duration::ZERO)).bind("127.0.0.1:0");
    assert!(matches!(never, Err(Error::ZeroProxyHeaderTimeout)));
    let tiny = proxy(loopback.header_limit(100)).bind("127.0.0.1:0");
    assert_eq!(
        tiny.unwrap_err().to_string(),
        "a PROXY header limit of 100 bytes is outside what the protocol allows: give 232 to \
         65551 bytes"
    );

    let taken = Server::builder().bind("127.0.0.1:0").unwrap();
    let error = Server::builder().bind(taken.local_addrs()[0]).unwrap_err();
    assert!(matches!(error, Error::Bind { .. }), "{error:?}");
    assert!(
        error.to_string().contains("cannot listen on 127.0.0.1:"),
        "{error}"
    );
    assert!(std::error::Error::source(&error).is_some());
}

#[test]
fn with_the_proxy_protocol_the_counters_show_who_was_refused_and_who_served() {
    let executor = Arc::new(Executor::new());
    // Loopback's 127.0.0.2 only: connections from 127.0.0.1 are not trusted.
    let trusted = ProxyProtocol::trusting(["127.0.0.2/32".parse().unwrap()]);
    let server = Server::builder()
        .proxy_protocol(Some(trusted))
        .bind("127.0.0.1:0")
        .unwrap();
    let addr = server.local_addrs()[0];
    let handle = server.handle();
    let running = executor.spawn(server.run(executor.clone(), future::pending()));
    let ending = smol::block_on(executor.run(async {
        // Closed at once, unread (so the close may be a reset), with not a word.
        let mut untrusted = TcpStream::connect(addr).await.expect("connect");
        let _ = untrusted.write_all(b"PROXY UNKNOWN\r\nhello\r\n").await;
        let mut got = Vec::new();
        let _ = within("the close", untrusted.read_to_end(&mut got)).await;
        assert!(got.is_empty(), "{got:?}");
        // From 127.0.0.2 (every 127/8 address is loopback's).
        let from =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        from.bind(&SocketAddr::from(([127, 0, 0, 2], 0)).into())
            .unwrap();
        from.connect(&addr.into()).unwrap();
        let mut stream = async_io::Async::new(std::net::TcpStream::from(from)).unwrap();
        stream
            .write_all(b"PROXY TCP4 192.0.2.7 127.0.0.1 5000 8007\r\nhello\r\n.\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        within("the answer", stream.read_to_string(&mut answer))
            .await
            .unwrap();
        assert_eq!(answer, "You sent: hello\r\n");
        handle.shutdown();
        within("the end of the run", running).await
    }));
    let counted = ending.counters;
    assert_eq!(
        (
            counted.accepted,
            counted.refused_proxy,
            counted.closed,
            counted.lines
        ),
        (2, 1, 1, 1)
    );
}

#[test]
fn the_types_a_program_shares_between_threads_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>(_: &T) {}
    send_sync::<Server>();
    send_sync::<chatecho_server::Handle>();
    send_sync::<Echo>();
    send_sync::<Error>();
    let server = Server::builder().bind("127.0.0.1:0").unwrap();
    let executor = Executor::new();
    let run = server.run(&executor, future::pending::<()>());
    send(&run);
    let echo = Echo::new(Config::default()).unwrap();
    let (ours, _theirs) = UnixStream::pair().unwrap();
    send(&echo.serve(ours));
    executor.spawn_task(async {});
}
