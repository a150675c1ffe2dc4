//! Fuzz target `session`: any configuration (invalid ones must be a `ConfigError`, never a
//! panic), any stream split into any reads, any schedule of output drains, input ended by
//! EOF, by shutdown or not at all, at any point. Everything sent must be exactly what the
//! plain model in `chatecho_tests::model` answers, replies must be queued as soon as the model
//! says they exist and there is room, states must only move forward, and memory must stay
//! within the session's two buffers.
#![no_main]

use arbitrary::Arbitrary;
use chatecho_core::{Config, ConfigError, EndReason, OwnedBuffers, Session, State};
use chatecho_fuzz::{alphabet, check_now, stream, Case};
use chatecho_tests::model::{Ending, Expected, Protocol};
use libfuzzer_sys::fuzz_target;

/// The case's parameters: one-byte fields at fixed offsets (see `make_corpus.py`). The rest
/// of the input is the stream.
#[derive(Arbitrary, Debug)]
struct Header {
    /// Picks the buffers `IN`, `OUT`, see `run`'s callers below.
    capacity: u8,
    /// The delimiter is the first `delimiter_len % 11` bytes of `delimiter`: 0 and 9 or 10
    /// bytes are invalid.
    delimiter_len: u8,
    delimiter: [u8; 10],
    /// The prefix is `prefix_len % 72` bytes (over 64 is invalid), `prefix` cycled.
    prefix_len: u8,
    prefix: [u8; 10],
    /// 255: no quit line; else `quit_len % 72` bytes (over 64 is invalid), `quit` cycled.
    quit_len: u8,
    quit: [u8; 4],
    /// Line limit, little-endian. Folded into the valid range unless `max_line_exact`.
    max_line: [u8; 2],
    max_line_exact: bool,
    /// 255: the default line-too-long text; else `error_len % 100` bytes (over 96 is
    /// invalid) of `error_byte`.
    error_len: u8,
    error_byte: u8,
    /// Read sizes, cycled; 0 reads as much as the session offers.
    reads: [u8; 8],
    /// Bytes drained after each read, cycled; 255 drains everything.
    drains: [u8; 8],
    /// Bit 0: commit more than offered when a read fills the space (must be clamped);
    /// bit 1: map the stream onto the alphabet of the delimiter and quit line; bit 2: ask for
    /// the input space twice per read and commit an empty read after each (harmless by
    /// contract).
    mode: u8,
    /// How input ends: 0 stays open, 1 EOF, 2 shutdown (modulo 3).
    end: u8,
    /// Input ends (as `end` says) after this many stream bytes, little-endian; past the
    /// stream's length it ends after the whole stream.
    end_at: [u8; 2],
    /// The stream is repeated `1 + repeat % 16` times.
    repeat: u8,
}

fuzz_target!(|case: Case<Header>| {
    match case.header.capacity % 3 {
        // Tiny: most configurations are refused, accepted ones hit every limit.
        0 => run::<16, 48>(&case),
        // Small, as in the property tests.
        1 => run::<64, 128>(&case),
        // Above the framer's 1024-byte initial space, so that input growth runs.
        _ => run::<3000, 3200>(&case),
    }
});

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    StayOpen,
    Eof,
    Shutdown,
}

fn cycled(pattern: &[u8], len: usize) -> Vec<u8> {
    pattern.iter().copied().cycle().take(len).collect()
}

