//! Backslash escapes for protocol bytes written as text, such as a delimiter given on a command
//! line (`--delimiter '\r\n'`) or read from a configuration file on a device.
//!
//! Delimiters are usually control bytes that cannot be typed, so both binaries accept them in
//! this one notation, defined once here so that server and client agree on it:
//!
//! | escape | byte |
//! |--------|------|
//! | `\r`   | 0x0D |
//! | `\n`   | 0x0A |
//! | `\t`   | 0x09 |
//! | `\0`   | 0x00 |
//! | `\\`   | 0x5C |
//! | `\xNN` | 0xNN (exactly two hex digits) |
//!
//! Any other character stands for its UTF-8 bytes.
//!
//! A [`Delimiter`] parses from this notation (`r"\r\n".parse::<Delimiter>()`), which is how
//! both binaries read `--delimiter`.

use crate::config::{ConfigError, Delimiter, MAX_DELIMITER_LEN};
use core::fmt::{self, Write as _};
use core::str::FromStr;
use heapless::Vec;

/// Why a text could not be turned into bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum EscapeError {
    /// The text ends with a lone backslash.
    TrailingBackslash,
    /// A backslash is followed by a character that is not an escape.
    UnknownEscape(char),
    /// `\x` is not followed by two hex digits.
    BadHex,
    /// The bytes do not fit the capacity asked for.
    TooLong {
        /// The capacity, in bytes.
        capacity: usize,
    },
}

impl fmt::Display for EscapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::TrailingBackslash => f.write_str("it ends with a lone backslash"),
            Self::UnknownEscape(c) => write!(
                f,
                "unknown escape \\{c} (known: \\r \\n \\t \\0 \\\\ \\xNN)"
            ),
            Self::BadHex => f.write_str("\\x must be followed by exactly two hex digits"),
            Self::TooLong { capacity } => write!(f, "it is longer than {capacity} bytes"),
        }
    }
}

impl core::error::Error for EscapeError {}

/// Turns `text` into the bytes it denotes, resolving the escapes listed in the module docs.
///
/// ```
/// use chatecho_core::escape::unescape;
/// assert_eq!(&unescape::<8>(r"\r\n")?[..], b"\r\n");
/// assert_eq!(&unescape::<8>(r"\x00|")?[..], b"\0|");
/// # Ok::<(), chatecho_core::escape::EscapeError>(())
/// ```
pub fn unescape<const N: usize>(text: &str) -> Result<Vec<u8, N>, EscapeError> {
    let mut out = Vec::new();
    let mut push = |bytes: &[u8]| {
        out.extend_from_slice(bytes)
            .map_err(|_| EscapeError::TooLong { capacity: N })
    };
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            push(c.encode_utf8(&mut [0; 4]).as_bytes())?;
            continue;
        }
        let byte = match chars.next().ok_or(EscapeError::TrailingBackslash)? {
            'r' => b'\r',
            'n' => b'\n',
            't' => b'\t',
            '0' => 0,
            '\\' => b'\\',
            'x' => {
                let high = chars.next().and_then(|c| c.to_digit(16));
                let low = chars.next().and_then(|c| c.to_digit(16));
                match (high, low) {
                    // Two hex digits are at most 0xFF, so the cast is exact.
                    (Some(high), Some(low)) => (high * 16 + low) as u8,
                    _ => return Err(EscapeError::BadHex),
                }
            }
            other => return Err(EscapeError::UnknownEscape(other)),
        };
        push(&[byte])?;
    }
    Ok(out)
}

/// Why a delimiter written as text was refused: a malformed escape, or bytes that are not a
/// valid delimiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DelimiterTextError {
    /// The text is not valid escape notation.
    Escape(EscapeError),
    /// The bytes it denotes are not a valid delimiter (empty, or too long).
    Delimiter(ConfigError),
}

impl fmt::Display for DelimiterTextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Escape(error) => error.fmt(f),
            Self::Delimiter(error) => error.fmt(f),
        }
    }
}

impl core::error::Error for DelimiterTextError {}

impl FromStr for Delimiter {
    type Err = DelimiterTextError;

