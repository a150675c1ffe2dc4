//! The accept loop of a peer server: bind, announce `listening on <addr>` on stdout as
//! chatecho-server does (the compare runner finds every server's port the same way), then
//! one tokio task per connection, with TCP_NODELAY as chatecho-server sets it.

use anyhow::{Context as _, Result};
use std::future::Future;
use std::io::Write as _;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};

/// Where a peer listens: the `--host`/`--port` flags every peer takes (flattened into its
/// own arguments).
#[derive(Debug, clap::Args)]
pub struct Listen {
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// TCP port; 0 picks a free one.
    #[arg(long, short, default_value_t = 0)]
    port: u16,
}

/// After a failed accept (out of descriptors and the like), wait this long and try again
/// rather than exit or spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Serves `listen` (port 0 picks a free one) forever, running `serve` on every accepted
/// connection in its own task.
pub async fn accept_forever<F, Fut>(listen: &Listen, serve: F) -> Result<()>
where
    F: Fn(TcpStream) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Listen { host, port } = listen;
    // As chatecho-server does: every connection is a descriptor, and the usual soft limit
    // (1024) is far below what the scale benchmark holds.
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let listener = TcpListener::bind((host.as_str(), *port))
        .await
        .with_context(|| format!("cannot listen on {host}:{port}"))?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on {}", listener.local_addr()?)?;
    stdout.flush()?;
    drop(stdout);
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => {
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve(stream));
    }
}
