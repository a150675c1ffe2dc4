//! chatecho-client: sends the lines of stdin to a chat-echo server and prints its replies.
//!
//! The binary is `main` over the chatecho-client library: it connects a [`Client`], splits it,
//! and runs two flows at once on one thread, so that a piped million lines stream through
//! while an interactive session feels like the seed's client:
//! - stdin → socket: each chunk read (on a thread of its own) is converted ([`lines`]) and
//!   sent in one write; at end of input the sending side is shut down;
//! - socket → stdout: replies, framed by the library, are printed one per line, flushed
//!   whenever no more replies are immediately available.
//!
//! The program ends when the server closes the connection. The protocol is specified in the
//! repository's `docs/protocol.md`.
#![forbid(unsafe_code)]

mod lines;

use chatecho_client::{ClientBuilder, Delimiter, Error, LineSender, ReplyReader};
use clap::Parser;
use futures_lite::future::{self, FutureExt as _};
use smol::channel::Receiver;
use smol::net::TcpStream;
use std::fmt;
use std::io::{self, BufWriter, IsTerminal as _, Read as _, Write as _};
use std::pin::pin;
use std::process::ExitCode;

/// Bytes read from stdin at a time, and so the most sent in one write.
const STDIN_CHUNK: usize = 64 * 1024;

/// Chunks of stdin read ahead while the socket takes the ones before.
const STDIN_READ_AHEAD: usize = 2;

/// Exit status when the server refused the connection as full.
const EXIT_REFUSED: u8 = 3;

const AFTER_HELP: &str = "\
Each stdin line (ended by \\n or \\r\\n) is sent without its terminator, followed by the
delimiter; each reply line is printed followed by \\n (bytes that are not UTF-8 shown lossily).
At the end of stdin (Ctrl-D at a terminal) the client stops sending and prints the replies
still coming; it exits 0 when the server closes the connection (e.g. after the line `.`).
At a terminal, one line on stderr says where it is connected and how to finish.

If the server refuses the connection as full (its first line is `ERROR server full …`), that
line is printed on stderr and the exit status is 3.

Exit status: 0 when the server closed the connection, 1 if connecting or the connection
failed, 2 for bad flags, 3 if the server was full. The protocol: docs/protocol.md.";

/// chatecho-client: talk to a chat-echo server from stdin and stdout.
#[derive(Debug, Parser)]
#[command(name = "chatecho-client", version, after_help = AFTER_HELP)]
struct Args {
    /// Server host name or address (every address it resolves to is tried).
    #[arg(long, default_value = "localhost")]
    host: String,

    /// Server TCP port.
    #[arg(long, short, default_value_t = 8007)]
    port: u16,

    /// Line delimiter, 1 to 8 bytes, with escapes \r \n \t \0 \\ \xNN; must match the server's.
    #[arg(long, default_value = r"\r\n")]
    delimiter: Delimiter,
}

/// What went wrong, for the one line on stderr.
enum Failure {
    Connect(io::Error),
    Connection(io::Error),
    /// The server's line refusing the connection, delimiter removed.
    Refused(Vec<u8>),
    Stdin(io::Error),
    Stdout(io::Error),
}

/// The `host:port` the user asked for, as they would type it.
struct Target<'a>(&'a str, u16);

impl fmt::Display for Target<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.contains(':') {
            write!(f, "[{}]:{}", self.0, self.1)
        } else {
            write!(f, "{}:{}", self.0, self.1)
        }
    }
}

fn main() -> ExitCode {
    // Bad flags: clap's own report (with its suggestions and its pointer to --help) and exit
    // status 2; --help and --version print and exit 0.
    let args = Args::parse();
    let target = Target(&args.host, args.port);
    let result = smol::block_on(run(&args, &target));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Connect(e)) => report(&format!("cannot connect to {target}: {e}")),
        Err(Failure::Connection(e)) => report(&format!("connection to {target} failed: {e}")),
        Err(Failure::Refused(line)) => {
            let line = String::from_utf8_lossy(&line);
            report(&format!("{target} refused the connection: {line}"));
            ExitCode::from(EXIT_REFUSED)
        }
        Err(Failure::Stdin(e)) => report(&format!("cannot read stdin: {e}")),
        // Whoever reads our output has gone (`| head`): nothing is left to do or to tell.
        Err(Failure::Stdout(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(Failure::Stdout(e)) => report(&format!("cannot write to stdout: {e}")),
    }
}

/// Reports a failure in clap's style (`error: …` on stderr); exit status 1.
fn report(message: &str) -> ExitCode {
    let _ = clap::Error::raw(clap::error::ErrorKind::Io, format!("{message}\n")).print();
    ExitCode::FAILURE
}

