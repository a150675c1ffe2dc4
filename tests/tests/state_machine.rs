//! The session as a state machine, in the style of proptest-state-machine: random sequences
//! of operations (feed bytes, drain output, end of input, shut down, reset, take the storage
//! out and give it or other storage back) applied both to a real session and to a reference
//! state machine built on the model of `chatecho-model`, which predicts what every operation
//! must do. A failing sequence shrinks to the fewest, simplest operations that still fail.
//!
//! The reference predicts exactly because the session's output buffer is larger than all the
//! replies one sequence can produce: input is never held back, so every byte fed while open
//! and holding storage is taken. (Backpressure is the business of `properties.rs`.)

use chatecho_core::{Buffers, Config, EndReason, OwnedBuffers, Session, State, StorageError};
use chatecho_model::strategy::{self, INPUT_CAPACITY, cases};
use chatecho_model::{Ending, Expected, Give, Protocol, StorageRule};
use proptest::prelude::*;
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest, prop_state_machine};

/// Output room for every reply of the longest sequence: 40 feeds of one piece of input each
/// make at most 480 replies of at most 80 bytes (a piece with many lines has short ones).
const OUTPUT: usize = 48 * 1024;
type Storage = OwnedBuffers<INPUT_CAPACITY, OUTPUT>;

/// One operation on a session.
#[derive(Clone)]
enum Op {
    /// The peer sends these bytes ([`Session::feed`]).
    Feed(Vec<u8>),
    /// The application sends up to this many bytes of output ([`Session::read_output`]).
    Drain(usize),
    /// [`Session::input_eof`].
    InputEof,
    /// [`Session::shutdown`].
    Shutdown,
    /// [`Session::reset`].
    Reset,
    /// [`Session::take_storage`].
    TakeStorage,
    /// [`Session::give_storage`]: the storage that came out, or other storage.
    GiveStorage(Give),
}

impl std::fmt::Debug for Op {
    /// Fed bytes as an escaped byte string, as a test would write them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Feed(bytes) => write!(f, "Feed(b\"{}\")", bytes.escape_ascii()),
            Self::Drain(n) => write!(f, "Drain({n})"),
            Self::InputEof => f.write_str("InputEof"),
            Self::Shutdown => f.write_str("Shutdown"),
            Self::Reset => f.write_str("Reset"),
            Self::TakeStorage => f.write_str("TakeStorage"),
            Self::GiveStorage(which) => write!(f, "GiveStorage({which:?})"),
        }
    }
}

/// What the last operation must have done, as the reference predicts it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// Nothing to compare beyond the state after it.
    Nothing,
    /// Fed bytes: how many must be taken, at least and at most (after the quit line, how
    /// much of a piece is taken depends on the buffer; all of it is ignored).
    Taken { at_least: usize, at_most: usize },
    /// Drained: exactly these bytes.
    Drained(Vec<u8>),
    /// Storage taken out, or refused with one of these errors.
    Took(Result<(), Vec<StorageError>>),
    /// Storage given, or refused with this error.
    Gave(Result<(), StorageError>),
}

/// The reference state machine: the conversation so far, as the model sees it.
#[derive(Debug, Clone)]
struct Reference {
    protocol: Protocol,
    /// Bytes the session took since it started or was reset.
    delivered: Vec<u8>,
    /// Output bytes drained since then.
    drained: usize,
    /// How input was ended by the caller, if it was.
    ended: Option<Ending>,
    /// Whether the storage is out.
    storage_out: bool,
    /// What the last operation must have done.
    outcome: Outcome,
}

impl Reference {
    fn ending(&self) -> Ending {
        self.ended.unwrap_or(Ending::Open)
    }

    fn expected(&self) -> Expected {
        self.protocol.expected(&self.delivered, self.ending())
    }

    /// Whether input has ended, by the caller or by the quit line.
    fn input_ended(&self, expected: &Expected) -> bool {
        self.ended.is_some() || expected.quit
    }

    /// The bytes the model owes now and the session has not sent.
    fn owed(&self, expected: &Expected) -> usize {
        let owed = if self.input_ended(expected) {
            expected.output.len()
        } else {
            expected.owed_by(self.delivered.len())
        };
        owed - self.drained
    }

    fn storage_rule(&self, expected: &Expected) -> StorageRule {
        let ended = self.input_ended(expected);
        expected.storage_rule(&self.protocol, self.delivered.len(), self.drained, ended)
    }

