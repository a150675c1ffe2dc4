//! [`Echo`]: the echo service for connections you already have. It holds what every
//! connection of one configuration shares (the protocol, buffer sizes, the idle timeout, the
//! counters) and serves each connection given to it to completion.

use crate::Error;
use crate::buffers::Sizes;
use crate::connection::{self, Conversation};
use crate::counters::{Counters, Tally};
use crate::idle::Swept;
use crate::transport::Transport;
use chatecho_core::Config;
use std::fmt;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

/// The idle timeout unless set: five minutes, as the server's `--idle-timeout`.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// The chat-echo service: serves connections you already have, each to completion, with
/// the buffer handling of chatecho-server (buffers taken only while a connection reads or
/// owes replies, pooled per thread, given back when it is quiet), its idle timeout and its
/// counters. Cheap to clone: clones share one configuration and one set of counters.
///
/// ```
/// use chatecho_server::{Config, Echo, End};
/// use futures_lite::{AsyncReadExt as _, AsyncWriteExt as _};
///
/// # smol::block_on(async {
/// let echo = Echo::new(Config::default())?;
/// let (ours, mut theirs) = async_net::unix::UnixStream::pair()?;
/// let serving = smol::spawn({
///     let echo = echo.clone();
///     async move { echo.serve(ours).await }
/// });
/// theirs.write_all(b"hello\r\n.\r\n").await?;
/// let mut answer = String::new();
/// theirs.read_to_string(&mut answer).await?;
/// assert_eq!(answer, "You sent: hello\r\n");
/// assert_eq!(serving.await.end, End::QuitLine);
/// assert_eq!(echo.counters().lines, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct Echo {
    shared: Arc<Shared>,
}

/// What every connection of an [`Echo`] shares.
pub(crate) struct Shared {
    pub config: Config,
    pub sizes: Sizes,
    /// The idle timeout's registry, swept by the clock.
    pub idle: Swept,
    pub idle_timeout: Option<Duration>,
    pub notices: Notices,
    pub tally: Tally,
}

/// The lines a connection is told when it is closed on the server's account, delimiter
/// included. Each starts with `ERROR ` like the core's line-too-long reply, so that no notice
/// can be taken for the echo of a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Notices {
    /// To a connection closed by the idle timeout.
    pub idle_timeout: Vec<u8>,
    /// To a connection closed because it was asked to stop (the server shutting down).
    pub shutting_down: Vec<u8>,
}

/// `text` as a line of `config`'s protocol.
pub(crate) fn notice(config: &Config, text: &str) -> Vec<u8> {
    let mut line = text.as_bytes().to_vec();
    line.extend_from_slice(config.delimiter().as_bytes());
    line
}

/// `n` and the noun, plural unless `n` is 1: `1 connection`, `2 connections`.
pub(crate) fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

impl Echo {
    /// An `Echo` for `config` with the default settings ([`EchoBuilder`]'s).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a configuration [`Config::check`] refuses.
    pub fn new(config: Config) -> Result<Self, Error> {
        Self::builder().config(config).build()
    }

    /// Settings to build an `Echo` from, starting from the defaults.
    pub fn builder() -> EchoBuilder {
        EchoBuilder::default()
    }

    /// Serves `stream` until the conversation ends: the peer sends the quit line or ends its
    /// input, the idle timeout passes, or the connection fails. Returns how it went.
    ///
    /// `stream` is an async-net or async-io socket, or any byte stream in an
    /// [`AnyStream`](crate::AnyStream) ([`Transport`] lists them). Socket options are yours
    /// to set: the server sets `TCP_NODELAY` on what it accepts, as replies are written in
    /// batches and Nagle's algorithm only delays them.
    pub async fn serve<T: Transport>(&self, stream: T) -> Conversation {
        self.serve_until(stream, std::future::pending()).await
    }

