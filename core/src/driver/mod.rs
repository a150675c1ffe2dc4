//! Drivers: run one [`Session`](crate::Session) over a byte stream until it closes.
//!
//! A driver is the only place where the core touches I/O traits, and it holds no protocol
//! logic: it reads into [`Session::input_space`](crate::Session::input_space), writes
//! [`Session::output`](crate::Session::output), and reports end of input. Replies are always
//! written out before the next read, so every read is followed by at most one batch of writes.
//!
//! - [`blocking::serve`] over [`embedded_io::Read`] + [`embedded_io::Write`];
//! - [`asynch::serve`] over `embedded_io_async::{Read, Write}` (feature `async`), which also
//!   offers [`asynch::serve_until`] for graceful shutdown.

pub mod blocking;

#[cfg(feature = "async")]
#[cfg_attr(docsrs, doc(cfg(feature = "async")))]
pub mod asynch;

use crate::session::EndReason;

/// Why a driver stopped before the session closed by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ServeError<E> {
    /// Reading from the peer failed.
    Read(E),
    /// Writing to the peer failed.
    Write(E),
    /// The peer accepted no bytes of a write: the replies owed cannot be delivered.
    WriteZero,
    /// The session holds no storage, so it cannot take input: give it some
    /// ([`Session::give_storage`](crate::Session::give_storage)) before serving it.
    NoStorage,
}

impl<E: core::fmt::Debug> core::fmt::Display for ServeError<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Read(e) => write!(f, "read failed: {e:?}"),
            Self::Write(e) => write!(f, "write failed: {e:?}"),
            Self::WriteZero => f.write_str("write accepted no bytes"),
            Self::NoStorage => f.write_str("the session holds no storage"),
        }
    }
}

impl<E: core::fmt::Debug> core::error::Error for ServeError<E> {}

/// How a driver run ended without an I/O error.
pub type ServeResult<E> = Result<EndReason, ServeError<E>>;

#[cfg(test)]
mod tests {
    //! The drivers over an in-memory stream that hands out input in small reads and takes
    //! output in small writes, so that every loop branch runs.
    use super::*;
    use crate::{Config, DefaultSession};
    use std::vec::Vec;

