//! One driver of experiments: run a [`Subject`] over an input, a split into reads, a
//! schedule of drains and of storage moves, and compare everything it does with the model.
//!
//! [`check`] plays the peer and the operator. Step by step it takes the storage out if the
//! schedule says so, sends the next piece of input, receives replies, and puts the storage
//! back; once the input is all sent it ends it as the schedule says and receives everything
//! still owed. After every call it compares with the [`Expected`] answer of the model:
//!
//! - every byte received, at its offset;
//! - promptness: when the subject says it has nothing more to send, it has sent exactly the
//!   replies owed for the input it took, no fewer (a lost or late reply) and no more;
//! - progress: a subject that takes no input and has nothing to send while open is stalled;
//! - the state only moves forward, and the end reason never changes once reported;
//! - storage: taking it out works whenever the model says the subject holds nothing, is
//!   refused whenever it holds bytes it needs, and no input is taken while it is out;
//! - at the end: all the output, the end reason, and the counters if the subject has them.
//!
//! The first difference ends the run with a [`Divergence`] that says where: the step, what
//! the step did, the byte offset, and the expected and actual bytes around it.

use crate::protocol::{Bytes, Ending, Expected, Protocol, StorageRule};
use crate::subject::{Give, Subject, Taking};
use chatecho_core::{EndReason, State, StorageError};
use core::fmt;

/// One experiment: a protocol, what the peer sends, and how the run is scheduled. Its `Debug`
/// shows the input as an escaped byte string.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Experiment {
    /// The protocol the subject was configured with.
    pub protocol: Protocol,
    /// Every byte the peer sends, in order.
    pub input: Vec<u8>,
    /// How the input is split, the output drained and the storage moved.
    pub schedule: Schedule,
}

impl fmt::Debug for Experiment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Experiment")
            .field("protocol", &self.protocol)
            .field("input", &Bytes(&self.input))
            .field("schedule", &self.schedule)
            .finish()
    }
}

/// How a run is split into steps. Each list is cycled, one entry per step; an empty list
/// means the default given for it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Schedule {
    /// How many input bytes the peer offers at each step; 0 offers all that is left.
    /// Default: all at once.
    pub reads: Vec<usize>,
    /// How many output bytes the peer receives after each offer: 0 lets replies pile up
    /// (backpressure), `usize::MAX` takes all there is. After an offer that was not taken
    /// at all the peer receives at least one byte, as a real peer must for the subject to
    /// go on. Default: all there is.
    pub drains: Vec<usize>,
    /// What happens to the storage at each step. Default: it stays in.
    pub storage: Vec<StorageStep>,
    /// How input ends after the last byte.
    pub ending: Ending,
}

impl Default for Schedule {
    /// All input at once, every reply received at once, storage kept, input left open.
    fn default() -> Self {
        Self {
            reads: Vec::new(),
            drains: Vec::new(),
            storage: Vec::new(),
            ending: Ending::Open,
        }
    }
}

/// What a step does with the subject's storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StorageStep {
    /// Leave it where it is.
    Keep,
    /// Take it out before the step's input is offered; while it is out, offer input (none
    /// may be taken) and ask for output (none may come); then give back the storage named.
    Take(Give),
}

/// What a run that agreed with the model did, so that a test can see what it covered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Report {
    /// Steps run.
    pub steps: usize,
    /// Input bytes the subject took.
    pub delivered: usize,
    /// Output bytes received: all the model's.
    pub received: usize,
    /// How the conversation ended, as the model and the subject agree.
    pub reason: Option<EndReason>,
    /// Times the storage came out.
    pub storage_taken: usize,
    /// Times taking it out was refused.
    pub storage_refused: usize,
}

/// Where a run first departed from the model.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Divergence {
    /// The step of the schedule (0 is the first).
    pub step: usize,
    /// What that step did last.
    pub action: Action,
    /// Input bytes the subject had taken.
    pub delivered: usize,
    /// Output bytes received and found right.
    pub received: usize,
    /// What was wrong.
    pub kind: DivergenceKind,
}