    /// Serves `stream` as [`serve`](Self::serve) does, and ends the conversation gracefully
    /// once `stop` completes: stop reading, answer the complete lines received, send them and
    /// `ERROR server shutting down`, then close ([`End::Shutdown`](crate::End::Shutdown)).
    ///
    /// ```
    /// use chatecho_server::{Config, Echo, End};
    /// use futures_lite::{AsyncReadExt as _, AsyncWriteExt as _};
    ///
    /// # smol::block_on(async {
    /// let echo = Echo::new(Config::default())?;
    /// let (ours, mut theirs) = async_net::unix::UnixStream::pair()?;
    /// let (stop, stopped) = async_channel::bounded::<()>(1);
    /// let serving = smol::spawn({
    ///     let echo = echo.clone();
    ///     async move { echo.serve_until(ours, async move { let _ = stopped.recv().await; }).await }
    /// });
    /// theirs.write_all(b"one\r\ntwo\r\npart").await?;
    /// // Once both lines are answered, ask the conversation to end.
    /// let mut answers = [0u8; 30];
    /// theirs.read_exact(&mut answers).await?;
    /// stop.close();
    /// let mut rest = String::new();
    /// theirs.read_to_string(&mut rest).await?;
    /// assert_eq!(rest, "ERROR server shutting down\r\n");
    /// assert_eq!(serving.await.end, End::Shutdown);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn serve_until<T: Transport>(
        &self,
        stream: T,
        stop: impl Future<Output = ()>,
    ) -> Conversation {
        let mut io = stream.into_io();
        let peer = crate::transport::Io::peer(&io);
        connection::serve(&self.shared, &mut io, peer, pin!(stop)).await
    }

    /// What this `Echo`'s connections have done so far, and how many are being served now.
    pub fn counters(&self) -> Counters {
        self.shared.tally.snapshot()
    }

    /// The protocol served.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// The idle timeout, `None` when off.
    pub fn idle_timeout(&self) -> Option<Duration> {
        self.shared.idle_timeout
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }
}

impl fmt::Debug for Echo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Echo")
            .field("config", &self.shared.config)
            .field("input_buffer", &self.shared.sizes.input)
            .field("output_buffer", &self.shared.sizes.output)
            .field("idle_timeout", &self.shared.idle_timeout)
            .field("counters", &self.counters())
            .finish()
    }
}

/// The settings of an [`Echo`]; [`build`](Self::build) checks them.
///
/// ```
/// use chatecho_server::{Config, Echo};
/// use std::time::Duration;
///
/// let echo = Echo::builder()
///     .config(Config::default().with_delimiter(b"\n")?)
///     .idle_timeout(Some(Duration::from_secs(30)))
///     .build()?;
/// assert_eq!(echo.idle_timeout(), Some(Duration::from_secs(30)));
///
/// // A setting that cannot be served is an error here, never a panic later.
/// let error = Echo::builder().output_buffer(16).build().unwrap_err();
/// assert!(error.to_string().contains("output buffer of 16 bytes is too small"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct EchoBuilder {
    config: Config,
    idle_timeout: Option<Duration>,
    input_buffer: Option<usize>,
    output_buffer: Option<usize>,
}

impl Default for EchoBuilder {
    /// The protocol's defaults (`Config::default()`), an idle timeout of
    /// [`DEFAULT_IDLE_TIMEOUT`], and buffers sized for the configuration.
    fn default() -> Self {
        Self {
            config: Config::default(),
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
            input_buffer: None,
            output_buffer: None,
        }
    }
}