fn run<const IN: usize, const OUT: usize>(case: &Case<Header>) {
    let h = &case.header;
    let Some((config, model, error_text)) = configure::<IN, OUT>(case) else {
        return;
    };
    let mut session = match Session::new(&config, OwnedBuffers::<IN, OUT>::owned()) {
        Ok(session) => session,
        Err(error) => {
            let acceptable = session_errors::<IN, OUT>(&model, error_text.as_deref());
            assert!(
                acceptable.contains(&error),
                "{error:?} is not one of {acceptable:?}"
            );
            return;
        }
    };
    assert!(
        session_errors::<IN, OUT>(&model, error_text.as_deref()).is_empty(),
        "an invalid configuration was accepted"
    );
    assert_eq!(session.state(), State::Open);
    assert!(session.wants_input());

    let mut parts: Vec<&[u8]> = vec![&model.delimiter];
    parts.extend(model.quit_line.as_deref());
    let alphabet = (h.mode & 2 != 0).then(|| alphabet(&parts));
    let input = stream(&case.stream, alphabet.as_deref(), h.repeat);
    let end = match h.end % 3 {
        0 => End::StayOpen,
        1 => End::Eof,
        _ => End::Shutdown,
    };
    let end_at = usize::from(u16::from_le_bytes(h.end_at)).min(input.len());
    let expect = |delivered: usize, ending: Ending| match &error_text {
        None => model.expected(&input[..delivered], ending),
        Some(text) => model.expected_with_error_text(&input[..delivered], ending, text),
    };

    let mut run = Run {
        sent: Vec::new(),
        delivered: 0,
        ended: None,
        last_state: State::Open,
        last_reason: None,
    };
    let mut step = 0;
    // The peer's bytes, read by read, until the session stops taking them or input ends.
    while run.delivered < end_at && session.end_reason().is_none() {
        let buffered = session.buffered_input();
        if h.mode & 4 != 0 {
            let _ = session.input_space();
        }
        let space = session.input_space();
        let offered = space.len();
        if offered == 0 {
            // Backpressure: legitimate only while there is output to send.
            assert!(!session.wants_input());
            assert!(
                !session.output().is_empty(),
                "stalled: input refused with nothing to send"
            );
            // A commit without space must be ignored.
            let (buffered, output) = (session.buffered_input(), session.output().len());
            session.commit_input(1);
            assert_eq!(session.buffered_input(), buffered);
            assert_eq!(session.output().len(), output);
            run.drain(&mut session, usize::from(h.drains[step % 8]).max(1));
        } else {
            assert!(offered + buffered <= IN, "space beyond capacity");
            let want = match h.reads[step % 8] {
                0 => offered,
                n => usize::from(n),
            };
            let n = want.min(offered).min(end_at - run.delivered);
            space[..n].copy_from_slice(&input[run.delivered..run.delivered + n]);
            // Claiming more than was offered must be clamped to the offer (only done when
            // the offer was filled, so the clamped count is what was really written).
            let overcommit = h.mode & 1 != 0 && n == offered;
            session.commit_input(if overcommit { usize::MAX } else { n });
            run.delivered += n;
            run.check(&session);
            if h.mode & 4 != 0 {
                session.commit_input(0);
                run.check(&session);
            }
            run.drain(&mut session, usize::from(h.drains[step % 8]));
        }
        run.check(&session);
        if check_now(step) {
            run.check_progress(&session, &expect(run.delivered, Ending::Open));
        }
        step += 1;
    }

    // Input ends as the case says (the quit line may have ended it already).
    match end {
        End::StayOpen => {}
        End::Eof => {
            run.ended.get_or_insert(End::Eof);
            session.input_eof();
        }
        End::Shutdown => {
            run.ended.get_or_insert(End::Shutdown);
            session.shutdown();
        }
    }
    run.check(&session);
    // Once input has ended nothing more is taken.
    if session.end_reason().is_some() {
        assert!(!session.wants_input());
        assert!(session.input_space().is_empty());
        let buffered = session.buffered_input();
        session.commit_input(7);
        assert_eq!(session.buffered_input(), buffered);
    }
    let ending = if session.end_reason().is_some() && run.ended == Some(End::Eof) {
        Ending::Eof
    } else {
        Ending::Open
    };
    // Send everything owed, with the case's drain sizes.
    while !session.output().is_empty() {
        run.drain(&mut session, usize::from(h.drains[step % 8]).max(1));
        run.check(&session);
        step += 1;
    }

    let expected = expect(run.delivered, ending);
    assert_eq!(run.sent, expected.output, "sent differs from the model");
    let stats = session.stats();
    assert_eq!(stats.lines_echoed, expected.lines_echoed);
    assert_eq!(stats.lines_too_long, expected.lines_too_long);
    assert_eq!(stats.bytes_in, run.delivered as u64);
    assert_eq!(stats.bytes_out, run.sent.len() as u64);
    let reason = match (expected.quit, run.ended) {
        (true, _) => Some(EndReason::QuitLine),
        (false, None) => None,
        (false, Some(End::Eof)) => Some(EndReason::InputEnded),
        (false, Some(End::Shutdown)) => Some(EndReason::Shutdown),
        (false, Some(End::StayOpen)) => unreachable!(),
    };
    assert_eq!(session.end_reason(), reason);
    let state = reason.map_or(State::Open, State::Closed);
    assert_eq!(session.state(), state);
    // A closed session stays closed and silent whatever the caller does.
    if state.is_closed() {
        session.input_eof();
        session.shutdown();
        session.consume_output(usize::MAX);
        assert_eq!(session.state(), state);
        assert!(session.output().is_empty());
    }
}