/// What a step does, as a [`Divergence`] reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Offered input bytes `offered.0..offered.1`.
    Send {
        /// The input range offered.
        offered: (usize, usize),
        /// How many of them were taken.
        taken: usize,
    },
    /// Asked for up to `asked` bytes of output.
    Receive {
        /// Bytes asked for (`usize::MAX`: all there is).
        asked: usize,
    },
    /// Asked for the storage.
    TakeStorage,
    /// Gave storage back.
    GiveStorage(Give),
    /// Ended input ([`Ending::Eof`]) or shut down ([`Ending::Shutdown`]).
    End(Ending),
    /// Looked at the final state and counters.
    Finish,
}

/// The ways a run can depart from the model.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DivergenceKind {
    /// A received byte differs from the model's.
    Output {
        /// Offset of the first differing byte in the output.
        offset: usize,
        /// The model's bytes around it, and where they start.
        expected: Window,
        /// The received bytes around it, and where they start.
        actual: Window,
    },
    /// More output than the model has.
    ExtraOutput {
        /// The model's output length.
        expected_len: usize,
        /// The extra bytes received, and where they start.
        actual: Window,
    },
    /// The subject said it had nothing more to send, but the output received so far is not
    /// what the model owes for the input taken so far (or, at the end, all of it).
    Owed {
        /// Bytes the model owes by now.
        owed: usize,
        /// What the model owes past what was received, or the extra received, and where.
        expected: Window,
    },
    /// Took more than it was offered.
    TookTooMuch,
    /// Took input while its storage was out.
    TookWithoutStorage,
    /// Sent output while its storage was out.
    SentWithoutStorage,
    /// Open, took no input and had nothing to send.
    Stalled,
    /// The state moved backwards, or the end reason changed.
    StateWentBack {
        /// The state before.
        from: State,
        /// The state after.
        to: State,
    },
    /// The final state is not the model's.
    FinalState {
        /// The model's end reason (`None`: still open).
        expected: Option<EndReason>,
        /// The subject's state.
        actual: State,
    },
    /// Taking the storage out did not do what the model says.
    Storage {
        /// What the model says.
        rule: StorageRule,
        /// What the subject did.
        outcome: Taking,
    },
    /// Giving storage back was refused.
    StorageNotTakenBack(StorageError),
    /// A counter differs from the model's.
    Counter {
        /// Which counter.
        name: &'static str,
        /// The model's value.
        expected: u64,
        /// The subject's value.
        actual: u64,
    },
}

/// A few bytes around an offset, for a readable report.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Window {
    /// Offset of the first byte shown.
    pub start: usize,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// Bytes shown on each side of a difference.
const CONTEXT: usize = 24;

impl Window {
    fn around(bytes: &[u8], offset: usize) -> Self {
        let start = offset.saturating_sub(CONTEXT).min(bytes.len());
        let end = offset.saturating_add(CONTEXT).min(bytes.len());
        Self {
            start,
            bytes: bytes[start..end].to_vec(),
        }
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let end = self.start + self.bytes.len();
        write!(
            f,
            "[{}..{end}] \"{}\"",
            self.start,
            self.bytes.escape_ascii()
        )
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Send {
                offered: (from, to),
                taken,
            } => write!(f, "offered input bytes {from}..{to}, {taken} taken"),
            Self::Receive { asked: usize::MAX } => f.write_str("received all there was"),
            Self::Receive { asked } => write!(f, "received up to {asked} bytes"),
            Self::TakeStorage => f.write_str("asked for the storage"),
            Self::GiveStorage(which) => write!(f, "gave storage back ({which:?})"),
            Self::End(Ending::Eof) => f.write_str("ended input"),
            Self::End(Ending::Shutdown) => f.write_str("shut down"),
            Self::End(Ending::Open) => f.write_str("left input open"),
            Self::Finish => f.write_str("finished"),
        }
    }
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "diverged from the model at step {} ({}), after {} input bytes taken and {} \
             output bytes received:",
            self.step, self.action, self.delivered, self.received
        )?;
        match &self.kind {
            DivergenceKind::Output {
                offset,
                expected,
                actual,
            } => write!(
                f,
                "  output byte {offset} differs\n  expected {expected}\n  actual   {actual}"
            ),
            DivergenceKind::ExtraOutput {
                expected_len,
                actual,
            } => write!(
                f,
                "  output beyond the model's {expected_len} bytes\n  actual   {actual}"
            ),
            DivergenceKind::Owed { owed, expected } => write!(
                f,
                "  the model owes {owed} output bytes by now, but the subject says it has \
                 nothing more to send\n  expected {expected}"
            ),
            DivergenceKind::TookTooMuch => f.write_str("  took more input than offered"),
            DivergenceKind::TookWithoutStorage => {
                f.write_str("  took input while its storage was out")
            }
            DivergenceKind::SentWithoutStorage => {
                f.write_str("  sent output while its storage was out")
            }
            DivergenceKind::Stalled => {
                f.write_str("  stalled: open, took no input and had nothing to send")
            }
            DivergenceKind::StateWentBack { from, to } => {
                write!(f, "  the state went from {from:?} to {to:?}")
            }
            DivergenceKind::FinalState { expected, actual } => write!(
                f,
                "  final state {actual:?}, the model ends with reason {expected:?}"
            ),
            DivergenceKind::Storage { rule, outcome } => write!(
                f,
                "  taking the storage out: the model says {rule:?}, the subject did {outcome:?}"
            ),
            DivergenceKind::StorageNotTakenBack(error) => {
                write!(f, "  giving the storage back was refused: {error}")
            }
            DivergenceKind::Counter {
                name,
                expected,
                actual,
            } => write!(f, "  counter {name} is {actual}, the model says {expected}"),
        }
    }
}

