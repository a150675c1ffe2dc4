//! peer-raw-echo: the ceiling for a line-echo server. Every byte a connection sends is copied
//! straight back with `tokio::io::copy` between the two halves of its socket: no framing, no
//! reply building, just the runtime and the kernel.
//!
//! `--host`/`--port` (0 picks a free port); prints `listening on <addr>` once bound, as
//! chatecho-server does, so that the compare runner finds the port the same way.

use anyhow::Result;
use chatecho_bench::peer;
use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "peer-raw-echo",
    about = "Raw TCP echo with tokio::io::copy: the ceiling"
)]
struct Args {
    #[command(flatten)]
    listen: peer::Listen,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    peer::accept_forever(&args.listen, |mut stream| async move {
        let (mut reader, mut writer) = stream.split();
        let _ = tokio::io::copy(&mut reader, &mut writer).await;
    })
    .await
}
