//! Properties of the core state machine, checked against the reference model in
//! `chatecho-model`: for any bytes, delimiter, limit, prefix, quit line and error text, any
//! split of the input into reads, any schedule of output drains and of taking the storage out
//! and putting it (or other storage) back, the session answers exactly what the model does,
//! within its fixed buffers, without stalling or panicking. Case counts are modest so that
//! `cargo test --workspace` stays quick; `PROPTEST_CASES=20000` runs them longer.

use chatecho_core::{Delimiter, Frame, Framer, OwnedBuffers};
use chatecho_model::strategy::{self, INPUT_CAPACITY, SmallBuffers, cases};
use chatecho_model::{Ending, Experiment, Swapping, check};
use proptest::prelude::*;

/// Checks `experiment` on a fresh session in `S`, with a spare `S` to swap in.
fn check_in<const IN: usize, const OUT: usize>(
    experiment: &Experiment,
) -> Result<chatecho_model::Report, TestCaseError> {
    let config = experiment.protocol.config().unwrap();
    let mut session = Swapping::<OwnedBuffers<IN, OUT>>::owned(&config).unwrap();
    check(&mut session, experiment)
        .map_err(|divergence| TestCaseError::fail(divergence.to_string()))
}

proptest! {
    #![proptest_config(cases(256))]

    /// The whole protocol, storage moves included, in the smallest storage the protocols fit
    /// (limits and backpressure all the time) and in storage far larger than needed.
    #[test]
    fn session_answers_exactly_what_the_model_does(e in strategy::experiment()) {
        check_in::<{ INPUT_CAPACITY }, { strategy::OUTPUT_CAPACITY }>(&e)?;
        check_in::<300, 500>(&e)?;
    }

    /// The quit line arriving split across two reads, at every split point, in any protocol.
    #[test]
    fn quit_line_split_anywhere_still_quits(e in strategy::quit_line_across_reads()) {
        check_in::<{ INPUT_CAPACITY }, { strategy::OUTPUT_CAPACITY }>(&e)?;
    }

    /// `reset()` in the middle of anything (a partial line, replies queued and held back,
    /// after the end) starts a conversation that is exactly a new session's.
    #[test]
    fn a_reset_session_answers_like_a_new_one(
        e in strategy::experiment(),
        before in prop::collection::vec(any::<u8>(), 0..300),
        drained in 0..200usize,
        end_before in strategy::ending(),
    ) {
        let config = e.protocol.config().unwrap();
        let mut s = Swapping::<SmallBuffers>::owned(&config).unwrap();
        let mut rest = &before[..];
        while !rest.is_empty() {
            let n = s.session.feed(rest);
            if n == 0 {
                break;
            }
            rest = &rest[n..];
        }
        let n = drained.min(s.session.output().len());
        s.session.consume_output(n);
        match end_before {
            Ending::Open => {}
            Ending::Eof => s.session.input_eof(),
            Ending::Shutdown => s.session.shutdown(),
        }
        s.session.reset();
        prop_assert!(s.session.holds_nothing());
        check(&mut s, &e).map_err(|divergence| TestCaseError::fail(divergence.to_string()))?;
    }

    #[test]
    fn framer_finds_exactly_the_model_lines(
        (p, input) in strategy::protocol_and_input(),
        reads in strategy::reads(),
        eof in any::<bool>(),
    ) {
        const IN: usize = INPUT_CAPACITY;
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
            let n = if read == 0 { space.len() } else { read.min(space.len()) }.min(input.len() - pos);
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
}

/// Cases earlier runs of these properties shrank to, kept as explicit experiments (the
/// regression file's seeds stopped meaning anything when the strategies moved to
/// `chatecho-model`).
#[test]
fn regressions_found_by_earlier_runs() {
    use chatecho_model::{Protocol, Schedule};
    let x = |n| vec![b'x'; n];
    let aab = |prefix: &[u8], max_line| Protocol {
        delimiter: b"aab".to_vec(),
        prefix: prefix.to_vec(),
        quit_line: None,
        max_line,
        error_text: None,
    };
    let cases = [
        // The quit line split right after an eight-byte delimiter that overlaps itself.
        Experiment {
            protocol: Protocol {
                delimiter: b"aaaaaaba".to_vec(),
                prefix: Vec::new(),
                max_line: 1,
                ..Protocol::default()
            },
            input: b"xaaaaaaba.aaaaabaafteraaaaaaba".to_vec(),
            schedule: Schedule {
                reads: vec![8, 0],
                ..Schedule::default()
            },
        },
        // Near misses of a self-overlapping delimiter across reads.
        Experiment {
            protocol: aab(b"\x88 ", 56),
            input: b"aabaaaaaaaaaaaaaaabaabaabaaaaaaaaaaabaabaaa\raab".to_vec(),
            schedule: Schedule {
                reads: vec![3, 43, 56, 71, 47, 13, 37, 45, 43],
                ..Schedule::default()
            },
        },
        // Overlong lines of a self-overlapping delimiter under backpressure, then EOF.
        Experiment {
            protocol: aab(b"C~%", 43),
            input: [
                &b"aab3b\x16aab\r\xbb\xe5\xa3D\x01ax\nx\x93.\xafsbb\x87aab\xc5"[..],
                &x(190),
                b"aabaabax\xe2\rz0xa\xe1baabaabaab",
                &x(130),
                b"A=Yaabaab\xec6a\naab\xed\x93\xa1>\rb\x01\x8fMaa\xbc",
            ]
            .concat(),
            schedule: Schedule {
                reads: vec![7, 11, 10, 77, 25, 52, 4, 8, 35],
                drains: vec![37, 8, 40, 44, 52, 75, 42],
                ending: Ending::Eof,
                ..Schedule::default()
            },
        },
    ];
    for experiment in &cases {
        if let Err(divergence) =
            check_in::<{ INPUT_CAPACITY }, { strategy::OUTPUT_CAPACITY }>(experiment)
        {
            panic!("{experiment:?}\n{divergence}");
        }
    }
    // A quit line over the limit is refused, as the model says.
    let over = Protocol {
        quit_line: Some(b"...".to_vec()),
        max_line: 2,
        ..Protocol::default()
    };
    assert_eq!(over.config().err(), over.errors(100, 100).first().copied());
}
