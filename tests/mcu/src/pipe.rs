//! An in-memory peer: what it sends is a list of reads, given piece by piece, so that a test
//! decides exactly where reads split the input (a delimiter, the quit line); what it receives
//! lands in a fixed array, at most `write_chunk` bytes per write.

use core::convert::Infallible;

/// A scripted byte stream, implementing `embedded_io` and `embedded_io_async` `Read + Write`.
pub struct Pipe<'a, const OUT: usize> {
    /// The reads still to come, in order; a read returns at most the rest of the first one.
    reads: &'a [&'a [u8]],
    /// How much of `reads[0]` was already read.
    at: usize,
    /// Everything written.
    output: [u8; OUT],
    written: usize,
    /// The most a write takes.
    write_chunk: usize,
    /// How many writes took bytes.
    pub writes: usize,
    /// Whether `flush` was called.
    pub flushed: bool,
}

impl<'a, const OUT: usize> Pipe<'a, OUT> {
    /// A peer that sends `reads` one by one and takes at most `write_chunk` bytes per write.
    pub const fn new(reads: &'a [&'a [u8]], write_chunk: usize) -> Self {
        Self {
            reads,
            at: 0,
            output: [0; OUT],
            written: 0,
            write_chunk,
            writes: 0,
            flushed: false,
        }
    }

    /// Everything written so far.
    pub fn output(&self) -> &[u8] {
        self.output.get(..self.written).unwrap_or_default()
    }

    /// The next read, as much of it as `buf` holds; 0 at the end of the script.
    fn next_read(&mut self, buf: &mut [u8]) -> usize {
        let Some((first, rest)) = self.reads.split_first() else {
            return 0;
        };
        let piece = first.get(self.at..).unwrap_or_default();
        let n = copy(buf, piece);
        self.at += n;
        if self.at == first.len() {
            self.reads = rest;
            self.at = 0;
        }
        n
    }

    fn take(&mut self, buf: &[u8]) -> usize {
        let room = self.output.get_mut(self.written..).unwrap_or_default();
        let n = copy(room, buf.get(..self.write_chunk).unwrap_or(buf));
        self.written += n;
        if n > 0 {
            self.writes += 1;
        }
        n
    }
}

/// Copies as much of `from` as `to` holds; returns how much that was. Written without
/// indexing, which could panic: a panic's message would link `core::fmt` into the flash
/// images and hide whether the core needs it.
fn copy(to: &mut [u8], from: &[u8]) -> usize {
    let n = to.len().min(from.len());
    if let (Some(to), Some(from)) = (to.get_mut(..n), from.get(..n)) {
        to.copy_from_slice(from);
    }
    n
}

impl<const OUT: usize> embedded_io::ErrorType for Pipe<'_, OUT> {
    type Error = Infallible;
}

impl<const OUT: usize> embedded_io::Read for Pipe<'_, OUT> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        // An empty piece would read as end of input: skip it.
        while let Some((&[], rest)) = self.reads.split_first() {
            self.reads = rest;
        }
        Ok(self.next_read(buf))
    }
}

impl<const OUT: usize> embedded_io::Write for Pipe<'_, OUT> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        Ok(self.take(buf))
    }

    fn flush(&mut self) -> Result<(), Infallible> {
        self.flushed = true;
        Ok(())
    }
}

impl<const OUT: usize> embedded_io_async::Read for Pipe<'_, OUT> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        embedded_io::Read::read(self, buf)
    }
}

impl<const OUT: usize> embedded_io_async::Write for Pipe<'_, OUT> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        Ok(self.take(buf))
    }

    async fn flush(&mut self) -> Result<(), Infallible> {
        self.flushed = true;
        Ok(())
    }
}