/// What the driver loop has seen so far.
struct Run {
    sent: Vec<u8>,
    delivered: usize,
    ended: Option<End>,
    last_state: State,
    last_reason: Option<EndReason>,
}

impl Run {
    /// Sends up to `n` bytes (255 meaning all) of the session's output.
    fn drain<const IN: usize, const OUT: usize>(
        &mut self,
        s: &mut Session<'_, OwnedBuffers<IN, OUT>>,
        n: usize,
    ) {
        let available = s.output().len();
        let n = if n == 255 { available } else { n };
        let taken = n.min(available);
        self.sent.extend_from_slice(&s.output()[..taken]);
        let unsent = s.output()[taken..].to_vec();
        // Asking to consume more than is there must be clamped. Draining may let replies
        // held back be queued, behind what was not sent yet.
        s.consume_output(n);
        assert!(s.output().starts_with(&unsent), "unsent output changed");
    }

    /// Invariants after every step: memory within the buffers, states that only move
    /// forward, no stall, a linear search.
    fn check<const IN: usize, const OUT: usize>(
        &mut self,
        s: &Session<'_, OwnedBuffers<IN, OUT>>,
    ) {
        assert!(s.output().len() <= OUT, "output beyond its buffer");
        assert!(s.buffered_input() <= IN, "input beyond its buffer");
        let (state, reason) = (s.state(), s.end_reason());
        assert_eq!(state == State::Open, reason.is_none());
        if s.wants_input() {
            assert_eq!(state, State::Open);
        }
        if state == State::Open && !s.wants_input() {
            assert!(!s.output().is_empty(), "held back with nothing to send");
        }
        if state.is_closed() {
            assert!(s.output().is_empty(), "closed with output left");
        }
        let forward = match (self.last_state, state) {
            (State::Open, _) | (State::Closing(_), State::Closing(_) | State::Closed(_)) => true,
            (State::Closed(_), State::Closed(_)) => true,
            _ => false,
        };
        assert!(
            forward,
            "state went from {:?} to {state:?}",
            self.last_state
        );
        // A reason, once given, never changes.
        let reason_ok = match (self.last_reason, reason) {
            (None, _) => true,
            (Some(a), Some(b)) => a == b,
            _ => false,
        };
        assert!(
            reason_ok,
            "end reason went from {:?} to {reason:?}",
            self.last_reason
        );
        self.last_state = state;
        self.last_reason = reason;
        assert_eq!(s.stats().bytes_out, self.sent.len() as u64);
    }

    /// While open, what was sent and queued must be the start of what the model answers to
    /// the bytes delivered, and all of it unless a reply is held back for lack of room.
    fn check_progress<const IN: usize, const OUT: usize>(
        &self,
        s: &Session<'_, OwnedBuffers<IN, OUT>>,
        expected: &Expected,
    ) {
        if s.end_reason().is_some() {
            return;
        }
        let produced = [&self.sent[..], s.output()].concat();
        if s.wants_input() {
            assert_eq!(
                produced, expected.output,
                "a reply the model already gives is missing, or a wrong one was queued"
            );
        } else {
            assert!(
                expected.output.starts_with(&produced),
                "queued replies depart from the model"
            );
        }
    }
}