impl std::error::Error for Divergence {}

/// Runs `subject`, a fresh conversation configured with `experiment.protocol`, through the
/// experiment and compares everything it does with the model. Returns what the run covered,
/// or the first divergence (boxed: it carries the bytes around the difference).
///
/// ```
/// use chatecho_core::{Buffers, OwnedBuffers, Session};
/// use chatecho_model::{check, Ending, Experiment, Protocol, Schedule};
///
/// let protocol = Protocol { max_line: 20, ..Protocol::default() };
/// let config = protocol.config()?;
/// let mut session = Session::new(&config, OwnedBuffers::<22, 40>::owned())?;
/// let experiment = Experiment {
///     protocol,
///     input: b"one\r\ntwo\r\nthree".to_vec(),
///     schedule: Schedule { reads: vec![1, 4], drains: vec![0, 3], ending: Ending::Eof, ..Schedule::default() },
/// };
/// let report = check(&mut session, &experiment)?;
/// assert_eq!(report.received, b"You sent: one\r\nYou sent: two\r\nYou sent: three\r\n".len());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn check<S: Subject + ?Sized>(
    subject: &mut S,
    experiment: &Experiment,
) -> Result<Report, Box<Divergence>> {
    Run::new(subject, experiment).go()
}

/// One run of [`check`]: the subject, what the model expects, and how far it got.
struct Run<'a, S: ?Sized> {
    subject: &'a mut S,
    protocol: &'a Protocol,
    input: &'a [u8],
    schedule: &'a Schedule,
    expected: Expected,
    received: Vec<u8>,
    delivered: usize,
    step: usize,
    action: Action,
    state: State,
    report: Report,
}

impl<'a, S: Subject + ?Sized> Run<'a, S> {
    fn new(subject: &'a mut S, experiment: &'a Experiment) -> Self {
        let schedule = &experiment.schedule;
        Self {
            subject,
            protocol: &experiment.protocol,
            input: &experiment.input,
            schedule,
            expected: experiment
                .protocol
                .expected(&experiment.input, schedule.ending),
            received: Vec::new(),
            delivered: 0,
            step: 0,
            action: Action::Finish,
            state: State::Open,
            report: Report::default(),
        }
    }

    fn go(mut self) -> Result<Report, Box<Divergence>> {
        self.observe_state()?;
        // The peer sends, step by step, until all is sent or input has ended.
        while self.delivered < self.input.len() && self.state == State::Open {
            self.storage_round(true)?;
            let taken = self.send()?;
            let mut drain = cycled(&self.schedule.drains, self.step, usize::MAX);
            if taken == 0 {
                drain = drain.max(1);
            }
            let got = self.receive(drain)?;
            if taken == 0 && got == 0 && self.state == State::Open {
                return Err(self.diverged(DivergenceKind::Stalled));
            }
            self.step += 1;
        }
        // Input ends as the schedule says, even after the quit line: it must change nothing.
        self.action = Action::End(self.schedule.ending);
        match self.schedule.ending {
            Ending::Open => {}
            Ending::Eof => self.subject.end_input(),
            Ending::Shutdown => self.subject.shutdown(),
        }
        self.observe_state()?;
        // The peer receives everything still owed, with the schedule's drain sizes.
        loop {
            self.storage_round(false)?;
            let drain = cycled(&self.schedule.drains, self.step, usize::MAX).max(1);
            let got = self.receive(drain)?;
            self.step += 1;
            if got == 0 {
                break;
            }
        }
        self.finish()
    }

