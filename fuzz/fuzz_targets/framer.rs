//! Fuzz target `framer`: any delimiter of 1 to 8 bytes, any line limit (invalid ones must be a
//! `ConfigError`), any stream split into any reads, taken with `next_frame` or with
//! `peek`/`advance`, optionally ended with `finish`. The frames must be exactly those of the
//! plain model in `chatecho_tests::model`, handed out as soon as the model says they exist;
//! the framer must never panic, never stall, never buffer more than its capacity, and its
//! delimiter search must stay linear in the bytes fed.
#![no_main]

use arbitrary::Arbitrary;
use chatecho_core::{ConfigError, Delimiter, Frame, Framer};
use chatecho_fuzz::{alphabet, check_now, stream, Case};
use chatecho_tests::model::{Ending, Protocol};
use libfuzzer_sys::fuzz_target;

/// The case's parameters: one-byte fields at fixed offsets (see `make_corpus.py`). The rest
/// of the input is the stream.
#[derive(Arbitrary, Debug)]
struct Header {
    /// Picks the buffer size `N`, see `CAPACITIES`.
    capacity: u8,
    /// The delimiter is the first `1 + delimiter_len % 8` bytes of `delimiter`.
    delimiter_len: u8,
    delimiter: [u8; 8],
    /// Line limit, little-endian. Folded into the valid range unless `max_line_exact`.
    max_line: [u8; 2],
    max_line_exact: bool,
    /// Read sizes, cycled; 0 reads as much as the framer offers.
    reads: [u8; 8],
    /// Bit 0: take frames with peek/advance; bit 1: commit more than offered when a read
    /// fills the space (must be clamped); bit 2: map the stream onto the delimiter's alphabet;
    /// bit 3: ask for the space twice per read and commit an empty read after each (harmless
    /// by contract).
    mode: u8,
    /// The stream is repeated `1 + repeat % 16` times.
    repeat: u8,
    /// End the input with `finish`.
    eof: bool,
}

/// Buffer sizes: the tightest one for an 8-byte delimiter, two small ones where limits are hit
/// all the time, and one where long lines and many lines per read are common.
const CAPACITIES: [usize; 4] = [9, 16, 72, 3000];

fuzz_target!(|case: Case<Header>| {
    match CAPACITIES[usize::from(case.header.capacity) % CAPACITIES.len()] {
        9 => run::<9>(&case),
        16 => run::<16>(&case),
        72 => run::<72>(&case),
        _ => run::<3000>(&case),
    }
});