    /// The state the session must be in.
    fn state(&self) -> State {
        let expected = self.expected();
        match expected.reason {
            None => State::Open,
            Some(reason) if self.owed(&expected) > 0 => State::Closing(reason),
            Some(reason) => State::Closed(reason),
        }
    }
}

struct SessionMachine;

impl ReferenceStateMachine for SessionMachine {
    type State = Reference;
    type Transition = Op;

    fn init_state() -> BoxedStrategy<Reference> {
        strategy::protocol()
            .prop_map(|protocol| Reference {
                protocol,
                delivered: Vec::new(),
                drained: 0,
                ended: None,
                storage_out: false,
                outcome: Outcome::Nothing,
            })
            .boxed()
    }

    fn transitions(state: &Reference) -> BoxedStrategy<Op> {
        // Feeds are pieces of the protocol's own inputs: lines, delimiters, near misses, the
        // quit line, lines around the limit.
        let feed = strategy::piece(&state.protocol).prop_map(Op::Feed);
        prop_oneof![
            6 => feed,
            4 => prop_oneof![1..=8usize, Just(usize::MAX)].prop_map(Op::Drain),
            1 => Just(Op::InputEof),
            1 => Just(Op::Shutdown),
            1 => Just(Op::Reset),
            2 => Just(Op::TakeStorage),
            2 => prop_oneof![Just(Give::Same), Just(Give::Other)].prop_map(Op::GiveStorage),
        ]
        .boxed()
    }

    /// Storage is asked for only where the model knows the answer: not while a line over
    /// the limit is being discarded, where either answer is right.
    fn preconditions(state: &Reference, op: &Op) -> bool {
        match op {
            Op::TakeStorage if !state.storage_out => {
                state.storage_rule(&state.expected()) != StorageRule::EitherWay
            }
            _ => true,
        }
    }

    fn apply(mut state: Reference, op: &Op) -> Reference {
        let expected = state.expected();
        let open = !state.input_ended(&expected) && !state.storage_out;
        state.outcome = match op {
            Op::Feed(bytes) if open => {
                let mut fed = state.delivered.clone();
                fed.extend_from_slice(bytes);
                let after = state.protocol.expected(&fed, Ending::Open);
                let at_least = match (after.quit, after.line_ends.last()) {
                    // Taken up to the end of the quit line at least; the rest is ignored.
                    (true, Some(&end)) => end - state.delivered.len(),
                    _ => bytes.len(),
                };
                state.delivered = fed;
                Outcome::Taken {
                    at_least,
                    at_most: bytes.len(),
                }
            }
            Op::Feed(_) => Outcome::Taken {
                at_least: 0,
                at_most: 0,
            },
            Op::Drain(n) => {
                let n = (*n).min(state.owed(&expected));
                let start = state.drained;
                state.drained += n;
                Outcome::Drained(expected.output[start..start + n].to_vec())
            }
            Op::InputEof | Op::Shutdown => {
                if !state.input_ended(&expected) {
                    let ending = match op {
                        Op::InputEof => Ending::Eof,
                        _ => Ending::Shutdown,
                    };
                    state.ended = Some(ending);
                }
                Outcome::Nothing
            }
            Op::Reset => {
                state.delivered.clear();
                state.drained = 0;
                state.ended = None;
                Outcome::Nothing
            }
            Op::TakeStorage if state.storage_out => {
                Outcome::Took(Err(vec![StorageError::NoStorage]))
            }
            Op::TakeStorage => match state.storage_rule(&expected) {
                StorageRule::Allowed => {
                    state.storage_out = true;
                    Outcome::Took(Ok(()))
                }
                _ => Outcome::Took(Err(vec![
                    StorageError::InputBuffered,
                    StorageError::OutputQueued,
                ])),
            },
            Op::GiveStorage(_) if state.storage_out => {
                state.storage_out = false;
                Outcome::Gave(Ok(()))
            }
            Op::GiveStorage(_) => Outcome::Gave(Err(StorageError::HasStorage)),
        };
        state
    }
}

/// The system under test: a session, its storage while it is out, and a spare.
struct Machine {
    session: Session<'static, Storage>,
    out: Option<Storage>,
    spare: Storage,
    /// Bytes the session took since it started or was reset.
    taken: u64,
}

