//! Criterion micro-benchmarks of the core's hot path: the echo session over 64 MiB of
//! in-memory input, against what a Rust user would write instead and against a ceiling.
//!
//! Run with `cargo bench -p chatecho-bench --bench core`. Two inputs, each a whole number of
//! `\r\n`-terminated lines filling at most 64 MiB: 32-byte lines and 4 KiB (4096-byte) lines,
//! lengths counted without the delimiter as the protocol's `max_line` is. Every line starts
//! with its number in hex, so no two lines are alike; the rest is printable ASCII that cycles
//! differently per line. None is the quit line `.`.
//!
//! Three contestants, each fed the same chunks of the same input and each draining its whole
//! output after every chunk into a sink that counts the bytes (through `black_box`):
//!
//! - `chatecho-core`: a [`DefaultSession`] (4104-byte input, 8 KiB output, as the server
//!   uses), driven the way the drivers drive it: copy a chunk into `input_space()`, call
//!   `commit_input`, send `output()` and `consume_output`. A chunk is everything
//!   `input_space()` offers, as when a socket has 64 KiB waiting: the session's input buffer,
//!   not the socket, bounds a read. That makes chunks of about 4 KiB.
//! - `tokio-util LinesCodec`: what a `Framed<_, LinesCodec>` does with the same chunks. Each
//!   chunk is appended to a `BytesMut` read buffer, every complete frame is decoded, and each
//!   reply `You sent: ` + line + `\r\n` is encoded into a `BytesMut` write buffer, which is
//!   counted and cleared once the chunk is done (a flush). LinesCodec splits on `\n` and
//!   strips a trailing `\r`, so replies are encoded as `You sent: ` + line + `\r` and the codec
//!   adds the `\n`; it also checks that each line is UTF-8, which this ASCII input is. Its
//!   `max_length` is 4097: the core's default limit of 4096 plus the `\r` the codec counts. The reply is built in one reused
//!   `String`, the cheapest way to use the codec; the decoded lines are `String`s, as the codec
//!   returns them.
//! - `ceiling`: the least any echo of this input can do: copy each chunk once into a buffer
//!   (the read) and run memchr for `\n` over it (the framing), counting the lines.
//!
//! The chunk sizes are those the session took, recorded once outside the timing and replayed
//! for the other two, so that all three see exactly the same reads. Before timing, each
//! contestant's output byte count (or line count, for the ceiling) is checked against the
//! input, so that a broken contestant cannot look fast. Throughput is in input bytes.
//!
//! Time is the benchmark thread's CPU time ([`ThreadCpuTime`]), not wall-clock time: the
//! machine these numbers come from is a 2-core VM shared with other work, where wall-clock
//! time also counts the time the thread waited for a core. On an idle machine the two agree
//! (each contestant is single-threaded and does no I/O).

use chatecho_core::{Config, DefaultSession, Session, Storage};
use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;
use tokio_util::bytes::BytesMut;
use tokio_util::codec::{Decoder, Encoder, LinesCodec};

/// Bytes of input per iteration, at most: 64 MiB.
const INPUT_BYTES: usize = 64 << 20;
/// The reply prefix, as the default configuration and the seed have it.
const PREFIX: &str = "You sent: ";
/// The core's default line limit, delimiter not counted.
const MAX_LINE: usize = 4096;
/// LinesCodec's `max_length` for the same limit: it counts the `\r` it later strips.
const CODEC_MAX_LENGTH: usize = MAX_LINE + 1;

/// One benchmark input: the bytes and the chunking the session read them in.
struct Input {
    bytes: Vec<u8>,
    lines: usize,
    /// Sum of `PREFIX + line + "\r\n"` over all lines: what every echo must send.
    reply_bytes: usize,
    chunks: Vec<usize>,
}

impl Input {
    /// Lines of `line_len` bytes plus `\r\n`, as many as fit in [`INPUT_BYTES`].
    fn new(line_len: usize) -> Self {
        let lines = INPUT_BYTES / (line_len + 2);
        let mut bytes = Vec::with_capacity(lines * (line_len + 2));
        for i in 0..lines {
            let start = bytes.len();
            bytes.extend_from_slice(format!("{i:08x} ").as_bytes());
            // Printable ASCII from '!' to '~', starting at a place that depends on the line.
            bytes.extend((0..line_len.saturating_sub(9)).map(|j| b'!' + ((i + j) % 94) as u8));
            bytes.truncate(start + line_len);
            bytes.extend_from_slice(b"\r\n");
        }
        let reply_bytes = lines * (PREFIX.len() + line_len + 2);
        let mut chunks = Vec::new();
        let sent = run_session(&bytes, Some(&mut chunks));
        assert_eq!(
            sent, reply_bytes,
            "the session's replies have the wrong size"
        );
        Self {
            bytes,
            lines,
            reply_bytes,
            chunks,
        }
    }

