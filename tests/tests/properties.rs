//! Properties of the core state machine, checked against the plain model in
//! `chatecho_tests::model`: for any bytes, delimiter, limit, prefix and quit line, any split of
//! the input into reads and any schedule of output drains, the session answers exactly what the
//! model does, within its fixed buffers, without stalling or panicking.

use chatecho_core::{Buffers, Delimiter, EndReason, Frame, Framer, OwnedBuffers, Session, State};
use chatecho_tests::model::{Ending, Protocol};
use proptest::prelude::*;

/// Buffers small enough that limits, wrap-around and backpressure happen constantly:
/// lines up to 64 bytes with delimiters up to 8, replies up to 8 + 64 + 8 bytes.
const IN: usize = 72;
const OUT: usize = 128;
type SmallSession<'c> = Session<'c, OwnedBuffers<IN, OUT>>;

/// Delimiters that matter: the seed's, one byte, ones that overlap themselves, and random
/// ones over a small alphabet so that near-misses are frequent.
fn delimiter() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"\r\n".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"aab".to_vec()),
        Just(b"\r\r\n".to_vec()),
        Just(b"abab".to_vec()),
        Just(b"aaaaaaaa".to_vec()),
        prop::collection::vec(prop::sample::select(b"ab\r\n.".to_vec()), 1..=8),
    ]
}

fn protocol() -> impl Strategy<Value = Protocol> {
    (
        delimiter(),
        prop::collection::vec(any::<u8>(), 0..=8),
        prop_oneof![
            3 => Just(Some(b".".to_vec())),
            1 => Just(None),
            1 => prop::collection::vec(prop::sample::select(b".ab\r".to_vec()), 0..=3).prop_map(Some),
        ],
        1..=64usize,
    )
        .prop_map(|(delimiter, prefix, quit_line, max_line)| Protocol {
            // A quit line over the limit is refused by Session::new (tested in core).
            max_line: max_line.max(quit_line.as_ref().map_or(0, Vec::len)),
            delimiter,
            prefix,
            quit_line,
        })
}

