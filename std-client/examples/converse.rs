//! The client library against a server of its own: a conversation, and a refusal.
//!
//! The program starts a chatecho-server that takes one connection at a time, holds a
//! conversation with it through `Client` (lines out, replies in, the end of input, what is
//! left), and shows that a second client, while the first is connected, gets the server's
//! refusal as `Error::Refused`.
//!
//! ```text
//! cargo run -p chatecho-client --example converse
//! ```

use chatecho_client::{Client, Error};
use chatecho_server::{GlobalExecutor, Server};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = Server::builder().max_connections(1).bind("127.0.0.1:0")?;
    let addr = server.local_addrs()[0];
    let handle = server.handle();
    let run = smol::spawn(server.run(GlobalExecutor, std::future::pending()));

    smol::block_on(async {
        let mut client = Client::connect(addr).await?;
        for line in [&b"hello"[..], b"world"] {
            client.send_line(line).await?;
            let reply = client.next_line().await?.unwrap_or_default();
            println!(
                "sent {:?}, got {:?}",
                String::from_utf8_lossy(line),
                String::from_utf8_lossy(reply)
            );
        }

        // The server takes one connection at a time: a second one is refused.
        let mut second = Client::connect(addr).await?;
        match second.next_line().await {
            Err(Error::Refused { notice }) => {
                println!(
                    "a second client was refused: {}",
                    String::from_utf8_lossy(&notice)
                );
            }
            other => panic!("expected a refusal, got {other:?}"),
        }

        client.send_line(b"last one").await?;
        client.finish().await?;
        let rest = client.remaining_lines().await?;
        println!("after the end of input: {} more reply", rest.len());
        assert_eq!(rest, [b"You sent: last one".to_vec()]);
        Ok::<(), Error>(())
    })?;

    handle.shutdown();
    let ending = smol::block_on(run);
    println!("the server counted: {:?}", ending.counters);
    assert_eq!(ending.counters.refused_full, 1);
    Ok(())
}
