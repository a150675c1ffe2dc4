//! Memory figures of the core, asserted so that the porting guide (docs/porting.md) cannot
//! drift from the code: what a session costs besides its storage, what storage a
//! configuration needs, how big the async driver's future is, and how deep the drivers' stack
//! goes.

use chatecho_core::driver::{asynch, blocking};
use chatecho_core::{
    BorrowedBuffers, Buffers, Config, DefaultSession, EndReason, OwnedBuffers, Session, capacity,
};
use core::convert::Infallible;
use core::hint::black_box;
use core::mem::{size_of, size_of_val};
use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

/// A session's own state on a 64-bit target, besides its storage: the reference to the
/// shared configuration (8), the framing indices and flags (32), the output queue's two
/// indices (16), the counters (32) and the end reason (1), plus padding. On a 32-bit target
/// the indices are half as wide and it is at most 64 bytes (`chatecho-core` asserts that at
/// compile time whenever it is built for one).
const SESSION_STATE: usize = 96;

/// What a session costs beyond its storage `S`.
fn own_state<S>() -> usize {
    size_of::<Session<'static, S>>() - size_of::<S>()
}

#[test]
fn a_session_is_its_storage_plus_a_small_fixed_state() {
    assert_eq!(own_state::<BorrowedBuffers<'static>>(), SESSION_STATE);
    // Owned arrays are the storage, inline: the same state on top, plus the slot's tag.
    for own in [
        own_state::<OwnedBuffers<66, 76>>(),
        own_state::<OwnedBuffers<122, 132>>(),
        own_state::<OwnedBuffers<4104, 8192>>(),
    ] {
        assert!(own <= SESSION_STATE + 8, "{own} bytes");
    }
    // Borrowed storage is two slices: the session never copies the buffers.
    assert_eq!(
        size_of::<BorrowedBuffers<'static>>(),
        4 * size_of::<usize>()
    );
    assert!(size_of::<DefaultSession<'static>>() < 4104 + 8192 + SESSION_STATE + 16);
    println!("session state: {SESSION_STATE} bytes besides its storage (64-bit)");
}

#[test]
fn the_capacity_helpers_are_what_the_session_checks() {
    // Lines up to 64, 120, 256 and 1024 bytes with the default 10-byte prefix and "\r\n".
    for max_line in [64, 120, 256, 1024, 4096] {
        let config = Config::default().with_max_line(max_line).unwrap();
        let input = capacity::input(max_line, 2);
        let output = capacity::output(max_line, 2, 10);
        assert_eq!(config.input_capacity(), input, "{max_line}");
        assert_eq!(config.output_capacity(), output, "{max_line}");
        let (mut rx, mut tx) = (vec![0u8; input], vec![0u8; output]);
        assert!(Session::new(&config, Buffers::borrowed(&mut rx, &mut tx)).is_ok());
        let (mut rx, mut tx) = (vec![0u8; input - 1], vec![0u8; output]);
        assert!(Session::new(&config, Buffers::borrowed(&mut rx, &mut tx)).is_err());
        let (mut rx, mut tx) = (vec![0u8; input], vec![0u8; output - 1]);
        assert!(Session::new(&config, Buffers::borrowed(&mut rx, &mut tx)).is_err());
    }
    // Usable where a constant is needed: array lengths.
    let storage: OwnedBuffers<{ capacity::input(120, 2) }, { capacity::output(120, 2, 10) }> =
        Buffers::owned();
    assert_eq!((storage.input.len(), storage.output.len()), (122, 132));
}

/// The smallest possible stream: reads come from a slice, writes are counted and dropped.
/// Each read and write records how deep the stack is at that point.
struct Probe<'a> {
    input: &'a [u8],
    written: usize,
    /// The address of a local in the innermost I/O call seen, lowest first.
    deepest: Cell<usize>,
}

impl<'a> Probe<'a> {
    fn new(input: &'a [u8]) -> Self {
        Self {
            input,
            written: 0,
            deepest: Cell::new(usize::MAX),
        }
    }

    /// Records the current stack position (stacks grow down on every target Rust supports
    /// with std, so the lowest address is the deepest point).
    #[inline(never)]
    fn mark(&self) {
        let local = 0u8;
        let here = black_box(&local) as *const u8 as usize;
        self.deepest.set(self.deepest.get().min(here));
    }

    fn read_into(&mut self, buf: &mut [u8]) -> usize {
        self.mark();
        let n = buf.len().min(self.input.len());
        buf[..n].copy_from_slice(&self.input[..n]);
        self.input = &self.input[n..];
        n
    }

    fn write_from(&mut self, buf: &[u8]) -> usize {
        self.mark();
        self.written += buf.len();
        buf.len()
    }
}

impl embedded_io::ErrorType for Probe<'_> {
    type Error = Infallible;
}

impl embedded_io::Read for Probe<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        Ok(self.read_into(buf))
    }
}

impl embedded_io::Write for Probe<'_> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        Ok(self.write_from(buf))
    }

    fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

impl embedded_io_async::Read for Probe<'_> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        Ok(self.read_into(buf))
    }
}

