//! How much storage a session needs: `const fn`s that size buffers at compile time, for array
//! lengths and const generic arguments alike, and the desktop defaults.
//!
//! A session's input buffer must hold the longest line plus its delimiter, and its output
//! buffer the longest reply; [`Session::new`](crate::Session::new) checks both and refuses
//! smaller storage with a [`ConfigError`](crate::ConfigError). These functions compute those
//! two minimums from the numbers a porter knows, so nothing is arithmetic by hand:
//!
//! ```
//! use chatecho_core::capacity;
//! use chatecho_core::{Buffers, Config, Session};
//!
//! const MAX_LINE: usize = 120;
//! // "\r\n" and "You sent: ", the defaults: 122 and 132 bytes.
//! const IN: usize = capacity::input(MAX_LINE, 2);
//! const OUT: usize = capacity::output(MAX_LINE, 2, 10);
//! assert_eq!((IN, OUT), (122, 132));
//!
//! let config = Config::default().with_max_line(MAX_LINE)?;
//! let session = Session::new(&config, Buffers::<[u8; IN], [u8; OUT]>::owned())?;
//! # let _ = session;
//! # Ok::<(), chatecho_core::ConfigError>(())
//! ```
//!
//! Sums saturate instead of overflowing: a size that cannot exist is `usize::MAX`, which no
//! buffer has, so the session refuses it rather than wrapping around to a small number.

use crate::config::{DEFAULT_MAX_LINE, MAX_DELIMITER_LEN};

/// Bytes of the default line-too-long reply around its number:
/// `ERROR line too long (limit ` and ` bytes)`.
pub(crate) const TOO_LONG_TEXT_LEN: usize =
    crate::reply::TOO_LONG_HEAD.len() + crate::reply::TOO_LONG_TAIL.len();

/// The smallest input buffer for lines of `max_line` bytes ended by a `delimiter_len`-byte
/// delimiter: a line at the limit must be seen whole, delimiter included.
pub const fn input(max_line: usize, delimiter_len: usize) -> usize {
    max_line.saturating_add(delimiter_len)
}

/// The smallest output buffer for lines of `max_line` bytes, a `delimiter_len`-byte delimiter
/// and a `prefix_len`-byte reply prefix, with the default line-too-long reply: room for the
/// longer of the reply to a line at the limit and `ERROR line too long (limit N bytes)`.
///
/// A custom line-too-long text ([`Config::with_error_text`](crate::Config::with_error_text))
/// may need more; [`Config::output_capacity`](crate::Config::output_capacity) knows it.
pub const fn output(max_line: usize, delimiter_len: usize, prefix_len: usize) -> usize {
    let echo = prefix_len
        .saturating_add(max_line)
        .saturating_add(delimiter_len);
    let error = TOO_LONG_TEXT_LEN + decimal_digits(max_line) + delimiter_len;
    if echo > error { echo } else { error }
}

/// How many decimal digits `n` has (1 for 0).
pub(crate) const fn decimal_digits(mut n: usize) -> usize {
    let mut digits = 1;
    while n >= 10 {
        n /= 10;
        digits += 1;
    }
    digits
}

/// Input buffer of the desktop default: 4096-byte lines with any delimiter up to the longest
/// (8 bytes), so that `--delimiter` can change without changing the buffers.
pub const DEFAULT_INPUT: usize = input(DEFAULT_MAX_LINE, MAX_DELIMITER_LEN);

/// Output buffer of the desktop default: room for one longest reply and about as much again
/// for short ones queued behind it, so that a pipelining peer is answered in large writes.
pub const DEFAULT_OUTPUT: usize = 8192;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_is_the_line_plus_its_delimiter() {
        assert_eq!(input(120, 2), 122);
        assert_eq!(input(usize::MAX, 2), usize::MAX);
    }

    #[test]
    fn output_holds_the_longest_echo_or_the_error_whichever_is_longer() {
        // "You sent: " + 120 + "\r\n".
        assert_eq!(output(120, 2, 10), 132);
        // "ERROR line too long (limit 4 bytes)\r\n" is longer than any echo of 4 bytes.
        assert_eq!(output(4, 2, 10), 37);
        assert_eq!(
            output(4, 2, 10),
            b"ERROR line too long (limit 4 bytes)\r\n".len()
        );
        assert_eq!(output(usize::MAX, 1, 0), usize::MAX);
    }

    #[test]
    fn digits_are_counted_at_every_power_of_ten() {
        assert_eq!(decimal_digits(0), 1);
        assert_eq!(decimal_digits(9), 1);
        assert_eq!(decimal_digits(10), 2);
        assert_eq!(decimal_digits(4096), 4);
        assert_eq!(
            decimal_digits(usize::MAX),
            std::string::ToString::to_string(&usize::MAX).len()
        );
    }

    #[test]
    fn the_defaults_hold_the_default_configuration() {
        assert_eq!(DEFAULT_INPUT, 4104);
        assert!(DEFAULT_OUTPUT >= output(DEFAULT_MAX_LINE, MAX_DELIMITER_LEN, 64));
    }
}
