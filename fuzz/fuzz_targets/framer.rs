//! Fuzz target `framer`: any delimiter of 1 to 8 bytes (others must be a `ConfigError`), any
//! line limit (invalid ones must be a `ConfigError`), any stream split into any reads, taken
//! with `next_frame` or with `peek`/`advance`, optionally ended with `finish`. The frames must
//! be exactly those of the reference model (`chatecho_model::Protocol::frames`), handed out as
//! soon as the model says they exist; the framer must never panic, never stall, never buffer
//! more than its capacity, and its delimiter search must stay linear in the bytes fed.
#![no_main]

use chatecho_core::{ConfigError, Delimiter, Frame, Framer};
use chatecho_fuzz::Header;
use chatecho_model::{Ending, Experiment};
use libfuzzer_sys::fuzz_target;

// The experiment's protocol gives the delimiter and the limit, its schedule the reads (0
// reads as much as the framer offers) and whether input ends (`Ending::Eof` calls `finish`),
// its input the stream. The header's `mode`: bit 0 takes frames with peek/advance; bit 1
// commits more than offered when a read fills the space (must be clamped); bit 2 asks for the
// space twice per read and commits an empty read after each (harmless by contract).

/// Buffer sizes: the tightest one for an 8-byte delimiter, two small ones where limits are hit
/// all the time, and one where long lines and many lines per read are common.
const CAPACITIES: [usize; 4] = [9, 16, 72, 3000];

/// How many full comparisons with the model one run makes along the way, besides the final
/// one: at the first `MODEL_CHECKS` reads, then at every power of two, so early reads (where
/// bugs at buffer boundaries show) are all covered and the cost stays linear in the stream.
const MODEL_CHECKS: usize = 64;

fuzz_target!(|case: (Header, Experiment)| {
    let (header, experiment) = case;
    match CAPACITIES[usize::from(header.capacity) % CAPACITIES.len()] {
        9 => run::<9>(&header, experiment),
        16 => run::<16>(&header, experiment),
        72 => run::<72>(&header, experiment),
        _ => run::<3000>(&header, experiment),
    }
});

fn run<const N: usize>(h: &Header, experiment: Experiment) {
    let Experiment {
        mut protocol,
        input,
        schedule,
    } = experiment;
    let delimiter = protocol.delimiter.clone();
    let d = match Delimiter::new(&delimiter) {
        Ok(d) => {
            assert!((1..=8).contains(&delimiter.len()), "accepted {delimiter:?}");
            d
        }
        Err(error) => {
            let expected = if delimiter.is_empty() {
                ConfigError::EmptyDelimiter
            } else {
                ConfigError::DelimiterTooLong {
                    len: delimiter.len(),
                }
            };
            assert_eq!(error, expected);
            return;
        }
    };
    let capacity = N - delimiter.len();
    h.fold_max_line(&mut protocol, capacity);
    let max_line = protocol.max_line;
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
    let idle_calls = h.mode & 4 != 0;
    let reads = if schedule.reads.is_empty() {
        vec![0]
    } else {
        schedule.reads
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
        let want = match reads[step % reads.len()] {
            0 => offered,
            n => n,
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
        if step < MODEL_CHECKS || step.is_power_of_two() {
            assert_eq!(
                frames,
                protocol.frames(&input[..pos], Ending::Open),
                "a frame the model already sees was not handed out, or a wrong one was"
            );
        }
        step += 1;
    }

    let ending = if schedule.ending == Ending::Eof {
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
    assert_eq!(frames, protocol.frames(&input, ending));
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
