//! Session storage for connections: the buffers a connection holds only while it has bytes
//! to read, a partial line, or replies to send, recycled through a small pool per executor
//! thread.
//!
//! An idle connection gives its buffers back (the core's `Session::take_storage`), so a
//! server with thousands of quiet connections keeps buffers only for the few that are busy.
//! Freed buffers go to the pool of the thread the connection runs on, up to
//! [`POOL_CAPACITY`]; beyond that they are freed, so memory follows the number of busy
//! connections and never the number of connections that were once busy.
//!
//! Each connection's buffers are one anonymous memory mapping, output first and input after
//! it, both page-aligned in size where the defaults make them so. A page becomes resident
//! only when the session first writes to it: a connection that holds a partial line has its
//! input pages resident and not its output's. The heap cannot promise that (`calloc` clears
//! recycled heap memory by writing to it), and measured with 5000 connections each holding
//! a 4 KiB partial line, heap buffers cost 11.8 KB of RSS per connection against 5.7 KB for
//! mappings (bench/RESULTS.md). Mapping and unmapping are system calls, paid only when the
//! pool is empty or full; a mapping that fails (too many mappings, say) falls back to the
//! heap.

use chatecho_core::capacity::DEFAULT_OUTPUT;
use chatecho_core::{Config, Storage};
use memmap2::MmapMut;
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

/// One connection's session storage: output first, then input.
#[derive(Debug)]
pub struct ConnectionBuffers {
    memory: Memory,
    /// Where the input starts: the output's size.
    input_at: usize,
}

/// Where a connection's buffers live.
#[derive(Debug)]
enum Memory {
    /// An anonymous mapping: pages become resident when first written.
    Mapped(MmapMut),
    /// Heap memory, when a mapping could not be made.
    Heap(Box<[u8]>),
}

impl Memory {
    /// `len` zeroed bytes, mapped if the system allows.
    fn new(len: usize) -> Self {
        match MmapMut::map_anon(len) {
            Ok(mapped) => Self::Mapped(mapped),
            Err(error) => {
                tracing::debug!(%error, "cannot map connection buffers; using the heap");
                Self::Heap(vec![0; len].into_boxed_slice())
            }
        }
    }

    fn bytes(&self) -> &[u8] {
        match self {
            Self::Mapped(mapped) => mapped,
            Self::Heap(heap) => heap,
        }
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        match self {
            Self::Mapped(mapped) => mapped,
            Self::Heap(heap) => heap,
        }
    }
}

impl ConnectionBuffers {
    /// Buffers of `sizes`: from this thread's pool if it has some, else newly mapped.
    /// Servers of other configurations may share the thread, so the pool may hold other
    /// sizes too: the most recently pooled buffers of this size are taken.
    pub fn take(sizes: Sizes) -> Self {
        let total = sizes.total();
        let pooled = POOL.with(|pool| {
            let mut pool = pool.borrow_mut();
            let found = pool
                .iter()
                .rposition(|memory| memory.bytes().len() == total);
            found.map(|at| pool.swap_remove(at))
        });
        let memory = pooled.unwrap_or_else(|| Memory::new(total));
        Self {
            memory,
            input_at: sizes.output,
        }
    }

    /// Gives the buffers back: to this thread's pool, or to the system when it is full.
    pub fn give_back(self) {
        POOL.with(|pool| {
            let mut pool = pool.borrow_mut();
            if pool.len() < POOL_CAPACITY {
                pool.push(self.memory);
            }
        });
    }
}

impl Storage for ConnectionBuffers {
    fn buffers(&mut self) -> (&mut [u8], &mut [u8]) {
        let (output, input) = self.memory.bytes_mut().split_at_mut(self.input_at);
        (input, output)
    }

    fn input(&self) -> &[u8] {
        &self.memory.bytes()[self.input_at..]
    }

    fn output(&self) -> &[u8] {
        &self.memory.bytes()[..self.input_at]
    }
}

thread_local! {
    /// Buffers of the connections that went idle on this thread, for the next to use.
    static POOL: RefCell<Vec<Memory>> = const { RefCell::new(Vec::new()) };
}

/// How many buffers this thread's pool holds now.
#[cfg(test)]
pub(crate) fn pooled() -> usize {
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
        output[0] = 9;
        assert_eq!((buffers.input()[0], buffers.output()[0]), (7, 9));
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

    #[test]
    fn buffers_of_another_size_in_the_pool_are_left_for_their_own_server() {
        let small = Sizes {
            input: 8,
            output: 8,
        };
        let large = Sizes {
            input: 16,
            output: 16,
        };
        let mut buffers = ConnectionBuffers::take(large);
        buffers.buffers().0[0] = 42;
        buffers.give_back();
        let other = ConnectionBuffers::take(small);
        assert_eq!(other.input().len(), 8);
        // The large buffers stayed pooled, and come back for the next large taker.
        let again = ConnectionBuffers::take(large);
        assert_eq!(again.input()[0], 42);
    }
}
