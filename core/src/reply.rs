//! The bytes the session answers with: an echoed line, or the line-too-long error.
//!
//! Kept apart from the session so that the exact reply format, the protocol's visible part,
//! sits in one small place. The error reply is composed once per configuration
//! ([`Config`](crate::Config) keeps it); an echo is written straight into the output buffer.

use crate::config::{MAX_DELIMITER_LEN, MAX_ERROR_TEXT_LEN};
use heapless::Vec;

/// Capacity of a prepared line-too-long reply: its text plus the delimiter.
pub const MAX_ERROR_REPLY_LEN: usize = MAX_ERROR_TEXT_LEN + MAX_DELIMITER_LEN;

/// A prepared line-too-long reply. Its length is a `u8` (the capacity is far below 256).
pub(crate) type TooLongReply = Vec<u8, MAX_ERROR_REPLY_LEN, u8>;
const _: () = assert!(MAX_ERROR_REPLY_LEN <= u8::MAX as usize);

/// The default line-too-long text is `TOO_LONG_HEAD`, the limit in decimal, `TOO_LONG_TAIL`.
pub(crate) const TOO_LONG_HEAD: &[u8] = b"ERROR line too long (limit ";
/// See [`TOO_LONG_HEAD`].
pub(crate) const TOO_LONG_TAIL: &[u8] = b" bytes)";

/// The longest decimal rendering of a `usize` (`u64::MAX` has 20 digits).
const MAX_DIGITS: usize = 20;

/// The complete line-too-long reply, delimiter included: `error_text` if one was set, else
/// `ERROR line too long (limit N bytes)` with `max_line` as `N`.
///
/// The number is written with a few lines of division rather than `core::fmt`, which would
/// cost a microcontroller more flash than the whole protocol.
pub(crate) fn too_long_reply(
    error_text: Option<&[u8]>,
    max_line: usize,
    delimiter: &[u8],
) -> TooLongReply {
    let mut digits = [0u8; MAX_DIGITS];
    let pieces: [&[u8]; 4] = match error_text {
        Some(text) => [text, &[], &[], delimiter],
        None => [
            TOO_LONG_HEAD,
            decimal(max_line, &mut digits),
            TOO_LONG_TAIL,
            delimiter,
        ],
    };
    let mut reply = TooLongReply::new();
    for piece in pieces {
        // The text was checked against MAX_ERROR_TEXT_LEN when it was set, the default text
        // is at most 54 bytes, and the delimiter at most MAX_DELIMITER_LEN: it always fits.
        let fits = reply.extend_from_slice(piece).is_ok();
        debug_assert!(fits, "a line-too-long reply over its capacity");
    }
    reply
}

