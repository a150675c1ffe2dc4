//! What [`check`](crate::check) runs: an implementation of the protocol, seen from the peer.
//!
//! [`Subject`] is the few things a peer and an operator can do to an echo server: send bytes,
//! receive replies, end input, shut it down, and (where the implementation has storage it can
//! give back between lines) take its storage out and put it back. The core's [`Session`]
//! implements it directly; [`Swapping`] is a session with a spare storage, for schedules that
//! take storage out; a port implements it around its own driver loop (see the crate docs).

use chatecho_core::{Buffers, Config, ConfigError, OwnedBuffers, Session, State, Stats};
use chatecho_core::{Storage, StorageError};

/// An implementation of the echo protocol under test, driven from the peer's side.
///
/// Every call must leave the implementation *settled*: it has done everything it can with
/// what it was given, as a real peer would see after waiting long enough. A driver loop
/// around a future polls it until it is pending with nothing left to move; a network port
/// runs its stack until no packet and no byte moves.
pub trait Subject {
    /// The peer sends `bytes`: returns how many the implementation took (at most
    /// `bytes.len()`; fewer while it holds input back, none once input has ended).
    fn send(&mut self, bytes: &[u8]) -> usize;

    /// The peer reads replies into `buffer`: returns how many bytes it got. Fewer than
    /// `buffer.len()` means the implementation has nothing more to send until it gets more
    /// input: every reply owed for the input taken so far has been sent.
    fn receive(&mut self, buffer: &mut [u8]) -> usize;

    /// The peer shuts its sending side (end of input).
    fn end_input(&mut self);

    /// The operator stops the implementation, as a server does when shutting down.
    fn shutdown(&mut self);

    /// Where the conversation is: `Open`, `Closing(reason)` while replies are still owed,
    /// `Closed(reason)` once nothing more will be sent.
    fn state(&mut self) -> State;

    /// The implementation's counters, if it keeps them; [`check`](crate::check) compares
    /// them with the model's when they are there.
    fn stats(&mut self) -> Option<Stats> {
        None
    }

    /// Whether [`Subject::state`] tells why the conversation ended. A peer over TCP sees that
    /// the server closed, not why (after it ended its own input, a close after the quit line
    /// looks like a close after end of input): such a subject says `false`, and
    /// [`check`](crate::check) then compares only whether the conversation is open or over.
    /// The default: it tells.
    fn knows_end_reason(&self) -> bool {
        true
    }

    /// Asks the implementation to give its storage back now. The default: it has none to
    /// give.
    fn take_storage(&mut self) -> Taking {
        Taking::Unsupported
    }

    /// Gives storage back after [`Subject::take_storage`] took it: the same, or other
    /// storage of the same capacity.
    fn give_storage(&mut self, which: Give) -> Result<(), StorageError> {
        let _ = which;
        Ok(())
    }
}

/// What became of a request to take the storage out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Taking {
    /// The storage is out: the implementation takes no input and sends nothing until it is
    /// given storage again.
    Taken,
    /// The implementation kept its storage, and why.
    Refused(StorageError),
    /// The implementation has no storage to give back.
    Unsupported,
}

/// Which storage goes back in after it was taken out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Give {
    /// The storage that came out.
    Same,
    /// Other storage of the same capacity, with other bytes in it: the conversation must not
    /// depend on anything left in the storage that came out.
    Other,
}

/// The core's session, as it is: input through [`Session::feed`], replies through
/// [`Session::read_output`]. Its storage stays in; see [`Swapping`] for schedules that take
/// it out.
impl<S: Storage> Subject for Session<'_, S> {
    fn send(&mut self, bytes: &[u8]) -> usize {
        self.feed(bytes)
    }

    fn receive(&mut self, buffer: &mut [u8]) -> usize {
        // Reading output may let replies held back be queued: read until the buffer is full
        // or nothing is left, so that a short read means nothing more to send.
        let mut got = 0;
        while got < buffer.len() {
            match self.read_output(&mut buffer[got..]) {
                0 => break,
                n => got += n,
            }
        }
        got
    }

    fn end_input(&mut self) {
        self.input_eof();
    }

    fn shutdown(&mut self) {
        Session::shutdown(self);
    }

    fn state(&mut self) -> State {
        Session::state(self)
    }

    fn stats(&mut self) -> Option<Stats> {
        Some(Session::stats(self))
    }
}

/// A session with a spare storage, so that a schedule can take its storage out and give back
/// the same or the other one.
#[derive(Debug)]
pub struct Swapping<'c, S> {
    /// The session under test.
    pub session: Session<'c, S>,
    /// The storage that came out, while it is out.
    taken: Option<S>,
    /// The other storage, given in place of the one that comes out when a schedule says
    /// [`Give::Other`].
    spare: S,
}

impl<'c, S: Storage> Swapping<'c, S> {
    /// A session for `config` in `storage`, with `spare` to swap in.
    pub fn new(config: &'c Config, storage: S, spare: S) -> Result<Self, ConfigError> {
        Ok(Self {
            session: Session::new(config, storage)?,
            taken: None,
            spare,
        })
    }
}

impl<'c, const IN: usize, const OUT: usize> Swapping<'c, OwnedBuffers<IN, OUT>> {
    /// A session for `config` in zeroed owned buffers, with a spare pair filled with `0xA5`,
    /// so that anything read from a buffer that was never written shows.
    pub fn owned(config: &'c Config) -> Result<Self, ConfigError> {
        Self::new(
            config,
            Buffers::owned(),
            Buffers::new([0xA5; IN], [0xA5; OUT]),
        )
    }
}

impl<S: Storage> Subject for Swapping<'_, S> {
    fn send(&mut self, bytes: &[u8]) -> usize {
        self.session.send(bytes)
    }

    fn receive(&mut self, buffer: &mut [u8]) -> usize {
        self.session.receive(buffer)
    }

    fn end_input(&mut self) {
        self.session.end_input();
    }

    fn shutdown(&mut self) {
        Subject::shutdown(&mut self.session);
    }

    fn state(&mut self) -> State {
        self.session.state()
    }

    fn stats(&mut self) -> Option<Stats> {
        Some(self.session.stats())
    }

    fn take_storage(&mut self) -> Taking {
        match self.session.take_storage() {
            Ok(storage) => {
                self.taken = Some(storage);
                Taking::Taken
            }
            Err(error) => Taking::Refused(error),
        }
    }

    fn give_storage(&mut self, which: Give) -> Result<(), StorageError> {
        let Some(taken) = self.taken.take() else {
            return Err(StorageError::NoStorage);
        };
        let storage = match which {
            Give::Same => taken,
            Give::Other => core::mem::replace(&mut self.spare, taken),
        };
        self.session.give_storage(storage).map_err(|refused| {
            let error = refused.error;
            self.taken = Some(refused.storage);
            error
        })
    }
}