fn run<const N: usize>(case: &Case<Header>) {
    let h = &case.header;
    let delimiter = &h.delimiter[..1 + usize::from(h.delimiter_len) % 8];
    let d = Delimiter::new(delimiter).expect("1 to 8 bytes make a valid delimiter");
    let capacity = N - delimiter.len();
    let raw = usize::from(u16::from_le_bytes(h.max_line));
    let max_line = if h.max_line_exact || capacity == 0 {
        raw
    } else {
        1 + raw % capacity
    };
    let mut framer = match Framer::new([0u8; N], d, max_line) {
        Ok(framer) => {
            assert!((1..=capacity).contains(&max_line), "accepted {max_line}");
            framer
        }
        Err(error) => {
            let expected = if max_line == 0 {
                ConfigError::ZeroMaxLine
            } else {
                ConfigError::InputTooSmall {
                    needed: max_line + delimiter.len(),
                    capacity: N,
                }
            };
            assert!(max_line == 0 || max_line > capacity, "refused {max_line}");
            assert_eq!(error, expected);
            return;
        }
    };
    assert_eq!(framer.max_line(), max_line);

    let peek_mode = h.mode & 1 != 0;
    let overcommit = h.mode & 2 != 0;
    let alphabet = (h.mode & 4 != 0).then(|| alphabet(&[delimiter]));
    let idle_calls = h.mode & 8 != 0;
    let input = stream(&case.stream, alphabet.as_deref(), h.repeat);
    let model = Protocol {
        delimiter: delimiter.to_vec(),
        max_line,
        ..Protocol::default()
    };

    let mut frames: Vec<Option<Vec<u8>>> = Vec::new();
    let mut pos = 0;
    let mut step = 0;
    while pos < input.len() {
        let buffered = framer.buffered();
        if idle_calls {
            let _ = framer.space();
        }
        let space = framer.space();
        let offered = space.len();
        assert!(offered > 0, "stalled: no space and no frame pending");
        assert!(offered + buffered <= N, "space beyond capacity");
        let want = match h.reads[step % h.reads.len()] {
            0 => offered,
            n => usize::from(n),
        };
        let n = want.min(offered).min(input.len() - pos);
        space[..n].copy_from_slice(&input[pos..pos + n]);
        // Claiming more than was offered must be clamped to the offer; only done when the
        // offer was filled, so that the clamped count matches the bytes really written.
        framer.commit(if overcommit && n == offered {
            usize::MAX
        } else {
            n
        });
        pos += n;
        take(&mut framer, peek_mode, &mut frames);
        if idle_calls {
            framer.commit(0);
            take(&mut framer, peek_mode, &mut frames);
        }
        check(&framer, pos, delimiter.len());
        if check_now(step) {
            assert_eq!(
                frames,
                model.frames(&input[..pos], Ending::Open),
                "a frame the model already sees was not handed out, or a wrong one was"
            );
        }
        step += 1;
    }

    let ending = if h.eof {
        framer.finish();
        assert!(framer.is_finished());
        take(&mut framer, peek_mode, &mut frames);
        assert_eq!(framer.buffered(), 0, "finished with bytes left over");
        assert!(framer.space().is_empty(), "space offered after finish");
        framer.commit(1);
        assert_eq!(framer.buffered(), 0, "input taken after finish");
        assert_eq!(framer.next_frame(), None);
        Ending::Eof
    } else {
        Ending::Open
    };
    check(&framer, pos, delimiter.len());
    assert_eq!(frames, model.frames(&input, ending));
}

/// Takes every complete frame, the way a caller chooses.
fn take<const N: usize>(
    framer: &mut Framer<[u8; N]>,
    peek_mode: bool,
    frames: &mut Vec<Option<Vec<u8>>>,
) {
    loop {
        let frame = if peek_mode {
            let Some(frame) = framer.peek().map(owned) else {
                break;
            };
            assert!(framer.has_pending_frame());
            assert_eq!(
                framer.peek().map(owned),
                Some(frame.clone()),
                "peek changed"
            );
            framer.advance();
            frame
        } else {
            match framer.next_frame() {
                Some(frame) => owned(frame),
                None => break,
            }
        };
        assert!(!framer.has_pending_frame());
        frames.push(frame);
    }
    assert!(!framer.has_pending_frame());
    // With nothing pending, advance must do nothing.
    let buffered = framer.buffered();
    framer.advance();
    assert_eq!(framer.buffered(), buffered);
}

fn owned(frame: Frame<'_>) -> Option<Vec<u8>> {
    match frame {
        Frame::Line(line) => Some(line.to_vec()),
        Frame::TooLong => None,
    }
}

/// Invariants after every step: fixed memory, and a delimiter search that examined at most
/// `delimiter_len` bytes per byte fed (each byte reaches memchr once; each candidate match
/// compares the delimiter's other bytes).
fn check<const N: usize>(framer: &Framer<[u8; N]>, fed: usize, delimiter_len: usize) {
    assert!(
        framer.buffered() <= N,
        "buffered {} > {N}",
        framer.buffered()
    );
    assert!(framer.buffered() <= fed);
    let bound = (fed * delimiter_len) as u64;
    assert!(
        framer.bytes_examined() <= bound,
        "search examined {} bytes for {fed} fed (bound {bound})",
        framer.bytes_examined()
    );
}
