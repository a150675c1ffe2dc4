//! Storage the caller provides: the two buffers a [`Session`](crate::Session) works in.
//!
//! A session owns no memory of its own beyond a few dozen bytes of state. Its input buffer
//! (bytes received, not yet answered) and its output buffer (replies not yet sent) come from
//! the caller, as embassy-net's `TcpSocket::new(stack, rx_buffer, tx_buffer)` and smoltcp's
//! `SocketBuffer` take theirs, so that they live wherever the platform needs them: a `static`,
//! a `StaticCell`, DMA-capable RAM, a pool shared by many connections, or inline in the session
//! when the capacity belongs in the type.
//!
//! [`Buffers`] pairs any two byte buffers:
//!
//! - borrowed slices, [`Buffers::borrowed`] (embassy-net's way);
//! - owned arrays, [`Buffers::owned`], capacity in the type (heapless's way);
//! - anything else that is `AsRef<[u8]> + AsMut<[u8]>`: `Box<[u8]>`, `Vec<u8>`.
//!
//! Or implement [`Storage`] for a type of your own, such as one allocation split in two.
//!
//! A session that is open and holds nothing (no partial line, no reply waiting) can give its
//! storage back ([`Session::take_storage`](crate::Session::take_storage)) and take the same or
//! other storage later ([`Session::give_storage`](crate::Session::give_storage)): a server
//! keeps buffers only for the connections that are using them.

use crate::capacity::{DEFAULT_INPUT, DEFAULT_OUTPUT};
use crate::config::ConfigError;

/// The memory a session works in: an input buffer and an output buffer.
///
/// Implementations must hand out the same two buffers every time (same lengths, and bytes
/// that stay as the session left them) for as long as the session holds the storage. A
/// session never panics on an implementation that does not; it just answers wrongly.
pub trait Storage {
    /// Both buffers at once, input first: an echo is copied from one to the other.
    fn buffers(&mut self) -> (&mut [u8], &mut [u8]);

    /// The input buffer: bytes received and not yet answered.
    fn input(&self) -> &[u8];

    /// The output buffer: replies queued and not yet sent.
    fn output(&self) -> &[u8];
}

/// Two buffers of any kind as a session's [`Storage`]: see the [module docs](self).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Buffers<I, O> {
    /// The input buffer: at least [`Config::input_capacity`](crate::Config::input_capacity).
    pub input: I,
    /// The output buffer: at least
    /// [`Config::output_capacity`](crate::Config::output_capacity).
    pub output: O,
}

/// Buffers borrowed from the caller, as embassy-net's `TcpSocket` takes its own.
pub type BorrowedBuffers<'b> = Buffers<&'b mut [u8], &'b mut [u8]>;

/// Buffers owned inline, their capacities in the type.
pub type OwnedBuffers<const IN: usize, const OUT: usize> = Buffers<[u8; IN], [u8; OUT]>;

/// The desktop defaults: [`DEFAULT_INPUT`] and [`DEFAULT_OUTPUT`] bytes, inline (12 KiB).
pub type DefaultBuffers = OwnedBuffers<DEFAULT_INPUT, DEFAULT_OUTPUT>;

impl<I, O> Buffers<I, O> {
    /// Pairs an input and an output buffer.
    pub const fn new(input: I, output: O) -> Self {
        Self { input, output }
    }
}

impl<'b> BorrowedBuffers<'b> {
    /// Buffers borrowed from the caller, for as long as the session that holds them lives.
    pub fn borrowed(input: &'b mut [u8], output: &'b mut [u8]) -> Self {
        Self { input, output }
    }
}

impl<const IN: usize, const OUT: usize> OwnedBuffers<IN, OUT> {
    /// Zeroed arrays of `IN` and `OUT` bytes. `const`, so it can initialise a `static`.
    pub const fn owned() -> Self {
        Self {
            input: [0; IN],
            output: [0; OUT],
        }
    }
}

impl<I, O> Storage for Buffers<I, O>
where
    I: AsRef<[u8]> + AsMut<[u8]>,
    O: AsRef<[u8]> + AsMut<[u8]>,
{
    #[inline]
    fn buffers(&mut self) -> (&mut [u8], &mut [u8]) {
        (self.input.as_mut(), self.output.as_mut())
    }

    #[inline]
    fn input(&self) -> &[u8] {
        self.input.as_ref()
    }

    #[inline]
    fn output(&self) -> &[u8] {
        self.output.as_ref()
    }
}

/// Why a session refused to take out or to take in storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum StorageError {
    /// Taking out: the session holds no storage.
    NoStorage,
    /// Giving: the session already holds storage.
    HasStorage,
    /// Taking out: input is buffered (a partial line, or lines not yet answered).
    InputBuffered,
    /// Taking out: replies are waiting to be sent.
    OutputQueued,
    /// Giving: a buffer is smaller than the configuration needs.
    TooSmall(ConfigError),
}

impl core::fmt::Display for StorageError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NoStorage => f.write_str("the session holds no storage"),
            Self::HasStorage => f.write_str("the session already holds storage"),
            Self::InputBuffered => f.write_str("the session holds input not yet answered"),
            Self::OutputQueued => f.write_str("the session holds replies not yet sent"),
            Self::TooSmall(error) => write!(f, "the storage is too small: {error}"),
        }
    }
}

impl core::error::Error for StorageError {}

/// Storage a session refused to take, handed back with the reason.
#[derive(Debug)]
pub struct Refused<S> {
    /// The storage, untouched.
    pub storage: S,
    /// Why it was refused.
    pub error: StorageError,
}

impl<S> core::fmt::Display for Refused<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Display::fmt(&self.error, f)
    }
}

impl<S: core::fmt::Debug> core::error::Error for Refused<S> {}
