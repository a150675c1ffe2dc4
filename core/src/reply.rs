//! The bytes the session answers with: an echoed line, or the line-too-long error.
//!
//! Kept apart from the session so that the exact reply format, the protocol's visible part,
//! sits in one small place.

use crate::config::{Config, MAX_DELIMITER_LEN, MAX_ERROR_TEXT_LEN};
use core::fmt::Write as _;
use heapless::{String, Vec};

/// Capacity of a precomputed line-too-long reply: its text plus the delimiter.
pub const MAX_ERROR_REPLY_LEN: usize = MAX_ERROR_TEXT_LEN + MAX_DELIMITER_LEN;

/// A precomputed line-too-long reply. Its length is a `u8` (the capacity is far below 256),
/// which leaves room in the session for the output's third index at no cost in size.
pub(crate) type TooLongReply = Vec<u8, MAX_ERROR_REPLY_LEN, u8>;
const _: () = assert!(MAX_ERROR_REPLY_LEN <= u8::MAX as usize);

/// The complete line-too-long reply for `config`, delimiter included: the custom text if one
/// was set, else `ERROR line too long (limit N bytes)`.
pub(crate) fn too_long_reply(config: &Config) -> TooLongReply {
    let mut reply = Vec::new();
    match config.error_text() {
        Some(text) => {
            // The text was checked against MAX_ERROR_TEXT_LEN when it was set.
            let _ = reply.extend_from_slice(text);
        }
        None => {
            // The longest rendering (usize::MAX) is 54 bytes, within MAX_ERROR_TEXT_LEN.
            let mut text: String<MAX_ERROR_TEXT_LEN> = String::new();
            let _ = write!(
                text,
                "ERROR line too long (limit {} bytes)",
                config.max_line()
            );
            let _ = reply.extend_from_slice(text.as_bytes());
        }
    }
    // The delimiter is at most MAX_DELIMITER_LEN, the rest of the capacity.
    let _ = reply.extend_from_slice(config.delimiter().as_bytes());
    reply
}

/// Length of the line-too-long reply for `config`, delimiter included.
pub(crate) fn too_long_len(config: &Config) -> usize {
    too_long_reply(config).len()
}

/// Length of the echo reply to a line of `line_len` bytes.
#[inline(always)]
pub(crate) fn echo_len(config: &Config, line_len: usize) -> usize {
    config.prefix().len() + line_len + config.delimiter().len()
}

/// Writes the echo reply to `line`, `prefix` + `line` + `delimiter`, at the front of `out`,
/// which the caller sized with [`echo_len`]; returns the bytes written (0 if `out` is too
/// short, which the caller's sizing rules out). The prefix and delimiter come from the
/// configuration; they are passed in so that a loop over many lines reads them once.
///
/// `received` is the line as it arrived: followed by its delimiter, or alone when it ended
/// with the input. A terminated line is copied with its delimiter in one piece, since the
/// framer only ends a line at a delimiter equal to the configured one.
#[inline(always)]
pub(crate) fn write_echo(
    out: &mut [u8],
    prefix: &[u8],
    delimiter: &[u8],
    line: &[u8],
    received: &[u8],
) -> usize {
    let len = prefix.len() + line.len() + delimiter.len();
    let Some((head, body)) = out
        .get_mut(..len)
        .and_then(|out| out.split_at_mut_checked(prefix.len()))
    else {
        return 0;
    };
    copy(head, prefix);
    if received.len() == line.len() + delimiter.len() {
        copy(body, received);
    } else if let Some((body, tail)) = body.split_at_mut_checked(line.len()) {
        copy(body, line);
        copy(tail, delimiter);
    }
    len
}

/// Copies `src` to the front of `dst` (nothing if it does not fit).
///
/// Replies to short lines are made of short pieces (a 10-byte prefix, a 34-byte line with
/// its delimiter) for which a call to `memcpy` costs more than the copy itself. Up to 64
/// bytes are copied here in two or four fixed-size blocks instead, the last ones overlapping
/// the first ones (the compiler turns each block into a load and a store); longer pieces go
/// to `memcpy`.
#[inline(always)]
pub(crate) fn copy(dst: &mut [u8], src: &[u8]) {
    let n = src.len();
    let Some(dst) = dst.get_mut(..n) else {
        return;
    };
    match n {
        8..=16 => {
            copy_block::<8>(dst, src, 0);
            copy_block::<8>(dst, src, n - 8);
        }
        17..=32 => {
            copy_block::<16>(dst, src, 0);
            copy_block::<16>(dst, src, n - 16);
        }
        33..=64 => {
            copy_block::<32>(dst, src, 0);
            copy_block::<32>(dst, src, n - 32);
        }
        _ => dst.copy_from_slice(src),
    }
}

/// Copies the `B` bytes at `at` from `src` to `dst`, if both have them.
#[inline(always)]
fn copy_block<const B: usize>(dst: &mut [u8], src: &[u8], at: usize) {
    let end = at + B;
    if let (Some(dst), Some(src)) = (dst.get_mut(at..end), src.get(at..end)) {
        dst.copy_from_slice(src);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_error_reply_names_the_limit_and_ends_with_the_delimiter() {
        let config = Config::default().with_max_line(17).unwrap();
        assert_eq!(
            &too_long_reply(&config)[..],
            b"ERROR line too long (limit 17 bytes)\r\n"
        );
    }

    #[test]
    fn custom_error_text_gets_the_configured_delimiter() {
        let config = Config::default()
            .with_delimiter(b"|")
            .unwrap()
            .with_error_text(b"no")
            .unwrap();
        assert_eq!(&too_long_reply(&config)[..], b"no|");
    }

    #[test]
    fn error_reply_fits_for_the_largest_limit() {
        let config = Config::default().with_max_line(usize::MAX).unwrap();
        assert!(too_long_reply(&config).ends_with(b"18446744073709551615 bytes)\r\n"));
    }

    #[test]
    fn echo_is_prefix_line_delimiter_whether_or_not_the_delimiter_was_received() {
        let config = Config::default();
        for (line, received) in [(&b"hi"[..], &b"hi\r\n"[..]), (b"hi", b"hi")] {
            let mut out = [0u8; 64];
            let (prefix, delimiter) = (config.prefix(), config.delimiter().as_bytes());
            let n = write_echo(&mut out, prefix, delimiter, line, received);
            assert_eq!(&out[..n], b"You sent: hi\r\n");
            assert_eq!(echo_len(&config, 2), n);
        }
        let mut short = [0u8; 13];
        assert_eq!(
            write_echo(&mut short, b"You sent: ", b"\r\n", b"hi", b"hi"),
            0
        );
    }

    #[test]
    fn copy_is_exact_at_every_length_and_never_writes_past_the_piece() {
        let src: [u8; 100] = core::array::from_fn(|i| i as u8 + 1);
        for n in 0..=100 {
            let mut dst = [0u8; 101];
            copy(&mut dst, &src[..n]);
            assert_eq!(&dst[..n], &src[..n], "length {n}");
            assert!(dst[n..].iter().all(|&b| b == 0), "length {n}");
        }
        let mut small = [0u8; 4];
        copy(&mut small, &src[..8]);
        assert_eq!(small, [0; 4]);
    }
}