    /// The input cut into the chunks the session read.
    fn chunks(&self) -> impl Iterator<Item = &[u8]> {
        let mut rest = &self.bytes[..];
        self.chunks.iter().map(move |&n| {
            let (chunk, tail) = rest.split_at(n);
            rest = tail;
            chunk
        })
    }
}

/// Drives a default session over `input`, reading as much as `input_space()` offers, and
/// returns the reply bytes sent. Records the size of each read in `reads` when given.
#[inline(never)]
fn run_session(input: &[u8], mut reads: Option<&mut Vec<usize>>) -> usize {
    let config = Config::default();
    let mut session = DefaultSession::with_default_buffers(&config).expect("default config");
    let mut rest = input;
    let mut sent = 0;
    while !rest.is_empty() {
        let space = session.input_space();
        let n = space.len().min(rest.len());
        assert!(n > 0, "the session refused input with its output drained");
        let (chunk, tail) = rest.split_at(n);
        space[..n].copy_from_slice(chunk);
        session.commit_input(n);
        rest = tail;
        if let Some(reads) = reads.as_deref_mut() {
            reads.push(n);
        }
        sent += drain(&mut session);
    }
    session.input_eof();
    sent + drain(&mut session)
}

/// Sends everything the session has queued, counting it.
fn drain<S: Storage>(session: &mut Session<'_, S>) -> usize {
    let mut sent = 0;
    loop {
        let output = black_box(session.output());
        if output.is_empty() {
            return sent;
        }
        let n = output.len();
        sent += n;
        session.consume_output(n);
    }
}

/// Decodes and answers `input` with tokio-util's LinesCodec, chunk by chunk; returns the reply
/// bytes sent.
#[inline(never)]
fn run_lines_codec(input: &Input) -> usize {
    let mut codec = LinesCodec::new_with_max_length(CODEC_MAX_LENGTH);
    let mut read_buf = BytesMut::with_capacity(8 << 10);
    let mut write_buf = BytesMut::with_capacity(8 << 10);
    let mut reply = String::with_capacity(PREFIX.len() + MAX_LINE + 1);
    let mut sent = 0;
    for chunk in input.chunks() {
        read_buf.extend_from_slice(chunk);
        while let Some(line) = codec.decode(&mut read_buf).expect("valid ASCII lines") {
            reply.clear();
            reply.push_str(PREFIX);
            reply.push_str(&line);
            reply.push('\r');
            codec.encode(&reply, &mut write_buf).expect("encode");
        }
        sent += black_box(&write_buf[..]).len();
        write_buf.clear();
    }
    sent
}

/// Copies each chunk once into a read buffer and finds each `\n` in it with memchr, as a
/// framer must; returns the number of lines. (memchr's own `count` is a different algorithm
/// that reads every byte, and is slower than finding sparse matches.)
#[inline(never)]
fn run_ceiling(input: &Input) -> usize {
    let mut buf = vec![0u8; chatecho_core::capacity::DEFAULT_INPUT];
    let mut lines = 0;
    for chunk in input.chunks() {
        let read = &mut buf[..chunk.len()];
        read.copy_from_slice(chunk);
        let mut rest = black_box(&*read);
        while let Some(at) = memchr::memchr(b'\n', rest) {
            lines += 1;
            rest = &rest[at + 1..];
        }
    }
    lines
}

/// Criterion measurement of the calling thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), which
/// leaves out the time the thread spends descheduled on a busy machine.
struct ThreadCpuTime;

impl ThreadCpuTime {
    fn now() -> Duration {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
        Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
    }
}

impl Measurement for ThreadCpuTime {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        Self::now()
    }
    fn end(&self, start: Duration) -> Duration {
        Self::now().saturating_sub(start)
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        // Durations print the same whichever clock measured them.
        static WALL_TIME: WallTime = WallTime;
        WALL_TIME.formatter()
    }
}

fn bench_input(c: &mut Criterion<ThreadCpuTime>, name: &str, line_len: usize) {
    let input = Input::new(line_len);
    assert_eq!(
        run_lines_codec(&input),
        input.reply_bytes,
        "LinesCodec replies"
    );
    assert_eq!(run_ceiling(&input), input.lines, "ceiling line count");

    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Bytes(input.bytes.len() as u64));
    // 64 MiB per iteration takes tens to hundreds of milliseconds: few samples suffice, and
    // keep the whole run within a few minutes.
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("chatecho-core", |b| {
        b.iter(|| run_session(black_box(&input.bytes), None))
    });
    group.bench_function("tokio-util LinesCodec", |b| {
        b.iter(|| run_lines_codec(black_box(&input)))
    });
    group.bench_function("ceiling (copy + memchr)", |b| {
        b.iter(|| run_ceiling(black_box(&input)))
    });
    group.finish();
}

fn lines_32(c: &mut Criterion<ThreadCpuTime>) {
    bench_input(c, "32-byte lines", 32);
}

fn lines_4k(c: &mut Criterion<ThreadCpuTime>) {
    bench_input(c, "4 KiB lines", 4096);
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpuTime);
    targets = lines_32, lines_4k
}
criterion_main!(benches);
