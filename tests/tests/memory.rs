//! Memory figures of the core, asserted so that the porting guide (docs/porting.md) cannot
//! drift from the code: what a session costs for a given capacity, how big the async driver's
//! future is, and how deep the drivers' stack goes.

use chatecho_core::driver::{asynch, blocking};
use chatecho_core::{Config, DefaultSession, EndReason, Session};
use core::convert::Infallible;
use core::hint::black_box;
use core::mem::{align_of, size_of, size_of_val};
use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

/// Bytes a session takes besides its two buffers, on a 64-bit target: the configuration
/// (288: delimiter, prefix, quit line, custom error text, each a fixed-capacity array), the
/// precomputed line-too-long reply (105, its length a `u8`), the framer's indices (104), the
/// output's written length, send position and queue end (24), the counters (32) and the end
/// reason (1), plus 6 bytes of padding. 32-bit targets have narrower `usize` fields and need
/// less.
const SESSION_OVERHEAD: usize = 560;

/// The size of a `Session<IN, OUT>`: each buffer rounded up to the alignment of its length
/// field, plus [`SESSION_OVERHEAD`].
fn session_size(input: usize, output: usize) -> usize {
    let align = align_of::<usize>();
    input.next_multiple_of(align) + output.next_multiple_of(align) + SESSION_OVERHEAD
}

fn assert_session_size<const IN: usize, const OUT: usize>() {
    let size = size_of::<Session<IN, OUT>>();
    assert!(
        size >= IN + OUT,
        "Session<{IN}, {OUT}> is {size} bytes: the buffers are not inline"
    );
    #[cfg(target_pointer_width = "64")]
    assert_eq!(size, session_size(IN, OUT), "Session<{IN}, {OUT}>");
    #[cfg(not(target_pointer_width = "64"))]
    assert!(
        size <= session_size(IN, OUT),
        "Session<{IN}, {OUT}> is {size} bytes"
    );
}

#[test]
fn a_session_is_its_two_buffers_plus_a_fixed_overhead() {
    // Lines up to 64, 120, 256 and 1024 bytes with the default 10-byte prefix and "\r\n":
    // input = max_line + 2, output = max_line + 12 (one longest reply).
    assert_session_size::<66, 76>();
    assert_session_size::<122, 132>();
    assert_session_size::<258, 268>();
    assert_session_size::<1026, 1036>();
    // The desktop default: 4096-byte lines, 8 KiB of replies.
    assert_session_size::<4104, 8192>();
    assert_eq!(size_of::<DefaultSession>(), session_size(4104, 8192));
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
    let mut small: Session<66, 76> =
        Session::new(Config::default().with_max_line(64).unwrap()).unwrap();
    let mut large = DefaultSession::new(Config::default()).unwrap();

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
fn run_blocking(io: &mut Probe<'_>, session: &mut DefaultSession) -> Option<EndReason> {
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
    let mut session = DefaultSession::new(Config::default()).unwrap();
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
    let mut session = DefaultSession::new(Config::default()).unwrap();
    let mut io = Probe::new(INPUT);
    let base = stack_position();
    let result = run_async(pin!(asynch::serve(&mut io, &mut session)));
    assert_eq!(result, Some(Ok(EndReason::QuitLine)));
    assert_eq!(io.written, OUTPUT_LEN);
    let depth = base.saturating_sub(io.deepest.get());
    assert!(depth > 0 && depth <= STACK_MAX, "{depth} bytes");
    println!("async driver poll stack: {depth} bytes");
}