    /// Offers the next piece of input; returns how much was taken.
    fn send(&mut self) -> Result<usize, Box<Divergence>> {
        let rest = self.input.len() - self.delivered;
        let size = match cycled(&self.schedule.reads, self.step, 0) {
            0 => rest,
            size => size.min(rest),
        };
        let offered = &self.input[self.delivered..self.delivered + size];
        let taken = self.subject.send(offered);
        self.action = Action::Send {
            offered: (self.delivered, self.delivered + size),
            taken,
        };
        if taken > size {
            return Err(self.diverged(DivergenceKind::TookTooMuch));
        }
        self.delivered += taken;
        self.observe_state()?;
        Ok(taken)
    }

    /// Receives up to `asked` bytes, checking each against the model's output and, when the
    /// subject runs out, that nothing owed by now is missing. Returns how many were received.
    fn receive(&mut self, asked: usize) -> Result<usize, Box<Divergence>> {
        self.action = Action::Receive { asked };
        let mut buffer = [0u8; 1024];
        let mut got = 0;
        while got < asked {
            let want = (asked - got).min(buffer.len());
            let n = self.subject.receive(&mut buffer[..want]).min(want);
            self.compare(&buffer[..n])?;
            got += n;
            if n < want {
                // Nothing more to send: all that is owed must have been sent.
                self.observe_state()?;
                self.check_owed()?;
                break;
            }
        }
        self.observe_state()?;
        Ok(got)
    }

    /// Checks newly received bytes against the model's output at their offset.
    fn compare(&mut self, bytes: &[u8]) -> Result<(), Box<Divergence>> {
        let at = self.received.len();
        let model = &self.expected.output;
        let expected = &model[at.min(model.len())..model.len().min(at + bytes.len())];
        if let Some(i) = (0..expected.len()).find(|&i| expected[i] != bytes[i]) {
            self.received.extend_from_slice(bytes);
            let offset = at + i;
            return Err(self.diverged(DivergenceKind::Output {
                offset,
                expected: Window::around(model, offset),
                actual: Window::around(&self.received, offset),
            }));
        }
        self.received.extend_from_slice(bytes);
        if self.received.len() > model.len() {
            let expected_len = model.len();
            return Err(self.diverged(DivergenceKind::ExtraOutput {
                expected_len,
                actual: Window::around(&self.received, expected_len),
            }));
        }
        Ok(())
    }

    /// When the subject has nothing more to send: exactly the replies owed by now were sent.
    fn check_owed(&mut self) -> Result<(), Box<Divergence>> {
        let owed = match self.state {
            State::Open => self.expected.owed_by(self.delivered),
            _ => self.expected.output.len(),
        };
        if self.received.len() == owed {
            return Ok(());
        }
        let shown = if self.received.len() < owed {
            Window::around(&self.expected.output[..owed], self.received.len())
        } else {
            Window::around(&self.received, owed)
        };
        Err(self.diverged(DivergenceKind::Owed {
            owed,
            expected: shown,
        }))
    }

    /// Reads the subject's state: it only moves forward, and a reason never changes.
    fn observe_state(&mut self) -> Result<(), Box<Divergence>> {
        let state = self.subject.state();
        let knows_reason = self.subject.knows_end_reason();
        let forward = match (self.state, state) {
            (State::Open, _) => true,
            (State::Closing(a), State::Closing(b) | State::Closed(b)) => a == b || !knows_reason,
            (State::Closed(a), State::Closed(b)) => a == b || !knows_reason,
            _ => false,
        };
        if !forward {
            let from = self.state;
            return Err(self.diverged(DivergenceKind::StateWentBack { from, to: state }));
        }
        self.state = state;
        Ok(())
    }

