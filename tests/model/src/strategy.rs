//! Proptest strategies for experiments that find bugs in line framing (feature `proptest`).
//!
//! Uniformly random bytes almost never contain a delimiter, let alone one split across
//! reads, a near miss, the quit line or a line one byte over the limit, which is where
//! framing bugs live. Every strategy here is shaped to make those cases common, and says why
//! next to it. They shrink towards the simple end: short inputs, one read, no drains held
//! back, the seed's delimiter.
//!
//! Protocols from [`protocol`] fit in storage of [`INPUT_CAPACITY`] and [`OUTPUT_CAPACITY`]
//! bytes ([`SmallBuffers`]), small enough that the line limit, a full output buffer and
//! backpressure are hit in almost every case.
//!
//! ```
//! use chatecho_model::strategy::{experiment, SmallBuffers};
//! use chatecho_model::{check, Swapping};
//! use proptest::prelude::*;
//!
//! proptest!(ProptestConfig::with_cases(16), |(e in experiment())| {
//!     let config = e.protocol.config().unwrap();
//!     let mut session = Swapping::<SmallBuffers>::owned(&config).unwrap();
//!     if let Err(divergence) = check(&mut session, &e) {
//!         panic!("{divergence}");
//!     }
//! });
//! ```

use crate::checker::{Experiment, Schedule, StorageStep};
use crate::protocol::{Ending, Protocol};
use crate::subject::Give;
use chatecho_core::OwnedBuffers;
use proptest::prelude::*;
use proptest::sample::select;

/// The input buffer every protocol from [`protocol`] fits in: lines up to 64 bytes plus a
/// delimiter of up to 8.
pub const INPUT_CAPACITY: usize = 72;
/// The output buffer every protocol from [`protocol`] fits in: the longest reply (8 + 64 + 8
/// bytes) and some room to queue shorter ones behind it.
pub const OUTPUT_CAPACITY: usize = 128;
/// Storage of [`INPUT_CAPACITY`] and [`OUTPUT_CAPACITY`] bytes.
pub type SmallBuffers = OwnedBuffers<INPUT_CAPACITY, OUTPUT_CAPACITY>;

/// Bytes most delimiters and quit lines below are made of, plus `x`, which is in none of
/// them: input over this alphabet is dense in partial and overlapping matches.
const ALPHABET: &[u8] = b"ab\r\n.x";

/// Delimiters, with those that overlap themselves in front.
///
/// A delimiter whose prefix is also its suffix (`aab` after `aa`, `\r\r\n` after `\r`,
/// `abab`, `aaaaaaaa`) is where a resumed search goes wrong: after a near miss the match
/// may already have started. The seed's `\r\n` and a one-byte delimiter keep the common case
/// covered; random ones over a small alphabet find what the list forgot.
pub fn delimiter() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"\r\n".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"aab".to_vec()),
        Just(b"\r\r\n".to_vec()),
        Just(b"abab".to_vec()),
        Just(b"aba".to_vec()),
        Just(b"aaaaaaaa".to_vec()),
        prop::collection::vec(select(ALPHABET), 1..=8),
    ]
}

/// Protocols that fit in [`SmallBuffers`]: any delimiter from [`delimiter`], a prefix of any
/// bytes (empty included), the seed's quit line, none, or a short one from the delimiter's
/// alphabet (which may even be empty, or contain part of the delimiter), a limit of 1 to 64
/// bytes, and sometimes a custom error text.
///
/// Limits are small so that short inputs cross them; the error text is sometimes longer than
/// any echo, so that it, not the echo, sizes the output.
pub fn protocol() -> impl Strategy<Value = Protocol> {
    let quit_line = prop_oneof![
        3 => Just(Some(b".".to_vec())),
        1 => Just(None),
        1 => prop::collection::vec(select(b".ab\r".as_slice()), 0..=3).prop_map(Some),
    ];
    let error_text = prop_oneof![
        3 => Just(None),
        1 => prop::collection::vec(any::<u8>(), 0..=40).prop_map(Some),
    ];
    (
        delimiter(),
        prop::collection::vec(any::<u8>(), 0..=8),
        quit_line,
        1..=64usize,
        error_text,
    )
        .prop_map(
            |(delimiter, prefix, quit_line, max_line, error_text)| Protocol {
                // The core refuses a quit line longer than the limit (`Protocol::errors`).
                max_line: max_line.max(quit_line.as_ref().map_or(0, Vec::len)),
                delimiter,
                prefix,
                quit_line,
                error_text,
            },
        )
}

