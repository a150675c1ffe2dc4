//! Session storage for connections: the buffers a connection holds only while it has bytes
//! to read, a partial line, or replies to send, recycled through a small pool per executor
//! thread.
//!
//! An idle connection gives its buffers back (the core's `Session::take_storage`), so a
//! server with thousands of quiet connections keeps buffers only for the few that are busy.
//! Each connection's buffers are one allocation, split into the session's input and output.
//! Freed buffers go to the pool of the thread the connection runs on, up to
//! [`POOL_CAPACITY`]; beyond that they are freed, so memory follows the number of busy
//! connections and never the number of connections that were once busy.

use chatecho_core::capacity::DEFAULT_OUTPUT;
use chatecho_core::{Config, Storage};
use std::cell::RefCell;

/// Most buffers kept for reuse per executor thread. A connection holds its buffers for the
/// length of one read and its replies, so a thread rarely has more than a few in use at
/// once; a burst above this is freed afterwards.
pub const POOL_CAPACITY: usize = 32;

/// The buffer sizes every connection of a server uses: chosen once from its configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sizes {
    /// Input buffer: a line at the limit plus the delimiter.
    pub input: usize,
    /// Output buffer: at least one longest reply, and the core's default 8 KiB so that a
    /// pipelining peer gets its replies in large writes.
    pub output: usize,
}

impl Sizes {
    /// The buffers a session for `config` needs.
    pub fn for_config(config: &Config) -> Self {
        Self {
            input: config.input_capacity(),
            output: config.output_capacity().max(DEFAULT_OUTPUT),
        }
    }

    /// Bytes of one connection's buffers.
    pub fn total(self) -> usize {
        self.input + self.output
    }
}

/// One connection's session storage: a single allocation, input first.
#[derive(Debug)]
pub struct ConnectionBuffers {
    bytes: Box<[u8]>,
    input: usize,
}

impl ConnectionBuffers {
    /// Buffers of `sizes`: from this thread's pool if it has some, else newly allocated.
    pub fn take(sizes: Sizes) -> Self {
        let pooled = POOL.with(|pool| pool.borrow_mut().pop());
        match pooled {
            Some(bytes) if bytes.len() == sizes.total() => Self {
                bytes,
                input: sizes.input,
            },
            // Zeroed memory from the allocator is not touched (nor, on Linux, made
            // resident) until the session writes it.
            _ => Self {
                bytes: vec![0; sizes.total()].into_boxed_slice(),
                input: sizes.input,
            },
        }
    }

    /// Gives the buffers back: to this thread's pool, or to the allocator when it is full.
    pub fn give_back(self) {
        POOL.with(|pool| {
            let mut pool = pool.borrow_mut();
            if pool.len() < POOL_CAPACITY {
                pool.push(self.bytes);
            }
        });
    }
}

impl Storage for ConnectionBuffers {
    fn buffers(&mut self) -> (&mut [u8], &mut [u8]) {
        self.bytes.split_at_mut(self.input)
    }

    fn input(&self) -> &[u8] {
        &self.bytes[..self.input]
    }

    fn output(&self) -> &[u8] {
        &self.bytes[self.input..]
    }
}

thread_local! {
    /// Buffers of the connections that went idle on this thread, for the next to use.
    static POOL: RefCell<Vec<Box<[u8]>>> = const { RefCell::new(Vec::new()) };
}

/// How many buffers this thread's pool holds now.
#[cfg(test)]
fn pooled() -> usize {
    POOL.with(|pool| pool.borrow().len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_hold_the_configuration_with_room_to_pipeline() {
        let sizes = Sizes::for_config(&Config::default());
        assert_eq!(sizes.input, 4098);
        assert_eq!(sizes.output, 8192);
        let large = Config::default().with_max_line(65536).unwrap();
        let sizes = Sizes::for_config(&large);
        assert_eq!((sizes.input, sizes.output), (65538, 65548));
    }

    #[test]
    fn buffers_split_as_sized_and_are_reused_up_to_the_pool_capacity() {
        let sizes = Sizes {
            input: 10,
            output: 20,
        };
        let mut buffers = ConnectionBuffers::take(sizes);
        let (input, output) = buffers.buffers();
        assert_eq!((input.len(), output.len()), (10, 20));
        input[0] = 7;
        let before = pooled();
        buffers.give_back();
        assert_eq!(pooled(), before + 1);
        // The same allocation comes back, as the session left it.
        let again = ConnectionBuffers::take(sizes);
        assert_eq!(again.input()[0], 7);
        assert_eq!(pooled(), before);

        let many: Vec<_> = (0..POOL_CAPACITY + 5)
            .map(|_| ConnectionBuffers::take(sizes))
            .collect();
        many.into_iter().for_each(ConnectionBuffers::give_back);
        assert_eq!(pooled(), POOL_CAPACITY);
    }
}