    /// Takes the storage out if the schedule says so at this step, checking the answer
    /// against the model; while it is out, checks that the subject takes no input (when
    /// `offer` and input is left) and sends nothing; then gives storage back.
    fn storage_round(&mut self, offer: bool) -> Result<(), Box<Divergence>> {
        let step = cycled(&self.schedule.storage, self.step, StorageStep::Keep);
        let StorageStep::Take(which) = step else {
            return Ok(());
        };
        self.action = Action::TakeStorage;
        let ended = self.state != State::Open;
        let rule =
            self.expected
                .storage_rule(self.protocol, self.delivered, self.received.len(), ended);
        let outcome = self.subject.take_storage();
        let right = match (rule, outcome) {
            (_, Taking::Unsupported) => true,
            (StorageRule::Allowed | StorageRule::EitherWay, Taking::Taken) => true,
            (StorageRule::Refused | StorageRule::EitherWay, Taking::Refused(error)) => matches!(
                error,
                StorageError::InputBuffered | StorageError::OutputQueued
            ),
            _ => false,
        };
        if !right {
            return Err(self.diverged(DivergenceKind::Storage { rule, outcome }));
        }
        self.observe_state()?;
        match outcome {
            Taking::Taken => self.report.storage_taken += 1,
            Taking::Refused(_) => {
                self.report.storage_refused += 1;
                return Ok(());
            }
            Taking::Unsupported => return Ok(()),
        }
        let rest = &self.input[self.delivered..];
        if offer && !rest.is_empty() {
            let taken = self.subject.send(rest);
            self.action = Action::Send {
                offered: (self.delivered, self.input.len()),
                taken,
            };
            if taken > 0 {
                return Err(self.diverged(DivergenceKind::TookWithoutStorage));
            }
        }
        self.action = Action::Receive { asked: 1 };
        if self.subject.receive(&mut [0u8; 1]) > 0 {
            return Err(self.diverged(DivergenceKind::SentWithoutStorage));
        }
        self.observe_state()?;
        self.action = Action::GiveStorage(which);
        if let Err(error) = self.subject.give_storage(which) {
            return Err(self.diverged(DivergenceKind::StorageNotTakenBack(error)));
        }
        self.observe_state()
    }

    /// The end: all output received, the model's end reason, the model's counters.
    fn finish(mut self) -> Result<Report, Box<Divergence>> {
        self.action = Action::Finish;
        self.check_owed()?;
        let state = self.subject.state();
        let expected = self.expected.reason;
        let right = if self.subject.knows_end_reason() {
            state == expected.map_or(State::Open, State::Closed)
        } else {
            // Only whether it ended, and that nothing more will come once it has.
            match expected {
                None => state == State::Open,
                Some(_) => matches!(state, State::Closed(_)),
            }
        };
        if !right {
            return Err(self.diverged(DivergenceKind::FinalState {
                expected,
                actual: state,
            }));
        }
        if let Some(stats) = self.subject.stats() {
            // Bytes sent after the quit line may have been taken by a transport in front of
            // the session (a socket buffer, a FIFO) and never reached it: the session counts
            // at least everything through the quit line and at most everything sent.
            let quit_end = self.expected.line_ends.last().copied().unwrap_or_default();
            let counted = stats.bytes_in as usize;
            let bytes_in = if self.expected.quit && (quit_end..=self.delivered).contains(&counted) {
                stats.bytes_in
            } else {
                self.delivered as u64
            };
            let counters = [
                (
                    "lines_echoed",
                    self.expected.lines_echoed,
                    stats.lines_echoed,
                ),
                (
                    "lines_too_long",
                    self.expected.lines_too_long,
                    stats.lines_too_long,
                ),
                ("bytes_in", bytes_in, stats.bytes_in),
                ("bytes_out", self.received.len() as u64, stats.bytes_out),
            ];
            for (name, expected, actual) in counters {
                if expected != actual {
                    return Err(self.diverged(DivergenceKind::Counter {
                        name,
                        expected,
                        actual,
                    }));
                }
            }
        }
        Ok(Report {
            steps: self.step,
            delivered: self.delivered,
            received: self.received.len(),
            reason: expected,
            ..self.report
        })
    }

    fn diverged(&self, kind: DivergenceKind) -> Box<Divergence> {
        Box::new(Divergence {
            step: self.step,
            action: self.action,
            delivered: self.delivered,
            received: self.received.len(),
            kind,
        })
    }
}

/// The entry of `list` for `step`, the list cycled; `default` for an empty list.
fn cycled<T: Copy>(list: &[T], step: usize, default: T) -> T {
    match list.len() {
        0 => default,
        len => list[step % len],
    }
}
