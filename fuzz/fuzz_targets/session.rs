//! Fuzz target `session`: any configuration (invalid ones must be refused with an error the
//! model names, never a panic), any stream split into any reads, any schedule of output drains
//! and of storage taken out and given back, input ended by EOF, by shutdown or not at all. The
//! run is `chatecho_model::check`: everything sent must be exactly what the reference model
//! answers, as soon as the model says it is owed; states only move forward; the storage comes
//! out exactly when the model says the session holds nothing. On top of that the session is
//! driven through its zero-copy calls, with bad counts, and its memory must stay within its
//! two buffers.
#![no_main]

use chatecho_core::{Config, ConfigError, OwnedBuffers, State, Stats, StorageError};
use chatecho_fuzz::Header;
use chatecho_model::{Experiment, Give, Subject, Swapping, Taking, check};
use libfuzzer_sys::fuzz_target;

// The header's `mode`: bit 0 commits more than offered when a read fills the space, and
// consumes more than waiting when all of it is sent (both must be clamped); bit 1 asks for the
// input space twice per read and commits an empty read after each (harmless by contract).

fuzz_target!(|case: (Header, Experiment)| {
    let (header, experiment) = case;
    match header.capacity % 3 {
        // Tiny: most configurations are refused, accepted ones hit every limit.
        0 => run::<16, 48>(&header, experiment),
        // Small, as in the property tests.
        1 => run::<64, 128>(&header, experiment),
        // Above the framer's 1024-byte initial space, so that input growth runs.
        _ => run::<3000, 3200>(&header, experiment),
    }
});

fn run<const IN: usize, const OUT: usize>(header: &Header, mut experiment: Experiment) {
    let p = &mut experiment.protocol;
    header.fold_max_line(p, IN.saturating_sub(p.delimiter.len()));
    let errors = p.errors(IN, OUT);
    let refused = |error: ConfigError| {
        assert!(
            errors.contains(&error),
            "{error:?} is not one of {errors:?}"
        );
    };
    let config = match p.config() {
        Ok(config) => config,
        Err(error) => return refused(error),
    };
    assert_eq!(config.delimiter().as_bytes(), p.delimiter);
    assert_eq!(config.prefix(), p.prefix);
    assert_eq!(config.quit_line(), p.quit_line.as_deref());
    assert_eq!(config.max_line(), p.max_line);
    assert_eq!(config.error_text(), p.error_text.as_deref());
    assert_eq!(config.too_long_reply(), p.too_long_reply());
    let mut subject = match ZeroCopy::<IN, OUT>::new(&config, header.mode) {
        Ok(subject) => subject,
        Err(error) => return refused(error),
    };
    assert!(errors.is_empty(), "accepted despite {errors:?}");

    if let Err(divergence) = check(&mut subject, &experiment) {
        panic!("{divergence}");
    }

    // A closed session stays closed and silent whatever the caller does.
    let s = &mut subject.inner.session;
    let state = s.state();
    if state.is_closed() {
        s.input_eof();
        s.shutdown();
        s.consume_output(usize::MAX);
        assert_eq!(s.state(), state);
        assert!(s.output().is_empty());
    }
}

/// The session driven through `input_space`/`commit_input` and `output`/`consume_output`,
/// with the case's bad counts and idle calls, checking its invariants after every call.
struct ZeroCopy<'c, const IN: usize, const OUT: usize> {
    inner: Swapping<'c, OwnedBuffers<IN, OUT>>,
    mode: u8,
    sent: u64,
}

impl<'c, const IN: usize, const OUT: usize> ZeroCopy<'c, IN, OUT> {
    fn new(config: &'c Config, mode: u8) -> Result<Self, ConfigError> {
        let inner = Swapping::owned(config)?;
        assert_eq!(inner.session.state(), State::Open);
        assert!(inner.session.wants_input());
        Ok(Self {
            inner,
            mode,
            sent: 0,
        })
    }

    fn overcommit(&self) -> bool {
        self.mode & 1 != 0
    }

    fn idle_calls(&self) -> bool {
        self.mode & 2 != 0
    }

