//! chatecho-client as a library: conversations with chatecho-server's `Echo` over Unix socket
//! pairs, and with scripted peers that refuse, send over-long or unterminated replies, or are
//! not there at all.
//!
//! Every wait is bounded ([`within`]); nothing asserts how long anything took.

use async_net::unix::UnixStream;
use chatecho_client::{Client, ClientBuilder, Delimiter, Error};
use chatecho_server::{Config, Echo};
use futures_lite::AsyncWriteExt as _;
use futures_lite::future::FutureExt as _;
use smol::Timer;
use std::future::Future;
use std::time::Duration;

/// The longest any step may take before the test fails: generous, for a slow shared machine.
const PATIENCE: Duration = Duration::from_secs(60);

fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    smol::block_on(fut.or(async {
        Timer::after(PATIENCE).await;
        panic!("{what}: no result within {PATIENCE:?}");
    }))
}

/// A client talking to chatecho-server's `Echo` for `config` over a Unix socket pair.
fn client_of_echo(config: Config) -> Client<UnixStream> {
    let delimiter = config.delimiter().clone();
    let echo = Echo::new(config).unwrap();
    let (ours, theirs) = UnixStream::pair().unwrap();
    smol::spawn(async move { echo.serve(theirs).await }).detach();
    ClientBuilder::default()
        .delimiter(delimiter)
        .build(ours)
        .unwrap()
}

/// A client whose peer sends `script` and then closes, reading nothing.
fn client_of_script(script: &'static [u8], builder: ClientBuilder) -> Client<UnixStream> {
    let (ours, mut theirs) = UnixStream::pair().unwrap();
    smol::spawn(async move {
        let _ = theirs.write_all(script).await;
    })
    .detach();
    builder.build(ours).unwrap()
}

#[test]
fn a_conversation_sends_lines_reads_replies_and_ends_the_input() {
    let mut client = client_of_echo(Config::default());
    within("a conversation", async {
        client.send_line(b"hello").await?;
        assert_eq!(client.next_line().await?, Some(&b"You sent: hello"[..]));
        // A line in pieces, sent raw, is still one line.
        client.send_raw(b"wor").await?;
        client.send_raw(b"ld\r").await?;
        client.send_raw(b"\n").await?;
        client.send_line(b"\x00\xff").await?;
        client.finish().await?;
        assert_eq!(
            client.remaining_lines().await?,
            [b"You sent: world".to_vec(), b"You sent: \x00\xff".to_vec()]
        );
        // Closed: no more replies, however often asked.
        assert_eq!(client.next_line().await?, None);
        Ok::<(), Error>(())
    })
    .unwrap();
}

#[test]
fn the_two_halves_send_and_read_at_once() {
    let config = Config::default().with_delimiter(b"\n").unwrap();
    let (mut sender, mut replies) = client_of_echo(config).split();
    let lines = within("split halves", async {
        let sending = smol::spawn(async move {
            for i in 0..1000 {
                sender.send_line(format!("line {i}").as_bytes()).await?;
            }
            sender.finish().await
        });
        let lines = replies.remaining_lines().await?;
        sending.await?;
        Ok::<_, Error>(lines)
    })
    .unwrap();
    assert_eq!(lines.len(), 1000);
    assert_eq!(lines[999], b"You sent: line 999");
}

#[test]
fn a_line_that_holds_the_delimiter_is_refused_and_nothing_is_sent() {
    for (delimiter, line) in [
        (&b"\r\n"[..], &b"two\r\nlines"[..]),
        (b"\r\n", b"\r\n"),
        // Not inside the line, but beginning in it: "ab" + "abab" ends at its first two bytes.
        (b"abab", b"ab"),
    ] {
        let config = Config::default().with_delimiter(delimiter).unwrap();
        let mut client = client_of_echo(config);
        within("a refused line", async {
            let refused = client.send_line(line).await;
            assert!(
                matches!(refused, Err(Error::LineContainsDelimiter)),
                "{line:?}: {refused:?}"
            );
            client.send_line(b"fine").await?;
            client.finish().await?;
            // The server saw only the line that was sent.
            assert_eq!(
                client.remaining_lines().await?,
                [b"You sent: fine".to_vec()]
            );
            Ok::<(), Error>(())
        })
        .unwrap();
    }
}

#[test]
fn a_server_full_refusal_is_its_own_error() {
    let mut client = client_of_script(
        b"ERROR server full (limit 1 connection)\r\n",
        ClientBuilder::default(),
    );
    let refused = within("a refusal", client.next_line()).map(|line| line.map(<[u8]>::to_vec));
    match refused {
        Err(ref error @ Error::Refused { ref notice }) => {
            assert_eq!(notice, b"ERROR server full (limit 1 connection)");
            assert!(error.is_refused());
            assert!(
                error.to_string().contains("refused the connection"),
                "{error}"
            );
        }
        other => panic!("{other:?}"),
    }
    // The same line later in a conversation is an ordinary reply.
    let mut client = client_of_script(
        b"You sent: a\r\nERROR server full (limit 1 connection)\r\n",
        ClientBuilder::default(),
    );
    let lines = within("a late line", client.remaining_lines()).unwrap();
    assert_eq!(lines.len(), 2);
}

#[test]
fn a_reply_over_the_limit_is_skipped_and_the_next_one_read() {
    let mut client = client_of_script(
        b"0123456789\r\nshort\r\nlast",
        ClientBuilder::default().max_reply(8),
    );
    within("replies over the limit", async {
        match client.next_line().await {
            Err(Error::ReplyTooLong { limit: 8 }) => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(client.next_line().await?, Some(&b"short"[..]));
        // An unterminated last reply is a reply.
        assert_eq!(client.next_line().await?, Some(&b"last"[..]));
        assert_eq!(client.next_line().await?, None);
        Ok::<(), Error>(())
    })
    .unwrap();
}

#[test]
fn a_server_that_is_not_there_is_a_connect_error() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let error = within("a refused connect", Client::connect(("127.0.0.1", port))).unwrap_err();
    assert!(matches!(error, Error::Connect(_)), "{error:?}");
}

#[test]
fn settings_that_cannot_work_are_errors_and_never_panics() {
    let (ours, _theirs) = UnixStream::pair().unwrap();
    let zero = ClientBuilder::default().max_reply(0).build(ours.clone());
    assert!(matches!(zero, Err(Error::Config(_))), "{zero:?}");
    let huge = ClientBuilder::default()
        .max_reply(usize::MAX)
        .build(ours.clone());
    assert!(
        matches!(huge, Err(Error::MaxReplyTooLarge { .. })),
        "{huge:?}"
    );
    let custom = ClientBuilder::default()
        .delimiter(Delimiter::new(b"|").unwrap())
        .build(ours);
    assert!(custom.is_ok());
}

#[test]
fn a_reply_with_a_custom_delimiter_is_split_on_it() {
    let mut client = client_of_echo(Config::default().with_delimiter(b"|").unwrap());
    within("a custom delimiter", async {
        // CR LF is data under this delimiter.
        client.send_line(b"a\r\nb").await?;
        assert_eq!(client.next_line().await?, Some(&b"You sent: a\r\nb"[..]));
        client.finish().await?;
        assert_eq!(client.next_line().await?, None);
        Ok::<(), Error>(())
    })
    .unwrap();
}