/// Input for `protocol`: up to 40 [`piece`]s, one after the other.
pub fn input(protocol: &Protocol) -> impl Strategy<Value = Vec<u8>> + use<> {
    prop::collection::vec(piece(protocol), 0..40).prop_map(|pieces| pieces.concat())
}

/// A [`protocol`] and an [`input`] for it, for properties of the model or the framer that
/// need no schedule.
pub fn protocol_and_input() -> impl Strategy<Value = (Protocol, Vec<u8>)> {
    protocol().prop_flat_map(|protocol| {
        let input = input(&protocol);
        (Just(protocol), input)
    })
}

/// One piece of input for `protocol`, of the kinds that form lines rather than random
/// bytes:
///
/// - short runs over the delimiter's alphabet (mostly) or any byte: partial delimiters, and
///   lines of every short length;
/// - whole delimiters: empty lines and lines that end right at a read boundary;
/// - near misses: the delimiter with its last byte changed, or cut short, which a search
///   that resumes in the wrong place mistakes for a match or skips past one after;
/// - the quit line with its delimiter, and near misses of it (one byte more);
/// - lines around the limit: `max_line - 1` to `max_line + delimiter` bytes, where a line
///   becomes too long and where that becomes certain;
/// - overlong runs, several buffers long.
///
/// Pieces shrink to shorter ones of the first kind.
pub fn piece(protocol: &Protocol) -> impl Strategy<Value = Vec<u8>> + use<> {
    let delimiter = protocol.delimiter.clone();
    let quit = protocol.quit_line.clone().unwrap_or_default();
    let max_line = protocol.max_line;
    let near_miss = {
        let delimiter = delimiter.clone();
        (any::<u8>(), any::<bool>()).prop_map(move |(byte, cut)| {
            let mut near = delimiter.clone();
            if cut {
                near.pop();
            } else if let Some(last) = near.last_mut() {
                *last = if *last == byte { byte ^ 1 } else { byte };
            }
            near
        })
    };
    prop_oneof![
        4 => prop::collection::vec(
            prop_oneof![3 => select(ALPHABET), 1 => any::<u8>()],
            0..12
        ),
        3 => Just(delimiter.clone()),
        2 => near_miss,
        1 => Just([&quit[..], &delimiter].concat()),
        1 => Just([&quit[..], b"x", &delimiter].concat()),
        1 => (max_line.saturating_sub(1)..=max_line + delimiter.len())
            .prop_map(move |n| [vec![b'x'; n], delimiter.clone()].concat()),
        1 => (60..200usize).prop_map(|n| vec![b'x'; n]),
    ]
}

/// Read sizes: one byte at a time (every delimiter split across reads), a few bytes, up to
/// a buffer and more, or everything at once (0). Cycled by [`check`](crate::check), so a few
/// sizes make an irregular split of any input.
pub fn reads() -> impl Strategy<Value = Vec<usize>> {
    let size = prop_oneof![
        2 => 1..=3usize,
        2 => 4..=16usize,
        1 => 17..=100usize,
        1 => Just(0usize),
    ];
    prop::collection::vec(size, 1..12)
}

/// Drain sizes: nothing (replies pile up until the output is full and input is held back),
/// a byte or a few (replies leave in pieces, and room frees up slowly), or everything.
pub fn drains() -> impl Strategy<Value = Vec<usize>> {
    let size = prop_oneof![
        2 => Just(0usize),
        2 => 1..=8usize,
        1 => 9..=100usize,
        2 => Just(usize::MAX),
    ];
    prop::collection::vec(size, 1..12)
}

