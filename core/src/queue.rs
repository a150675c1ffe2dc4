//! The output queue: replies waiting to be sent, in an output buffer held elsewhere.
//!
//! Like the framer's [`Scan`](crate::framer), the queue is two indices and no memory: the
//! buffer is the caller's, passed to each call, so the session can give it back when nothing
//! is queued.

use crate::bytes;

/// Replies queued in an output buffer: `buffer[sent..queued]` is still to be sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Queue {
    sent: usize,
    queued: usize,
}

impl Queue {
    /// Bytes queued and not yet sent.
    pub(crate) fn len(&self) -> usize {
        self.queued - self.sent
    }

    /// Whether nothing is waiting to be sent.
    pub(crate) fn is_empty(&self) -> bool {
        self.queued == self.sent
    }

    /// The bytes waiting to be sent, oldest first.
    pub(crate) fn waiting<'b>(&self, buffer: &'b [u8]) -> &'b [u8] {
        match buffer.get(self.sent..self.queued) {
            Some(waiting) => waiting,
            None => {
                debug_assert!(false, "queue indices past the buffer");
                &[]
            }
        }
    }

    /// Appends `needed` bytes to the queue and returns them for the caller to fill, or `None`
    /// when there is no room until more is sent.
    ///
    /// Unsent bytes move to the front only when that reclaims at least as much as it moves,
    /// so that moving stays linear in the bytes sent. The common case is one comparison.
    #[inline]
    pub(crate) fn push<'b>(&mut self, buffer: &'b mut [u8], needed: usize) -> Option<&'b mut [u8]> {
        let capacity = buffer.len();
        if capacity.saturating_sub(self.queued) < needed {
            let unsent = self.len();
            if self.sent < unsent || capacity - unsent < needed {
                return None;
            }
            let waiting = buffer.get_mut(..self.queued)?;
            bytes::move_to_front(waiting, self.sent);
            self.sent = 0;
            self.queued = unsent;
        }
        let room = buffer.get_mut(self.queued..self.queued + needed)?;
        self.queued += needed;
        Some(room)
    }

    /// Records that the first `n` waiting bytes were sent (at most all of them) and returns
    /// how many that was.
    pub(crate) fn consume(&mut self, n: usize) -> usize {
        let n = n.min(self.len());
        self.sent += n;
        if self.sent == self.queued {
            // Everything was sent: start over at the front for free.
            self.sent = 0;
            self.queued = 0;
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_leave_in_order_and_an_empty_queue_starts_over() {
        let mut buffer = [0u8; 8];
        let mut queue = Queue::default();
        queue.push(&mut buffer, 3).unwrap().copy_from_slice(b"abc");
        queue.push(&mut buffer, 2).unwrap().copy_from_slice(b"de");
        assert_eq!(queue.waiting(&buffer), b"abcde");
        assert_eq!(queue.consume(4), 4);
        assert_eq!(queue.waiting(&buffer), b"e");
        assert_eq!(queue.consume(usize::MAX), 1);
        assert!(queue.is_empty());
        assert_eq!(queue, Queue::default());
    }

    #[test]
    fn a_full_queue_refuses_until_sending_makes_room() {
        let mut buffer = [0u8; 8];
        let mut queue = Queue::default();
        queue
            .push(&mut buffer, 6)
            .unwrap()
            .copy_from_slice(b"abcdef");
        assert!(queue.push(&mut buffer, 3).is_none());
        // Two sent, four unsent: moving four to reclaim two does not pay yet.
        queue.consume(2);
        assert!(queue.push(&mut buffer, 3).is_none());
        // Four sent, two unsent: it does, and there is room after the move.
        queue.consume(2);
        queue.push(&mut buffer, 3).unwrap().copy_from_slice(b"ghi");
        assert_eq!(queue.waiting(&buffer), b"efghi");
    }
}