    /// Reads a delimiter written in the notation of the module docs.
    ///
    /// ```
    /// use chatecho_core::Delimiter;
    /// assert_eq!(r"\r\n".parse::<Delimiter>()?.as_bytes(), b"\r\n");
    /// assert!(r"\q".parse::<Delimiter>().is_err());
    /// # Ok::<(), chatecho_core::escape::DelimiterTextError>(())
    /// ```
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        // Room for more than the longest delimiter, so that an overlong one is reported with
        // its actual length.
        let bytes =
            unescape::<{ 8 * MAX_DELIMITER_LEN }>(text).map_err(DelimiterTextError::Escape)?;
        Delimiter::new(&bytes).map_err(DelimiterTextError::Delimiter)
    }
}

impl fmt::Display for Delimiter {
    /// Writes the delimiter in the notation of the module docs, which parses back to it:
    /// `\r\n` for the default, printable ASCII as itself, other bytes as `\xNN`.
    ///
    /// ```
    /// use chatecho_core::Delimiter;
    /// let delimiter = Delimiter::new(b"\r\n\x7f|")?;
    /// assert_eq!(delimiter.to_string(), r"\r\n\x7f|");
    /// assert_eq!(delimiter.to_string().parse::<Delimiter>().ok(), Some(delimiter));
    /// # Ok::<(), chatecho_core::ConfigError>(())
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &byte in self.as_bytes() {
            match byte {
                b'\r' => f.write_str(r"\r")?,
                b'\n' => f.write_str(r"\n")?,
                b'\t' => f.write_str(r"\t")?,
                0 => f.write_str(r"\0")?,
                b'\\' => f.write_str(r"\\")?,
                b' '..=b'~' => f.write_char(char::from(byte))?,
                other => write!(f, r"\x{other:02x}")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    #[test]
    fn every_delimiter_written_as_text_parses_back_to_itself() {
        for byte in 0..=u8::MAX {
            for bytes in [&[byte][..], &[b'a', byte, b'\\', byte]] {
                let delimiter = Delimiter::new(bytes).unwrap();
                let text = delimiter.to_string();
                assert_eq!(text.parse::<Delimiter>(), Ok(delimiter), "{text}");
            }
        }
    }

    fn bytes(text: &str) -> Result<std::vec::Vec<u8>, EscapeError> {
        unescape::<16>(text).map(|v| v.to_vec())
    }

    #[test]
    fn every_escape_denotes_its_byte() {
        assert_eq!(bytes(r"\r\n\t\0\\").unwrap(), b"\r\n\t\0\\");
        assert_eq!(bytes(r"\x00\x7f\xFF\xaB").unwrap(), [0, 0x7f, 0xff, 0xab]);
    }

    #[test]
    fn plain_characters_stand_for_their_utf8_bytes() {
        assert_eq!(bytes("ab|é").unwrap(), "ab|é".as_bytes());
        assert_eq!(bytes("").unwrap(), b"");
    }

    #[test]
    fn malformed_escapes_are_named() {
        assert_eq!(bytes("a\\"), Err(EscapeError::TrailingBackslash));
        assert_eq!(bytes(r"\q"), Err(EscapeError::UnknownEscape('q')));
        assert_eq!(bytes(r"\x4"), Err(EscapeError::BadHex));
        assert_eq!(bytes(r"\xg0"), Err(EscapeError::BadHex));
    }

    #[test]
    fn a_delimiter_parses_from_escapes_and_is_checked() {
        assert_eq!(r"\x00|".parse::<Delimiter>().unwrap().as_bytes(), b"\0|");
        assert_eq!(
            "".parse::<Delimiter>(),
            Err(DelimiterTextError::Delimiter(ConfigError::EmptyDelimiter))
        );
        // Nine bytes once the escapes are resolved, though typed as eighteen characters.
        assert_eq!(
            r"\r\n\r\n\r\n\r\n\r".parse::<Delimiter>(),
            Err(DelimiterTextError::Delimiter(
                ConfigError::DelimiterTooLong { len: 9 }
            ))
        );
        assert_eq!(
            r"\q".parse::<Delimiter>(),
            Err(DelimiterTextError::Escape(EscapeError::UnknownEscape('q')))
        );
    }

    #[test]
    fn overflow_is_an_error_not_a_truncation() {
        assert_eq!(
            unescape::<2>(r"\r\n|"),
            Err(EscapeError::TooLong { capacity: 2 })
        );
        assert_eq!(&unescape::<2>(r"\r\n").unwrap()[..], b"\r\n");
    }
}