/// Input built from pieces that form lines: runs of bytes (mostly from the delimiter's own
/// alphabet), whole delimiters, quit lines and long runs that exceed the limit.
fn input(p: &Protocol) -> impl Strategy<Value = Vec<u8>> {
    let delimiter = p.delimiter.clone();
    let quit = p.quit_line.clone().unwrap_or_default();
    let piece = prop_oneof![
        4 => prop::collection::vec(
            prop_oneof![prop::sample::select(b"ab\r\n.x".to_vec()), any::<u8>()],
            0..12
        ),
        3 => Just(delimiter.clone()),
        1 => Just([quit, delimiter].concat()),
        1 => (60..200usize).prop_map(|n| vec![b'x'; n]),
    ];
    prop::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

#[derive(Debug, Clone, Copy)]
enum End {
    StayOpen,
    Eof,
    Shutdown,
}

fn end() -> impl Strategy<Value = End> {
    prop_oneof![Just(End::StayOpen), Just(End::Eof), Just(End::Shutdown)]
}

/// Runs the session like a driver would, with reads of the given sizes and drains of the
/// given sizes (both cycled), and returns everything it sent.
fn run(
    session: &mut SmallSession<'_>,
    input: &[u8],
    reads: &[usize],
    drains: &[usize],
    end: End,
) -> Vec<u8> {
    let mut sent = Vec::new();
    let mut drains = drains.iter().cycle();
    let mut drain = |session: &mut SmallSession<'_>, at_least: usize| {
        let n = (*drains.next().unwrap())
            .max(at_least)
            .min(session.output().len());
        sent.extend_from_slice(&session.output()[..n]);
        session.consume_output(n);
    };
    let mut reads = reads.iter().cycle();
    let mut pos = 0;
    while pos < input.len() && session.end_reason().is_none() {
        let space = session.input_space();
        if space.is_empty() {
            assert!(
                !session.output().is_empty(),
                "stalled: input refused with nothing to send"
            );
            drain(session, 1);
            continue;
        }
        let n = (*reads.next().unwrap())
            .min(space.len())
            .min(input.len() - pos);
        space[..n].copy_from_slice(&input[pos..pos + n]);
        session.commit_input(n);
        pos += n;
        assert!(session.output().len() <= OUT);
        assert!(session.buffered_input() <= IN);
        drain(session, 0);
    }
    match end {
        End::StayOpen => {}
        End::Eof => session.input_eof(),
        End::Shutdown => session.shutdown(),
    }
    while !session.output().is_empty() {
        drain(session, 1);
    }
    sent
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn session_answers_exactly_what_the_model_does(
        (p, input) in protocol().prop_flat_map(|p| { let i = input(&p); (Just(p), i) }),
        reads in prop::collection::vec(1..=80usize, 1..20),
        drains in prop::collection::vec(0..=100usize, 1..20),
        end in end(),
    ) {
        let config = p.config().unwrap();
        let mut session = SmallSession::new(&config, Buffers::owned()).unwrap();
        let sent = run(&mut session, &input, &reads, &drains, end);

        let ending = if matches!(end, End::Eof) { Ending::Eof } else { Ending::Open };
        let expected = p.expected(&input, ending);
        prop_assert_eq!(&sent, &expected.output);
        prop_assert_eq!(session.stats().lines_echoed, expected.lines_echoed);
        prop_assert_eq!(session.stats().lines_too_long, expected.lines_too_long);
        prop_assert_eq!(session.stats().bytes_out, sent.len() as u64);

        let expected_reason = match (expected.quit, end) {
            (true, _) => Some(EndReason::QuitLine),
            (false, End::StayOpen) => None,
            (false, End::Eof) => Some(EndReason::InputEnded),
            (false, End::Shutdown) => Some(EndReason::Shutdown),
        };
        prop_assert_eq!(session.end_reason(), expected_reason);
        let expected_state = expected_reason.map_or(State::Open, State::Closed);
        prop_assert_eq!(session.state(), expected_state);
    }

    #[test]
    fn framer_finds_exactly_the_model_lines(
        (p, input) in protocol().prop_flat_map(|p| { let i = input(&p); (Just(p), i) }),
        reads in prop::collection::vec(1..=80usize, 1..20),
        eof in any::<bool>(),
    ) {
        let mut framer =
            Framer::new([0u8; IN], Delimiter::new(&p.delimiter).unwrap(), p.max_line).unwrap();
        let mut frames = Vec::new();
        let mut take = |framer: &mut Framer<[u8; IN]>| {
            while let Some(frame) = framer.next_frame() {
                frames.push(match frame {
                    Frame::Line(line) => Some(line.to_vec()),
                    Frame::TooLong => None,
                });
            }
        };
        let mut pos = 0;
        for &read in reads.iter().cycle() {
            if pos == input.len() {
                break;
            }
            let space = framer.space();
            prop_assert!(!space.is_empty(), "framer stalled with no frame pending");
            let n = read.min(space.len()).min(input.len() - pos);
            space[..n].copy_from_slice(&input[pos..pos + n]);
            framer.commit(n);
            pos += n;
            take(&mut framer);
            prop_assert!(framer.buffered() <= IN);
        }
        if eof {
            framer.finish();
            take(&mut framer);
        }
        let ending = if eof { Ending::Eof } else { Ending::Open };
        prop_assert_eq!(frames, p.frames(&input, ending));
    }

    /// The quit line arriving split across reads, at any split point, in any protocol.
    #[test]
    fn quit_line_split_anywhere_still_quits(
        p in protocol(),
        split in 0..=16usize,
    ) {
        let Some(quit) = p.quit_line.clone() else { return Ok(()); };
        if quit.len() > p.max_line || quit.windows(p.delimiter.len()).any(|w| w == p.delimiter) {
            return Ok(());
        }
        let input = [&b"x"[..], &p.delimiter, &quit, &p.delimiter, b"after", &p.delimiter].concat();
        let split = split.min(input.len());
        let config = p.config().unwrap();
        let mut session = SmallSession::new(&config, Buffers::owned()).unwrap();
        let sent = run(&mut session, &input, &[split.max(1), input.len()], &[1000], End::StayOpen);
        let expected = p.expected(&input, Ending::Open);
        prop_assert_eq!(sent, expected.output);
        prop_assert_eq!(session.end_reason(), p.expected(&input, Ending::Open).quit.then_some(EndReason::QuitLine));
    }
}