/// Storage with other bytes in it than a fresh one's zeros.
fn spare() -> Storage {
    Buffers::new([0xA5; INPUT_CAPACITY], [0x5A; OUTPUT])
}

impl StateMachineTest for SessionMachine {
    type SystemUnderTest = Machine;
    type Reference = SessionMachine;

    fn init_test(reference: &Reference) -> Machine {
        // A session borrows its configuration for as long as it lives; one configuration per
        // case, leaked, lives long enough.
        let config: &'static Config = Box::leak(Box::new(reference.protocol.config().unwrap()));
        Machine {
            session: Session::new(config, Buffers::owned()).unwrap(),
            out: None,
            spare: spare(),
            taken: 0,
        }
    }

    fn apply(mut m: Machine, reference: &Reference, op: Op) -> Machine {
        let s = &mut m.session;
        let outcome = match op {
            Op::Feed(bytes) => {
                let taken = s.feed(&bytes);
                m.taken += taken as u64;
                let Outcome::Taken { at_least, at_most } = reference.outcome else {
                    unreachable!()
                };
                assert!(
                    (at_least..=at_most).contains(&taken),
                    "took {taken} of {} bytes, the model says {at_least} to {at_most}",
                    bytes.len()
                );
                reference.outcome.clone()
            }
            Op::Drain(n) => {
                let mut out = vec![0; n.min(OUTPUT)];
                let got = s.read_output(&mut out);
                out.truncate(got);
                Outcome::Drained(out)
            }
            Op::InputEof => {
                s.input_eof();
                Outcome::Nothing
            }
            Op::Shutdown => {
                s.shutdown();
                Outcome::Nothing
            }
            Op::Reset => {
                s.reset();
                m.taken = 0;
                Outcome::Nothing
            }
            Op::TakeStorage => match s.take_storage() {
                Ok(storage) => {
                    m.out = Some(storage);
                    Outcome::Took(Ok(()))
                }
                Err(error) => {
                    let Outcome::Took(Err(allowed)) = &reference.outcome else {
                        panic!("refused with {error:?}, the model says it must work");
                    };
                    assert!(
                        allowed.contains(&error),
                        "{error:?} is not one of {allowed:?}"
                    );
                    reference.outcome.clone()
                }
            },
            Op::GiveStorage(which) => {
                let storage = match (m.out.take(), which) {
                    (Some(taken), Give::Same) => taken,
                    (Some(taken), Give::Other) => std::mem::replace(&mut m.spare, taken),
                    // Nothing out: a second storage, which must be refused and handed back.
                    (None, _) => spare(),
                };
                match s.give_storage(storage) {
                    Ok(()) => Outcome::Gave(Ok(())),
                    Err(refused) => {
                        m.out =
                            (refused.error != StorageError::HasStorage).then_some(refused.storage);
                        Outcome::Gave(Err(refused.error))
                    }
                }
            }
        };
        assert_eq!(outcome, reference.outcome);
        m
    }

    /// After every operation: the state, everything owed queued at once, the counters.
    fn check_invariants(m: &Machine, reference: &Reference) {
        let s = &m.session;
        let expected = reference.expected();
        assert_eq!(s.state(), reference.state(), "state");
        assert_eq!(s.has_storage(), !reference.storage_out, "has_storage");
        assert_eq!(s.output().len(), reference.owed(&expected), "output queued");
        let stats = s.stats();
        assert_eq!(stats.lines_echoed, expected.lines_echoed, "lines_echoed");
        assert_eq!(
            stats.lines_too_long, expected.lines_too_long,
            "lines_too_long"
        );
        assert_eq!(stats.bytes_out, reference.drained as u64, "bytes_out");
        assert_eq!(stats.bytes_in, m.taken, "bytes_in");
        if let State::Closed(EndReason::QuitLine | EndReason::InputEnded | EndReason::Shutdown) =
            s.state()
        {
            assert!(s.holds_nothing());
        }
    }
}

prop_state_machine! {
    // Shrinking removes operations one at a time and simplifies what is left: give it room
    // to get all the way to the shortest sequence.
    #![proptest_config(ProptestConfig { max_shrink_iters: 20_000, ..cases(256) })]

    #[test]
    fn the_session_does_what_the_reference_state_machine_predicts(
        sequential 1..40 => SessionMachine
    );
}
