//! The checker catches what it is for: subjects with planted bugs fail with a divergence
//! that points at the right step and byte, and the model agrees with itself.

use chatecho_core::{Config, OwnedBuffers, Session, State, Stats, StorageError};
use chatecho_model::strategy;
use chatecho_model::{Action, DivergenceKind, Ending, Experiment, Give, Protocol, check};
use chatecho_model::{Schedule, StorageRule, StorageStep, Subject, Swapping, Taking};
use proptest::prelude::*;

type Small<'c> = Swapping<'c, OwnedBuffers<22, 64>>;

fn protocol() -> Protocol {
    Protocol {
        max_line: 20,
        ..Protocol::default()
    }
}

fn experiment(input: &[u8], schedule: Schedule) -> Experiment {
    Experiment {
        protocol: protocol(),
        input: input.to_vec(),
        schedule,
    }
}

/// A session with one bug chosen by the test.
struct Buggy<'c> {
    inner: Small<'c>,
    bug: Bug,
    received: usize,
}

#[derive(Clone, Copy)]
enum Bug {
    /// Flips output byte `n`.
    FlipsByte(usize),
    /// Keeps replies back until the peer sends more.
    LateReplies,
    /// Gives its storage up even when it holds a partial line.
    GivesStorageUpTooEarly,
    /// Claims the input ended for good at end of input, even after the quit line.
    RewritesTheReason,
    /// Takes input, never answers, never sends.
    Silent,
}

impl Subject for Buggy<'_> {
    fn send(&mut self, bytes: &[u8]) -> usize {
        match self.bug {
            Bug::Silent => 0,
            _ => self.inner.send(bytes),
        }
    }

    fn receive(&mut self, buffer: &mut [u8]) -> usize {
        if matches!(self.bug, Bug::LateReplies | Bug::Silent) {
            return 0;
        }
        let n = self.inner.receive(buffer);
        if let Bug::FlipsByte(at) = self.bug
            && (self.received..self.received + n).contains(&at)
        {
            buffer[at - self.received] ^= 1;
        }
        self.received += n;
        n
    }

    fn end_input(&mut self) {
        self.inner.end_input();
    }

    fn shutdown(&mut self) {
        self.inner.shutdown();
    }

    fn state(&mut self) -> State {
        match (self.bug, self.inner.state()) {
            (Bug::RewritesTheReason, State::Closed(_)) if self.received > 0 => {
                State::Closed(chatecho_core::EndReason::InputEnded)
            }
            (_, state) => state,
        }
    }

    fn stats(&mut self) -> Option<Stats> {
        self.inner.stats()
    }

    fn take_storage(&mut self) -> Taking {
        match (self.bug, self.inner.take_storage()) {
            (Bug::GivesStorageUpTooEarly, Taking::Refused(StorageError::InputBuffered)) => {
                Taking::Taken
            }
            (_, taking) => taking,
        }
    }

    fn give_storage(&mut self, which: Give) -> Result<(), StorageError> {
        match self.inner.give_storage(which) {
            // What the bug claimed to have taken was never out.
            Err(StorageError::NoStorage) => Ok(()),
            result => result,
        }
    }
}

fn run(bug: Bug, experiment: &Experiment) -> Box<chatecho_model::Divergence> {
    let config = experiment.protocol.config().unwrap();
    let mut subject = Buggy {
        inner: Small::owned(&config).unwrap(),
        bug,
        received: 0,
    };
    check(&mut subject, experiment).expect_err("the bug went unnoticed")
}

#[test]
fn a_wrong_byte_is_reported_at_its_offset_with_the_bytes_around_it() {
    let e = experiment(b"one\r\ntwo\r\nthree\r\n", Schedule::default());
    // Byte 26 is the "w" of "You sent: two".
    let divergence = run(Bug::FlipsByte(26), &e);
    let DivergenceKind::Output {
        offset,
        expected,
        actual,
    } = &divergence.kind
    else {
        panic!("{divergence}");
    };
    assert_eq!(*offset, 26);
    assert_eq!(expected.bytes[26 - expected.start], b'w');
    assert_eq!(actual.bytes[26 - actual.start], b'v');
    let text = divergence.to_string();
    assert!(text.contains("output byte 26 differs"), "{text}");
    assert!(text.contains("You sent: two"), "{text}");
    assert!(text.contains("You sent: tvo"), "{text}");
}

