//! Shutting a server down from the program's own trigger, with its counters read before and
//! after.
//!
//! The trigger is a channel the program closes (it could be a button, a configuration reload,
//! an admin command). One client has been answered and left; another is in the middle of a
//! line when the trigger fires: it is answered for its complete lines and told why it is
//! closed. The counters are read from a `Handle` while the server runs, and from its
//! `Ending` afterwards.
//!
//! ```text
//! cargo run -p chatecho-server --example own_shutdown
//! ```

use async_net::TcpStream;
use chatecho_server::{Server, Spawn as _};
use futures_lite::{AsyncReadExt as _, AsyncWriteExt as _};
use smol::Executor;
use std::sync::Arc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = Server::builder().bind("127.0.0.1:0")?;
    let addr = server.local_addrs()[0];
    let handle = server.handle();
    let (trigger, triggered) = async_channel::bounded::<()>(1);

    let executor = Arc::new(Executor::new());
    let run = executor.spawn(server.run(executor.clone(), async move {
        // The program's own shutdown signal.
        let _ = triggered.recv().await;
    }));

    let (before, late_answer, ending) = smol::block_on(executor.run(async {
        let mut first = TcpStream::connect(addr).await?;
        first.write_all(b"first\r\n.\r\n").await?;
        first.read_to_end(&mut Vec::new()).await?;
        drop(first);

        let mut second = TcpStream::connect(addr).await?;
        second.write_all(b"complete\r\nhalf a li").await?;
        let mut echo = [0u8; 20];
        second.read_exact(&mut echo).await?;

        let before = handle.counters();
        trigger.close();
        let mut late_answer = String::new();
        second.read_to_string(&mut late_answer).await?;
        let ending = run.await;
        Ok::<_, std::io::Error>((before, late_answer, ending))
    }))?;
    println!("before the trigger: {before:?}");
    print!("the connection still open was told: {late_answer}");
    println!("after: {:?}", ending.counters);
    assert_eq!((before.accepted, before.lines), (2, 2));
    assert_eq!(late_answer, "ERROR server shutting down\r\n");
    assert_eq!((ending.counters.accepted, ending.counters.lines), (2, 2));
    assert!(ending.is_complete());
    // The executor is the caller's: it can go on running other work.
    executor.spawn_task(async {});
    Ok(())
}
