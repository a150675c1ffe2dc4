//! An echo endpoint inside a program that does other work on the same executor.
//!
//! The program runs a job of its own (here, a counter that ticks every few milliseconds) and
//! a chat-echo server, both on one `smol::Executor` driven by two threads. A client task talks
//! to the server while the job runs; then the program stops both and prints what each did.
//!
//! ```text
//! cargo run -p chatecho-server --example in_your_program
//! ```

use async_net::TcpStream;
use chatecho_server::{Config, Server};
use futures_lite::{AsyncReadExt as _, AsyncWriteExt as _};
use smol::{Executor, Timer};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let executor = Arc::new(Executor::new());
    // A second thread for the executor; the main thread is the first.
    let (quit, quitting) = async_channel::bounded::<()>(1);
    std::thread::spawn({
        let executor = executor.clone();
        move || smol::block_on(executor.run(quitting.recv()))
    });

    // The program's own work.
    let ticks = Arc::new(AtomicU64::new(0));
    let job = executor.spawn({
        let ticks = ticks.clone();
        async move {
            loop {
                Timer::after(Duration::from_millis(5)).await;
                ticks.fetch_add(1, Ordering::Relaxed);
            }
        }
    });

    // The echo endpoint, on a free port of the loopback address.
    let server = Server::builder()
        .config(Config::default())
        .bind("127.0.0.1:0")?;
    let addr = server.local_addrs()[0];
    let handle = server.handle();
    let serving = executor.spawn(server.run(executor.clone(), std::future::pending()));
    println!("echo endpoint on {addr}");

    // A client task, one line at a time, while the job goes on.
    let answer = smol::block_on(executor.run(async {
        let mut stream = TcpStream::connect(addr).await?;
        let mut answer = String::new();
        for line in ["hello", "from", "the program"] {
            stream.write_all(format!("{line}\r\n").as_bytes()).await?;
            let mut reply = vec![0u8; "You sent: \r\n".len() + line.len()];
            stream.read_exact(&mut reply).await?;
            answer.push_str(&String::from_utf8_lossy(&reply));
            Timer::after(Duration::from_millis(20)).await;
        }
        stream.write_all(b".\r\n").await?;
        Ok::<_, std::io::Error>(answer)
    }))?;
    print!("the server answered:\n{answer}");

    handle.shutdown();
    let ending = smol::block_on(executor.run(serving));
    smol::block_on(job.cancel());
    quit.close();
    println!(
        "meanwhile the job ticked {} times; the server answered {} line(s) on {} connection(s)",
        ticks.load(Ordering::Relaxed),
        ending.counters.lines,
        ending.counters.accepted
    );
    assert_eq!(
        answer,
        "You sent: hello\r\nYou sent: from\r\nYou sent: the program\r\n"
    );
    assert_eq!(ending.counters.lines, 3);
    Ok(())
}