/// Writes `n` in decimal at the end of `digits` and returns those digits.
fn decimal(mut n: usize, digits: &mut [u8; MAX_DIGITS]) -> &[u8] {
    let mut start = MAX_DIGITS;
    loop {
        start -= 1;
        // `n % 10` is a single digit, and `start` stays in bounds: a usize has at most
        // MAX_DIGITS of them.
        if let Some(digit) = digits.get_mut(start) {
            *digit = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || start == 0 {
            break;
        }
    }
    digits.get(start..).unwrap_or_default()
}

/// Writes the echo reply to a line, `prefix` + line + `delimiter`, into `out`, which holds
/// exactly that many bytes (the session sized it).
///
/// `received` is the line as it arrived: followed by its delimiter, which is then copied with
/// it in one piece, or alone when it ended with the input. Whatever of the delimiter
/// `received` lacks comes from `delimiter`: one path for both.
pub(crate) fn write_echo(out: &mut [u8], prefix: &[u8], received: &[u8], delimiter: &[u8]) {
    let Some((head, rest)) = out.split_at_mut_checked(prefix.len()) else {
        debug_assert!(false, "an echo larger than the room made for it");
        return;
    };
    let Some((body, tail)) = rest.split_at_mut_checked(received.len()) else {
        debug_assert!(false, "an echo larger than the room made for it");
        return;
    };
    copy(head, prefix);
    copy(body, received);
    if !tail.is_empty() {
        // The line ended with the input: its delimiter comes from the configuration.
        match delimiter.get(delimiter.len().saturating_sub(tail.len())..) {
            Some(missing) if missing.len() == tail.len() => copy(tail, missing),
            _ => debug_assert!(false, "room made for an echo larger than the echo"),
        }
    }
}

/// Copies `src` into `dst`, which has the same length.
///
/// Replies to short lines are made of short pieces (a 10-byte prefix, a 32-byte line, a
/// 2-byte delimiter) for which a call to `memcpy` costs more than the copy itself. Up to 64
/// bytes are copied here in two overlapping fixed-size blocks (the first and the last `B`
/// bytes; the compiler turns each into a load and a store); longer pieces go to `memcpy`.
#[inline]
pub(crate) fn copy(dst: &mut [u8], src: &[u8]) {
    let n = src.len();
    debug_assert_eq!(dst.len(), n, "a copy between slices of different lengths");
    match n {
        0..=3 => dst.iter_mut().zip(src).for_each(|(d, s)| *d = *s),
        4..=7 => copy_ends::<4>(dst, src),
        8..=15 => copy_ends::<8>(dst, src),
        16..=31 => copy_ends::<16>(dst, src),
        32..=64 => copy_ends::<32>(dst, src),
        _ => {
            if let Some(dst) = dst.get_mut(..n) {
                dst.copy_from_slice(src);
            }
        }
    }
}

/// Copies the first and the last `B` bytes of `src` into `dst` (both at least `B` long, at
/// most `2 * B`): together they cover every byte.
#[inline(always)]
fn copy_ends<const B: usize>(dst: &mut [u8], src: &[u8]) {
    if let (Some(d), Some(s)) = (dst.first_chunk_mut::<B>(), src.first_chunk::<B>()) {
        *d = *s;
    }
    if let (Some(d), Some(s)) = (dst.last_chunk_mut::<B>(), src.last_chunk::<B>()) {
        *d = *s;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(error_text: Option<&[u8]>, max_line: usize, delimiter: &[u8]) -> std::vec::Vec<u8> {
        too_long_reply(error_text, max_line, delimiter).to_vec()
    }

    #[test]
    fn default_error_reply_names_the_limit_and_ends_with_the_delimiter() {
        assert_eq!(
            reply(None, 17, b"\r\n"),
            b"ERROR line too long (limit 17 bytes)\r\n"
        );
        assert_eq!(
            reply(None, 4096, b"|"),
            b"ERROR line too long (limit 4096 bytes)|"
        );
    }

    #[test]
    fn custom_error_text_gets_the_configured_delimiter() {
        assert_eq!(reply(Some(b"no"), 17, b"|"), b"no|");
        assert_eq!(reply(Some(b""), 17, b"\n"), b"\n");
    }

    #[test]
    fn the_limit_is_written_exactly_at_every_magnitude() {
        for n in [1, 9, 10, 99, 100, 65536, 1_000_000_007, usize::MAX] {
            let expected = std::format!("ERROR line too long (limit {n} bytes)\r\n");
            assert_eq!(reply(None, n, b"\r\n"), expected.as_bytes(), "{n}");
        }
    }

    #[test]
    fn the_longest_replies_fit() {
        let text = [b'e'; MAX_ERROR_TEXT_LEN];
        let delimiter = [b'd'; MAX_DELIMITER_LEN];
        assert_eq!(reply(Some(&text), 1, &delimiter).len(), MAX_ERROR_REPLY_LEN);
        assert!(reply(None, usize::MAX, &delimiter).ends_with(b"615 bytes)dddddddd"));
    }

    #[test]
    fn copy_is_exact_at_every_length_and_never_writes_past_the_piece() {
        let src: [u8; 100] = core::array::from_fn(|i| i as u8 + 1);
        for n in 0..=100 {
            let mut dst = [0u8; 101];
            copy(&mut dst[..n], &src[..n]);
            assert_eq!(&dst[..n], &src[..n], "length {n}");
            assert!(dst[n..].iter().all(|&b| b == 0), "length {n}");
        }
    }

    #[test]
    fn echo_is_prefix_line_delimiter_whether_or_not_the_delimiter_was_received() {
        for received in [&b"hi\r\n"[..], b"hi"] {
            let mut out = [0u8; 14];
            write_echo(&mut out, b"You sent: ", received, b"\r\n");
            assert_eq!(&out, b"You sent: hi\r\n");
        }
        let mut out = [0u8; 3];
        write_echo(&mut out, b"", b"ab", b"|");
        assert_eq!(&out, b"ab|");
    }
}
