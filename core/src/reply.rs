//! The bytes the session answers with: an echoed line, or the line-too-long error.
//!
//! Kept apart from the session so that the exact reply format, the protocol's visible part,
//! sits in one small place. The error reply is composed once per configuration
//! ([`Config`](crate::Config) keeps it); an echo is written straight into the output buffer.

use crate::bytes;
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

/// The most decimal digits a `usize` has: 10 on 32-bit targets, 20 on 64-bit ones.
const USIZE_DIGITS: usize = crate::capacity::decimal_digits(usize::MAX);

/// The complete line-too-long reply, delimiter included: `error_text` if one was set, else
/// `ERROR line too long (limit N bytes)` with `max_line` as `N`.
///
/// The number is written by [`decimal`] rather than `core::fmt`, which would cost a
/// microcontroller more flash than the whole protocol.
pub(crate) fn too_long_reply(
    error_text: Option<&[u8]>,
    max_line: usize,
    delimiter: &[u8],
) -> TooLongReply {
    let mut digits = [0u8; USIZE_DIGITS];
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

/// Powers of ten, from 1 up to the largest a `usize` holds, for [`decimal`].
const POWERS_OF_TEN: [usize; USIZE_DIGITS] = {
    let mut powers = [1; USIZE_DIGITS];
    let mut i = 1;
    while i < USIZE_DIGITS {
        powers[i] = powers[i - 1] * 10;
        i += 1;
    }
    powers
};

/// Writes `n` in decimal into `digits` and returns those digits.
///
/// Each digit is found by subtracting its power of ten, at most nine times, rather than by
/// dividing: a Cortex-M0 has no divide instruction, and its library routine would cost more
/// flash than the rest of the reply.
fn decimal(n: usize, digits: &mut [u8; USIZE_DIGITS]) -> &[u8] {
    let mut rest = n;
    let mut len = 0;
    for &power in POWERS_OF_TEN.iter().rev() {
        let mut digit = b'0';
        while rest >= power {
            rest -= power;
            digit += 1;
        }
        // No leading zeros, but the last digit always (0 is "0").
        if len > 0 || digit != b'0' || power == 1 {
            if let Some(slot) = digits.get_mut(len) {
                *slot = digit;
            }
            len += 1;
        }
    }
    digits.get(..len).unwrap_or_default()
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
    bytes::copy(head, prefix);
    bytes::copy(body, received);
    if !tail.is_empty() {
        // The line ended with the input: its delimiter comes from the configuration.
        match delimiter.get(delimiter.len().saturating_sub(tail.len())..) {
            Some(missing) if missing.len() == tail.len() => bytes::copy(tail, missing),
            _ => debug_assert!(false, "room made for an echo larger than the echo"),
        }
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
        for n in [0, 1, 9, 10, 99, 100, 65536, 1_000_000_007, usize::MAX] {
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