async fn run(args: &Args, target: &Target<'_>) -> Result<(), Failure> {
    let client = ClientBuilder::default()
        .delimiter(args.delimiter.clone())
        .connect((args.host.as_str(), args.port))
        .await
        .map_err(|error| match error {
            Error::Connect(error) => Failure::Connect(error),
            error => Failure::Connect(io::Error::other(error)),
        })?;
    let interactive = io::stdin().is_terminal();
    if interactive {
        let at = client
            .stream()
            .peer_addr()
            .map_or(String::new(), |a| format!(" ({a})"));
        eprintln!("connected to {target}{at}; type lines, Ctrl-D to finish");
    }
    let (sender, replies) = client.split();
    let receiving = print_replies(replies);
    let sending = async {
        match send_lines(sender).await {
            // Stdin is done; the server's closing ends the program.
            Ok(()) => future::pending().await,
            Err(failure @ Failure::Stdin(_)) => Err(failure),
            // A failed send means the server closed or reset the connection; the receiving
            // side sees that too, prints what arrived before, and reports it.
            Err(_) => future::pending().await,
        }
    };
    receiving.or(sending).await
}

/// Reads stdin on a thread of its own, chunk by chunk, until its end; the channel closes
/// after the last chunk.
///
/// Each chunk is one `read`, and the first read that returns nothing ends it. A terminal
/// reports Ctrl-D as one such read, once, and reads after it wait for more typing, so a
/// reader that kept reading until it had filled a buffer (as `smol::Unblock` does) would miss
/// it.
fn read_stdin() -> Receiver<io::Result<Vec<u8>>> {
    let (chunks, receiver) = smol::channel::bounded(STDIN_READ_AHEAD);
    let reader = move || {
        let mut stdin = io::stdin().lock();
        let mut buffer = vec![0u8; STDIN_CHUNK];
        loop {
            let read = match stdin.read(&mut buffer) {
                Ok(0) => return,
                Ok(n) => Ok(buffer[..n].to_vec()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => Err(e),
            };
            let failed = read.is_err();
            // The receiver is gone once the program is ending.
            if chunks.send_blocking(read).is_err() || failed {
                return;
            }
        }
    };
    if let Err(error) = std::thread::Builder::new()
        .name("stdin".into())
        .spawn(reader)
    {
        let (failed, receiver) = smol::channel::bounded(1);
        let _ = failed.try_send(Err(error));
        return receiver;
    }
    receiver
}

/// Copies stdin to the socket as protocol lines, then shuts down the sending side.
async fn send_lines(mut sender: LineSender<TcpStream>) -> Result<(), Failure> {
    let stdin = read_stdin();
    let delimiter = sender.delimiter().clone();
    let mut encoder = lines::LineEncoder::new(delimiter.as_bytes());
    let mut batch = Vec::with_capacity(2 * STDIN_CHUNK);
    while let Ok(chunk) = stdin.recv().await {
        let chunk = chunk.map_err(Failure::Stdin)?;
        encoder.encode(&chunk, &mut batch);
        sender.send_raw(&batch).await.map_err(connection)?;
        batch.clear();
    }
    encoder.finish(&mut batch);
    sender.send_raw(&batch).await.map_err(connection)?;
    sender.finish().await.map_err(connection)
}

/// A failure of the connection, as the one line on stderr reports it.
fn connection(error: Error) -> Failure {
    match error {
        Error::Io(error) => Failure::Connection(error),
        Error::Refused { notice } => Failure::Refused(notice),
        error => Failure::Connection(io::Error::other(error)),
    }
}

/// Prints every reply line until the server closes the connection.
async fn print_replies(mut replies: ReplyReader<TcpStream>) -> Result<(), Failure> {
    let mut stdout = BufWriter::with_capacity(64 * 1024, io::stdout().lock());
    loop {
        let next = {
            let mut next = pin!(replies.next_line());
            match future::poll_once(next.as_mut()).await {
                Some(result) => result,
                None => {
                    // Nothing more right now: show what we have before waiting.
                    stdout.flush().map_err(Failure::Stdout)?;
                    next.await
                }
            }
        };
        match next {
            Ok(Some(line)) => stdout
                .write_all(String::from_utf8_lossy(line).as_bytes())
                .and_then(|()| stdout.write_all(b"\n"))
                .map_err(Failure::Stdout)?,
            // The server closed the connection.
            Ok(None) => return stdout.flush().map_err(Failure::Stdout),
            Err(Error::ReplyTooLong { limit }) => {
                eprintln!("warning: skipped a reply longer than {limit} bytes");
            }
            Err(error) => {
                // Show what arrived before the failure, then report it.
                stdout.flush().map_err(Failure::Stdout)?;
                return Err(connection(error));
            }
        }
    }
}