/// Builds the case's configuration with the `Config` builders, checking that each refusal is
/// the right `ConfigError`. Returns the configuration, the same protocol as a model, and the
/// custom error text if any.
fn configure<const IN: usize, const OUT: usize>(
    case: &Case<Header>,
) -> Option<(Config, Protocol, Option<Vec<u8>>)> {
    let h = &case.header;
    let delimiter = &h.delimiter[..usize::from(h.delimiter_len) % 11];
    let prefix = cycled(&h.prefix, usize::from(h.prefix_len) % 72);
    let quit = (h.quit_len != 255).then(|| cycled(&h.quit, usize::from(h.quit_len) % 72));
    let error_text =
        (h.error_len != 255).then(|| vec![h.error_byte; usize::from(h.error_len) % 100]);
    let capacity = IN.saturating_sub(delimiter.len());
    let raw = usize::from(u16::from_le_bytes(h.max_line));
    let max_line = if h.max_line_exact || capacity == 0 {
        raw
    } else {
        1 + raw % capacity
    };

    let config = Config::default();
    let config = match config.with_delimiter(delimiter) {
        Ok(config) => config,
        Err(error) => {
            assert_eq!(
                error,
                if delimiter.is_empty() {
                    ConfigError::EmptyDelimiter
                } else {
                    ConfigError::DelimiterTooLong {
                        len: delimiter.len(),
                    }
                }
            );
            return None;
        }
    };
    assert!((1..=8).contains(&delimiter.len()), "delimiter accepted");
    let config = match config.with_prefix(&prefix) {
        Ok(config) => config,
        Err(error) => {
            assert_eq!(error, ConfigError::PrefixTooLong { len: prefix.len() });
            return None;
        }
    };
    assert!(prefix.len() <= 64, "prefix accepted");
    let config = match config.with_quit_line(quit.as_deref()) {
        Ok(config) => config,
        Err(error) => {
            let len = quit.as_ref().map_or(0, Vec::len);
            assert_eq!(error, ConfigError::QuitLineTooLong { len });
            return None;
        }
    };
    assert!(
        quit.as_ref().is_none_or(|q| q.len() <= 64),
        "quit line accepted"
    );
    let config = match config.with_max_line(max_line) {
        Ok(config) => config,
        Err(error) => {
            assert_eq!((error, max_line), (ConfigError::ZeroMaxLine, 0));
            return None;
        }
    };
    assert_ne!(max_line, 0, "zero max line accepted");
    let config = match &error_text {
        None => config,
        Some(text) => match config.with_error_text(text) {
            Ok(config) => config,
            Err(error) => {
                assert_eq!(error, ConfigError::ErrorTextTooLong { len: text.len() });
                return None;
            }
        },
    };
    assert!(
        error_text.as_ref().is_none_or(|t| t.len() <= 96),
        "error text accepted"
    );

    assert_eq!(config.delimiter().as_bytes(), delimiter);
    assert_eq!(config.prefix(), &prefix[..]);
    assert_eq!(config.quit_line(), quit.as_deref());
    assert_eq!(config.max_line(), max_line);
    assert_eq!(config.error_text(), error_text.as_deref());
    let model = Protocol {
        delimiter: delimiter.to_vec(),
        prefix,
        quit_line: quit,
        max_line,
    };
    Some((config, model, error_text))
}

/// Every error `Session::new` over `IN` and `OUT` bytes may rightly return for this protocol: empty when it
/// must accept it. The session may check in any order, so any applicable error is right.
fn session_errors<const IN: usize, const OUT: usize>(
    model: &Protocol,
    error_text: Option<&[u8]>,
) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    if let Some(quit) = &model.quit_line {
        if quit.len() > model.max_line {
            errors.push(ConfigError::QuitLineOverMaxLine {
                len: quit.len(),
                max_line: model.max_line,
            });
        }
    }
    let needed = model.max_line + model.delimiter.len();
    if needed > IN {
        errors.push(ConfigError::InputTooSmall {
            needed,
            capacity: IN,
        });
    }
    let echo = model.prefix.len() + model.max_line + model.delimiter.len();
    let too_long = match error_text {
        Some(text) => text.len() + model.delimiter.len(),
        None => model.too_long_reply().len(),
    };
    let needed = echo.max(too_long);
    if needed > OUT {
        errors.push(ConfigError::OutputTooSmall {
            needed,
            capacity: OUT,
        });
    }
    errors
}