impl EchoBuilder {
    /// The protocol: delimiter, prefix, quit line, line limit, error text.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Closes a connection that has sent and taken nothing for `timeout` (checked once a
    /// second, so up to a second later), after flushing its replies and telling it why;
    /// `None` turns the timeout off.
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = timeout.filter(|t| !t.is_zero());
        self
    }

    /// Bytes of each busy connection's input buffer. At least a longest line and its
    /// delimiter ([`Config::input_capacity`]), which is the default; more lets one read take
    /// more pipelined lines.
    pub fn input_buffer(mut self, bytes: usize) -> Self {
        self.input_buffer = Some(bytes);
        self
    }

    /// Bytes of each busy connection's output buffer. At least one longest reply
    /// ([`Config::output_capacity`]); the default is that or 8 KiB, whichever is more, so
    /// that a pipelining peer gets its replies in large writes.
    pub fn output_buffer(mut self, bytes: usize) -> Self {
        self.output_buffer = Some(bytes);
        self
    }

    /// Checks the settings and builds the `Echo`.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a configuration [`Config::check`] refuses, and
    /// [`Error::BufferTooSmall`] for a buffer set smaller than it needs.
    pub fn build(self) -> Result<Echo, Error> {
        self.config.check()?;
        let sizes = self.sizes()?;
        let idle = Swept::new(self.idle_timeout, "idle timeout");
        let idle_secs = idle.timeout_secs().unwrap_or(0);
        let notices = Notices {
            idle_timeout: notice(
                &self.config,
                &format!("ERROR idle timeout (limit {})", count(idle_secs, "second")),
            ),
            shutting_down: notice(&self.config, "ERROR server shutting down"),
        };
        Ok(Echo {
            shared: Arc::new(Shared {
                config: self.config,
                sizes,
                idle,
                idle_timeout: self.idle_timeout,
                notices,
                tally: Tally::default(),
            }),
        })
    }

    fn sizes(&self) -> Result<Sizes, Error> {
        let needed = Sizes::for_config(&self.config);
        let input = checked("input", self.input_buffer, self.config.input_capacity())?;
        let output = checked("output", self.output_buffer, self.config.output_capacity())?;
        Ok(Sizes {
            input: input.unwrap_or(needed.input),
            output: output.unwrap_or(needed.output),
        })
    }
}

/// `given`, if set, when it is at least `needed`.
fn checked(
    buffer: &'static str,
    given: Option<usize>,
    needed: usize,
) -> Result<Option<usize>, Error> {
    match given {
        Some(given) if given < needed => Err(Error::BufferTooSmall {
            buffer,
            needed,
            given,
        }),
        given => Ok(given),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_count_in_words_and_end_with_the_delimiter() {
        let config = Config::default().with_delimiter(b"\n").unwrap();
        let one = Echo::builder()
            .config(config.clone())
            .idle_timeout(Some(Duration::from_secs(1)))
            .build()
            .unwrap();
        assert_eq!(
            one.shared.notices.idle_timeout,
            b"ERROR idle timeout (limit 1 second)\n"
        );
        assert_eq!(
            one.shared.notices.shutting_down,
            b"ERROR server shutting down\n"
        );
        let many = Echo::builder().config(config).build().unwrap();
        assert_eq!(
            many.shared.notices.idle_timeout,
            b"ERROR idle timeout (limit 300 seconds)\n"
        );
    }

    #[test]
    fn buffers_default_to_what_the_configuration_needs_and_refuse_less() {
        let echo = Echo::new(Config::default()).unwrap();
        assert_eq!(
            (echo.shared.sizes.input, echo.shared.sizes.output),
            (4098, 8192)
        );
        let large = Config::default().with_max_line(65536).unwrap();
        let echo = Echo::new(large.clone()).unwrap();
        assert_eq!(
            (echo.shared.sizes.input, echo.shared.sizes.output),
            (65538, 65548)
        );
        let roomy = Echo::builder().input_buffer(10_000).build().unwrap();
        assert_eq!(roomy.shared.sizes.input, 10_000);
        match Echo::builder().config(large).input_buffer(4098).build() {
            Err(Error::BufferTooSmall {
                buffer: "input",
                needed: 65538,
                given: 4098,
            }) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_invalid_configuration_is_refused_when_built() {
        let config = Config::default().with_max_line(2).unwrap();
        // A quit line longer than the limit cannot be recognised.
        let config = config.with_quit_line(Some(b"quit")).unwrap();
        assert!(matches!(Echo::new(config).unwrap_err(), Error::Config(_)));
    }

    #[test]
    fn a_zero_idle_timeout_is_no_timeout() {
        let echo = Echo::builder()
            .idle_timeout(Some(Duration::ZERO))
            .build()
            .unwrap();
        assert_eq!(echo.idle_timeout(), None);
    }
}
