//! Turning what is typed or piped on stdin into protocol lines: each text line, ended by `\n`
//! or `\r\n`, loses its terminator and gets the protocol's delimiter instead.
//!
//! The conversion streams: it keeps one byte of state (a `\r` that may start a `\r\n`), never
//! a whole line, so a line of any length passes through in constant memory.

/// Converts stdin bytes into delimited lines, chunk by chunk.
#[derive(Debug)]
pub struct LineEncoder<'a> {
    delimiter: &'a [u8],
    /// The last chunk ended with `\r`, held back until we know whether `\n` follows.
    held_cr: bool,
    /// Bytes of the current line have been seen (so end of input must terminate it).
    in_line: bool,
}

impl<'a> LineEncoder<'a> {
    /// An encoder that ends every line with `delimiter`.
    pub fn new(delimiter: &'a [u8]) -> Self {
        Self {
            delimiter,
            held_cr: false,
            in_line: false,
        }
    }

    /// Appends to `out` the protocol bytes for the next `chunk` of stdin.
    pub fn encode(&mut self, mut chunk: &[u8], out: &mut Vec<u8>) {
        while !chunk.is_empty() {
            let (line, terminated) = match memchr::memchr(b'\n', chunk) {
                Some(end) => (&chunk[..end], Some(end + 1)),
                None => (chunk, None),
            };
            if self.held_cr && !(line.is_empty() && terminated.is_some()) {
                // The held `\r` was data, not the start of `\r\n`.
                out.push(b'\r');
            }
            self.held_cr = false;
            match terminated {
                Some(next) => {
                    out.extend_from_slice(line.strip_suffix(b"\r").unwrap_or(line));
                    out.extend_from_slice(self.delimiter);
                    self.in_line = false;
                    chunk = &chunk[next..];
                }
                None => {
                    let (data, cr) = match line.strip_suffix(b"\r") {
                        Some(data) => (data, true),
                        None => (line, false),
                    };
                    out.extend_from_slice(data);
                    self.held_cr = cr;
                    self.in_line = true;
                    chunk = &[];
                }
            }
        }
    }

    /// Appends to `out` what end of input still owes: an unterminated last line is sent as a
    /// line (a lone `\r` at the very end is data).
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.held_cr {
            out.push(b'\r');
            self.held_cr = false;
        }
        if self.in_line {
            out.extend_from_slice(self.delimiter);
            self.in_line = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encodes `chunks` one after the other, then ends the input.
    fn encode(delimiter: &[u8], chunks: &[&[u8]]) -> Vec<u8> {
        let mut encoder = LineEncoder::new(delimiter);
        let mut out = Vec::new();
        for chunk in chunks {
            encoder.encode(chunk, &mut out);
        }
        encoder.finish(&mut out);
        out
    }

    #[test]
    fn lf_and_crlf_terminators_become_the_delimiter() {
        assert_eq!(encode(b"\r\n", &[b"a\nb\r\n\n"]), b"a\r\nb\r\n\r\n");
        assert_eq!(encode(b"|", &[b"a\nb\r\n"]), b"a|b|");
    }

    #[test]
    fn a_crlf_split_across_chunks_is_one_terminator() {
        assert_eq!(encode(b"|", &[b"ab\r", b"\ncd\n"]), b"ab|cd|");
        assert_eq!(encode(b"|", &[b"ab\r", b"", b"\n"]), b"ab|");
    }

    #[test]
    fn a_cr_not_followed_by_lf_is_data() {
        assert_eq!(encode(b"|", &[b"a\rb\n"]), b"a\rb|");
        assert_eq!(encode(b"|", &[b"a\r", b"b\n"]), b"a\rb|");
        assert_eq!(encode(b"|", &[b"a\r", b"\r\n"]), b"a\r|");
    }

    #[test]
    fn end_of_input_terminates_the_last_line() {
        assert_eq!(encode(b"|", &[b"a\nlast"]), b"a|last|");
        assert_eq!(encode(b"|", &[b"last\r"]), b"last\r|");
        assert_eq!(encode(b"|", &[b"a\n"]), b"a|");
        assert_eq!(encode(b"|", &[]), b"");
    }

    #[test]
    fn bytes_are_passed_unchanged() {
        assert_eq!(encode(b"\r\n", &[b"\0\xff\xfe\n"]), b"\0\xff\xfe\r\n");
    }
}