    /// Invariants after every call: memory within the buffers, a state that agrees with
    /// itself, no stall, counters that add up.
    fn invariants(&mut self) {
        let s = &self.inner.session;
        assert!(s.output().len() <= OUT, "output beyond its buffer");
        assert!(s.buffered_input() <= IN, "input beyond its buffer");
        let state = s.state();
        assert_eq!(state == State::Open, s.end_reason().is_none());
        if s.wants_input() {
            assert_eq!(state, State::Open);
        }
        if state == State::Open && s.has_storage() && !s.wants_input() {
            assert!(!s.output().is_empty(), "held back with nothing to send");
        }
        if state.is_closed() {
            assert!(s.output().is_empty(), "closed with output left");
        }
        if !s.has_storage() {
            assert!(s.output().is_empty() && s.holds_nothing());
        }
        assert_eq!(s.stats().bytes_out, self.sent);
    }
}

impl<const IN: usize, const OUT: usize> Subject for ZeroCopy<'_, IN, OUT> {
    fn send(&mut self, bytes: &[u8]) -> usize {
        let (idle_calls, overcommit) = (self.idle_calls(), self.overcommit());
        let s = &mut self.inner.session;
        if idle_calls {
            let _ = s.input_space();
        }
        let buffered = s.buffered_input();
        let space = s.input_space();
        let offered = space.len();
        if offered == 0 {
            // Held back, ended or without storage: a commit must be ignored.
            assert!(!s.wants_input());
            let output = s.output().len();
            s.commit_input(1);
            assert_eq!((s.buffered_input(), s.output().len()), (buffered, output));
            self.invariants();
            return 0;
        }
        assert!(offered + buffered <= IN, "space beyond capacity");
        let n = offered.min(bytes.len());
        space[..n].copy_from_slice(&bytes[..n]);
        // Claiming more than was offered must be clamped to the offer (only done when the
        // offer was filled, so the clamped count is what was really written).
        s.commit_input(if overcommit && n == offered {
            usize::MAX
        } else {
            n
        });
        if idle_calls {
            s.commit_input(0);
        }
        self.invariants();
        n
    }

    fn receive(&mut self, buffer: &mut [u8]) -> usize {
        let overcommit = self.overcommit();
        let mut got = 0;
        while got < buffer.len() {
            let s = &mut self.inner.session;
            let waiting = s.output();
            if waiting.is_empty() {
                break;
            }
            let n = waiting.len().min(buffer.len() - got);
            buffer[got..got + n].copy_from_slice(&waiting[..n]);
            let unsent = waiting[n..].to_vec();
            let all = n == waiting.len();
            // Consuming more than is waiting must be clamped. Draining may let replies held
            // back be queued, behind what was not sent yet.
            s.consume_output(if overcommit && all { usize::MAX } else { n });
            assert!(s.output().starts_with(&unsent), "unsent output changed");
            got += n;
            self.sent += n as u64;
            self.invariants();
        }
        got
    }

    fn end_input(&mut self) {
        self.inner.end_input();
        self.after_the_end();
    }

    fn shutdown(&mut self) {
        self.inner.shutdown();
        self.after_the_end();
    }

    fn state(&mut self) -> State {
        self.inner.state()
    }

    fn stats(&mut self) -> Option<Stats> {
        self.inner.stats()
    }

    fn take_storage(&mut self) -> Taking {
        let taking = self.inner.take_storage();
        self.invariants();
        taking
    }

    fn give_storage(&mut self, which: Give) -> Result<(), StorageError> {
        let given = self.inner.give_storage(which);
        self.invariants();
        given
    }
}

impl<const IN: usize, const OUT: usize> ZeroCopy<'_, IN, OUT> {
    /// Once input has ended nothing more is taken.
    fn after_the_end(&mut self) {
        self.invariants();
        let s = &mut self.inner.session;
        if s.end_reason().is_some() {
            assert!(!s.wants_input());
            assert!(s.input_space().is_empty());
            let buffered = s.buffered_input();
            s.commit_input(7);
            assert_eq!(s.buffered_input(), buffered);
        }
    }
}
