//! One connection served over something that is not TCP: a Unix socket pair.
//!
//! `Echo::serve` takes async-net's Unix streams as they are; any other `AsyncRead +
//! AsyncWrite` stream (a TLS stream, a pipe) goes in an `AnyStream`. Here one end of the pair
//! is served and the program talks on the other, then prints the conversation and how it
//! ended.
//!
//! ```text
//! cargo run -p chatecho-server --example unix_pair
//! ```

use async_net::unix::UnixStream;
use chatecho_server::{Config, Echo, End};
use futures_lite::{AsyncReadExt as _, AsyncWriteExt as _};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let echo = Echo::new(Config::default())?;
    let (served, mut ours) = UnixStream::pair()?;
    let serving = smol::spawn({
        let echo = echo.clone();
        async move { echo.serve(served).await }
    });

    let (answer, conversation) = smol::block_on(async {
        ours.write_all(b"over a unix socket\r\nno delimiter at the end")
            .await?;
        // End of input: the unterminated last line is answered too.
        ours.close().await?;
        let mut answer = String::new();
        ours.read_to_string(&mut answer).await?;
        Ok::<_, std::io::Error>((answer, serving.await))
    })?;
    print!("{answer}");
    println!(
        "ended by {}: {} lines answered, {} bytes in, {} bytes out",
        conversation.end, conversation.lines_echoed, conversation.bytes_in, conversation.bytes_out
    );
    assert_eq!(
        answer,
        "You sent: over a unix socket\r\nYou sent: no delimiter at the end\r\n"
    );
    assert_eq!(conversation.end, End::InputEnded);
    assert_eq!(echo.counters().lines, 2);
    Ok(())
}
