//! The lines the load generator sends and the replies it expects back.
//!
//! Every line is unique: it names its connection and its sequence number in fixed-width hex,
//! padded to the requested size with a fixed pattern, so that a reply can be checked byte for
//! byte against the line that caused it, and a lost, repeated or reordered reply shows up as
//! a mismatch. All requests (and all replies) of one run have the same length, which lets the
//! reader cut the reply stream into records without searching for delimiters.

use anyhow::{Result, bail};

/// The protocol's delimiter (DESIGN.md, default configuration).
pub const DELIMITER: &[u8] = b"\r\n";
/// What the chat-echo server puts before each echoed line (DESIGN.md, rule 3).
pub const ECHO_PREFIX: &[u8] = b"You sent: ";

/// `c` + 6 hex digits of connection + `s` + 8 hex digits of sequence number.
const CONN_DIGITS: usize = 6;
const SEQ_DIGITS: usize = 8;
const SEQ_AT: usize = 1 + CONN_DIGITS + 1;
/// The shortest line that still carries a unique header.
pub const MIN_SIZE: usize = SEQ_AT + SEQ_DIGITS;
/// The server's default line limit: longer lines would be answered with an error.
pub const MAX_SIZE: usize = 4096;

/// What the server is expected to send back for each line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    /// `You sent: <line>\r\n`, the chat-echo protocol.
    Echo,
    /// `<line>\r\n` unchanged: a raw echo server.
    Raw,
}

/// The requests and expected replies of one connection.
#[derive(Debug, Clone)]
pub struct Lines {
    /// A whole request (line + delimiter) with sequence number 0.
    request: Vec<u8>,
    /// A whole expected reply with sequence number 0.
    reply: Vec<u8>,
    /// Where the sequence digits start within `reply`.
    reply_seq_at: usize,
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn put_hex(out: &mut [u8], mut value: u64) {
    for byte in out.iter_mut().rev() {
        *byte = HEX[(value & 0xf) as usize];
        value >>= 4;
    }
}

impl Lines {
    /// Lines of `size` bytes (delimiter not counted) for connection `conn`.
    pub fn new(conn: usize, size: usize, expect: Expect) -> Result<Self> {
        if !(MIN_SIZE..=MAX_SIZE).contains(&size) {
            bail!("--size must be between {MIN_SIZE} and {MAX_SIZE} bytes (got {size})");
        }
        if conn >= 1 << (4 * CONN_DIGITS) {
            bail!("too many connections: at most {}", 1 << (4 * CONN_DIGITS));
        }
        let mut request = Vec::with_capacity(size + DELIMITER.len());
        request.push(b'c');
        request.extend_from_slice(&[b'0'; CONN_DIGITS]);
        request.push(b's');
        request.extend_from_slice(&[b'0'; SEQ_DIGITS]);
        put_hex(&mut request[1..1 + CONN_DIGITS], conn as u64);
        // A pattern rather than one repeated byte, so that shifted data does not compare equal.
        request.extend((MIN_SIZE..size).map(|i| b'a' + (i % 26) as u8));
        request.extend_from_slice(DELIMITER);
        let prefix: &[u8] = match expect {
            Expect::Echo => ECHO_PREFIX,
            Expect::Raw => b"",
        };
        let mut reply = prefix.to_vec();
        reply.extend_from_slice(&request);
        Ok(Self {
            request,
            reply,
            reply_seq_at: prefix.len() + SEQ_AT,
        })
    }

    /// Bytes of one request, delimiter included.
    pub fn request_len(&self) -> usize {
        self.request.len()
    }

    /// Bytes of one expected reply.
    pub fn reply_len(&self) -> usize {
        self.reply.len()
    }

    /// Appends request number `seq` to `out`.
    pub fn push_request(&self, seq: u64, out: &mut Vec<u8>) {
        let at = out.len();
        out.extend_from_slice(&self.request);
        put_hex(&mut out[at + SEQ_AT..at + SEQ_AT + SEQ_DIGITS], seq);
    }

    /// Checks that `got` (one reply's worth of bytes) is the reply to request `seq`.
    pub fn check_reply(&self, seq: u64, got: &[u8], scratch: &mut Vec<u8>) -> Result<()> {
        scratch.clear();
        scratch.extend_from_slice(&self.reply);
        put_hex(
            &mut scratch[self.reply_seq_at..self.reply_seq_at + SEQ_DIGITS],
            seq,
        );
        if got != scratch.as_slice() {
            bail!(
                "reply {seq} does not match its line: expected {}, got {}",
                show(scratch),
                show(got)
            );
        }
        Ok(())
    }
}

/// `bytes` escaped and shortened for an error message.
pub fn show(bytes: &[u8]) -> String {
    const LIMIT: usize = 80;
    let shown: String = bytes[..bytes.len().min(LIMIT)]
        .escape_ascii()
        .map(char::from)
        .collect();
    if bytes.len() > LIMIT {
        format!("\"{shown}\"… ({} bytes)", bytes.len())
    } else {
        format!("\"{shown}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_unique_and_replies_match_them() {
        let lines = Lines::new(3, 32, Expect::Echo).unwrap();
        let mut out = Vec::new();
        lines.push_request(0x1234, &mut out);
        assert_eq!(out.len(), 34);
        assert_eq!(&out[..16], b"c000003s00001234");
        assert!(out.ends_with(b"\r\n"));
        let mut reply = ECHO_PREFIX.to_vec();
        reply.extend_from_slice(&out);
        let mut scratch = Vec::new();
        lines.check_reply(0x1234, &reply, &mut scratch).unwrap();
        assert!(lines.check_reply(0x1235, &reply, &mut scratch).is_err());
    }

    #[test]
    fn sizes_outside_the_protocol_are_refused() {
        assert!(Lines::new(0, MIN_SIZE - 1, Expect::Raw).is_err());
        assert!(Lines::new(0, MAX_SIZE + 1, Expect::Raw).is_err());
        assert!(Lines::new(0, MAX_SIZE, Expect::Raw).is_ok());
    }
}
