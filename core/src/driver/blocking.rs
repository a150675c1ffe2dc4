//! The blocking driver, over [`embedded_io::Read`] + [`embedded_io::Write`].

use super::{ServeError, ServeResult};
use crate::session::{Session, State};
use crate::storage::Storage;
use embedded_io::{Read, Write};

/// Runs `session` over `io` until it closes: reads, answers, writes every reply, and flushes
/// before returning why input ended.
///
/// A read of 0 bytes is end of input. The stack use is this function's frame plus what `io`
/// needs; no buffer is copied onto the stack.
///
/// ```
/// use chatecho_core::{driver::blocking::serve, Config, DefaultSession, EndReason};
/// # struct Pipe<'a> { input: &'a [u8], output: std::vec::Vec<u8> }
/// # impl embedded_io::ErrorType for Pipe<'_> { type Error = core::convert::Infallible; }
/// # impl embedded_io::Read for Pipe<'_> {
/// #     fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
/// #         let n = buf.len().min(self.input.len());
/// #         buf[..n].copy_from_slice(&self.input[..n]); self.input = &self.input[n..]; Ok(n)
/// #     }
/// # }
/// # impl embedded_io::Write for Pipe<'_> {
/// #     fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> { self.output.extend_from_slice(buf); Ok(buf.len()) }
/// #     fn flush(&mut self) -> Result<(), Self::Error> { Ok(()) }
/// # }
/// let mut io = Pipe { input: b"hi\r\n.\r\n", output: Vec::new() };
/// let config = Config::default();
/// let mut session = DefaultSession::with_default_buffers(&config)?;
/// assert_eq!(serve(&mut io, &mut session), Ok(EndReason::QuitLine));
/// assert_eq!(io.output, b"You sent: hi\r\n");
/// # Ok::<(), chatecho_core::ConfigError>(())
/// ```
pub fn serve<T, S>(io: &mut T, session: &mut Session<'_, S>) -> ServeResult<T::Error>
where
    T: Read + Write + ?Sized,
    S: Storage,
{
    loop {
        if !session.output().is_empty() {
            let n = io.write(session.output()).map_err(ServeError::Write)?;
            if n == 0 {
                return Err(ServeError::WriteZero);
            }
            session.consume_output(n);
            continue;
        }
        if let State::Closed(reason) = session.state() {
            io.flush().map_err(ServeError::Write)?;
            return Ok(reason);
        }
        // Open with nothing to send, so nothing holds input back but missing storage.
        let space = session.input_space();
        if space.is_empty() {
            return Err(ServeError::NoStorage);
        }
        let n = io.read(space).map_err(ServeError::Read)?;
        if n == 0 {
            session.input_eof();
        } else {
            session.commit_input(n);
        }
    }
}