    /// An in-memory peer: reads give at most `read_chunk` bytes, writes take at most
    /// `write_chunk`, and either side can be made to fail.
    pub(super) struct Peer<'a> {
        pub input: &'a [u8],
        pub output: Vec<u8>,
        pub read_chunk: usize,
        pub write_chunk: usize,
        pub fail_reads: bool,
        pub refuse_writes: bool,
        pub flushed: bool,
    }

    impl<'a> Peer<'a> {
        pub fn new(input: &'a [u8]) -> Self {
            Self {
                input,
                output: Vec::new(),
                read_chunk: 3,
                write_chunk: 5,
                fail_reads: false,
                refuse_writes: false,
                flushed: false,
            }
        }
    }

    impl embedded_io::ErrorType for Peer<'_> {
        type Error = embedded_io::ErrorKind;
    }

    impl embedded_io::Read for Peer<'_> {
        fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
            if self.fail_reads {
                return Err(embedded_io::ErrorKind::ConnectionReset);
            }
            let n = buf.len().min(self.input.len()).min(self.read_chunk);
            buf[..n].copy_from_slice(&self.input[..n]);
            self.input = &self.input[n..];
            Ok(n)
        }
    }

    impl embedded_io::Write for Peer<'_> {
        fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
            if self.refuse_writes {
                return Ok(0);
            }
            let n = buf.len().min(self.write_chunk);
            self.output.extend_from_slice(&buf[..n]);
            Ok(n)
        }

        fn flush(&mut self) -> Result<(), Self::Error> {
            self.flushed = true;
            Ok(())
        }
    }

    const EXCHANGE: &[u8] = b"hello\r\nworld\r\n.\r\nafter\r\n";
    const ANSWER: &[u8] = b"You sent: hello\r\nYou sent: world\r\n";

    #[test]
    fn blocking_driver_runs_the_exchange_to_the_quit_line() {
        let mut peer = Peer::new(EXCHANGE);
        let config = Config::default();
        let mut session = DefaultSession::with_default_buffers(&config).unwrap();
        assert_eq!(
            blocking::serve(&mut peer, &mut session),
            Ok(EndReason::QuitLine)
        );
        assert_eq!(peer.output, ANSWER);
        assert!(peer.flushed);
    }

    #[test]
    fn blocking_driver_answers_the_last_line_at_end_of_input() {
        let mut peer = Peer::new(b"a\r\nb");
        let config = Config::default();
        let mut session = DefaultSession::with_default_buffers(&config).unwrap();
        assert_eq!(
            blocking::serve(&mut peer, &mut session),
            Ok(EndReason::InputEnded)
        );
        assert_eq!(peer.output, b"You sent: a\r\nYou sent: b\r\n");
    }

    #[test]
    fn blocking_driver_reports_io_failures() {
        let mut peer = Peer::new(EXCHANGE);
        peer.fail_reads = true;
        let config = Config::default();
        let mut session = DefaultSession::with_default_buffers(&config).unwrap();
        assert_eq!(
            blocking::serve(&mut peer, &mut session),
            Err(ServeError::Read(embedded_io::ErrorKind::ConnectionReset))
        );

        let mut peer = Peer::new(EXCHANGE);
        peer.refuse_writes = true;
        let config = Config::default();
        let mut session = DefaultSession::with_default_buffers(&config).unwrap();
        assert_eq!(
            blocking::serve(&mut peer, &mut session),
            Err(ServeError::WriteZero)
        );
    }

    #[cfg(feature = "async")]
    mod asynch_driver {
        use super::*;
        use core::future::Future;
        use core::pin::pin;
        use core::task::{Context, Poll, Waker};

        /// Polls `fut` to completion; the in-memory peer is always ready, so a waker that
        /// does nothing is enough. Gives up after a bounded number of polls.
        fn run<F: Future>(fut: F) -> F::Output {
            let mut fut = pin!(fut);
            let mut cx = Context::from_waker(Waker::noop());
            for _ in 0..100_000 {
                if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
                    return out;
                }
            }
            panic!("driver did not finish");
        }

        impl embedded_io_async::Read for Peer<'_> {
            async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
                embedded_io::Read::read(self, buf)
            }
        }

        impl embedded_io_async::Write for Peer<'_> {
            async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
                embedded_io::Write::write(self, buf)
            }

            async fn flush(&mut self) -> Result<(), Self::Error> {
                embedded_io::Write::flush(self)
            }
        }

        #[test]
        fn async_driver_runs_the_exchange_to_the_quit_line() {
            let mut peer = Peer::new(EXCHANGE);
            let config = Config::default();
            let mut session = DefaultSession::with_default_buffers(&config).unwrap();
            assert_eq!(
                run(asynch::serve(&mut peer, &mut session)),
                Ok(EndReason::QuitLine)
            );
            assert_eq!(peer.output, ANSWER);
            assert!(peer.flushed);
        }

        #[test]
        fn stop_answers_what_was_received_and_ends_with_shutdown() {
            // Input never ends (the peer keeps the connection open), so only `stop` ends it.
            struct Open<'a>(Peer<'a>);
            impl embedded_io::ErrorType for Open<'_> {
                type Error = embedded_io::ErrorKind;
            }
            impl embedded_io_async::Read for Open<'_> {
                async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
                    if self.0.input.is_empty() {
                        core::future::pending::<()>().await;
                    }
                    embedded_io::Read::read(&mut self.0, buf)
                }
            }
            impl embedded_io_async::Write for Open<'_> {
                async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
                    embedded_io::Write::write(&mut self.0, buf)
                }

                async fn flush(&mut self) -> Result<(), Self::Error> {
                    Ok(())
                }
            }

            let mut io = Open(Peer::new(b"one\r\ntwo\r\npartial"));
            let config = Config::default();
            let mut session = DefaultSession::with_default_buffers(&config).unwrap();
            let mut polls = 0;
            // Becomes ready after a number of polls: by then all input was read.
            let stop = core::future::poll_fn(|_| {
                polls += 1;
                if polls > 50 {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            });
            assert_eq!(
                run(asynch::serve_until(&mut io, &mut session, stop)),
                Ok(EndReason::Shutdown)
            );
            assert_eq!(io.0.output, b"You sent: one\r\nYou sent: two\r\n");
        }
    }
}
