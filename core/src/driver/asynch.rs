//! The async driver, over `embedded_io_async::{Read, Write}`: the same loop as
//! [`blocking::serve`](super::blocking::serve), awaiting instead of blocking. It runs on any
//! executor (smol, embassy, tokio) and any stream with those traits (an `async_net::TcpStream`
//! through `embedded-io-adapters`, an embassy-net `TcpSocket`).

use super::{ServeError, ServeResult};
use crate::session::{Session, State};
use crate::storage::Storage;
use core::future::{Future, poll_fn};
use core::pin::pin;
use core::task::Poll;
use embedded_io_async::{Read, Write};

/// Runs `session` over `io` until it closes; see [`serve_until`] to stop it early.
pub async fn serve<T, S>(io: &mut T, session: &mut Session<'_, S>) -> ServeResult<T::Error>
where
    T: Read + Write + ?Sized,
    S: Storage,
{
    serve_until(io, session, core::future::pending::<()>()).await
}

/// Runs `session` over `io` until it closes, or until `stop` completes while waiting for
/// input. Then [`Session::shutdown`] is called: complete lines already received are answered,
/// their replies written, and the driver returns [`EndReason::Shutdown`](crate::EndReason).
/// A write in progress is not interrupted by `stop`; bound that with a timeout around the
/// whole call if the peer may never read.
pub async fn serve_until<T, S, F>(
    io: &mut T,
    session: &mut Session<'_, S>,
    stop: F,
) -> ServeResult<T::Error>
where
    T: Read + Write + ?Sized,
    S: Storage,
    F: Future<Output = ()>,
{
    let mut stop = pin!(stop);
    let mut stopped = false;
    loop {
        if !session.output().is_empty() {
            let n = io
                .write(session.output())
                .await
                .map_err(ServeError::Write)?;
            if n == 0 {
                return Err(ServeError::WriteZero);
            }
            session.consume_output(n);
            continue;
        }
        if let State::Closed(reason) = session.state() {
            io.flush().await.map_err(ServeError::Write)?;
            return Ok(reason);
        }
        let read = if stopped {
            None
        } else {
            // Open with nothing to send, so nothing holds input back but missing storage.
            let space = session.input_space();
            if space.is_empty() {
                return Err(ServeError::NoStorage);
            }
            let mut read = pin!(io.read(space));
            poll_fn(|cx| {
                if stop.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(None);
                }
                read.as_mut().poll(cx).map(Some)
            })
            .await
        };
        match read {
            None => {
                stopped = true;
                session.shutdown();
            }
            Some(Ok(0)) => session.input_eof(),
            Some(Ok(n)) => session.commit_input(n),
            Some(Err(e)) => return Err(ServeError::Read(e)),
        }
    }
}
