//! Tests of the one change chatecho carries on top of polling 3.11.0 (smol-rs/polling#250,
//! see ../../README.md): a wait without a timeout no longer arms the epoll backend's timerfd.
//! Waits with and without timeouts, in any order, must still time out when asked, and a wait
//! without one must still end on a notification or an I/O event.

use std::io::{self, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use polling::{Event, Events, Poller};

#[test]
fn a_wait_without_a_timeout_ends_on_a_notification() -> io::Result<()> {
    let poller = Poller::new()?;
    let mut events = Events::new();
    thread::scope(|scope| {
        scope.spawn(|| {
            thread::sleep(Duration::from_millis(50));
            poller.notify().expect("notify");
        });
        poller.wait(&mut events, None)
    })?;
    Ok(())
}

#[test]
fn a_timeout_after_waits_without_one_is_still_honoured() -> io::Result<()> {
    let poller = Poller::new()?;
    let mut events = Events::new();
    for _ in 0..3 {
        poller.notify()?;
        poller.wait(&mut events, None)?;
    }
    let start = Instant::now();
    poller.wait(&mut events, Some(Duration::from_millis(100)))?;
    assert!(start.elapsed() >= Duration::from_millis(100));
    Ok(())
}

#[test]
fn an_event_ends_a_wait_without_a_timeout_after_one_with_a_timeout() -> io::Result<()> {
    let poller = Poller::new()?;
    let mut events = Events::new();
    // A wait that times out leaves the timerfd disarmed; then one without a timeout.
    poller.wait(&mut events, Some(Duration::from_millis(10)))?;

    let listener = TcpListener::bind("127.0.0.1:0")?;
    let mut client = TcpStream::connect(listener.local_addr()?)?;
    let (server, _) = listener.accept()?;
    server.set_nonblocking(true)?;
    // SAFETY: `server` outlives its registration; it is deleted before it is dropped.
    unsafe { poller.add(&server, Event::readable(7))? };
    client.write_all(b"x")?;
    events.clear();
    poller.wait(&mut events, None)?;
    assert_eq!(events.iter().map(|e| e.key).collect::<Vec<_>>(), [7]);
    poller.delete(&server)?;
    Ok(())
}