#[test]
fn a_late_reply_is_reported_at_the_step_it_was_owed() {
    let schedule = Schedule {
        reads: vec![3],
        ..Schedule::default()
    };
    let divergence = run(Bug::LateReplies, &experiment(b"ab\r\ncd\r\n", schedule));
    // Step 0 offers "ab\r", step 1 "\ncd": the reply to "ab" is owed from then on.
    assert_eq!(divergence.step, 1);
    assert_eq!(divergence.delivered, 6);
    assert!(
        matches!(divergence.kind, DivergenceKind::Owed { owed: 14, .. }),
        "{divergence}"
    );
}

#[test]
fn storage_given_up_with_a_partial_line_is_caught() {
    let schedule = Schedule {
        reads: vec![3],
        storage: vec![StorageStep::Take(Give::Other)],
        ..Schedule::default()
    };
    let divergence = run(
        Bug::GivesStorageUpTooEarly,
        &experiment(b"abcdef\r\n", schedule),
    );
    assert_eq!(divergence.step, 1);
    assert_eq!(divergence.action, Action::TakeStorage);
    assert_eq!(
        divergence.kind,
        DivergenceKind::Storage {
            rule: StorageRule::Refused,
            outcome: Taking::Taken
        }
    );
}

#[test]
fn a_changed_end_reason_is_caught() {
    let schedule = Schedule {
        ending: Ending::Eof,
        ..Schedule::default()
    };
    let divergence = run(Bug::RewritesTheReason, &experiment(b"a\r\n.\r\n", schedule));
    assert!(
        matches!(divergence.kind, DivergenceKind::StateWentBack { .. }),
        "{divergence}"
    );
}

#[test]
fn a_silent_subject_is_stalled() {
    let divergence = run(Bug::Silent, &experiment(b"a\r\n", Schedule::default()));
    assert_eq!(divergence.kind, DivergenceKind::Stalled);
    assert_eq!(divergence.step, 0);
}

#[test]
fn the_session_passes_and_the_report_says_what_was_covered() {
    let schedule = Schedule {
        reads: vec![2, 5],
        drains: vec![0, 1, usize::MAX],
        storage: vec![StorageStep::Take(Give::Other)],
        ending: Ending::Shutdown,
    };
    let e = experiment(b"hello\r\nworld\r\npartial", schedule);
    let config = e.protocol.config().unwrap();
    let report = check(&mut Small::owned(&config).unwrap(), &e).unwrap();
    assert_eq!(report.delivered, e.input.len());
    assert_eq!(report.received, 34);
    assert_eq!(report.reason, Some(chatecho_core::EndReason::Shutdown));
    assert!(report.storage_taken > 0);
    assert!(report.storage_refused > 0);
}

#[test]
fn a_session_without_swapping_runs_the_same_schedule_without_storage_moves() {
    let config = Config::default().with_max_line(20).unwrap();
    let mut session = Session::new(&config, OwnedBuffers::<22, 64>::owned()).unwrap();
    let schedule = Schedule {
        storage: vec![StorageStep::Take(Give::Same)],
        ..Schedule::default()
    };
    let report = check(&mut session, &experiment(b"x\r\n", schedule)).unwrap();
    assert_eq!((report.storage_taken, report.storage_refused), (0, 0));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The model agrees with itself: what it owes after any prefix of the input is exactly
    /// what it answers to that prefix alone.
    #[test]
    fn what_is_owed_by_a_prefix_is_the_answer_to_that_prefix(
        (p, input) in strategy::protocol_and_input(),
        ending in strategy::ending(),
    ) {
        let whole = p.expected(&input, ending);
        for cut in 0..=input.len() {
            let prefix = p.expected(&input[..cut], Ending::Open);
            if prefix.quit {
                prop_assert!(whole.quit);
                break;
            }
            prop_assert_eq!(&whole.output[..whole.owed_by(cut)], &prefix.output[..]);
        }
    }
}
