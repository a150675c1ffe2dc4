//! peer-tokio-lines: the chat-echo protocol the way a competent tokio user writes it, to
//! measure chatecho against: tokio's multi-threaded runtime (or, with `--current-thread`,
//! its single-threaded one), one task per connection,
//! tokio-util's `Framed` with `LinesCodec::new_with_max_length`, replies fed into the
//! sink and flushed only when no further line is already buffered.
//!
//! Delimiter: `LinesCodec` splits on `\n` and strips one trailing `\r`, so it reads `\r\n`
//! lines like the protocol does but also accepts a bare `\n` as a delimiter, and it requires
//! lines to be UTF-8. For the benchmark's input (ASCII lines ending in `\r\n`) it answers
//! exactly as chatecho does; replies are written as `You sent: <line>\r\n` by the encoder
//! below, which is the protocol's reply. The codec counts the `\r` towards its limit, so the
//! limit given to it is one more than the protocol's 4096. An overlong line gets the
//! protocol's error reply, but then the connection ends: `Framed` stops after any decoder
//! error (the benchmark never sends overlong lines).
//!
//! `--host`/`--port` (0 picks a free port); prints `listening on <addr>` once bound.

use anyhow::Result;
use chatecho_bench::peer;
use clap::Parser;
use codec::ReplyCodec;
use futures::{FutureExt as _, SinkExt as _, StreamExt as _};
use tokio::net::TcpStream;
use tokio_util::codec::{Framed, LinesCodecError};

/// The protocol's default line limit.
const MAX_LINE: usize = 4096;

#[derive(Debug, Parser)]
#[command(
    name = "peer-tokio-lines",
    about = "The chat-echo protocol with tokio-util's LinesCodec"
)]
struct Args {
    #[command(flatten)]
    listen: peer::Listen,

    /// Run on tokio's current-thread runtime (one thread, no hand-offs between threads)
    /// instead of the multi-threaded one.
    #[arg(long)]
    current_thread: bool,
}

/// `LinesCodec` for decoding; replies encoded with the protocol's prefix and `\r\n`.
mod codec {
    use tokio_util::bytes::BytesMut;
    use tokio_util::codec::{Decoder, Encoder, LinesCodec, LinesCodecError};

    pub struct ReplyCodec(pub LinesCodec);

    /// What to send back.
    pub enum Reply {
        Echo(String),
        TooLong,
    }

    impl Decoder for ReplyCodec {
        type Item = String;
        type Error = LinesCodecError;

        fn decode(&mut self, src: &mut BytesMut) -> Result<Option<String>, LinesCodecError> {
            self.0.decode(src)
        }

        fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<String>, LinesCodecError> {
            self.0.decode_eof(src)
        }
    }

    impl Encoder<Reply> for ReplyCodec {
        type Error = LinesCodecError;

        fn encode(&mut self, reply: Reply, dst: &mut BytesMut) -> Result<(), LinesCodecError> {
            match reply {
                Reply::Echo(line) => {
                    dst.reserve(10 + line.len() + 2);
                    dst.extend_from_slice(b"You sent: ");
                    dst.extend_from_slice(line.as_bytes());
                    dst.extend_from_slice(b"\r\n");
                }
                Reply::TooLong => dst.extend_from_slice(
                    format!("ERROR line too long (limit {} bytes)\r\n", super::MAX_LINE).as_bytes(),
                ),
            }
            Ok(())
        }
    }
}

async fn serve(stream: TcpStream) -> Result<(), LinesCodecError> {
    use codec::Reply;
    let mut framed = Framed::new(
        stream,
        ReplyCodec(tokio_util::codec::LinesCodec::new_with_max_length(
            MAX_LINE + 1,
        )),
    );
    while let Some(line) = framed.next().await {
        let reply = match line {
            Ok(line) if line == "." => break,
            Ok(line) => Reply::Echo(line),
            // LinesCodec has already switched to discarding the rest of the line.
            Err(LinesCodecError::MaxLineLengthExceeded) => Reply::TooLong,
            Err(e) => return Err(e),
        };
        framed.feed(reply).await?;
        // Flush only when no further line is ready without waiting, so that a pipelining
        // client gets its replies in batches.
        if !has_line(framed.read_buffer()) {
            framed.flush().await?;
        }
    }
    framed.flush().await?;
    Ok(())
}

/// Whether `buf` already holds a complete line.
fn has_line(buf: &[u8]) -> bool {
    buf.contains(&b'\n')
}

fn main() -> Result<()> {
    let args = Args::parse();
    let runtime = if args.current_thread {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    }
    .enable_all()
    .build()?;
    runtime.block_on(peer::accept_forever(&args.listen, |stream| {
        serve(stream).map(drop)
    }))
}