/// Storage moves: mostly none, sometimes taking the storage out and giving back the same or
/// other storage. Takes land at every kind of point (between lines, mid-line, with replies
/// owed, after the end) because they are cycled against reads and drains of other lengths;
/// the model says which must work and which must be refused.
pub fn storage() -> impl Strategy<Value = Vec<StorageStep>> {
    let step = prop_oneof![
        3 => Just(StorageStep::Keep),
        1 => Just(StorageStep::Take(Give::Same)),
        1 => Just(StorageStep::Take(Give::Other)),
    ];
    prop::collection::vec(step, 1..8)
}

/// How input ends: left open, end of input, or shutdown, equally often.
pub fn ending() -> impl Strategy<Value = Ending> {
    prop_oneof![
        Just(Ending::Open),
        Just(Ending::Eof),
        Just(Ending::Shutdown)
    ]
}

/// A whole schedule: [`reads`], [`drains`], [`storage`] and [`ending`].
pub fn schedule() -> impl Strategy<Value = Schedule> {
    (reads(), drains(), storage(), ending()).prop_map(|(reads, drains, storage, ending)| Schedule {
        reads,
        drains,
        storage,
        ending,
    })
}

/// A whole experiment: a [`protocol`], an [`input`] for it and a [`schedule`].
pub fn experiment() -> impl Strategy<Value = Experiment> {
    (protocol(), schedule()).prop_flat_map(|(protocol, schedule)| {
        input(&protocol).prop_map(move |input| Experiment {
            protocol: protocol.clone(),
            input,
            schedule: schedule.clone(),
        })
    })
}

/// Experiments in which the quit line arrives split across two reads, at every possible
/// point: a line, the quit line and its delimiter, and a line that must be ignored, with the
/// first read ending anywhere in that input. Protocols without a quit line get the seed's.
///
/// A quit line is compared whole, so a framer that compares a line before its delimiter is
/// complete, or that loses the quit line's start when the read ends in it, shows here.
pub fn quit_line_across_reads() -> impl Strategy<Value = Experiment> {
    (protocol(), drains(), ending()).prop_flat_map(|(mut protocol, drains, ending)| {
        let quit = protocol
            .quit_line
            .get_or_insert_with(|| b".".to_vec())
            .clone();
        protocol.max_line = protocol.max_line.max(quit.len());
        let d = &protocol.delimiter;
        let input = [&b"x"[..], d, &quit, d, b"after", d].concat();
        (0..=input.len()).prop_map(move |split| Experiment {
            protocol: protocol.clone(),
            input: input.clone(),
            schedule: Schedule {
                reads: vec![split.max(1), 0],
                drains: drains.clone(),
                storage: Vec::new(),
                ending,
            },
        })
    })
}

/// Experiments a peer alone can run against a live server configured with `protocol`
/// (chatecho-server's defaults are `Protocol::default()`), for
/// [`TcpSubject`](crate::tcp::TcpSubject): any [`input`] for it, split into few sends (a
/// first one of 1 to 64 bytes, which lands inside a delimiter or a line as often as not, then
/// big ones, at most about ten in all, since each short receive over TCP waits a quiet
/// interval), read back with any [`drains`], and left open or ended by end of input. No
/// storage moves and no shutdown: a peer cannot do those.
pub fn over_tcp(protocol: Protocol) -> impl Strategy<Value = Experiment> {
    input(&protocol).prop_flat_map(move |input| {
        let len = input.len().max(1);
        let first = prop_oneof![1..=3usize, 4..=64usize];
        let rest = prop_oneof![Just(0usize), (len / 4).max(1)..=len];
        let ending = prop_oneof![Just(Ending::Open), Just(Ending::Eof)];
        let protocol = protocol.clone();
        (first, rest, drains(), ending).prop_map(move |(first, rest, drains, ending)| Experiment {
            protocol: protocol.clone(),
            input: input.clone(),
            schedule: Schedule {
                reads: vec![first, rest],
                drains,
                storage: Vec::new(),
                ending,
            },
        })
    })
}

/// A proptest configuration that runs `cases` cases, unless the `PROPTEST_CASES` environment
/// variable asks for another number: modest counts by default keep a test suite quick, and
/// `PROPTEST_CASES=100000 cargo test …` runs the same properties for longer.
pub fn cases(cases: u32) -> ProptestConfig {
    let config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_some() {
        config
    } else {
        ProptestConfig { cases, ..config }
    }
}
