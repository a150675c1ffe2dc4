//! The bytes the session answers with: an echoed line, or the line-too-long error.
//!
//! Kept apart from the session so that the exact reply format, the protocol's visible part,
//! sits in one small place.

use crate::config::{Config, MAX_DELIMITER_LEN, MAX_ERROR_TEXT_LEN};
use core::fmt::Write as _;
use heapless::{CapacityError, String, Vec};

/// Capacity of a precomputed line-too-long reply: its text plus the delimiter.
pub const MAX_ERROR_REPLY_LEN: usize = MAX_ERROR_TEXT_LEN + MAX_DELIMITER_LEN;

/// The complete line-too-long reply for `config`, delimiter included: the custom text if one
/// was set, else `ERROR line too long (limit N bytes)`.
pub(crate) fn too_long_reply(config: &Config) -> Vec<u8, MAX_ERROR_REPLY_LEN> {
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

/// Appends the echo reply to `line` to `out`. The caller has checked the room; on a short
/// buffer nothing is lost silently: the error says so.
pub(crate) fn write_echo<const M: usize>(
    out: &mut Vec<u8, M>,
    config: &Config,
    line: &[u8],
) -> Result<(), CapacityError> {
    out.extend_from_slice(config.prefix())?;
    out.extend_from_slice(line)?;
    out.extend_from_slice(config.delimiter().as_bytes())
}

/// Appends the echo reply to `line`, given as `received`: the line followed by the delimiter
/// it arrived with, or the line alone when it ended with the input. A terminated line is
/// copied with its delimiter in one piece, one copy per reply fewer than [`write_echo`].
#[inline(always)]
pub(crate) fn write_echo_received<const M: usize>(
    out: &mut Vec<u8, M>,
    config: &Config,
    line: &[u8],
    received: &[u8],
) -> Result<(), CapacityError> {
    // The framer only ends a line at a delimiter equal to the configured one, so a received
    // span longer than the line ends with exactly those bytes.
    if received.len() == line.len() + config.delimiter().len() {
        out.extend_from_slice(config.prefix())?;
        out.extend_from_slice(received)
    } else {
        write_echo(out, config, line)
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
    fn echo_is_prefix_line_delimiter() {
        let config = Config::default();
        let mut out: Vec<u8, 64> = Vec::new();
        write_echo(&mut out, &config, b"hi").unwrap();
        assert_eq!(&out[..], b"You sent: hi\r\n");
        assert_eq!(echo_len(&config, 2), out.len());
    }

    #[test]
    fn echo_of_a_received_line_is_the_same_with_or_without_its_delimiter() {
        let config = Config::default();
        let mut terminated: Vec<u8, 64> = Vec::new();
        write_echo_received(&mut terminated, &config, b"hi", b"hi\r\n").unwrap();
        let mut unterminated: Vec<u8, 64> = Vec::new();
        write_echo_received(&mut unterminated, &config, b"hi", b"hi").unwrap();
        assert_eq!(&terminated[..], b"You sent: hi\r\n");
        assert_eq!(terminated, unterminated);
    }
}