impl embedded_io_async::Write for Probe<'_> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        Ok(self.write_from(buf))
    }

    async fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

const INPUT: &[u8] = b"one\r\ntwo\r\n.\r\n";
const OUTPUT_LEN: usize = b"You sent: one\r\nYou sent: two\r\n".len();

/// The address of a local in the caller's frame, to measure depth from.
#[inline(never)]
fn stack_position() -> usize {
    let local = 0u8;
    black_box(&local) as *const u8 as usize
}

/// Upper bound on the async driver's future, in bytes, over a stream whose own read and
/// write futures are as small as they get. Measured: 128 bytes on x86_64 in both debug and
/// release builds with Rust 1.95; the bound leaves room for compiler changes. A real stream's
/// futures add their own size (embassy-net's `TcpSocket`: see examples/embassy_net.rs).
const ASYNC_FUTURE_MAX: usize = 256;

#[test]
fn the_async_driver_future_is_small_and_independent_of_capacity() {
    let mut io = Probe::new(INPUT);
    let small_config = Config::default().with_max_line(64).unwrap();
    let mut small = Session::new(&small_config, Buffers::<[u8; 66], [u8; 76]>::owned()).unwrap();
    let config = Config::default();
    let mut large = DefaultSession::with_default_buffers(&config).unwrap();

    let small_future = asynch::serve(&mut io, &mut small);
    let small_size = size_of_val(&small_future);
    drop(small_future);
    let large_future = asynch::serve(&mut io, &mut large);
    let large_size = size_of_val(&large_future);
    drop(large_future);

    // The session is borrowed, not moved in: 12 KiB of buffers or 142 bytes, same future.
    assert_eq!(small_size, large_size);
    assert!(small_size <= ASYNC_FUTURE_MAX, "{small_size} bytes");
    println!("async driver future: {small_size} bytes");
}

/// Upper bound on the stack a driver uses between its caller and the stream's `read` /
/// `write`, in bytes, for the blocking driver and for one poll of the async driver's future
/// (the future itself lives wherever the executor keeps the task). Measured on x86_64 with
/// Rust 1.95: see docs/porting.md. The bound is below the default session's smaller buffer
/// (4104 bytes), so a buffer copied onto the stack would fail it.
const STACK_MAX: usize = 4096;

/// Runs the blocking driver in a frame of its own, so that what it adds to the stack is
/// measured from where that frame starts even when the driver is inlined into it.
#[inline(never)]
fn run_blocking(io: &mut Probe<'_>, session: &mut DefaultSession<'_>) -> Option<EndReason> {
    blocking::serve(io, session).ok()
}

/// Polls the async driver's future until it completes, in a frame of its own (see
/// [`run_blocking`]). The probe is always ready, so a bounded number of polls suffices.
#[inline(never)]
fn run_async<F: Future>(future: core::pin::Pin<&mut F>) -> Option<F::Output> {
    let mut future = future;
    let mut cx = Context::from_waker(Waker::noop());
    (0..100).find_map(|_| match future.as_mut().poll(&mut cx) {
        Poll::Ready(result) => Some(result),
        Poll::Pending => None,
    })
}

#[test]
fn the_blocking_driver_uses_little_stack_whatever_the_capacity() {
    let config = Config::default();
    let mut session = DefaultSession::with_default_buffers(&config).unwrap();
    let mut io = Probe::new(INPUT);
    // Both calls start their frames at the same stack position: this function's.
    let base = stack_position();
    assert_eq!(
        run_blocking(&mut io, &mut session),
        Some(EndReason::QuitLine)
    );
    assert_eq!(io.written, OUTPUT_LEN);
    let depth = base.saturating_sub(io.deepest.get());
    assert!(depth > 0 && depth <= STACK_MAX, "{depth} bytes");
    println!("blocking driver stack: {depth} bytes");
}

#[test]
fn polling_the_async_driver_uses_little_stack_whatever_the_capacity() {
    let config = Config::default();
    let mut session = DefaultSession::with_default_buffers(&config).unwrap();
    let mut io = Probe::new(INPUT);
    let base = stack_position();
    let result = run_async(pin!(asynch::serve(&mut io, &mut session)));
    assert_eq!(result, Some(Ok(EndReason::QuitLine)));
    assert_eq!(io.written, OUTPUT_LEN);
    let depth = base.saturating_sub(io.deepest.get());
    assert!(depth > 0 && depth <= STACK_MAX, "{depth} bytes");
    println!("async driver poll stack: {depth} bytes");
}

#[test]
fn the_shared_configuration_is_a_few_hundred_bytes_once() {
    // Delimiter, prefix, quit line and custom error text, each a fixed-capacity array, the
    // limit, and the prepared line-too-long reply: one per program, borrowed by every session.
    println!("Config: {} bytes", size_of::<Config>());
    assert_eq!(size_of::<Config>(), CONFIG_SIZE);
}

/// `size_of::<Config>()` on a 64-bit target (see docs/porting.md).
const CONFIG_SIZE: usize = 400;
