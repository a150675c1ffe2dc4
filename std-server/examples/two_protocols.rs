//! Two servers with different protocols in one process, on one executor.
//!
//! One speaks the default protocol (`\r\n`, lines up to 4096 bytes); the other ends lines with
//! `\n`, answers `echo: <line>` and takes lines of at most 16 bytes. A client talks to each,
//! and the program prints both conversations and each server's counters.
//!
//! ```text
//! cargo run -p chatecho-server --example two_protocols
//! ```

use async_net::TcpStream;
use chatecho_server::{Config, Server};
use futures_lite::{AsyncReadExt as _, AsyncWriteExt as _};
use smol::LocalExecutor;
use std::net::SocketAddr;
use std::rc::Rc;

/// Sends `input`, ends the input, and returns what the server says until it closes.
async fn talk(addr: SocketAddr, input: &[u8]) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(input).await?;
    stream.close().await?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await?;
    Ok(answer)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let crlf = Server::builder()
        .config(Config::default())
        .bind("127.0.0.1:0")?;
    let short_lf = Server::builder()
        .config(
            Config::default()
                .with_delimiter(b"\n")?
                .with_prefix(b"echo: ")?
                .with_max_line(16)?,
        )
        .bind("127.0.0.1:0")?;
    let (crlf_addr, lf_addr) = (crlf.local_addrs()[0], short_lf.local_addrs()[0]);
    let (crlf_handle, lf_handle) = (crlf.handle(), short_lf.handle());

    // One single-threaded executor runs both servers, their connections and the clients.
    let executor = Rc::new(LocalExecutor::new());
    let crlf_run = executor.spawn(crlf.run(executor.clone(), std::future::pending()));
    let lf_run = executor.spawn(short_lf.run(executor.clone(), std::future::pending()));
    let (a, b) = smol::block_on(executor.run(async {
        let a = talk(crlf_addr, b"one\r\ntwo\r\n").await?;
        let b = talk(lf_addr, b"one\nthis line is too long\n").await?;
        crlf_handle.shutdown();
        lf_handle.shutdown();
        let (crlf_ending, lf_ending) = (crlf_run.await, lf_run.await);
        println!("{crlf_addr} (\\r\\n) counted: {:?}", crlf_ending.counters);
        println!(
            "{lf_addr} (\\n, 16 bytes) counted: {:?}",
            lf_ending.counters
        );
        Ok::<_, std::io::Error>((a, b))
    }))?;
    print!("{crlf_addr} answered:\n{a}");
    print!("{lf_addr} answered:\n{b}");
    assert_eq!(a, "You sent: one\r\nYou sent: two\r\n");
    assert_eq!(b, "echo: one\nERROR line too long (limit 16 bytes)\n");
    Ok(())
}
